// Op contracts of the per-element ops. Every output is written (never accumulated) unless the
// name says so; inputs and outputs have equal shapes; in-place (out == input) is allowed.
//   activation_forward(fn)   y = f(x)
//   activation_backward(fn)  dx = dy * f'(x)   (uses x and y = f(x))
//   add                      out = a + b
//   axpy                     y += alpha * x
//   scale                    x *= alpha
//   fill / copy
//   depth_to_space           pixel shuffle x2 in TF order: [N,H,W,4C] -> [N,2H,2W,C]
//   space_to_depth           its inverse: [N,2H,2W,C] -> [N,H,W,4C]
#pragma once

#include "hourglass/core/config.hpp"

#if HG_CPU_OPS
#include "hourglass/cpu/elementwise.hpp"
#endif
#include "hourglass/ops/check.hpp"

namespace hg {
class cuda;
}

namespace hg::ops {

namespace detail {
template <class B, class T>
void check_shuffle(const basic_tensor<T>& small, const basic_tensor<T>& big, const char* op, const char* small_name,
                   const char* big_name) {
    check_arg<B>(big, big.shape(), op, big_name);
    const shape& s = big.shape();
    if (s.rank() != 4 || s.h() % 2 || s.w() % 2)
        throw shape_error(std::string(op) + ": argument '" + big_name + "' must be NHWC with even H and W, got " +
                          s.str());
    check_arg<B>(small, shape{s.n(), s.h() / 2, s.w() / 2, s.c() * 4}, op, small_name);
}
}  // namespace detail

#if HG_CPU_OPS
template <class T, class Fn>
void activation_forward(const cpu_backend<T>& be, const Fn& fn, const basic_tensor<T>& x, const basic_tensor<T>& y) {
    detail::check_arg<cpu_backend<T>>(x, x.shape(), "activation_forward", "x");
    detail::check_same<cpu_backend<T>>(y, x, "activation_forward", "y");
    cpu_impl::activation_forward(be, fn, x.numel(), x.data(), y.data());
}

template <class T, class Fn>
void activation_backward(const cpu_backend<T>& be, const Fn& fn, const basic_tensor<T>& x, const basic_tensor<T>& y,
                         const basic_tensor<T>& dy, const basic_tensor<T>& dx) {
    detail::check_arg<cpu_backend<T>>(x, x.shape(), "activation_backward", "x");
    detail::check_same<cpu_backend<T>>(y, x, "activation_backward", "y");
    detail::check_same<cpu_backend<T>>(dy, x, "activation_backward", "dy");
    detail::check_same<cpu_backend<T>>(dx, x, "activation_backward", "dx");
    cpu_impl::activation_backward(be, fn, x.numel(), x.data(), y.data(), dy.data(), dx.data());
}

template <class T>
void add(const cpu_backend<T>& be, const basic_tensor<T>& a, const basic_tensor<T>& b, const basic_tensor<T>& out) {
    detail::check_arg<cpu_backend<T>>(a, a.shape(), "add", "a");
    detail::check_same<cpu_backend<T>>(b, a, "add", "b");
    detail::check_same<cpu_backend<T>>(out, a, "add", "out");
    cpu_impl::add(be, a.numel(), a.data(), b.data(), out.data());
}

template <class T>
void axpy(const cpu_backend<T>& be, T alpha, const basic_tensor<T>& x, const basic_tensor<T>& y) {
    detail::check_arg<cpu_backend<T>>(x, x.shape(), "axpy", "x");
    detail::check_same<cpu_backend<T>>(y, x, "axpy", "y");
    cpu_impl::axpy(be, x.numel(), alpha, x.data(), y.data());
}

template <class T>
void scale(const cpu_backend<T>& be, T alpha, const basic_tensor<T>& x) {
    detail::check_arg<cpu_backend<T>>(x, x.shape(), "scale", "x");
    cpu_impl::scale(be, x.numel(), alpha, x.data());
}

template <class T>
void fill(const cpu_backend<T>& be, const basic_tensor<T>& x, T value) {
    detail::check_arg<cpu_backend<T>>(x, x.shape(), "fill", "x");
    cpu_impl::fill(be, x.numel(), value, x.data());
}

template <class T>
void copy(const cpu_backend<T>& be, const basic_tensor<T>& src, const basic_tensor<T>& dst) {
    detail::check_arg<cpu_backend<T>>(src, src.shape(), "copy", "src");
    detail::check_arg<cpu_backend<T>>(dst, dst.shape(), "copy", "dst");
    if (src.numel() != dst.numel())
        throw shape_error("copy: source " + src.shape().str() + " and destination " + dst.shape().str() +
                          " differ in element count");
    cpu_impl::copy(be, src.numel(), src.data(), dst.data());
}


/// in [N, H, W, 4C] -> out [N, 2H, 2W, C].
template <class T>
void depth_to_space(const cpu_backend<T>& be, const basic_tensor<T>& in, const basic_tensor<T>& out) {
    detail::check_shuffle<cpu_backend<T>>(in, out, "depth_to_space", "in", "out");
    const shape& s = out.shape();
    cpu_impl::depth_to_space(be, s.n(), s.h(), s.w(), s.c(), in.data(), out.data());
}

/// in [N, 2H, 2W, C] -> out [N, H, W, 4C].
template <class T>
void space_to_depth(const cpu_backend<T>& be, const basic_tensor<T>& in, const basic_tensor<T>& out) {
    detail::check_shuffle<cpu_backend<T>>(out, in, "space_to_depth", "out", "in");
    const shape& s = in.shape();
    cpu_impl::space_to_depth(be, s.n(), s.h(), s.w(), s.c(), in.data(), out.data());
}

#endif  // HG_CPU_OPS

// CUDA overloads (cuda/elementwise.cu, cuda/pixel_shuffle.cu). Same contracts. The activation
// templates are instantiated for math::leaky_relu_fn, relu_fn, sigmoid_fn and tanh_fn.
template <class Fn>
void activation_forward(const cuda& be, const Fn& fn, const tensor& x, const tensor& y);
template <class Fn>
void activation_backward(const cuda& be, const Fn& fn, const tensor& x, const tensor& y, const tensor& dy,
                         const tensor& dx);
void add(const cuda& be, const tensor& a, const tensor& b, const tensor& out);
void axpy(const cuda& be, float alpha, const tensor& x, const tensor& y);
void scale(const cuda& be, float alpha, const tensor& x);
void fill(const cuda& be, const tensor& x, float value);
void copy(const cuda& be, const tensor& src, const tensor& dst);
void depth_to_space(const cuda& be, const tensor& in, const tensor& out);
void space_to_depth(const cuda& be, const tensor& in, const tensor& out);

}  // namespace hg::ops
