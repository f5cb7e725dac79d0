// Per-pixel formulas of the image-structure losses (GMSD, gradient difference, Laplacian pyramid),
// shared by the CPU bodies in ops/ and the CUDA kernels in cuda/: border padding of small
// stencils, the Prewitt gradients and the gradient magnitude similarity, the first and second
// differences, the Gaussian blur and 2x2 average pooling of the pyramid, and the transposed
// (gather) forms of each stencil that the backward passes use.
//
// Images are NHWC; every function here takes a pointer to the first element of ONE image
// (H x W x C, channels innermost) and a pixel (h, w, c), so it reads x[(h * W + w) * C + c].
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "hourglass/core/config.hpp"
#include "hourglass/math/gaussian.hpp"
#include "hourglass/math/sign.hpp"

namespace hg::math {

// ---- indexing and padding -------------------------------------------------------------------

/// Element (h, w, c) of one H x W x C image.
template <class T>
HG_HOST_DEVICE inline T pixel(const T* img, int w_extent, int c_extent, int h, int w, int c) {
    return img[(static_cast<std::int64_t>(h) * w_extent + w) * c_extent + c];
}

/// How a stencil reads outside the image.
enum class pad_mode {
    reflect,    ///< mirror without repeating the edge: -1 -> 1, n -> n - 2 (needs n >= 2)
    replicate,  ///< repeat the edge: -k -> 0, n - 1 + k -> n - 1
};

/// The in-image index that padded position p (within one stencil radius of [0, n)) reads.
template <pad_mode M>
HG_HOST_DEVICE inline int pad_index(int p, int n) {
    if constexpr (M == pad_mode::reflect) {
        if (p < 0) return -p;
        if (p >= n) return 2 * (n - 1) - p;
        return p;
    } else {
        if (p < 0) return 0;
        if (p >= n) return n - 1;
        return p;
    }
}

/// The transpose of a padded stencil of radius R along one axis: every (output position o, tap a)
/// with o in [0, n) and pad_index(o + a) == i, i.e. every place where input i is read. Writes them to
/// out[k], tap[k] and returns their number (at most (2R + 1)^2). Reading input i can only happen
/// from outputs within R of i, for both padding modes.
template <pad_mode M, int R>
HG_HOST_DEVICE inline int stencil_readers(int i, int n, int* out, int* tap) {
    int k = 0;
    for (int o = i - R; o <= i + R; ++o) {
        if (o < 0 || o >= n) continue;
        for (int a = -R; a <= R; ++a)
            if (pad_index<M>(o + a, n) == i) {
                out[k] = o;
                tap[k] = a;
                ++k;
            }
    }
    return k;
}

// ---- GMSD: Prewitt gradients (reflect padding), magnitude, similarity -------------------------

/// The stability constant of the similarity for images in [0, 1] (Xue et al. 2014; faceswap).
inline constexpr double gmsd_default_c = 0.0025;
/// Added under the square root of the gradient magnitude, m = sqrt(gx^2 + gy^2 + eps), so that m is
/// smooth where the gradient vanishes (always at the image corners under reflect padding, and in
/// flat regions): dm/dgx = gx / m stays bounded and is 0 there. It shifts m by at most 1e-6.
inline constexpr double gmsd_magnitude_eps = 1e-12;

/// Prewitt gradients at (h, w, c) with the 1/3 scaling of Xue et al.:
///   gx = (1/3) sum_{a=-1..1} (x[h+a, w+1] - x[h+a, w-1]),
///   gy = (1/3) sum_{b=-1..1} (x[h+1, w+b] - x[h-1, w+b]),
/// reading outside the image by reflection (needs H, W >= 2).
template <class T>
HG_HOST_DEVICE inline void prewitt_at(const T* img, int hh, int ww, int cc, int h, int w, int c, T& gx, T& gy) {
    const int hm = pad_index<pad_mode::reflect>(h - 1, hh), hp = pad_index<pad_mode::reflect>(h + 1, hh);
    const int wm = pad_index<pad_mode::reflect>(w - 1, ww), wp = pad_index<pad_mode::reflect>(w + 1, ww);
    const T third = T(1) / T(3);
    gx = third * ((pixel(img, ww, cc, hm, wp, c) - pixel(img, ww, cc, hm, wm, c)) +
                  (pixel(img, ww, cc, h, wp, c) - pixel(img, ww, cc, h, wm, c)) +
                  (pixel(img, ww, cc, hp, wp, c) - pixel(img, ww, cc, hp, wm, c)));
    gy = third * ((pixel(img, ww, cc, hp, wm, c) - pixel(img, ww, cc, hm, wm, c)) +
                  (pixel(img, ww, cc, hp, w, c) - pixel(img, ww, cc, hm, w, c)) +
                  (pixel(img, ww, cc, hp, wp, c) - pixel(img, ww, cc, hm, wp, c)));
}

/// m = sqrt(gx^2 + gy^2 + eps).
template <class T>
HG_HOST_DEVICE inline T gradient_magnitude(T gx, T gy, T eps) {
    using std::sqrt;
    return sqrt(gx * gx + gy * gy + eps);
}

/// The gradient magnitude similarity GMS = (2 mp mt + c) / (mp^2 + mt^2 + c), in (0, 1].
template <class T>
HG_HOST_DEVICE inline T gms(T mp, T mt, T c) {
    return (T(2) * mp * mt + c) / (mp * mp + mt * mt + c);
}

/// dGMS/dmp = 2 (mt * den - mp * num) / den^2 with num, den the numerator and denominator above.
template <class T>
HG_HOST_DEVICE inline T gms_grad_mp(T mp, T mt, T c) {
    const T num = T(2) * mp * mt + c, den = mp * mp + mt * mt + c;
    return T(2) * (mt * den - mp * num) / (den * den);
}

/// The transpose of prewitt_at: given dL/dgx and dL/dgy at every pixel of one image (interleaved,
/// g[2 * p] and g[2 * p + 1] for pixel index p = (h * W + w) * C + c), returns dL/dx[i, j, c], the
/// sum over every read of x[i, j, c] (including reads through the reflected border) of the tap's
/// coefficient times the gradient of the output that read it. gx has taps (1/3) * b at (a, b);
/// gy has (1/3) * a.
template <class T>
HG_HOST_DEVICE inline T prewitt_transpose_at(const T* g, int hh, int ww, int cc, int i, int j, int c) {
    int rows[9], row_taps[9], cols[9], col_taps[9];
    const int nr = stencil_readers<pad_mode::reflect, 1>(i, hh, rows, row_taps);
    const int nc = stencil_readers<pad_mode::reflect, 1>(j, ww, cols, col_taps);
    T acc = T(0);
    for (int r = 0; r < nr; ++r)
        for (int q = 0; q < nc; ++q) {
            const std::int64_t p = (static_cast<std::int64_t>(rows[r]) * ww + cols[q]) * cc + c;
            acc += static_cast<T>(col_taps[q]) * g[2 * p] + static_cast<T>(row_taps[r]) * g[2 * p + 1];
        }
    return acc / T(3);
}

// ---- gradient difference: first and second differences ---------------------------------------

/// One value per term of the gradient difference loss (first differences along w and h, second
/// differences along w and h): the per-term coefficients, where the value is
///   sum over anchors of x * |dx_p - dx_t| + y * |dy_p - dy_t| + xx * |dxx_p - dxx_t| + yy * |...|
/// (each coefficient the term's weight / (its element count * (tv + tv2))), or the |delta| of each
/// term at one anchor.
template <class T>
struct gradient_difference_terms {
    T x, y, xx, yy;
};

/// (p1 - p0) - (t1 - t0): the first difference of pred minus that of target.
template <class T>
HG_HOST_DEVICE inline T first_difference_delta(T p0, T p1, T t0, T t1) {
    return (p1 - p0) - (t1 - t0);
}

/// (p2 - 2 p1 + p0) - (t2 - 2 t1 + t0): the second difference of pred minus that of target.
template <class T>
HG_HOST_DEVICE inline T second_difference_delta(T p0, T p1, T p2, T t0, T t1, T t2) {
    return ((p2 - T(2) * p1) + p0) - ((t2 - T(2) * t1) + t0);
}

/// |delta| of each loss term anchored at (h, w, c): the first differences toward (h, w+1) and
/// (h+1, w), and the second differences centred on (h, w) along w and along h; 0 for a term that
/// does not fit in the image there. The caller weights and accumulates them (in double).
template <class T>
HG_HOST_DEVICE inline gradient_difference_terms<T> gradient_difference_deltas_at(const T* p, const T* t, int hh, int ww,
                                                                                int cc, int h, int w, int c) {
    using std::fabs;
    gradient_difference_terms<T> r{T(0), T(0), T(0), T(0)};
    const T p0 = pixel(p, ww, cc, h, w, c), t0 = pixel(t, ww, cc, h, w, c);
    if (w + 1 < ww)
        r.x = fabs(first_difference_delta(p0, pixel(p, ww, cc, h, w + 1, c), t0, pixel(t, ww, cc, h, w + 1, c)));
    if (h + 1 < hh)
        r.y = fabs(first_difference_delta(p0, pixel(p, ww, cc, h + 1, w, c), t0, pixel(t, ww, cc, h + 1, w, c)));
    if (w >= 1 && w + 1 < ww)
        r.xx = fabs(second_difference_delta(pixel(p, ww, cc, h, w - 1, c), p0, pixel(p, ww, cc, h, w + 1, c),
                                            pixel(t, ww, cc, h, w - 1, c), t0, pixel(t, ww, cc, h, w + 1, c)));
    if (h >= 1 && h + 1 < hh)
        r.yy = fabs(second_difference_delta(pixel(p, ww, cc, h - 1, w, c), p0, pixel(p, ww, cc, h + 1, w, c),
                                            pixel(t, ww, cc, h - 1, w, c), t0, pixel(t, ww, cc, h + 1, w, c)));
    return r;
}

/// sign of the first-difference delta anchored at (h, w) along w (dw = 1) or h (dh = 1).
template <class T>
HG_HOST_DEVICE inline T first_sign(const T* p, const T* t, int ww, int cc, int h, int w, int c, int dh, int dw) {
    return sign_of(first_difference_delta(pixel(p, ww, cc, h, w, c), pixel(p, ww, cc, h + dh, w + dw, c),
                                          pixel(t, ww, cc, h, w, c), pixel(t, ww, cc, h + dh, w + dw, c)));
}

/// sign of the second-difference delta centred on (h, w) along w (dw = 1) or h (dh = 1).
template <class T>
HG_HOST_DEVICE inline T second_sign(const T* p, const T* t, int ww, int cc, int h, int w, int c, int dh, int dw) {
    return sign_of(second_difference_delta(
        pixel(p, ww, cc, h - dh, w - dw, c), pixel(p, ww, cc, h, w, c), pixel(p, ww, cc, h + dh, w + dw, c),
        pixel(t, ww, cc, h - dh, w - dw, c), pixel(t, ww, cc, h, w, c), pixel(t, ww, cc, h + dh, w + dw, c)));
}

/// dL/dpred[h, w, c] of the gradient difference loss (d|u|/du = sign(u)): pixel (h, w) enters the
/// first difference anchored at itself with -1 and the one anchored at its predecessor with +1; the
/// second difference centred on itself with -2 and those centred on its two neighbours with +1.
template <class T>
HG_HOST_DEVICE inline T gradient_difference_grad_at(const T* p, const T* t, int hh, int ww, int cc, int h, int w,
                                                    int c, const gradient_difference_terms<T>& k) {
    T gx = T(0), gy = T(0), gxx = T(0), gyy = T(0);
    if (w + 1 < ww) gx -= first_sign(p, t, ww, cc, h, w, c, 0, 1);
    if (w >= 1) gx += first_sign(p, t, ww, cc, h, w - 1, c, 0, 1);
    if (h + 1 < hh) gy -= first_sign(p, t, ww, cc, h, w, c, 1, 0);
    if (h >= 1) gy += first_sign(p, t, ww, cc, h - 1, w, c, 1, 0);
    if (w >= 1 && w + 1 < ww) gxx -= T(2) * second_sign(p, t, ww, cc, h, w, c, 0, 1);
    if (w >= 2) gxx += second_sign(p, t, ww, cc, h, w - 1, c, 0, 1);
    if (w + 2 < ww) gxx += second_sign(p, t, ww, cc, h, w + 1, c, 0, 1);
    if (h >= 1 && h + 1 < hh) gyy -= T(2) * second_sign(p, t, ww, cc, h, w, c, 1, 0);
    if (h >= 2) gyy += second_sign(p, t, ww, cc, h - 1, w, c, 1, 0);
    if (h + 2 < hh) gyy += second_sign(p, t, ww, cc, h + 1, w, c, 1, 0);
    return k.x * gx + k.y * gy + k.xx * gxx + k.yy * gyy;
}

// ---- Laplacian pyramid: Gaussian blur (replicate padding) and 2x2 average pooling -------------

/// The pyramid's Gaussian: 5 x 5 taps, separable (the 2-D kernel exp(-(a^2 + b^2) / (2 sigma^2)) /
/// sum is the outer product of the normalised 1-D kernel with itself).
inline constexpr int pyramid_radius = 2;

template <class T>
struct pyramid_taps {
    T w[2 * pyramid_radius + 1];
};

/// The normalised 1-D taps exp(-a^2 / (2 sigma^2)) / sum, a = -2..2, computed in double.
template <class T>
inline pyramid_taps<T> make_pyramid_taps(double sigma) {
    const std::vector<double> v = gaussian_taps(2 * pyramid_radius + 1, sigma);
    pyramid_taps<T> g{};
    for (int k = 0; k < 2 * pyramid_radius + 1; ++k) g.w[k] = static_cast<T>(v[static_cast<std::size_t>(k)]);
    return g;
}

/// The blurred image at (h, w, c): sum_a g[a] sum_b g[b] x[h+a, w+b], edges replicated.
template <class T>
HG_HOST_DEVICE inline T blur_at(const T* img, int hh, int ww, int cc, int h, int w, int c, const pyramid_taps<T>& g) {
    T acc = T(0);
    for (int a = -pyramid_radius; a <= pyramid_radius; ++a) {
        const int r = pad_index<pad_mode::replicate>(h + a, hh);
        T row = T(0);
        for (int b = -pyramid_radius; b <= pyramid_radius; ++b)
            row += g.w[b + pyramid_radius] * pixel(img, ww, cc, r, pad_index<pad_mode::replicate>(w + b, ww), c);
        acc += g.w[a + pyramid_radius] * row;
    }
    return acc;
}

/// The transpose of blur_at: sum over every (replicated) read of x[i, j, c] of g[a] g[b] times the
/// gradient of the output that read it.
template <class T>
HG_HOST_DEVICE inline T blur_transpose_at(const T* v, int hh, int ww, int cc, int i, int j, int c,
                                          const pyramid_taps<T>& g) {
    constexpr int most = (2 * pyramid_radius + 1) * (2 * pyramid_radius + 1);
    int rows[most], row_taps[most], cols[most], col_taps[most];
    const int nr = stencil_readers<pad_mode::replicate, pyramid_radius>(i, hh, rows, row_taps);
    const int nc = stencil_readers<pad_mode::replicate, pyramid_radius>(j, ww, cols, col_taps);
    T acc = T(0);
    for (int r = 0; r < nr; ++r) {
        T row = T(0);
        for (int q = 0; q < nc; ++q)
            row += g.w[col_taps[q] + pyramid_radius] * pixel(v, ww, cc, rows[r], cols[q], c);
        acc += g.w[row_taps[r] + pyramid_radius] * row;
    }
    return acc;
}

/// 2x2 average pooling (stride 2, an odd last row or column dropped): the value at (h, w, c) of the
/// half-size image from the full-size image f (extents hh x ww).
template <class T>
HG_HOST_DEVICE inline T pool_at(const T* f, int ww, int cc, int h, int w, int c) {
    return T(0.25) * ((pixel(f, ww, cc, 2 * h, 2 * w, c) + pixel(f, ww, cc, 2 * h, 2 * w + 1, c)) +
                      (pixel(f, ww, cc, 2 * h + 1, 2 * w, c) + pixel(f, ww, cc, 2 * h + 1, 2 * w + 1, c)));
}

/// The transpose of pool_at at full-size pixel (i, j, c): a quarter of the pooled gradient g (extents
/// hh2 x ww2), 0 for the dropped odd last row or column.
template <class T>
HG_HOST_DEVICE inline T pool_transpose_at(const T* g, int hh2, int ww2, int cc, int i, int j, int c) {
    if (i / 2 >= hh2 || j / 2 >= ww2) return T(0);
    return T(0.25) * pixel(g, ww2, cc, i / 2, j / 2, c);
}

/// The band of one pyramid level at (h, w, c): x - blur(x).
template <class T>
HG_HOST_DEVICE inline T band_at(const T* img, int hh, int ww, int cc, int h, int w, int c, const pyramid_taps<T>& g) {
    return pixel(img, ww, cc, h, w, c) - blur_at(img, hh, ww, cc, h, w, c, g);
}

}  // namespace hg::math
