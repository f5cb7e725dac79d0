// Index maps of pixel shuffle x2 in TensorFlow's depth-to-space order (NHWC), used by both backends.
// depth_to_space: input [N, H, W, 4C] -> output [N, 2H, 2W, C] with
//   out[n, 2h + dy, 2w + dx, c] = in[n, h, w, (dy * 2 + dx) * C + c].
// space_to_depth is its exact inverse (a permutation), so the backward of each is the other.
#pragma once

#include <cstdint>

#include "hourglass/core/config.hpp"

namespace hg::math {

/// Flat input index of depth_to_space (block 2) for the flat output index `o`.
/// out_h, out_w, out_c describe the output [N, out_h, out_w, out_c].
HG_HOST_DEVICE inline std::int64_t depth_to_space_source(std::int64_t o, std::int64_t out_h, std::int64_t out_w,
                                                         std::int64_t out_c) {
    const std::int64_t c = o % out_c;
    std::int64_t rest = o / out_c;
    const std::int64_t x = rest % out_w;
    rest /= out_w;
    const std::int64_t y = rest % out_h;
    const std::int64_t n = rest / out_h;
    const std::int64_t in_h = out_h / 2, in_w = out_w / 2, in_c = out_c * 4;
    const std::int64_t sub = (y % 2) * 2 + (x % 2);
    return ((n * in_h + y / 2) * in_w + x / 2) * in_c + sub * out_c + c;
}

}  // namespace hg::math
