// Op contracts of the pointwise losses. pred and target have equal shapes (any rank; the L-inf ops
// need NHWC [N, H, W, C]); `value` is a 1-element tensor on the same device (written, no host sync
// on the GPU); dpred has pred's shape and is ACCUMULATED into.
//   pointwise_loss_forward(term)    value = (1 / count) sum_i term.value(pred[i] - target[i])
//   pointwise_loss_backward(term)   dpred[i] += (weight / count) * term.grad(pred[i] - target[i])
//   linf_loss_forward               value = (1 / (N C)) sum_{n,c} max_{h,w} |pred - target|[n,h,w,c]
//   linf_loss_backward              dpred[n, h*, w*, c] += (weight / (N C)) * sign(d[n, h*, w*, c]) at
//                                   the arg-max (h*, w*) of each (n, c) (the first in memory order on
//                                   ties); every other element of dpred is left as it is
// `term` is one of the functors of math/pointwise_losses.hpp. The means accumulate in double; a NaN
// difference makes the value NaN (L-inf treats NaN as the largest difference).
#pragma once

#include "hourglass/core/config.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#if HG_CPU_OPS
#include "hourglass/cpu/backend.hpp"
#endif
#include "hourglass/math/pointwise_losses.hpp"
#include "hourglass/ops/check.hpp"

namespace hg {
class cuda;
}

namespace hg::ops {

namespace detail {
template <class B, class T>
void check_pointwise_loss(const basic_tensor<T>& pred, const basic_tensor<T>& target, const basic_tensor<T>& out,
                          bool out_is_value, const char* op) {
    check_arg<B>(pred, pred.shape(), op, "pred");
    if (pred.numel() < 1) throw shape_error(std::string(op) + ": argument 'pred' has no elements");
    check_arg<B>(target, pred.shape(), op, "target");
    if (out_is_value) {
        check_arg<B>(out, out.shape(), op, "value");
        if (out.numel() != 1)
            throw shape_error(std::string(op) + ": argument 'value' must hold 1 element, has shape " +
                              out.shape().str());
    } else {
        check_arg<B>(out, pred.shape(), op, "dpred");
    }
}

template <class B, class T>
void check_linf(const basic_tensor<T>& pred, const basic_tensor<T>& target, const basic_tensor<T>& out,
                bool out_is_value, const char* op) {
    check_pointwise_loss<B>(pred, target, out, out_is_value, op);
    if (pred.shape().rank() != 4)
        throw shape_error(std::string(op) + ": argument 'pred' must be NHWC [N, H, W, C], got " + pred.shape().str());
}

inline void check_weight(double weight, const char* op) {
    if (!std::isfinite(weight)) throw value_error(std::string(op) + ": the weight is not finite");
}
}  // namespace detail

#if HG_CPU_OPS
namespace detail {

/// sum_i term.value(pred[i] - target[i]) in double (each term computed in T), split statically over
/// threads like cpu_reduce.
template <class T, class Term>
double cpu_pointwise_sum(const cpu_backend<T>& be, const Term& term, const T* pred, const T* target, std::int64_t n) {
    const int threads = n >= 65536 ? be.threads() : 1;
    std::vector<double> partial(static_cast<std::size_t>(threads), 0.0);
    parallel_for(threads, threads, 1, [&](std::int64_t t) {
        const std::int64_t lo = n * t / threads, hi = n * (t + 1) / threads;
        double acc = 0.0;
        for (std::int64_t i = lo; i < hi; ++i) acc += static_cast<double>(term.value(pred[i] - target[i]));
        partial[static_cast<std::size_t>(t)] = acc;
    });
    double sum = 0.0;
    for (double p : partial) sum += p;
    return sum;
}

/// True when a (a candidate) beats best as the maximum: larger, or NaN where best is not. Ties keep
/// best, which comes first in memory order.
template <class T>
bool linf_beats(T a, T best) {
    return a > best || (std::isnan(a) && !std::isnan(best));
}

/// For each (n, c): the largest |pred - target| over (h, w) and the flat index (into the whole
/// tensor) of its first occurrence. Calls f(n, c, max, index) once per (n, c).
template <class T, class F>
void cpu_linf_argmax(const cpu_backend<T>& be, const basic_tensor<T>& pred, const basic_tensor<T>& target, F&& f) {
    const shape& s = pred.shape();
    const std::int64_t n_ = s.n(), hw = s.h() * s.w(), c_ = s.c();
    const T* p = pred.data();
    const T* t = target.data();
    parallel_for(n_, be.threads(), hw * c_ >= 65536 ? 1 : n_, [&](std::int64_t n) {
        std::vector<T> best(static_cast<std::size_t>(c_), T(-1));
        std::vector<std::int64_t> where(static_cast<std::size_t>(c_), 0);
        const std::int64_t base = n * hw * c_;
        for (std::int64_t j = 0; j < hw; ++j)
            for (std::int64_t c = 0; c < c_; ++c) {
                const std::int64_t i = base + j * c_ + c;
                const T a = std::abs(p[i] - t[i]);
                if (linf_beats(a, best[static_cast<std::size_t>(c)])) {
                    best[static_cast<std::size_t>(c)] = a;
                    where[static_cast<std::size_t>(c)] = i;
                }
            }
        for (std::int64_t c = 0; c < c_; ++c)
            f(n, c, best[static_cast<std::size_t>(c)], where[static_cast<std::size_t>(c)]);
    });
}

}  // namespace detail

template <class T, class Term>
void pointwise_loss_forward(const cpu_backend<T>& be, const Term& term, const basic_tensor<T>& pred,
                            const basic_tensor<T>& target, const basic_tensor<T>& value) {
    detail::check_pointwise_loss<cpu_backend<T>>(pred, target, value, true, "pointwise_loss_forward");
    const double sum = detail::cpu_pointwise_sum(be, term, pred.data(), target.data(), pred.numel());
    value[0] = static_cast<T>(sum / static_cast<double>(pred.numel()));
}

template <class T, class Term>
void pointwise_loss_backward(const cpu_backend<T>& be, const Term& term, const basic_tensor<T>& pred,
                             const basic_tensor<T>& target, double weight, const basic_tensor<T>& dpred) {
    detail::check_pointwise_loss<cpu_backend<T>>(pred, target, dpred, false, "pointwise_loss_backward");
    detail::check_weight(weight, "pointwise_loss_backward");
    const T scale = static_cast<T>(weight / static_cast<double>(pred.numel()));
    const T* p = pred.data();
    const T* t = target.data();
    T* g = dpred.data();
    parallel_for(pred.numel(), be.threads(), 16384, [&](std::int64_t i) { g[i] += scale * term.grad(p[i] - t[i]); });
}

template <class T>
void linf_loss_forward(const cpu_backend<T>& be, const basic_tensor<T>& pred, const basic_tensor<T>& target,
                       const basic_tensor<T>& value) {
    detail::check_linf<cpu_backend<T>>(pred, target, value, true, "linf_loss_forward");
    const shape& s = pred.shape();
    std::vector<double> maxima(static_cast<std::size_t>(s.n() * s.c()));
    detail::cpu_linf_argmax(be, pred, target, [&](std::int64_t n, std::int64_t c, T m, std::int64_t) {
        maxima[static_cast<std::size_t>(n * s.c() + c)] = static_cast<double>(m);
    });
    double sum = 0.0;
    for (double m : maxima) sum += m;
    value[0] = static_cast<T>(sum / static_cast<double>(maxima.size()));
}

template <class T>
void linf_loss_backward(const cpu_backend<T>& be, const basic_tensor<T>& pred, const basic_tensor<T>& target,
                        double weight, const basic_tensor<T>& dpred) {
    detail::check_linf<cpu_backend<T>>(pred, target, dpred, false, "linf_loss_backward");
    detail::check_weight(weight, "linf_loss_backward");
    const shape& s = pred.shape();
    const T scale = static_cast<T>(weight / static_cast<double>(s.n() * s.c()));
    const T* p = pred.data();
    const T* t = target.data();
    T* g = dpred.data();
    // Each (n, c) owns one distinct element, so the parallel updates never collide.
    detail::cpu_linf_argmax(be, pred, target, [&](std::int64_t, std::int64_t, T, std::int64_t i) {
        g[i] += scale * math::sign_of(p[i] - t[i]);
    });
}

#endif  // HG_CPU_OPS

// CUDA overloads (cuda/pointwise_loss.cu), same contracts. The forward kernels reduce into the value
// without a host sync (float64 partials in the backend's workspace); the templates are instantiated
// for math::mae_fn, mse_fn, log_cosh_fn and charbonnier_fn.
template <class Term>
void pointwise_loss_forward(const cuda& be, const Term& term, const tensor& pred, const tensor& target,
                            const tensor& value);
template <class Term>
void pointwise_loss_backward(const cuda& be, const Term& term, const tensor& pred, const tensor& target, double weight,
                             const tensor& dpred);
void linf_loss_forward(const cuda& be, const tensor& pred, const tensor& target, const tensor& value);
void linf_loss_backward(const cuda& be, const tensor& pred, const tensor& target, double weight, const tensor& dpred);

}  // namespace hg::ops
