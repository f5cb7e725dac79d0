// CUDA SSIM ops (contracts in ops/ssim.hpp; per-position formulas in math/ssim.hpp).
//
// Every kernel works on tiles of 16 x 32 positions of one image, all channels, with 256 threads:
//   ssim_pass_kernel       (forward and the first backward pass) loads the tile of x and y plus its
//                          halo of window - 1 rows and columns into shared memory once, then per
//                          channel filters the five statistics horizontally (into shared memory) and
//                          vertically (in registers) and evaluates the per-position terms. Forward:
//                          the SSIM map and/or per-tile sums of SSIM and cs (float64, one slot per
//                          tile, image and channel: deterministic, no atomics); ssim_finish_kernel
//                          turns those into the means. Backward: the three derivative maps
//                          D_mx, D_exx, D_exy (the intermediate, 3 floats per position).
//   ssim_transpose_kernel  (second backward pass) loads the tile of the three maps plus halo, applies
//                          the transposed window G^T separably (folding reflected taps back onto the
//                          pixels they read, for 'same') and adds D_mx' + 2 x D_exx' + y D_exy' to dx.
// So the forward reads the images once, the backward reads them twice and the maps once.
// ssim_combine_kernel (one block) evaluates the losses' final products and their derivatives.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/check.hpp"
#include "hourglass/math/ssim.hpp"
#include "hourglass/ops/ssim.hpp"

namespace hg::cuda_impl {

namespace {

constexpr int tile_h = 16;  // output rows per tile
constexpr int tile_w = 32;  // output columns per tile (one warp wide)
constexpr int ssim_threads = 256;
constexpr int thread_rows = ssim_threads / tile_w;  // 8: each thread owns tile_h / 8 = 2 positions
static_assert(tile_h % thread_rows == 0, "tile rows must split evenly over the thread rows");

struct taps_t {
    float g[math::ssim_max_window];
};

/// Extents of one evaluation. shift: how far left/up of an output position its window starts
/// ((window - 1) / 2 for 'same', 0 for 'valid').
struct geometry {
    int h, w, c, ho, wo, f, shift, tiles_x;
    bool same;
};

/// The input row (or column) that tile-local input index r of a tile starting at output o0 reads,
/// or -1 where no output of the image needs it.
__device__ __forceinline__ int source_index(const geometry& g, int o0, int r, int n) {
    const int u = o0 + r - g.shift;
    if (g.same) return (u < -g.shift || u > n - 1 + g.f - 1 - g.shift) ? -1 : math::reflect_index(u, n);
    return u < n ? u : -1;
}

/// Copies the tile of img (rows/columns source_index(...)) with all channels into s, 0 where unused.
__device__ void load_image_tile(const float* img, float* s, const geometry& g, std::int64_t n, int y0, int x0) {
    const int rows = tile_h + g.f - 1, cols = tile_w + g.f - 1, row_len = cols * g.c;
    for (int e = static_cast<int>(threadIdx.x); e < rows * row_len; e += ssim_threads) {
        const int r = e / row_len, rem = e - r * row_len, col = rem / g.c, ch = rem - col * g.c;
        const int gy = source_index(g, y0, r, g.h), gx = source_index(g, x0, col, g.w);
        s[e] = (gy >= 0 && gx >= 0) ? img[((n * g.h + gy) * g.w + gx) * g.c + ch] : 0.f;
    }
}

/// Sum of v over the block into thread 0's return value (all threads must call it).
__device__ double block_sum(double v, double* scratch) {
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
    const int lane = static_cast<int>(threadIdx.x % 32), warp = static_cast<int>(threadIdx.x / 32);
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    double total = 0.0;
    if (threadIdx.x == 0)
        for (int i = 0; i < ssim_threads / 32; ++i) total += scratch[i];
    __syncthreads();  // scratch is reused by the next call
    return total;
}

}  // namespace

/// One pass over a tile (see the file comment). Backward == false: writes map (if not null) and the
/// per-tile sums partial[((n C + c) 2 + k) tiles + tile] (if not null). Backward == true: writes
/// dmaps[m plane + ((n ho + oy) wo + ox) C + c], m = 0, 1, 2 for D_mx, D_exx, D_exy, with the
/// coefficients (a, b) = (coef[n, c, 0], coef[n, c, 1]) or (coef_ssim, coef_cs), over positions;
/// or, when dmap is not null, (a, b) = (dmap[position], 0).
template <bool Backward>
__global__ void __launch_bounds__(ssim_threads)
    ssim_pass_kernel(const float* x, const float* y, geometry g, taps_t taps, float c1, float c2, float* map,
                     double* partial, const float* coef, float coef_ssim, float coef_cs, float inv_positions,
                     const float* dmap, float* dmaps) {
    extern __shared__ float smem[];
    __shared__ double reduce_scratch[ssim_threads / 32];
    const int rows_in = tile_h + g.f - 1, cols_in = tile_w + g.f - 1;
    float* sx = smem;
    float* sy = sx + rows_in * cols_in * g.c;
    float* hs = sy + rows_in * cols_in * g.c;  // [5][rows_in][tile_w], one channel at a time
    const int hs_plane = rows_in * tile_w;
    const std::int64_t n = blockIdx.y;
    const int tile = static_cast<int>(blockIdx.x);
    const int y0 = (tile / g.tiles_x) * tile_h, x0 = (tile % g.tiles_x) * tile_w;
    load_image_tile(x, sx, g, n, y0, x0);
    load_image_tile(y, sy, g, n, y0, x0);
    __syncthreads();

    const int tx = static_cast<int>(threadIdx.x) % tile_w, trow = static_cast<int>(threadIdx.x) / tile_w;
    const std::int64_t plane = static_cast<std::int64_t>(gridDim.y) * g.ho * g.wo * g.c;
    for (int ch = 0; ch < g.c; ++ch) {
        // Horizontal pass over every input row of the tile.
        for (int e = static_cast<int>(threadIdx.x); e < hs_plane; e += ssim_threads) {
            const int r = e / tile_w, j = e - r * tile_w;
            const float* px = sx + (r * cols_in + j) * g.c + ch;
            const float* py = sy + (r * cols_in + j) * g.c + ch;
            float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f, s4 = 0.f;
#pragma unroll
            for (int k = 0; k < math::ssim_max_window; ++k) {
                if (k < g.f) {
                    const float a = px[k * g.c], b = py[k * g.c], w = taps.g[k];
                    s0 += w * a;
                    s1 += w * b;
                    s2 += w * (a * a);
                    s3 += w * (b * b);
                    s4 += w * (a * b);
                }
            }
            hs[e] = s0;
            hs[hs_plane + e] = s1;
            hs[2 * hs_plane + e] = s2;
            hs[3 * hs_plane + e] = s3;
            hs[4 * hs_plane + e] = s4;
        }
        __syncthreads();
        // Vertical pass and the per-position terms.
        float sum_ssim = 0.f, sum_cs = 0.f;
        float a = coef_ssim, b = coef_cs;
        if (Backward && coef) {
            a = coef[(n * g.c + ch) * 2];
            b = coef[(n * g.c + ch) * 2 + 1];
        }
        a *= inv_positions;
        b *= inv_positions;
        for (int m = 0; m < tile_h / thread_rows; ++m) {
            const int i = trow + m * thread_rows, oy = y0 + i, ox = x0 + tx;
            if (oy >= g.ho || ox >= g.wo) continue;
            float v[5] = {0.f, 0.f, 0.f, 0.f, 0.f};
#pragma unroll
            for (int k = 0; k < math::ssim_max_window; ++k) {
                if (k < g.f) {
                    const float w = taps.g[k];
                    const float* col = hs + (i + k) * tile_w + tx;
#pragma unroll
                    for (int s = 0; s < 5; ++s) v[s] += w * col[s * hs_plane];
                }
            }
            const std::int64_t at = ((n * g.ho + oy) * g.wo + ox) * g.c + ch;
            if constexpr (Backward) {
                float d_mx, d_exx, d_exy;
                const float wa = dmap ? dmap[at] : a, wb = dmap ? 0.f : b;
                math::ssim_term_grads(v[0], v[1], v[2], v[3], v[4], c1, c2, wa, wb, d_mx, d_exx, d_exy);
                dmaps[at] = d_mx;
                dmaps[plane + at] = d_exx;
                dmaps[2 * plane + at] = d_exy;
            } else {
                float s, cs;
                math::ssim_terms(v[0], v[1], v[2], v[3], v[4], c1, c2, s, cs);
                if (map) map[at] = s;
                sum_ssim += s;
                sum_cs += cs;
            }
        }
        if (!Backward && partial) {
            const double ts = block_sum(static_cast<double>(sum_ssim), reduce_scratch);
            const double tc = block_sum(static_cast<double>(sum_cs), reduce_scratch);
            if (threadIdx.x == 0) {
                const std::int64_t slot = ((n * g.c + ch) * 2) * gridDim.x + tile;
                partial[slot] = ts;
                partial[slot + gridDim.x] = tc;
            }
        }
        __syncthreads();  // hs is rewritten for the next channel
    }
}

/// stats[i] = sum of partial[i tiles ...] / positions, i < count.
__global__ void ssim_finish_kernel(const double* partial, int tiles, std::int64_t count, double inv_positions,
                                   float* stats) {
    const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= count) return;
    double s = 0.0;
    for (int t = 0; t < tiles; ++t) s += partial[i * tiles + t];
    stats[i] = static_cast<float>(s * inv_positions);
}

/// The transposed filter of one axis at pixel p (tile-local rows of `d` start at map index
/// p0 + shift - (f - 1)): sum over the unreflected indices u that read p of sum_k g_k d(u + shift - k).
/// `at(index)` reads the tile-local entry, index in [0, extent); entries outside are maps' zeros.
template <class At>
__device__ __forceinline__ float transpose_axis(const geometry& g, const taps_t& taps, int p, int p0, int n,
                                                int extent, const At& at) {
    auto t_of = [&](int u) {
        float acc = 0.f;
#pragma unroll
        for (int k = 0; k < math::ssim_max_window; ++k) {
            if (k < g.f) {
                const int idx = u - p0 + g.f - 1 - k;
                if (idx >= 0 && idx < extent) acc += taps.g[k] * at(idx);
            }
        }
        return acc;
    };
    float v = t_of(p);
    if (g.same) {
        if (-p - 1 >= -g.shift) v += t_of(-p - 1);
        if (2 * n - 1 - p <= n - 1 + g.f - 1 - g.shift) v += t_of(2 * n - 1 - p);
    }
    return v;
}

/// dx[n, py, px, c] += D_mx'(p) + 2 x(p) D_exx'(p) + y(p) D_exy'(p), D' = G^T D, for one tile of pixels.
__global__ void __launch_bounds__(ssim_threads)
    ssim_transpose_kernel(const float* dmaps, const float* x, const float* y, float* dx, geometry g, taps_t taps,
                          int tiles_x) {
    extern __shared__ float smem[];
    const int rows_d = tile_h + g.f - 1, cols_d = tile_w + g.f - 1;
    const int d_plane = rows_d * cols_d * g.c;
    float* sd = smem;                  // [3][rows_d][cols_d][C]
    float* sa = smem + 3 * d_plane;    // [3][tile_h][cols_d], one channel at a time
    const int a_plane = tile_h * cols_d;
    const std::int64_t n = blockIdx.y;
    const int tile = static_cast<int>(blockIdx.x);
    const int p0y = (tile / tiles_x) * tile_h, p0x = (tile % tiles_x) * tile_w;
    const int oy0 = p0y + g.shift - (g.f - 1), ox0 = p0x + g.shift - (g.f - 1);
    const std::int64_t plane = static_cast<std::int64_t>(gridDim.y) * g.ho * g.wo * g.c;
    const int row_len = cols_d * g.c;
    for (int e = static_cast<int>(threadIdx.x); e < rows_d * row_len; e += ssim_threads) {
        const int r = e / row_len, rem = e - r * row_len, col = rem / g.c, ch = rem - col * g.c;
        const int oy = oy0 + r, ox = ox0 + col;
        const bool inside = oy >= 0 && oy < g.ho && ox >= 0 && ox < g.wo;
        const std::int64_t at = ((n * g.ho + oy) * g.wo + ox) * g.c + ch;
        for (int m = 0; m < 3; ++m) sd[m * d_plane + e] = inside ? dmaps[m * plane + at] : 0.f;
    }
    __syncthreads();
    const int tx = static_cast<int>(threadIdx.x) % tile_w, trow = static_cast<int>(threadIdx.x) / tile_w;
    for (int ch = 0; ch < g.c; ++ch) {
        // Vertical transpose (with the fold) for every column of the map tile.
        for (int e = static_cast<int>(threadIdx.x); e < a_plane; e += ssim_threads) {
            const int r = e / cols_d, col = e - r * cols_d, p = p0y + r;
            for (int m = 0; m < 3; ++m) {
                const float* base = sd + m * d_plane + col * g.c + ch;
                sa[m * a_plane + e] =
                    p < g.h ? transpose_axis(g, taps, p, p0y, g.h, rows_d, [&](int idx) { return base[idx * row_len]; })
                            : 0.f;
            }
        }
        __syncthreads();
        // Horizontal transpose and the update of dx.
        for (int m = 0; m < tile_h / thread_rows; ++m) {
            const int r = trow + m * thread_rows, py = p0y + r, px = p0x + tx;
            if (py >= g.h || px >= g.w) continue;
            float v[3];
            for (int k = 0; k < 3; ++k) {
                const float* base = sa + k * a_plane + r * cols_d;
                v[k] = transpose_axis(g, taps, px, p0x, g.w, cols_d, [&](int idx) { return base[idx]; });
            }
            const std::int64_t at = ((n * g.h + py) * g.w + px) * g.c + ch;
            dx[at] += v[0] + 2.f * x[at] * v[1] + y[at] * v[2];
        }
        __syncthreads();  // sa is rewritten for the next channel
    }
}

/// The losses' final step (one block): see ops::ssim_combine.
struct powers_t {
    double p[math::ssim_max_scales];
};

__global__ void ssim_combine_kernel(const float* stats, int scales, std::int64_t images, powers_t powers, bool clamp,
                                    double value_scale, float* value, double grad_scale, float* coef) {
    __shared__ double reduce_scratch[ssim_threads / 32];
    const std::int64_t stride = images * 2;
    const double g = -grad_scale / static_cast<double>(images);
    double sum = 0.0;
    for (std::int64_t i = threadIdx.x; i < images; i += blockDim.x) {
        double t[math::ssim_max_scales], dprod[math::ssim_max_scales];
        for (int s = 0; s < scales; ++s) t[s] = static_cast<double>(stats[s * stride + 2 * i + (s == scales - 1 ? 0 : 1)]);
        sum += math::ssim_combine_term(t, scales, powers.p, clamp, coef ? dprod : nullptr);
        if (coef)
            for (int s = 0; s < scales; ++s) {
                const int used = s == scales - 1 ? 0 : 1;
                coef[s * stride + 2 * i + used] = static_cast<float>(g * dprod[s]);
                coef[s * stride + 2 * i + 1 - used] = 0.f;
            }
    }
    const double total = block_sum(sum, reduce_scratch);
    if (threadIdx.x == 0) value[0] = static_cast<float>(value_scale * (1.0 - total / static_cast<double>(images)));
}

namespace {

geometry make_geometry(const ops::ssim_config& cfg, const shape& s) {
    geometry g{};
    g.h = static_cast<int>(s.h());
    g.w = static_cast<int>(s.w());
    g.c = static_cast<int>(s.c());
    g.ho = static_cast<int>(cfg.extent(s.h()));
    g.wo = static_cast<int>(cfg.extent(s.w()));
    g.f = cfg.window;
    g.same = cfg.form == ops::ssim_form::same;
    g.shift = g.same ? (cfg.window - 1) / 2 : 0;
    g.tiles_x = (g.wo + tile_w - 1) / tile_w;
    return g;
}

taps_t make_taps(const ops::ssim_config& cfg) {
    taps_t t{};
    const std::vector<double> g = math::gaussian_taps(cfg.window, cfg.sigma);
    for (int k = 0; k < cfg.window; ++k) t.g[k] = static_cast<float>(g[static_cast<std::size_t>(k)]);
    return t;
}

/// Allows `kernel` `bytes` of dynamic shared memory; shape_error (naming op) when the device has less.
template <class Kernel>
void allow_shared(const cuda& be, Kernel kernel, std::size_t bytes, const char* op, const shape& s) {
    int optin = 0;
    HG_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, be.device_index()));
    if (bytes + (ssim_threads / 32) * sizeof(double) > static_cast<std::size_t>(optin))
        throw shape_error(std::string(op) + ": " + std::to_string(s.c()) + " channels need " + std::to_string(bytes) +
                          " bytes of shared memory per block, the device allows " + std::to_string(optin) +
                          " (split the channels)");
    if (bytes > 48 * 1024)
        HG_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

std::size_t pass_shared_bytes(const geometry& g) {
    const std::size_t rows = tile_h + g.f - 1, cols = tile_w + g.f - 1;
    return (2 * rows * cols * static_cast<std::size_t>(g.c) + 5 * rows * tile_w) * sizeof(float);
}

std::size_t transpose_shared_bytes(const geometry& g) {
    const std::size_t rows = tile_h + g.f - 1, cols = tile_w + g.f - 1;
    return (3 * rows * cols * static_cast<std::size_t>(g.c) + 3 * tile_h * cols) * sizeof(float);
}

/// Forward pass: map and/or per-tile partials.
void launch_forward(const cuda& be, const ops::ssim_config& cfg, const tensor& x, const tensor& y, float* map,
                    double* partial, int tiles, const char* op) {
    const geometry g = make_geometry(cfg, x.shape());
    const std::size_t bytes = pass_shared_bytes(g);
    allow_shared(be, ssim_pass_kernel<false>, bytes, op, x.shape());
    const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(x.shape().n()));
    ssim_pass_kernel<false><<<grid, ssim_threads, bytes, static_cast<cudaStream_t>(be.stream())>>>(
        x.data(), y.data(), g, make_taps(cfg), static_cast<float>(cfg.c1()), static_cast<float>(cfg.c2()), map,
        partial, nullptr, 0.f, 0.f, 0.f, nullptr, nullptr);
    HG_CUDA_CHECK_LAUNCH("ssim_pass_kernel<forward>");
}

int tile_count(int ho, int wo) { return ((ho + tile_h - 1) / tile_h) * ((wo + tile_w - 1) / tile_w); }

void check_batch(const shape& s, const char* op) {
    if (s.n() > 65535) throw shape_error(std::string(op) + ": batches of more than 65535 images are not supported");
}

/// Both backward passes: the derivative maps (coefficients per image and channel, or per position
/// from dmap), then G^T into dx.
void launch_backward(const cuda& be, const ops::ssim_config& cfg, const tensor& x, const tensor& y, const float* coef,
                     double ssim_coef, double cs_coef, const float* dmap, const tensor& dx, const char* op) {
    check_batch(x.shape(), op);
    const geometry g = make_geometry(cfg, x.shape());
    const taps_t taps = make_taps(cfg);
    const auto stream = static_cast<cudaStream_t>(be.stream());
    const std::int64_t positions = std::int64_t{g.ho} * g.wo;
    auto* dmaps = static_cast<float*>(
        be.workspace(3 * static_cast<std::size_t>(x.shape().n() * positions * g.c) * sizeof(float)));

    const std::size_t pass_bytes = pass_shared_bytes(g);
    allow_shared(be, ssim_pass_kernel<true>, pass_bytes, op, x.shape());
    const dim3 pass_grid(static_cast<unsigned>(tile_count(g.ho, g.wo)), static_cast<unsigned>(x.shape().n()));
    ssim_pass_kernel<true><<<pass_grid, ssim_threads, pass_bytes, stream>>>(
        x.data(), y.data(), g, taps, static_cast<float>(cfg.c1()), static_cast<float>(cfg.c2()), nullptr, nullptr,
        coef, static_cast<float>(ssim_coef), static_cast<float>(cs_coef),
        static_cast<float>(1.0 / static_cast<double>(positions)), dmap, dmaps);
    HG_CUDA_CHECK_LAUNCH("ssim_pass_kernel<backward>");

    const std::size_t t_bytes = transpose_shared_bytes(g);
    allow_shared(be, ssim_transpose_kernel, t_bytes, op, x.shape());
    const int tiles_x = (g.w + tile_w - 1) / tile_w;
    const dim3 t_grid(static_cast<unsigned>(tile_count(g.h, g.w)), static_cast<unsigned>(x.shape().n()));
    ssim_transpose_kernel<<<t_grid, ssim_threads, t_bytes, stream>>>(dmaps, x.data(), y.data(), dx.data(), g, taps,
                                                                     tiles_x);
    HG_CUDA_CHECK_LAUNCH("ssim_transpose_kernel");
}

}  // namespace

}  // namespace hg::cuda_impl

namespace hg::ops {

void ssim_map(const cuda& be, const ssim_config& cfg, const tensor& x, const tensor& y, const tensor& map) {
    detail::check_ssim_inputs<cuda>(cfg, x, y, "ssim_map");
    detail::check_arg<cuda>(map, cfg.map_shape(x.shape()), "ssim_map", "map");
    cuda_impl::check_batch(x.shape(), "ssim_map");
    const int tiles = cuda_impl::tile_count(static_cast<int>(cfg.extent(x.shape().h())),
                                            static_cast<int>(cfg.extent(x.shape().w())));
    cuda_impl::launch_forward(be, cfg, x, y, map.data(), nullptr, tiles, "ssim_map");
}

void ssim_stats(const cuda& be, const ssim_config& cfg, const tensor& x, const tensor& y, const tensor& stats) {
    detail::check_ssim_inputs<cuda>(cfg, x, y, "ssim_stats");
    detail::check_arg<cuda>(stats, shape{x.shape().n(), x.shape().c(), 2}, "ssim_stats", "stats");
    cuda_impl::check_batch(x.shape(), "ssim_stats");
    const std::int64_t ho = cfg.extent(x.shape().h()), wo = cfg.extent(x.shape().w());
    const int tiles = cuda_impl::tile_count(static_cast<int>(ho), static_cast<int>(wo));
    const std::int64_t count = stats.numel();
    auto* partial = static_cast<double*>(be.workspace(static_cast<std::size_t>(count) * tiles * sizeof(double)));
    cuda_impl::launch_forward(be, cfg, x, y, nullptr, partial, tiles, "ssim_stats");
    const auto blocks = static_cast<unsigned>((count + 255) / 256);
    cuda_impl::ssim_finish_kernel<<<blocks, 256, 0, static_cast<cudaStream_t>(be.stream())>>>(
        partial, tiles, count, 1.0 / static_cast<double>(ho * wo), stats.data());
    HG_CUDA_CHECK_LAUNCH("ssim_finish_kernel");
}

void ssim_backward(const cuda& be, const ssim_config& cfg, const tensor& x, const tensor& y, const tensor& coef,
                   double ssim_coef, double cs_coef, const tensor& dx) {
    detail::check_ssim_inputs<cuda>(cfg, x, y, "ssim_backward");
    if (coef.defined()) detail::check_arg<cuda>(coef, shape{x.shape().n(), x.shape().c(), 2}, "ssim_backward", "coef");
    detail::check_arg<cuda>(dx, x.shape(), "ssim_backward", "dx");
    cuda_impl::launch_backward(be, cfg, x, y, coef.defined() ? coef.data() : nullptr, ssim_coef, cs_coef, nullptr, dx,
                               "ssim_backward");
}

void ssim_map_backward(const cuda& be, const ssim_config& cfg, const tensor& x, const tensor& y, const tensor& dmap,
                       const tensor& dx) {
    detail::check_ssim_inputs<cuda>(cfg, x, y, "ssim_map_backward");
    detail::check_arg<cuda>(dmap, cfg.map_shape(x.shape()), "ssim_map_backward", "dmap");
    detail::check_arg<cuda>(dx, x.shape(), "ssim_map_backward", "dx");
    cuda_impl::launch_backward(be, cfg, x, y, nullptr, 0.0, 0.0, dmap.data(), dx, "ssim_map_backward");
}

void ssim_combine(const cuda& be, const tensor& stats, const std::vector<double>& powers, bool clamp,
                  double value_scale, const tensor& value, double grad_scale, const tensor& coef) {
    detail::check_ssim_combine<cuda>(stats, powers, value, coef);
    cuda_impl::powers_t p{};
    for (std::size_t s = 0; s < powers.size(); ++s) p.p[s] = powers[s];
    const std::int64_t images = stats.shape()[1] * stats.shape()[2];
    cuda_impl::ssim_combine_kernel<<<1, cuda_impl::ssim_threads, 0, static_cast<cudaStream_t>(be.stream())>>>(
        stats.data(), static_cast<int>(powers.size()), images, p, clamp, value_scale, value.data(), grad_scale,
        coef.defined() ? coef.data() : nullptr);
    HG_CUDA_CHECK_LAUNCH("ssim_combine_kernel");
}

}  // namespace hg::ops
