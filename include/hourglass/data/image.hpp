// hg::data::image: a decoded picture as the data pipeline sees it: the colour as an [H, W, 3] float
// CPU tensor with values in [0, 1] (HWC, RGB), and the alpha channel, when the file had one, as an
// [H, W, 1] tensor in [0, 1] that callers may use as a mask. Grey pictures are replicated into R,
// G and B, so every image has exactly three colour channels.
#pragma once

#include <cstdint>

#include "hourglass/core/tensor.hpp"

namespace hg::data {

struct image {
    tensor rgb;    ///< [H, W, 3], values in [0, 1]
    tensor alpha;  ///< [H, W, 1], values in [0, 1]; undefined when the file had no alpha channel
    int source_channels = 0;  ///< channels stored in the file: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA
    int source_bits = 8;      ///< bits per channel in the file (8, or 16 for 16-bit PNG)

    std::int64_t height() const { return rgb.defined() ? rgb.shape()[0] : 0; }
    std::int64_t width() const { return rgb.defined() ? rgb.shape()[1] : 0; }
    bool has_alpha() const { return alpha.defined(); }
};

}  // namespace hg::data
