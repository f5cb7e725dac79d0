// CPU per-element kernels: activations (formulas from math/activations.hpp), residual add,
// fill/copy/scale/axpy, the pixel-shuffle permutations (index map from math/pixel_shuffle.hpp) and
// the per-channel bias passes.
//
// Every kernel splits its range into one contiguous piece per thread (for_each_piece) and runs a
// plain loop over raw pointers inside a piece, so that the compiler vectorises it: the functor is
// copied into a local first (a float store through an output pointer could otherwise alias the
// functor's float members, which forces a reload and a scalar, branchy loop per element).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "hourglass/core/parallel.hpp"
#include "hourglass/cpu/backend.hpp"
#include "hourglass/math/pixel_shuffle.hpp"

namespace hg::cpu_impl {

inline constexpr std::int64_t elementwise_grain = 16384;

/// Calls body(lo, hi) on contiguous pieces that cover [0, count): one piece per thread, and fewer
/// (down to one, run on the calling thread) while a piece would hold under `grain` items.
template <class Body>
void for_each_piece(int threads, std::int64_t count, std::int64_t grain, Body&& body) {
    if (count <= 0) return;
    const std::int64_t pieces = std::clamp<std::int64_t>(count / std::max<std::int64_t>(grain, 1), 1,
                                                         std::max(threads, 1));
    if (pieces == 1) {
        body(std::int64_t{0}, count);
        return;
    }
    parallel_for(pieces, threads, 1, [&](std::int64_t p) { body(count * p / pieces, count * (p + 1) / pieces); });
}

/// y[i] = f(x[i]).
template <class T, class Fn>
void activation_forward(const cpu_backend<T>& be, const Fn& fn, std::int64_t count, const T* x, T* y) {
    for_each_piece(be.threads(), count, elementwise_grain, [&](std::int64_t lo, std::int64_t hi) {
        const Fn f = fn;
        const T* xs = x;
        T* ys = y;
        for (std::int64_t i = lo; i < hi; ++i) ys[i] = f.forward(xs[i]);
    });
}

/// dx[i] = dy[i] * f'(x[i]) (the chain rule through a per-element function).
template <class T, class Fn>
void activation_backward(const cpu_backend<T>& be, const Fn& fn, std::int64_t count, const T* x, const T* y,
                         const T* dy, T* dx) {
    for_each_piece(be.threads(), count, elementwise_grain, [&](std::int64_t lo, std::int64_t hi) {
        const Fn f = fn;
        const T *xs = x, *ys = y, *dys = dy;
        T* dxs = dx;
        for (std::int64_t i = lo; i < hi; ++i) dxs[i] = dys[i] * f.grad(xs[i], ys[i]);
    });
}

/// out[i] = a[i] + b[i].
template <class T>
void add(const cpu_backend<T>& be, std::int64_t count, const T* a, const T* b, T* out) {
    for_each_piece(be.threads(), count, elementwise_grain, [&](std::int64_t lo, std::int64_t hi) {
        const T *as = a, *bs = b;
        T* os = out;
        for (std::int64_t i = lo; i < hi; ++i) os[i] = as[i] + bs[i];
    });
}

/// y[i] += alpha * x[i].
template <class T>
void axpy(const cpu_backend<T>& be, std::int64_t count, T alpha, const T* x, T* y) {
    for_each_piece(be.threads(), count, elementwise_grain, [&](std::int64_t lo, std::int64_t hi) {
        const T a = alpha;
        const T* xs = x;
        T* ys = y;
        for (std::int64_t i = lo; i < hi; ++i) ys[i] += a * xs[i];
    });
}

/// x[i] *= alpha.
template <class T>
void scale(const cpu_backend<T>& be, std::int64_t count, T alpha, T* x) {
    for_each_piece(be.threads(), count, elementwise_grain, [&](std::int64_t lo, std::int64_t hi) {
        const T a = alpha;
        T* xs = x;
        for (std::int64_t i = lo; i < hi; ++i) xs[i] *= a;
    });
}

/// x[i] = value.
template <class T>
void fill(const cpu_backend<T>& be, std::int64_t count, T value, T* x) {
    for_each_piece(be.threads(), count, elementwise_grain,
                   [&](std::int64_t lo, std::int64_t hi) { std::fill(x + lo, x + hi, value); });
}

/// dst[i] = src[i].
template <class T>
void copy(const cpu_backend<T>& be, std::int64_t count, const T* src, T* dst) {
    if (src == dst) return;
    for_each_piece(be.threads(), count, elementwise_grain,
                   [&](std::int64_t lo, std::int64_t hi) { std::copy(src + lo, src + hi, dst + lo); });
}

/// Depth-to-space x2: out[n, 2h + dy, 2w + dx, c] = in[n, h, w, (dy * 2 + dx) * C + c]
/// (math::depth_to_space_source) over the output [N, out_h, out_w, out_c]. For a fixed input pixel
/// and dy, the two sub-pixels dx = 0, 1 are 2C contiguous floats on both sides, so each input row
/// is moved as runs of 2C values.
template <class T>
void depth_to_space(const cpu_backend<T>& be, std::int64_t n, std::int64_t out_h, std::int64_t out_w,
                    std::int64_t out_c, const T* in, T* out) {
    const std::int64_t in_h = out_h / 2, in_w = out_w / 2, run = 2 * out_c, in_row = in_w * 4 * out_c;
    const std::int64_t rows = n * in_h;  // (n, h) pairs: one input row, two output rows
    for_each_piece(be.threads(), rows, std::max<std::int64_t>(1, elementwise_grain / in_row),
                   [&](std::int64_t lo, std::int64_t hi) {
                       for (std::int64_t r = lo; r < hi; ++r) {
                           const T* src = in + r * in_row;
                           T* top = out + 2 * r * (out_w * out_c);  // output row 2h of image n
                           T* bottom = top + out_w * out_c;
                           for (std::int64_t w = 0; w < in_w; ++w, src += 2 * run) {
                               std::copy(src, src + run, top + w * run);
                               std::copy(src + run, src + 2 * run, bottom + w * run);
                           }
                       }
                   });
}

/// Space-to-depth x2, the inverse permutation: out[source(o)] = in[o], where `in` is
/// [N, big_h, big_w, big_c] and `out` is [N, big_h / 2, big_w / 2, 4 * big_c] (runs of 2C values,
/// as in depth_to_space).
template <class T>
void space_to_depth(const cpu_backend<T>& be, std::int64_t n, std::int64_t big_h, std::int64_t big_w,
                    std::int64_t big_c, const T* in, T* out) {
    const std::int64_t small_h = big_h / 2, small_w = big_w / 2, run = 2 * big_c, small_row = small_w * 4 * big_c;
    const std::int64_t rows = n * small_h;
    for_each_piece(be.threads(), rows, std::max<std::int64_t>(1, elementwise_grain / small_row),
                   [&](std::int64_t lo, std::int64_t hi) {
                       for (std::int64_t r = lo; r < hi; ++r) {
                           T* dst = out + r * small_row;
                           const T* top = in + 2 * r * (big_w * big_c);
                           const T* bottom = top + big_w * big_c;
                           for (std::int64_t w = 0; w < small_w; ++w, dst += 2 * run) {
                               std::copy(top + w * run, top + (w + 1) * run, dst);
                               std::copy(bottom + w * run, bottom + (w + 1) * run, dst + run);
                           }
                       }
                   });
}

/// y[r, k] += b[k] for rows r < rows.
template <class T>
void bias_add(const cpu_backend<T>& be, std::int64_t rows, std::int64_t channels, const T* b, T* y) {
    for_each_piece(be.threads(), rows, std::max<std::int64_t>(1, elementwise_grain / channels),
                   [&](std::int64_t lo, std::int64_t hi) {
                       const T* bs = b;
                       for (std::int64_t r = lo; r < hi; ++r) {
                           T* row = y + r * channels;
                           for (std::int64_t k = 0; k < channels; ++k) row[k] += bs[k];
                       }
                   });
}

/// db[k] += sum over rows of dy[r, k], summed in double per channel in row order. Threads take
/// blocks of channels (up to 64, narrower when that gives every thread a block) and walk the rows
/// in memory order, so each row is read as contiguous runs.
template <class T>
void bias_grad(const cpu_backend<T>& be, std::int64_t rows, std::int64_t channels, const T* dy, T* db) {
    constexpr std::int64_t max_block = 64;
    const std::int64_t threads = std::max(be.threads(), 1);
    const std::int64_t block = std::clamp<std::int64_t>((channels + threads - 1) / threads, 16, max_block);
    const std::int64_t blocks = (channels + block - 1) / block;
    const std::int64_t work_per_block = rows * std::min(block, channels);
    for_each_piece(be.threads(), blocks, std::max<std::int64_t>(1, elementwise_grain / work_per_block),
                   [&](std::int64_t lo, std::int64_t hi) {
                       double acc[max_block];
                       for (std::int64_t blk = lo; blk < hi; ++blk) {
                           const std::int64_t k0 = blk * block, width = std::min(block, channels - k0);
                           std::fill(acc, acc + width, 0.0);
                           for (std::int64_t r = 0; r < rows; ++r) {
                               const T* row = dy + r * channels + k0;
                               for (std::int64_t k = 0; k < width; ++k) acc[k] += static_cast<double>(row[k]);
                           }
                           for (std::int64_t k = 0; k < width; ++k) db[k0 + k] += static_cast<T>(acc[k]);
                       }
                   });
}

/// pre[r, k] += b[k]; y[r, k] = f(pre[r, k]) in one pass.
template <class T, class Fn>
void bias_activation_forward(const cpu_backend<T>& be, const Fn& fn, std::int64_t rows, std::int64_t channels,
                             const T* b, T* pre, T* y) {
    for_each_piece(be.threads(), rows, std::max<std::int64_t>(1, elementwise_grain / channels),
                   [&](std::int64_t lo, std::int64_t hi) {
                       const Fn f = fn;
                       const T* bs = b;
                       for (std::int64_t r = lo; r < hi; ++r) {
                           T* p = pre + r * channels;
                           T* out = y + r * channels;
                           for (std::int64_t k = 0; k < channels; ++k) {
                               const T v = p[k] + bs[k];
                               p[k] = v;
                               out[k] = f.forward(v);
                           }
                       }
                   });
}

}  // namespace hg::cpu_impl
