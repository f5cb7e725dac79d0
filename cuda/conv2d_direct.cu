// The hand-written convolution of the CUDA backend: an implicit GEMM, shared-memory tiled, float32
// throughout, for the three passes of ops/conv2d.hpp (NHWC x, KRSC w). Used when cuDNN offers no
// algorithm for a problem, or when the backend's conv_engine is conv_engine::direct.
//
// Every kernel computes one 64 x 64 tile of an output matrix per block of 256 threads, each thread a
// 4 x 4 register tile, walking the reduction dimension in slices of 16 that are gathered from global
// memory (zero outside the image or past the matrix edge) into shared memory:
//   forward          Y[M, K] = A[M, P] * W[K, P]^T + b    M = N*OH*OW pixels, P = R*R*C, A = im2col(x)
//   backward data    dX = the transposed convolution in gather form, one GEMM per stride phase: the
//                    input pixels (iy, ix) with iy % s = py, ix % s = px are reached only by the taps
//                    ky = (py + pad) % s + j*s (likewise kx), each from the output pixel
//                    oy = (iy + pad - ky) / s, so phase (py, px) computes
//                    dX[(n,iy,ix), c] = sum over (ky, kx, k) of its taps of dy[n, oy, ox, k] * w[k, ky, kx, c]
//                    with no zero products for stride 2 (one phase, all taps, for stride 1)
//   backward filter  dW[K, P] += dY[M, K]^T * A[M, P]
// When the output tiles alone give too few blocks to fill the device, the reduction is split across
// blocks (grid z): each split writes its partial sums to a workspace plane, and a second kernel adds
// the planes in a fixed order (deterministic) and finishes the pass (bias, write or accumulate).
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>

#include "conv2d_direct.cuh"
#include "hourglass/core/error.hpp"
#include "hourglass/cuda/check.hpp"

namespace hg::cuda_impl {

namespace {

constexpr int tile_m = 64;            // output rows per block
constexpr int tile_n = 64;            // output columns per block
constexpr int tile_k = 16;            // reduction slice per shared-memory stage
constexpr int tile_lds = tile_m + 4;  // shared row stride: 16-byte aligned rows, fewer bank conflicts
constexpr int conv_threads = 256;     // 16 x 16 threads, 4 x 4 outputs each
constexpr int max_grid_yz = 65535;
constexpr int max_splits = 64;
constexpr std::int64_t min_split_reduction = 256;               // reduction length per split, at least
constexpr std::int64_t max_partial_elements = std::int64_t{64} << 20;  // 256 MiB of partial sums

static_assert(tile_m == tile_n && tile_m * tile_k == 4 * conv_threads, "each thread loads 4 values per operand");

/// The problem in int (conv2d_direct_supports guarantees the row counts and patch lengths fit).
struct conv_params {
    int n, h, w, c, k, r, stride, pad, oh, ow;
};

conv_params make_params(const math::conv2d_dims& d) {
    conv_params p;
    p.n = static_cast<int>(d.n), p.h = static_cast<int>(d.h), p.w = static_cast<int>(d.w);
    p.c = static_cast<int>(d.c), p.k = static_cast<int>(d.k), p.r = static_cast<int>(d.r);
    p.stride = static_cast<int>(d.stride), p.pad = static_cast<int>(d.pad);
    p.oh = static_cast<int>(d.oh), p.ow = static_cast<int>(d.ow);
    return p;
}

/// How the reduction is divided: `splits` ranges of `chunk` (a multiple of tile_k) each. With one
/// split the kernels finish the pass themselves; with several they write partial sums.
struct split_plan {
    int splits = 1;
    int chunk = 0;
};

using smem_tile = float[tile_k][tile_lds];

/// acc[i][j] += sum over the slice of as[kk][ty*4 + i] * bs[kk][tx*4 + j] (rows from as, columns from bs).
__device__ __forceinline__ void multiply_tile(const smem_tile& as, const smem_tile& bs, float (&acc)[4][4]) {
    const int tx = static_cast<int>(threadIdx.x) % 16;
    const int ty = static_cast<int>(threadIdx.x) / 16;
#pragma unroll
    for (int kk = 0; kk < tile_k; ++kk) {
        const float4 a4 = *reinterpret_cast<const float4*>(&as[kk][ty * 4]);
        const float4 b4 = *reinterpret_cast<const float4*>(&bs[kk][tx * 4]);
        const float a[4] = {a4.x, a4.y, a4.z, a4.w};
        const float b[4] = {b4.x, b4.y, b4.z, b4.w};
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
}

/// Moves the output pixel (n, oy, ox) forward by `delta` pixels in NHW order.
__device__ __forceinline__ void advance_pixel(int& n, int& oy, int& ox, int delta, const conv_params& p) {
    ox += delta;
    while (ox >= p.ow) {
        ox -= p.ow;
        ++oy;
    }
    while (oy >= p.oh) {
        oy -= p.oh;
        ++n;
    }
}

/// The reduction range [begin, end) of split `z` over a reduction of length `total`.
__device__ __forceinline__ void split_range(int total, int chunk, int z, int& begin, int& end) {
    const long long b = static_cast<long long>(z) * chunk;
    begin = static_cast<int>(b < total ? b : total);
    end = static_cast<int>(b + chunk < total ? b + chunk : total);
}

// Forward: y[m, k] = sum_q A[m, q] * w[k, q] + bias[k], q = (ky, kx, c), over the q range of split
// blockIdx.z. With `partial` the sums go to out[z * M * K + m * K + k] without bias; otherwise
// out = y gets the sums plus bias (bias may be null).
// Both operands are loaded with the reduction index fastest (16 consecutive q per row: the channels
// of one tap are contiguous in x and in w).
__global__ void __launch_bounds__(conv_threads)
    conv2d_forward_kernel(conv_params p, const float* __restrict__ x, const float* __restrict__ w,
                          const float* __restrict__ bias, float* __restrict__ out, int chunk, bool partial) {
    __shared__ __align__(16) smem_tile as;  // [q][m]
    __shared__ __align__(16) smem_tile bs;  // [q][k]
    const int t = static_cast<int>(threadIdx.x);
    const int rows = p.n * p.oh * p.ow;
    const int patch = p.r * p.r * p.c;
    const int row0 = static_cast<int>(blockIdx.x) * tile_m;
    const int col0 = static_cast<int>(blockIdx.y) * tile_n;
    int q_begin = 0, q_end = 0;
    split_range(patch, chunk, static_cast<int>(blockIdx.z), q_begin, q_end);

    const int lq = t % tile_k;  // this thread's reduction index within the slice
    const int lr = t / tile_k;  // its rows / filters: lr + 16 * i
    long long xbase[4];
    int iy0[4], ix0[4];
    bool rvalid[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int m = row0 + lr + 16 * i;
        rvalid[i] = m < rows;
        const int mm = rvalid[i] ? m : 0;
        const int ox = mm % p.ow;
        const int oy = (mm / p.ow) % p.oh;
        const int n = mm / (p.ow * p.oh);
        xbase[i] = static_cast<long long>(n) * p.h * p.w * p.c;
        iy0[i] = oy * p.stride - p.pad;
        ix0[i] = ox * p.stride - p.pad;
    }

    float acc[4][4] = {};
    for (int q0 = q_begin; q0 < q_end; q0 += tile_k) {
        const int q = q0 + lq;
        const bool qvalid = q < q_end;
        int c = 0, ky = 0, kx = 0;
        if (qvalid) {
            c = q % p.c;
            const int tap = q / p.c;
            ky = tap / p.r;
            kx = tap - ky * p.r;
        }
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int iy = iy0[i] + ky, ix = ix0[i] + kx;
            float a = 0.f;
            if (qvalid && rvalid[i] && iy >= 0 && iy < p.h && ix >= 0 && ix < p.w)
                a = x[xbase[i] + (static_cast<long long>(iy) * p.w + ix) * p.c + c];
            as[lq][lr + 16 * i] = a;
            const int kf = col0 + lr + 16 * i;
            bs[lq][lr + 16 * i] = (qvalid && kf < p.k) ? w[static_cast<long long>(kf) * patch + q] : 0.f;
        }
        __syncthreads();
        multiply_tile(as, bs, acc);
        __syncthreads();
    }

    float* dst = partial ? out + static_cast<long long>(blockIdx.z) * rows * p.k : out;
    const int tx = t % 16, ty = t / 16;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int m = row0 + ty * 4 + i;
        if (m >= rows) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int kf = col0 + tx * 4 + j;
            if (kf >= p.k) continue;
            const long long idx = static_cast<long long>(m) * p.k + kf;
            dst[idx] = partial ? acc[i][j] : acc[i][j] + (bias ? bias[kf] : 0.f);
        }
    }
}

/// The taps of stride phase `phase` (py = phase / s, px = phase % s): ky = ky0 + j*s for j < ry, and
/// the pixels of that phase: iy = py + jy*s for jy < hh (likewise x).
struct phase_geometry {
    int py, px, ky0, kx0, ry, rx, hh, ww;
};

__device__ __forceinline__ phase_geometry phase_of(const conv_params& p, int s, int phase) {
    phase_geometry g;
    g.py = phase / s;
    g.px = phase - g.py * s;
    g.ky0 = (g.py + p.pad) % s;
    g.kx0 = (g.px + p.pad) % s;
    g.ry = g.ky0 < p.r ? (p.r - g.ky0 + s - 1) / s : 0;
    g.rx = g.kx0 < p.r ? (p.r - g.kx0 + s - 1) / s : 0;
    g.hh = g.py < p.h ? (p.h - g.py + s - 1) / s : 0;
    g.ww = g.px < p.w ? (p.w - g.px + s - 1) / s : 0;
    return g;
}

// Backward data (dL/dx, the transposed convolution), gather form, one stride phase per
// blockIdx.z / splits and one reduction split per blockIdx.z % splits (see the file comment):
//   dx[n, iy, ix, c] = sum over the phase's taps (ky, kx) and k of dy[n, oy, ox, k] * w[k, ky, kx, c],
//   oy = (iy + pad - ky) / s (exact), ox likewise, terms with oy or ox outside the output omitted.
// The reduction index is q = (j_y * rx + j_x) * K + k. With `partial` the sums go to
// out[split * N*H*W*C + ...]; otherwise out = dx is written. Stride is a template argument (1 or 2;
// 0 reads it from p) so the index arithmetic is cheap.
template <int Stride>
__global__ void __launch_bounds__(conv_threads)
    conv2d_backward_data_kernel(conv_params p, const float* __restrict__ dy, const float* __restrict__ w,
                                float* __restrict__ out, int splits, int chunk, bool partial) {
    __shared__ __align__(16) smem_tile as;  // [q][input pixel of the phase]
    __shared__ __align__(16) smem_tile bs;  // [q][c]
    const int s = Stride > 0 ? Stride : p.stride;
    const int t = static_cast<int>(threadIdx.x);
    const int split = static_cast<int>(blockIdx.z) % splits;
    const phase_geometry g = phase_of(p, s, static_cast<int>(blockIdx.z) / splits);
    const int rows = p.n * g.hh * g.ww;
    const int row0 = static_cast<int>(blockIdx.x) * tile_m;
    if (row0 >= rows) return;  // the whole block: this phase has fewer pixels than the largest
    const int col0 = static_cast<int>(blockIdx.y) * tile_n;
    const int depth = g.ry * g.rx * p.k;
    int q_begin = 0, q_end = 0;
    split_range(depth, chunk, split, q_begin, q_end);

    const int lq = t % tile_k;  // dy loads: reduction index fastest (k contiguous in dy)
    const int lr = t / tile_k;
    long long dybase[4];
    int sy[4], sx[4];
    bool rvalid[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int m = row0 + lr + 16 * i;
        rvalid[i] = m < rows;
        const int mm = rvalid[i] ? m : 0;
        const int jx = mm % g.ww;
        const int jy = (mm / g.ww) % g.hh;
        const int n = mm / (g.ww * g.hh);
        dybase[i] = static_cast<long long>(n) * p.oh * p.ow * p.k;
        sy[i] = g.py + jy * s + p.pad;
        sx[i] = g.px + jx * s + p.pad;
    }
    const int lc = t % tile_n;  // w loads: channel fastest (c contiguous in w)
    const int lq2 = t / tile_n;
    const int cc = col0 + lc;
    const bool cvalid = cc < p.c;

    float acc[4][4] = {};
    for (int q0 = q_begin; q0 < q_end; q0 += tile_k) {
        {
            const int q = q0 + lq;
            const bool qvalid = q < q_end;
            int kf = 0, ky = 0, kx = 0;
            if (qvalid) {
                kf = q % p.k;
                const int tap = q / p.k;
                const int jy = tap / g.rx;
                ky = g.ky0 + jy * s;
                kx = g.kx0 + (tap - jy * g.rx) * s;
            }
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int ty = sy[i] - ky, tx = sx[i] - kx;  // multiples of s by the choice of taps
                float a = 0.f;
                if (qvalid && rvalid[i] && ty >= 0 && tx >= 0) {
                    const int oy = ty / s, ox = tx / s;
                    if (oy < p.oh && ox < p.ow)
                        a = dy[dybase[i] + (static_cast<long long>(oy) * p.ow + ox) * p.k + kf];
                }
                as[lq][lr + 16 * i] = a;
            }
        }
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int q = q0 + lq2 + 4 * i;
            float b = 0.f;
            if (q < q_end && cvalid) {
                const int kf = q % p.k;
                const int tap = q / p.k;
                const int jy = tap / g.rx;
                const int ky = g.ky0 + jy * s;
                const int kx = g.kx0 + (tap - jy * g.rx) * s;
                b = w[((static_cast<long long>(kf) * p.r + ky) * p.r + kx) * p.c + cc];
            }
            bs[lq2 + 4 * i][lc] = b;
        }
        __syncthreads();
        multiply_tile(as, bs, acc);
        __syncthreads();
    }

    float* dst = partial ? out + static_cast<long long>(split) * p.n * p.h * p.w * p.c : out;
    const int tx = t % 16, ty = t / 16;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int m = row0 + ty * 4 + i;
        if (m >= rows) continue;
        const int jx = m % g.ww;
        const int jy = (m / g.ww) % g.hh;
        const int n = m / (g.ww * g.hh);
        const long long pixel = (static_cast<long long>(n) * p.h + g.py + jy * s) * p.w + g.px + jx * s;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int c = col0 + tx * 4 + j;
            if (c < p.c) dst[pixel * p.c + c] = acc[i][j];
        }
    }
}

// Backward filter (dL/dw): dw[k, q] += sum over output pixels m of dy[m, k] * A[m, q], q = (ky, kx, c),
// over the pixel range of split blockIdx.z. With `partial` the sums go to out[z * K * P + ...];
// otherwise the block adds them into out = dw.
// Both operands are loaded with the output index fastest (k contiguous in dy, c contiguous in x); each
// thread keeps one filter tap and walks the pixels incrementally (no divisions in the loop).
template <int Stride>
__global__ void __launch_bounds__(conv_threads)
    conv2d_backward_filter_kernel(conv_params p, const float* __restrict__ x, const float* __restrict__ dy,
                                  float* __restrict__ out, int chunk, bool partial) {
    __shared__ __align__(16) smem_tile as;  // [pixel][k]
    __shared__ __align__(16) smem_tile bs;  // [pixel][q]
    const int s = Stride > 0 ? Stride : p.stride;
    const int t = static_cast<int>(threadIdx.x);
    const int pixels = p.n * p.oh * p.ow;
    const int patch = p.r * p.r * p.c;
    const int col0 = static_cast<int>(blockIdx.x) * tile_n;  // q
    const int row0 = static_cast<int>(blockIdx.y) * tile_m;  // k
    int m_begin = 0, m_end = 0;
    split_range(pixels, chunk, static_cast<int>(blockIdx.z), m_begin, m_end);

    const int lo = t % tile_n;  // this thread's filter k = row0 + lo and tap q = col0 + lo
    const int lm = t / tile_n;  // its pixels within the slice: lm + 4 * i
    const int kf = row0 + lo;
    const bool kvalid = kf < p.k;
    const int q = col0 + lo;
    const bool qvalid = q < patch;
    int c = 0, ky = 0, kx = 0;
    if (qvalid) {
        c = q % p.c;
        const int tap = q / p.c;
        ky = tap / p.r;
        kx = tap - ky * p.r;
    }
    // (n, oy, ox) of pixel m0 + lm for the current slice start m0.
    const int first = m_begin + lm;
    int pn = first / (p.oh * p.ow);
    int poy = (first / p.ow) % p.oh;
    int pox = first % p.ow;

    float acc[4][4] = {};
    for (int m0 = m_begin; m0 < m_end; m0 += tile_k) {
        int n = pn, oy = poy, ox = pox;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int m = m0 + lm + 4 * i;
            float a = 0.f, b = 0.f;
            if (m < m_end) {
                if (kvalid) a = dy[static_cast<long long>(m) * p.k + kf];
                const int iy = oy * s - p.pad + ky, ix = ox * s - p.pad + kx;
                if (qvalid && iy >= 0 && iy < p.h && ix >= 0 && ix < p.w)
                    b = x[((static_cast<long long>(n) * p.h + iy) * p.w + ix) * p.c + c];
            }
            as[lm + 4 * i][lo] = a;
            bs[lm + 4 * i][lo] = b;
            advance_pixel(n, oy, ox, 4, p);
        }
        advance_pixel(pn, poy, pox, tile_k, p);
        __syncthreads();
        multiply_tile(as, bs, acc);
        __syncthreads();
    }

    float* dst = partial ? out + static_cast<long long>(blockIdx.z) * p.k * patch : out;
    const int tx = t % 16, ty = t / 16;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int k = row0 + ty * 4 + i;
        if (k >= p.k) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int qq = col0 + tx * 4 + j;
            if (qq >= patch) continue;
            const long long idx = static_cast<long long>(k) * patch + qq;
            if (partial)
                dst[idx] = acc[i][j];
            else
                dst[idx] += acc[i][j];
        }
    }
}

/// out[i] = (accumulate ? out[i] : 0) + sum over splits z, in order, of partial[z * count + i]
/// (+ bias[i % channels] when bias is not null).
__global__ void conv2d_finish_splits_kernel(const float* __restrict__ partial, int splits, long long count,
                                            float* __restrict__ out, bool accumulate, const float* __restrict__ bias,
                                            int channels) {
    const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= count) return;
    float sum = 0.f;
    for (int z = 0; z < splits; ++z) sum += partial[static_cast<long long>(z) * count + i];
    if (bias) sum += bias[i % channels];
    out[i] = accumulate ? out[i] + sum : sum;
}

unsigned blocks_for(std::int64_t extent, int tile) { return static_cast<unsigned>((extent + tile - 1) / tile); }

cudaStream_t stream_of(const cuda& be) { return static_cast<cudaStream_t>(be.stream()); }

/// Splits the reduction when `blocks` output tiles give fewer than four blocks per multiprocessor:
/// at most 64 splits of at least 256 each, and at most 256 MiB of partial sums (`plane` elements each).
split_plan plan_splits(const cuda& be, std::int64_t blocks, std::int64_t reduction, std::int64_t plane) {
    int multiprocessors = 0;
    HG_CUDA_CHECK(cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, be.device_index()));
    const std::int64_t wanted = 4 * std::int64_t{std::max(multiprocessors, 1)};
    std::int64_t splits = 1;
    if (blocks < wanted) {
        splits = std::min<std::int64_t>(
            {(wanted + blocks - 1) / blocks, (reduction + min_split_reduction - 1) / min_split_reduction, max_splits});
        while (splits > 1 && splits * plane > max_partial_elements) --splits;
        splits = std::max<std::int64_t>(splits, 1);
    }
    std::int64_t chunk = (std::max<std::int64_t>(reduction, 1) + splits - 1) / splits;
    chunk = (chunk + tile_k - 1) / tile_k * tile_k;
    split_plan plan;
    plan.splits = static_cast<int>(std::max<std::int64_t>((reduction + chunk - 1) / chunk, 1));
    plan.chunk = static_cast<int>(chunk);
    return plan;
}

/// Adds the split planes into `out` (see conv2d_finish_splits_kernel).
void finish_splits(const cuda& be, const float* partial, const split_plan& plan, std::int64_t count, float* out,
                   bool accumulate, const float* bias, std::int64_t channels) {
    constexpr int threads = 256;
    conv2d_finish_splits_kernel<<<blocks_for(count, threads), threads, 0, stream_of(be)>>>(
        partial, plan.splits, count, out, accumulate, bias, static_cast<int>(channels));
    HG_CUDA_CHECK_LAUNCH("conv2d_finish_splits_kernel");
}

float* partial_buffer(const cuda& be, const split_plan& plan, std::int64_t plane) {
    return static_cast<float*>(be.workspace(static_cast<std::size_t>(plan.splits * plane) * sizeof(float)));
}

}  // namespace

void check_conv2d_geometry(const math::conv2d_dims& d, const char* op) {
    const bool extents = d.n >= 0 && d.h >= 1 && d.w >= 1 && d.c >= 1 && d.k >= 1 && d.r >= 1 && d.stride >= 1 &&
                         d.pad >= 0;
    if (!extents || d.oh != (d.h + 2 * d.pad - d.r) / d.stride + 1 || d.ow != (d.w + 2 * d.pad - d.r) / d.stride + 1 ||
        d.oh < 1 || d.ow < 1)
        throw shape_error(std::string(op) + ": inconsistent convolution geometry (n " + std::to_string(d.n) + ", h " +
                          std::to_string(d.h) + ", w " + std::to_string(d.w) + ", c " + std::to_string(d.c) + ", k " +
                          std::to_string(d.k) + ", r " + std::to_string(d.r) + ", stride " +
                          std::to_string(d.stride) + ", pad " + std::to_string(d.pad) + ", oh " +
                          std::to_string(d.oh) + ", ow " + std::to_string(d.ow) + ")");
}

bool conv2d_direct_supports(const math::conv2d_dims& d) {
    const std::int64_t limit = INT_MAX - 4096;  // room for tile offsets past the last row
    const std::int64_t grid_limit = std::int64_t{max_grid_yz} * tile_m;
    return d.n * d.h * d.w <= limit && d.n * d.oh * d.ow <= limit && d.r * d.r * d.c <= limit &&
           d.r * d.r * d.k <= limit && d.k <= grid_limit && d.c <= grid_limit && d.pad <= limit / 4 &&
           d.h <= limit / 4 && d.w <= limit / 4 && d.stride * d.stride * max_splits <= max_grid_yz;
}

void conv2d_direct_forward(const cuda& be, const math::conv2d_dims& d, const float* x, const float* w,
                           const float* bias, float* y) {
    const conv_params p = make_params(d);
    const std::int64_t rows = d.n * d.oh * d.ow;
    const std::int64_t plane = rows * d.k;
    const dim3 tiles(blocks_for(rows, tile_m), blocks_for(d.k, tile_n));
    const split_plan plan = plan_splits(be, std::int64_t{tiles.x} * tiles.y, d.r * d.r * d.c, plane);
    const bool partial = plan.splits > 1;
    float* out = partial ? partial_buffer(be, plan, plane) : y;
    const dim3 grid(tiles.x, tiles.y, static_cast<unsigned>(plan.splits));
    conv2d_forward_kernel<<<grid, conv_threads, 0, stream_of(be)>>>(p, x, w, bias, out, plan.chunk, partial);
    HG_CUDA_CHECK_LAUNCH("conv2d_forward_kernel");
    if (partial) finish_splits(be, out, plan, plane, y, false, bias, d.k);
}

void conv2d_direct_backward_data(const cuda& be, const math::conv2d_dims& d, const float* dy, const float* w,
                                 float* dx) {
    const conv_params p = make_params(d);
    const std::int64_t s = d.stride;
    const std::int64_t plane = d.n * d.h * d.w * d.c;
    // Every phase has at most ceil(H/s) * ceil(W/s) pixels per image and ceil(R/s)^2 taps: the grid
    // and the reduction split are sized by these bounds (blocks past a phase's pixels exit at once).
    const std::int64_t max_rows = d.n * ((d.h + s - 1) / s) * ((d.w + s - 1) / s);
    const std::int64_t max_taps = (d.r + s - 1) / s;
    const dim3 tiles(blocks_for(max_rows, tile_m), blocks_for(d.c, tile_n));
    const std::int64_t phases = s * s;
    const split_plan plan =
        plan_splits(be, std::int64_t{tiles.x} * tiles.y * phases, max_taps * max_taps * d.k, plane);
    const bool partial = plan.splits > 1;
    float* out = partial ? partial_buffer(be, plan, plane) : dx;
    const dim3 grid(tiles.x, tiles.y, static_cast<unsigned>(phases * plan.splits));
    const cudaStream_t stream = stream_of(be);
    if (d.stride == 1)
        conv2d_backward_data_kernel<1><<<grid, conv_threads, 0, stream>>>(p, dy, w, out, plan.splits, plan.chunk,
                                                                          partial);
    else if (d.stride == 2)
        conv2d_backward_data_kernel<2><<<grid, conv_threads, 0, stream>>>(p, dy, w, out, plan.splits, plan.chunk,
                                                                          partial);
    else
        conv2d_backward_data_kernel<0><<<grid, conv_threads, 0, stream>>>(p, dy, w, out, plan.splits, plan.chunk,
                                                                          partial);
    HG_CUDA_CHECK_LAUNCH("conv2d_backward_data_kernel");
    if (partial) finish_splits(be, out, plan, plane, dx, false, nullptr, d.c);
}

void conv2d_direct_backward_filter(const cuda& be, const math::conv2d_dims& d, const float* x, const float* dy,
                                   float* dw) {
    const conv_params p = make_params(d);
    const std::int64_t plane = d.k * d.r * d.r * d.c;
    const dim3 tiles(blocks_for(d.r * d.r * d.c, tile_n), blocks_for(d.k, tile_m));
    const split_plan plan = plan_splits(be, std::int64_t{tiles.x} * tiles.y, d.n * d.oh * d.ow, plane);
    const bool partial = plan.splits > 1;
    float* out = partial ? partial_buffer(be, plan, plane) : dw;
    const dim3 grid(tiles.x, tiles.y, static_cast<unsigned>(plan.splits));
    const cudaStream_t stream = stream_of(be);
    if (d.stride == 1)
        conv2d_backward_filter_kernel<1><<<grid, conv_threads, 0, stream>>>(p, x, dy, out, plan.chunk, partial);
    else if (d.stride == 2)
        conv2d_backward_filter_kernel<2><<<grid, conv_threads, 0, stream>>>(p, x, dy, out, plan.chunk, partial);
    else
        conv2d_backward_filter_kernel<0><<<grid, conv_threads, 0, stream>>>(p, x, dy, out, plan.chunk, partial);
    HG_CUDA_CHECK_LAUNCH("conv2d_backward_filter_kernel");
    if (partial) finish_splits(be, out, plan, plane, dw, true, nullptr, d.k);
}

}  // namespace hg::cuda_impl
