// CPU conv2d for 3x3 kernels at stride 1 by Winograd minimal filtering F(m x m, 3 x 3), m = 2 or 4
// (matrices and the formulas of all three passes in math/winograd.hpp). The output is cut into
// m x m tiles (tile t = (n, ty, tx), tiles at the right and bottom edges may hang over: their input
// reads outside the image are zeros and their outputs outside it are dropped). With alpha = m + 2:
//   filter transform  U[xi nu][K][C]  = G g G^T          per (k, c)
//   input transform   V[T][xi nu][C]  = B^T d B          per (tile, c)
//   products          M[T][xi nu][K]  = V[.][xi nu] U[xi nu]^T   (alpha^2 GEMMs, Eigen's threads)
//   output transform  y tile          = A^T M A + b      per (tile, k)
// backward-data is this forward on dy with the filter rotated by 180 degrees and its channel axes
// swapped (w'[c][i][j][k] = w[k][2-i][2-j][c], used through the transform of the rotated w); backward-filter forms dM = A dY A^T per tile, the
// products dU[xi nu] += dM[xi nu]^T V[xi nu] and adds G^T dU G to dw.
// V and M are stored tile-major (each tile's alpha^2 rows together), so the transforms read and
// write one contiguous block per tile and the GEMMs read and write rows at a stride of alpha^2 rows.
// Tiles are processed in chunks whose V and M fit conv_scratch_bytes, so the scratch stays bounded
// at any batch size. The small transforms work on blocks of winograd_block channels, innermost,
// so they vectorise over the contiguous NHWC channel axis.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "hourglass/core/parallel.hpp"
#include "hourglass/cpu/backend.hpp"
#include "hourglass/cpu/conv2d.hpp"
#include "hourglass/math/conv_geometry.hpp"
#include "hourglass/math/winograd.hpp"

namespace hg::cpu_impl {

/// Channels per block of the small transforms (their temporaries live on the stack).
inline constexpr int winograd_block = 64;

/// The two-sided transform of a stack of `cb` small matrices stored channel-last:
///   out(p, q)[c] = sum over i, j of L(p, i) in(i, j)[c] L(q, j),   p, q < P, i, j < I,
/// with L(p, i) = l[p][i], or l[i][p] when Transposed. in(i, j) starts at in + i * in_row + j * in_col
/// and out(p, q) at out + p * out_row + q * out_col. Zero coefficients are skipped.
template <int P, int I, bool Transposed, class T, int R, int C>
void winograd_sandwich(const double (&l)[R][C], const T* in, std::int64_t in_row, std::int64_t in_col, T* out,
                       std::int64_t out_row, std::int64_t out_col, int cb) {
    static_assert(Transposed ? (R == I && C == P) : (R == P && C == I), "transform matrix of the wrong shape");
    const auto coef = [&](int p, int i) { return static_cast<T>(Transposed ? l[i][p] : l[p][i]); };
    // Each sum starts from its first non-zero term (no separate zeroing pass).
    const auto combine = [cb](T* dst, int terms, const auto& coefficient, const auto& source) {
        bool first = true;
        for (int i = 0; i < terms; ++i) {
            const T a = coefficient(i);
            if (a == T(0)) continue;
            const T* src = source(i);
            if (first) {
                for (int c = 0; c < cb; ++c) dst[c] = a * src[c];
            } else {
                for (int c = 0; c < cb; ++c) dst[c] += a * src[c];
            }
            first = false;
        }
        if (first) std::fill(dst, dst + cb, T(0));
    };
    T tmp[P][I][winograd_block];  // tmp(p, j) = sum over i of L(p, i) in(i, j)
    for (int p = 0; p < P; ++p) {
        for (int j = 0; j < I; ++j) {
            combine(tmp[p][j], I, [&](int i) { return coef(p, i); }, [&](int i) { return in + i * in_row + j * in_col; });
        }
    }
    for (int p = 0; p < P; ++p) {
        for (int q = 0; q < P; ++q) {
            combine(out + p * out_row + q * out_col, I, [&](int j) { return coef(q, j); },
                    [&](int j) { return static_cast<const T*>(tmp[p][j]); });
        }
    }
}

/// Fewest tiles for which automatic selection uses F(2x2) / F(4x4): each of the alpha^2 products is
/// then a GEMM with at least this many rows. F(4x4) asks for more: it rounds less accurately
/// (docs/numerics.md), and with few rows its 36 transformed filter planes cost more to make than
/// they save (measured on the 64 px model's 8x8 upscale at batch 16: F(2x2) as fast with 256 tiles).
inline constexpr std::int64_t winograd2_min_tiles = 64;
inline constexpr std::int64_t winograd4_min_tiles = 128;
/// Fewest input and output channels for automatic selection: below, the transforms (whose cost
/// grows with C + K, not C * K) outweigh the saved products.
inline constexpr std::int64_t winograd_min_channels = 16;

/// The tile size m (2 or 4) of the Winograd algorithm conv2d uses for d on be, or 0 for im2col +
/// GEMM. Only 3x3 kernels at stride 1 qualify; a forced algorithm applies to those alone.
/// Automatic: m = 4 when it makes at least winograd4_min_tiles tiles with no more than a third of the
/// tiled area hanging over the image, else m = 2 with winograd2_min_tiles on the same terms, else
/// im2col.
template <class T>
int conv_winograd_tile(const cpu_backend<T>& be, const math::conv2d_dims& d) {
    if (d.r != 3 || d.stride != 1) return 0;
    switch (be.conv_algorithm()) {
        case cpu_conv_algorithm::im2col: return 0;
        case cpu_conv_algorithm::winograd_2x2: return 2;
        case cpu_conv_algorithm::winograd_4x4: return 4;
        case cpu_conv_algorithm::automatic: break;
    }
    if (d.c < winograd_min_channels || d.k < winograd_min_channels) return 0;
    for (const int m : {4, 2}) {
        const std::int64_t ty = (d.oh + m - 1) / m, tx = (d.ow + m - 1) / m;
        const std::int64_t min_tiles = m == 4 ? winograd4_min_tiles : winograd2_min_tiles;
        if (d.n * ty * tx >= min_tiles && 2 * ty * tx * m * m <= 3 * d.oh * d.ow) return m;
    }
    return 0;
}

/// One output tile: image n, first output pixel (oy, ox), and how many of its m x m outputs lie
/// inside the image (rows x cols; fewer than m at the bottom and right edges).
struct winograd_tile {
    std::int64_t n, oy, ox, rows, cols;
};

/// Tiling of one conv problem for F(m x m, 3 x 3).
struct winograd_tiling {
    int m = 0;
    std::int64_t tiles_y = 0, tiles_x = 0, tiles = 0;  // per image: tiles_y * tiles_x; tiles: all images
    static winograd_tiling make(const math::conv2d_dims& d, int m) {
        winograd_tiling t;
        t.m = m;
        t.tiles_y = (d.oh + m - 1) / m;
        t.tiles_x = (d.ow + m - 1) / m;
        t.tiles = d.n * t.tiles_y * t.tiles_x;
        return t;
    }
    /// Tile t, numbered image by image, row by row.
    winograd_tile at(const math::conv2d_dims& d, std::int64_t t) const {
        winograd_tile tile;
        tile.n = t / (tiles_y * tiles_x);
        tile.oy = (t / tiles_x) % tiles_y * m;
        tile.ox = t % tiles_x * m;
        tile.rows = std::min<std::int64_t>(m, d.oh - tile.oy);
        tile.cols = std::min<std::int64_t>(m, d.ow - tile.ox);
        return tile;
    }
};

/// Tiles per chunk so that the chunk's transformed input and products (alpha^2 (C + K) values per
/// tile) fit conv_scratch_bytes; chunks are then balanced (conv_share).
template <class T>
std::int64_t winograd_tiles_per_chunk(const math::conv2d_dims& d, int alpha, std::int64_t tiles) {
    const std::int64_t per_tile = alpha * alpha * (d.c + d.k) * static_cast<std::int64_t>(sizeof(T));
    return std::clamp<std::int64_t>(conv_scratch_bytes / std::max<std::int64_t>(per_tile, 1), 1, tiles);
}

/// U[xi nu][K][C] = G g G^T for every (k, c) of a filter bank w [K][3][3][C], with g = w[k][.][.][c],
/// or, when `rotated`, g = w[k][2 - .][2 - .][c] (the filter turned by 180 degrees).
template <int M, class T>
void winograd_filter_transform(const cpu_backend<T>& be, std::int64_t k_count, std::int64_t c_count, const T* w,
                               bool rotated, T* u) {
    using F = math::winograd_f3<M>;
    const std::int64_t plane = k_count * c_count;  // one tile position's K x C matrix
    // The rotated filter is read backwards: its tap (i, j) is w's tap (2 - i, 2 - j).
    const std::int64_t first = rotated ? 8 * c_count : 0, row = rotated ? -3 * c_count : 3 * c_count;
    const std::int64_t col = rotated ? -c_count : c_count;
    parallel_for(k_count, be.threads(), 4, [&](std::int64_t k) {
        for (std::int64_t c0 = 0; c0 < c_count; c0 += winograd_block) {
            const int cb = static_cast<int>(std::min<std::int64_t>(winograd_block, c_count - c0));
            winograd_sandwich<F::alpha, 3, false>(F::g, w + k * 9 * c_count + first + c0, row, col,
                                                  u + k * c_count + c0, F::alpha * plane, plane, cb);
        }
    });
}

/// Copies the S x S window of image n of t [N, H, W, channels] whose first pixel is (y0, x0),
/// channels [c0, c0 + cb), into window[S][S][winograd_block]; pixels outside the image are zeros.
template <int S, class T>
void winograd_gather(const T* t, std::int64_t h, std::int64_t w, std::int64_t channels, std::int64_t n,
                     std::int64_t y0, std::int64_t x0, std::int64_t c0, int cb, T* window) {
    for (int a = 0; a < S; ++a) {
        for (int b = 0; b < S; ++b) {
            const std::int64_t iy = y0 + a, ix = x0 + b;
            T* cell = window + (a * S + b) * winograd_block;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
                std::fill(cell, cell + cb, T(0));
            } else {
                std::memcpy(cell, t + ((n * h + iy) * w + ix) * channels + c0, static_cast<std::size_t>(cb) * sizeof(T));
            }
        }
    }
}

/// V[t][xi nu][C] = B^T d B for the tiles [t0, t0 + count) of input x [N, H, W, C] (the tile's
/// alpha x alpha input window starts one pixel above and left of its outputs: padding 1).
template <int M, class T>
void winograd_input_transform(const cpu_backend<T>& be, const math::conv2d_dims& d, const winograd_tiling& tl,
                              std::int64_t t0, std::int64_t count, const T* x, T* v) {
    using F = math::winograd_f3<M>;
    constexpr int alpha = F::alpha;
    const std::int64_t c_count = d.c;
    parallel_for(count, be.threads(), 2, [&](std::int64_t i) {
        const winograd_tile tile = tl.at(d, t0 + i);
        const std::int64_t n = tile.n, y0 = tile.oy - d.pad, x0 = tile.ox - d.pad;
        const bool inside = y0 >= 0 && x0 >= 0 && y0 + alpha <= d.h && x0 + alpha <= d.w;
        T window[alpha][alpha][winograd_block];
        for (std::int64_t c0 = 0; c0 < c_count; c0 += winograd_block) {
            const int cb = static_cast<int>(std::min<std::int64_t>(winograd_block, c_count - c0));
            T* dst = v + i * alpha * alpha * c_count + c0;
            if (inside) {
                const T* src = x + ((n * d.h + y0) * d.w + x0) * c_count + c0;
                winograd_sandwich<alpha, alpha, false>(F::bt, src, d.w * c_count, c_count, dst, alpha * c_count, c_count, cb);
                continue;
            }
            winograd_gather<alpha>(x, d.h, d.w, c_count, n, y0, x0, c0, cb, &window[0][0][0]);
            winograd_sandwich<alpha, alpha, false>(F::bt, &window[0][0][0], alpha * winograd_block, winograd_block, dst,
                                                   alpha * c_count, c_count, cb);
        }
    });
}

/// y tiles [t0, t0 + count) = A^T M A (+ bias) from products M[t][xi nu][K]; outputs outside the
/// image are dropped.
template <int M, class T>
void winograd_output_transform(const cpu_backend<T>& be, const math::conv2d_dims& d, const winograd_tiling& tl,
                               std::int64_t t0, std::int64_t count, const T* mprod, const T* bias, T* y) {
    using F = math::winograd_f3<M>;
    constexpr int alpha = F::alpha;
    const std::int64_t k_count = d.k;
    parallel_for(count, be.threads(), 2, [&](std::int64_t i) {
        const winograd_tile tile = tl.at(d, t0 + i);
        T block[M][M][winograd_block];
        for (std::int64_t k0 = 0; k0 < k_count; k0 += winograd_block) {
            const int kb = static_cast<int>(std::min<std::int64_t>(winograd_block, k_count - k0));
            winograd_sandwich<M, alpha, false>(F::at, mprod + i * alpha * alpha * k_count + k0, alpha * k_count, k_count, &block[0][0][0],
                                               M * winograd_block, winograd_block, kb);
            for (std::int64_t a = 0; a < tile.rows; ++a) {
                for (std::int64_t b = 0; b < tile.cols; ++b) {
                    T* dst = y + ((tile.n * d.oh + tile.oy + a) * d.ow + tile.ox + b) * k_count + k0;
                    const T* src = block[a][b];
                    if (bias) {
                        for (int c = 0; c < kb; ++c) dst[c] = src[c] + bias[k0 + c];
                    } else {
                        std::memcpy(dst, src, static_cast<std::size_t>(kb) * sizeof(T));
                    }
                }
            }
        }
    });
}

/// dM[t][xi nu][K] = A dY A^T for the tiles [t0, t0 + count) of dy [N, OH, OW, K] (outputs outside
/// the image count as zero gradients).
template <int M, class T>
void winograd_gradient_transform(const cpu_backend<T>& be, const math::conv2d_dims& d, const winograd_tiling& tl,
                                 std::int64_t t0, std::int64_t count, const T* dy, T* dm) {
    using F = math::winograd_f3<M>;
    constexpr int alpha = F::alpha;
    const std::int64_t k_count = d.k;
    parallel_for(count, be.threads(), 2, [&](std::int64_t i) {
        const winograd_tile tile = tl.at(d, t0 + i);
        const bool inside = tile.rows == M && tile.cols == M;
        T block[M][M][winograd_block];
        for (std::int64_t k0 = 0; k0 < k_count; k0 += winograd_block) {
            const int kb = static_cast<int>(std::min<std::int64_t>(winograd_block, k_count - k0));
            T* dst = dm + i * alpha * alpha * k_count + k0;
            const T* first = dy + ((tile.n * d.oh + tile.oy) * d.ow + tile.ox) * k_count + k0;
            if (inside) {
                winograd_sandwich<alpha, M, true>(F::at, first, d.ow * k_count, k_count, dst, alpha * k_count, k_count, kb);
                continue;
            }
            winograd_gather<M>(dy, d.oh, d.ow, k_count, tile.n, tile.oy, tile.ox, k0, kb, &block[0][0][0]);
            winograd_sandwich<alpha, M, true>(F::at, &block[0][0][0], M * winograd_block, winograd_block, dst,
                                              alpha * k_count, k_count, kb);
        }
    });
}

/// dw[k][i][j][c] += (G^T dU G)[i][j] for every (k, c), from dU[xi nu][K][C].
template <int M, class T>
void winograd_filter_gradient(const cpu_backend<T>& be, std::int64_t k_count, std::int64_t c_count, const T* du,
                              T* dw) {
    using F = math::winograd_f3<M>;
    const std::int64_t plane = k_count * c_count;
    parallel_for(k_count, be.threads(), 4, [&](std::int64_t k) {
        T block[3][3][winograd_block];
        for (std::int64_t c0 = 0; c0 < c_count; c0 += winograd_block) {
            const int cb = static_cast<int>(std::min<std::int64_t>(winograd_block, c_count - c0));
            winograd_sandwich<3, F::alpha, true>(F::g, du + k * c_count + c0, F::alpha * plane, plane, &block[0][0][0],
                                                 3 * winograd_block, winograd_block, cb);
            for (int i = 0; i < 3; ++i) {
                for (int j = 0; j < 3; ++j) {
                    T* dst = dw + ((k * 3 + i) * 3 + j) * c_count + c0;
                    for (int c = 0; c < cb; ++c) dst[c] += block[i][j][c];
                }
            }
        }
    });
}

/// The forward correlation y = x * w (+ b) given the transformed filter u; d describes x [N, H, W, C]
/// -> y [N, OH, OW, K]. Each of u's alpha^2 planes is K x C (filter bank [K][3][3][C]), or, when
/// InputMajor, C x K (backward-data's rotated bank, transformed from [C][3][3][K] without
/// transposing it). `work` holds the chunk's V and M (winograd_work_size).
template <int M, bool InputMajor, class T>
void winograd_forward_transformed(const cpu_backend<T>& be, const math::conv2d_dims& d, const T* x, const T* u,
                                  const T* bias, T* y, T* work) {
    using row_matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using const_map = Eigen::Map<const row_matrix, Eigen::Unaligned>;
    using const_rows = Eigen::Map<const row_matrix, Eigen::Unaligned, Eigen::OuterStride<>>;
    using rows = Eigen::Map<row_matrix, Eigen::Unaligned, Eigen::OuterStride<>>;
    constexpr int alpha = math::winograd_f3<M>::alpha, a2 = alpha * alpha;
    const winograd_tiling tl = winograd_tiling::make(d, M);
    const std::int64_t per_chunk = winograd_tiles_per_chunk<T>(d, alpha, tl.tiles);
    const std::int64_t chunks = (tl.tiles + per_chunk - 1) / per_chunk;
    for (std::int64_t ci = 0; ci < chunks; ++ci) {
        const std::int64_t t0 = tl.tiles * ci / chunks, count = tl.tiles * (ci + 1) / chunks - t0;
        T* v = work;
        T* mprod = work + a2 * count * d.c;
        winograd_input_transform<M>(be, d, tl, t0, count, x, v);
        for (int p = 0; p < a2; ++p) {
            rows product(mprod + p * d.k, count, d.k, Eigen::OuterStride<>(a2 * d.k));
            const const_rows vp(v + p * d.c, count, d.c, Eigen::OuterStride<>(a2 * d.c));
            if constexpr (InputMajor) {
                product.noalias() = vp * const_map(u + p * d.k * d.c, d.c, d.k);
            } else {
                product.noalias() = vp * const_map(u + p * d.k * d.c, d.k, d.c).transpose();
            }
        }
        winograd_output_transform<M>(be, d, tl, t0, count, mprod, bias, y);
    }
}

/// Scratch elements of one chunk's V and M.
template <int M, class T>
std::int64_t winograd_work_size(const math::conv2d_dims& d) {
    constexpr int alpha = math::winograd_f3<M>::alpha;
    const winograd_tiling tl = winograd_tiling::make(d, M);
    return alpha * alpha * winograd_tiles_per_chunk<T>(d, alpha, tl.tiles) * (d.c + d.k);
}

template <int M, class T>
void conv2d_winograd_forward(const cpu_backend<T>& be, const math::conv2d_dims& d, const T* x, const T* w,
                             const T* bias, T* y) {
    constexpr int alpha = math::winograd_f3<M>::alpha;
    const auto product_threads = be.product_threads();
    const std::int64_t u_size = alpha * alpha * d.k * d.c;
    T* u = be.scratch(static_cast<std::size_t>(u_size + winograd_work_size<M, T>(d)));
    winograd_filter_transform<M>(be, d.k, d.c, w, false, u);
    winograd_forward_transformed<M, false>(be, d, x, u, bias, y, u + u_size);
}

template <int M, class T>
void conv2d_winograd_backward_data(const cpu_backend<T>& be, const math::conv2d_dims& d, const T* dy, const T* w,
                                   T* dx) {
    constexpr int alpha = math::winograd_f3<M>::alpha;
    const auto product_threads = be.product_threads();
    // dx is the stride-1 "same" correlation of dy [N, OH, OW, K] (OH = H, OW = W) with the rotated,
    // channel-swapped filter w'[c][i][j][k] = w[k][2-i][2-j][c]: its transform, plane by plane, is
    // the transpose of the rotated w's transform, so the products use that [K][C] plane as it is.
    math::conv2d_dims t = d;
    t.h = d.oh, t.w = d.ow, t.c = d.k, t.k = d.c, t.oh = d.h, t.ow = d.w;
    const std::int64_t u_size = alpha * alpha * d.k * d.c;
    T* u = be.scratch(static_cast<std::size_t>(u_size + winograd_work_size<M, T>(t)));
    winograd_filter_transform<M>(be, d.k, d.c, w, true, u);
    winograd_forward_transformed<M, true>(be, t, dy, u, static_cast<const T*>(nullptr), dx, u + u_size);
}

template <int M, class T>
void conv2d_winograd_backward_filter(const cpu_backend<T>& be, const math::conv2d_dims& d, const T* x, const T* dy,
                                     T* dw, T* dbias) {
    const auto product_threads = be.product_threads();
    using row_matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using const_map = Eigen::Map<const row_matrix, Eigen::Unaligned>;
    using const_rows = Eigen::Map<const row_matrix, Eigen::Unaligned, Eigen::OuterStride<>>;
    using map = Eigen::Map<row_matrix, Eigen::Unaligned>;
    constexpr int alpha = math::winograd_f3<M>::alpha, a2 = alpha * alpha;
    const winograd_tiling tl = winograd_tiling::make(d, M);
    const std::int64_t u_size = alpha * alpha * d.k * d.c;
    T* du = be.scratch(static_cast<std::size_t>(u_size + winograd_work_size<M, T>(d)));
    T* work = du + u_size;
    const std::int64_t per_chunk = winograd_tiles_per_chunk<T>(d, alpha, tl.tiles);
    const std::int64_t chunks = (tl.tiles + per_chunk - 1) / per_chunk;
    for (std::int64_t ci = 0; ci < chunks; ++ci) {
        const std::int64_t t0 = tl.tiles * ci / chunks, count = tl.tiles * (ci + 1) / chunks - t0;
        T* v = work;
        T* dm = work + a2 * count * d.c;
        winograd_input_transform<M>(be, d, tl, t0, count, x, v);
        winograd_gradient_transform<M>(be, d, tl, t0, count, dy, dm);
        for (int p = 0; p < a2; ++p) {
            map dup(du + p * d.k * d.c, d.k, d.c);
            const auto product = const_rows(dm + p * d.k, count, d.k, Eigen::OuterStride<>(a2 * d.k)).transpose() *
                                 const_rows(v + p * d.c, count, d.c, Eigen::OuterStride<>(a2 * d.c));
            if (ci == 0) {
                dup.noalias() = product;
            } else {
                dup.noalias() += product;
            }
        }
    }
    winograd_filter_gradient<M>(be, d.k, d.c, du, dw);
    if (dbias) {
        Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>> dbm(dbias, d.k);
        dbm += const_map(dy, d.n * d.rows_per_image(), d.k).colwise().sum();
    }
}

/// The scratch elements (cpu_backend::scratch) the largest of conv2d's three passes (forward,
/// backward data, backward filter) asks for on problem d with be's threads and algorithm: what the
/// schedules above allocate, for memory estimates (train/memory_estimate.hpp).
template <class T>
std::int64_t conv2d_scratch_elements(const cpu_backend<T>& be, const math::conv2d_dims& d) {
    const int m = conv_winograd_tile(be, d);
    if (m == 2 || m == 4) {
        math::conv2d_dims t = d;  // backward data runs on the transposed problem
        t.h = d.oh, t.w = d.ow, t.c = d.k, t.k = d.c, t.oh = d.h, t.ow = d.w;
        const std::int64_t alpha = m + 2, u_size = alpha * alpha * d.k * d.c;
        const std::int64_t work = m == 4 ? std::max(winograd_work_size<4, T>(d), winograd_work_size<4, T>(t))
                                         : std::max(winograd_work_size<2, T>(d), winograd_work_size<2, T>(t));
        return u_size + work;
    }
    const std::int64_t patch = d.patch();
    std::int64_t most = 0;
    if (conv_is_tiled<T>(d)) {
        const std::int64_t rows_total = d.n * d.rows_per_image(), tile_rows = conv_tile_rows<T>(d);
        const std::int64_t blocks = (rows_total + tile_rows - 1) / tile_rows;
        const std::int64_t threads = std::min<std::int64_t>(be.threads(), blocks);
        const std::int64_t tile = conv_padded<T>(tile_rows * patch);
        most = std::max(most, threads * tile);                                            // forward
        most = std::max(most, threads * (tile + conv_padded<T>(d.k * patch + d.k)));      // backward filter
        if (d.n >= be.threads()) {                                                        // backward data
            const std::int64_t data_rows = std::min(tile_rows, d.rows_per_image());
            most = std::max(most, std::int64_t{be.threads()} * conv_padded<T>(data_rows * patch));
        } else {
            most = std::max(most, conv_images_per_chunk<T>(d) * d.rows_per_image() * patch);
        }
        return most;
    }
    if (conv_is_pointwise(d)) return 0;
    return conv_images_per_chunk<T>(d) * d.rows_per_image() * patch;
}

}  // namespace hg::cpu_impl
