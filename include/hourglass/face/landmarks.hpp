// hg::face::landmarks: the 68 facial landmarks of the iBUG 300-W markup (the points dlib's
// shape_predictor_68_face_landmarks predicts, and faceswap's and DeepFaceLab's alignments store),
// in pixel coordinates of the picture they were found in (OpenCV's convention: pixel (x, y) has its
// centre at (x, y)), and the named parts of the face as index ranges.
//
// Parts (0-based, half-open [first, last)):
//   jaw 0-17, right brow 17-22, left brow 22-27, nose ridge 27-31, nose 31-36, right eye 36-42,
//   left eye 42-48, mouth 48-68 (outer lips 48-60, inner lips 60-68).
// "Right" and "left" are the person's own (the right eye is on the left of the picture).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "hourglass/data/transform.hpp"

namespace hg::face {

inline constexpr int landmark_count = 68;

/// Row i is landmark i as (x, y) in pixels.
using landmarks = Eigen::Matrix<double, landmark_count, 2>;

/// A half-open index range [first, last) of landmarks.
struct landmark_part {
    int first = 0, last = 0;
    int size() const { return last - first; }
};

namespace parts {
inline constexpr landmark_part jaw{0, 17};
inline constexpr landmark_part right_brow{17, 22};
inline constexpr landmark_part left_brow{22, 27};
inline constexpr landmark_part nose_ridge{27, 31};
inline constexpr landmark_part nose{31, 36};
inline constexpr landmark_part right_eye{36, 42};
inline constexpr landmark_part left_eye{42, 48};
inline constexpr landmark_part mouth{48, 68};
inline constexpr landmark_part outer_lips{48, 60};
inline constexpr landmark_part inner_lips{60, 68};
}  // namespace parts

/// The landmarks mapped through an affine transform (x' = a x + b y + c, y' = d x + e y + f).
inline landmarks transform_landmarks(const landmarks& l, const data::affine2& m) {
    landmarks out;
    for (int i = 0; i < landmark_count; ++i) {
        const double x = l(i, 0), y = l(i, 1);
        out(i, 0) = m.a * x + m.b * y + m.c;
        out(i, 1) = m.d * x + m.e * y + m.f;
    }
    return out;
}

}  // namespace hg::face
