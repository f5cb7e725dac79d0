// CPU Adam: the fused update loop of ops::optim_update (math/optim_rules.hpp) over flat buffers of
// 1 M and 16 M parameters, and the whole optimizer step (gradient norm for the non-finite guard,
// update, gradient reset). Counter GB/s = bytes moved per update / time, counting the update as
// reading parameters, gradients and both moments and writing parameters and both moments (28 bytes
// per parameter). A plain copy of one buffer gives the machine's streaming bandwidth for comparison
// (8 bytes per element: read + write). Run with --benchmark_filter to pick sizes.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>

#include "hourglass/hourglass.hpp"
#include "hourglass/optim/optimizer.hpp"

namespace {

hg::tensor random_buffer(std::int64_t n, std::uint64_t seed, float lo, float hi) {
    auto t = hg::tensor::empty(hg::shape{n});
    hg::ops::fill_uniform(hg::cpu(), t, seed, 0, lo, hi);
    return t;
}

void bm_adam_update(benchmark::State& state) {
    const hg::cpu be(static_cast<int>(state.range(1)));
    const std::int64_t n = state.range(0);
    const auto w = random_buffer(n, 1, -1.f, 1.f), g = random_buffer(n, 2, -1.f, 1.f);
    const auto m = random_buffer(n, 3, -0.1f, 0.1f), v = random_buffer(n, 4, 0.f, 0.01f);
    const auto c = hg::optim::adam(5e-5);
    double mu_product = 1.0;
    const auto k = hg::optim::step_coefficients(c, 10, c.lr, mu_product);
    for (auto _ : state) {
        hg::ops::optim_update(be, c.rule, k, {}, w, g, m, v);
        benchmark::DoNotOptimize(w.data());
        benchmark::ClobberMemory();
    }
    state.counters["GB/s"] =
        benchmark::Counter(28.0 * static_cast<double>(n) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void bm_adam_optimizer_step(benchmark::State& state) {
    hg::cpu be(static_cast<int>(state.range(1)));
    hg::param_layout layout;
    layout.add("w", hg::shape{state.range(0)}, hg::initializer::zeros);
    hg::parameters<hg::cpu> p(be, layout, 1);
    hg::optim::settings s;
    s.rule = hg::optim::adam(5e-5);
    hg::optim::optimizer<hg::cpu> opt(be, p, s);
    const auto g = random_buffer(p.grads().numel(), 2, -1.f, 1.f);
    for (auto _ : state) {
        state.PauseTiming();
        hg::ops::copy(be, g, p.grads());
        state.ResumeTiming();
        opt.step();
    }
    // The step also reads the gradients for the norm and writes them with zeros: 36 bytes.
    state.counters["GB/s"] = benchmark::Counter(36.0 * static_cast<double>(state.range(0)) * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void bm_copy(benchmark::State& state) {
    const hg::cpu be(static_cast<int>(state.range(1)));
    const std::int64_t n = state.range(0);
    const auto src = random_buffer(n, 1, -1.f, 1.f);
    const auto dst = hg::tensor::empty(src.shape());
    for (auto _ : state) {
        hg::ops::copy(be, src, dst);
        benchmark::DoNotOptimize(dst.data());
        benchmark::ClobberMemory();
    }
    state.counters["GB/s"] =
        benchmark::Counter(8.0 * static_cast<double>(n) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void sizes(benchmark::internal::Benchmark* b) {
    for (const std::int64_t n : {std::int64_t{1} << 20, std::int64_t{1} << 24})
        for (const int threads : {1, 0}) b->Args({n, threads});
    b->ArgNames({"n", "threads"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(bm_adam_update)->Apply(sizes);
BENCHMARK(bm_adam_optimizer_step)->Apply(sizes);
BENCHMARK(bm_copy)->Apply(sizes);

BENCHMARK_MAIN();
