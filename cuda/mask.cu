// CUDA mask multiply and its backward (contracts in ops/mask.hpp): out = x * w and dx += dy * w with
// w = m * scale + offset, m broadcast over the channels ([N, H, W, 1]) or per element. One grid-stride
// pass; x/dy and out/dx move as float4 when both are 16-byte aligned, the mask is read per element
// (each mask value serves C neighbouring elements, so it comes from cache).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/check.hpp"
#include "hourglass/ops/check.hpp"
#include "hourglass/ops/mask.hpp"

namespace hg::cuda_impl {

namespace {

constexpr int mask_threads = 256;

unsigned mask_grid(const cuda& be, std::int64_t work) {
    int sms = 0;
    HG_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, be.device_index()));
    const std::int64_t cap = static_cast<std::int64_t>(std::max(sms, 1)) * 8;
    const std::int64_t needed = (work + mask_threads - 1) / mask_threads;
    return static_cast<unsigned>(std::clamp<std::int64_t>(needed, 1, cap));
}

bool aligned16(const float* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

}  // namespace

/// The mask weight of element i, rounded as the CPU computes it: m exactly when plain, otherwise
/// m * scale rounded, then + offset (no FMA contraction).
struct mask_weight {
    const float* m;
    std::int64_t per;  // x elements per mask element: C (broadcast) or 1
    float scale, offset;
    bool plain;
    __device__ __forceinline__ float operator()(std::int64_t i) const {
        const float v = m[i / per];
        return plain ? v : __fadd_rn(__fmul_rn(v, scale), offset);
    }
};

/// Accumulate = false: out[i] = x[i] * w(i); true: out[i] += x[i] * w(i) (product rounded first).
template <bool Accumulate>
__device__ __forceinline__ float apply_mask(float x, float w, float out) {
    if constexpr (Accumulate)
        return __fadd_rn(out, __fmul_rn(x, w));
    else
        return x * w;
}

template <bool Accumulate>
__global__ void mask_scalar_kernel(mask_weight w, const float* x, std::int64_t count, float* out) {
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
        out[i] = apply_mask<Accumulate>(x[i], w(i), Accumulate ? out[i] : 0.f);
}

/// x and out 16-byte aligned; groups of 4, then the count % 4 tail on the first threads of the grid.
template <bool Accumulate>
__global__ void mask_vec4_kernel(mask_weight w, const float* x, std::int64_t count, float* out) {
    const std::int64_t groups = count / 4;
    const std::int64_t first = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t g = first; g < groups; g += stride) {
        const float4 v = reinterpret_cast<const float4*>(x)[g];
        float4 o = make_float4(0.f, 0.f, 0.f, 0.f);
        if constexpr (Accumulate) o = reinterpret_cast<const float4*>(out)[g];
        const std::int64_t i = g * 4;
        o.x = apply_mask<Accumulate>(v.x, w(i), o.x);
        o.y = apply_mask<Accumulate>(v.y, w(i + 1), o.y);
        o.z = apply_mask<Accumulate>(v.z, w(i + 2), o.z);
        o.w = apply_mask<Accumulate>(v.w, w(i + 3), o.w);
        reinterpret_cast<float4*>(out)[g] = o;
    }
    const std::int64_t i = groups * 4 + first;
    if (i < count) out[i] = apply_mask<Accumulate>(x[i], w(i), Accumulate ? out[i] : 0.f);
}

template <bool Accumulate>
void launch_mask(const cuda& be, const mask_weight& w, const float* x, std::int64_t count, float* out) {
    const auto stream = static_cast<cudaStream_t>(be.stream());
    if (aligned16(x) && aligned16(out)) {
        // One block covers the up to 3 tail elements.
        mask_vec4_kernel<Accumulate><<<mask_grid(be, count / 4), mask_threads, 0, stream>>>(w, x, count, out);
        HG_CUDA_CHECK_LAUNCH("mask_vec4_kernel");
    } else {
        mask_scalar_kernel<Accumulate><<<mask_grid(be, count), mask_threads, 0, stream>>>(w, x, count, out);
        HG_CUDA_CHECK_LAUNCH("mask_scalar_kernel");
    }
}

}  // namespace hg::cuda_impl

namespace hg::ops {

void mask_multiply(const cuda& be, const tensor& x, const tensor& m, const tensor& out, float scale, float offset) {
    const std::int64_t per = detail::check_mask<cuda>(x, m, out, scale, offset, "mask_multiply", "x", "out");
    const cuda_impl::mask_weight w{m.data(), per, scale, offset, scale == 1.f && offset == 0.f};
    cuda_impl::launch_mask<false>(be, w, x.data(), x.numel(), out.data());
}

void mask_multiply_backward(const cuda& be, const tensor& dy, const tensor& m, const tensor& dx, float scale,
                            float offset) {
    const std::int64_t per =
        detail::check_mask<cuda>(dy, m, dx, scale, offset, "mask_multiply_backward", "dy", "dx");
    const cuda_impl::mask_weight w{m.data(), per, scale, offset, scale == 1.f && offset == 0.f};
    cuda_impl::launch_mask<true>(be, w, dy.data(), dy.numel(), dx.data());
}

}  // namespace hg::ops
