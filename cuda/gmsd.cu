// CUDA GMSD (contract in ops/gmsd.hpp; per-pixel formulas in math/image_losses.hpp), without host
// synchronisation:
//   stats kernel   grid (blocks, N): each block sums (GMS - 1) and (GMS - 1)^2 in double over a
//                  grid-stride share of one image and writes the two partial sums;
//   finish kernel  one block: per image, adds its partials in a fixed order, forms sigma_n, and
//                  either writes value = mean_n sigma_n or the per-image backward factors;
//   backward       a map kernel writes dL/dgx, dL/dgy of the prediction per pixel into the
//                  workspace, then a gather kernel adds the transposed Prewitt stencil into dpred.
// Scratch (partials, per-image factors, gradient map) is carved from one be.workspace() call.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/check.hpp"
#include "kernel_utils.cuh"
#include "hourglass/math/image_losses.hpp"
#include "hourglass/ops/check.hpp"
#include "hourglass/ops/gmsd.hpp"

namespace hg::cuda_impl {

namespace {

constexpr int gmsd_threads = 256;  // a multiple of 32 (block_sum)
constexpr std::int64_t gmsd_max_blocks_per_image = 128;

}  // namespace

/// GMS at pixel index q (within one image) of pred and target; also the prediction's gradients
/// and magnitude, which the backward needs.
struct gms_sample {
    float gms, mp, mt, gxp, gyp;
};

__device__ __forceinline__ gms_sample gms_at(const float* p, const float* t, int hh, int ww, int cc, std::int64_t q,
                                             float c) {
    const int ch = static_cast<int>(q % cc);
    const int w = static_cast<int>((q / cc) % ww);
    const int h = static_cast<int>(q / (static_cast<std::int64_t>(cc) * ww));
    const float eps = static_cast<float>(math::gmsd_magnitude_eps);
    gms_sample s;
    float gxt, gyt;
    math::prewitt_at(p, hh, ww, cc, h, w, ch, s.gxp, s.gyp);
    math::prewitt_at(t, hh, ww, cc, h, w, ch, gxt, gyt);
    s.mp = math::gradient_magnitude(s.gxp, s.gyp, eps);
    s.mt = math::gradient_magnitude(gxt, gyt, eps);
    s.gms = math::gms(s.mp, s.mt, c);
    return s;
}

/// partial[(n * gridDim.x + block) * 2 + {0, 1}] = sums of (GMS - 1) and (GMS - 1)^2 over this
/// block's share of image n = blockIdx.y.
__global__ void gmsd_stats_kernel(const float* pred, const float* target, int hh, int ww, int cc, float c,
                                  double* partial) {
    const std::int64_t image = static_cast<std::int64_t>(hh) * ww * cc;
    const std::int64_t n = blockIdx.y;
    const float* p = pred + n * image;
    const float* t = target + n * image;
    double s1 = 0.0, s2 = 0.0;
    for (std::int64_t q = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; q < image;
         q += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
        const double d = static_cast<double>(gms_at(p, t, hh, ww, cc, q, c).gms) - 1.0;
        s1 += d;
        s2 += d * d;
    }
    s1 = block_sum(s1);
    s2 = block_sum(s2);
    if (threadIdx.x == 0) {
        const std::int64_t slot = n * gridDim.x + blockIdx.x;
        partial[2 * slot] = s1;
        partial[2 * slot + 1] = s2;
    }
}

/// One block. For each image: s1, s2 from its `parts` partials; sigma = sqrt(max(s2/K - (s1/K)^2, 0)).
/// value != nullptr: value[0] = mean_n sigma_n. factors != nullptr: factors[2n] = mean GMS,
/// factors[2n + 1] = weight / (N K sigma_n), or 0 when sigma_n is 0.
__global__ void gmsd_finish_kernel(const double* partial, int parts, int images, double k, double weight,
                                   float* value, float* factors) {
    double total = 0.0;
    for (int n = 0; n < images; ++n) {
        double s1 = 0.0, s2 = 0.0;
        for (int i = static_cast<int>(threadIdx.x); i < parts; i += static_cast<int>(blockDim.x)) {
            s1 += partial[2 * (static_cast<std::int64_t>(n) * parts + i)];
            s2 += partial[2 * (static_cast<std::int64_t>(n) * parts + i) + 1];
        }
        s1 = block_sum(s1);
        s2 = block_sum(s2);
        if (threadIdx.x == 0) {
            const double m = s1 / k;
            const double var = fmax(s2 / k - m * m, 0.0);
            const double sigma = sqrt(var);
            total += sigma;
            if (factors != nullptr) {
                factors[2 * n] = static_cast<float>(1.0 + m);
                factors[2 * n + 1] = sigma > 0.0 ? static_cast<float>(weight / (images * k * sigma)) : 0.f;
            }
        }
    }
    if (threadIdx.x == 0 && value != nullptr) value[0] = static_cast<float>(total / images);
}

/// g[2q], g[2q + 1] = dL/dgx, dL/dgy of the prediction at every pixel q of the batch:
/// factor * (GMS - mean) * dGMS/dm_pred * (gx, gy) / m_pred.
__global__ void gmsd_gradient_map_kernel(const float* pred, const float* target, int hh, int ww, int cc,
                                         std::int64_t total, float c, const float* factors, float* g) {
    const std::int64_t image = static_cast<std::int64_t>(hh) * ww * cc;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
         i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
        const std::int64_t n = i / image, q = i % image;
        const gms_sample s = gms_at(pred + n * image, target + n * image, hh, ww, cc, q, c);
        const float dgms = factors[2 * n + 1] * (s.gms - factors[2 * n]);
        const float dm = dgms * math::gms_grad_mp(s.mp, s.mt, c);
        g[2 * i] = dm * s.gxp / s.mp;
        g[2 * i + 1] = dm * s.gyp / s.mp;
    }
}

/// dpred[i] += the transposed Prewitt stencil applied to g at pixel i.
__global__ void gmsd_gather_kernel(const float* g, int hh, int ww, int cc, std::int64_t total, float* dpred) {
    const std::int64_t image = static_cast<std::int64_t>(hh) * ww * cc;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
         i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
        const std::int64_t n = i / image, q = i % image;
        const int ch = static_cast<int>(q % cc);
        const int w = static_cast<int>((q / cc) % ww);
        const int h = static_cast<int>(q / (static_cast<std::int64_t>(cc) * ww));
        dpred[i] += math::prewitt_transpose_at(g + 2 * n * image, hh, ww, cc, h, w, ch);
    }
}

namespace {

struct gmsd_geometry {
    int hh, ww, cc, images, parts;
    std::int64_t image, total;
};

gmsd_geometry geometry_of(const tensor& pred) {
    const shape& s = pred.shape();
    gmsd_geometry g{};
    g.hh = static_cast<int>(s.h());
    g.ww = static_cast<int>(s.w());
    g.cc = static_cast<int>(s.c());
    g.images = static_cast<int>(s.n());
    g.image = s.per_sample();
    g.total = s.numel();
    g.parts = static_cast<int>(std::clamp<std::int64_t>((g.image + gmsd_threads - 1) / gmsd_threads, 1,
                                                        gmsd_max_blocks_per_image));
    return g;
}

void launch_stats(const cuda& be, const gmsd_geometry& g, const tensor& pred, const tensor& target, float c,
                  double* partial) {
    const auto stream = static_cast<cudaStream_t>(be.stream());
    const dim3 grid(static_cast<unsigned>(g.parts), static_cast<unsigned>(g.images));
    gmsd_stats_kernel<<<grid, gmsd_threads, 0, stream>>>(pred.data(), target.data(), g.hh, g.ww, g.cc, c, partial);
    HG_CUDA_CHECK_LAUNCH("gmsd_stats_kernel");
}

}  // namespace

}  // namespace hg::cuda_impl

namespace hg::ops {

void gmsd_forward(const cuda& be, const tensor& pred, const tensor& target, const tensor& value, double c) {
    detail::check_gmsd<cuda>(pred, target, c);
    detail::check_gmsd_value<cuda>(value, "gmsd");
    const auto g = cuda_impl::geometry_of(pred);
    if (g.images > 65535) throw shape_error("gmsd: at most 65535 images per batch on the GPU, got " + pred.shape().str());
    auto* partial = static_cast<double*>(be.workspace(static_cast<std::size_t>(g.images) * g.parts * 2 * sizeof(double)));
    cuda_impl::launch_stats(be, g, pred, target, static_cast<float>(c), partial);
    const auto stream = static_cast<cudaStream_t>(be.stream());
    cuda_impl::gmsd_finish_kernel<<<1, cuda_impl::gmsd_threads, 0, stream>>>(
        partial, g.parts, g.images, static_cast<double>(g.image), 1.0, value.data(), nullptr);
    HG_CUDA_CHECK_LAUNCH("gmsd_finish_kernel");
}

void gmsd_backward(const cuda& be, const tensor& pred, const tensor& target, double weight, const tensor& dpred,
                   double c) {
    detail::check_gmsd<cuda>(pred, target, c);
    detail::check_arg<cuda>(dpred, pred.shape(), "gmsd", "dpred");
    const auto g = cuda_impl::geometry_of(pred);
    if (g.images > 65535) throw shape_error("gmsd: at most 65535 images per batch on the GPU, got " + pred.shape().str());
    // One workspace: partial sums | per-image factors | gradient map (2 floats per pixel).
    const std::size_t partial_bytes = cuda_impl::align_up(static_cast<std::size_t>(g.images) * g.parts * 2 * sizeof(double));
    const std::size_t factor_bytes = cuda_impl::align_up(static_cast<std::size_t>(g.images) * 2 * sizeof(float));
    const std::size_t map_bytes = static_cast<std::size_t>(g.total) * 2 * sizeof(float);
    auto* base = static_cast<char*>(be.workspace(partial_bytes + factor_bytes + map_bytes));
    auto* partial = reinterpret_cast<double*>(base);
    auto* factors = reinterpret_cast<float*>(base + partial_bytes);
    auto* map = reinterpret_cast<float*>(base + partial_bytes + factor_bytes);

    const auto stream = static_cast<cudaStream_t>(be.stream());
    const float cf = static_cast<float>(c);
    cuda_impl::launch_stats(be, g, pred, target, cf, partial);
    cuda_impl::gmsd_finish_kernel<<<1, cuda_impl::gmsd_threads, 0, stream>>>(
        partial, g.parts, g.images, static_cast<double>(g.image), weight, nullptr, factors);
    HG_CUDA_CHECK_LAUNCH("gmsd_finish_kernel");
    const auto blocks = static_cast<unsigned>(cuda_impl::grid_blocks(be, g.total, cuda_impl::gmsd_threads));
    cuda_impl::gmsd_gradient_map_kernel<<<blocks, cuda_impl::gmsd_threads, 0, stream>>>(
        pred.data(), target.data(), g.hh, g.ww, g.cc, g.total, cf, factors, map);
    HG_CUDA_CHECK_LAUNCH("gmsd_gradient_map_kernel");
    cuda_impl::gmsd_gather_kernel<<<blocks, cuda_impl::gmsd_threads, 0, stream>>>(map, g.hh, g.ww, g.cc, g.total,
                                                                                  dpred.data());
    HG_CUDA_CHECK_LAUNCH("gmsd_gather_kernel");
}

}  // namespace hg::ops
