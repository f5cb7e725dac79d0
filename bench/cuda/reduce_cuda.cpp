// CUDA full reductions (ops::reduce on hg::cuda: a two-stage tree with float64 accumulation, the
// value left on the device) of every kind (sum, mean, max_abs, l2_norm, min, max) over a loss-sized
// image batch [16, 64, 64, 3], a larger one [64, 128, 128, 3] and 80M elements (about the 64 px
// face-swap model's parameters: the gradient norm of clipping and of the optimizer's non-finite
// guard). Quick mode: the first size only. Each kind and size is checked once against the CPU
// before timing: |got - want| <= 1e-6 |want| (docs/numerics.md: both accumulate in double, the
// result is rounded to float) plus 1e-12 per element for the two double sums' different orders
// (their rounding is below 1e-16 per element for these values in [-1, 1)); min and max must agree
// to the same bound, which they meet exactly. A mismatch skips the benchmark with an error.
// Counters: GB/s = 4 bytes read per element / kernel time, of_copy_bw = that over the measured
// device-to-device copy bandwidth (which counts read + write).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

#include "../bench_common.hpp"
#include "cuda_bench.hpp"
#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"

namespace {

using hg::bench::backend;
using hg::bench::first_time;
using hg::bench::host;

const char* kind_name(hg::ops::reduction kind) {
    switch (kind) {
        case hg::ops::reduction::sum: return "sum";
        case hg::ops::reduction::mean: return "mean";
        case hg::ops::reduction::max_abs: return "max_abs";
        case hg::ops::reduction::l2_norm: return "l2_norm";
        case hg::ops::reduction::min: return "min";
        case hg::ops::reduction::max: return "max";
    }
    return "?";
}

void bm_reduce(benchmark::State& state, hg::ops::reduction kind) {
    try {
        const auto& be = backend();
        hg::bench::measured_copy_bandwidth(be);
        const std::int64_t n = state.range(0);
        auto x = be.empty(hg::shape{n});
        hg::ops::fill_uniform(be, x, 1, 0, -1.f, 1.f);
        const auto out = be.empty(hg::shape{1});
        if (first_time(hg::bench::problem_key(kind_name(kind), state, 1))) {
            hg::ops::reduce(be, kind, x, out);
            auto want = hg::tensor::empty(hg::shape{1});
            hg::ops::reduce(host(), kind, be.to_host(x), want);
            const double got = static_cast<double>(be.to_host(out)[0]), w = static_cast<double>(want[0]);
            const double bound = 1e-6 * std::abs(w) + 1e-12 * static_cast<double>(n);
            if (!(std::abs(got - w) <= bound)) {
                char message[160];
                std::snprintf(message, sizeof message, "%s differs from the CPU: %.9g against %.9g (bound %.3g)",
                              kind_name(kind), got, w, bound);
                state.SkipWithError(message);
                return;
            }
        }
        hg::bench::time_on_stream(state, be, [&] { hg::ops::reduce(be, kind, x, out); });
        const double bytes = 4.0 * static_cast<double>(n);
        state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
        state.counters["of_copy_bw"] = benchmark::Counter(bytes / hg::bench::measured_copy_bandwidth(be),
                                                          benchmark::Counter::kIsIterationInvariantRate);
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

void sizes(benchmark::internal::Benchmark* b) {
    for (const std::int64_t n : hg::bench::reduce_sizes()) b->Arg(n);
    b->ArgNames({"n"})->UseManualTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK_CAPTURE(bm_reduce, sum, hg::ops::reduction::sum)->Apply(sizes);
BENCHMARK_CAPTURE(bm_reduce, mean, hg::ops::reduction::mean)->Apply(sizes);
BENCHMARK_CAPTURE(bm_reduce, max_abs, hg::ops::reduction::max_abs)->Apply(sizes);
BENCHMARK_CAPTURE(bm_reduce, l2_norm, hg::ops::reduction::l2_norm)->Apply(sizes);
BENCHMARK_CAPTURE(bm_reduce, min, hg::ops::reduction::min)->Apply(sizes);
BENCHMARK_CAPTURE(bm_reduce, max, hg::ops::reduction::max)->Apply(sizes);

HG_CUDA_BENCHMARK_MAIN()
