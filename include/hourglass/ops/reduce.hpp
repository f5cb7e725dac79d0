// Op contracts of the full reductions, reused by losses, clipping and logging. Each writes one value
// into `out`, a 1-element tensor on the same device as x (so the GPU version needs no host sync):
//   sum       out = sum_i x[i]
//   mean      out = sum_i x[i] / numel
//   max_abs   out = max_i |x[i]|                (NaN if any element is NaN)
//   l2_norm   out = sqrt(sum_i x[i]^2)
//   min, max  out = min_i x[i], max_i x[i]   (NaN if any element is NaN)
// The CPU versions accumulate in double. read_scalar() copies such a value to the host.
#pragma once

#include "hourglass/core/config.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#if HG_CPU_OPS
#include "hourglass/cpu/backend.hpp"
#endif
#include "hourglass/ops/check.hpp"

namespace hg {
class cuda;
}

namespace hg::ops {

enum class reduction { sum, mean, max_abs, l2_norm, min, max };

namespace detail {
template <class B, class T>
void check_reduce(const basic_tensor<T>& x, const basic_tensor<T>& out, const char* op) {
    check_arg<B>(x, x.shape(), op, "x");
    if (x.numel() < 1) throw shape_error(std::string(op) + ": argument 'x' has no elements");
    check_arg<B>(out, out.shape(), op, "out");
    if (out.numel() != 1) throw shape_error(std::string(op) + ": argument 'out' must hold 1 element, has shape " + out.shape().str());
}
}  // namespace detail

#if HG_CPU_OPS
namespace detail {
template <class T>
double cpu_reduce(const cpu_backend<T>& be, const basic_tensor<T>& x, reduction kind) {
    const T* p = x.data();
    const std::int64_t n = x.numel();
    const int threads = n >= 65536 ? be.threads() : 1;
    // The identity of each kind: 0 for sums and max_abs (|x| >= 0), +-inf for min and max.
    const double identity = kind == reduction::min   ? std::numeric_limits<double>::infinity()
                            : kind == reduction::max ? -std::numeric_limits<double>::infinity()
                                                     : 0.0;
    std::vector<double> partial(static_cast<std::size_t>(threads), identity);
    std::vector<char> saw_nan(static_cast<std::size_t>(threads), 0);
    parallel_for(threads, threads, 1, [&](std::int64_t t) {
        const std::int64_t lo = n * t / threads, hi = n * (t + 1) / threads;
        double acc = identity;
        for (std::int64_t i = lo; i < hi; ++i) {
            const double v = static_cast<double>(p[i]);
            switch (kind) {
                case reduction::sum:
                case reduction::mean: acc += v; break;
                case reduction::max_abs:
                    if (std::isnan(v)) saw_nan[static_cast<std::size_t>(t)] = 1;
                    acc = std::max(acc, std::abs(v));
                    break;
                case reduction::l2_norm: acc += v * v; break;
                case reduction::min:
                    if (std::isnan(v)) saw_nan[static_cast<std::size_t>(t)] = 1;
                    acc = std::min(acc, v);
                    break;
                case reduction::max:
                    if (std::isnan(v)) saw_nan[static_cast<std::size_t>(t)] = 1;
                    acc = std::max(acc, v);
                    break;
            }
        }
        partial[static_cast<std::size_t>(t)] = acc;
    });
    double r = identity;
    for (int t = 0; t < threads; ++t) {
        if (saw_nan[static_cast<std::size_t>(t)]) return std::numeric_limits<double>::quiet_NaN();
        if (kind == reduction::max_abs || kind == reduction::max) {
            r = std::max(r, partial[static_cast<std::size_t>(t)]);
        } else if (kind == reduction::min) {
            r = std::min(r, partial[static_cast<std::size_t>(t)]);
        } else {
            r += partial[static_cast<std::size_t>(t)];
        }
    }
    if (kind == reduction::mean) r /= static_cast<double>(n);
    if (kind == reduction::l2_norm) r = std::sqrt(r);
    return r;
}

}  // namespace detail

template <class T>
void reduce(const cpu_backend<T>& be, reduction kind, const basic_tensor<T>& x, const basic_tensor<T>& out) {
    detail::check_reduce<cpu_backend<T>>(x, out, "reduce");
    out[0] = static_cast<T>(detail::cpu_reduce(be, x, kind));
}

#endif  // HG_CPU_OPS

/// CUDA overload (cuda/reduce.cu): a two-stage tree reduction with float64 accumulation.
void reduce(const cuda& be, reduction kind, const tensor& x, const tensor& out);

}  // namespace hg::ops
