// Shared pieces of the benchmark suites: the quick switch (HG_BENCH_QUICK, set by scripts/bench.sh
// --quick, makes a suite register only its smallest problem of each kind), the --hg_threads=N flag
// and the process-wide CPU backend it configures, seeded random tensors, a bytes-per-call GB/s
// counter, the problem lists a CPU suite shares with its CUDA twin (dense_shapes, reduce_sizes), and
// a main() for the CPU suites. The CUDA suites use quick() and the lists too (bench/cuda/*).
#pragma once

#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "hourglass/cpu/backend.hpp"
#include "hourglass/ops/random.hpp"

namespace hg::bench {

/// True when HG_BENCH_QUICK is set to anything but "" or "0". Read while the benchmarks register
/// (static initialisation), so it is an environment variable, not a flag.
inline bool quick() {
    static const bool on = [] {
        const char* v = std::getenv("HG_BENCH_QUICK");
        return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
    }();
    return on;
}

/// Problem lists shared by a CPU suite and its CUDA twin, so both time the same problems.
/// Dense: the two dense layers of the 64 px model, {batch, in, out}, at batch 16 (and 64 unless quick).
inline std::vector<std::array<std::int64_t, 3>> dense_shapes() {
    constexpr std::int64_t flat = 4 * 4 * 1024, bottleneck = 1024;
    std::vector<std::array<std::int64_t, 3>> shapes;
    for (const std::int64_t n : {16, 64}) {
        if (n > 16 && quick()) continue;
        shapes.push_back({n, flat, bottleneck});
        shapes.push_back({n, bottleneck, flat});
    }
    return shapes;
}

/// Reductions: element counts of a batch of 16 64 px images, and (unless quick) 64 of 128 px and the
/// 80M of a parameter buffer.
inline std::vector<std::int64_t> reduce_sizes() {
    if (quick()) return {16 * 64 * 64 * 3};
    return {16 * 64 * 64 * 3, 64 * 128 * 128 * 3, std::int64_t{80} * 1000 * 1000};
}

/// The thread count of the CPU backend: --hg_threads=N (0, the default: every OpenMP thread).
inline int& requested_threads() {
    static int threads = 0;
    return threads;
}

/// Removes every --hg_threads=N from argv (it is not a Google Benchmark flag) and records N.
inline void take_threads_flag(int& argc, char** argv) {
    constexpr const char* flag = "--hg_threads=";
    const std::size_t len = std::strlen(flag);
    for (int i = 1; i < argc; ++i)
        if (std::strncmp(argv[i], flag, len) == 0) {
            requested_threads() = std::atoi(argv[i] + len);
            for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
            --argc;
            --i;
        }
}

/// The process-wide CPU backend (made on first use, after the flags are read); its scratch buffer
/// is reused across benchmarks, as in training.
inline const hg::cpu& cpu_be() {
    static const hg::cpu be(requested_threads());
    return be;
}

/// A CPU tensor of uniform values in [lo, hi) from the counter-based stream `seed` (never zeros).
inline hg::tensor random_tensor(const hg::shape& s, std::uint64_t seed, float lo = -1.f, float hi = 1.f) {
    auto t = hg::tensor::empty(s);
    hg::ops::fill_uniform(cpu_be(), t, seed, 0, lo, hi);
    return t;
}

/// Sets the GB/s counter: bytes_per_call (what the op must read and write) per second.
inline void report_bytes(benchmark::State& state, double bytes_per_call) {
    state.counters["GB/s"] = benchmark::Counter(bytes_per_call * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

/// Sets the GFLOP/s counter: flops_per_call per second.
inline void report_flops(benchmark::State& state, double flops_per_call) {
    state.counters["GFLOP/s"] =
        benchmark::Counter(flops_per_call * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

/// "name/arg0/arg1/...": a key for validating a problem once (CUDA suites) or labelling it.
inline std::string problem_key(const char* name, const benchmark::State& state, std::size_t args) {
    std::string k = name;
    for (std::size_t i = 0; i < args; ++i) {
        k += '/';
        k += std::to_string(state.range(i));
    }
    return k;
}

}  // namespace hg::bench

/// main() for the CPU suites: reads --hg_threads=N, records the thread count and the quick switch
/// in the output's context, runs the selected benchmarks.
#define HG_CPU_BENCHMARK_MAIN()                                                                         \
    int main(int argc, char** argv) {                                                                   \
        hg::bench::take_threads_flag(argc, argv);                                                       \
        benchmark::Initialize(&argc, argv);                                                             \
        if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;                               \
        benchmark::AddCustomContext("hg_threads", std::to_string(hg::bench::cpu_be().threads()));  \
        benchmark::AddCustomContext("hg_quick", hg::bench::quick() ? "yes" : "no");                     \
        benchmark::RunSpecifiedBenchmarks();                                                            \
        benchmark::Shutdown();                                                                          \
        return 0;                                                                                       \
    }
