// Sharpness score of an image: the variance of its Laplacian (Pech-Pacheco et al., "Diatom
// autofocusing in brightfield microscopy: a comparative study", ICPR 2000), the measure behind the
// usual `cv2.Laplacian(gray, cv2.CV_64F).var()` blur filter.
//
//   grey  g = 255 * (0.299 R + 0.587 G + 0.114 B)      (ITU-R BT.601 luma, cv2 RGB2GRAY weights)
//   L(x, y) = g(x-1, y) + g(x+1, y) + g(x, y-1) + g(x, y+1) - 4 g(x, y)
//            (cv2.Laplacian with ksize = 1; borders reflected without repeating the edge pixel,
//             OpenCV's BORDER_REFLECT_101: g(-1, y) = g(1, y))
//   score = sum_p w_p (L_p - mu)^2 / sum_p w_p,   mu = sum_p w_p L_p / sum_p w_p
// with w = 1 everywhere, or the given mask as weights.
//
// Scale: the grey image is taken on the 0..255 scale (images here are floats in [0, 1]), so scores
// and thresholds are those OpenCV users know from 8-bit pictures (a common rule of thumb calls
// scores below ~100 blurry). The grey values are not rounded to integers as an 8-bit cv2 image
// would be. A constant image scores 0; the score grows with the square of the contrast.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/data/transform.hpp"

namespace hg::face {

namespace detail {

/// Index reflected into [0, n) as BORDER_REFLECT_101 (n >= 1).
inline std::int64_t reflect101(std::int64_t i, std::int64_t n) {
    if (n == 1) return 0;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

}  // namespace detail

/// The grey image on the 0..255 scale, row-major h * w, from an [H, W, 3] RGB or [H, W, 1] image.
inline std::vector<double> grey_255(const tensor& image, const char* who) {
    data::detail::require_image(image, who, "image", -1);
    const std::int64_t h = image.shape()[0], w = image.shape()[1], c = image.shape()[2];
    if (c != 1 && c != 3) throw shape_error(std::string(who) + ": the image must have 1 or 3 channels, got " + image.shape().str());
    std::vector<double> g(static_cast<std::size_t>(h * w));
    const float* p = image.data();
    for (std::int64_t i = 0; i < h * w; ++i) {
        const double v = c == 1 ? static_cast<double>(p[i])
                                : 0.299 * static_cast<double>(p[3 * i]) + 0.587 * static_cast<double>(p[3 * i + 1]) +
                                      0.114 * static_cast<double>(p[3 * i + 2]);
        if (!std::isfinite(v)) throw value_error(std::string(who) + ": the image has non-finite values");
        g[static_cast<std::size_t>(i)] = 255.0 * v;
    }
    return g;
}

/// Variance of the Laplacian of the grey image (0..255 scale), weighted by `mask` ([H, W, 1],
/// values >= 0) when given. value_error when the mask has no weight or negative/non-finite values.
inline double blur_score(const tensor& image, const tensor& mask = tensor()) {
    const char* who = "face::blur_score";
    const std::vector<double> g = grey_255(image, who);
    const std::int64_t h = image.shape()[0], w = image.shape()[1];
    const float* m = nullptr;
    if (mask.defined()) {
        data::detail::require_image(mask, who, "mask", 1);
        if (mask.shape()[0] != h || mask.shape()[1] != w)
            throw shape_error(std::string(who) + ": the mask " + mask.shape().str() + " does not match the image " + image.shape().str());
        m = mask.data();
    }
    std::vector<double> lap(static_cast<std::size_t>(h * w), 0.0), wts(static_cast<std::size_t>(h * w), 0.0);
    double sw = 0.0, s1 = 0.0;
    for (std::int64_t y = 0; y < h; ++y) {
        const std::int64_t ym = detail::reflect101(y - 1, h), yp = detail::reflect101(y + 1, h);
        for (std::int64_t x = 0; x < w; ++x) {
            const double wt = m ? static_cast<double>(m[y * w + x]) : 1.0;
            if (!(wt >= 0.0) || !std::isfinite(wt)) throw value_error(std::string(who) + ": the mask has negative or non-finite values");
            if (wt == 0.0) continue;
            const std::int64_t xm = detail::reflect101(x - 1, w), xp = detail::reflect101(x + 1, w);
            const std::size_t i = static_cast<std::size_t>(y * w + x);
            lap[i] = g[static_cast<std::size_t>(y * w + xm)] + g[static_cast<std::size_t>(y * w + xp)] +
                     g[static_cast<std::size_t>(ym * w + x)] + g[static_cast<std::size_t>(yp * w + x)] - 4.0 * g[i];
            wts[i] = wt;
            sw += wt, s1 += wt * lap[i];
        }
    }
    if (!(sw > 0.0)) throw value_error(std::string(who) + ": the mask has no weight");
    const double mu = s1 / sw;
    double s2 = 0.0;  // second pass: no cancellation between large sums
    for (std::size_t i = 0; i < lap.size(); ++i) s2 += wts[i] * (lap[i] - mu) * (lap[i] - mu);
    return s2 / sw;
}

}  // namespace hg::face
