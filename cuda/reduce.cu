// CUDA full reductions (sum, mean, max_abs, l2_norm, min, max) into a 1-element device tensor, without a host
// sync: stage 1 has each block reduce a grid-stride share of x into one float64 partial in the
// backend's workspace; stage 2, a single block, combines the partials and writes the result.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/check.hpp"
#include "hourglass/ops/check.hpp"
#include "hourglass/ops/reduce.hpp"

namespace hg::cuda_impl {

namespace {

constexpr int reduce_threads = 256;  // a multiple of 32, at most 1024 (block_reduce's limits)
constexpr int max_partials = 1024;

}  // namespace

using ops::reduction;

/// max(a, b) that returns NaN when either is NaN (fmax would drop it).
__device__ __forceinline__ double nan_max(double a, double b) { return (a != a || a > b) ? a : b; }

/// min(a, b) that returns NaN when either is NaN.
__device__ __forceinline__ double nan_min(double a, double b) { return (a != a || a < b) ? a : b; }

/// The identity of each kind: 0 for the sums and for max_abs (which combines |x| >= 0), +-inf for
/// min and max.
template <reduction Kind>
__device__ __forceinline__ double identity() {
    if constexpr (Kind == reduction::min)
        return __longlong_as_double(0x7ff0000000000000ll);  // +inf
    else if constexpr (Kind == reduction::max)
        return __longlong_as_double(static_cast<long long>(0xfff0000000000000ull));  // -inf
    else
        return 0.0;
}

/// Folds a value (an element's term or another partial) into an accumulator.
template <reduction Kind>
__device__ __forceinline__ double combine(double acc, double v) {
    if constexpr (Kind == reduction::max_abs || Kind == reduction::max)
        return nan_max(acc, v);
    else if constexpr (Kind == reduction::min)
        return nan_min(acc, v);
    else
        return acc + v;
}

/// What one element contributes: x, |x| or x^2, in double like the CPU version.
template <reduction Kind>
__device__ __forceinline__ double term(float x) {
    const double v = static_cast<double>(x);
    if constexpr (Kind == reduction::max_abs)
        return fabs(v);
    else if constexpr (Kind == reduction::l2_norm)
        return v * v;
    else
        return v;
}

/// Reduces v over the block; the result is valid in thread 0. blockDim.x must be a multiple of 32.
template <reduction Kind>
__device__ double block_reduce(double v) {
    __shared__ double warp_results[32];
    const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    for (int offset = 16; offset > 0; offset /= 2) v = combine<Kind>(v, __shfl_down_sync(0xffffffffu, v, offset));
    if (lane == 0) warp_results[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < blockDim.x / 32 ? warp_results[lane] : identity<Kind>();
        for (int offset = 16; offset > 0; offset /= 2) v = combine<Kind>(v, __shfl_down_sync(0xffffffffu, v, offset));
    }
    return v;
}

/// Stage 1: partial[blockIdx.x] = this block's share of x. x[head, head + 4 * groups) is read as
/// float4 (16-byte aligned there); the up to 3 elements before and the up to 3 after it go to the
/// first threads of the grid.
template <reduction Kind>
__global__ void reduce_partials_kernel(const float* x, std::int64_t count, std::int64_t head, std::int64_t groups,
                                       double* partial) {
    const std::int64_t first = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    const auto* body = reinterpret_cast<const float4*>(x + head);
    double acc = identity<Kind>();
    for (std::int64_t g = first; g < groups; g += stride) {
        const float4 v = body[g];
        acc = combine<Kind>(acc, term<Kind>(v.x));
        acc = combine<Kind>(acc, term<Kind>(v.y));
        acc = combine<Kind>(acc, term<Kind>(v.z));
        acc = combine<Kind>(acc, term<Kind>(v.w));
    }
    const std::int64_t tail = head + groups * 4;
    if (first < head) acc = combine<Kind>(acc, term<Kind>(x[first]));
    if (first < count - tail) acc = combine<Kind>(acc, term<Kind>(x[tail + first]));
    acc = block_reduce<Kind>(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

/// Stage 2 (one block): combines the partials and applies the final step of mean and l2_norm.
template <reduction Kind>
__global__ void reduce_finish_kernel(const double* partial, int parts, std::int64_t count, float* out) {
    double acc = identity<Kind>();
    for (int i = static_cast<int>(threadIdx.x); i < parts; i += static_cast<int>(blockDim.x))
        acc = combine<Kind>(acc, partial[i]);
    acc = block_reduce<Kind>(acc);
    if (threadIdx.x == 0) {
        if constexpr (Kind == reduction::mean) acc /= static_cast<double>(count);
        if constexpr (Kind == reduction::l2_norm) acc = sqrt(acc);
        out[0] = static_cast<float>(acc);
    }
}

template <reduction Kind>
void launch_reduce(const cuda& be, const float* x, std::int64_t count, float* out) {
    const auto stream = static_cast<cudaStream_t>(be.stream());
    // Elements before the first 16-byte boundary (a float pointer is 4-byte aligned, so 0 to 3).
    const auto misalignment = static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(x) % 16);
    const std::int64_t head = std::min(count, (16 - misalignment) % 16 / 4);
    const std::int64_t groups = (count - head) / 4;

    int sms = 0;
    HG_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, be.device_index()));
    // One full wave (8 blocks of 256 threads per SM) at most; at least one block, which has enough
    // threads for the head and tail elements.
    const std::int64_t needed = (groups + reduce_threads - 1) / reduce_threads;
    const auto blocks = static_cast<int>(
        std::clamp<std::int64_t>(needed, 1, std::min<std::int64_t>(max_partials, std::int64_t{std::max(sms, 1)} * 8)));
    auto* partial = static_cast<double*>(be.workspace(static_cast<std::size_t>(blocks) * sizeof(double)));

    reduce_partials_kernel<Kind><<<blocks, reduce_threads, 0, stream>>>(x, count, head, groups, partial);
    HG_CUDA_CHECK_LAUNCH("reduce_partials_kernel");
    reduce_finish_kernel<Kind><<<1, reduce_threads, 0, stream>>>(partial, blocks, count, out);
    HG_CUDA_CHECK_LAUNCH("reduce_finish_kernel");
}

}  // namespace hg::cuda_impl

namespace hg::ops {

void reduce(const cuda& be, reduction kind, const tensor& x, const tensor& out) {
    detail::check_reduce<cuda>(x, out, "reduce");
    switch (kind) {
        case reduction::sum: cuda_impl::launch_reduce<reduction::sum>(be, x.data(), x.numel(), out.data()); return;
        case reduction::mean: cuda_impl::launch_reduce<reduction::mean>(be, x.data(), x.numel(), out.data()); return;
        case reduction::max_abs:
            cuda_impl::launch_reduce<reduction::max_abs>(be, x.data(), x.numel(), out.data());
            return;
        case reduction::l2_norm:
            cuda_impl::launch_reduce<reduction::l2_norm>(be, x.data(), x.numel(), out.data());
            return;
        case reduction::min: cuda_impl::launch_reduce<reduction::min>(be, x.data(), x.numel(), out.data()); return;
        case reduction::max: cuda_impl::launch_reduce<reduction::max>(be, x.data(), x.numel(), out.data()); return;
    }
    throw value_error("reduce: unknown reduction kind " + std::to_string(static_cast<int>(kind)));
}

}  // namespace hg::ops
