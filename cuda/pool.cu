// CUDA 2x2 average pooling and its transpose (contracts in ops/pool.hpp; index maps from
// math/ssim.hpp). Both are gathers, one thread per output element, so the transpose needs no atomics.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/check.hpp"
#include "hourglass/math/ssim.hpp"
#include "hourglass/ops/pool.hpp"

namespace hg::cuda_impl {

namespace {

constexpr int pool_threads = 256;

unsigned pool_grid(const cuda& be, std::int64_t work) {
    int sms = 0;
    HG_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, be.device_index()));
    const std::int64_t needed = (work + pool_threads - 1) / pool_threads;
    return static_cast<unsigned>(std::clamp<std::int64_t>(needed, 1, std::int64_t{std::max(sms, 1)} * 8));
}

}  // namespace

/// out[n, i, j, c] = mean of the (up to) four inputs of the 2x2 window, the last row/column repeated.
__global__ void avg_pool2_kernel(const float* x, float* out, std::int64_t total, int h, int w, int c) {
    const int ho = math::pool2_extent(h), wo = math::pool2_extent(w);
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t e = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
        const int k = static_cast<int>(e % c);
        std::int64_t rest = e / c;
        const int j = static_cast<int>(rest % wo);
        rest /= wo;
        const int i = static_cast<int>(rest % ho);
        const std::int64_t n = rest / ho;
        const std::int64_t r0 = (n * h + 2 * i) * w, r1 = (n * h + math::pool2_second(i, h)) * w;
        const std::int64_t a = 2 * j, b = math::pool2_second(j, w);
        out[e] = 0.25f * ((x[(r0 + a) * c + k] + x[(r0 + b) * c + k]) + (x[(r1 + a) * c + k] + x[(r1 + b) * c + k]));
    }
}

/// dx[n, i, j, c] (=|+=) dy[n, i/2, j/2, c] / 4, doubled per axis for a repeated last row/column.
__global__ void avg_pool2_backward_kernel(const float* dy, float* dx, std::int64_t total, int h, int w, int c,
                                          bool accumulate) {
    const int ho = math::pool2_extent(h), wo = math::pool2_extent(w);
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t e = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
        const int k = static_cast<int>(e % c);
        std::int64_t rest = e / c;
        const int j = static_cast<int>(rest % w);
        rest /= w;
        const int i = static_cast<int>(rest % h);
        const std::int64_t n = rest / h;
        float f = (h % 2 && i == h - 1) ? 0.5f : 0.25f;
        if (w % 2 && j == w - 1) f *= 2.f;
        const float v = f * dy[((n * ho + i / 2) * wo + j / 2) * c + k];
        dx[e] = accumulate ? dx[e] + v : v;
    }
}

}  // namespace hg::cuda_impl

namespace hg::ops {

void avg_pool2(const cuda& be, const tensor& x, const tensor& out) {
    detail::check_pool2<cuda>(x, out, "avg_pool2", "x", "out");
    const shape& s = x.shape();
    const std::int64_t total = out.numel();
    cuda_impl::avg_pool2_kernel<<<cuda_impl::pool_grid(be, total), cuda_impl::pool_threads, 0,
                                  static_cast<cudaStream_t>(be.stream())>>>(
        x.data(), out.data(), total, static_cast<int>(s.h()), static_cast<int>(s.w()), static_cast<int>(s.c()));
    HG_CUDA_CHECK_LAUNCH("avg_pool2_kernel");
}

void avg_pool2_backward(const cuda& be, const tensor& dy, const tensor& dx, bool accumulate) {
    detail::check_pool2<cuda>(dx, dy, "avg_pool2_backward", "dx", "dy");
    const shape& s = dx.shape();
    const std::int64_t total = dx.numel();
    cuda_impl::avg_pool2_backward_kernel<<<cuda_impl::pool_grid(be, total), cuda_impl::pool_threads, 0,
                                           static_cast<cudaStream_t>(be.stream())>>>(
        dy.data(), dx.data(), total, static_cast<int>(s.h()), static_cast<int>(s.w()), static_cast<int>(s.c()),
        accumulate);
    HG_CUDA_CHECK_LAUNCH("avg_pool2_backward_kernel");
}

}  // namespace hg::ops
