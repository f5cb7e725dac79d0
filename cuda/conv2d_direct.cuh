// Internal declarations shared by cuda/conv2d.cu (dispatch, cuDNN) and cuda/conv2d_direct.cu (the
// hand-written implicit-GEMM convolution kernels). Not installed.
#pragma once

#include "hourglass/cuda/backend.hpp"
#include "hourglass/math/conv_geometry.hpp"

namespace hg::cuda_impl {

/// Throws shape_error unless `d` is a complete, self-consistent problem: every extent >= 1 (the batch
/// may be 0), stride >= 1, pad >= 0 and oh/ow equal to (in + 2 * pad - r) / stride + 1.
void check_conv2d_geometry(const math::conv2d_dims& d, const char* op);

/// True when the direct kernels can index the problem (row counts and patch lengths fit in int).
bool conv2d_direct_supports(const math::conv2d_dims& d);

// The direct kernels, on be.stream(). Pointers are device pointers of the shapes in ops/conv2d.hpp;
// `d` has passed check_conv2d_geometry and conv2d_direct_supports, and d.n >= 1.

/// y = conv(x, w) + bias (bias may be null).
void conv2d_direct_forward(const cuda& be, const math::conv2d_dims& d, const float* x, const float* w,
                           const float* bias, float* y);
/// dx = dL/dx = the transposed convolution of dy with w (writes every element of dx).
void conv2d_direct_backward_data(const cuda& be, const math::conv2d_dims& d, const float* dy, const float* w,
                                 float* dx);
/// dw += dL/dw = dy^T * im2col(x) (the bias gradient is left to the caller: ops::bias_grad).
void conv2d_direct_backward_filter(const cuda& be, const math::conv2d_dims& d, const float* x, const float* dy,
                                   float* dw);

}  // namespace hg::cuda_impl
