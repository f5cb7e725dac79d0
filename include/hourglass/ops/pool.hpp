// Op contract of 2x2 average pooling (the downsampling between MS-SSIM scales):
//   avg_pool2           x [N, H, W, C] -> out [N, ceil(H/2), ceil(W/2), C]   (written)
//                       out(i, j) = mean of x(2i, 2j), x(2i+1, 2j), x(2i, 2j+1), x(2i+1, 2j+1), where an
//                       index past the last row/column repeats the last one (an odd size is padded by
//                       one symmetric row/column, as tf.image.ssim_multiscale does)
//   avg_pool2_backward  dx = (or +=, with accumulate) the transpose applied to dy: dx(i, j) =
//                       dy(i/2, j/2) / 4, doubled along an axis for the repeated last row/column of an
//                       odd size (that element is averaged twice).
#pragma once

#include "hourglass/core/config.hpp"

#include <cstdint>
#include <string>

#if HG_CPU_OPS
#include "hourglass/cpu/backend.hpp"
#endif
#include "hourglass/math/ssim.hpp"
#include "hourglass/ops/check.hpp"

namespace hg {
class cuda;
}

namespace hg::ops {

namespace detail {
/// The pooled shape of an NHWC shape.
inline shape pool2_shape(const shape& s) {
    return shape{s.n(), math::pool2_extent(static_cast<int>(s.h())), math::pool2_extent(static_cast<int>(s.w())), s.c()};
}

template <class B, class T>
void check_pool2(const basic_tensor<T>& big, const basic_tensor<T>& small, const char* op, const char* big_name,
                 const char* small_name) {
    check_arg<B>(big, big.shape(), op, big_name);
    if (big.shape().rank() != 4 || big.numel() < 1)
        throw shape_error(std::string(op) + ": argument '" + big_name + "' must be a non-empty NHWC batch, got " +
                          big.shape().str());
    check_arg<B>(small, pool2_shape(big.shape()), op, small_name);
}
}  // namespace detail

#if HG_CPU_OPS
template <class T>
void avg_pool2(const cpu_backend<T>& be, const basic_tensor<T>& x, const basic_tensor<T>& out) {
    detail::check_pool2<cpu_backend<T>>(x, out, "avg_pool2", "x", "out");
    const int h = static_cast<int>(x.shape().h()), w = static_cast<int>(x.shape().w());
    const std::int64_t c = x.shape().c();
    const int ho = math::pool2_extent(h), wo = math::pool2_extent(w);
    const T* px = x.data();
    T* po = out.data();
    parallel_for(x.shape().n() * ho, be.threads(), 16, [&](std::int64_t row) {
        const std::int64_t n = row / ho;
        const int i = static_cast<int>(row % ho);
        const T* r0 = px + (n * h + 2 * i) * w * c;
        const T* r1 = px + (n * h + math::pool2_second(i, h)) * w * c;
        for (int j = 0; j < wo; ++j) {
            const std::int64_t a = 2 * j * c, b = math::pool2_second(j, w) * c;
            for (std::int64_t k = 0; k < c; ++k)
                po[(row * wo + j) * c + k] = T(0.25) * ((r0[a + k] + r0[b + k]) + (r1[a + k] + r1[b + k]));
        }
    });
}

template <class T>
void avg_pool2_backward(const cpu_backend<T>& be, const basic_tensor<T>& dy, const basic_tensor<T>& dx,
                        bool accumulate) {
    detail::check_pool2<cpu_backend<T>>(dx, dy, "avg_pool2_backward", "dx", "dy");
    const int h = static_cast<int>(dx.shape().h()), w = static_cast<int>(dx.shape().w());
    const std::int64_t c = dx.shape().c();
    const int wo = math::pool2_extent(w), ho = math::pool2_extent(h);
    const T* pdy = dy.data();
    T* pdx = dx.data();
    parallel_for(dx.shape().n() * h, be.threads(), 16, [&](std::int64_t row) {
        const std::int64_t n = row / h;
        const int i = static_cast<int>(row % h);
        const T fy = (h % 2 && i == h - 1) ? T(0.5) : T(0.25);  // the repeated last row counts twice
        const T* src = pdy + (n * ho + i / 2) * wo * c;
        for (int j = 0; j < w; ++j) {
            const T f = (w % 2 && j == w - 1) ? fy * T(2) : fy;
            for (std::int64_t k = 0; k < c; ++k) {
                const T v = f * src[(j / 2) * c + k];
                T& d = pdx[(row * w + j) * c + k];
                d = accumulate ? d + v : v;
            }
        }
    });
}
#endif  // HG_CPU_OPS

/// CUDA overloads (cuda/pool.cu). Same contracts.
void avg_pool2(const cuda& be, const tensor& x, const tensor& out);
void avg_pool2_backward(const cuda& be, const tensor& dy, const tensor& dx, bool accumulate);

}  // namespace hg::ops
