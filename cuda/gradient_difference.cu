// CUDA pixel gradient difference loss (contract in ops/gradient_difference.hpp; per-pixel formulas
// in math/image_losses.hpp), without host synchronisation:
//   forward   each block sums the weighted |delta| of the terms anchored at a grid-stride share of
//             the pixels in double and writes one partial to the workspace; one finishing block
//             adds the partials in a fixed order and writes the value;
//   backward  one map kernel: dpred[i] += the gathered sign terms at pixel i (weight folded in).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/check.hpp"
#include "kernel_utils.cuh"
#include "hourglass/math/image_losses.hpp"
#include "hourglass/ops/check.hpp"
#include "hourglass/ops/gradient_difference.hpp"

namespace hg::cuda_impl {

namespace {

constexpr int gd_threads = 256;  // a multiple of 32 (block_sum)

}  // namespace

/// (h, w, c) of pixel q within one image.
struct pixel_pos {
    int h, w, c;
};

__device__ __forceinline__ pixel_pos position_of(std::int64_t q, int ww, int cc) {
    return {static_cast<int>(q / (static_cast<std::int64_t>(cc) * ww)), static_cast<int>((q / cc) % ww),
            static_cast<int>(q % cc)};
}

/// partial[block] = sum over this block's pixels of k . |deltas| (double coefficients and sums).
__global__ void gradient_difference_partials_kernel(const float* pred, const float* target, int hh, int ww, int cc,
                                                    std::int64_t total, math::gradient_difference_terms<double> k,
                                                    double* partial) {
    const std::int64_t image = static_cast<std::int64_t>(hh) * ww * cc;
    double acc = 0.0;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
         i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
        const std::int64_t n = i / image;
        const pixel_pos at = position_of(i % image, ww, cc);
        const auto d = math::gradient_difference_deltas_at(pred + n * image, target + n * image, hh, ww, cc, at.h, at.w,
                                                           at.c);
        acc += k.x * static_cast<double>(d.x) + k.y * static_cast<double>(d.y) + k.xx * static_cast<double>(d.xx) +
               k.yy * static_cast<double>(d.yy);
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

/// One block: value[0] = the sum of the partials.
__global__ void gradient_difference_finish_kernel(const double* partial, int parts, float* value) {
    double acc = 0.0;
    for (int i = static_cast<int>(threadIdx.x); i < parts; i += static_cast<int>(blockDim.x)) acc += partial[i];
    acc = block_sum(acc);
    if (threadIdx.x == 0) value[0] = static_cast<float>(acc);
}

/// dpred[i] += weight * dvalue/dpred[i] (the weight is folded into k).
__global__ void gradient_difference_backward_kernel(const float* pred, const float* target, int hh, int ww, int cc,
                                                    std::int64_t total, math::gradient_difference_terms<float> k,
                                                    float* dpred) {
    const std::int64_t image = static_cast<std::int64_t>(hh) * ww * cc;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
         i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
        const std::int64_t n = i / image;
        const pixel_pos at = position_of(i % image, ww, cc);
        dpred[i] += math::gradient_difference_grad_at(pred + n * image, target + n * image, hh, ww, cc, at.h, at.w, at.c,
                                                      k);
    }
}

}  // namespace hg::cuda_impl

namespace hg::ops {

void gradient_difference_forward(const cuda& be, const tensor& pred, const tensor& target, const tensor& value,
                                 double tv, double tv2) {
    detail::check_gradient_difference<cuda>(pred, target, tv, tv2);
    detail::check_gradient_difference_value<cuda>(value);
    const shape& s = pred.shape();
    const int blocks = cuda_impl::grid_blocks(be, s.numel(), cuda_impl::gd_threads);
    auto* partial = static_cast<double*>(be.workspace(static_cast<std::size_t>(blocks) * sizeof(double)));
    const auto stream = static_cast<cudaStream_t>(be.stream());
    cuda_impl::gradient_difference_partials_kernel<<<blocks, cuda_impl::gd_threads, 0, stream>>>(
        pred.data(), target.data(), static_cast<int>(s.h()), static_cast<int>(s.w()), static_cast<int>(s.c()), s.numel(),
        detail::gradient_difference_coefs<double>(s, tv, tv2, 1.0), partial);
    HG_CUDA_CHECK_LAUNCH("gradient_difference_partials_kernel");
    cuda_impl::gradient_difference_finish_kernel<<<1, cuda_impl::gd_threads, 0, stream>>>(partial, blocks, value.data());
    HG_CUDA_CHECK_LAUNCH("gradient_difference_finish_kernel");
}

void gradient_difference_backward(const cuda& be, const tensor& pred, const tensor& target, double weight,
                                  const tensor& dpred, double tv, double tv2) {
    detail::check_gradient_difference<cuda>(pred, target, tv, tv2);
    detail::check_arg<cuda>(dpred, pred.shape(), "gradient_difference", "dpred");
    const shape& s = pred.shape();
    const auto stream = static_cast<cudaStream_t>(be.stream());
    cuda_impl::gradient_difference_backward_kernel<<<cuda_impl::grid_blocks(be, s.numel(), cuda_impl::gd_threads), cuda_impl::gd_threads, 0,
                                                     stream>>>(
        pred.data(), target.data(), static_cast<int>(s.h()), static_cast<int>(s.w()), static_cast<int>(s.c()), s.numel(),
        detail::gradient_difference_coefs<float>(s, tv, tv2, weight), dpred.data());
    HG_CUDA_CHECK_LAUNCH("gradient_difference_backward_kernel");
}

}  // namespace hg::ops
