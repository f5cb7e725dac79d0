// Small pieces shared by our CUDA kernels (not installed): the block-wide double sum that the loss
// reductions use, the grid size of a grid-stride pass, and the alignment of carved workspace regions.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/check.hpp"

namespace hg::cuda_impl {

/// Sum of v over the block, valid in thread 0. blockDim.x must be a multiple of 32 (at most 1024).
/// May be called several times in one kernel: it waits before reusing its shared memory.
__device__ __forceinline__ double block_sum(double v) {
    __shared__ double warp_sums[32];
    const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
    __syncthreads();  // a previous call's warp 0 may still be reading warp_sums
    if (lane == 0) warp_sums[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < blockDim.x / 32 ? warp_sums[lane] : 0.0;
        for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
    }
    return v;
}

/// Streaming multiprocessors of the backend's device (at least 1).
inline int multiprocessors(const cuda& be) {
    int sms = 0;
    HG_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, be.device_index()));
    return std::max(sms, 1);
}

/// Blocks of `threads` for a grid-stride pass over `work` items: one item per thread, capped at one
/// full wave (8 blocks per SM) and at `cap`; at least one.
inline int grid_blocks(const cuda& be, std::int64_t work, int threads,
                       std::int64_t cap = std::int64_t{1} << 30) {
    const std::int64_t needed = (work + threads - 1) / threads;
    const std::int64_t wave = std::int64_t{multiprocessors(be)} * 8;
    return static_cast<int>(std::clamp<std::int64_t>(needed, 1, std::min(cap, wave)));
}

/// Rounds a byte count up to a multiple of 256, so regions carved from one workspace stay aligned.
inline std::size_t align_up(std::size_t bytes) { return (bytes + 255) / 256 * 256; }

}  // namespace hg::cuda_impl
