// CPU dense (fully connected) layer math with Eigen. X[N, in], W[out, in], b[out]:
//   forward:         Y = X W^T + b
//   backward-data:   dX = dY W                     (written)
//   backward-filter: dW += dY^T X,  db += sum over N of dY   (accumulated)
#pragma once

#include <Eigen/Core>
#include <cstdint>

#include "hourglass/cpu/backend.hpp"
#include "hourglass/cpu/conv2d.hpp"

namespace hg::cpu_impl {

template <class T>
void dense_forward(const cpu_backend<T>& be, std::int64_t n, std::int64_t in, std::int64_t out, const T* x, const T* w,
                   const T* bias, T* y) {
    const auto product_threads = be.product_threads();
    Eigen::Map<row_matrix<T>> ym(y, n, out);
    ym.noalias() = const_matrix_map<T>(x, n, in) * const_matrix_map<T>(w, out, in).transpose();
    if (bias) ym.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(bias, out);
}

template <class T>
void dense_backward_data(const cpu_backend<T>& be, std::int64_t n, std::int64_t in, std::int64_t out, const T* dy,
                         const T* w, T* dx) {
    const auto product_threads = be.product_threads();
    Eigen::Map<row_matrix<T>>(dx, n, in).noalias() = const_matrix_map<T>(dy, n, out) * const_matrix_map<T>(w, out, in);
}

template <class T>
void dense_backward_filter(const cpu_backend<T>& be, std::int64_t n, std::int64_t in, std::int64_t out, const T* x,
                           const T* dy, T* dw, T* dbias) {
    const auto product_threads = be.product_threads();
    Eigen::Map<row_matrix<T>>(dw, out, in).noalias() +=
        const_matrix_map<T>(dy, n, out).transpose() * const_matrix_map<T>(x, n, in);
    if (dbias)
        Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>(dbias, out) += const_matrix_map<T>(dy, n, out).colwise().sum();
}

}  // namespace hg::cpu_impl
