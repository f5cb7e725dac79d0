// CPU full reductions (ops::reduce on hg::cpu, float64 accumulation, threads split statically) of
// every kind (sum, mean, max_abs, l2_norm, min, max) over three sizes: a loss-sized image batch
// [16, 64, 64, 3], a larger one [64, 128, 128, 3], and 80M elements (about the 64 px face-swap model's
// parameters: the gradient norm of clipping and of the optimizer's non-finite guard). Quick mode: the
// first size only. Counter GB/s = 4 bytes read per element / time.
// Extra flag: --hg_threads=N (default: every OpenMP thread).
#include <benchmark/benchmark.h>

#include <cstdint>

#include "bench_common.hpp"
#include "hourglass/ops/reduce.hpp"

namespace {

using hg::bench::cpu_be;

void bm_reduce(benchmark::State& state, hg::ops::reduction kind) {
    const auto x = hg::bench::random_tensor(hg::shape{state.range(0)}, 1);
    auto out = hg::tensor::empty(hg::shape{1});
    hg::ops::reduce(cpu_be(), kind, x, out);  // warm-up
    for (auto _ : state) {
        hg::ops::reduce(cpu_be(), kind, x, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    hg::bench::report_bytes(state, 4.0 * static_cast<double>(x.numel()));
}

void sizes(benchmark::internal::Benchmark* b) {
    for (const std::int64_t n : hg::bench::reduce_sizes()) b->Arg(n);
    b->ArgNames({"n"})->Unit(benchmark::kMicrosecond)->UseRealTime();
}

}  // namespace

BENCHMARK_CAPTURE(bm_reduce, sum, hg::ops::reduction::sum)->Apply(sizes);
BENCHMARK_CAPTURE(bm_reduce, mean, hg::ops::reduction::mean)->Apply(sizes);
BENCHMARK_CAPTURE(bm_reduce, max_abs, hg::ops::reduction::max_abs)->Apply(sizes);
BENCHMARK_CAPTURE(bm_reduce, l2_norm, hg::ops::reduction::l2_norm)->Apply(sizes);
BENCHMARK_CAPTURE(bm_reduce, min, hg::ops::reduction::min)->Apply(sizes);
BENCHMARK_CAPTURE(bm_reduce, max, hg::ops::reduction::max)->Apply(sizes);

HG_CPU_BENCHMARK_MAIN()
