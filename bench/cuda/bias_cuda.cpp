// CUDA per-channel bias ops (ops/bias.hpp on hg::cuda) on NHWC convolution outputs of the 64 px
// face-swap model, batch 16 and 64 (quick mode: batch 16): [N, 32, 32, 256] (the decoder's last
// upscale convolution, 256 channels) and [N, 64, 64, 3] (its output convolution, 3 channels):
//   bias_add                     y += b                          8 bytes per element
//   bias_grad                    db += sums of dy over N, H, W   4 bytes per element
//   bias_activation_forward      pre += b; y = leaky_relu(pre)   12 bytes per element
// Each is checked once against the CPU op on the same inputs before timing (norm-wise relative
// error): bias_add and the fused bias + LeakyReLU 1e-6 (one rounding per element, the same on both),
// bias_grad 1e-5 on what it adds to a zeroed db (float32 column sums in another order against the
// CPU's double sums, as tests/cuda/test_bias.cpp). A mismatch skips the benchmark with an error.
// Counters: GB/s = those bytes / kernel time, of_copy_bw = that over the measured device-to-device
// copy bandwidth.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <exception>

#include "../bench_common.hpp"
#include "compare.hpp"
#include "cuda_bench.hpp"
#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"
#include "hourglass/math/activations.hpp"

namespace {

using hg::bench::backend;
using hg::bench::first_time;
using hg::bench::host;

/// Arguments: N, H, W, C.
hg::shape nhwc(const benchmark::State& state) {
    return hg::shape{state.range(0), state.range(1), state.range(2), state.range(3)};
}

hg::tensor random_device(const hg::shape& s, std::uint64_t seed, float lo, float hi) {
    auto t = backend().empty(s);
    hg::ops::fill_uniform(backend(), t, seed, 0, lo, hi);
    return t;
}

void report(benchmark::State& state, double bytes_per_call) {
    state.counters["GB/s"] = benchmark::Counter(bytes_per_call * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["of_copy_bw"] = benchmark::Counter(bytes_per_call / hg::bench::measured_copy_bandwidth(backend()),
                                                      benchmark::Counter::kIsIterationInvariantRate);
}

void bm_bias_add(benchmark::State& state) {
    try {
        const auto& be = backend();
        hg::bench::measured_copy_bandwidth(be);
        // y grows by b per call; with |b| < 1e-3 it stays finite over any realistic iteration count.
        const auto y = random_device(nhwc(state), 1, -1.f, 1.f);
        const auto b = random_device(hg::shape{state.range(3)}, 2, -1e-3f, 1e-3f);
        if (first_time(hg::bench::problem_key("bias_add", state, 4))) {
            auto want = be.to_host(y);
            hg::ops::bias_add(host(), want, be.to_host(b));
            hg::ops::bias_add(be, y, b);
            if (!hg::bench::matches_cpu(state, be, y, want, 1e-6, "y")) return;
        }
        hg::bench::time_on_stream(state, be, [&] { hg::ops::bias_add(be, y, b); });
        report(state, 8.0 * static_cast<double>(y.numel()));
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

void bm_bias_grad(benchmark::State& state) {
    try {
        const auto& be = backend();
        hg::bench::measured_copy_bandwidth(be);
        const auto dy = random_device(nhwc(state), 1, -1.f, 1.f);
        const auto db = be.empty(hg::shape{state.range(3)});
        hg::ops::fill(be, db, 0.f);
        if (first_time(hg::bench::problem_key("bias_grad", state, 4))) {
            auto want = hg::tensor::zeros(db.shape());
            hg::ops::bias_grad(host(), be.to_host(dy), want);
            hg::ops::bias_grad(be, dy, db);
            if (!hg::bench::matches_cpu(state, be, db, want, 1e-5, "db")) return;
        }
        hg::bench::time_on_stream(state, be, [&] { hg::ops::bias_grad(be, dy, db); });
        report(state, 4.0 * static_cast<double>(dy.numel()));
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

void bm_bias_leaky_relu_forward(benchmark::State& state) {
    try {
        const auto& be = backend();
        hg::bench::measured_copy_bandwidth(be);
        const hg::math::leaky_relu_fn fn{0.1f};
        const auto pre = random_device(nhwc(state), 1, -1.f, 1.f);
        const auto b = random_device(hg::shape{state.range(3)}, 2, -1e-3f, 1e-3f);
        const auto y = be.empty(pre.shape());
        if (first_time(hg::bench::problem_key("bias_leaky_relu_forward", state, 4))) {
            auto want_pre = be.to_host(pre);
            auto want_y = hg::tensor::empty(pre.shape());
            hg::ops::bias_activation_forward(host(), fn, be.to_host(b), want_pre, want_y);
            hg::ops::bias_activation_forward(be, fn, b, pre, y);
            if (!hg::bench::matches_cpu(state, be, pre, want_pre, 1e-6, "pre")) return;
            if (!hg::bench::matches_cpu(state, be, y, want_y, 1e-6, "y")) return;
        }
        hg::bench::time_on_stream(state, be, [&] { hg::ops::bias_activation_forward(be, fn, b, pre, y); });
        report(state, 12.0 * static_cast<double>(pre.numel()));
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

void shapes(benchmark::internal::Benchmark* b) {
    for (const std::int64_t n : {16, 64}) {
        if (n > 16 && hg::bench::quick()) continue;
        b->Args({n, 32, 32, 256});
        b->Args({n, 64, 64, 3});
    }
    b->ArgNames({"batch", "h", "w", "c"})->UseManualTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(bm_bias_add)->Apply(shapes);
BENCHMARK(bm_bias_grad)->Apply(shapes);
BENCHMARK(bm_bias_leaky_relu_forward)->Apply(shapes);

HG_CUDA_BENCHMARK_MAIN()
