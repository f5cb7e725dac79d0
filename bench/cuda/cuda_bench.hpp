// Shared pieces of the CUDA benchmarks: CUDA-event timing of a region on the backend's stream
// (reported to Google Benchmark as manual time), an L2 flush before every timed iteration, the
// measured device-to-device copy bandwidth used as the memory ceiling, and a main() that skips
// cleanly without a GPU.
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <set>
#include <stdexcept>
#include <string>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/device.hpp"
#include "hourglass/cpu/backend.hpp"
#include "hourglass/ops/elementwise.hpp"
#include "hourglass/ops/random.hpp"

namespace hg::bench {

inline void check(cudaError_t status, const char* what) {
    if (status != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
}

/// Writes a buffer larger than the L2 cache so the next timed kernel starts with a cold cache.
class l2_flusher {
public:
    l2_flusher() {
        int device = 0, bytes = 0;
        check(cudaGetDevice(&device), "cudaGetDevice");
        check(cudaDeviceGetAttribute(&bytes, cudaDevAttrL2CacheSize, device), "cudaDeviceGetAttribute");
        size_ = static_cast<std::size_t>(bytes) * 2;
        check(cudaMalloc(&buffer_, size_), "cudaMalloc(l2 flush)");
    }
    ~l2_flusher() { (void)cudaFree(buffer_); }
    l2_flusher(const l2_flusher&) = delete;
    l2_flusher& operator=(const l2_flusher&) = delete;
    void flush(cudaStream_t stream) { check(cudaMemsetAsync(buffer_, 0x5a, size_, stream), "cudaMemsetAsync"); }

private:
    void* buffer_ = nullptr;
    std::size_t size_ = 0;
};

/// Times `body` (which enqueues work on be.stream()) with CUDA events, flushing L2 before each
/// iteration; reports manual time in seconds.
template <class Body>
void time_on_stream(benchmark::State& state, const hg::cuda& be, Body&& body) {
    static l2_flusher flusher;
    auto stream = static_cast<cudaStream_t>(be.stream());
    cudaEvent_t start, stop;
    check(cudaEventCreate(&start), "cudaEventCreate");
    check(cudaEventCreate(&stop), "cudaEventCreate");
    body();  // warm-up (algorithm selection, handles, first-touch)
    check(cudaStreamSynchronize(stream), "warm-up");
    for (auto _ : state) {
        flusher.flush(stream);
        check(cudaEventRecord(start, stream), "cudaEventRecord");
        body();
        check(cudaEventRecord(stop, stream), "cudaEventRecord");
        check(cudaEventSynchronize(stop), "cudaEventSynchronize");
        float ms = 0.f;
        check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
        state.SetIterationTime(static_cast<double>(ms) * 1e-3);
    }
    (void)cudaEventDestroy(start);
    (void)cudaEventDestroy(stop);
}

/// Device-to-device copy bandwidth in bytes/s (bytes read + bytes written), measured once with a
/// 1 GiB cudaMemcpyAsync: the memory ceiling the bandwidth targets are expressed against.
inline double measured_copy_bandwidth(const hg::cuda& be) {
    static double cached = 0.0;
    if (cached > 0.0) return cached;
    const std::size_t bytes = std::size_t{1} << 30;
    void *a = nullptr, *b = nullptr;
    check(cudaMalloc(&a, bytes), "cudaMalloc");
    check(cudaMalloc(&b, bytes), "cudaMalloc");
    auto stream = static_cast<cudaStream_t>(be.stream());
    check(cudaMemsetAsync(a, 1, bytes, stream), "cudaMemsetAsync");
    cudaEvent_t start, stop;
    check(cudaEventCreate(&start), "cudaEventCreate");
    check(cudaEventCreate(&stop), "cudaEventCreate");
    float best = 1e30f;
    for (int i = 0; i < 6; ++i) {
        check(cudaEventRecord(start, stream), "cudaEventRecord");
        check(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync");
        check(cudaEventRecord(stop, stream), "cudaEventRecord");
        check(cudaEventSynchronize(stop), "cudaEventSynchronize");
        float ms = 0.f;
        check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
        if (i > 0 && ms < best) best = ms;
    }
    (void)cudaEventDestroy(start);
    (void)cudaEventDestroy(stop);
    (void)cudaFree(a);
    (void)cudaFree(b);
    cached = 2.0 * static_cast<double>(bytes) / (static_cast<double>(best) * 1e-3);
    return cached;
}

/// The CUDA backend every benchmark of a program shares (created on first use).
inline const hg::cuda& backend() {
    static const hg::cuda be;
    return be;
}

/// The CPU backend the results are checked against.
inline const hg::cpu& host() {
    static const hg::cpu be;
    return be;
}

/// True the first time `key` is seen: a benchmark validates its result once per problem, not once
/// per repetition.
inline bool first_time(const std::string& key) {
    static std::set<std::string> seen;
    return seen.insert(key).second;
}

/// A prediction and a target on the device for the loss benchmarks.
struct image_pair {
    hg::tensor pred, target;
};

/// pred uniform in [0, 1), target = (pred + another uniform image) / 2 (correlated, in [0, 1)).
inline image_pair make_image_pair(const hg::shape& s) {
    const auto& be = backend();
    image_pair im{be.empty(s), be.empty(s)};
    hg::ops::fill_uniform(be, im.pred, 11, 0, 0.f, 1.f);
    hg::ops::fill_uniform(be, im.target, 12, 0, 0.f, 1.f);
    hg::ops::add(be, im.pred, im.target, im.target);
    hg::ops::scale(be, 0.5f, im.target);
    return im;
}

}  // namespace hg::bench

/// main() for CUDA benchmark executables: exits 0 with a message when there is no GPU.
#define HG_CUDA_BENCHMARK_MAIN()                                                        \
    int main(int argc, char** argv) {                                                   \
        if (hg::cuda_device_count() == 0) {                                             \
            std::printf("skipped: %s\n", hg::cuda_device_status().c_str());             \
            return 0;                                                                   \
        }                                                                               \
        benchmark::Initialize(&argc, argv);                                             \
        if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;               \
        benchmark::RunSpecifiedBenchmarks();                                            \
        benchmark::Shutdown();                                                          \
        return 0;                                                                       \
    }
