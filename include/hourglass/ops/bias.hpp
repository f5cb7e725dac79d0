// Op contracts of the per-channel bias ops on NHWC tensors (the channel is the last extent):
//   bias_add    y[..., k] += b[k]                    (in place on y)
//   bias_grad   db[k] += sum over all other indices of dy[..., k]   (accumulates: the gradient of a
//               bias broadcast over N, H, W is the sum of the output gradient over them)
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

#endif  // HG_CPU_OPS

// CUDA overloads (cuda/bias.cu).
void bias_add(const cuda& be, const tensor& y, const tensor& b);
void bias_grad(const cuda& be, const tensor& dy, const tensor& db);

}  // namespace hg::ops
