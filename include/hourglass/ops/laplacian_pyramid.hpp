// Op contract of the Laplacian pyramid loss (Bojanowski et al. 2018, as faceswap's
// LaplacianPyramidLoss builds it) between a predicted and a target NHWC batch of equal shape
// [N, H, W, C] with H, W >= 2^levels:
//   x_0 = image; for l = 0 .. levels-1:
//     f_l     = Gaussian blur of x_l (5x5, sigma, edges replicated; math/image_losses.hpp)
//     band_l  = x_l - f_l
//     x_{l+1} = 2x2 average pooling of f_l (stride 2, an odd last row or column dropped)
//   band_levels = x_levels (the remaining low-pass image)
//   value = sum_{l=0..levels} 4^-l * mean |band_l(pred) - band_l(target)|
// each mean over all N * H_l * W_l * C elements of level l (equal to the batch mean of per-image
// means). There is no upsampling: as in faceswap, each band is the level minus its own blur.
// Every step is linear, so band_l(pred) - band_l(target) = band_l(pred - target): both backends
// build one pyramid, of d = pred - target.
// laplacian_pyramid_forward WRITES value[0]; laplacian_pyramid_backward ADDS weight * dvalue/dpred
// into dpred. Backward (B the blur, P the pooling, u_l = weight 4^-l / count_l * sign(band_l)):
//   g_levels = weight 4^-levels / count_levels * sign(x_levels)
//   g_l      = u_l + B^T (P^T g_{l+1} - u_l)          (= (I - B)^T u_l + B^T P^T g_{l+1})
// and dvalue/dpred = g_0. The CPU version accumulates in double.
#pragma once

#include "hourglass/core/config.hpp"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#if HG_CPU_OPS
#include "hourglass/cpu/backend.hpp"
#endif
#include "hourglass/math/image_losses.hpp"
#include "hourglass/ops/check.hpp"

namespace hg {
class cuda;
}

namespace hg::ops {

/// faceswap's defaults: 5 levels (plus the low-pass remainder), sigma 1.
inline constexpr int laplacian_default_levels = 5;
inline constexpr double laplacian_default_sigma = 1.0;
inline constexpr int laplacian_max_levels = 16;

namespace detail {

/// Extents of every pyramid level and where each level sits in one buffer holding them all.
struct pyramid_geometry {
    int levels = 0;
    std::int64_t n = 0, c = 0;
    std::vector<int> h, w;               // levels + 1 entries
    std::vector<std::int64_t> count;     // elements of level l: n * h * w * c
    std::vector<std::int64_t> offset;    // of level l in the buffer of all levels
    std::int64_t total = 0;              // elements of all levels
    std::vector<double> coef;            // 4^-l / count_l
};

inline pyramid_geometry pyramid_of(const shape& s, int levels) {
    pyramid_geometry g;
    g.levels = levels;
    g.n = s.n();
    g.c = s.c();
    int h = static_cast<int>(s.h()), w = static_cast<int>(s.w());
    for (int l = 0; l <= levels; ++l) {
        g.h.push_back(h);
        g.w.push_back(w);
        g.count.push_back(g.n * h * w * g.c);
        g.offset.push_back(g.total);
        g.total += g.count.back();
        g.coef.push_back(std::ldexp(1.0, -2 * l) / static_cast<double>(g.count.back()));
        h /= 2;
        w /= 2;
    }
    return g;
}

template <class B, class T>
void check_laplacian_pyramid(const basic_tensor<T>& pred, const basic_tensor<T>& target, int levels, double sigma) {
    if (levels < 1 || levels > laplacian_max_levels)
        throw value_error("laplacian_pyramid: the number of levels must be in [1, " + std::to_string(laplacian_max_levels) +
                          "], got " + std::to_string(levels));
    if (!(sigma > 0.0) || !std::isfinite(sigma))
        throw value_error("laplacian_pyramid: the Gaussian sigma must be positive and finite, got " + std::to_string(sigma));
    check_arg<B>(pred, pred.shape(), "laplacian_pyramid", "pred");
    const shape& s = pred.shape();
    if (s.rank() != 4 || s.numel() < 1)
        throw shape_error("laplacian_pyramid: the prediction must be a non-empty NHWC batch [N, H, W, C], got " + s.str());
    const std::int64_t need = std::int64_t{1} << levels;
    if (s.h() < need || s.w() < need)
        throw shape_error("laplacian_pyramid: " + std::to_string(levels) + " levels need images of at least " +
                          std::to_string(need) + "x" + std::to_string(need) + " (each level halves them), got " + s.str());
    check_arg<B>(target, s, "laplacian_pyramid", "target");
}

template <class B, class T>
void check_laplacian_pyramid_value(const basic_tensor<T>& value) {
    check_arg<B>(value, value.shape(), "laplacian_pyramid", "value");
    if (value.numel() != 1)
        throw shape_error("laplacian_pyramid: argument 'value' must hold 1 element, has shape " + value.shape().str());
}

}  // namespace detail

#if HG_CPU_OPS
namespace detail {

/// Calls f(n, h, w, c, flat index) for every element of an [n, hh, ww, cc] level, rows in parallel.
template <class T, class F>
void for_each_pixel(const cpu_backend<T>& be, std::int64_t n_, int hh, int ww, std::int64_t cc, F&& f) {
    parallel_for(n_ * hh, be.threads(), 8, [&](std::int64_t r) {
        const std::int64_t n = r / hh;
        const int h = static_cast<int>(r % hh);
        std::int64_t i = r * ww * cc;
        for (int w = 0; w < ww; ++w)
            for (std::int64_t ch = 0; ch < cc; ++ch, ++i) f(n, h, w, static_cast<int>(ch), i);
    });
}

/// Builds the levels x_0 = pred - target, ..., x_levels into `levels_buf` (f_l goes through
/// `blur_buf`). With sums != nullptr, also sums[l] = sum |band_l| in double, added per row in
/// row order.
template <class T>
void build_pyramid(const cpu_backend<T>& be, const pyramid_geometry& g, const math::pyramid_taps<T>& taps,
                   const basic_tensor<T>& pred, const basic_tensor<T>& target, T* levels_buf, T* blur_buf,
                   std::vector<double>* sums) {
    const T* p = pred.data();
    const T* t = target.data();
    parallel_for(g.count[0], g.count[0] >= 65536 ? be.threads() : 1, 1024,
                 [&](std::int64_t i) { levels_buf[i] = p[i] - t[i]; });
    if (sums) sums->assign(static_cast<std::size_t>(g.levels + 1), 0.0);
    const int cc = static_cast<int>(g.c);
    for (int l = 0; l <= g.levels; ++l) {
        const T* x = levels_buf + g.offset[static_cast<std::size_t>(l)];
        const int hh = g.h[static_cast<std::size_t>(l)], ww = g.w[static_cast<std::size_t>(l)];
        const std::int64_t image = static_cast<std::int64_t>(hh) * ww * cc;
        const std::int64_t row = static_cast<std::int64_t>(ww) * cc;
        std::vector<double> row_sums(sums ? static_cast<std::size_t>(g.n * hh) : 0, 0.0);
        if (l == g.levels) {
            if (sums)
                for_each_pixel(be, g.n, hh, ww, g.c, [&](std::int64_t, int, int, int, std::int64_t i) {
                    row_sums[static_cast<std::size_t>(i / row)] += std::abs(static_cast<double>(x[i]));
                });
        } else {
            for_each_pixel(be, g.n, hh, ww, g.c, [&](std::int64_t n, int h, int w, int ch, std::int64_t i) {
                const T f = math::blur_at(x + n * image, hh, ww, cc, h, w, ch, taps);
                blur_buf[i] = f;
                if (sums) row_sums[static_cast<std::size_t>(i / row)] += std::abs(static_cast<double>(x[i] - f));
            });
            const auto next_level = static_cast<std::size_t>(l + 1);
            T* next = levels_buf + g.offset[next_level];
            for_each_pixel(be, g.n, g.h[next_level], g.w[next_level], g.c,
                           [&](std::int64_t n, int h, int w, int ch, std::int64_t i) {
                               next[i] = math::pool_at(blur_buf + n * image, ww, cc, h, w, ch);
                           });
        }
        if (sums)
            for (double v : row_sums) (*sums)[static_cast<std::size_t>(l)] += v;
    }
}

}  // namespace detail

template <class T>
void laplacian_pyramid_forward(const cpu_backend<T>& be, const basic_tensor<T>& pred, const basic_tensor<T>& target,
                               const basic_tensor<T>& value, int levels = laplacian_default_levels,
                               double sigma = laplacian_default_sigma) {
    detail::check_laplacian_pyramid<cpu_backend<T>>(pred, target, levels, sigma);
    detail::check_laplacian_pyramid_value<cpu_backend<T>>(value);
    const auto g = detail::pyramid_of(pred.shape(), levels);
    const auto taps = math::make_pyramid_taps<T>(sigma);
    T* levels_buf = be.scratch(static_cast<std::size_t>(g.total + g.count[0]));
    std::vector<double> sums;
    detail::build_pyramid(be, g, taps, pred, target, levels_buf, levels_buf + g.total, &sums);
    double total = 0.0;
    for (int l = 0; l <= levels; ++l) total += g.coef[static_cast<std::size_t>(l)] * sums[static_cast<std::size_t>(l)];
    value[0] = static_cast<T>(total);
}

template <class T>
void laplacian_pyramid_backward(const cpu_backend<T>& be, const basic_tensor<T>& pred, const basic_tensor<T>& target,
                                double weight, const basic_tensor<T>& dpred, int levels = laplacian_default_levels,
                                double sigma = laplacian_default_sigma) {
    detail::check_laplacian_pyramid<cpu_backend<T>>(pred, target, levels, sigma);
    detail::check_arg<cpu_backend<T>>(dpred, pred.shape(), "laplacian_pyramid", "dpred");
    const auto g = detail::pyramid_of(pred.shape(), levels);
    const auto taps = math::make_pyramid_taps<T>(sigma);
    const std::int64_t n0 = g.count[0], n1 = g.count[1];
    // One scratch buffer: all levels | blur (level 0 size) | u | v (level 0 size) | g (level 1 size).
    T* levels_buf = be.scratch(static_cast<std::size_t>(g.total + 3 * n0 + n1));
    T* blur_buf = levels_buf + g.total;
    T* u = blur_buf + n0;
    T* v = u + n0;
    T* grad = v + n0;
    detail::build_pyramid(be, g, taps, pred, target, levels_buf, blur_buf, nullptr);

    const int cc = static_cast<int>(g.c);
    const auto L = static_cast<std::size_t>(levels);
    {
        const T k = static_cast<T>(weight * g.coef[L]);
        const T* x = levels_buf + g.offset[L];
        for (std::int64_t i = 0; i < g.count[L]; ++i) grad[i] = k * math::sign_of(x[i]);
    }
    for (int l = levels - 1; l >= 0; --l) {
        const auto li = static_cast<std::size_t>(l);
        const T k = static_cast<T>(weight * g.coef[li]);
        const T* x = levels_buf + g.offset[li];
        const int hh = g.h[li], ww = g.w[li], h2 = g.h[li + 1], w2 = g.w[li + 1];
        const std::int64_t image = static_cast<std::int64_t>(hh) * ww * cc, image2 = static_cast<std::int64_t>(h2) * w2 * cc;
        // u = k sign(band_l); v = P^T g_{l+1} - u.
        detail::for_each_pixel(be, g.n, hh, ww, g.c, [&](std::int64_t n, int h, int w, int ch, std::int64_t i) {
            u[i] = k * math::sign_of(math::band_at(x + n * image, hh, ww, cc, h, w, ch, taps));
            v[i] = math::pool_transpose_at(grad + n * image2, h2, w2, cc, h, w, ch) - u[i];
        });
        // g_l = u + B^T v (into dpred, accumulated, at level 0).
        T* out = l == 0 ? dpred.data() : grad;
        detail::for_each_pixel(be, g.n, hh, ww, g.c, [&](std::int64_t n, int h, int w, int ch, std::int64_t i) {
            const T gi = u[i] + math::blur_transpose_at(v + n * image, hh, ww, cc, h, w, ch, taps);
            if (l == 0)
                out[i] += gi;
            else
                out[i] = gi;
        });
    }
}

#endif  // HG_CPU_OPS

/// CUDA overloads (cuda/laplacian_pyramid.cu): same contract; no host synchronisation.
void laplacian_pyramid_forward(const cuda& be, const tensor& pred, const tensor& target, const tensor& value,
                               int levels = laplacian_default_levels, double sigma = laplacian_default_sigma);
void laplacian_pyramid_backward(const cuda& be, const tensor& pred, const tensor& target, double weight,
                                const tensor& dpred, int levels = laplacian_default_levels,
                                double sigma = laplacian_default_sigma);

}  // namespace hg::ops
