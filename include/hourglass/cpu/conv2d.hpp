// CPU conv2d (NHWC input, KRSC filter, symmetric zero padding r/2): im2col + Eigen GEMM,
// processed in chunks of whole images so the patch matrix stays within a bounded scratch buffer.
//   forward:         Y[M, K]   = Col[M, RSC] * W[K, RSC]^T + b        (M = N * OH * OW)
//   backward-data:   dCol      = dY[M, K] * W[K, RSC], then col2im scatter-adds dCol into dX
//                    (dX = sum over output pixels of dY * W, the transposed convolution)
//   backward-filter: dW[K, RSC] += dY^T * Col,  db[K] += sum over M of dY
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "hourglass/core/parallel.hpp"
#include "hourglass/cpu/backend.hpp"
#include "hourglass/math/conv_geometry.hpp"

namespace hg::cpu_impl {

template <class T>
using row_matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using const_matrix_map = Eigen::Map<const row_matrix<T>, Eigen::Unaligned>;

/// Scratch budget for one chunk's patch matrix, in bytes.
inline constexpr std::int64_t conv_scratch_bytes = std::int64_t{48} << 20;

/// Images per chunk so the patch matrix fits the scratch budget (at least one image).
template <class T>
std::int64_t conv_images_per_chunk(const math::conv2d_dims& d) {
    const std::int64_t per_image = d.rows_per_image() * d.patch() * static_cast<std::int64_t>(sizeof(T));
    return std::clamp<std::int64_t>(conv_scratch_bytes / std::max<std::int64_t>(per_image, 1), 1, d.n);
}

/// True when the patch matrix is the input itself (1x1 kernel, stride 1).
inline bool conv_is_pointwise(const math::conv2d_dims& d) { return d.r == 1 && d.stride == 1; }

/// Writes the patch rows of images [n0, n0 + count) into col (row = (n, oy, ox), column = (ky, kx, c)).
template <class T>
void im2col(const T* x, const math::conv2d_dims& d, std::int64_t n0, std::int64_t count, T* col, int threads) {
    const std::int64_t rows = count * d.rows_per_image();
    const std::int64_t patch = d.patch();
    parallel_for(rows, threads, 64, [&](std::int64_t row) {
        const std::int64_t n = n0 + row / d.rows_per_image();
        const std::int64_t oy = (row / d.ow) % d.oh;
        const std::int64_t ox = row % d.ow;
        T* out = col + row * patch;
        for (std::int64_t ky = 0; ky < d.r; ++ky) {
            const std::int64_t iy = oy * d.stride - d.pad + ky;
            for (std::int64_t kx = 0; kx < d.r; ++kx) {
                const std::int64_t ix = ox * d.stride - d.pad + kx;
                T* dst = out + (ky * d.r + kx) * d.c;
                if (iy < 0 || iy >= d.h || ix < 0 || ix >= d.w) {
                    std::memset(dst, 0, static_cast<std::size_t>(d.c) * sizeof(T));
                } else {
                    std::memcpy(dst, x + ((n * d.h + iy) * d.w + ix) * d.c, static_cast<std::size_t>(d.c) * sizeof(T));
                }
            }
        }
    });
}

/// Adds the patch rows of images [n0, n0 + count) back onto dx (the adjoint of im2col).
/// Parallel over images: each image's rows touch only that image's pixels.
template <class T>
void col2im_add(const T* col, const math::conv2d_dims& d, std::int64_t n0, std::int64_t count, T* dx, int threads) {
    const std::int64_t patch = d.patch();
    parallel_for(count, threads, 1, [&](std::int64_t i) {
        const std::int64_t n = n0 + i;
        const T* image_col = col + i * d.rows_per_image() * patch;
        for (std::int64_t oy = 0; oy < d.oh; ++oy)
            for (std::int64_t ox = 0; ox < d.ow; ++ox) {
                const T* src_row = image_col + (oy * d.ow + ox) * patch;
                for (std::int64_t ky = 0; ky < d.r; ++ky) {
                    const std::int64_t iy = oy * d.stride - d.pad + ky;
                    if (iy < 0 || iy >= d.h) continue;
                    for (std::int64_t kx = 0; kx < d.r; ++kx) {
                        const std::int64_t ix = ox * d.stride - d.pad + kx;
                        if (ix < 0 || ix >= d.w) continue;
                        const T* src = src_row + (ky * d.r + kx) * d.c;
                        T* dst = dx + ((n * d.h + iy) * d.w + ix) * d.c;
                        for (std::int64_t c = 0; c < d.c; ++c) dst[c] += src[c];
                    }
                }
            }
    });
}

template <class T>
void conv2d_forward(const cpu_backend<T>& be, const math::conv2d_dims& d, const T* x, const T* w, const T* bias,
                    T* y) {
    const std::int64_t patch = d.patch();
    const_matrix_map<T> wm(w, d.k, patch);
    const std::int64_t per_chunk = conv_images_per_chunk<T>(d);
    T* col = conv_is_pointwise(d) ? nullptr : be.scratch(static_cast<std::size_t>(per_chunk * d.rows_per_image() * patch));
    for (std::int64_t n0 = 0; n0 < d.n; n0 += per_chunk) {
        const std::int64_t count = std::min(per_chunk, d.n - n0);
        const std::int64_t rows = count * d.rows_per_image();
        const T* a = x + n0 * d.h * d.w * d.c;
        if (col) {
            im2col(x, d, n0, count, col, be.threads());
            a = col;
        }
        Eigen::Map<row_matrix<T>> ym(y + n0 * d.rows_per_image() * d.k, rows, d.k);
        ym.noalias() = const_matrix_map<T>(a, rows, patch) * wm.transpose();
        if (bias) {
            Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>> bm(bias, d.k);
            parallel_for(rows, be.threads(), 256, [&](std::int64_t r) { ym.row(r) += bm; });
        }
    }
}

template <class T>
void conv2d_backward_data(const cpu_backend<T>& be, const math::conv2d_dims& d, const T* dy, const T* w, T* dx) {
    const std::int64_t patch = d.patch();
    const_matrix_map<T> wm(w, d.k, patch);
    if (conv_is_pointwise(d)) {
        Eigen::Map<row_matrix<T>>(dx, d.n * d.h * d.w, d.c).noalias() =
            const_matrix_map<T>(dy, d.n * d.rows_per_image(), d.k) * wm;
        return;
    }
    std::fill(dx, dx + d.n * d.h * d.w * d.c, T(0));
    const std::int64_t per_chunk = conv_images_per_chunk<T>(d);
    T* col = be.scratch(static_cast<std::size_t>(per_chunk * d.rows_per_image() * patch));
    for (std::int64_t n0 = 0; n0 < d.n; n0 += per_chunk) {
        const std::int64_t count = std::min(per_chunk, d.n - n0);
        const std::int64_t rows = count * d.rows_per_image();
        Eigen::Map<row_matrix<T>>(col, rows, patch).noalias() =
            const_matrix_map<T>(dy + n0 * d.rows_per_image() * d.k, rows, d.k) * wm;
        col2im_add(col, d, n0, count, dx, be.threads());
    }
}

template <class T>
void conv2d_backward_filter(const cpu_backend<T>& be, const math::conv2d_dims& d, const T* x, const T* dy, T* dw,
                            T* dbias) {
    const std::int64_t patch = d.patch();
    Eigen::Map<row_matrix<T>> dwm(dw, d.k, patch);
    const std::int64_t per_chunk = conv_images_per_chunk<T>(d);
    T* col = conv_is_pointwise(d) ? nullptr : be.scratch(static_cast<std::size_t>(per_chunk * d.rows_per_image() * patch));
    for (std::int64_t n0 = 0; n0 < d.n; n0 += per_chunk) {
        const std::int64_t count = std::min(per_chunk, d.n - n0);
        const std::int64_t rows = count * d.rows_per_image();
        const T* a = x + n0 * d.h * d.w * d.c;
        if (col) {
            im2col(x, d, n0, count, col, be.threads());
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
