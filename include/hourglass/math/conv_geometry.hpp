// Geometry of the library's 2-D convolution: square kernel k, stride s in {1, 2}, symmetric zero
// padding k/2 on every side. Output extent: (in + 2 * (k / 2) - k) / s + 1, so an odd kernel keeps
// the size at stride 1 and halves an even size at stride 2.
#pragma once

#include <cstdint>

#include "hourglass/core/config.hpp"

namespace hg::math {

HG_HOST_DEVICE constexpr std::int64_t conv_padding(std::int64_t kernel) { return kernel / 2; }

HG_HOST_DEVICE constexpr std::int64_t conv_output_extent(std::int64_t in, std::int64_t kernel, std::int64_t stride) {
    return (in + 2 * conv_padding(kernel) - kernel) / stride + 1;
}

}  // namespace hg::math

namespace hg::math {

/// The full description of one conv2d problem (NHWC input, KRSC filter, NHWC output).
struct conv2d_dims {
    std::int64_t n = 0, h = 0, w = 0, c = 0;  // input
    std::int64_t k = 0;                       // output channels (filters)
    std::int64_t r = 0;                       // square kernel extent
    std::int64_t stride = 1;
    std::int64_t pad = 0;
    std::int64_t oh = 0, ow = 0;  // output extents

    static conv2d_dims make(std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c, std::int64_t k,
                            std::int64_t r, std::int64_t stride) {
        conv2d_dims d;
        d.n = n, d.h = h, d.w = w, d.c = c, d.k = k, d.r = r, d.stride = stride;
        d.pad = conv_padding(r);
        d.oh = conv_output_extent(h, r, stride);
        d.ow = conv_output_extent(w, r, stride);
        return d;
    }
    /// Rows of the im2col matrix per image, and its columns (one filter's length R*S*C).
    std::int64_t rows_per_image() const { return oh * ow; }
    std::int64_t patch() const { return r * r * c; }
    /// Multiply-adds of the forward pass (each backward pass does as many).
    double flops() const { return 2.0 * static_cast<double>(n * oh * ow) * static_cast<double>(k * patch()); }
};

}  // namespace hg::math
