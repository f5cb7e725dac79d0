// Where an aligned face crop is centred, and how much room around the face each centring keeps.
//
//   legacy  the mean face's unit square is centred (the nose sits near the middle); the original
//           face-swap alignment.
//   face    centred on the middle of the face in 3-D (a point between the eyes and the nose),
//           found through the pose estimate.
//   head    centred on the middle of the skull in 3-D; the crop holds the whole head.
//
// extract_ratio(c) is faceswap's EXTRACT_RATIOS (lib/align/constants.py): the fraction of a crop at
// coverage 1 that is padding around the unit square, i.e. the unit square spans (1 - ratio) of the
// crop's side: legacy 0.375, face 0.5, head 0.625.
#pragma once

#include <string>
#include <string_view>

#include "hourglass/core/error.hpp"

namespace hg::face {

enum class centering { legacy, face, head };

inline std::string_view to_string(centering c) {
    switch (c) {
        case centering::legacy: return "legacy";
        case centering::face: return "face";
        case centering::head: return "head";
    }
    return "unknown";
}

/// "legacy", "face" or "head"; value_error otherwise.
inline centering parse_centering(std::string_view s) {
    if (s == "legacy") return centering::legacy;
    if (s == "face") return centering::face;
    if (s == "head") return centering::head;
    throw value_error("face::parse_centering: unknown centering '" + std::string(s) + "' (expected legacy, face or head)");
}

inline double extract_ratio(centering c) {
    switch (c) {
        case centering::legacy: return 0.375;
        case centering::face: return 0.5;
        case centering::head: return 0.625;
    }
    throw value_error("face::extract_ratio: invalid centering value");
}

}  // namespace hg::face
