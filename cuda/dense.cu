// CUDA dense layer: cuBLAS SGEMM on row-major tensors (a row-major [r, c] matrix is a column-major
// [c, r] one, so each product below is written for cuBLAS's column-major view), bias through the
// bias kernels. TF32 tensor-core math only when the backend asks for it (handle math mode).
//   forward          Y[N, out]  = X[N, in] W[out, in]^T + b       -> Yc = Wc^T Xc
//   backward-data    dX[N, in]  = dY[N, out] W[out, in]            -> dXc = Wc dYc
//   backward-filter  dW[out,in] += dY^T X, db += colsum(dY)        -> dWc += Xc dYc^T  (beta = 1)
#include <cublas_v2.h>

#include <climits>
#include <cstdint>

#include "backend_impl.cuh"
#include "hourglass/ops/bias.hpp"
#include "hourglass/ops/dense.hpp"

namespace hg::ops {

namespace {

int to_int(std::int64_t v, const char* what) {
    if (v > INT_MAX) throw shape_error(std::string("dense (cuda): ") + what + " = " + std::to_string(v) +
                                       " exceeds cuBLAS's 32-bit limit");
    return static_cast<int>(v);
}

cublasHandle_t handle_of(const cuda& be) { return static_cast<cublasHandle_t>(be.cublas_handle()); }

}  // namespace

void dense_forward(const cuda& be, std::int64_t n, std::int64_t in, std::int64_t out, const tensor& x, const tensor& w,
                   const tensor& b, const tensor& y) {
    detail::check_dense<cuda>(n, in, out, x, w, &b, y, "dense_forward", "x", "y");
    const float one = 1.f, zero = 0.f;
    HG_CUBLAS_CHECK(cublasSgemm(handle_of(be), CUBLAS_OP_T, CUBLAS_OP_N, to_int(out, "out"), to_int(n, "n"),
                                to_int(in, "in"), &one, w.data(), to_int(in, "in"), x.data(), to_int(in, "in"), &zero,
                                y.data(), to_int(out, "out")));
    if (b.defined()) bias_add(be, y.view(shape{n, out}), b);
}

void dense_backward_data(const cuda& be, std::int64_t n, std::int64_t in, std::int64_t out, const tensor& dy,
                         const tensor& w, const tensor& dx) {
    detail::check_dense<cuda>(n, in, out, dx, w, nullptr, dy, "dense_backward_data", "dx", "dy");
    const float one = 1.f, zero = 0.f;
    HG_CUBLAS_CHECK(cublasSgemm(handle_of(be), CUBLAS_OP_N, CUBLAS_OP_N, to_int(in, "in"), to_int(n, "n"),
                                to_int(out, "out"), &one, w.data(), to_int(in, "in"), dy.data(), to_int(out, "out"),
                                &zero, dx.data(), to_int(in, "in")));
}

void dense_backward_filter(const cuda& be, std::int64_t n, std::int64_t in, std::int64_t out, const tensor& x,
                           const tensor& dy, const tensor& dw, const tensor& db) {
    detail::check_dense<cuda>(n, in, out, x, dw, &db, dy, "dense_backward_filter", "x", "dy");
    const float one = 1.f;
    HG_CUBLAS_CHECK(cublasSgemm(handle_of(be), CUBLAS_OP_N, CUBLAS_OP_T, to_int(in, "in"), to_int(out, "out"),
                                to_int(n, "n"), &one, x.data(), to_int(in, "in"), dy.data(), to_int(out, "out"), &one,
                                dw.data(), to_int(in, "in")));
    if (db.defined()) bias_grad(be, dy.view(shape{n, out}), db);
}

}  // namespace hg::ops
