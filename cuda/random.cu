// CUDA fill_uniform: element i = random_uniform(seed, stream_id, i, lo, hi), the same counter-based
// Philox stream as the CPU backend (core/rng.hpp). One thread computes one Philox block (4 values).
#include <cuda_runtime.h>

#include <cstdint>

#include "hourglass/core/rng.hpp"
#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/check.hpp"
#include "hourglass/ops/check.hpp"

namespace hg::cuda_impl {

__global__ void fill_uniform_kernel(float* x, std::int64_t count, std::uint64_t seed, std::uint64_t stream_id,
                                    float lo, float hi) {
    const std::int64_t block = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const std::int64_t first = block * 4;
    if (first >= count) return;
    const std::uint64_t b = static_cast<std::uint64_t>(block);
    const philox_block r = philox4x32(static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(b >> 32),
                                      static_cast<std::uint32_t>(stream_id),
                                      static_cast<std::uint32_t>(stream_id >> 32), static_cast<std::uint32_t>(seed),
                                      static_cast<std::uint32_t>(seed >> 32));
    for (int j = 0; j < 4 && first + j < count; ++j) x[first + j] = bits_to_uniform(r.v[j], lo, hi);
}

}  // namespace hg::cuda_impl

namespace hg::ops {

void fill_uniform(const cuda& be, const basic_tensor<float>& x, std::uint64_t seed, std::uint64_t stream_id, float lo,
                  float hi) {
    detail::check_arg<cuda>(x, x.shape(), "fill_uniform", "x");
    const std::int64_t blocks_needed = (x.numel() + 3) / 4;
    if (blocks_needed == 0) return;
    constexpr int threads = 256;
    const auto grid = static_cast<unsigned>((blocks_needed + threads - 1) / threads);
    cuda_impl::fill_uniform_kernel<<<grid, threads, 0, static_cast<cudaStream_t>(be.stream())>>>(
        x.data(), x.numel(), seed, stream_id, lo, hi);
    HG_CUDA_CHECK_LAUNCH("fill_uniform_kernel");
}

}  // namespace hg::ops
