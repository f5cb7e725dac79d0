// Op contract of the pixel normalisation (DeepFaceLab's nn.pixel_norm, the -u option of SAEHD):
// each row (sample) of x [N, ...] with F = numel / N elements is scaled to unit root mean square,
//   r_n = 1 / sqrt(mean_f x[n, f]^2 + eps),   y[n, f] = x[n, f] * r_n          (eps = 1e-6)
//   pixel_norm_forward(be, x, y, r)          writes y (x's shape) and r ([N], kept for backward)
//   pixel_norm_backward(be, x, r, dy, dx)    writes dx (x's shape)
// Backward (chain rule through r, with dr_n/dx[n, j] = -r_n^3 x[n, j] / F):
//   dx[n, j] = r_n dy[n, j] - (r_n^3 / F) x[n, j] * sum_f dy[n, f] x[n, f].
// The row sums are formed in double on both backends.
#pragma once

#include "hourglass/core/config.hpp"

#include <cmath>
#include <cstdint>
#include <string>

#include "hourglass/core/parallel.hpp"
#include "hourglass/ops/check.hpp"
#if HG_CPU_OPS
#include "hourglass/cpu/backend.hpp"
#endif

namespace hg {
class cuda;
}

namespace hg::ops {

/// DeepFaceLab's epsilon (core/leras/ops: x * rsqrt(mean(x^2) + 1e-06)).
inline constexpr double pixel_norm_epsilon = 1e-6;

namespace detail {

template <class B, class T>
void check_pixel_norm(const basic_tensor<T>& x, const basic_tensor<T>& r, const char* op) {
    check_arg<B>(x, x.shape(), op, "x");
    if (x.shape().rank() < 2 || x.shape()[0] < 1 || x.numel() < 1)
        throw shape_error(std::string(op) + ": 'x' must be [N, ...] with N >= 1 and at least one element per row, got " +
                          x.shape().str());
    check_arg<B>(r, shape{x.shape()[0]}, op, "r");
}

}  // namespace detail

#if HG_CPU_OPS
template <class T>
void pixel_norm_forward(const cpu_backend<T>& be, const basic_tensor<T>& x, const basic_tensor<T>& y,
                        const basic_tensor<T>& r) {
    detail::check_pixel_norm<cpu_backend<T>>(x, r, "pixel_norm_forward");
    detail::check_same<cpu_backend<T>>(y, x, "pixel_norm_forward", "y");
    const std::int64_t n = x.shape()[0], f = x.numel() / n;
    const T* xs = x.data();
    T* ys = y.data();
    T* rs = r.data();
    parallel_for(n, be.threads(), 1, [&](std::int64_t row) {
        const T* xr = xs + row * f;
        double ss = 0;
        for (std::int64_t i = 0; i < f; ++i) ss += double(xr[i]) * double(xr[i]);
        const T inv = static_cast<T>(1.0 / std::sqrt(ss / double(f) + pixel_norm_epsilon));
        rs[row] = inv;
        T* yr = ys + row * f;
        for (std::int64_t i = 0; i < f; ++i) yr[i] = xr[i] * inv;
    });
}

template <class T>
void pixel_norm_backward(const cpu_backend<T>& be, const basic_tensor<T>& x, const basic_tensor<T>& r,
                         const basic_tensor<T>& dy, const basic_tensor<T>& dx) {
    detail::check_pixel_norm<cpu_backend<T>>(x, r, "pixel_norm_backward");
    detail::check_same<cpu_backend<T>>(dy, x, "pixel_norm_backward", "dy");
    detail::check_same<cpu_backend<T>>(dx, x, "pixel_norm_backward", "dx");
    const std::int64_t n = x.shape()[0], f = x.numel() / n;
    const T *xs = x.data(), *rs = r.data(), *dys = dy.data();
    T* dxs = dx.data();
    parallel_for(n, be.threads(), 1, [&](std::int64_t row) {
        const T *xr = xs + row * f, *gr = dys + row * f;
        double dot = 0;
        for (std::int64_t i = 0; i < f; ++i) dot += double(gr[i]) * double(xr[i]);
        const double inv = double(rs[row]);
        const T a = static_cast<T>(inv), c = static_cast<T>(inv * inv * inv * dot / double(f));
        T* dr = dxs + row * f;
        for (std::int64_t i = 0; i < f; ++i) dr[i] = a * gr[i] - c * xr[i];
    });
}
#endif  // HG_CPU_OPS

// CUDA overloads (cuda/pixel_norm.cu). Same contract.
void pixel_norm_forward(const cuda& be, const tensor& x, const tensor& y, const tensor& r);
void pixel_norm_backward(const cuda& be, const tensor& x, const tensor& r, const tensor& dy, const tensor& dx);

}  // namespace hg::ops
