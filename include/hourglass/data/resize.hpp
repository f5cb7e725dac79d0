// Area resampling of [H, W, C] float images (OpenCV's INTER_AREA idea, written here).
//
// Downscaling along an axis (out <= in): output pixel i covers the source interval
// [i * s, (i + 1) * s) with s = in / out, and is the average of the source pixels weighted by how
// much of each one that interval covers (a box filter with fractional coverage), so every source
// pixel contributes exactly its area and flat regions stay flat.
// Upscaling along an axis (out > in): a box filter would only replicate pixels, so this falls back
// to bilinear interpolation with pixel centres at (i + 0.5) * in / out - 0.5, clamped at the edges.
// The two axes are independent (the 2-D weight is the product of the 1-D weights), so each axis
// picks its own rule and the resize runs as a horizontal then a vertical pass.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"

namespace hg::data {

namespace resize_detail {

struct tap {
    std::int64_t src;
    double weight;
};

/// For each output index, the source indices and weights along one axis (weights sum to 1).
inline std::vector<std::vector<tap>> axis_taps(std::int64_t in, std::int64_t out) {
    std::vector<std::vector<tap>> taps(static_cast<std::size_t>(out));
    const double scale = double(in) / double(out);
    for (std::int64_t i = 0; i < out; ++i) {
        auto& t = taps[static_cast<std::size_t>(i)];
        if (out <= in) {
            const double lo = double(i) * scale, hi = double(i + 1) * scale;
            const auto first = static_cast<std::int64_t>(std::floor(lo));
            const auto last = std::min(in - 1, static_cast<std::int64_t>(std::ceil(hi)) - 1);
            for (std::int64_t s = first; s <= last; ++s) {
                const double cover = std::min(hi, double(s + 1)) - std::max(lo, double(s));
                if (cover > 0) t.push_back({s, cover / scale});
            }
        } else {
            const double x = std::clamp((double(i) + 0.5) * scale - 0.5, 0.0, double(in - 1));
            const auto s0 = static_cast<std::int64_t>(std::floor(x));
            const auto s1 = std::min(in - 1, s0 + 1);
            const double f = x - double(s0);
            t.push_back({s0, 1.0 - f});
            if (s1 != s0 && f > 0) t.push_back({s1, f});
        }
    }
    return taps;
}

}  // namespace resize_detail

/// Resizes an [H, W, C] CPU image to [out_h, out_w, C] (area when shrinking, bilinear when growing).
inline tensor resize_area(const tensor& src, std::int64_t out_h, std::int64_t out_w) {
    if (!src.defined() || !src.on_cpu() || src.shape().rank() != 3)
        throw shape_error("resize_area: the image must be a CPU tensor [H, W, C], got " +
                          (src.defined() ? src.shape().str() : std::string("an undefined tensor")));
    const std::int64_t h = src.shape()[0], w = src.shape()[1], c = src.shape()[2];
    if (h < 1 || w < 1 || c < 1) throw shape_error("resize_area: empty image " + src.shape().str());
    if (out_h < 1 || out_w < 1)
        throw shape_error("resize_area: the output size " + std::to_string(out_h) + " x " + std::to_string(out_w) +
                          " must be at least 1 x 1");
    if (out_h == h && out_w == w) return src.clone();
    const auto tx = resize_detail::axis_taps(w, out_w);
    const auto ty = resize_detail::axis_taps(h, out_h);
    // Horizontal pass in double: [h, out_w, c].
    std::vector<double> mid(static_cast<std::size_t>(h * out_w * c), 0.0);
    const float* s = src.data();
    for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < out_w; ++x) {
            double* m = &mid[static_cast<std::size_t>((y * out_w + x) * c)];
            for (const auto& t : tx[static_cast<std::size_t>(x)]) {
                const float* p = s + (y * w + t.src) * c;
                for (std::int64_t k = 0; k < c; ++k) m[k] += t.weight * double(p[k]);
            }
        }
    // Vertical pass.
    tensor out = tensor::empty(shape{out_h, out_w, c});
    float* o = out.data();
    std::vector<double> acc(static_cast<std::size_t>(out_w * c));
    for (std::int64_t y = 0; y < out_h; ++y) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (const auto& t : ty[static_cast<std::size_t>(y)]) {
            const double* row = &mid[static_cast<std::size_t>(t.src * out_w * c)];
            for (std::int64_t i = 0; i < out_w * c; ++i) acc[static_cast<std::size_t>(i)] += t.weight * row[i];
        }
        for (std::int64_t i = 0; i < out_w * c; ++i) o[y * out_w * c + i] = static_cast<float>(acc[static_cast<std::size_t>(i)]);
    }
    return out;
}

}  // namespace hg::data
