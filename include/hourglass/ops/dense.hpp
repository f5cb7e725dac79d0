// Op contract: dense (fully connected), x [N, in], w [out, in], bias b [out] (may be undefined),
// y [N, out]. Tensors of other ranks are accepted when their element counts match (a flatten is free
// in NHWC).
//   dense_forward          writes y = x w^T + b.
//   dense_backward_data    writes dx = dy w.
//   dense_backward_filter  ADDS dy^T x to dw and the column sums of dy to db.
#pragma once

#include "hourglass/core/config.hpp"

#if HG_CPU_OPS
#include "hourglass/cpu/dense.hpp"
#endif
#include "hourglass/ops/check.hpp"

namespace hg {
class cuda;
}

namespace hg::ops {

namespace detail {
template <class B>
void check_dense(std::int64_t n, std::int64_t in, std::int64_t out, const tensor_of<B>& x, const tensor_of<B>& w,
                 const tensor_of<B>* b, const tensor_of<B>& y, const char* op, const char* xname, const char* yname) {
    check_arg<B>(x.defined() ? x.view(shape{x.shape().rank() ? x.shape()[0] : 0, x.shape().per_sample()}) : x,
                 shape{n, in}, op, xname);
    check_arg<B>(w, shape{out, in}, op, "w");
    if (b && b->defined()) check_arg<B>(*b, shape{out}, op, "b");
    check_arg<B>(y.defined() ? y.view(shape{y.shape().rank() ? y.shape()[0] : 0, y.shape().per_sample()}) : y,
                 shape{n, out}, op, yname);
}
}  // namespace detail

#if HG_CPU_OPS
template <class T>
void dense_forward(const cpu_backend<T>& be, std::int64_t n, std::int64_t in, std::int64_t out,
                   const basic_tensor<T>& x, const basic_tensor<T>& w, const basic_tensor<T>& b,
                   const basic_tensor<T>& y) {
    detail::check_dense<cpu_backend<T>>(n, in, out, x, w, &b, y, "dense_forward", "x", "y");
    cpu_impl::dense_forward(be, n, in, out, x.data(), w.data(), b.defined() ? b.data() : nullptr, y.data());
}

template <class T>
void dense_backward_data(const cpu_backend<T>& be, std::int64_t n, std::int64_t in, std::int64_t out,
                         const basic_tensor<T>& dy, const basic_tensor<T>& w, const basic_tensor<T>& dx) {
    detail::check_dense<cpu_backend<T>>(n, in, out, dx, w, nullptr, dy, "dense_backward_data", "dx", "dy");
    cpu_impl::dense_backward_data(be, n, in, out, dy.data(), w.data(), dx.data());
}

template <class T>
void dense_backward_filter(const cpu_backend<T>& be, std::int64_t n, std::int64_t in, std::int64_t out,
                           const basic_tensor<T>& x, const basic_tensor<T>& dy, const basic_tensor<T>& dw,
                           const basic_tensor<T>& db) {
    detail::check_dense<cpu_backend<T>>(n, in, out, x, dw, &db, dy, "dense_backward_filter", "x", "dy");
    cpu_impl::dense_backward_filter(be, n, in, out, x.data(), dy.data(), dw.data(),
                                    db.defined() ? db.data() : nullptr);
}

#endif  // HG_CPU_OPS

// CUDA overloads (cuda/dense.cu): cuBLAS matrix products, bias through our kernels. Same contract.
void dense_forward(const cuda& be, std::int64_t n, std::int64_t in, std::int64_t out, const tensor& x, const tensor& w,
                   const tensor& b, const tensor& y);
void dense_backward_data(const cuda& be, std::int64_t n, std::int64_t in, std::int64_t out, const tensor& dy,
                         const tensor& w, const tensor& dx);
void dense_backward_filter(const cuda& be, std::int64_t n, std::int64_t in, std::int64_t out, const tensor& x,
                           const tensor& dy, const tensor& dw, const tensor& db);

}  // namespace hg::ops
