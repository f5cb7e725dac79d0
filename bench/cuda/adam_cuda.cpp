// CUDA fused Adam (ops::optim_update, cuda/optim.cu) over 80 M parameters (about the 64 px
// face-swap model: encoder + two decoders), plus a 4 M buffer and the same update with LR dropout
// (the Philox mask drawn per element), with AdamW's decay table, and the whole optimizer step. The
// update is checked against the CPU update once before timing (SkipWithError on a mismatch).
// Counters: GB/s = 28 bytes per parameter (parameters, gradients and two moments read; parameters
// and two moments written) / kernel time, and of_copy_bw = that as a fraction of the measured
// device-to-device copy bandwidth. Target: of_copy_bw >= 0.80.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "cuda_bench.hpp"
#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"
#include "hourglass/optim/optimizer.hpp"

namespace {

using hg::bench::backend;
using hg::bench::first_time;

hg::tensor random_device(std::int64_t n, std::uint64_t seed, float lo, float hi) {
    auto t = backend().empty(hg::shape{n});
    hg::ops::fill_uniform(backend(), t, seed, 0, lo, hi);
    return t;
}

/// Which variant a benchmark runs: 0 = Adam, 1 = Adam with LR dropout 0.3, 2 = AdamW with decay on
/// every other 1024-element block.
void run(benchmark::State& state, int variant) {
    const auto& be = backend();
    hg::bench::measured_copy_bandwidth(be);
    const std::int64_t n = state.range(0);
    auto c = variant == 2 ? hg::optim::adamw(5e-5, 1e-2) : hg::optim::adam(5e-5);
    if (variant == 1) c.lr_dropout = 0.3;
    double mu_product = 1.0;
    const auto k = hg::optim::step_coefficients(c, 10, c.lr, mu_product);
    std::vector<hg::ops::index_range> decay;
    if (variant == 2)
        for (std::int64_t b = 0; b < n && decay.size() < 64; b += 2048) decay.push_back({b, std::min(n, b + 1024)});

    const auto w = random_device(n, 1, -1.f, 1.f), g = random_device(n, 2, -1.f, 1.f);
    const auto m = random_device(n, 3, -0.1f, 0.1f), v = random_device(n, 4, 0.f, 0.01f);
    if (first_time(std::to_string(variant) + "/" + std::to_string(n))) {
        const hg::cpu host;
        auto hw = be.to_host(w), hm = be.to_host(m), hv = be.to_host(v);
        hg::ops::optim_update(host, c.rule, k, decay, hw, be.to_host(g), hm, hv);
        const auto w2 = be.empty(w.shape()), m2 = be.empty(m.shape()), v2 = be.empty(v.shape());
        hg::ops::copy(be, w, w2);
        hg::ops::copy(be, m, m2);
        hg::ops::copy(be, v, v2);
        hg::ops::optim_update(be, c.rule, k, decay, w2, g, m2, v2);
        const auto dw = be.to_host(w2);
        double worst = 0.0;
        for (std::int64_t i = 0; i < n; ++i) {
            const double d = std::abs(static_cast<double>(dw[i]) - static_cast<double>(hw[i]));
            worst = std::isnan(d) ? INFINITY : std::max(worst, d);
        }
        if (!(worst <= 1e-6)) {
            state.SkipWithError(("result differs from the CPU update: max |difference| " + std::to_string(worst)).c_str());
            return;
        }
    }
    hg::bench::time_on_stream(state, be, [&] { hg::ops::optim_update(be, c.rule, k, decay, w, g, m, v); });
    const double bytes = 28.0 * static_cast<double>(n);
    state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["of_copy_bw"] = benchmark::Counter(bytes / hg::bench::measured_copy_bandwidth(be),
                                                      benchmark::Counter::kIsIterationInvariantRate);
}

/// The whole optimizer step on a flat buffer of n parameters: the gradient norm for the non-finite
/// guard (a reduction and its 4-byte read back, which waits for the GPU), the fused update and the
/// gradient reset. Counted as 36 bytes per parameter (the update's 28, the norm's read of the
/// gradients and their reset); of_copy_bw shows what the synchronisation and the extra passes cost.
void bm_adam_optimizer_step(benchmark::State& state) {
    const auto& be = backend();
    hg::bench::measured_copy_bandwidth(be);
    hg::param_layout layout;
    layout.add("w", hg::shape{state.range(0)}, hg::initializer::zeros);
    hg::parameters<hg::cuda> p(be, layout, 1);
    hg::optim::settings s;
    s.rule = hg::optim::adam(5e-5);
    hg::optim::optimizer<hg::cuda> opt(be, p, s);
    hg::ops::fill_uniform(be, p.grads(), 2, 0, -1.f, 1.f);
    hg::bench::time_on_stream(state, be, [&] { opt.step(); });
    const double bytes = 36.0 * static_cast<double>(state.range(0));
    state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["of_copy_bw"] = benchmark::Counter(bytes / hg::bench::measured_copy_bandwidth(be),
                                                      benchmark::Counter::kIsIterationInvariantRate);
}

void bm_adam(benchmark::State& state) { run(state, 0); }
void bm_adam_lr_dropout(benchmark::State& state) { run(state, 1); }
void bm_adamw_decay_table(benchmark::State& state) { run(state, 2); }

void sizes(benchmark::internal::Benchmark* b) {
    b->Arg(std::int64_t{80} * 1000 * 1000)->Arg(std::int64_t{4} << 20)->UseManualTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(bm_adam)->Apply(sizes);
BENCHMARK(bm_adam_lr_dropout)->Apply(sizes);
BENCHMARK(bm_adamw_decay_table)->Apply(sizes);
BENCHMARK(bm_adam_optimizer_step)->Apply(sizes);

HG_CUDA_BENCHMARK_MAIN()
