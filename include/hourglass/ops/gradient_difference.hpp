// Op contract of the pixel gradient difference loss between a predicted and a target NHWC batch
// of equal shape [N, H, W, C] with H, W >= 3. With D = pred - target taken through each stencil
// (the stencil of pred minus the stencil of target):
//   first differences   dx[h, w] = x[h, w+1] - x[h, w]              (w < W-1)
//                       dy[h, w] = x[h+1, w] - x[h, w]              (h < H-1)
//   second differences  dxx[h, w] = x[h, w+1] - 2 x[h, w] + x[h, w-1]  (0 < w < W-1), dyy along h
//   value = (tv * (mean|dx_p - dx_t| + mean|dy_p - dy_t|)
//            + tv2 * (mean|dxx_p - dxx_t| + mean|dyy_p - dyy_t|)) / (tv + tv2)
// each mean over all of that term's elements in the batch (equal to the batch mean of per-image
// means). The (tv, tv2) weighting and the division by their sum follow faceswap's GradientLoss.
// gradient_difference_forward WRITES value[0]; gradient_difference_backward ADDS
// weight * dvalue/dpred into dpred, with d|u|/du = sign(u) (0 at u = 0). The CPU version
// accumulates in double.
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

/// pred, target [N, H, W, C] with H, W >= 3, equal shapes, on B's device; weights >= 0, finite,
/// with a positive sum.
template <class B, class T>
void check_gradient_difference(const basic_tensor<T>& pred, const basic_tensor<T>& target, double tv, double tv2) {
    check_arg<B>(pred, pred.shape(), "gradient_difference", "pred");
    const shape& s = pred.shape();
    if (s.rank() != 4 || s.numel() < 1)
        throw shape_error("gradient_difference: the prediction must be a non-empty NHWC batch [N, H, W, C], got " +
                          s.str());
    if (s.h() < 3 || s.w() < 3)
        throw shape_error("gradient_difference: images must be at least 3x3 (the second differences span 3 pixels), got " +
                          s.str());
    check_arg<B>(target, s, "gradient_difference", "target");
    if (!(tv >= 0.0) || !(tv2 >= 0.0) || !std::isfinite(tv) || !std::isfinite(tv2) || !(tv + tv2 > 0.0))
        throw value_error("gradient_difference: the first- and second-order weights must be finite, >= 0 and not both 0, "
                          "got " + std::to_string(tv) + " and " + std::to_string(tv2));
}

template <class B, class T>
void check_gradient_difference_value(const basic_tensor<T>& value) {
    check_arg<B>(value, value.shape(), "gradient_difference", "value");
    if (value.numel() != 1)
        throw shape_error("gradient_difference: argument 'value' must hold 1 element, has shape " + value.shape().str());
}

/// The per-term coefficients: scale * weight / (element count of the term * (tv + tv2)).
template <class T>
math::gradient_difference_terms<T> gradient_difference_coefs(const shape& s, double tv, double tv2, double scale) {
    const double n = static_cast<double>(s.n()), h = static_cast<double>(s.h()), w = static_cast<double>(s.w()),
                 c = static_cast<double>(s.c()), sum = tv + tv2;
    return {static_cast<T>(scale * tv / (n * h * (w - 1) * c * sum)),
            static_cast<T>(scale * tv / (n * (h - 1) * w * c * sum)),
            static_cast<T>(scale * tv2 / (n * h * (w - 2) * c * sum)),
            static_cast<T>(scale * tv2 / (n * (h - 2) * w * c * sum))};
}

}  // namespace detail

#if HG_CPU_OPS

template <class T>
void gradient_difference_forward(const cpu_backend<T>& be, const basic_tensor<T>& pred, const basic_tensor<T>& target,
                                 const basic_tensor<T>& value, double tv = 1.0, double tv2 = 1.0) {
    detail::check_gradient_difference<cpu_backend<T>>(pred, target, tv, tv2);
    detail::check_gradient_difference_value<cpu_backend<T>>(value);
    const shape& s = pred.shape();
    const int hh = static_cast<int>(s.h()), ww = static_cast<int>(s.w()), cc = static_cast<int>(s.c());
    const std::int64_t image = s.per_sample(), rows = s.n() * hh;
    // The differences in T, their weighting and sum in double (row partials added in row order).
    const auto k = detail::gradient_difference_coefs<double>(s, tv, tv2, 1.0);
    std::vector<double> row_sums(static_cast<std::size_t>(rows), 0.0);
    parallel_for(rows, be.threads(), 8, [&](std::int64_t r) {
        const std::int64_t n = r / hh;
        const int h = static_cast<int>(r % hh);
        const T* p = pred.data() + n * image;
        const T* t = target.data() + n * image;
        double acc = 0.0;
        for (int w = 0; w < ww; ++w)
            for (int ch = 0; ch < cc; ++ch) {
                const auto d = math::gradient_difference_deltas_at(p, t, hh, ww, cc, h, w, ch);
                acc += k.x * static_cast<double>(d.x) + k.y * static_cast<double>(d.y) +
                       k.xx * static_cast<double>(d.xx) + k.yy * static_cast<double>(d.yy);
            }
        row_sums[static_cast<std::size_t>(r)] = acc;
    });
    double total = 0.0;
    for (double v : row_sums) total += v;
    value[0] = static_cast<T>(total);
}

template <class T>
void gradient_difference_backward(const cpu_backend<T>& be, const basic_tensor<T>& pred, const basic_tensor<T>& target,
                                  double weight, const basic_tensor<T>& dpred, double tv = 1.0, double tv2 = 1.0) {
    detail::check_gradient_difference<cpu_backend<T>>(pred, target, tv, tv2);
    detail::check_arg<cpu_backend<T>>(dpred, pred.shape(), "gradient_difference", "dpred");
    const shape& s = pred.shape();
    const int hh = static_cast<int>(s.h()), ww = static_cast<int>(s.w()), cc = static_cast<int>(s.c());
    const std::int64_t image = s.per_sample(), rows = s.n() * hh;
    const auto k = detail::gradient_difference_coefs<T>(s, tv, tv2, weight);
    parallel_for(rows, be.threads(), 8, [&](std::int64_t r) {
        const std::int64_t n = r / hh;
        const int h = static_cast<int>(r % hh);
        const T* p = pred.data() + n * image;
        const T* t = target.data() + n * image;
        T* d = dpred.data() + n * image + static_cast<std::int64_t>(h) * ww * cc;
        for (int w = 0; w < ww; ++w)
            for (int ch = 0; ch < cc; ++ch) d[w * cc + ch] += math::gradient_difference_grad_at(p, t, hh, ww, cc, h, w, ch, k);
    });
}

#endif  // HG_CPU_OPS

/// CUDA overloads (cuda/gradient_difference.cu): same contract; no host synchronisation.
void gradient_difference_forward(const cuda& be, const tensor& pred, const tensor& target, const tensor& value,
                                 double tv = 1.0, double tv2 = 1.0);
void gradient_difference_backward(const cuda& be, const tensor& pred, const tensor& target, double weight,
                                  const tensor& dpred, double tv = 1.0, double tv2 = 1.0);

}  // namespace hg::ops
