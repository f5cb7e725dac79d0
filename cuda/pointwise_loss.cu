// CUDA pointwise losses (contracts in ops/pointwise_loss.hpp; per-element terms from
// math/pointwise_losses.hpp).
//  - forward: a two-stage sum without a host sync, as in cuda/reduce.cu: stage 1 has each block fold
//    term.value(pred - target) over a grid-stride share into one float64 partial in the backend's
//    workspace (float4 loads when pred and target share their misalignment), stage 2 (one block) adds
//    the partials and writes the mean into `value`.
//  - backward: one pass dpred += (weight / count) * term.grad(pred - target), float4 when all three
//    pointers are 16-byte aligned.
//  - L-inf: stage 1 gives each (n, c) plane S blocks; each block finds the largest |d| of its share of
//    the plane and the first index reaching it; stage 2 combines the S partials of each plane (the
//    forward sums the maxima into the mean, the backward adds the scaled sign at each arg-max).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/check.hpp"
#include "kernel_utils.cuh"
#include "hourglass/math/pointwise_losses.hpp"
#include "hourglass/ops/check.hpp"
#include "hourglass/ops/pointwise_loss.hpp"

namespace hg::cuda_impl {

namespace {

constexpr int loss_threads = 256;  // a multiple of 32, at most 1024 (the block reductions' limits)
constexpr int max_partials = 1024;

std::int64_t misalignment(const float* p) { return static_cast<std::int64_t>(reinterpret_cast<std::uintptr_t>(p) % 16); }

}  // namespace

/// Stage 1 of the forward: partial[blockIdx.x] = sum of term.value(pred[i] - target[i]) over this
/// block's share. With Vector, elements [head, head + 4 * groups) are read as float4 from both
/// inputs (which are 16-byte aligned there) and the up to 3 elements before and after go to the first
/// threads of the grid; without, every element is read singly.
template <bool Vector, class Term>
__global__ void pointwise_partials_kernel(Term term, const float* pred, const float* target, std::int64_t count,
                                          std::int64_t head, std::int64_t groups, double* partial) {
    const std::int64_t first = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    double acc = 0.0;
    if constexpr (Vector) {
        const auto* p4 = reinterpret_cast<const float4*>(pred + head);
        const auto* t4 = reinterpret_cast<const float4*>(target + head);
        for (std::int64_t g = first; g < groups; g += stride) {
            const float4 p = p4[g], t = t4[g];
            acc += static_cast<double>(term.value(p.x - t.x));
            acc += static_cast<double>(term.value(p.y - t.y));
            acc += static_cast<double>(term.value(p.z - t.z));
            acc += static_cast<double>(term.value(p.w - t.w));
        }
        const std::int64_t tail = head + groups * 4;
        if (first < head) acc += static_cast<double>(term.value(pred[first] - target[first]));
        if (first < count - tail) acc += static_cast<double>(term.value(pred[tail + first] - target[tail + first]));
    } else {
        for (std::int64_t i = first; i < count; i += stride)
            acc += static_cast<double>(term.value(pred[i] - target[i]));
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

/// Stage 2 (one block): value = (sum of the partials) / divisor.
__global__ void mean_finish_kernel(const double* partial, int parts, double divisor, float* value) {
    double acc = 0.0;
    for (int i = static_cast<int>(threadIdx.x); i < parts; i += static_cast<int>(blockDim.x)) acc += partial[i];
    acc = block_sum(acc);
    if (threadIdx.x == 0) value[0] = static_cast<float>(acc / divisor);
}

/// dpred[i] += scale * term.grad(pred[i] - target[i]); the product is rounded before the sum (no FMA
/// contraction), as the CPU computes it.
template <class Term>
__device__ __forceinline__ float accumulate_grad(const Term& term, float scale, float p, float t, float g) {
    return __fadd_rn(g, __fmul_rn(scale, term.grad(p - t)));
}

template <class Term>
__global__ void pointwise_backward_scalar_kernel(Term term, float scale, const float* pred, const float* target,
                                                 std::int64_t count, float* dpred) {
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
        dpred[i] = accumulate_grad(term, scale, pred[i], target[i], dpred[i]);
}

/// The same with 16-byte loads and stores (all three pointers 16-byte aligned); the count % 4 tail
/// elements go to the first threads of the grid.
template <class Term>
__global__ void pointwise_backward_vec4_kernel(Term term, float scale, const float* pred, const float* target,
                                               std::int64_t count, float* dpred) {
    const std::int64_t groups = count / 4;
    const std::int64_t first = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t g = first; g < groups; g += stride) {
        const float4 p = reinterpret_cast<const float4*>(pred)[g];
        const float4 t = reinterpret_cast<const float4*>(target)[g];
        float4 d = reinterpret_cast<float4*>(dpred)[g];
        d.x = accumulate_grad(term, scale, p.x, t.x, d.x);
        d.y = accumulate_grad(term, scale, p.y, t.y, d.y);
        d.z = accumulate_grad(term, scale, p.z, t.z, d.z);
        d.w = accumulate_grad(term, scale, p.w, t.w, d.w);
        reinterpret_cast<float4*>(dpred)[g] = d;
    }
    const std::int64_t i = groups * 4 + first;
    if (i < count) dpred[i] = accumulate_grad(term, scale, pred[i], target[i], dpred[i]);
}

template <class Term>
void launch_pointwise_forward(const cuda& be, const Term& term, const float* pred, const float* target,
                              std::int64_t count, float* value) {
    const auto stream = static_cast<cudaStream_t>(be.stream());
    const bool vector = misalignment(pred) == misalignment(target);
    const std::int64_t head = vector ? std::min(count, (16 - misalignment(pred)) % 16 / 4) : 0;
    const std::int64_t groups = vector ? (count - head) / 4 : 0;
    const int blocks = grid_blocks(be, vector ? groups : count, loss_threads, max_partials);
    auto* partial = static_cast<double*>(be.workspace(static_cast<std::size_t>(blocks) * sizeof(double)));
    if (vector) {
        // One block has enough threads for the up to 3 head and 3 tail elements.
        pointwise_partials_kernel<true><<<blocks, loss_threads, 0, stream>>>(term, pred, target, count, head, groups,
                                                                             partial);
    } else {
        pointwise_partials_kernel<false><<<blocks, loss_threads, 0, stream>>>(term, pred, target, count, 0, 0, partial);
    }
    HG_CUDA_CHECK_LAUNCH("pointwise_partials_kernel");
    mean_finish_kernel<<<1, loss_threads, 0, stream>>>(partial, blocks, static_cast<double>(count), value);
    HG_CUDA_CHECK_LAUNCH("mean_finish_kernel");
}

template <class Term>
void launch_pointwise_backward(const cuda& be, const Term& term, float scale, const float* pred, const float* target,
                               std::int64_t count, float* dpred) {
    const auto stream = static_cast<cudaStream_t>(be.stream());
    if (misalignment(pred) == 0 && misalignment(target) == 0 && misalignment(dpred) == 0) {
        pointwise_backward_vec4_kernel<<<grid_blocks(be, count / 4, loss_threads, INT32_MAX), loss_threads, 0, stream>>>(
            term, scale, pred, target, count, dpred);
        HG_CUDA_CHECK_LAUNCH("pointwise_backward_vec4_kernel");
    } else {
        pointwise_backward_scalar_kernel<<<grid_blocks(be, count, loss_threads, INT32_MAX), loss_threads, 0, stream>>>(
            term, scale, pred, target, count, dpred);
        HG_CUDA_CHECK_LAUNCH("pointwise_backward_scalar_kernel");
    }
}

// ---- L-inf ---------------------------------------------------------------------------------------

/// The running maximum of one plane: the largest |d| so far and the flat index of its first
/// occurrence.
struct arg_max {
    float value;
    std::int64_t index;
};

/// Whether a beats b: larger, NaN over a number, and on equal values (or two NaNs) the smaller index.
__device__ __forceinline__ bool beats(const arg_max& a, const arg_max& b) {
    const bool a_nan = a.value != a.value, b_nan = b.value != b.value;
    if (a_nan != b_nan) return a_nan;
    if (!a_nan && a.value != b.value) return a.value > b.value;
    return a.index < b.index;
}

/// The block's arg-max, valid in thread 0. blockDim.x must be a multiple of 32.
__device__ arg_max block_arg_max(arg_max v) {
    __shared__ float warp_values[32];
    __shared__ long long warp_indices[32];
    const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    for (int offset = 16; offset > 0; offset /= 2) {
        const arg_max other{__shfl_down_sync(0xffffffffu, v.value, offset),
                            static_cast<std::int64_t>(
                                __shfl_down_sync(0xffffffffu, static_cast<long long>(v.index), offset))};
        if (beats(other, v)) v = other;
    }
    if (lane == 0) {
        warp_values[warp] = v.value;
        warp_indices[warp] = static_cast<long long>(v.index);
    }
    __syncthreads();
    if (warp == 0) {
        v = lane < blockDim.x / 32 ? arg_max{warp_values[lane], static_cast<std::int64_t>(warp_indices[lane])}
                                   : arg_max{-1.f, INT64_MAX};
        for (int offset = 16; offset > 0; offset /= 2) {
            const arg_max other{__shfl_down_sync(0xffffffffu, v.value, offset),
                                static_cast<std::int64_t>(
                                    __shfl_down_sync(0xffffffffu, static_cast<long long>(v.index), offset))};
            if (beats(other, v)) v = other;
        }
    }
    return v;
}

/// Stage 1: block (plane, s) with plane = n * C + c scans pixels j = s * per_block + k (k <
/// per_block, j < hw) of the plane, element (n * hw + j) * C + c, and writes its arg-max to
/// values/indices[plane * splits + s]. A block with no pixels writes (-1, INT64_MAX), which loses to
/// every real element.
__global__ void linf_partials_kernel(const float* pred, const float* target, std::int64_t hw, std::int64_t channels,
                                     int splits, std::int64_t per_block, float* values, std::int64_t* indices) {
    const std::int64_t plane = blockIdx.x / splits;
    const int s = static_cast<int>(blockIdx.x % splits);
    const std::int64_t n = plane / channels, c = plane % channels;
    const std::int64_t lo = s * per_block, hi = lo + per_block < hw ? lo + per_block : hw;
    arg_max best{-1.f, INT64_MAX};
    for (std::int64_t j = lo + threadIdx.x; j < hi; j += blockDim.x) {
        const std::int64_t i = (n * hw + j) * channels + c;
        const arg_max here{fabsf(pred[i] - target[i]), i};
        if (beats(here, best)) best = here;
    }
    best = block_arg_max(best);
    if (threadIdx.x == 0) {
        values[blockIdx.x] = best.value;
        indices[blockIdx.x] = best.index;
    }
}

/// The arg-max of plane `plane` from its `splits` partials.
__device__ __forceinline__ arg_max plane_arg_max(const float* values, const std::int64_t* indices, std::int64_t plane,
                                                 int splits) {
    arg_max best{values[plane * splits], indices[plane * splits]};
    for (int s = 1; s < splits; ++s) {
        const arg_max other{values[plane * splits + s], indices[plane * splits + s]};
        if (beats(other, best)) best = other;
    }
    return best;
}

/// Forward stage 2 (one block): value = mean over planes of each plane's maximum.
__global__ void linf_value_kernel(const float* values, const std::int64_t* indices, std::int64_t planes, int splits,
                                  float* value) {
    double acc = 0.0;
    for (std::int64_t p = threadIdx.x; p < planes; p += blockDim.x)
        acc += static_cast<double>(plane_arg_max(values, indices, p, splits).value);
    acc = block_sum(acc);
    if (threadIdx.x == 0) value[0] = static_cast<float>(acc / static_cast<double>(planes));
}

/// Backward stage 2: for each plane, dpred[i*] += scale * sign(pred[i*] - target[i*]) at its arg-max
/// i* (distinct per plane, so no two threads touch the same element).
__global__ void linf_grad_kernel(const float* values, const std::int64_t* indices, std::int64_t planes, int splits,
                                 float scale, const float* pred, const float* target, float* dpred) {
    const std::int64_t p = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (p >= planes) return;
    const std::int64_t i = plane_arg_max(values, indices, p, splits).index;
    dpred[i] = __fadd_rn(dpred[i], __fmul_rn(scale, math::sign_of(pred[i] - target[i])));
}

/// Runs stage 1 into workspace partials; returns the number of splits per plane.
struct linf_partials {
    float* values;
    std::int64_t* indices;
    int splits;
};

linf_partials launch_linf_partials(const cuda& be, const tensor& pred, const tensor& target) {
    const shape& s = pred.shape();
    const std::int64_t hw = s.h() * s.w(), planes = s.n() * s.c();
    // Enough blocks for about one wave, but each block gets at least 1024 pixels (and the grid stays
    // within 2^31 - 1 blocks).
    const std::int64_t wave = std::int64_t{multiprocessors(be)} * 8;
    const std::int64_t by_wave = (wave + planes - 1) / planes;
    const std::int64_t by_size = (hw + 1023) / 1024;
    const int splits = static_cast<int>(std::clamp<std::int64_t>(std::min(by_wave, by_size), 1, 1024));
    const std::int64_t per_block = (hw + splits - 1) / splits;
    const std::int64_t blocks = planes * splits;
    if (blocks > INT32_MAX) throw shape_error("linf_loss: too many (sample, channel) planes: " + s.str());
    // One workspace call for both arrays: the indices first (8-byte aligned), then the values.
    auto* base = static_cast<unsigned char*>(
        be.workspace(static_cast<std::size_t>(blocks) * (sizeof(std::int64_t) + sizeof(float))));
    auto* indices = reinterpret_cast<std::int64_t*>(base);
    auto* values = reinterpret_cast<float*>(base + static_cast<std::size_t>(blocks) * sizeof(std::int64_t));
    linf_partials_kernel<<<static_cast<unsigned>(blocks), loss_threads, 0, static_cast<cudaStream_t>(be.stream())>>>(
        pred.data(), target.data(), hw, s.c(), splits, per_block, values, indices);
    HG_CUDA_CHECK_LAUNCH("linf_partials_kernel");
    return {values, indices, splits};
}

}  // namespace hg::cuda_impl

namespace hg::ops {

template <class Term>
void pointwise_loss_forward(const cuda& be, const Term& term, const tensor& pred, const tensor& target,
                            const tensor& value) {
    detail::check_pointwise_loss<cuda>(pred, target, value, true, "pointwise_loss_forward");
    cuda_impl::launch_pointwise_forward(be, term, pred.data(), target.data(), pred.numel(), value.data());
}

template <class Term>
void pointwise_loss_backward(const cuda& be, const Term& term, const tensor& pred, const tensor& target, double weight,
                             const tensor& dpred) {
    detail::check_pointwise_loss<cuda>(pred, target, dpred, false, "pointwise_loss_backward");
    detail::check_weight(weight, "pointwise_loss_backward");
    const auto scale = static_cast<float>(weight / static_cast<double>(pred.numel()));
    cuda_impl::launch_pointwise_backward(be, term, scale, pred.data(), target.data(), pred.numel(), dpred.data());
}

#define HG_POINTWISE_LOSS_INSTANTIATE(Term)                                                                    \
    template void pointwise_loss_forward<Term>(const cuda&, const Term&, const tensor&, const tensor&,          \
                                               const tensor&);                                                 \
    template void pointwise_loss_backward<Term>(const cuda&, const Term&, const tensor&, const tensor&, double, \
                                                const tensor&);
HG_POINTWISE_LOSS_INSTANTIATE(math::mae_fn)
HG_POINTWISE_LOSS_INSTANTIATE(math::mse_fn)
HG_POINTWISE_LOSS_INSTANTIATE(math::log_cosh_fn)
HG_POINTWISE_LOSS_INSTANTIATE(math::charbonnier_fn)
#undef HG_POINTWISE_LOSS_INSTANTIATE

void linf_loss_forward(const cuda& be, const tensor& pred, const tensor& target, const tensor& value) {
    detail::check_linf<cuda>(pred, target, value, true, "linf_loss_forward");
    const auto part = cuda_impl::launch_linf_partials(be, pred, target);
    const std::int64_t planes = pred.shape().n() * pred.shape().c();
    cuda_impl::linf_value_kernel<<<1, cuda_impl::loss_threads, 0, static_cast<cudaStream_t>(be.stream())>>>(
        part.values, part.indices, planes, part.splits, value.data());
    HG_CUDA_CHECK_LAUNCH("linf_value_kernel");
}

void linf_loss_backward(const cuda& be, const tensor& pred, const tensor& target, double weight, const tensor& dpred) {
    detail::check_linf<cuda>(pred, target, dpred, false, "linf_loss_backward");
    detail::check_weight(weight, "linf_loss_backward");
    const std::int64_t planes = pred.shape().n() * pred.shape().c();
    const auto scale = static_cast<float>(weight / static_cast<double>(planes));
    const auto part = cuda_impl::launch_linf_partials(be, pred, target);
    const auto blocks = static_cast<unsigned>((planes + cuda_impl::loss_threads - 1) / cuda_impl::loss_threads);
    cuda_impl::linf_grad_kernel<<<blocks, cuda_impl::loss_threads, 0, static_cast<cudaStream_t>(be.stream())>>>(
        part.values, part.indices, planes, part.splits, scale, pred.data(), target.data(), dpred.data());
    HG_CUDA_CHECK_LAUNCH("linf_grad_kernel");
}

}  // namespace hg::ops
