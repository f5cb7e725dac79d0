// CUDA channel-range copy (ops/channels.hpp): one thread per copied element, grid-stride; element
// i of the count-wide range of row r reads src[r * src_c + src_first + k] and writes
// dst[r * dst_c + dst_first + k] (r = i / count, k = i % count), so consecutive threads touch
// consecutive channels of consecutive rows on both sides.
#include <cuda_runtime.h>

#include <cstdint>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/check.hpp"
#include "hourglass/ops/channels.hpp"
#include "kernel_utils.cuh"

namespace hg::cuda_impl {

namespace {

constexpr int channel_threads = 256;

__global__ void copy_channels_kernel(const float* src, std::int64_t src_c, std::int64_t src_first, float* dst,
                                     std::int64_t dst_c, std::int64_t dst_first, std::int64_t count,
                                     std::int64_t total) {
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
        const std::int64_t r = i / count, k = i - r * count;
        dst[r * dst_c + dst_first + k] = src[r * src_c + src_first + k];
    }
}

}  // namespace

}  // namespace hg::cuda_impl

namespace hg::ops {

void copy_channels(const cuda& be, const tensor& src, std::int64_t src_first, const tensor& dst,
                   std::int64_t dst_first, std::int64_t count) {
    detail::check_copy_channels<cuda>(src, src_first, dst, dst_first, count);
    const std::int64_t cs = src.shape()[src.shape().rank() - 1], cd = dst.shape()[dst.shape().rank() - 1];
    if (count == 0 || cs == 0) return;
    const std::int64_t total = src.numel() / cs * count;
    if (total == 0) return;
    const int grid = cuda_impl::grid_blocks(be, total, cuda_impl::channel_threads);
    cuda_impl::copy_channels_kernel<<<grid, cuda_impl::channel_threads, 0, static_cast<cudaStream_t>(be.stream())>>>(
        src.data(), cs, src_first, dst.data(), cd, dst_first, count, total);
    HG_CUDA_CHECK_LAUNCH("copy_channels_kernel");
}

}  // namespace hg::ops
