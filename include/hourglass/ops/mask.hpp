// Op contracts of the mask multiply used to weight losses by a mask. x is NHWC [N, H, W, C]; the mask
// m is [N, H, W, 1] (one value per pixel, broadcast over the channels) or [N, H, W, C]. The mask
// enters through the affine map  w = m * scale + offset  (scale 1, offset 0: w = m exactly), which is
// how a loss blends a mask with 1 (faceswap's mask_prop: scale = p, offset = 1 - p).
//   mask_multiply            out = x * w                 written; in place (out == x) allowed
//   mask_multiply_backward   dx += dy * w                accumulated (d(x * w)/dx = w)
#pragma once

#include "hourglass/core/config.hpp"

#include <cmath>
#include <cstdint>
#include <string>

#if HG_CPU_OPS
#include "hourglass/cpu/backend.hpp"
#endif
#include "hourglass/ops/check.hpp"

namespace hg {
class cuda;
}

namespace hg::ops {

namespace detail {
/// Checks x (NHWC, non-empty), the mask m ([N,H,W,1] or x's shape) and out (x's shape); returns the
/// number of x elements per mask element (C for a broadcast mask, 1 otherwise).
template <class B, class T>
std::int64_t check_mask(const basic_tensor<T>& x, const basic_tensor<T>& m, const basic_tensor<T>& out, float scale,
                        float offset, const char* op, const char* x_name, const char* out_name) {
    check_arg<B>(x, x.shape(), op, x_name);
    const shape& s = x.shape();
    if (s.rank() != 4 || s.numel() < 1)
        throw shape_error(std::string(op) + ": argument '" + x_name + "' must be a non-empty NHWC batch [N, H, W, C], got " +
                          s.str());
    if (!m.defined()) throw shape_error(std::string(op) + ": argument 'mask' is an empty tensor");
    require_device(m.device(), B::device, op, "mask");
    const shape per_pixel{s.n(), s.h(), s.w(), 1};
    if (m.shape() != per_pixel && m.shape() != s)
        throw shape_error(std::string(op) + ": the mask has shape " + m.shape().str() + ", expected " + per_pixel.str() +
                          " (one value per pixel) or " + s.str() + " (one per element)");
    check_arg<B>(out, s, op, out_name);
    if (!std::isfinite(scale) || !std::isfinite(offset))
        throw value_error(std::string(op) + ": the mask scale and offset must be finite");
    return m.numel() == x.numel() ? 1 : s.c();
}
}  // namespace detail

#if HG_CPU_OPS

template <class T>
void mask_multiply(const cpu_backend<T>& be, const basic_tensor<T>& x, const basic_tensor<T>& m,
                   const basic_tensor<T>& out, float scale = 1.f, float offset = 0.f) {
    const std::int64_t per = detail::check_mask<cpu_backend<T>>(x, m, out, scale, offset, "mask_multiply", "x", "out");
    const T* px = x.data();
    const T* pm = m.data();
    T* po = out.data();
    const T a = static_cast<T>(scale), b = static_cast<T>(offset);
    const bool plain = scale == 1.f && offset == 0.f;  // w = m exactly, no rounding of m * 1 + 0
    parallel_for(x.numel(), be.threads(), 16384, [&](std::int64_t i) {
        const T mv = pm[i / per];
        po[i] = px[i] * (plain ? mv : mv * a + b);
    });
}

template <class T>
void mask_multiply_backward(const cpu_backend<T>& be, const basic_tensor<T>& dy, const basic_tensor<T>& m,
                            const basic_tensor<T>& dx, float scale = 1.f, float offset = 0.f) {
    const std::int64_t per =
        detail::check_mask<cpu_backend<T>>(dy, m, dx, scale, offset, "mask_multiply_backward", "dy", "dx");
    const T* pd = dy.data();
    const T* pm = m.data();
    T* px = dx.data();
    const T a = static_cast<T>(scale), b = static_cast<T>(offset);
    const bool plain = scale == 1.f && offset == 0.f;
    parallel_for(dy.numel(), be.threads(), 16384, [&](std::int64_t i) {
        const T mv = pm[i / per];
        px[i] += pd[i] * (plain ? mv : mv * a + b);
    });
}

#endif  // HG_CPU_OPS

// CUDA overloads (cuda/mask.cu), same contracts.
void mask_multiply(const cuda& be, const tensor& x, const tensor& m, const tensor& out, float scale = 1.f,
                   float offset = 0.f);
void mask_multiply_backward(const cuda& be, const tensor& dy, const tensor& m, const tensor& dx, float scale = 1.f,
                            float offset = 0.f);

}  // namespace hg::ops
