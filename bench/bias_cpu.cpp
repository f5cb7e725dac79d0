// CPU per-channel bias ops (ops/bias.hpp on hg::cpu) on NHWC convolution outputs of the 64 px
// face-swap model, batch 16 and 64 (quick mode: batch 16): [N, 32, 32, 256] (the decoder's last upscale
// convolution, 256 channels) and [N, 64, 64, 3] (its output convolution, 3 channels):
//   bias_add                     y += b                    8 bytes per element (y read and written)
//   bias_grad                    db += sums of dy over N, H, W   4 bytes per element (dy read)
//   bias_activation_forward      pre += b; y = leaky_relu(pre)   12 bytes per element
// Counter GB/s = those bytes / time. Extra flag: --hg_threads=N (default: every OpenMP thread).
#include <benchmark/benchmark.h>

#include <cstdint>

#include "bench_common.hpp"
#include "hourglass/math/activations.hpp"
#include "hourglass/ops/bias.hpp"

namespace {

using hg::bench::cpu_be;
using hg::bench::random_tensor;

/// Arguments: N, H, W, C.
hg::shape nhwc(const benchmark::State& state) {
    return hg::shape{state.range(0), state.range(1), state.range(2), state.range(3)};
}

template <class Body>
void timed(benchmark::State& state, double bytes_per_call, Body&& body) {
    body();  // warm-up
    for (auto _ : state) {
        body();
        benchmark::ClobberMemory();
    }
    hg::bench::report_bytes(state, bytes_per_call);
}

void bm_bias_add(benchmark::State& state) {
    // y grows by b per call; with |b| < 1e-3 it stays finite over any realistic iteration count.
    const auto y = random_tensor(nhwc(state), 1);
    const auto b = random_tensor(hg::shape{state.range(3)}, 2, -1e-3f, 1e-3f);
    timed(state, 8.0 * static_cast<double>(y.numel()), [&] { hg::ops::bias_add(cpu_be(), y, b); });
}

void bm_bias_grad(benchmark::State& state) {
    const auto dy = random_tensor(nhwc(state), 1);
    const auto db = random_tensor(hg::shape{state.range(3)}, 2);
    timed(state, 4.0 * static_cast<double>(dy.numel()), [&] { hg::ops::bias_grad(cpu_be(), dy, db); });
}

void bm_bias_leaky_relu_forward(benchmark::State& state) {
    const auto pre = random_tensor(nhwc(state), 1);
    const auto b = random_tensor(hg::shape{state.range(3)}, 2, -1e-3f, 1e-3f);
    const auto y = hg::tensor::empty(pre.shape());
    const hg::math::leaky_relu_fn fn{0.1f};
    timed(state, 12.0 * static_cast<double>(pre.numel()),
          [&] { hg::ops::bias_activation_forward(cpu_be(), fn, b, pre, y); });
}

void shapes(benchmark::internal::Benchmark* b) {
    for (const std::int64_t n : {16, 64}) {
        if (n > 16 && hg::bench::quick()) continue;
        b->Args({n, 32, 32, 256});
        b->Args({n, 64, 64, 3});
    }
    b->ArgNames({"batch", "h", "w", "c"})->Unit(benchmark::kMicrosecond)->UseRealTime();
}

}  // namespace

BENCHMARK(bm_bias_add)->Apply(shapes);
BENCHMARK(bm_bias_grad)->Apply(shapes);
BENCHMARK(bm_bias_leaky_relu_forward)->Apply(shapes);

HG_CPU_BENCHMARK_MAIN()
