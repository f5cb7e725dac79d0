// CUDA pixel normalisation (ops/pixel_norm.hpp): one block per row (sample). The block sums the
// row's squares (forward) or dy.x (backward) in double, threads striding over the row so that
// consecutive threads read consecutive elements, then every thread scales its elements.
#include <cuda_runtime.h>

#include <cstdint>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/check.hpp"
#include "hourglass/ops/pixel_norm.hpp"

namespace hg::cuda_impl {

namespace {

constexpr int pixel_norm_threads = 256;  // a multiple of 32

/// The sum of v over the block, returned to every thread.
__device__ double block_sum(double v) {
    __shared__ double warp_sums[32];
    __shared__ double total;
    const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
    if (lane == 0) warp_sums[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < blockDim.x / 32 ? warp_sums[lane] : 0.0;
        for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
        if (lane == 0) total = v;
    }
    __syncthreads();
    return total;
}

__global__ void pixel_norm_forward_kernel(const float* x, float* y, float* r, std::int64_t f) {
    const float* xr = x + static_cast<std::int64_t>(blockIdx.x) * f;
    float* yr = y + static_cast<std::int64_t>(blockIdx.x) * f;
    double ss = 0;
    for (std::int64_t i = threadIdx.x; i < f; i += blockDim.x) ss += static_cast<double>(xr[i]) * xr[i];
    ss = block_sum(ss);
    const float inv = static_cast<float>(1.0 / sqrt(ss / static_cast<double>(f) + ops::pixel_norm_epsilon));
    if (threadIdx.x == 0) r[blockIdx.x] = inv;
    for (std::int64_t i = threadIdx.x; i < f; i += blockDim.x) yr[i] = xr[i] * inv;
}

__global__ void pixel_norm_backward_kernel(const float* x, const float* r, const float* dy, float* dx,
                                           std::int64_t f) {
    const std::int64_t base = static_cast<std::int64_t>(blockIdx.x) * f;
    double dot = 0;
    for (std::int64_t i = threadIdx.x; i < f; i += blockDim.x) dot += static_cast<double>(dy[base + i]) * x[base + i];
    dot = block_sum(dot);
    const double inv = r[blockIdx.x];
    const float a = static_cast<float>(inv), c = static_cast<float>(inv * inv * inv * dot / static_cast<double>(f));
    for (std::int64_t i = threadIdx.x; i < f; i += blockDim.x) dx[base + i] = a * dy[base + i] - c * x[base + i];
}

}  // namespace

}  // namespace hg::cuda_impl

namespace hg::ops {

void pixel_norm_forward(const cuda& be, const tensor& x, const tensor& y, const tensor& r) {
    detail::check_pixel_norm<cuda>(x, r, "pixel_norm_forward");
    detail::check_same<cuda>(y, x, "pixel_norm_forward", "y");
    const std::int64_t n = x.shape()[0], f = x.numel() / n;
    if (n > 0x7fffffff) throw shape_error("pixel_norm_forward: " + std::to_string(n) + " rows exceed one grid");
    cuda_impl::pixel_norm_forward_kernel<<<static_cast<unsigned>(n), cuda_impl::pixel_norm_threads, 0,
                                           static_cast<cudaStream_t>(be.stream())>>>(x.data(), y.data(), r.data(), f);
    HG_CUDA_CHECK_LAUNCH("pixel_norm_forward_kernel");
}

void pixel_norm_backward(const cuda& be, const tensor& x, const tensor& r, const tensor& dy, const tensor& dx) {
    detail::check_pixel_norm<cuda>(x, r, "pixel_norm_backward");
    detail::check_same<cuda>(dy, x, "pixel_norm_backward", "dy");
    detail::check_same<cuda>(dx, x, "pixel_norm_backward", "dx");
    const std::int64_t n = x.shape()[0], f = x.numel() / n;
    if (n > 0x7fffffff) throw shape_error("pixel_norm_backward: " + std::to_string(n) + " rows exceed one grid");
    cuda_impl::pixel_norm_backward_kernel<<<static_cast<unsigned>(n), cuda_impl::pixel_norm_threads, 0,
                                            static_cast<cudaStream_t>(be.stream())>>>(x.data(), r.data(), dy.data(),
                                                                                      dx.data(), f);
    HG_CUDA_CHECK_LAUNCH("pixel_norm_backward_kernel");
}

}  // namespace hg::ops
