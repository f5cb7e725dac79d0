// Op contracts of the full reductions, reused by losses, clipping and logging. Each writes one value
// into `out`, a 1-element tensor on the same device as x (so the GPU version needs no host sync):
//   sum       out = sum_i x[i]
//   mean      out = sum_i x[i] / numel
//   max_abs   out = max_i |x[i]|                (NaN if any element is NaN)
//   l2_norm   out = sqrt(sum_i x[i]^2)
//   min, max  out = min_i x[i], max_i x[i]   (NaN if any element is NaN)
// The CPU versions accumulate in double (eight interleaved partial sums per thread, then their
// sum). read_scalar() copies such a value to the host.
#pragma once

#include "hourglass/core/config.hpp"

#include <algorithm>
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
/// The partial result of one kind over x[lo, hi), starting from `identity`; sets `saw_nan` when a
/// NaN is seen (the kinds that take max / min, which would skip it). Eight independent lanes, each
/// taking every eighth element, are combined at the end: the loop then vectorises and is not
/// limited by the latency of one serial double add.
template <reduction Kind, class T>
double cpu_reduce_range(const T* p, std::int64_t lo, std::int64_t hi, double identity, bool& saw_nan) {
    constexpr int lanes = 8;
    double acc[lanes];
    bool nan[lanes];
    for (int j = 0; j < lanes; ++j) {
        acc[j] = identity;
        nan[j] = false;
    }
    const auto step = [&](int j, double v) {
        if constexpr (Kind == reduction::sum || Kind == reduction::mean) {
            acc[j] += v;
        } else if constexpr (Kind == reduction::l2_norm) {
            acc[j] += v * v;
        } else {
            nan[j] = nan[j] || v != v;
            if constexpr (Kind == reduction::max_abs) acc[j] = std::max(acc[j], std::abs(v));
            else if constexpr (Kind == reduction::min) acc[j] = std::min(acc[j], v);
            else acc[j] = std::max(acc[j], v);
        }
    };
    std::int64_t i = lo;
    for (; i + lanes <= hi; i += lanes)
        for (int j = 0; j < lanes; ++j) step(j, static_cast<double>(p[i + j]));
    for (int j = 0; i < hi; ++i, ++j) step(j, static_cast<double>(p[i]));
    double r = identity;
    for (int j = 0; j < lanes; ++j) {
        saw_nan = saw_nan || nan[j];
        if constexpr (Kind == reduction::max_abs || Kind == reduction::max) r = std::max(r, acc[j]);
        else if constexpr (Kind == reduction::min) r = std::min(r, acc[j]);
        else r += acc[j];
    }
    return r;
}

template <reduction Kind, class T>
double cpu_reduce_kind(const cpu_backend<T>& be, const basic_tensor<T>& x) {
    const T* p = x.data();
    const std::int64_t n = x.numel();
    const int threads = n >= 65536 ? be.threads() : 1;
    // The identity of each kind: 0 for sums and max_abs (|x| >= 0), +-inf for min and max.
    const double identity = Kind == reduction::min   ? std::numeric_limits<double>::infinity()
                            : Kind == reduction::max ? -std::numeric_limits<double>::infinity()
                                                     : 0.0;
    std::vector<double> partial(static_cast<std::size_t>(threads), identity);
    std::vector<char> saw_nan(static_cast<std::size_t>(threads), 0);
    parallel_for(threads, threads, 1, [&](std::int64_t t) {
        bool nan = false;
        partial[static_cast<std::size_t>(t)] =
            cpu_reduce_range<Kind>(p, n * t / threads, n * (t + 1) / threads, identity, nan);
        saw_nan[static_cast<std::size_t>(t)] = nan ? 1 : 0;
    });
    double r = identity;
    for (int t = 0; t < threads; ++t) {
        if (saw_nan[static_cast<std::size_t>(t)]) return std::numeric_limits<double>::quiet_NaN();
        if constexpr (Kind == reduction::max_abs || Kind == reduction::max) {
            r = std::max(r, partial[static_cast<std::size_t>(t)]);
        } else if constexpr (Kind == reduction::min) {
            r = std::min(r, partial[static_cast<std::size_t>(t)]);
        } else {
            r += partial[static_cast<std::size_t>(t)];
        }
    }
    if constexpr (Kind == reduction::mean) r /= static_cast<double>(n);
    if constexpr (Kind == reduction::l2_norm) r = std::sqrt(r);
    return r;
}

template <class T>
double cpu_reduce(const cpu_backend<T>& be, const basic_tensor<T>& x, reduction kind) {
    switch (kind) {
        case reduction::sum: return cpu_reduce_kind<reduction::sum>(be, x);
        case reduction::mean: return cpu_reduce_kind<reduction::mean>(be, x);
        case reduction::max_abs: return cpu_reduce_kind<reduction::max_abs>(be, x);
        case reduction::l2_norm: return cpu_reduce_kind<reduction::l2_norm>(be, x);
        case reduction::min: return cpu_reduce_kind<reduction::min>(be, x);
        case reduction::max: return cpu_reduce_kind<reduction::max>(be, x);
    }
    throw value_error("reduce: unknown reduction kind");
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
