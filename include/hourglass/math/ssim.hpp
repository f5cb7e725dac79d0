// Per-pixel SSIM formulas shared by the CPU backend and the CUDA kernels: the Gaussian window taps,
// the border index maps of the two forms, the SSIM and contrast-structure terms from the five
// filtered statistics, and their partial derivatives with respect to the prediction's statistics.
//
// With mx = G*x, my = G*y, exx = G*(x^2), eyy = G*(y^2), exy = G*(xy) (population statistics):
//   sxx = exx - mx^2, syy = eyy - my^2, sxy = exy - mx my
//   l  = (2 mx my + c1) / (mx^2 + my^2 + c1)          luminance
//   cs = (2 sxy + c2) / (sxx + syy + c2)              contrast-structure
//   ssim = l * cs
// Exactly 1 for x == y: the numerators and denominators are then bitwise equal (2 a == a + a in
// floating point, and the products are rounded on their own, never fused into an FMA, on the device).
#pragma once

#include <cmath>
#include <vector>

#include "hourglass/core/config.hpp"
#include "hourglass/math/gaussian.hpp"

namespace hg::math {

/// Largest window the ops accept (the CUDA kernels keep the taps in registers).
constexpr int ssim_max_window = 11;

/// Half-sample symmetric reflection (scipy 'reflect', d c b a | a b c d) of index j into [0, n),
/// for j in [-n, 2n): one fold suffices because the image is never smaller than the window.
HG_HOST_DEVICE inline int reflect_index(int j, int n) { return j < 0 ? -j - 1 : (j >= n ? 2 * n - 1 - j : j); }

/// The input index that tap k of output position o reads. 'valid' (same == false): o + k, for
/// o < n - size + 1; 'same': reflect(o + k - (size - 1) / 2), for o < n.
HG_HOST_DEVICE inline int ssim_source_index(bool same, int o, int k, int size, int n) {
    return same ? reflect_index(o + k - (size - 1) / 2, n) : o + k;
}

/// A product rounded on its own: on the device never contracted into an FMA with a neighbouring
/// add (which would break the bitwise symmetry that makes SSIM(x, x) exactly 1).
HG_HOST_DEVICE inline float exact_mul(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}
HG_HOST_DEVICE inline double exact_mul(double a, double b) {
#if defined(__CUDA_ARCH__)
    return __dmul_rn(a, b);
#else
    return a * b;
#endif
}

/// The SSIM and contrast-structure terms of one position from its five statistics.
template <class T>
HG_HOST_DEVICE inline void ssim_terms(T mx, T my, T exx, T eyy, T exy, T c1, T c2, T& ssim, T& cs) {
    const T mxy = exact_mul(mx, my), mxx = exact_mul(mx, mx), myy = exact_mul(my, my);
    const T sxy = exy - mxy, sxx = exx - mxx, syy = eyy - myy;
    const T l = (T(2) * mxy + c1) / (mxx + myy + c1);
    cs = (T(2) * sxy + c2) / (sxx + syy + c2);
    ssim = l * cs;
}

/// a * d(ssim) + b * d(cs) with respect to the prediction's statistics mx, exx and exy (the
/// target's are constants). With B1 = mx^2 + my^2 + c1 and B2 = sxx + syy + c2:
///   dl/dmx  = 2 (my - l mx) / B1
///   dcs/dmx = 2 (cs mx - my) / B2,  dcs/dexx = -cs / B2,  dcs/dexy = 2 / B2
///   dssim/d = cs dl/d + l dcs/d      (l does not depend on exx, exy)
template <class T>
HG_HOST_DEVICE inline void ssim_term_grads(T mx, T my, T exx, T eyy, T exy, T c1, T c2, T a, T b, T& d_mx, T& d_exx,
                                           T& d_exy) {
    const T mxy = exact_mul(mx, my), mxx = exact_mul(mx, mx), myy = exact_mul(my, my);
    const T sxy = exy - mxy, sxx = exx - mxx, syy = eyy - myy;
    const T b1 = mxx + myy + c1, b2 = sxx + syy + c2;
    const T l = (T(2) * mxy + c1) / b1;
    const T cs = (T(2) * sxy + c2) / b2;
    const T dl_dmx = T(2) * (my - l * mx) / b1;
    const T dcs_dmx = T(2) * (cs * mx - my) / b2;
    const T dcs_dexx = -cs / b2;
    const T dcs_dexy = T(2) / b2;
    const T w_cs = a * l + b;  // weight of every dcs term: a * l (through ssim) + b
    d_mx = a * cs * dl_dmx + w_cs * dcs_dmx;
    d_exx = w_cs * dcs_dexx;
    d_exy = w_cs * dcs_dexy;
}

/// Most scales ssim_combine takes.
constexpr int ssim_max_scales = 8;

/// One image-channel's product for the losses (ops::ssim_combine): with r_s = max(t_s, 0) when
/// `clamp` (else t_s), returns P = prod_s r_s^p_s and writes dP/dt_s to dprod (when not null),
/// computed as p_s r_s^(p_s - 1) times the other factors, so it stays finite where another factor is
/// 0; it is 0 where a clamped t_s <= 0 (the subgradient of relu at 0 taken as 0).
HG_HOST_DEVICE inline double ssim_combine_term(const double* t, int scales, const double* powers, bool clamp,
                                               double* dprod) {
    double factor[ssim_max_scales], dfactor[ssim_max_scales];
    for (int s = 0; s < scales; ++s) {
        const bool cut = clamp && !(t[s] > 0.0);
        const double r = cut ? 0.0 : t[s], p = powers[s];
        if (p == 1.0) {
            factor[s] = r;
            dfactor[s] = cut ? 0.0 : 1.0;
        } else {
            factor[s] = r > 0.0 ? pow(r, p) : 0.0;
            dfactor[s] = r > 0.0 ? p * pow(r, p - 1.0) : 0.0;
        }
    }
    double prod = 1.0;
    for (int s = 0; s < scales; ++s) prod *= factor[s];
    if (dprod)
        for (int s = 0; s < scales; ++s) {
            double d = dfactor[s];
            for (int u = 0; u < scales; ++u)
                if (u != s) d *= factor[u];
            dprod[s] = d;
        }
    return prod;
}

/// Output extent of 2x2 average pooling: odd sizes are padded by repeating the last row/column
/// (tf.image.ssim_multiscale's 'symmetric' padding of one), so ceil(n / 2).
HG_HOST_DEVICE inline int pool2_extent(int n) { return (n + 1) / 2; }

/// The two input indices output index o of 2x2 pooling averages along one axis of extent n.
HG_HOST_DEVICE inline int pool2_second(int o, int n) { return 2 * o + 1 < n ? 2 * o + 1 : n - 1; }

}  // namespace hg::math
