// CUDA Laplacian pyramid loss (contract in ops/laplacian_pyramid.hpp; per-pixel formulas in
// math/image_losses.hpp), without host synchronisation. One pyramid is built, of d = pred - target:
//   per level l < levels: a blur kernel writes f_l (and, in forward, per-block double sums of
//   4^-l / count_l * |x_l - f_l|), then a pooling kernel writes x_{l+1}; the last level adds
//   4^-levels / count * |x_levels|; one finishing block adds all partials in a fixed order.
//   Backward walks from the coarsest level down: g_levels = k sign(x_levels); per level a map
//   kernel writes u = k sign(band) and v = P^T g_{l+1} - u, and a gather kernel writes
//   g_l = u + B^T v (added into dpred at level 0).
// Scratch (all levels, the blur, u, v, g, partials) is carved from one be.workspace() call.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/check.hpp"
#include "kernel_utils.cuh"
#include "hourglass/math/image_losses.hpp"
#include "hourglass/ops/check.hpp"
#include "hourglass/ops/laplacian_pyramid.hpp"

namespace hg::cuda_impl {

namespace {

constexpr int lp_threads = 256;  // a multiple of 32 (block_sum)

}  // namespace

/// Extents of one level and the decomposition of a flat index into (image, h, w, c).
struct level_dims {
    int hh, ww, cc;
    std::int64_t count;
    __device__ std::int64_t image() const { return static_cast<std::int64_t>(hh) * ww * cc; }
};

struct lp_pos {
    std::int64_t n;
    int h, w, c;
};

__device__ __forceinline__ lp_pos lp_position(std::int64_t i, const level_dims& d) {
    const std::int64_t image = d.image(), q = i % image;
    return {i / image, static_cast<int>(q / (static_cast<std::int64_t>(d.cc) * d.ww)), static_cast<int>((q / d.cc) % d.ww),
            static_cast<int>(q % d.cc)};
}

#define HG_LP_GRID_STRIDE(i, count)                                                                   \
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (count); \
         i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)

__global__ void lp_difference_kernel(const float* pred, const float* target, std::int64_t count, float* d) {
    HG_LP_GRID_STRIDE(i, count) d[i] = pred[i] - target[i];
}

/// f = blur(x); with partial != nullptr, partial[blockIdx.x] = sum k * |x - f| over this block's share.
__global__ void lp_blur_kernel(const float* x, level_dims d, math::pyramid_taps<float> taps, double k, float* f,
                               double* partial) {
    const std::int64_t image = d.image();
    double acc = 0.0;
    HG_LP_GRID_STRIDE(i, d.count) {
        const lp_pos at = lp_position(i, d);
        const float fi = math::blur_at(x + at.n * image, d.hh, d.ww, d.cc, at.h, at.w, at.c, taps);
        f[i] = fi;
        acc += k * fabs(static_cast<double>(x[i] - fi));
    }
    if (partial != nullptr) {
        acc = block_sum(acc);
        if (threadIdx.x == 0) partial[blockIdx.x] = acc;
    }
}

/// next = 2x2 average pooling of f (f has the previous level's extents `from`).
__global__ void lp_pool_kernel(const float* f, level_dims from, level_dims to, float* next) {
    const std::int64_t image = from.image();
    HG_LP_GRID_STRIDE(i, to.count) {
        const lp_pos at = lp_position(i, to);
        next[i] = math::pool_at(f + at.n * image, from.ww, from.cc, at.h, at.w, at.c);
    }
}

/// partial[blockIdx.x] = sum k * |x| over this block's share (the low-pass remainder).
__global__ void lp_abs_kernel(const float* x, std::int64_t count, double k, double* partial) {
    double acc = 0.0;
    HG_LP_GRID_STRIDE(i, count) acc += k * fabs(static_cast<double>(x[i]));
    acc = block_sum(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

/// One block: value[0] = sum of all partials.
__global__ void lp_finish_kernel(const double* partial, int parts, float* value) {
    double acc = 0.0;
    for (int i = static_cast<int>(threadIdx.x); i < parts; i += static_cast<int>(blockDim.x)) acc += partial[i];
    acc = block_sum(acc);
    if (threadIdx.x == 0) value[0] = static_cast<float>(acc);
}

/// g = k * sign(x) (the gradient at the low-pass remainder).
__global__ void lp_last_gradient_kernel(const float* x, std::int64_t count, float k, float* g) {
    HG_LP_GRID_STRIDE(i, count) g[i] = k * math::sign_of(x[i]);
}

/// u = k * sign(x - blur(x)); v = P^T g_next - u.
__global__ void lp_residual_kernel(const float* x, level_dims d, level_dims next, math::pyramid_taps<float> taps,
                                   float k, const float* g_next, float* u, float* v) {
    const std::int64_t image = d.image(), image2 = next.image();
    HG_LP_GRID_STRIDE(i, d.count) {
        const lp_pos at = lp_position(i, d);
        const float ui = k * math::sign_of(math::band_at(x + at.n * image, d.hh, d.ww, d.cc, at.h, at.w, at.c, taps));
        u[i] = ui;
        v[i] = math::pool_transpose_at(g_next + at.n * image2, next.hh, next.ww, d.cc, at.h, at.w, at.c) - ui;
    }
}

/// out = u + B^T v, or out += u + B^T v when accumulate (level 0, into dpred).
__global__ void lp_gather_kernel(const float* u, const float* v, level_dims d, math::pyramid_taps<float> taps,
                                 bool accumulate, float* out) {
    const std::int64_t image = d.image();
    HG_LP_GRID_STRIDE(i, d.count) {
        const lp_pos at = lp_position(i, d);
        const float gi = u[i] + math::blur_transpose_at(v + at.n * image, d.hh, d.ww, d.cc, at.h, at.w, at.c, taps);
        if (accumulate)
            out[i] += gi;
        else
            out[i] = gi;
    }
}

#undef HG_LP_GRID_STRIDE

namespace {

/// Blocks for a grid-stride pass over `work` items: capped at one full wave (8 blocks of 256 per SM).
int lp_blocks(int sms, std::int64_t work) {
    const std::int64_t cap = static_cast<std::int64_t>(std::max(sms, 1)) * 8;
    return static_cast<int>(std::clamp<std::int64_t>((work + lp_threads - 1) / lp_threads, 1, cap));
}

level_dims dims_of(const ops::detail::pyramid_geometry& g, int l) {
    const auto i = static_cast<std::size_t>(l);
    return {g.h[i], g.w[i], static_cast<int>(g.c), g.count[i]};
}

/// Builds x_0 = pred - target, ..., x_levels in `levels_buf` (blurs through `blur`). With
/// partial != nullptr, writes the weighted |band| partial sums of every level, level after level
/// (blocks[l] of them for level l).
void build_pyramid(const cuda& be, const ops::detail::pyramid_geometry& g, const math::pyramid_taps<float>& taps,
                   const tensor& pred, const tensor& target, float* levels_buf, float* blur,
                   const std::vector<int>& blocks, double* partial) {
    const auto stream = static_cast<cudaStream_t>(be.stream());
    lp_difference_kernel<<<blocks[0], lp_threads, 0, stream>>>(pred.data(), target.data(), g.count[0], levels_buf);
    HG_CUDA_CHECK_LAUNCH("lp_difference_kernel");
    double* slot = partial;
    for (int l = 0; l < g.levels; ++l) {
        const auto li = static_cast<std::size_t>(l);
        const level_dims d = dims_of(g, l), next = dims_of(g, l + 1);
        lp_blur_kernel<<<blocks[li], lp_threads, 0, stream>>>(levels_buf + g.offset[li], d, taps, g.coef[li], blur, slot);
        HG_CUDA_CHECK_LAUNCH("lp_blur_kernel");
        lp_pool_kernel<<<blocks[li + 1], lp_threads, 0, stream>>>(blur, d, next, levels_buf + g.offset[li + 1]);
        HG_CUDA_CHECK_LAUNCH("lp_pool_kernel");
        if (slot != nullptr) slot += blocks[li];
    }
    if (slot != nullptr) {
        const auto last = static_cast<std::size_t>(g.levels);
        lp_abs_kernel<<<blocks[last], lp_threads, 0, stream>>>(levels_buf + g.offset[last], g.count[last], g.coef[last],
                                                                slot);
        HG_CUDA_CHECK_LAUNCH("lp_abs_kernel");
    }
}

}  // namespace

}  // namespace hg::cuda_impl

namespace hg::ops {

void laplacian_pyramid_forward(const cuda& be, const tensor& pred, const tensor& target, const tensor& value, int levels,
                               double sigma) {
    detail::check_laplacian_pyramid<cuda>(pred, target, levels, sigma);
    detail::check_laplacian_pyramid_value<cuda>(value);
    const auto g = detail::pyramid_of(pred.shape(), levels);
    const auto taps = math::make_pyramid_taps<float>(sigma);
    const int sms = cuda_impl::multiprocessors(be);
    std::vector<int> blocks;
    int parts = 0;
    for (int l = 0; l <= levels; ++l) {
        blocks.push_back(cuda_impl::lp_blocks(sms, g.count[static_cast<std::size_t>(l)]));
        parts += blocks.back();
    }
    // One workspace: partials | all levels | the blur of level 0's size.
    const std::size_t partial_bytes = cuda_impl::align_up(static_cast<std::size_t>(parts) * sizeof(double));
    const std::size_t levels_bytes = cuda_impl::align_up(static_cast<std::size_t>(g.total) * sizeof(float));
    auto* base = static_cast<char*>(
        be.workspace(partial_bytes + levels_bytes + static_cast<std::size_t>(g.count[0]) * sizeof(float)));
    auto* partial = reinterpret_cast<double*>(base);
    auto* levels_buf = reinterpret_cast<float*>(base + partial_bytes);
    auto* blur = reinterpret_cast<float*>(base + partial_bytes + levels_bytes);
    cuda_impl::build_pyramid(be, g, taps, pred, target, levels_buf, blur, blocks, partial);
    const auto stream = static_cast<cudaStream_t>(be.stream());
    cuda_impl::lp_finish_kernel<<<1, cuda_impl::lp_threads, 0, stream>>>(partial, parts, value.data());
    HG_CUDA_CHECK_LAUNCH("lp_finish_kernel");
}

void laplacian_pyramid_backward(const cuda& be, const tensor& pred, const tensor& target, double weight,
                                const tensor& dpred, int levels, double sigma) {
    detail::check_laplacian_pyramid<cuda>(pred, target, levels, sigma);
    detail::check_arg<cuda>(dpred, pred.shape(), "laplacian_pyramid", "dpred");
    const auto g = detail::pyramid_of(pred.shape(), levels);
    const auto taps = math::make_pyramid_taps<float>(sigma);
    const int sms = cuda_impl::multiprocessors(be);
    std::vector<int> blocks;
    for (int l = 0; l <= levels; ++l) blocks.push_back(cuda_impl::lp_blocks(sms, g.count[static_cast<std::size_t>(l)]));
    // One workspace: all levels | blur, u, v (level 0's size each) | g (level 1's size).
    const std::size_t n0 = cuda_impl::align_up(static_cast<std::size_t>(g.count[0]) * sizeof(float));
    const std::size_t levels_bytes = cuda_impl::align_up(static_cast<std::size_t>(g.total) * sizeof(float));
    auto* base = static_cast<char*>(
        be.workspace(levels_bytes + 3 * n0 + static_cast<std::size_t>(g.count[1]) * sizeof(float)));
    auto* levels_buf = reinterpret_cast<float*>(base);
    auto* blur = reinterpret_cast<float*>(base + levels_bytes);
    auto* u = reinterpret_cast<float*>(base + levels_bytes + n0);
    auto* v = reinterpret_cast<float*>(base + levels_bytes + 2 * n0);
    auto* grad = reinterpret_cast<float*>(base + levels_bytes + 3 * n0);
    cuda_impl::build_pyramid(be, g, taps, pred, target, levels_buf, blur, blocks, nullptr);

    const auto stream = static_cast<cudaStream_t>(be.stream());
    const auto last = static_cast<std::size_t>(levels);
    cuda_impl::lp_last_gradient_kernel<<<blocks[last], cuda_impl::lp_threads, 0, stream>>>(
        levels_buf + g.offset[last], g.count[last], static_cast<float>(weight * g.coef[last]), grad);
    HG_CUDA_CHECK_LAUNCH("lp_last_gradient_kernel");
    for (int l = levels - 1; l >= 0; --l) {
        const auto li = static_cast<std::size_t>(l);
        const auto d = cuda_impl::dims_of(g, l), next = cuda_impl::dims_of(g, l + 1);
        cuda_impl::lp_residual_kernel<<<blocks[li], cuda_impl::lp_threads, 0, stream>>>(
            levels_buf + g.offset[li], d, next, taps, static_cast<float>(weight * g.coef[li]), grad, u, v);
        HG_CUDA_CHECK_LAUNCH("lp_residual_kernel");
        cuda_impl::lp_gather_kernel<<<blocks[li], cuda_impl::lp_threads, 0, stream>>>(u, v, d, taps, l == 0,
                                                                                     l == 0 ? dpred.data() : grad);
        HG_CUDA_CHECK_LAUNCH("lp_gather_kernel");
    }
}

}  // namespace hg::ops
