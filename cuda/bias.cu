// CUDA per-channel bias ops on NHWC tensors (contract in ops/bias.hpp):
//   bias_add   y[row, k] += b[k]: each block adds to one contiguous run of elements, each thread
//              tracking its channel incrementally (no division per element).
//   bias_grad  db[k] += sum over rows of dy[row, k] (the gradient of the broadcast bias), a
//              deterministic two-pass column reduction: blocks of 32 channels x 8 row lanes sum a
//              chunk of rows into one partial per (chunk, channel) in the backend's workspace, then one
//              thread per channel adds the partials, in chunk order, into db.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/check.hpp"
#include "hourglass/ops/bias.hpp"

namespace hg::cuda_impl {

namespace {

constexpr int add_threads = 256;
constexpr std::int64_t add_elements_per_block = add_threads * 16;
constexpr int grad_lanes_x = 32;  // channels per block
constexpr int grad_lanes_y = 8;   // row lanes per block
constexpr std::int64_t grad_target_blocks = 1024;
constexpr std::int64_t grad_min_rows_per_chunk = 64;
constexpr std::int64_t max_grid_y = 65535;

__global__ void bias_add_kernel(float* __restrict__ y, const float* __restrict__ b, std::int64_t count, int channels) {
    const std::int64_t begin = static_cast<std::int64_t>(blockIdx.x) * add_elements_per_block;
    const std::int64_t end = begin + add_elements_per_block < count ? begin + add_elements_per_block : count;
    std::int64_t i = begin + threadIdx.x;
    int c = static_cast<int>(i % channels);
    const int step = static_cast<int>(blockDim.x) % channels;
    for (; i < end; i += blockDim.x) {
        y[i] += b[c];
        c += step;
        if (c >= channels) c -= channels;
    }
}

/// partial[chunk, c] = sum of dy[row, c] over the rows [chunk * rows_per_chunk, ...) of this chunk.
__global__ void bias_grad_partial_kernel(const float* __restrict__ dy, std::int64_t rows, int channels,
                                         std::int64_t rows_per_chunk, float* __restrict__ partial) {
    __shared__ float lanes[grad_lanes_y][grad_lanes_x + 1];
    const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
    const int c = static_cast<int>(blockIdx.x) * grad_lanes_x + tx;
    const std::int64_t row_begin = static_cast<std::int64_t>(blockIdx.y) * rows_per_chunk;
    const std::int64_t row_end = row_begin + rows_per_chunk < rows ? row_begin + rows_per_chunk : rows;
    float sum = 0.f;
    if (c < channels)
        for (std::int64_t r = row_begin + ty; r < row_end; r += grad_lanes_y) sum += dy[r * channels + c];
    lanes[ty][tx] = sum;
    __syncthreads();
    if (ty == 0 && c < channels) {
        float total = 0.f;
        for (int j = 0; j < grad_lanes_y; ++j) total += lanes[j][tx];
        partial[static_cast<std::int64_t>(blockIdx.y) * channels + c] = total;
    }
}

/// db[c] += sum over chunks, in order, of partial[chunk, c].
__global__ void bias_grad_finish_kernel(const float* __restrict__ partial, int chunks, int channels,
                                        float* __restrict__ db) {
    const int c = static_cast<int>(blockIdx.x) * blockDim.x + static_cast<int>(threadIdx.x);
    if (c >= channels) return;
    float total = 0.f;
    for (int j = 0; j < chunks; ++j) total += partial[static_cast<std::int64_t>(j) * channels + c];
    db[c] += total;
}

void require_int_channels(std::int64_t channels, const char* op) {
    if (channels > INT32_MAX)
        throw shape_error(std::string(op) + ": " + std::to_string(channels) + " channels exceed the CUDA kernels' range");
}

}  // namespace

}  // namespace hg::cuda_impl

namespace hg::ops {

void bias_add(const cuda& be, const tensor& y, const tensor& b) {
    detail::check_bias<cuda>(y, b, "bias_add", "y", "b");
    cuda_impl::require_int_channels(b.numel(), "bias_add");
    const std::int64_t count = y.numel();
    if (count == 0) return;
    const std::int64_t blocks = (count + cuda_impl::add_elements_per_block - 1) / cuda_impl::add_elements_per_block;
    cuda_impl::bias_add_kernel<<<static_cast<unsigned>(blocks), cuda_impl::add_threads, 0,
                                 static_cast<cudaStream_t>(be.stream())>>>(y.data(), b.data(), count,
                                                                           static_cast<int>(b.numel()));
    HG_CUDA_CHECK_LAUNCH("bias_add_kernel");
}

void bias_grad(const cuda& be, const tensor& dy, const tensor& db) {
    detail::check_bias<cuda>(dy, db, "bias_grad", "dy", "db");
    cuda_impl::require_int_channels(db.numel(), "bias_grad");
    const std::int64_t channels = db.numel();
    const std::int64_t rows = dy.numel() / channels;
    if (rows == 0) return;
    const std::int64_t channel_blocks = (channels + cuda_impl::grad_lanes_x - 1) / cuda_impl::grad_lanes_x;
    // Chunks of rows: enough blocks to fill the device, at least 64 rows each, within the grid's y limit.
    std::int64_t chunks = std::max<std::int64_t>(cuda_impl::grad_target_blocks / channel_blocks, 1);
    chunks = std::min(chunks, (rows + cuda_impl::grad_min_rows_per_chunk - 1) / cuda_impl::grad_min_rows_per_chunk);
    chunks = std::clamp<std::int64_t>(chunks, 1, cuda_impl::max_grid_y);
    const std::int64_t rows_per_chunk = (rows + chunks - 1) / chunks;
    chunks = (rows + rows_per_chunk - 1) / rows_per_chunk;  // every chunk holds at least one row

    auto* partial = static_cast<float*>(be.workspace(static_cast<std::size_t>(chunks * channels) * sizeof(float)));
    const auto stream = static_cast<cudaStream_t>(be.stream());
    const dim3 block(cuda_impl::grad_lanes_x, cuda_impl::grad_lanes_y);
    const dim3 grid(static_cast<unsigned>(channel_blocks), static_cast<unsigned>(chunks));
    cuda_impl::bias_grad_partial_kernel<<<grid, block, 0, stream>>>(dy.data(), rows, static_cast<int>(channels),
                                                                    rows_per_chunk, partial);
    HG_CUDA_CHECK_LAUNCH("bias_grad_partial_kernel");
    constexpr int threads = 256;
    const auto finish_blocks = static_cast<unsigned>((channels + threads - 1) / threads);
    cuda_impl::bias_grad_finish_kernel<<<finish_blocks, threads, 0, stream>>>(partial, static_cast<int>(chunks),
                                                                              static_cast<int>(channels), db.data());
    HG_CUDA_CHECK_LAUNCH("bias_grad_finish_kernel");
}

}  // namespace hg::ops
