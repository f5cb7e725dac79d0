// CPU conv2d for filter banks of at most conv_small_k_max filters (the decoders' last layer: 3
// colours, or 4 with the mask), computed directly from x without a patch matrix.
//
// With K = 3 the im2col GEMM of conv2d.hpp multiplies [rows x R*R*C] by [R*R*C x 3]: each patch
// element is written, read back and used for 3 multiply-adds, and the GEMM library's packing of
// these 20-row tiles costs more than the arithmetic (15 GFLOP/s on 2 Zen 3 cores against 140-230
// for the wide layers: docs/performance.md, "Per layer"). Here every output pixel reads the
// in-bounds part of each of its R input rows once - one contiguous run of (kx_hi - kx_lo) * C
// values, as im2col_row would copy it - and forms all K dot products in the same pass:
//   forward:         y[p][k]          = b[k] + sum_{ky, kx, c} x[p + (ky, kx)][c] * w[k][ky][kx][c]
//   backward-data:   dx[q][c]         = sum_{(ky, kx): q = p + (ky, kx)} sum_k dy[p][k] * w[k][ky][kx][c]
//                    (gathered per input pixel q, so each thread writes whole lines of dx)
//   backward-filter: dw[k][ky][kx][c] += sum_p dy[p][k] * x[p + (ky, kx)][c],  db[k] += sum_p dy[p][k]
//                    (each thread sums a static share of the output rows into its own accumulator
//                    of K * (R*R*C + 1) values, then one reduction in thread order)
// p runs over output pixels, p + (ky, kx) is the input pixel (oy * s - pad + ky, ox * s - pad + kx).
// The dot products use `omp simd` reductions (vector lanes summed in a fixed order, so a build
// gives the same result on every run), with fused multiply-adds where the target has them (a
// portable build without FMA would otherwise call libm's scalar fma for every element).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "hourglass/core/parallel.hpp"
#include "hourglass/cpu/backend.hpp"
#include "hourglass/math/conv_geometry.hpp"

namespace hg::cpu_impl {

/// Filter banks of up to this many filters take the direct path of this file.
inline constexpr std::int64_t conv_small_k_max = 4;

/// True when conv d runs on the direct small-K path (not for 1x1 stride-1 convs, a plain GEMM).
inline bool conv_is_small_k(const math::conv2d_dims& d) {
    return d.k <= conv_small_k_max && !(d.r == 1 && d.stride == 1);
}

namespace small_k {

/// a * b + c, fused where the instruction set has FMA.
template <class T>
inline T madd(T a, T b, T c) {
#if defined(__FMA__)
    return std::fma(a, b, c);
#else
    return a * b + c;
#endif
}

/// The input columns of output column ox that fall inside the image: taps [kx_lo, kx_hi).
struct tap_range {
    std::int64_t ix0, kx_lo, kx_hi;
};

inline tap_range taps_of(const math::conv2d_dims& d, std::int64_t ox) {
    const std::int64_t ix0 = ox * d.stride - d.pad;
    return {ix0, std::max<std::int64_t>(0, -ix0), std::min(d.r, d.w - ix0)};
}

/// y[row][0..KK) for output pixel `row` (n, oy, ox).
template <int KK, class T>
void forward_row(const math::conv2d_dims& d, const T* x, const T* w, const T* bias, std::int64_t row, T* y) {
    const std::int64_t n = row / d.rows_per_image(), oy = (row / d.ow) % d.oh, ox = row % d.ow;
    const std::int64_t patch = d.patch(), span = d.r * d.c;
    const tap_range t = taps_of(d, ox);
    T a0 = T(0), a1 = T(0), a2 = T(0), a3 = T(0);
    if (t.kx_hi > t.kx_lo) {
        const std::int64_t len = (t.kx_hi - t.kx_lo) * d.c;
        for (std::int64_t ky = 0; ky < d.r; ++ky) {
            const std::int64_t iy = oy * d.stride - d.pad + ky;
            if (iy < 0 || iy >= d.h) continue;
            const T* xs = x + ((n * d.h + iy) * d.w + t.ix0 + t.kx_lo) * d.c;
            const T* ws = w + ky * span + t.kx_lo * d.c;
#pragma omp simd reduction(+ : a0, a1, a2, a3)
            for (std::int64_t j = 0; j < len; ++j) {
                const T v = xs[j];
                a0 = madd(v, ws[j], a0);
                if constexpr (KK > 1) a1 = madd(v, ws[patch + j], a1);
                if constexpr (KK > 2) a2 = madd(v, ws[2 * patch + j], a2);
                if constexpr (KK > 3) a3 = madd(v, ws[3 * patch + j], a3);
            }
        }
    }
    const T sums[4] = {a0, a1, a2, a3};
    for (int k = 0; k < KK; ++k) y[k] = (bias ? bias[k] : T(0)) + sums[k];
}

/// dx of input line (n, iy): every pixel's C values gathered from the output pixels it feeds.
template <int KK, class T>
void backward_data_line(const math::conv2d_dims& d, const T* dy, const T* w, std::int64_t line, T* dx) {
    const std::int64_t n = line / d.h, iy = line % d.h, s = d.stride, patch = d.patch();
    T* out_line = dx + line * d.w * d.c;
    std::fill(out_line, out_line + d.w * d.c, T(0));
    for (std::int64_t ky = 0; ky < d.r; ++ky) {
        const std::int64_t ty = iy + d.pad - ky;  // = oy * s
        if (ty < 0 || ty % s != 0 || ty / s >= d.oh) continue;
        const T* dy_row = dy + (n * d.oh + ty / s) * d.ow * KK;
        for (std::int64_t kx = 0; kx < d.r; ++kx) {
            // Output columns ox whose tap kx lands inside the line: 0 <= ox * s - pad + kx < w.
            const std::int64_t lo = d.pad - kx, hi = d.w - 1 + d.pad - kx;
            const std::int64_t ox_lo = lo > 0 ? (lo + s - 1) / s : 0;
            const std::int64_t ox_hi = hi < 0 ? 0 : std::min(d.ow, hi / s + 1);
            const T* wt = w + (ky * d.r + kx) * d.c;
            for (std::int64_t ox = ox_lo; ox < ox_hi; ++ox) {
                const T* g = dy_row + ox * KK;
                T* dst = out_line + (ox * s - d.pad + kx) * d.c;
                const T g0 = g[0], g1 = KK > 1 ? g[1] : T(0), g2 = KK > 2 ? g[2] : T(0), g3 = KK > 3 ? g[3] : T(0);
#pragma omp simd
                for (std::int64_t c = 0; c < d.c; ++c) {
                    T v = madd(g0, wt[c], dst[c]);
                    if constexpr (KK > 1) v = madd(g1, wt[patch + c], v);
                    if constexpr (KK > 2) v = madd(g2, wt[2 * patch + c], v);
                    if constexpr (KK > 3) v = madd(g3, wt[3 * patch + c], v);
                    dst[c] = v;
                }
            }
        }
    }
}

/// Adds output pixel `row`'s contribution to the accumulators acc (dW [KK][patch], then db [KK]).
template <int KK, class T>
void backward_filter_row(const math::conv2d_dims& d, const T* x, const T* dy, std::int64_t row, T* acc) {
    const std::int64_t n = row / d.rows_per_image(), oy = (row / d.ow) % d.oh, ox = row % d.ow;
    const std::int64_t patch = d.patch(), span = d.r * d.c;
    const T* g = dy + row * KK;
    const T g0 = g[0], g1 = KK > 1 ? g[1] : T(0), g2 = KK > 2 ? g[2] : T(0), g3 = KK > 3 ? g[3] : T(0);
    for (int k = 0; k < KK; ++k) acc[KK * patch + k] += g[k];
    const tap_range t = taps_of(d, ox);
    if (t.kx_hi <= t.kx_lo) return;
    const std::int64_t len = (t.kx_hi - t.kx_lo) * d.c;
    for (std::int64_t ky = 0; ky < d.r; ++ky) {
        const std::int64_t iy = oy * d.stride - d.pad + ky;
        if (iy < 0 || iy >= d.h) continue;
        const T* xs = x + ((n * d.h + iy) * d.w + t.ix0 + t.kx_lo) * d.c;
        T* a = acc + ky * span + t.kx_lo * d.c;
#pragma omp simd
        for (std::int64_t j = 0; j < len; ++j) {
            const T v = xs[j];
            a[j] = madd(g0, v, a[j]);
            if constexpr (KK > 1) a[patch + j] = madd(g1, v, a[patch + j]);
            if constexpr (KK > 2) a[2 * patch + j] = madd(g2, v, a[2 * patch + j]);
            if constexpr (KK > 3) a[3 * patch + j] = madd(g3, v, a[3 * patch + j]);
        }
    }
}

/// Calls f.template operator()<KK>() with KK = d.k (1 to conv_small_k_max).
template <class F>
void dispatch(std::int64_t k, F&& f) {
    switch (k) {
        case 1: return f.template operator()<1>();
        case 2: return f.template operator()<2>();
        case 3: return f.template operator()<3>();
        default: return f.template operator()<4>();
    }
}

/// Output rows handed to a thread at a time.
inline constexpr std::int64_t rows_per_block = 256;

}  // namespace small_k

template <class T>
void conv2d_small_k_forward(const cpu_backend<T>& be, const math::conv2d_dims& d, const T* x, const T* w,
                            const T* bias, T* y) {
    const std::int64_t rows = d.n * d.rows_per_image();
    const std::int64_t blocks = (rows + small_k::rows_per_block - 1) / small_k::rows_per_block;
    small_k::dispatch(d.k, [&]<int KK>() {
        parallel_for(blocks, be.threads(), 1, [&](std::int64_t b) {
            const std::int64_t r1 = std::min(rows, (b + 1) * small_k::rows_per_block);
            for (std::int64_t r = b * small_k::rows_per_block; r < r1; ++r)
                small_k::forward_row<KK>(d, x, w, bias, r, y + r * KK);
        });
    });
}

template <class T>
void conv2d_small_k_backward_data(const cpu_backend<T>& be, const math::conv2d_dims& d, const T* dy, const T* w,
                                  T* dx) {
    small_k::dispatch(d.k, [&]<int KK>() {
        parallel_for(d.n * d.h, be.threads(), 1,
                     [&](std::int64_t line) { small_k::backward_data_line<KK>(d, dy, w, line, dx); });
    });
}

template <class T>
void conv2d_small_k_backward_filter(const cpu_backend<T>& be, const math::conv2d_dims& d, const T* x, const T* dy,
                                    T* dw, T* dbias) {
    const std::int64_t rows = d.n * d.rows_per_image(), patch = d.patch();
    const std::int64_t acc_size = d.k * patch + d.k;
    // Per-thread accumulators on separate cache lines.
    const std::int64_t line = 64 / static_cast<std::int64_t>(sizeof(T));
    const std::int64_t stride = (acc_size + line - 1) / line * line;
    const int threads = static_cast<int>(std::clamp<std::int64_t>(rows / small_k::rows_per_block, 1, be.threads()));
    T* scratch = be.scratch(static_cast<std::size_t>(threads * stride));
    small_k::dispatch(d.k, [&]<int KK>() {
        // Thread t sums rows [rows * t / threads, rows * (t + 1) / threads): a static share.
        parallel_for(threads, threads, 1, [&](std::int64_t t) {
            T* acc = scratch + t * stride;
            std::fill(acc, acc + acc_size, T(0));
            const std::int64_t r0 = rows * t / threads, r1 = rows * (t + 1) / threads;
            for (std::int64_t r = r0; r < r1; ++r) small_k::backward_filter_row<KK>(d, x, dy, r, acc);
        });
    });
    parallel_for(acc_size, be.threads(), 4096, [&](std::int64_t i) {
        T sum = T(0);
        for (int t = 0; t < threads; ++t) sum += scratch[t * stride + i];
        if (i < d.k * patch) {
            dw[i] += sum;
        } else if (dbias) {
            dbias[i - d.k * patch] += sum;
        }
    });
}

}  // namespace hg::cpu_impl
