// CUDA bias_activation_forward: the one pass after a bias-free convolution,
// pre[row, k] += b[k]; y[row, k] = f(pre[row, k]), with f from math/activations.hpp.
#include <cuda_runtime.h>

#include <cstdint>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/check.hpp"
#include "hourglass/math/activations.hpp"
#include "hourglass/ops/bias.hpp"

namespace hg::cuda_impl {

template <class Fn>
__global__ void bias_activation_forward_kernel(Fn fn, const float* __restrict__ b, float* __restrict__ pre,
                                               float* __restrict__ y, std::int64_t count, std::int64_t channels) {
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
        const float v = pre[i] + b[i % channels];
        pre[i] = v;
        y[i] = fn.forward(v);
    }
}

}  // namespace hg::cuda_impl

namespace hg::ops {

template <class Fn>
void bias_activation_forward(const cuda& be, const Fn& fn, const tensor& b, const tensor& pre, const tensor& y) {
    detail::check_bias<cuda>(pre, b, "bias_activation_forward", "pre", "b");
    detail::check_same<cuda>(y, pre, "bias_activation_forward", "y");
    const std::int64_t count = pre.numel();
    if (count == 0) return;
    constexpr int threads = 256;
    const std::int64_t wanted = (count + threads - 1) / threads;
    const auto blocks = static_cast<unsigned>(wanted < 65535 * 8 ? wanted : 65535 * 8);
    cuda_impl::bias_activation_forward_kernel<<<blocks, threads, 0, static_cast<cudaStream_t>(be.stream())>>>(
        fn, b.data(), pre.data(), y.data(), count, b.numel());
    HG_CUDA_CHECK_LAUNCH("bias_activation_forward_kernel");
}

template void bias_activation_forward(const cuda&, const math::leaky_relu_fn&, const tensor&, const tensor&,
                                      const tensor&);
template void bias_activation_forward(const cuda&, const math::relu_fn&, const tensor&, const tensor&, const tensor&);
template void bias_activation_forward(const cuda&, const math::sigmoid_fn&, const tensor&, const tensor&,
                                      const tensor&);
template void bias_activation_forward(const cuda&, const math::tanh_fn&, const tensor&, const tensor&, const tensor&);

}  // namespace hg::ops
