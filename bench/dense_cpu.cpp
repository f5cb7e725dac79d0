// CPU dense layer (ops::dense_* on hg::cpu: Eigen products, the bias in the same pass) at the two
// dense layers of the 64 px face-swap model ('original'): the encoder's 4*4*1024 -> 1024 and
// 1024 -> 4*4*1024, at batch 16 and 64 (quick mode: batch 16), for each pass:
//   forward          y = x w^T + b
//   backward_data    dx = dy w
//   backward_filter  dw += dy^T x, db += column sums of dy
// Counters: GFLOP/s = 2 * N * in * out per pass / time (the bias is not counted); GB/s = the bytes
// the pass must touch / time: the weights (read; read and written by backward_filter) and the
// activations (each input read once, each output written once). At batch 16 the weight matrix
// (64 MiB) dominates, so these passes are bound by memory rather than by the products.
// Extra flag: --hg_threads=N (default: every OpenMP thread).
#include <benchmark/benchmark.h>

#include <cstdint>

#include "bench_common.hpp"
#include "hourglass/ops/dense.hpp"

namespace {

using hg::bench::cpu_be;
using hg::bench::random_tensor;

enum class pass { forward, backward_data, backward_filter };

/// Arguments: batch, in, out.
void run(benchmark::State& state, pass which) {
    const std::int64_t n = state.range(0), in = state.range(1), out = state.range(2);
    const auto& be = cpu_be();
    const auto x = random_tensor(hg::shape{n, in}, 1), w = random_tensor(hg::shape{out, in}, 2);
    const auto b = random_tensor(hg::shape{out}, 3), dy = random_tensor(hg::shape{n, out}, 4);
    const auto y = hg::tensor::empty(hg::shape{n, out}), dx = hg::tensor::empty(hg::shape{n, in});
    // Small values: backward_filter accumulates over every iteration.
    const auto dw = random_tensor(hg::shape{out, in}, 5, -1e-3f, 1e-3f), db = random_tensor(hg::shape{out}, 6);
    auto call = [&] {
        switch (which) {
            case pass::forward: hg::ops::dense_forward(be, n, in, out, x, w, b, y); break;
            case pass::backward_data: hg::ops::dense_backward_data(be, n, in, out, dy, w, dx); break;
            case pass::backward_filter: hg::ops::dense_backward_filter(be, n, in, out, x, dy, dw, db); break;
        }
    };
    call();  // warm-up (first touch of the outputs)
    for (auto _ : state) {
        call();
        benchmark::ClobberMemory();
    }
    const double weights = 4.0 * static_cast<double>(in * out);
    const double acts = 4.0 * static_cast<double>(n * (in + out));
    hg::bench::report_flops(state, 2.0 * static_cast<double>(n * in * out));
    hg::bench::report_bytes(state, (which == pass::backward_filter ? 2.0 * weights : weights) + acts);
}

void bm_dense_forward(benchmark::State& state) { run(state, pass::forward); }
void bm_dense_backward_data(benchmark::State& state) { run(state, pass::backward_data); }
void bm_dense_backward_filter(benchmark::State& state) { run(state, pass::backward_filter); }

/// The two dense layers of the 64 px model at batch 16 and 64.
void shapes(benchmark::internal::Benchmark* b) {
    for (const auto& [n, in, out] : hg::bench::dense_shapes()) b->Args({n, in, out});
    b->ArgNames({"batch", "in", "out"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(bm_dense_forward)->Apply(shapes);
BENCHMARK(bm_dense_backward_data)->Apply(shapes);
BENCHMARK(bm_dense_backward_filter)->Apply(shapes);

HG_CPU_BENCHMARK_MAIN()
