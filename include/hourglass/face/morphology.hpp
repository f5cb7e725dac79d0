// Grey-level morphology and Gaussian feathering for masks ([H, W, C] float CPU tensors, each
// channel on its own; masks are [H, W, 1] in [0, 1]).
//
// dilate(m, r) / erode(m, r): the maximum / minimum over a disk structuring element
//     D_r = { (dx, dy) integer : dx^2 + dy^2 <= r^2 },
//     dilate(m)(p) = max_{d in D_r, p + d inside} m(p + d),   erode(m)(p) = min_{...} m(p + d).
// Pixels outside the image take no part (OpenCV's default border for cv2.dilate / cv2.erode), so
// eroding does not eat in from the image edge. The disk is decomposed into one horizontal run per
// row dy (half-width floor(sqrt(r^2 - dy^2))); each run is a 1-D running maximum computed with the
// van Herk / Gil-Werman algorithm (M. van Herk, Pattern Recognition Letters 13, 1992) in O(1) per
// pixel, so the cost is O(r) per pixel instead of O(r^2). faceswap dilates with
// cv2.getStructuringElement(MORPH_ELLIPSE, (k, k)), k = round(size * percent / 100);
// faceswap_dilation_radius gives the matching disk radius k / 2 (the rasterised shapes differ by at
// most a pixel along the rim).
//
// gaussian_blur(m, ksize, sigma): cv2.GaussianBlur(m, (ksize, ksize), sigma): a separable kernel of
// ksize taps g_i ~ exp(-(i - (ksize - 1) / 2)^2 / (2 sigma^2)) normalised to sum 1, with
// sigma = 0.3 ((ksize - 1) / 2 - 1) + 0.8 when sigma <= 0 (and OpenCV's fixed kernels for ksize 3, 5,
// 7, 9 in that case), ksize = round(8 sigma + 1) | 1 when ksize <= 0; borders reflected
// without repeating the edge pixel (BORDER_REFLECT_101). The kernel sums to 1, so the blur keeps the
// mass of a mask whose support stays away from the border.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/data/transform.hpp"
#include "hourglass/face/blur_score.hpp"

namespace hg::face {

namespace detail {

/// out[x] = max(in[x - w .. x + w] within [0, n)), van Herk / Gil-Werman. in and out of length n.
inline void running_max(const float* in, float* out, std::int64_t n, std::int64_t w, std::vector<float>& g, std::vector<float>& h) {
    if (w == 0) {
        std::copy_n(in, n, out);
        return;
    }
    constexpr float lowest = -std::numeric_limits<float>::infinity();
    const std::int64_t k = 2 * w + 1, m = n + 2 * w;  // extended array: w lows on each side
    const std::int64_t padded = ((m + k - 1) / k) * k;
    g.assign(static_cast<std::size_t>(padded), lowest);
    h.assign(static_cast<std::size_t>(padded), lowest);
    auto ext = [&](std::int64_t i) { return i >= w && i < w + n ? in[i - w] : lowest; };
    for (std::int64_t b = 0; b < padded; b += k) {
        float run = lowest;
        for (std::int64_t i = b; i < b + k; ++i) g[static_cast<std::size_t>(i)] = run = std::max(run, ext(i));
        run = lowest;
        for (std::int64_t i = b + k - 1; i >= b; --i) h[static_cast<std::size_t>(i)] = run = std::max(run, ext(i));
    }
    for (std::int64_t x = 0; x < n; ++x)  // window [x, x + 2w] in extended indices
        out[x] = std::max(h[static_cast<std::size_t>(x)], g[static_cast<std::size_t>(x + 2 * w)]);
}

/// Grey dilation by the disk of radius r of a (negated when `negate`) [H, W, C] image.
inline tensor disk_max(const tensor& image, double radius, bool negate, const char* who) {
    data::detail::require_image(image, who, "mask", -1);
    if (!std::isfinite(radius) || radius < 0.0)
        throw value_error(std::string(who) + ": the radius " + std::to_string(radius) + " is not a finite value >= 0");
    const std::int64_t h = image.shape()[0], w = image.shape()[1], c = image.shape()[2];
    const std::int64_t r = static_cast<std::int64_t>(std::floor(radius));
    const float sign = negate ? -1.0f : 1.0f;
    // Half-width of the disk's run in each row offset dy, and the distinct widths.
    std::vector<std::int64_t> half(static_cast<std::size_t>(r + 1));
    for (std::int64_t dy = 0; dy <= r; ++dy) {
        std::int64_t hw = static_cast<std::int64_t>(std::floor(std::sqrt(radius * radius - static_cast<double>(dy * dy))));
        while (hw * hw + dy * dy > radius * radius && hw > 0) --hw;  // guard against sqrt rounding up
        while ((hw + 1) * (hw + 1) + dy * dy <= radius * radius) ++hw;
        half[static_cast<std::size_t>(dy)] = hw;
    }
    tensor out = tensor::empty(image.shape());
    std::vector<float> plane(static_cast<std::size_t>(h * w)), row_in(static_cast<std::size_t>(w)), g, hb;
    std::vector<std::vector<float>> rowmax(static_cast<std::size_t>(r + 1));  // per dy: the image's row maxima
    const float* src = image.data();
    float* dst = out.data();
    for (std::int64_t ch = 0; ch < c; ++ch) {
        for (std::int64_t i = 0; i < h * w; ++i) plane[static_cast<std::size_t>(i)] = sign * src[i * c + ch];
        for (std::int64_t dy = 0; dy <= r; ++dy) {
            auto& rm = rowmax[static_cast<std::size_t>(dy)];
            if (dy > 0 && half[static_cast<std::size_t>(dy)] == half[static_cast<std::size_t>(dy - 1)]) {
                rm = rowmax[static_cast<std::size_t>(dy - 1)];
                continue;
            }
            rm.resize(static_cast<std::size_t>(h * w));
            for (std::int64_t y = 0; y < h; ++y)
                running_max(plane.data() + y * w, rm.data() + y * w, w, half[static_cast<std::size_t>(dy)], g, hb);
        }
        for (std::int64_t y = 0; y < h; ++y)
            for (std::int64_t x = 0; x < w; ++x) {
                float best = -std::numeric_limits<float>::infinity();
                for (std::int64_t dy = -r; dy <= r; ++dy) {
                    const std::int64_t yy = y + dy;
                    if (yy < 0 || yy >= h) continue;
                    best = std::max(best, rowmax[static_cast<std::size_t>(std::abs(dy))][static_cast<std::size_t>(yy * w + x)]);
                }
                dst[(y * w + x) * c + ch] = sign * best;
            }
    }
    return out;
}

}  // namespace detail

/// Grey dilation by a disk of radius `radius` pixels (radius 0: a copy). value_error for a negative radius.
inline tensor dilate(const tensor& mask, double radius) { return detail::disk_max(mask, radius, false, "face::dilate"); }

/// Grey erosion by a disk of radius `radius` pixels (radius 0: a copy). value_error for a negative radius.
inline tensor erode(const tensor& mask, double radius) { return detail::disk_max(mask, radius, true, "face::erode"); }

/// The disk radius matching faceswap's elliptic kernel of round(size * |percent| / 100) pixels.
inline double faceswap_dilation_radius(std::int64_t size, double percent) {
    return 0.5 * static_cast<double>(std::llround(static_cast<double>(size) * std::abs(percent) / 100.0));
}

/// cv2.getGaussianKernel(ksize, sigma) in double.
inline std::vector<double> gaussian_kernel(std::int64_t ksize, double sigma) {
    if (ksize < 1 || ksize % 2 == 0) throw value_error("face::gaussian_kernel: the kernel size " + std::to_string(ksize) + " is not odd and positive");
    if (sigma <= 0.0) {
        switch (ksize) {  // OpenCV's small_gaussian_tab
            case 1: return {1.0};
            case 3: return {0.25, 0.5, 0.25};
            case 5: return {0.0625, 0.25, 0.375, 0.25, 0.0625};
            case 7: return {0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125};
            case 9: return {4 / 256.0, 13 / 256.0, 30 / 256.0, 51 / 256.0, 60 / 256.0, 51 / 256.0, 30 / 256.0, 13 / 256.0, 4 / 256.0};
            default: break;
        }
        sigma = 0.3 * (static_cast<double>(ksize - 1) * 0.5 - 1.0) + 0.8;
    }
    std::vector<double> k(static_cast<std::size_t>(ksize));
    double sum = 0.0;
    for (std::int64_t i = 0; i < ksize; ++i) {
        const double x = static_cast<double>(i) - static_cast<double>(ksize - 1) * 0.5;
        sum += k[static_cast<std::size_t>(i)] = std::exp(-x * x / (2.0 * sigma * sigma));
    }
    for (double& v : k) v /= sum;
    return k;
}

/// cv2.GaussianBlur(mask, (ksize, ksize), sigma) with BORDER_REFLECT_101, on every channel.
/// value_error when both ksize and sigma are <= 0, for an even ksize or non-finite sigma.
inline tensor gaussian_blur(const tensor& mask, std::int64_t ksize, double sigma = 0.0) {
    data::detail::require_image(mask, "face::gaussian_blur", "mask", -1);
    if (!std::isfinite(sigma)) throw value_error("face::gaussian_blur: sigma is not finite");
    if (ksize <= 0) {
        if (!(sigma > 0.0)) throw value_error("face::gaussian_blur: needs a kernel size or a positive sigma");
        ksize = static_cast<std::int64_t>(std::llround(sigma * 8.0 + 1.0)) | 1;
    }
    const std::vector<double> k = gaussian_kernel(ksize, sigma);
    const std::int64_t h = mask.shape()[0], w = mask.shape()[1], c = mask.shape()[2], r = ksize / 2;
    std::vector<double> tmp(static_cast<std::size_t>(h * w * c));
    const float* src = mask.data();
    for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x)
            for (std::int64_t ch = 0; ch < c; ++ch) {
                double s = 0.0;
                for (std::int64_t i = -r; i <= r; ++i)
                    s += k[static_cast<std::size_t>(i + r)] * static_cast<double>(src[(y * w + detail::reflect101(x + i, w)) * c + ch]);
                tmp[static_cast<std::size_t>((y * w + x) * c + ch)] = s;
            }
    tensor out = tensor::empty(mask.shape());
    float* dst = out.data();
    for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x)
            for (std::int64_t ch = 0; ch < c; ++ch) {
                double s = 0.0;
                for (std::int64_t i = -r; i <= r; ++i)
                    s += k[static_cast<std::size_t>(i + r)] * tmp[static_cast<std::size_t>((detail::reflect101(y + i, h) * w + x) * c + ch)];
                dst[(y * w + x) * c + ch] = static_cast<float>(s);
            }
    return out;
}

}  // namespace hg::face
