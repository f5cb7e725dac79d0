// CPU per-element kernels: activations (formulas from math/activations.hpp), residual add,
// fill/copy/scale/axpy, and the pixel-shuffle permutations (index map from math/pixel_shuffle.hpp).
#pragma once

#include <cstdint>

#include "hourglass/core/parallel.hpp"
#include "hourglass/cpu/backend.hpp"
#include "hourglass/math/pixel_shuffle.hpp"

namespace hg::cpu_impl {

inline constexpr std::int64_t elementwise_grain = 16384;

/// y[i] = f(x[i]).
template <class T, class Fn>
void activation_forward(const cpu_backend<T>& be, const Fn& fn, std::int64_t count, const T* x, T* y) {
    parallel_for(count, be.threads(), elementwise_grain, [&](std::int64_t i) { y[i] = fn.forward(x[i]); });
}

/// dx[i] = dy[i] * f'(x[i]) (the chain rule through a per-element function).
template <class T, class Fn>
void activation_backward(const cpu_backend<T>& be, const Fn& fn, std::int64_t count, const T* x, const T* y,
                         const T* dy, T* dx) {
    parallel_for(count, be.threads(), elementwise_grain,
                 [&](std::int64_t i) { dx[i] = dy[i] * fn.grad(x[i], y[i]); });
}

/// out[i] = a[i] + b[i].
template <class T>
void add(const cpu_backend<T>& be, std::int64_t count, const T* a, const T* b, T* out) {
    parallel_for(count, be.threads(), elementwise_grain, [&](std::int64_t i) { out[i] = a[i] + b[i]; });
}

/// y[i] += alpha * x[i].
template <class T>
void axpy(const cpu_backend<T>& be, std::int64_t count, T alpha, const T* x, T* y) {
    parallel_for(count, be.threads(), elementwise_grain, [&](std::int64_t i) { y[i] += alpha * x[i]; });
}

/// x[i] *= alpha.
template <class T>
void scale(const cpu_backend<T>& be, std::int64_t count, T alpha, T* x) {
    parallel_for(count, be.threads(), elementwise_grain, [&](std::int64_t i) { x[i] *= alpha; });
}

/// x[i] = value.
template <class T>
void fill(const cpu_backend<T>& be, std::int64_t count, T value, T* x) {
    parallel_for(count, be.threads(), elementwise_grain, [&](std::int64_t i) { x[i] = value; });
}

/// dst[i] = src[i].
template <class T>
void copy(const cpu_backend<T>& be, std::int64_t count, const T* src, T* dst) {
    parallel_for(count, be.threads(), elementwise_grain, [&](std::int64_t i) { dst[i] = src[i]; });
}

/// Depth-to-space x2: gathers out[o] = in[source(o)] over the output [N, out_h, out_w, out_c].
template <class T>
void depth_to_space(const cpu_backend<T>& be, std::int64_t n, std::int64_t out_h, std::int64_t out_w,
                    std::int64_t out_c, const T* in, T* out) {
    parallel_for(n * out_h * out_w * out_c, be.threads(), elementwise_grain, [&](std::int64_t o) {
        out[o] = in[math::depth_to_space_source(o, out_h, out_w, out_c)];
    });
}

/// Space-to-depth x2, the inverse permutation: out[source(o)] = in[o], where `in` is
/// [N, big_h, big_w, big_c] and `out` is [N, big_h / 2, big_w / 2, 4 * big_c].
template <class T>
void space_to_depth(const cpu_backend<T>& be, std::int64_t n, std::int64_t big_h, std::int64_t big_w,
                    std::int64_t big_c, const T* in, T* out) {
    parallel_for(n * big_h * big_w * big_c, be.threads(), elementwise_grain, [&](std::int64_t o) {
        out[math::depth_to_space_source(o, big_h, big_w, big_c)] = in[o];
    });
}

}  // namespace hg::cpu_impl

namespace hg::cpu_impl {

/// y[r, k] += b[k] for rows r < rows.
template <class T>
void bias_add(const cpu_backend<T>& be, std::int64_t rows, std::int64_t channels, const T* b, T* y) {
    parallel_for(rows, be.threads(), 1024, [&](std::int64_t r) {
        T* row = y + r * channels;
        for (std::int64_t k = 0; k < channels; ++k) row[k] += b[k];
    });
}

/// db[k] += sum over rows of dy[r, k], summed in double per channel.
template <class T>
void bias_grad(const cpu_backend<T>& be, std::int64_t rows, std::int64_t channels, const T* dy, T* db) {
    parallel_for(channels, be.threads(), 16, [&](std::int64_t k) {
        double s = 0.0;
        for (std::int64_t r = 0; r < rows; ++r) s += static_cast<double>(dy[r * channels + k]);
        db[k] += static_cast<T>(s);
    });
}

/// pre[r, k] += b[k]; y[r, k] = f(pre[r, k]) in one pass.
template <class T, class Fn>
void bias_activation_forward(const cpu_backend<T>& be, const Fn& fn, std::int64_t rows, std::int64_t channels,
                             const T* b, T* pre, T* y) {
    parallel_for(rows, be.threads(), 1024, [&](std::int64_t r) {
        T* p = pre + r * channels;
        T* out = y + r * channels;
        for (std::int64_t k = 0; k < channels; ++k) {
            p[k] += b[k];
            out[k] = fn.forward(p[k]);
        }
    });
}

}  // namespace hg::cpu_impl
