// Benchmark of the CPU SSIM loss (hg::losses::ssim, 'valid', 11x11 window) on hg::cpu: forward,
// backward, and forward + backward, at batch 16 and 64 of 64x64x3 images in [0, 1] (the range check
// is off: it is a separate pass). Counter GB/s: the bytes the op must touch per call / time:
// forward reads pred and target (8 bytes per element), backward also reads and writes dpred
// (16 bytes per element), forward + backward 24. Extra flag: --hg_threads=N (default: every
// OpenMP thread).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "hourglass/core/rng.hpp"
#include "hourglass/cpu/backend.hpp"
#include "hourglass/losses/ssim.hpp"

namespace {

int thread_count = 0;

hg::tensor random_image(const hg::shape& s, std::uint64_t seed) {
    hg::rng gen(seed, 3);
    auto t = hg::tensor::empty(s);
    for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>(gen.uniform_double());
    return t;
}

enum class pass { forward, backward, both };

void run(benchmark::State& state, pass which) {
    const hg::cpu be(thread_count);
    const hg::shape s{state.range(0), 64, 64, 3};
    const auto pred = random_image(s, 1);
    auto target = random_image(s, 2);
    for (std::int64_t i = 0; i < s.numel(); ++i) target[i] = 0.5f * (target[i] + pred[i]);  // correlated images
    const hg::losses::ssim loss(hg::ops::ssim_form::valid, false);
    auto value = hg::tensor::empty(hg::shape{1});
    auto dpred = hg::tensor::zeros(s);
    for (auto _ : state) {
        if (which != pass::backward) loss.forward(be, pred, target, value);
        if (which != pass::forward) loss.backward(be, pred, target, 1.0, dpred);
        benchmark::DoNotOptimize(value.data());
        benchmark::DoNotOptimize(dpred.data());
    }
    const double bytes_per_element = which == pass::forward ? 8.0 : which == pass::backward ? 16.0 : 24.0;
    state.counters["GB/s"] = benchmark::Counter(bytes_per_element * static_cast<double>(s.numel()) * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
    state.counters["threads"] = be.threads();
}

void bm_ssim_forward(benchmark::State& state) { run(state, pass::forward); }
void bm_ssim_backward(benchmark::State& state) { run(state, pass::backward); }
void bm_ssim_forward_backward(benchmark::State& state) { run(state, pass::both); }

}  // namespace

BENCHMARK(bm_ssim_forward)->Arg(16)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(bm_ssim_backward)->Arg(16)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(bm_ssim_forward_backward)->Arg(16)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        if (std::strncmp(argv[i], "--hg_threads=", 13) == 0) {
            thread_count = std::atoi(argv[i] + 13);
            for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
            --argc;
            --i;
        }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
