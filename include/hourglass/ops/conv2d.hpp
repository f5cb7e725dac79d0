// Op contract: 2-D convolution, NHWC input x [N, H, W, C], filter w [K, R, R, C] (KRSC), bias b [K]
// (may be an undefined tensor: no bias), output y [N, OH, OW, K]; square kernel R, stride 1 or 2,
// symmetric zero padding R/2 (math/conv_geometry.hpp).
//   conv2d_forward          writes y.
//   conv2d_backward_data    writes dx (dL/dx); dx must not alias dy.
//   conv2d_backward_filter  ADDS dL/dw to dw and dL/db to db (gradient accumulation).
#pragma once

#include "hourglass/core/config.hpp"

#if HG_CPU_OPS
#include "hourglass/cpu/conv2d.hpp"
#include "hourglass/cpu/conv2d_winograd.hpp"
#endif
#include "hourglass/math/conv_geometry.hpp"
#include "hourglass/ops/check.hpp"

namespace hg {
class cuda;
}

namespace hg::ops {

namespace detail {
template <class B>
void check_conv2d(const math::conv2d_dims& d, const tensor_of<B>& x, const tensor_of<B>& w, const tensor_of<B>* b,
                  const tensor_of<B>& y, const char* op, const char* xname, const char* yname) {
    check_arg<B>(x, shape{d.n, d.h, d.w, d.c}, op, xname);
    check_arg<B>(w, shape{d.k, d.r, d.r, d.c}, op, "w");
    if (b && b->defined()) check_arg<B>(*b, shape{d.k}, op, "b");
    check_arg<B>(y, shape{d.n, d.oh, d.ow, d.k}, op, yname);
}
}  // namespace detail

#if HG_CPU_OPS
template <class T>
void conv2d_forward(const cpu_backend<T>& be, const math::conv2d_dims& d, const basic_tensor<T>& x,
                    const basic_tensor<T>& w, const basic_tensor<T>& b, const basic_tensor<T>& y) {
    detail::check_conv2d<cpu_backend<T>>(d, x, w, &b, y, "conv2d_forward", "x", "y");
    const T* bias = b.defined() ? b.data() : nullptr;
    switch (cpu_impl::conv_winograd_tile(be, d)) {
        case 2: return cpu_impl::conv2d_winograd_forward<2>(be, d, x.data(), w.data(), bias, y.data());
        case 4: return cpu_impl::conv2d_winograd_forward<4>(be, d, x.data(), w.data(), bias, y.data());
        default: return cpu_impl::conv2d_forward(be, d, x.data(), w.data(), bias, y.data());
    }
}

template <class T>
void conv2d_backward_data(const cpu_backend<T>& be, const math::conv2d_dims& d, const basic_tensor<T>& dy,
                          const basic_tensor<T>& w, const basic_tensor<T>& dx) {
    detail::check_conv2d<cpu_backend<T>>(d, dx, w, nullptr, dy, "conv2d_backward_data", "dx", "dy");
    switch (cpu_impl::conv_winograd_tile(be, d)) {
        case 2: return cpu_impl::conv2d_winograd_backward_data<2>(be, d, dy.data(), w.data(), dx.data());
        case 4: return cpu_impl::conv2d_winograd_backward_data<4>(be, d, dy.data(), w.data(), dx.data());
        default: return cpu_impl::conv2d_backward_data(be, d, dy.data(), w.data(), dx.data());
    }
}

template <class T>
void conv2d_backward_filter(const cpu_backend<T>& be, const math::conv2d_dims& d, const basic_tensor<T>& x,
                            const basic_tensor<T>& dy, const basic_tensor<T>& dw, const basic_tensor<T>& db) {
    detail::check_conv2d<cpu_backend<T>>(d, x, dw, &db, dy, "conv2d_backward_filter", "x", "dy");
    T* dbias = db.defined() ? db.data() : nullptr;
    switch (cpu_impl::conv_winograd_tile(be, d)) {
        case 2: return cpu_impl::conv2d_winograd_backward_filter<2>(be, d, x.data(), dy.data(), dw.data(), dbias);
        case 4: return cpu_impl::conv2d_winograd_backward_filter<4>(be, d, x.data(), dy.data(), dw.data(), dbias);
        default: return cpu_impl::conv2d_backward_filter(be, d, x.data(), dy.data(), dw.data(), dbias);
    }
}

#endif  // HG_CPU_OPS

// CUDA overloads (cuda/conv2d.cu): cuDNN with the algorithm chosen once per full problem and cached,
// or the hand-written implicit-GEMM kernel (cuda/conv2d_direct.cu) when cuDNN offers no algorithm or
// the backend's conv_engine is conv_engine::direct. Same contract as above.
void conv2d_forward(const cuda& be, const math::conv2d_dims& d, const tensor& x, const tensor& w, const tensor& b,
                    const tensor& y);
void conv2d_backward_data(const cuda& be, const math::conv2d_dims& d, const tensor& dy, const tensor& w,
                          const tensor& dx);
void conv2d_backward_filter(const cuda& be, const math::conv2d_dims& d, const tensor& x, const tensor& dy,
                            const tensor& dw, const tensor& db);

}  // namespace hg::ops
