// Op contracts of the focal frequency loss (Jiang et al., ICCV 2021), with the CPU bodies; the CUDA
// overloads are in cuda/focal_frequency.cu. pred and target are NHWC [N, H, W, C]. Per image n and
// channel c, with F the orthonormal 2-D DFT over (H, W) ('ortho': 1/sqrt(H W) on each direction):
//   D      = F(pred[n, :, :, c]) - F(target[n, :, :, c]) = F(pred - target)     (F is linear)
//   peak   = max_k |D_k|
//   w_k    = clamp((|D_k| / peak)^alpha, 0, 1), and 0 where that is NaN (peak = 0)
//   L      = (1 / (N H W C)) sum_{n, c, k} w_k |D_k|^2
// w is a constant for the gradient (the reference implementation detaches it), so
//   dL/dpred = (2 / (N H W C)) Re(F^H (w .* D))                        (derivation below)
// and dL/dtarget = -dL/dpred.
//
//   focal_frequency_weights            weights <- w (written, NHWC: weights[n, ky, kx, c])
//   focal_frequency_forward            value   <- L (1 element, written)
//   focal_frequency_backward           dpred  += scale * dL/dpred
//   focal_frequency_weighted_forward   value   <- L with w taken from `weights` (written)
//   focal_frequency_weighted_backward  dpred  += scale * dL/dpred with w taken from `weights`
// The weighted pair is the same loss with the weight matrix given instead of computed (the
// reference's `matrix` argument); it also lets the gradient of the frozen-weight surrogate be checked
// by finite differences. The CPU versions transform in double precision (math/fft.hpp), whatever T.
//
// Gradient. With d = pred - target for one (n, c) and D_k = sum_x F_kx d_x:
//   dL/dd_x = (1/count) sum_k w_k d|D_k|^2/dd_x = (1/count) sum_k w_k 2 Re(conj(D_k) F_kx)
//           = (2/count) Re(sum_k conj(F_kx) w_k D_k) = (2/count) Re((F^H (w .* D))_x),
// using Re(conj(a) b) = Re(a conj(b)). F^H is the orthonormal inverse transform.
#pragma once

#include "hourglass/core/config.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#if HG_CPU_OPS
#include "hourglass/cpu/backend.hpp"
#include "hourglass/math/fft.hpp"
#endif
#include "hourglass/ops/check.hpp"

namespace hg {
class cuda;
}

namespace hg::ops {

/// Per-element formulas of the loss, shared by the CPU bodies and the CUDA kernels.
namespace focal {

/// |z| for z = re + i im (the spectrum distance is its square).
HG_HOST_DEVICE inline double magnitude(double re, double im) {
    using std::sqrt;
    return sqrt(re * re + im * im);
}

/// The spectrum weight of a frequency: (|D_k| / peak)^alpha, NaN (peak = 0) mapped to 0, clamped to
/// [0, 1] (the reference's normalisation by the maximum per image and channel).
HG_HOST_DEVICE inline double weight(double magnitude_k, double peak, double alpha) {
    using std::pow;
    double r = magnitude_k / peak;
    if (r != r) return 0.0;  // 0 / 0: identical spectra in this image and channel
    if (alpha != 1.0) r = pow(r, alpha);
    return r < 0.0 ? 0.0 : (r > 1.0 ? 1.0 : r);
}

}  // namespace focal

namespace detail {

/// pred and target: defined, on B's device, non-empty NHWC of equal shape.
template <class B, class T>
void check_focal_pair(const basic_tensor<T>& pred, const basic_tensor<T>& target, const char* op) {
    check_arg<B>(pred, pred.shape(), op, "pred");
    if (pred.shape().rank() != 4 || pred.numel() < 1)
        throw shape_error(std::string(op) + ": argument 'pred' must be a non-empty NHWC tensor, got " +
                          pred.shape().str());
    check_same<B>(target, pred, op, "target");
}

inline void check_focal_alpha(double alpha, const char* op) {
    if (!(std::isfinite(alpha) && alpha > 0.0))
        throw value_error(std::string(op) + ": alpha must be finite and > 0, got " + std::to_string(alpha));
}

template <class B, class T>
void check_focal_value(const basic_tensor<T>& value, const char* op) {
    check_arg<B>(value, value.shape(), op, "value");
    if (value.numel() != 1)
        throw shape_error(std::string(op) + ": argument 'value' must hold 1 element, has shape " + value.shape().str());
}

}  // namespace detail

#if HG_CPU_OPS
namespace detail {

/// The orthonormal spectra D = F(pred - target) of every (n, c) plane (plane p = n * C + c, row-major
/// H x W), with the peak |D| of each plane.
struct focal_spectra {
    std::int64_t n = 0, h = 0, w = 0, c = 0;
    std::vector<math::complex_double> d;
    std::vector<double> peak;

    std::int64_t planes() const { return n * c; }
    std::int64_t area() const { return h * w; }
    /// NHWC index of frequency (or pixel) k = y * W + x of plane p.
    std::int64_t nhwc(std::int64_t p, std::int64_t k) const { return ((p / c) * area() + k) * c + p % c; }
};

template <class T>
focal_spectra focal_spectrum(const cpu_backend<T>& be, const basic_tensor<T>& pred, const basic_tensor<T>& target) {
    focal_spectra s;
    s.n = pred.shape().n(), s.h = pred.shape().h(), s.w = pred.shape().w(), s.c = pred.shape().c();
    const std::int64_t hw = s.area();
    s.d.resize(static_cast<std::size_t>(s.planes() * hw));
    s.peak.assign(static_cast<std::size_t>(s.planes()), 0.0);
    const math::fft2_plan plan(s.h, s.w);
    const double ortho = 1.0 / std::sqrt(static_cast<double>(hw));
    const T* p_ = pred.data();
    const T* t_ = target.data();
    parallel_for(s.planes(), be.threads(), 1, [&](std::int64_t p) {
        math::complex_double* plane = s.d.data() + p * hw;
        for (std::int64_t k = 0; k < hw; ++k) {
            const std::int64_t i = s.nhwc(p, k);
            plane[k] = math::complex_double(static_cast<double>(p_[i]) - static_cast<double>(t_[i]), 0.0);
        }
        plan.forward(plane);
        double peak = 0.0;
        for (std::int64_t k = 0; k < hw; ++k) {
            plane[k] *= ortho;
            peak = std::max(peak, focal::magnitude(plane[k].real(), plane[k].imag()));
        }
        s.peak[static_cast<std::size_t>(p)] = peak;
    });
    return s;
}

/// w_k of plane p: computed from the spectrum, or read from `given` (NHWC) when it is not null.
template <class T>
double focal_weight_at(const focal_spectra& s, std::int64_t p, std::int64_t k, double alpha, const T* given) {
    if (given) return static_cast<double>(given[s.nhwc(p, k)]);
    const math::complex_double v = s.d[static_cast<std::size_t>(p * s.area() + k)];
    return focal::weight(focal::magnitude(v.real(), v.imag()), s.peak[static_cast<std::size_t>(p)], alpha);
}

/// L = (1 / count) sum_{p, k} w_k |D_k|^2, summed per plane and then over planes in order (the
/// result does not depend on the thread count).
template <class T>
double focal_value(const cpu_backend<T>& be, const focal_spectra& s, double alpha, const T* given) {
    std::vector<double> partial(static_cast<std::size_t>(s.planes()), 0.0);
    parallel_for(s.planes(), be.threads(), 1, [&](std::int64_t p) {
        double acc = 0.0;
        for (std::int64_t k = 0; k < s.area(); ++k) {
            const math::complex_double v = s.d[static_cast<std::size_t>(p * s.area() + k)];
            acc += focal_weight_at(s, p, k, alpha, given) * std::norm(v);
        }
        partial[static_cast<std::size_t>(p)] = acc;
    });
    double sum = 0.0;
    for (double v : partial) sum += v;
    return sum / static_cast<double>(s.planes() * s.area());
}

/// dpred += scale * (2 / count) Re(F^H (w .* D)), F^H = unnormalised inverse / sqrt(H W).
template <class T>
void focal_gradient(const cpu_backend<T>& be, focal_spectra& s, double alpha, const T* given, double scale,
                    T* dpred) {
    const math::fft2_plan plan(s.h, s.w);
    const std::int64_t hw = s.area();
    const double factor = scale * 2.0 / (static_cast<double>(s.planes() * hw) * std::sqrt(static_cast<double>(hw)));
    parallel_for(s.planes(), be.threads(), 1, [&](std::int64_t p) {
        // The weights first (they read the unmodified spectrum), then G = w .* D in place.
        std::vector<double> w(static_cast<std::size_t>(hw));
        for (std::int64_t k = 0; k < hw; ++k) w[static_cast<std::size_t>(k)] = focal_weight_at(s, p, k, alpha, given);
        math::complex_double* plane = s.d.data() + p * hw;
        for (std::int64_t k = 0; k < hw; ++k) plane[k] *= w[static_cast<std::size_t>(k)];
        plan.inverse(plane);
        for (std::int64_t k = 0; k < hw; ++k) {
            const std::int64_t i = s.nhwc(p, k);
            dpred[i] = static_cast<T>(static_cast<double>(dpred[i]) + factor * plane[k].real());
        }
    });
}

}  // namespace detail

template <class T>
void focal_frequency_weights(const cpu_backend<T>& be, const basic_tensor<T>& pred, const basic_tensor<T>& target,
                             double alpha, const basic_tensor<T>& weights) {
    const char* op = "focal_frequency_weights";
    detail::check_focal_pair<cpu_backend<T>>(pred, target, op);
    detail::check_focal_alpha(alpha, op);
    detail::check_same<cpu_backend<T>>(weights, pred, op, "weights");
    const auto s = detail::focal_spectrum(be, pred, target);
    T* out = weights.data();
    parallel_for(s.planes(), be.threads(), 1, [&](std::int64_t p) {
        for (std::int64_t k = 0; k < s.area(); ++k)
            out[s.nhwc(p, k)] = static_cast<T>(detail::focal_weight_at<T>(s, p, k, alpha, nullptr));
    });
}

template <class T>
void focal_frequency_forward(const cpu_backend<T>& be, const basic_tensor<T>& pred, const basic_tensor<T>& target,
                             double alpha, const basic_tensor<T>& value) {
    const char* op = "focal_frequency_forward";
    detail::check_focal_pair<cpu_backend<T>>(pred, target, op);
    detail::check_focal_alpha(alpha, op);
    detail::check_focal_value<cpu_backend<T>>(value, op);
    const auto s = detail::focal_spectrum(be, pred, target);
    value[0] = static_cast<T>(detail::focal_value<T>(be, s, alpha, nullptr));
}

template <class T>
void focal_frequency_backward(const cpu_backend<T>& be, const basic_tensor<T>& pred, const basic_tensor<T>& target,
                              double alpha, double scale, const basic_tensor<T>& dpred) {
    const char* op = "focal_frequency_backward";
    detail::check_focal_pair<cpu_backend<T>>(pred, target, op);
    detail::check_focal_alpha(alpha, op);
    detail::check_same<cpu_backend<T>>(dpred, pred, op, "dpred");
    auto s = detail::focal_spectrum(be, pred, target);
    detail::focal_gradient<T>(be, s, alpha, nullptr, scale, dpred.data());
}

template <class T>
void focal_frequency_weighted_forward(const cpu_backend<T>& be, const basic_tensor<T>& pred,
                                      const basic_tensor<T>& target, const basic_tensor<T>& weights,
                                      const basic_tensor<T>& value) {
    const char* op = "focal_frequency_weighted_forward";
    detail::check_focal_pair<cpu_backend<T>>(pred, target, op);
    detail::check_same<cpu_backend<T>>(weights, pred, op, "weights");
    detail::check_focal_value<cpu_backend<T>>(value, op);
    const auto s = detail::focal_spectrum(be, pred, target);
    value[0] = static_cast<T>(detail::focal_value<T>(be, s, 1.0, weights.data()));
}

template <class T>
void focal_frequency_weighted_backward(const cpu_backend<T>& be, const basic_tensor<T>& pred,
                                       const basic_tensor<T>& target, const basic_tensor<T>& weights, double scale,
                                       const basic_tensor<T>& dpred) {
    const char* op = "focal_frequency_weighted_backward";
    detail::check_focal_pair<cpu_backend<T>>(pred, target, op);
    detail::check_same<cpu_backend<T>>(weights, pred, op, "weights");
    detail::check_same<cpu_backend<T>>(dpred, pred, op, "dpred");
    auto s = detail::focal_spectrum(be, pred, target);
    detail::focal_gradient<T>(be, s, 1.0, weights.data(), scale, dpred.data());
}

#endif  // HG_CPU_OPS

/// CUDA overloads (cuda/focal_frequency.cu): cuFFT complex-to-complex transforms in float32 on the
/// backend's stream, our kernels for the layout change, the per-plane peak, the weighting and the
/// reduction (float64 accumulation) into the 1-element output; no host sync.
void focal_frequency_weights(const cuda& be, const tensor& pred, const tensor& target, double alpha,
                             const tensor& weights);
void focal_frequency_forward(const cuda& be, const tensor& pred, const tensor& target, double alpha,
                             const tensor& value);
void focal_frequency_backward(const cuda& be, const tensor& pred, const tensor& target, double alpha, double scale,
                              const tensor& dpred);
void focal_frequency_weighted_forward(const cuda& be, const tensor& pred, const tensor& target,
                                      const tensor& weights, const tensor& value);
void focal_frequency_weighted_backward(const cuda& be, const tensor& pred, const tensor& target,
                                       const tensor& weights, double scale, const tensor& dpred);

}  // namespace hg::ops
