// CUDA pixel shuffle x2 (TF depth-to-space order, NHWC): depth_to_space gathers each output
// element from its source, space_to_depth scatters each input element to the same place, both
// through math::depth_to_space_source, the index map the CPU backend uses.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/check.hpp"
#include "hourglass/math/pixel_shuffle.hpp"
#include "hourglass/ops/check.hpp"
#include "hourglass/ops/elementwise.hpp"

namespace hg::cuda_impl {

namespace {

constexpr int shuffle_threads = 256;

/// Blocks for `work` items: one item per thread, capped at one full wave of the device (8 blocks of
/// 256 threads per SM); the kernels grid-stride over the rest.
unsigned shuffle_grid(const cuda& be, std::int64_t work) {
    int sms = 0;
    HG_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, be.device_index()));
    const std::int64_t cap = static_cast<std::int64_t>(std::max(sms, 1)) * 8;
    const std::int64_t needed = (work + shuffle_threads - 1) / shuffle_threads;
    return static_cast<unsigned>(std::clamp<std::int64_t>(needed, 1, cap));
}

bool aligned16(const float* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

}  // namespace

// Both kernels walk the big tensor [N, big_h, big_w, big_c] in memory order, so consecutive
// threads touch consecutive channels on both sides: the small tensor's index is
// sub * big_c + c within a pixel, contiguous in c. Element type V is float, or float4 when big_c is
// a multiple of 4 (then every index and big_c count groups of 4 channels, and the index map holds
// unchanged because each group of 4 channels moves as a whole).

/// big[o] = small[source(o)] for every element o of the big (output) tensor.
template <class V>
__global__ void depth_to_space_kernel(const V* small, V* big, std::int64_t count, std::int64_t big_h,
                                      std::int64_t big_w, std::int64_t big_c) {
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t o = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < count; o += stride)
        big[o] = small[math::depth_to_space_source(o, big_h, big_w, big_c)];
}

/// small[source(o)] = big[o] for every element o of the big (input) tensor: the inverse permutation,
/// so every element of `small` is written exactly once.
template <class V>
__global__ void space_to_depth_kernel(const V* big, V* small, std::int64_t count, std::int64_t big_h,
                                      std::int64_t big_w, std::int64_t big_c) {
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t o = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < count; o += stride)
        small[math::depth_to_space_source(o, big_h, big_w, big_c)] = big[o];
}

/// Runs one of the two permutations over big = [n, h, w, c]; `to_big` picks depth_to_space.
void shuffle(const cuda& be, bool to_big, const shape& big_shape, const float* from, float* to) {
    const std::int64_t count = big_shape.numel();
    if (count == 0) return;
    const std::int64_t h = big_shape.h(), w = big_shape.w(), c = big_shape.c();
    const auto stream = static_cast<cudaStream_t>(be.stream());
    if (c % 4 == 0 && aligned16(from) && aligned16(to)) {
        const auto* src = reinterpret_cast<const float4*>(from);
        auto* dst = reinterpret_cast<float4*>(to);
        const unsigned grid = shuffle_grid(be, count / 4);
        if (to_big) {
            depth_to_space_kernel<<<grid, shuffle_threads, 0, stream>>>(src, dst, count / 4, h, w, c / 4);
            HG_CUDA_CHECK_LAUNCH("depth_to_space_kernel<float4>");
        } else {
            space_to_depth_kernel<<<grid, shuffle_threads, 0, stream>>>(src, dst, count / 4, h, w, c / 4);
            HG_CUDA_CHECK_LAUNCH("space_to_depth_kernel<float4>");
        }
    } else {
        const unsigned grid = shuffle_grid(be, count);
        if (to_big) {
            depth_to_space_kernel<<<grid, shuffle_threads, 0, stream>>>(from, to, count, h, w, c);
            HG_CUDA_CHECK_LAUNCH("depth_to_space_kernel<float>");
        } else {
            space_to_depth_kernel<<<grid, shuffle_threads, 0, stream>>>(from, to, count, h, w, c);
            HG_CUDA_CHECK_LAUNCH("space_to_depth_kernel<float>");
        }
    }
}

}  // namespace hg::cuda_impl

namespace hg::ops {

void depth_to_space(const cuda& be, const tensor& in, const tensor& out) {
    detail::check_shuffle<cuda>(in, out, "depth_to_space", "in", "out");
    cuda_impl::shuffle(be, true, out.shape(), in.data(), out.data());
}

void space_to_depth(const cuda& be, const tensor& in, const tensor& out) {
    detail::check_shuffle<cuda>(out, in, "space_to_depth", "out", "in");
    cuda_impl::shuffle(be, false, in.shape(), in.data(), out.data());
}

}  // namespace hg::ops
