// Unsharp masking of the pasted face ([H, W, C] float CPU images in [0, 1]):
//     out = clamp(x + amount * m * (x - G_sigma * x), 0, 1),
// G_sigma the Gaussian blur of morphology.hpp (cv2.GaussianBlur with ksize = round(8 sigma + 1) | 1,
// reflected borders) and m an optional [H, W, 1] mask in [0, 1] (1 everywhere without one), so the
// sharpening fades out with a feathered mask. The detail x - G x is 0 on constant images, so they
// come back unchanged, and amount 0 returns the image as it was; across a step edge the overshoot
// (before clamping) is amount times the blur's undershoot, i.e. proportional to amount.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/data/transform.hpp"
#include "hourglass/face/morphology.hpp"

namespace hg::face {

/// The unsharp mask of `image` (see the file comment). amount >= 0 and sigma > 0, both finite;
/// `mask` undefined (tensor{}) or [H, W, 1] in [0, 1]. value_error for bad amount, sigma, mask
/// values or non-finite pixels; shape_error when the mask does not match the image.
inline tensor unsharp_mask(const tensor& image, double amount, double sigma, const tensor& mask = tensor{}) {
    constexpr const char* who = "face::unsharp_mask";
    data::detail::require_image(image, who, "image", -1);
    if (!(std::isfinite(amount) && amount >= 0.0))
        throw value_error(std::string(who) + ": the amount " + std::to_string(amount) + " is not a finite value >= 0");
    if (!(std::isfinite(sigma) && sigma > 0.0))
        throw value_error(std::string(who) + ": sigma " + std::to_string(sigma) + " is not a finite value > 0");
    const std::int64_t h = image.shape()[0], w = image.shape()[1], c = image.shape()[2];
    const float* m = nullptr;
    if (mask.defined()) {
        data::detail::require_image(mask, who, "mask", 1);
        if (mask.shape()[0] != h || mask.shape()[1] != w)
            throw shape_error(std::string(who) + ": the mask " + mask.shape().str() + " does not cover the image " + image.shape().str());
        m = mask.data();
        for (std::int64_t i = 0; i < h * w; ++i)
            if (!(m[i] >= 0.0f && m[i] <= 1.0f))
                throw value_error(std::string(who) + ": the mask value at pixel " + std::to_string(i) + " is not in [0, 1]");
    }
    const float* x = image.data();
    for (std::int64_t i = 0; i < image.numel(); ++i)
        if (!std::isfinite(x[i])) throw value_error(std::string(who) + ": the image has a non-finite value at element " + std::to_string(i));

    const tensor blurred = gaussian_blur(image, 0, sigma);
    const float* g = blurred.data();
    tensor out = tensor::empty(image.shape());
    float* dst = out.data();
    for (std::int64_t p = 0; p < h * w; ++p) {
        const double k = amount * (m ? static_cast<double>(m[p]) : 1.0);
        for (std::int64_t ch = 0; ch < c; ++ch) {
            const std::int64_t i = p * c + ch;
            const double v = static_cast<double>(x[i]);
            dst[i] = static_cast<float>(std::clamp(v + k * (v - static_cast<double>(g[i])), 0.0, 1.0));
        }
    }
    return out;
}

}  // namespace hg::face
