// CPU per-element ops and pixel shuffle (ops/elementwise.hpp on hg::cpu) at the sizes of the 64 px
// face-swap model, batch 16 and 64 (quick mode: batch 16):
//   activations  leaky_relu (0.1), relu, sigmoid, tanh, forward and backward, on [N, 32, 32, 256]
//                (the decoder's last upscale convolution output: 4M floats at batch 16)
//   add, axpy, copy on the same tensors (copy: the streaming reference the others compare with)
//   depth_to_space / space_to_depth at every upscale of the model: [N, 4, 4, 2048] <-> [N, 8, 8, 512]
//                (the encoder's), [N, 8, 8, 1024] <-> [N, 16, 16, 256], [N, 16, 16, 512] <->
//                [N, 32, 32, 128] and [N, 32, 32, 256] <-> [N, 64, 64, 64] (the decoder's three)
// Counter GB/s = the bytes the op must read and write per call / time: activation forward 8 per
// element (x read, y written), backward 12 (dy and one of x or y read, dx written: leaky_relu and
// relu use x, sigmoid and tanh use y), add 12, axpy 12, copy 8, pixel shuffle 8.
// Extra flag: --hg_threads=N (default: every OpenMP thread).
#include <benchmark/benchmark.h>

#include <cstdint>

#include "bench_common.hpp"
#include "hourglass/math/activations.hpp"
#include "hourglass/ops/elementwise.hpp"

namespace {

using hg::bench::cpu_be;
using hg::bench::random_tensor;

/// [N, 32, 32, 256] from the batch argument.
hg::shape activations_shape(const benchmark::State& state) { return hg::shape{state.range(0), 32, 32, 256}; }

template <class Body>
void timed(benchmark::State& state, double bytes_per_call, Body&& body) {
    body();  // warm-up (first touch of the outputs)
    for (auto _ : state) {
        body();
        benchmark::ClobberMemory();
    }
    hg::bench::report_bytes(state, bytes_per_call);
}

template <class Fn>
void bm_activation_forward(benchmark::State& state, Fn fn) {
    const auto x = random_tensor(activations_shape(state), 1);
    const auto y = hg::tensor::empty(x.shape());
    timed(state, 8.0 * static_cast<double>(x.numel()), [&] { hg::ops::activation_forward(cpu_be(), fn, x, y); });
}

template <class Fn>
void bm_activation_backward(benchmark::State& state, Fn fn) {
    const auto x = random_tensor(activations_shape(state), 1);
    const auto dy = random_tensor(x.shape(), 2);
    const auto y = hg::tensor::empty(x.shape()), dx = hg::tensor::empty(x.shape());
    hg::ops::activation_forward(cpu_be(), fn, x, y);
    timed(state, 12.0 * static_cast<double>(x.numel()),
          [&] { hg::ops::activation_backward(cpu_be(), fn, x, y, dy, dx); });
}

void bm_add(benchmark::State& state) {
    const auto a = random_tensor(activations_shape(state), 1), b = random_tensor(activations_shape(state), 2);
    const auto out = hg::tensor::empty(a.shape());
    timed(state, 12.0 * static_cast<double>(a.numel()), [&] { hg::ops::add(cpu_be(), a, b, out); });
}

void bm_axpy(benchmark::State& state) {
    const auto x = random_tensor(activations_shape(state), 1);
    // y grows by 0.25 x per call; over any realistic iteration count it stays finite.
    const auto y = random_tensor(activations_shape(state), 2);
    timed(state, 12.0 * static_cast<double>(x.numel()), [&] { hg::ops::axpy(cpu_be(), 0.25f, x, y); });
}

void bm_copy(benchmark::State& state) {
    const auto src = random_tensor(activations_shape(state), 1);
    const auto dst = hg::tensor::empty(src.shape());
    timed(state, 8.0 * static_cast<double>(src.numel()), [&] { hg::ops::copy(cpu_be(), src, dst); });
}

/// Arguments: N, H, W, 4C of the small side [N, H, W, 4C]; the big side is [N, 2H, 2W, C].
hg::shape small_side(const benchmark::State& state) {
    return hg::shape{state.range(0), state.range(1), state.range(2), state.range(3)};
}
hg::shape big_side(const benchmark::State& state) {
    return hg::shape{state.range(0), 2 * state.range(1), 2 * state.range(2), state.range(3) / 4};
}

void bm_depth_to_space(benchmark::State& state) {
    const auto in = random_tensor(small_side(state), 1);
    const auto out = hg::tensor::empty(big_side(state));
    timed(state, 8.0 * static_cast<double>(in.numel()), [&] { hg::ops::depth_to_space(cpu_be(), in, out); });
}

void bm_space_to_depth(benchmark::State& state) {
    const auto in = random_tensor(big_side(state), 1);
    const auto out = hg::tensor::empty(small_side(state));
    timed(state, 8.0 * static_cast<double>(in.numel()), [&] { hg::ops::space_to_depth(cpu_be(), in, out); });
}

void batches(benchmark::internal::Benchmark* b) {
    b->Arg(16);
    if (!hg::bench::quick()) b->Arg(64);
    b->ArgNames({"batch"})->Unit(benchmark::kMicrosecond)->UseRealTime();
}

void shuffle_shapes(benchmark::internal::Benchmark* b) {
    for (const std::int64_t n : {16, 64}) {
        if (n > 16 && hg::bench::quick()) continue;
        b->Args({n, 32, 32, 256});
        b->Args({n, 16, 16, 512});
        b->Args({n, 8, 8, 1024});
        b->Args({n, 4, 4, 2048});
    }
    b->ArgNames({"batch", "h", "w", "c4"})->Unit(benchmark::kMicrosecond)->UseRealTime();
}

}  // namespace

BENCHMARK_CAPTURE(bm_activation_forward, leaky_relu, hg::math::leaky_relu_fn{0.1f})->Apply(batches);
BENCHMARK_CAPTURE(bm_activation_backward, leaky_relu, hg::math::leaky_relu_fn{0.1f})->Apply(batches);
BENCHMARK_CAPTURE(bm_activation_forward, relu, hg::math::relu_fn{})->Apply(batches);
BENCHMARK_CAPTURE(bm_activation_backward, relu, hg::math::relu_fn{})->Apply(batches);
BENCHMARK_CAPTURE(bm_activation_forward, sigmoid, hg::math::sigmoid_fn{})->Apply(batches);
BENCHMARK_CAPTURE(bm_activation_backward, sigmoid, hg::math::sigmoid_fn{})->Apply(batches);
BENCHMARK_CAPTURE(bm_activation_forward, tanh, hg::math::tanh_fn{})->Apply(batches);
BENCHMARK_CAPTURE(bm_activation_backward, tanh, hg::math::tanh_fn{})->Apply(batches);
BENCHMARK(bm_add)->Apply(batches);
BENCHMARK(bm_axpy)->Apply(batches);
BENCHMARK(bm_copy)->Apply(batches);
BENCHMARK(bm_depth_to_space)->Apply(shuffle_shapes);
BENCHMARK(bm_space_to_depth)->Apply(shuffle_shapes);

HG_CPU_BENCHMARK_MAIN()
