// Op contracts of the per-channel bias ops on NHWC tensors (the channel is the last extent):
//   bias_add    y[..., k] += b[k]                    (in place on y)
//   bias_grad   db[k] += sum over all other indices of dy[..., k]   (accumulates: the gradient of a
//               bias broadcast over N, H, W is the sum of the output gradient over them)
//   bias_activation_forward(fn)   pre[..., k] += b[k]; y = f(pre)  (one pass after a convolution
//               computed without bias; pre is kept because the activation's backward needs it)
// The channel count is b.numel(); y / dy must hold a whole number of rows of it.
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
void check_bias(const basic_tensor<T>& y, const basic_tensor<T>& b, const char* op, const char* yname,
                const char* bname) {
    check_arg<B>(y, y.shape(), op, yname);
    check_arg<B>(b, shape{b.numel()}, op, bname);
    if (b.numel() < 1 || y.numel() % b.numel() != 0 || (y.shape().rank() > 0 && y.shape()[y.shape().rank() - 1] != b.numel()))
        throw shape_error(std::string(op) + ": '" + yname + "' of shape " + y.shape().str() +
                          " does not end in the channel count of '" + bname + "' " + b.shape().str());
}
}  // namespace detail

#if HG_CPU_OPS
template <class T>
void bias_add(const cpu_backend<T>& be, const basic_tensor<T>& y, const basic_tensor<T>& b) {
    detail::check_bias<cpu_backend<T>>(y, b, "bias_add", "y", "b");
    cpu_impl::bias_add(be, y.numel() / b.numel(), b.numel(), b.data(), y.data());
}

template <class T>
void bias_grad(const cpu_backend<T>& be, const basic_tensor<T>& dy, const basic_tensor<T>& db) {
    detail::check_bias<cpu_backend<T>>(dy, db, "bias_grad", "dy", "db");
    cpu_impl::bias_grad(be, dy.numel() / db.numel(), db.numel(), dy.data(), db.data());
}

template <class T, class Fn>
void bias_activation_forward(const cpu_backend<T>& be, const Fn& fn, const basic_tensor<T>& b,
                             const basic_tensor<T>& pre, const basic_tensor<T>& y) {
    detail::check_bias<cpu_backend<T>>(pre, b, "bias_activation_forward", "pre", "b");
    detail::check_same<cpu_backend<T>>(y, pre, "bias_activation_forward", "y");
    cpu_impl::bias_activation_forward(be, fn, pre.numel() / b.numel(), b.numel(), b.data(), pre.data(), y.data());
}

#endif  // HG_CPU_OPS

// CUDA overloads (cuda/bias.cu; bias_activation_forward in cuda/bias_activation.cu, instantiated for
// math::leaky_relu_fn, relu_fn, sigmoid_fn and tanh_fn).
void bias_add(const cuda& be, const tensor& y, const tensor& b);
void bias_grad(const cuda& be, const tensor& dy, const tensor& db);
template <class Fn>
void bias_activation_forward(const cuda& be, const Fn& fn, const tensor& b, const tensor& pre, const tensor& y);

}  // namespace hg::ops
