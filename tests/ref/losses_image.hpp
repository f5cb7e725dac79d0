// Naive double-precision references of the image-structure losses (GMSD, gradient difference,
// Laplacian pyramid), written from their definitions with plain loops over explicitly padded
// planes, independently of the library's kernels: each image plane (one image, one channel) is
// copied out, padded by hand, filtered with full 2-D kernels, and reduced with two-pass means.
// The Laplacian pyramid builds the pyramids of pred and target separately (the library builds one
// pyramid of their difference). Each reference also reports the smallest |difference| its L1
// terms saw, so gradient checks can assert that no term sits at the kink of |.|.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "hourglass/core/shape.hpp"
#include "hourglass/core/tensor.hpp"

namespace hg::ref::image {

/// One H x W plane of doubles.
struct plane {
    std::int64_t h = 0, w = 0;
    std::vector<double> v;
    plane() = default;
    plane(std::int64_t hh, std::int64_t ww) : h(hh), w(ww), v(static_cast<std::size_t>(hh * ww), 0.0) {}
    double& operator()(std::int64_t y, std::int64_t x) { return v[static_cast<std::size_t>(y * w + x)]; }
    double operator()(std::int64_t y, std::int64_t x) const { return v[static_cast<std::size_t>(y * w + x)]; }
};

/// Channel c of image n of an NHWC tensor, as a plane of doubles.
template <class T>
plane plane_of(const basic_tensor<T>& t, std::int64_t n, std::int64_t c) {
    const shape& s = t.shape();
    plane p(s[1], s[2]);
    for (std::int64_t y = 0; y < s[1]; ++y)
        for (std::int64_t x = 0; x < s[2]; ++x)
            p(y, x) = static_cast<double>(t[((n * s[1] + y) * s[2] + x) * s[3] + c]);
    return p;
}

/// The plane padded by r on each side: mirrored without repeating the edge (reflect) or with the
/// edge repeated (replicate). Built row by row, then column by column.
inline plane padded(const plane& p, std::int64_t r, bool reflect) {
    plane out(p.h + 2 * r, p.w + 2 * r);
    for (std::int64_t y = 0; y < out.h; ++y)
        for (std::int64_t x = 0; x < out.w; ++x) {
            std::int64_t sy = y - r, sx = x - r;
            if (reflect) {
                if (sy < 0) sy = -sy;
                if (sy > p.h - 1) sy = (p.h - 1) - (sy - (p.h - 1));
                if (sx < 0) sx = -sx;
                if (sx > p.w - 1) sx = (p.w - 1) - (sx - (p.w - 1));
            } else {
                sy = std::min(std::max<std::int64_t>(sy, 0), p.h - 1);
                sx = std::min(std::max<std::int64_t>(sx, 0), p.w - 1);
            }
            out(y, x) = p(sy, sx);
        }
    return out;
}

/// 'valid' 2-D correlation of a padded plane with a k x k kernel (row-major).
inline plane correlate_valid(const plane& p, const std::vector<double>& kernel, std::int64_t k) {
    plane out(p.h - k + 1, p.w - k + 1);
    for (std::int64_t y = 0; y < out.h; ++y)
        for (std::int64_t x = 0; x < out.w; ++x) {
            double acc = 0.0;
            for (std::int64_t a = 0; a < k; ++a)
                for (std::int64_t b = 0; b < k; ++b) acc += kernel[static_cast<std::size_t>(a * k + b)] * p(y + a, x + b);
            out(y, x) = acc;
        }
    return out;
}

// ---- GMSD ----------------------------------------------------------------------------------

/// mean over images of std(GMS) over (H, W, C), Prewitt / 3 with reflect padding, magnitude
/// sqrt(gx^2 + gy^2 + eps), population standard deviation (two passes).
template <class T>
double gmsd(const basic_tensor<T>& pred, const basic_tensor<T>& target, double c = 0.0025, double eps = 1e-12) {
    const shape& s = pred.shape();
    const std::vector<double> kx = {-1.0 / 3, 0, 1.0 / 3, -1.0 / 3, 0, 1.0 / 3, -1.0 / 3, 0, 1.0 / 3};
    const std::vector<double> ky = {-1.0 / 3, -1.0 / 3, -1.0 / 3, 0, 0, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3};
    double total = 0.0;
    for (std::int64_t n = 0; n < s[0]; ++n) {
        std::vector<double> map;
        for (std::int64_t ch = 0; ch < s[3]; ++ch) {
            const plane pp = padded(plane_of(pred, n, ch), 1, true), tp = padded(plane_of(target, n, ch), 1, true);
            const plane gxp = correlate_valid(pp, kx, 3), gyp = correlate_valid(pp, ky, 3);
            const plane gxt = correlate_valid(tp, kx, 3), gyt = correlate_valid(tp, ky, 3);
            for (std::size_t i = 0; i < gxp.v.size(); ++i) {
                const double mp = std::sqrt(gxp.v[i] * gxp.v[i] + gyp.v[i] * gyp.v[i] + eps);
                const double mt = std::sqrt(gxt.v[i] * gxt.v[i] + gyt.v[i] * gyt.v[i] + eps);
                map.push_back((2 * mp * mt + c) / (mp * mp + mt * mt + c));
            }
        }
        double mean = 0.0;
        for (double g : map) mean += g;
        mean /= static_cast<double>(map.size());
        double var = 0.0;
        for (double g : map) var += (g - mean) * (g - mean);
        total += std::sqrt(var / static_cast<double>(map.size()));
    }
    return total / static_cast<double>(s[0]);
}

// ---- gradient difference ---------------------------------------------------------------------

struct l1_result {
    double value = 0.0;
    double smallest_difference = std::numeric_limits<double>::infinity();  // min |term| over all L1 terms
};

/// (tv * (mean|dx_p - dx_t| + mean|dy_p - dy_t|) + tv2 * (mean|dxx_p - dxx_t| + mean|dyy_p - dyy_t|))
/// / (tv + tv2), forward first differences and centred second differences inside the image.
template <class T>
l1_result gradient_difference(const basic_tensor<T>& pred, const basic_tensor<T>& target, double tv = 1.0,
                              double tv2 = 1.0) {
    const shape& s = pred.shape();
    double sum[4] = {0, 0, 0, 0};
    double count[4] = {0, 0, 0, 0};
    l1_result r;
    auto add = [&](int term, double d) {
        sum[term] += std::abs(d);
        count[term] += 1;
        r.smallest_difference = std::min(r.smallest_difference, std::abs(d));
    };
    for (std::int64_t n = 0; n < s[0]; ++n)
        for (std::int64_t ch = 0; ch < s[3]; ++ch) {
            const plane p = plane_of(pred, n, ch), t = plane_of(target, n, ch);
            for (std::int64_t y = 0; y < p.h; ++y)
                for (std::int64_t x = 0; x + 1 < p.w; ++x) add(0, (p(y, x + 1) - p(y, x)) - (t(y, x + 1) - t(y, x)));
            for (std::int64_t y = 0; y + 1 < p.h; ++y)
                for (std::int64_t x = 0; x < p.w; ++x) add(1, (p(y + 1, x) - p(y, x)) - (t(y + 1, x) - t(y, x)));
            for (std::int64_t y = 0; y < p.h; ++y)
                for (std::int64_t x = 1; x + 1 < p.w; ++x)
                    add(2, (p(y, x + 1) - 2 * p(y, x) + p(y, x - 1)) - (t(y, x + 1) - 2 * t(y, x) + t(y, x - 1)));
            for (std::int64_t y = 1; y + 1 < p.h; ++y)
                for (std::int64_t x = 0; x < p.w; ++x)
                    add(3, (p(y + 1, x) - 2 * p(y, x) + p(y - 1, x)) - (t(y + 1, x) - 2 * t(y, x) + t(y - 1, x)));
        }
    r.value = (tv * (sum[0] / count[0] + sum[1] / count[1]) + tv2 * (sum[2] / count[2] + sum[3] / count[3])) / (tv + tv2);
    return r;
}

// ---- Laplacian pyramid -------------------------------------------------------------------------

/// faceswap's kernel: x = linspace(-2, 2, 5) / (sqrt(2) sigma), K[i][j] = exp(-x_i^2 - x_j^2) / sum.
inline std::vector<double> pyramid_kernel(double sigma) {
    std::vector<double> k(25);
    double sum = 0.0;
    for (int i = 0; i < 5; ++i)
        for (int j = 0; j < 5; ++j) {
            const double xi = (i - 2) / (std::sqrt(2.0) * sigma), xj = (j - 2) / (std::sqrt(2.0) * sigma);
            k[static_cast<std::size_t>(i * 5 + j)] = std::exp(-xi * xi - xj * xj);
            sum += k[static_cast<std::size_t>(i * 5 + j)];
        }
    for (double& v : k) v /= sum;
    return k;
}

/// The pyramid of one plane: levels bands (x - blur x), then the low-pass remainder.
inline std::vector<plane> pyramid_of_plane(plane current, int levels, const std::vector<double>& kernel) {
    std::vector<plane> out;
    for (int l = 0; l < levels; ++l) {
        const plane blurred = correlate_valid(padded(current, 2, false), kernel, 5);
        plane band(current.h, current.w);
        for (std::size_t i = 0; i < band.v.size(); ++i) band.v[i] = current.v[i] - blurred.v[i];
        out.push_back(band);
        plane pooled(current.h / 2, current.w / 2);
        for (std::int64_t y = 0; y < pooled.h; ++y)
            for (std::int64_t x = 0; x < pooled.w; ++x)
                pooled(y, x) = (blurred(2 * y, 2 * x) + blurred(2 * y, 2 * x + 1) + blurred(2 * y + 1, 2 * x) +
                                blurred(2 * y + 1, 2 * x + 1)) / 4;
        current = pooled;
    }
    out.push_back(current);
    return out;
}

/// sum_l 4^-l mean over (N, H_l, W_l, C) of |band_l(pred) - band_l(target)|.
template <class T>
l1_result laplacian_pyramid(const basic_tensor<T>& pred, const basic_tensor<T>& target, int levels = 5,
                            double sigma = 1.0) {
    const shape& s = pred.shape();
    const auto kernel = pyramid_kernel(sigma);
    std::vector<double> sum(static_cast<std::size_t>(levels + 1), 0.0), count(sum.size(), 0.0);
    l1_result r;
    for (std::int64_t n = 0; n < s[0]; ++n)
        for (std::int64_t ch = 0; ch < s[3]; ++ch) {
            const auto pp = pyramid_of_plane(plane_of(pred, n, ch), levels, kernel);
            const auto tp = pyramid_of_plane(plane_of(target, n, ch), levels, kernel);
            for (std::size_t l = 0; l < pp.size(); ++l)
                for (std::size_t i = 0; i < pp[l].v.size(); ++i) {
                    const double d = pp[l].v[i] - tp[l].v[i];
                    sum[l] += std::abs(d);
                    count[l] += 1;
                    r.smallest_difference = std::min(r.smallest_difference, std::abs(d));
                }
        }
    for (std::size_t l = 0; l < sum.size(); ++l) r.value += std::pow(2.0, -2.0 * static_cast<double>(l)) * sum[l] / count[l];
    return r;
}

}  // namespace hg::ref::image
