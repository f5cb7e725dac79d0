// CPU conv2d (NHWC input, KRSC filter, symmetric zero padding r/2) as im2col + Eigen GEMM:
//   forward:         Y[M, K]   = Col[M, RSC] * W[K, RSC]^T + b        (M = N * OH * OW)
//   backward-data:   dCol      = dY[M, K] * W[K, RSC], then col2im adds dCol into dX
//                    (dX = sum over output pixels of dY * W, the transposed convolution)
//   backward-filter: dW[K, RSC] += dY^T * Col,  db[K] += sum over M of dY
// Two schedules (docs/performance.md has the measurements behind them):
//   tiled    when the filter bank is small (K * RSC under conv_tile_weight_bytes: the first layer
//            with C = 3, the last with K = 3): each thread takes blocks of patch rows, builds them in
//            its own cache-sized tile and runs a single-threaded GEMM on the tile, so the patch
//            matrix never travels through memory (these GEMMs are skinny and memory-bound).
//            Forward and backward-data hand tiles (images) to threads as they become free;
//            backward-filter splits rows statically and sums per-thread dW / db accumulators.
//   chunked  otherwise: the patch matrix of a chunk of whole images (bounded by conv_scratch_bytes)
//            is built in parallel and multiplied by Eigen's multi-threaded GEMM.
// Filter banks of at most 4 filters (the decoders' last layer) skip the patch matrix altogether:
// conv2d_small_k.hpp (unless the backend's conv algorithm is forced to im2col).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "hourglass/core/parallel.hpp"
#include "hourglass/cpu/backend.hpp"
#include "hourglass/cpu/conv2d_small_k.hpp"
#include "hourglass/math/conv_geometry.hpp"

namespace hg::cpu_impl {

template <class T>
using row_matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using const_matrix_map = Eigen::Map<const row_matrix<T>, Eigen::Unaligned>;
template <class T>
using matrix_map = Eigen::Map<row_matrix<T>, Eigen::Unaligned>;

/// Scratch budget for one chunk's patch matrix, in bytes (chunked schedule).
inline constexpr std::int64_t conv_scratch_bytes = std::int64_t{48} << 20;
/// One thread's patch tile, in bytes (tiled schedule): with the GEMM's packed copy it stays in L2.
inline constexpr std::int64_t conv_tile_bytes = std::int64_t{128} << 10;
/// Filter banks up to this size (K * R * R * C elements, in bytes) use the tiled schedule.
inline constexpr std::int64_t conv_tile_weight_bytes = std::int64_t{512} << 10;

/// Images per chunk so the patch matrix fits the scratch budget (at least one image).
template <class T>
std::int64_t conv_images_per_chunk(const math::conv2d_dims& d) {
    const std::int64_t per_image = d.rows_per_image() * d.patch() * static_cast<std::int64_t>(sizeof(T));
    return std::clamp<std::int64_t>(conv_scratch_bytes / std::max<std::int64_t>(per_image, 1), 1, d.n);
}

/// True when the patch matrix is the input itself (1x1 kernel, stride 1).
inline bool conv_is_pointwise(const math::conv2d_dims& d) { return d.r == 1 && d.stride == 1; }

/// True when the conv runs on the direct small-K path of conv2d_small_k.hpp.
template <class T>
bool conv_runs_small_k(const cpu_backend<T>& be, const math::conv2d_dims& d) {
    return conv_is_small_k(d) && be.conv_algorithm() != cpu_conv_algorithm::im2col;
}

/// True when the conv runs on the tiled schedule (small filter bank, patch matrix not the input).
template <class T>
bool conv_is_tiled(const math::conv2d_dims& d) {
    return !conv_is_pointwise(d) && d.k * d.patch() * static_cast<std::int64_t>(sizeof(T)) <= conv_tile_weight_bytes;
}

/// Patch rows per tile of the tiled schedule.
template <class T>
std::int64_t conv_tile_rows(const math::conv2d_dims& d) {
    return std::max<std::int64_t>(conv_tile_bytes / (d.patch() * static_cast<std::int64_t>(sizeof(T))), 4);
}

/// Element count rounded up to whole 64-byte lines, so per-thread scratch slices share no line.
template <class T>
std::int64_t conv_padded(std::int64_t count) {
    constexpr std::int64_t line = 64 / static_cast<std::int64_t>(sizeof(T));
    return (count + line - 1) / line * line;
}

/// Runs f(thread, thread_count) on up to `threads` OpenMP threads (on the caller alone for 1).
template <class F>
void conv_parallel(int threads, F&& f) {
#if defined(_OPENMP)
    if (threads > 1) {
#pragma omp parallel num_threads(threads)
        f(omp_get_thread_num(), omp_get_num_threads());
        return;
    }
#else
    (void)threads;
#endif
    f(0, 1);
}

/// Calls f(thread, item) for every item in [0, items), handing items to up to `threads` threads as
/// they become free (so a thread the OS preempts does not hold up the others). Each item's result
/// must not depend on which thread runs it.
template <class F>
void conv_parallel_dynamic(int threads, std::int64_t items, F&& f) {
#if defined(_OPENMP)
    if (threads > 1 && items > 1) {
#pragma omp parallel num_threads(threads)
        {
            const int t = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
            for (std::int64_t i = 0; i < items; ++i) f(t, i);
        }
        return;
    }
#else
    (void)threads;
#endif
    for (std::int64_t i = 0; i < items; ++i) f(0, i);
}

/// Where part i of n items split evenly into `parts` begins (part i is [share(i), share(i + 1))).
inline std::int64_t conv_share(std::int64_t n, std::int64_t i, std::int64_t parts) { return n * i / parts; }

/// Writes patch row `row` (row = (n, oy, ox), column = (ky, kx, c)) to out. For each ky the
/// in-bounds taps are one contiguous run of x, copied at once; out-of-bounds taps are zeros.
template <class T>
void im2col_row(const T* x, const math::conv2d_dims& d, std::int64_t row, T* out) {
    const std::int64_t n = row / d.rows_per_image();
    const std::int64_t oy = (row / d.ow) % d.oh, ox = row % d.ow;
    const std::int64_t span = d.r * d.c;
    const std::int64_t ix0 = ox * d.stride - d.pad;
    const std::int64_t kx_lo = std::max<std::int64_t>(0, -ix0), kx_hi = std::min(d.r, d.w - ix0);
    for (std::int64_t ky = 0; ky < d.r; ++ky) {
        const std::int64_t iy = oy * d.stride - d.pad + ky;
        T* dst = out + ky * span;
        if (iy < 0 || iy >= d.h || kx_hi <= kx_lo) {
            std::memset(dst, 0, static_cast<std::size_t>(span) * sizeof(T));
            continue;
        }
        std::memset(dst, 0, static_cast<std::size_t>(kx_lo * d.c) * sizeof(T));
        std::memcpy(dst + kx_lo * d.c, x + ((n * d.h + iy) * d.w + ix0 + kx_lo) * d.c,
                    static_cast<std::size_t>((kx_hi - kx_lo) * d.c) * sizeof(T));
        std::memset(dst + kx_hi * d.c, 0, static_cast<std::size_t>((d.r - kx_hi) * d.c) * sizeof(T));
    }
}

/// Writes patch rows [row0, row0 + rows) into col, in parallel over rows.
template <class T>
void im2col(const T* x, const math::conv2d_dims& d, std::int64_t row0, std::int64_t rows, T* col, int threads) {
    const std::int64_t patch = d.patch();
    parallel_for(rows, threads, 64, [&](std::int64_t i) { im2col_row(x, d, row0 + i, col + i * patch); });
}

/// Adds patch rows [row0, row0 + rows) of col back onto dx (the adjoint of im2col), serially:
/// the caller owns every image these rows touch.
template <class T>
void col2im_add_rows(const T* col, const math::conv2d_dims& d, std::int64_t row0, std::int64_t rows, T* dx) {
    const std::int64_t patch = d.patch(), span = d.r * d.c;
    for (std::int64_t i = 0; i < rows; ++i) {
        const std::int64_t row = row0 + i;
        const std::int64_t n = row / d.rows_per_image();
        const std::int64_t oy = (row / d.ow) % d.oh, ox = row % d.ow;
        const std::int64_t ix0 = ox * d.stride - d.pad;
        const std::int64_t kx_lo = std::max<std::int64_t>(0, -ix0), kx_hi = std::min(d.r, d.w - ix0);
        if (kx_hi <= kx_lo) continue;
        const std::int64_t len = (kx_hi - kx_lo) * d.c;
        for (std::int64_t ky = 0; ky < d.r; ++ky) {
            const std::int64_t iy = oy * d.stride - d.pad + ky;
            if (iy < 0 || iy >= d.h) continue;
            const T* src = col + i * patch + ky * span + kx_lo * d.c;
            T* dst = dx + ((n * d.h + iy) * d.w + ix0 + kx_lo) * d.c;
            for (std::int64_t j = 0; j < len; ++j) dst[j] += src[j];
        }
    }
}

/// Writes dx of images [n0, n0 + count) from their patch rows in col (the adjoint of im2col),
/// gathering per input line so threads write disjoint lines and every element once.
template <class T>
void col2im(const T* col, const math::conv2d_dims& d, std::int64_t n0, std::int64_t count, T* dx, int threads) {
    const std::int64_t patch = d.patch(), s = d.stride;
    parallel_for(count * d.h, threads, 1, [&](std::int64_t line) {
        const std::int64_t i = line / d.h, iy = line % d.h;
        const T* image_col = col + i * d.rows_per_image() * patch;
        T* dst_line = dx + ((n0 + i) * d.h + iy) * d.w * d.c;
        std::fill(dst_line, dst_line + d.w * d.c, T(0));
        for (std::int64_t ky = 0; ky < d.r; ++ky) {
            const std::int64_t ty = iy + d.pad - ky;  // = oy * stride
            if (ty < 0 || ty % s != 0 || ty / s >= d.oh) continue;
            const std::int64_t oy = ty / s;
            for (std::int64_t kx = 0; kx < d.r; ++kx) {
                // Output columns ox whose tap kx lands inside the line: 0 <= ox * s - pad + kx < w.
                const std::int64_t lo = d.pad - kx, hi = d.w - 1 + d.pad - kx;
                const std::int64_t ox_lo = lo > 0 ? (lo + s - 1) / s : 0;
                const std::int64_t ox_hi = hi < 0 ? 0 : std::min(d.ow, hi / s + 1);
                for (std::int64_t ox = ox_lo; ox < ox_hi; ++ox) {
                    const T* src = image_col + (oy * d.ow + ox) * patch + (ky * d.r + kx) * d.c;
                    T* dst = dst_line + (ox * s - d.pad + kx) * d.c;
                    for (std::int64_t c = 0; c < d.c; ++c) dst[c] += src[c];
                }
            }
        }
    });
}

/// Sets rows [0, rows) of y (row length k) to the bias, or to zero without one, in parallel.
template <class T>
void fill_rows(T* y, std::int64_t rows, std::int64_t k, const T* bias, int threads) {
    parallel_for(rows, threads, 256, [&](std::int64_t r) {
        T* dst = y + r * k;
        if (bias) {
            std::memcpy(dst, bias, static_cast<std::size_t>(k) * sizeof(T));
        } else {
            std::memset(dst, 0, static_cast<std::size_t>(k) * sizeof(T));
        }
    });
}

template <class T>
void conv2d_forward(const cpu_backend<T>& be, const math::conv2d_dims& d, const T* x, const T* w, const T* bias,
                    T* y) {
    if (conv_runs_small_k(be, d)) return conv2d_small_k_forward(be, d, x, w, bias, y);
    const auto product_threads = be.product_threads();
    const std::int64_t patch = d.patch();
    const_matrix_map<T> wm(w, d.k, patch);
    if (conv_is_tiled<T>(d)) {
        const std::int64_t rows_total = d.n * d.rows_per_image(), tile_rows = conv_tile_rows<T>(d);
        const std::int64_t blocks = (rows_total + tile_rows - 1) / tile_rows;
        const int threads = static_cast<int>(std::min<std::int64_t>(be.threads(), blocks));
        const std::int64_t stride = conv_padded<T>(tile_rows * patch);
        T* scratch = be.scratch(static_cast<std::size_t>(threads * stride));
        conv_parallel_dynamic(threads, blocks, [&](int t, std::int64_t b) {
            T* tile = scratch + t * stride;
            const std::int64_t row0 = b * tile_rows, rows = std::min(tile_rows, rows_total - row0);
            for (std::int64_t i = 0; i < rows; ++i) im2col_row(x, d, row0 + i, tile + i * patch);
            fill_rows(y + row0 * d.k, rows, d.k, bias, 1);
            matrix_map<T>(y + row0 * d.k, rows, d.k).noalias() += const_matrix_map<T>(tile, rows, patch) * wm.transpose();
        });
        return;
    }
    const std::int64_t per_chunk = conv_images_per_chunk<T>(d);
    T* col = conv_is_pointwise(d) ? nullptr : be.scratch(static_cast<std::size_t>(per_chunk * d.rows_per_image() * patch));
    const std::int64_t chunks = (d.n + per_chunk - 1) / per_chunk;  // of balanced sizes
    for (std::int64_t ci = 0; ci < chunks; ++ci) {
        const std::int64_t n0 = conv_share(d.n, ci, chunks), count = conv_share(d.n, ci + 1, chunks) - n0;
        const std::int64_t rows = count * d.rows_per_image();
        const T* a = x + n0 * d.h * d.w * d.c;
        if (col) {
            im2col(x, d, n0 * d.rows_per_image(), rows, col, be.threads());
            a = col;
        }
        T* yc = y + n0 * d.rows_per_image() * d.k;
        fill_rows(yc, rows, d.k, bias, be.threads());
        matrix_map<T>(yc, rows, d.k).noalias() += const_matrix_map<T>(a, rows, patch) * wm.transpose();
    }
}

template <class T>
void conv2d_backward_data(const cpu_backend<T>& be, const math::conv2d_dims& d, const T* dy, const T* w, T* dx) {
    if (conv_runs_small_k(be, d)) return conv2d_small_k_backward_data(be, d, dy, w, dx);
    const auto product_threads = be.product_threads();
    const std::int64_t patch = d.patch();
    const_matrix_map<T> wm(w, d.k, patch);
    if (conv_is_pointwise(d)) {
        const std::int64_t rows = d.n * d.rows_per_image();
        fill_rows<T>(dx, rows, d.c, nullptr, be.threads());
        matrix_map<T>(dx, rows, d.c).noalias() += const_matrix_map<T>(dy, rows, d.k) * wm;
        return;
    }
    if (conv_is_tiled<T>(d) && d.n >= be.threads()) {
        // Each image goes to one thread: it zeroes the image's dx, then adds tile after tile of patch rows.
        const std::int64_t rpi = d.rows_per_image(), tile_rows = std::min(conv_tile_rows<T>(d), rpi);
        const int threads = be.threads();
        const std::int64_t stride = conv_padded<T>(tile_rows * patch), image = d.h * d.w * d.c;
        T* scratch = be.scratch(static_cast<std::size_t>(threads * stride));
        conv_parallel_dynamic(threads, d.n, [&](int t, std::int64_t n) {
            T* tile = scratch + t * stride;
            std::fill(dx + n * image, dx + (n + 1) * image, T(0));
            for (std::int64_t r0 = 0; r0 < rpi; r0 += tile_rows) {
                const std::int64_t row0 = n * rpi + r0, rows = std::min(tile_rows, rpi - r0);
                matrix_map<T>(tile, rows, patch).noalias() = const_matrix_map<T>(dy + row0 * d.k, rows, d.k) * wm;
                col2im_add_rows(tile, d, row0, rows, dx);
            }
        });
        return;
    }
    const std::int64_t per_chunk = conv_images_per_chunk<T>(d);
    T* col = be.scratch(static_cast<std::size_t>(per_chunk * d.rows_per_image() * patch));
    const std::int64_t chunks = (d.n + per_chunk - 1) / per_chunk;  // of balanced sizes
    for (std::int64_t ci = 0; ci < chunks; ++ci) {
        const std::int64_t n0 = conv_share(d.n, ci, chunks), count = conv_share(d.n, ci + 1, chunks) - n0;
        const std::int64_t rows = count * d.rows_per_image();
        fill_rows<T>(col, rows, patch, nullptr, be.threads());
        matrix_map<T>(col, rows, patch).noalias() += const_matrix_map<T>(dy + n0 * d.rows_per_image() * d.k, rows, d.k) * wm;
        col2im(col, d, n0, count, dx, be.threads());
    }
}

template <class T>
void conv2d_backward_filter(const cpu_backend<T>& be, const math::conv2d_dims& d, const T* x, const T* dy, T* dw,
                            T* dbias) {
    if (conv_runs_small_k(be, d)) return conv2d_small_k_backward_filter(be, d, x, dy, dw, dbias);
    const auto product_threads = be.product_threads();
    const std::int64_t patch = d.patch();
    if (conv_is_tiled<T>(d)) {
        // Each thread sums its blocks of rows into private dW / db accumulators; then one reduction.
        const std::int64_t rows_total = d.n * d.rows_per_image(), tile_rows = conv_tile_rows<T>(d);
        const std::int64_t blocks = (rows_total + tile_rows - 1) / tile_rows;
        const int threads = static_cast<int>(std::min<std::int64_t>(be.threads(), blocks));
        const std::int64_t weights = d.k * patch, acc_size = weights + d.k;
        const std::int64_t tile_stride = conv_padded<T>(tile_rows * patch), acc_stride = conv_padded<T>(acc_size);
        const std::int64_t stride = tile_stride + acc_stride;
        T* scratch = be.scratch(static_cast<std::size_t>(threads * stride));
        int used = 1;
        conv_parallel(threads, [&](int t, int count) {
            if (t == 0) used = count;
            T* tile = scratch + t * stride;
            T* acc = tile + tile_stride;
            std::fill(acc, acc + acc_size, T(0));
            matrix_map<T> dwt(acc, d.k, patch);
            Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>> dbt(acc + weights, d.k);
            for (std::int64_t b = conv_share(blocks, t, count); b < conv_share(blocks, t + 1, count); ++b) {
                const std::int64_t row0 = b * tile_rows, rows = std::min(tile_rows, rows_total - row0);
                for (std::int64_t i = 0; i < rows; ++i) im2col_row(x, d, row0 + i, tile + i * patch);
                const_matrix_map<T> dyb(dy + row0 * d.k, rows, d.k);
                dwt.noalias() += dyb.transpose() * const_matrix_map<T>(tile, rows, patch);
                if (dbias) dbt += dyb.colwise().sum();
            }
        });
        parallel_for(acc_size, be.threads(), 4096, [&](std::int64_t i) {
            T sum = T(0);
            for (int t = 0; t < used; ++t) sum += scratch[t * stride + tile_stride + i];
            if (i < weights) {
                dw[i] += sum;
            } else if (dbias) {
                dbias[i - weights] += sum;
            }
        });
        return;
    }
    matrix_map<T> dwm(dw, d.k, patch);
    const std::int64_t per_chunk = conv_images_per_chunk<T>(d);
    T* col = conv_is_pointwise(d) ? nullptr : be.scratch(static_cast<std::size_t>(per_chunk * d.rows_per_image() * patch));
    const std::int64_t chunks = (d.n + per_chunk - 1) / per_chunk;  // of balanced sizes
    for (std::int64_t ci = 0; ci < chunks; ++ci) {
        const std::int64_t n0 = conv_share(d.n, ci, chunks), count = conv_share(d.n, ci + 1, chunks) - n0;
        const std::int64_t rows = count * d.rows_per_image();
        const T* a = x + n0 * d.h * d.w * d.c;
        if (col) {
            im2col(x, d, n0 * d.rows_per_image(), rows, col, be.threads());
            a = col;
        }
        dwm.noalias() += const_matrix_map<T>(dy + n0 * d.rows_per_image() * d.k, rows, d.k).transpose() *
                         const_matrix_map<T>(a, rows, patch);
    }
    if (dbias) {
        Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>> dbm(dbias, d.k);
        dbm += const_matrix_map<T>(dy, d.n * d.rows_per_image(), d.k).colwise().sum();
    }
}

}  // namespace hg::cpu_impl
