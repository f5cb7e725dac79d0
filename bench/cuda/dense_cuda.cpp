// CUDA dense layer (ops::dense_* on hg::cuda: cuBLAS products, the bias through our kernels) at the
// two dense layers of the 64 px face-swap model ('original'): 4*4*1024 -> 1024 and 1024 -> 4*4*1024,
// at batch 16 and 64 (quick mode: batch 16), forward, backward data and backward filter, each in
// float32 (TF32 off, as the tests run) and with TF32 tensor-core math (as training may run).
// Before timing, each pass is checked once against the CPU op on the same inputs (norm-wise
// relative error; backward filter: what it adds to zeroed dw and db): tolerance 1e-5 in float32
// (docs/numerics.md: sums of up to 16,384 products in another order), 5e-3 with TF32 (10 mantissa
// bits per operand, as conv2d_cuda.cpp). A mismatch skips the benchmark with an error.
// Counters: TFLOP (shown per second: 2 * N * in * out per pass, bias not counted); GB/s = the bytes
// the pass must touch (the weights, read, or read and written by backward filter, plus each
// activation read or written once) / kernel time, and of_copy_bw = that over the measured
// device-to-device copy bandwidth. At batch 16 the 64 MiB weight matrix dominates: these passes are
// bound by memory, so of_copy_bw is the number to watch there, TFLOP at batch 64.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <exception>
#include <string>

#include "../bench_common.hpp"
#include "compare.hpp"
#include "cuda_bench.hpp"
#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"

namespace {

using hg::bench::first_time;
using hg::bench::host;

constexpr double fp32_tolerance = 1e-5;
constexpr double tf32_tolerance = 5e-3;

/// This program's backend: TF32 is switched per benchmark, so it is not cuda_bench.hpp's const one.
hg::cuda& gpu() {
    static hg::cuda be;
    return be;
}

enum class pass { forward, backward_data, backward_filter };

const char* pass_name(pass p) {
    return p == pass::forward ? "forward" : p == pass::backward_data ? "backward_data" : "backward_filter";
}

hg::tensor random_device(const hg::shape& s, std::uint64_t seed) {
    auto t = gpu().empty(s);
    hg::ops::fill_uniform(gpu(), t, seed, 0, -1.f, 1.f);
    return t;
}

/// Arguments: batch, in, out, tf32 (0 or 1).
void run(benchmark::State& state, pass which) {
    try {
        hg::cuda& be = gpu();
        const std::int64_t n = state.range(0), in = state.range(1), out = state.range(2);
        const bool tf32 = state.range(3) != 0;
        be.set_tf32(tf32);
        hg::bench::measured_copy_bandwidth(be);
        const auto x = random_device(hg::shape{n, in}, 1), w = random_device(hg::shape{out, in}, 2);
        const auto b = random_device(hg::shape{out}, 3), dy = random_device(hg::shape{n, out}, 4);
        const auto y = be.empty(hg::shape{n, out}), dx = be.empty(hg::shape{n, in});
        const auto dw = be.empty(hg::shape{out, in}), db = be.empty(hg::shape{out});
        hg::ops::fill(be, dw, 0.f);
        hg::ops::fill(be, db, 0.f);
        auto call = [&] {
            switch (which) {
                case pass::forward: hg::ops::dense_forward(be, n, in, out, x, w, b, y); break;
                case pass::backward_data: hg::ops::dense_backward_data(be, n, in, out, dy, w, dx); break;
                case pass::backward_filter: hg::ops::dense_backward_filter(be, n, in, out, x, dy, dw, db); break;
            }
        };
        if (first_time(hg::bench::problem_key(pass_name(which), state, 4))) {
            call();  // dw and db start at zero: after one call they hold what backward filter adds
            const double tol = tf32 ? tf32_tolerance : fp32_tolerance;
            const auto hx = be.to_host(x), hw = be.to_host(w), hdy = be.to_host(dy);
            if (which == pass::forward) {
                auto want = hg::tensor::empty(hg::shape{n, out});
                hg::ops::dense_forward(host(), n, in, out, hx, hw, be.to_host(b), want);
                if (!hg::bench::matches_cpu(state, be, y, want, tol, "y")) return;
            } else if (which == pass::backward_data) {
                auto want = hg::tensor::empty(hg::shape{n, in});
                hg::ops::dense_backward_data(host(), n, in, out, hdy, hw, want);
                if (!hg::bench::matches_cpu(state, be, dx, want, tol, "dx")) return;
            } else {
                auto want_w = hg::tensor::zeros(hg::shape{out, in}), want_b = hg::tensor::zeros(hg::shape{out});
                hg::ops::dense_backward_filter(host(), n, in, out, hx, hdy, want_w, want_b);
                if (!hg::bench::matches_cpu(state, be, dw, want_w, tol, "dw")) return;
                if (!hg::bench::matches_cpu(state, be, db, want_b, tol, "db")) return;
            }
        }
        hg::bench::time_on_stream(state, be, call);
        const double weights = 4.0 * static_cast<double>(in * out);
        const double bytes =
            (which == pass::backward_filter ? 2.0 * weights : weights) + 4.0 * static_cast<double>(n * (in + out));
        state.counters["TFLOP"] = benchmark::Counter(2.0 * static_cast<double>(n * in * out) * 1e-12,
                                                     benchmark::Counter::kIsIterationInvariantRate);
        state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
        state.counters["of_copy_bw"] = benchmark::Counter(bytes / hg::bench::measured_copy_bandwidth(be),
                                                          benchmark::Counter::kIsIterationInvariantRate);
        be.set_tf32(false);
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

void bm_dense_forward(benchmark::State& state) { run(state, pass::forward); }
void bm_dense_backward_data(benchmark::State& state) { run(state, pass::backward_data); }
void bm_dense_backward_filter(benchmark::State& state) { run(state, pass::backward_filter); }

void shapes(benchmark::internal::Benchmark* b) {
    for (const auto& [n, in, out] : hg::bench::dense_shapes())
        for (const std::int64_t tf32 : {0, 1}) b->Args({n, in, out, tf32});
    b->ArgNames({"batch", "in", "out", "tf32"})->UseManualTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(bm_dense_forward)->Apply(shapes);
BENCHMARK(bm_dense_backward_data)->Apply(shapes);
BENCHMARK(bm_dense_backward_filter)->Apply(shapes);

HG_CUDA_BENCHMARK_MAIN()
