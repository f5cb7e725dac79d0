// Op contract of the gradient magnitude similarity deviation (GMSD, Xue et al. 2014) between a
// predicted and a target NHWC batch of equal shape [N, H, W, C] with H, W >= 3:
//   m      = sqrt(gx^2 + gy^2 + eps)  per pixel and channel, Prewitt gradients (1/3 scaling),
//            reflect padding, eps = math::gmsd_magnitude_eps          (math/image_losses.hpp)
//   GMS    = (2 m_pred m_target + c) / (m_pred^2 + m_target^2 + c)
//   GMSD_n = population standard deviation of GMS over image n's H x W x C values
//   value  = mean_n GMSD_n
// gmsd_forward WRITES value[0] (a 1-element tensor on the backend's device); gmsd_backward ADDS
// weight * dvalue/dpred into dpred. Backward: dvalue/dGMS_i = (GMS_i - mean_n) / (N K sigma_n) with
// K = H W C (0 for an image whose sigma_n is 0, where the standard deviation has no derivative),
// times dGMS/dm_pred, times dm/dg = g / m, through the transposed Prewitt stencil.
// The CPU version accumulates the per-image sums in double; both backends compute the variance
// from sums of (GMS - 1) and (GMS - 1)^2 (GMS is close to 1, so the shift avoids cancellation).
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

namespace detail {

/// pred, target [N, H, W, C] with H, W >= 3, equal shapes, on B's device; c > 0.
template <class B, class T>
void check_gmsd(const basic_tensor<T>& pred, const basic_tensor<T>& target, double c) {
    check_arg<B>(pred, pred.shape(), "gmsd", "pred");
    const shape& s = pred.shape();
    if (s.rank() != 4 || s.numel() < 1)
        throw shape_error("gmsd: the prediction must be a non-empty NHWC batch [N, H, W, C], got " + s.str());
    if (s.h() < 3 || s.w() < 3)
        throw shape_error("gmsd: images must be at least 3x3 (the 3x3 Prewitt window with reflect padding), got " +
                          s.str());
    check_arg<B>(target, s, "gmsd", "target");
    if (!(c > 0.0) || !std::isfinite(c))
        throw value_error("gmsd: the constant c must be positive and finite, got " + std::to_string(c));
}

template <class B, class T>
void check_gmsd_value(const basic_tensor<T>& value, const char* op) {
    check_arg<B>(value, value.shape(), op, "value");
    if (value.numel() != 1)
        throw shape_error(std::string(op) + ": argument 'value' must hold 1 element, has shape " +
                          value.shape().str());
}

}  // namespace detail

#if HG_CPU_OPS
namespace detail {

/// Per image: the sums of (GMS - 1) and (GMS - 1)^2 in double, accumulated per row and then added
/// in row order (deterministic for any thread count). stats[2n], stats[2n + 1].
template <class T>
void gmsd_sums(const cpu_backend<T>& be, const basic_tensor<T>& pred, const basic_tensor<T>& target, T c,
               std::vector<double>& stats) {
    const shape& s = pred.shape();
    const int hh = static_cast<int>(s.h()), ww = static_cast<int>(s.w()), cc = static_cast<int>(s.c());
    const std::int64_t n_ = s.n(), image = s.per_sample(), rows = n_ * hh;
    std::vector<double> row_sums(static_cast<std::size_t>(2 * rows), 0.0);
    const T eps = static_cast<T>(math::gmsd_magnitude_eps);
    parallel_for(rows, be.threads(), 8, [&](std::int64_t r) {
        const std::int64_t n = r / hh;
        const int h = static_cast<int>(r % hh);
        const T* p = pred.data() + n * image;
        const T* t = target.data() + n * image;
        double s1 = 0.0, s2 = 0.0;
        for (int w = 0; w < ww; ++w)
            for (int ch = 0; ch < cc; ++ch) {
                T gxp, gyp, gxt, gyt;
                math::prewitt_at(p, hh, ww, cc, h, w, ch, gxp, gyp);
                math::prewitt_at(t, hh, ww, cc, h, w, ch, gxt, gyt);
                const T g = math::gms(math::gradient_magnitude(gxp, gyp, eps), math::gradient_magnitude(gxt, gyt, eps), c);
                const double d = static_cast<double>(g) - 1.0;
                s1 += d;
                s2 += d * d;
            }
        row_sums[static_cast<std::size_t>(2 * r)] = s1;
        row_sums[static_cast<std::size_t>(2 * r + 1)] = s2;
    });
    stats.assign(static_cast<std::size_t>(2 * n_), 0.0);
    for (std::int64_t r = 0; r < rows; ++r) {
        stats[static_cast<std::size_t>(2 * (r / hh))] += row_sums[static_cast<std::size_t>(2 * r)];
        stats[static_cast<std::size_t>(2 * (r / hh) + 1)] += row_sums[static_cast<std::size_t>(2 * r + 1)];
    }
}

/// The population variance from the shifted sums s1 = sum (g - 1), s2 = sum (g - 1)^2 over k values.
inline double shifted_variance(double s1, double s2, double k) {
    const double m = s1 / k;
    const double v = s2 / k - m * m;
    return v > 0.0 ? v : 0.0;
}

}  // namespace detail

template <class T>
void gmsd_forward(const cpu_backend<T>& be, const basic_tensor<T>& pred, const basic_tensor<T>& target,
                  const basic_tensor<T>& value, double c = math::gmsd_default_c) {
    detail::check_gmsd<cpu_backend<T>>(pred, target, c);
    detail::check_gmsd_value<cpu_backend<T>>(value, "gmsd");
    std::vector<double> stats;
    detail::gmsd_sums(be, pred, target, static_cast<T>(c), stats);
    const auto n_ = static_cast<std::size_t>(pred.shape().n());
    const auto k = static_cast<double>(pred.shape().per_sample());
    double total = 0.0;
    for (std::size_t n = 0; n < n_; ++n) total += std::sqrt(detail::shifted_variance(stats[2 * n], stats[2 * n + 1], k));
    value[0] = static_cast<T>(total / static_cast<double>(n_));
}

template <class T>
void gmsd_backward(const cpu_backend<T>& be, const basic_tensor<T>& pred, const basic_tensor<T>& target, double weight,
                   const basic_tensor<T>& dpred, double c = math::gmsd_default_c) {
    detail::check_gmsd<cpu_backend<T>>(pred, target, c);
    detail::check_arg<cpu_backend<T>>(dpred, pred.shape(), "gmsd", "dpred");
    const shape& s = pred.shape();
    const int hh = static_cast<int>(s.h()), ww = static_cast<int>(s.w()), cc = static_cast<int>(s.c());
    const std::int64_t n_ = s.n(), image = s.per_sample();
    const T ct = static_cast<T>(c), eps = static_cast<T>(math::gmsd_magnitude_eps);

    std::vector<double> stats;
    detail::gmsd_sums(be, pred, target, ct, stats);
    // Per image: the mean of GMS and weight / (N K sigma) (0 where sigma is 0).
    std::vector<T> mean(static_cast<std::size_t>(n_)), scale(static_cast<std::size_t>(n_));
    const auto k = static_cast<double>(image);
    for (std::int64_t n = 0; n < n_; ++n) {
        const auto i = static_cast<std::size_t>(n);
        const double sigma = std::sqrt(detail::shifted_variance(stats[2 * i], stats[2 * i + 1], k));
        mean[i] = static_cast<T>(1.0 + stats[2 * i] / k);
        scale[i] = sigma > 0.0 ? static_cast<T>(weight / (static_cast<double>(n_) * k * sigma)) : T(0);
    }

    // dL/dgx, dL/dgy of the prediction at every pixel, interleaved, in the backend's scratch.
    T* g = be.scratch(static_cast<std::size_t>(2 * s.numel()));
    parallel_for(n_ * hh, be.threads(), 8, [&](std::int64_t r) {
        const std::int64_t n = r / hh;
        const int h = static_cast<int>(r % hh);
        const T* p = pred.data() + n * image;
        const T* t = target.data() + n * image;
        T* gi = g + 2 * n * image;
        for (int w = 0; w < ww; ++w)
            for (int ch = 0; ch < cc; ++ch) {
                T gxp, gyp, gxt, gyt;
                math::prewitt_at(p, hh, ww, cc, h, w, ch, gxp, gyp);
                math::prewitt_at(t, hh, ww, cc, h, w, ch, gxt, gyt);
                const T mp = math::gradient_magnitude(gxp, gyp, eps), mt = math::gradient_magnitude(gxt, gyt, eps);
                const T dgms = scale[static_cast<std::size_t>(n)] * (math::gms(mp, mt, ct) - mean[static_cast<std::size_t>(n)]);
                const T dm = dgms * math::gms_grad_mp(mp, mt, ct);
                const std::int64_t q = (static_cast<std::int64_t>(h) * ww + w) * cc + ch;
                gi[2 * q] = dm * gxp / mp;
                gi[2 * q + 1] = dm * gyp / mp;
            }
    });
    parallel_for(n_ * hh, be.threads(), 8, [&](std::int64_t r) {
        const std::int64_t n = r / hh;
        const int h = static_cast<int>(r % hh);
        const T* gi = g + 2 * n * image;
        T* d = dpred.data() + n * image + static_cast<std::int64_t>(h) * ww * cc;
        for (int w = 0; w < ww; ++w)
            for (int ch = 0; ch < cc; ++ch) d[w * cc + ch] += math::prewitt_transpose_at(gi, hh, ww, cc, h, w, ch);
    });
}

#endif  // HG_CPU_OPS

/// CUDA overloads (cuda/gmsd.cu): same contract; no host synchronisation.
void gmsd_forward(const cuda& be, const tensor& pred, const tensor& target, const tensor& value,
                  double c = math::gmsd_default_c);
void gmsd_backward(const cuda& be, const tensor& pred, const tensor& target, double weight, const tensor& dpred,
                   double c = math::gmsd_default_c);

}  // namespace hg::ops
