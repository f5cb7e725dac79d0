// CUDA per-element ops and pixel shuffle at the sizes of the 64 px face-swap model: leaky_relu
// forward/backward, sigmoid forward, add, axpy and copy on [16,32,32,256] (4M floats) and
// [64,64,64,256] (64M floats); depth_to_space and space_to_depth from small sides [16,32,32,256],
// [64,64,64,256] and [16,32,32,12] (3 channels on the big side: the scalar path).
// Each result is checked against the CPU op once before timing (SkipWithError on a mismatch).
// Counters: GB/s = bytes read + written per call / kernel time, and of_copy_bw = that as a fraction
// of the measured device-to-device copy bandwidth. Targets: elementwise >= 0.80, shuffle >= 0.70.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>

#include "cuda_bench.hpp"
#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"
#include "hourglass/math/activations.hpp"

namespace {

using hg::bench::backend;
using hg::bench::host;
using hg::bench::first_time;

hg::tensor random_device(const hg::shape& s, std::uint64_t seed) {
    auto t = backend().empty(s);
    hg::ops::fill_uniform(backend(), t, seed, 0, -1.f, 1.f);
    return t;
}

/// True the first time a key is seen: results are validated once per benchmark and size, not on
/// every one of Google Benchmark's repeated calls.
/// Compares a device result with the CPU's (max |difference| <= tolerance, NaN fails); on a
/// mismatch reports it through SkipWithError and returns false.
bool matches(benchmark::State& state, const hg::tensor& device_result, const hg::tensor& want, double tolerance) {
    const auto got = backend().to_host(device_result);
    double worst = 0.0;
    for (std::int64_t i = 0; i < got.numel(); ++i) {
        const double d = std::abs(static_cast<double>(got[i]) - static_cast<double>(want[i]));
        worst = std::isnan(d) ? INFINITY : std::max(worst, d);
    }
    if (worst <= tolerance) return true;
    state.SkipWithError(("result differs from the CPU op: max |difference| " + std::to_string(worst)).c_str());
    return false;
}

void report(benchmark::State& state, double bytes_per_call) {
    const double copy_bandwidth = hg::bench::measured_copy_bandwidth(backend());
    state.counters["GB/s"] = benchmark::Counter(bytes_per_call * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["of_copy_bw"] =
        benchmark::Counter(bytes_per_call / copy_bandwidth, benchmark::Counter::kIsIterationInvariantRate);
}

/// The benchmark's name and its first `args` arguments.
std::string key(const char* op, const benchmark::State& state, std::size_t args = 1) {
    std::string k = op;
    for (std::size_t i = 0; i < args; ++i) {
        k += '/';
        k += std::to_string(state.range(i));
    }
    return k;
}

hg::shape flat(const benchmark::State& state) { return hg::shape{state.range(0)}; }

template <class Fn>
void run_activation_forward(benchmark::State& state, const char* name, const Fn& fn, double tolerance) {
    const auto& be = backend();
    hg::bench::measured_copy_bandwidth(be);
    const auto x = random_device(flat(state), 1);
    const auto y = be.empty(x.shape());
    if (first_time(key(name, state))) {
        hg::ops::activation_forward(be, fn, x, y);
        const auto hx = be.to_host(x);
        auto want = hg::tensor::empty(x.shape());
        hg::ops::activation_forward(host(), fn, hx, want);
        if (!matches(state, y, want, tolerance)) return;
    }
    hg::bench::time_on_stream(state, be, [&] { hg::ops::activation_forward(be, fn, x, y); });
    report(state, 8.0 * static_cast<double>(x.numel()));  // read x, write y
}

void bm_leaky_relu_forward(benchmark::State& state) {
    run_activation_forward(state, "leaky_relu_forward", hg::math::leaky_relu_fn{0.1f}, 0.0);
}

void bm_sigmoid_forward(benchmark::State& state) {
    run_activation_forward(state, "sigmoid_forward", hg::math::sigmoid_fn{}, 1e-6);
}

void bm_leaky_relu_backward(benchmark::State& state) {
    const auto& be = backend();
    const hg::math::leaky_relu_fn fn{0.1f};
    hg::bench::measured_copy_bandwidth(be);
    const auto x = random_device(flat(state), 1);
    const auto dy = random_device(flat(state), 2);
    const auto y = be.empty(x.shape());
    const auto dx = be.empty(x.shape());
    hg::ops::activation_forward(be, fn, x, y);
    if (first_time(key("leaky_relu_backward", state))) {
        hg::ops::activation_backward(be, fn, x, y, dy, dx);
        const auto hx = be.to_host(x), hy = be.to_host(y), hdy = be.to_host(dy);
        auto want = hg::tensor::empty(x.shape());
        hg::ops::activation_backward(host(), fn, hx, hy, hdy, want);
        if (!matches(state, dx, want, 0.0)) return;
    }
    hg::bench::time_on_stream(state, be, [&] { hg::ops::activation_backward(be, fn, x, y, dy, dx); });
    // Read x and dy, write dx: leaky_relu's derivative does not use y, and the compiler drops
    // that load (were it kept, the real traffic would be higher than counted).
    report(state, 12.0 * static_cast<double>(x.numel()));
}

void bm_add(benchmark::State& state) {
    const auto& be = backend();
    hg::bench::measured_copy_bandwidth(be);
    const auto a = random_device(flat(state), 1);
    const auto b = random_device(flat(state), 2);
    const auto out = be.empty(a.shape());
    if (first_time(key("add", state))) {
        hg::ops::add(be, a, b, out);
        auto want = hg::tensor::empty(a.shape());
        hg::ops::add(host(), be.to_host(a), be.to_host(b), want);
        if (!matches(state, out, want, 0.0)) return;
    }
    hg::bench::time_on_stream(state, be, [&] { hg::ops::add(be, a, b, out); });
    report(state, 12.0 * static_cast<double>(a.numel()));  // read a and b, write out
}

void bm_axpy(benchmark::State& state) {
    const auto& be = backend();
    hg::bench::measured_copy_bandwidth(be);
    const float alpha = 0.25f;
    const auto x = random_device(flat(state), 1);
    const auto y = random_device(flat(state), 2);
    if (first_time(key("axpy", state))) {
        auto want = be.to_host(y);
        hg::ops::axpy(host(), alpha, be.to_host(x), want);
        hg::ops::axpy(be, alpha, x, y);
        if (!matches(state, y, want, 1e-6)) return;
    }
    hg::bench::time_on_stream(state, be, [&] { hg::ops::axpy(be, alpha, x, y); });
    report(state, 12.0 * static_cast<double>(x.numel()));  // read x and y, write y
}

void bm_copy(benchmark::State& state) {
    const auto& be = backend();
    hg::bench::measured_copy_bandwidth(be);
    const auto src = random_device(flat(state), 1);
    const auto dst = be.empty(src.shape());
    if (first_time(key("copy", state))) {
        hg::ops::copy(be, src, dst);
        if (!matches(state, dst, be.to_host(src), 0.0)) return;
    }
    hg::bench::time_on_stream(state, be, [&] { hg::ops::copy(be, src, dst); });
    report(state, 8.0 * static_cast<double>(src.numel()));  // read src, write dst
}

/// The small side [N, H, W, 4C] from the arguments, and the big side [N, 2H, 2W, C].
hg::shape small_side(const benchmark::State& state) {
    return hg::shape{state.range(0), state.range(1), state.range(2), state.range(3)};
}
hg::shape big_side(const benchmark::State& state) {
    return hg::shape{state.range(0), 2 * state.range(1), 2 * state.range(2), state.range(3) / 4};
}

void bm_depth_to_space(benchmark::State& state) {
    const auto& be = backend();
    hg::bench::measured_copy_bandwidth(be);
    const auto in = random_device(small_side(state), 1);
    const auto out = be.empty(big_side(state));
    if (first_time(key("depth_to_space", state, 4))) {
        hg::ops::depth_to_space(be, in, out);
        auto want = hg::tensor::empty(out.shape());
        hg::ops::depth_to_space(host(), be.to_host(in), want);
        if (!matches(state, out, want, 0.0)) return;
    }
    hg::bench::time_on_stream(state, be, [&] { hg::ops::depth_to_space(be, in, out); });
    report(state, 8.0 * static_cast<double>(in.numel()));  // read in, write out
}

void bm_space_to_depth(benchmark::State& state) {
    const auto& be = backend();
    hg::bench::measured_copy_bandwidth(be);
    const auto in = random_device(big_side(state), 1);
    const auto out = be.empty(small_side(state));
    if (first_time(key("space_to_depth", state, 4))) {
        hg::ops::space_to_depth(be, in, out);
        auto want = hg::tensor::empty(out.shape());
        hg::ops::space_to_depth(host(), be.to_host(in), want);
        if (!matches(state, out, want, 0.0)) return;
    }
    hg::bench::time_on_stream(state, be, [&] { hg::ops::space_to_depth(be, in, out); });
    report(state, 8.0 * static_cast<double>(in.numel()));  // read in, write out
}

// [16,32,32,256] and [64,64,64,256] = 2^26 floats.
constexpr std::int64_t model_size = 16 * 32 * 32 * 256;
constexpr std::int64_t big_size = std::int64_t{64} * 64 * 64 * 256;

void elementwise_sizes(benchmark::internal::Benchmark* b) {
    b->Arg(model_size)->Arg(big_size)->UseManualTime()->Unit(benchmark::kMicrosecond);
}

void shuffle_sizes(benchmark::internal::Benchmark* b) {
    b->Args({16, 32, 32, 256})->Args({64, 64, 64, 256})->Args({16, 32, 32, 12});
    b->UseManualTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(bm_leaky_relu_forward)->Apply(elementwise_sizes);
BENCHMARK(bm_leaky_relu_backward)->Apply(elementwise_sizes);
BENCHMARK(bm_sigmoid_forward)->Apply(elementwise_sizes);
BENCHMARK(bm_add)->Apply(elementwise_sizes);
BENCHMARK(bm_axpy)->Apply(elementwise_sizes);
BENCHMARK(bm_copy)->Apply(elementwise_sizes);
BENCHMARK(bm_depth_to_space)->Apply(shuffle_sizes);
BENCHMARK(bm_space_to_depth)->Apply(shuffle_sizes);

HG_CUDA_BENCHMARK_MAIN()
