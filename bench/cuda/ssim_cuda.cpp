// CUDA SSIM losses at batch 64 of 64x64x3 and 128x128x3 images: hg::losses::ssim ('valid', 11x11)
// forward and backward timed separately, and ms_ssim forward and backward at 64x64 (range checks
// off: they are separate reductions with a host sync). Each is checked against the CPU once before
// timing (SkipWithError on a mismatch). Counters, following elementwise_cuda.cpp:
//   GB/s        the bytes the pass must touch / kernel time: forward reads pred and target
//               (8 bytes per element); backward reads pred, target and dpred and writes dpred (16)
//   of_copy_bw  GB/s as a fraction of the measured device-to-device copy bandwidth (target >= 0.60
//               for ssim forward and backward)
//   traffic_GB/s (ssim backward) what the two backward passes really move, the intermediate of the
//               three derivative maps included: 8 + 12 bytes (pass 1) + 12 + 16 bytes (pass 2) = 48.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>

#include "cuda_bench.hpp"
#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"
#include "hourglass/losses/ssim.hpp"

namespace {

using hg::bench::backend;
using hg::bench::host;
using hg::bench::first_time;

using images = hg::bench::image_pair;
using hg::bench::make_image_pair;

void report(benchmark::State& state, double bytes_per_call) {
    const double copy_bandwidth = hg::bench::measured_copy_bandwidth(backend());
    state.counters["GB/s"] = benchmark::Counter(bytes_per_call * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["of_copy_bw"] =
        benchmark::Counter(bytes_per_call / copy_bandwidth, benchmark::Counter::kIsIterationInvariantRate);
}

hg::shape batch_shape(const benchmark::State& state) { return hg::shape{64, state.range(0), state.range(0), 3}; }

std::string key(const char* name, const benchmark::State& state) {
    return std::string(name) + "/" + std::to_string(state.range(0));
}

/// Value on the device against the CPU's (|difference| <= tol).
template <class Loss>
bool value_matches(benchmark::State& state, const Loss& loss, const images& im, double tol) {
    const auto& be = backend();
    const auto value = be.empty(hg::shape{1});
    loss.forward(be, im.pred, im.target, value);
    auto want = hg::tensor::empty(hg::shape{1});
    loss.forward(host(), be.to_host(im.pred), be.to_host(im.target), want);
    const double d = std::abs(static_cast<double>(be.to_host(value)[0]) - static_cast<double>(want[0]));
    if (d <= tol) return true;
    state.SkipWithError(("value differs from the CPU by " + std::to_string(d)).c_str());
    return false;
}

/// Gradient on the device against the CPU's (norm-wise relative error <= tol).
template <class Loss>
bool gradient_matches(benchmark::State& state, const Loss& loss, const images& im, double tol) {
    const auto& be = backend();
    const hg::shape& s = im.pred.shape();
    const auto grad = be.empty(s);
    hg::ops::fill(be, grad, 0.f);
    loss.backward(be, im.pred, im.target, 1.0, grad);
    auto want = hg::tensor::zeros(s);
    loss.backward(host(), be.to_host(im.pred), be.to_host(im.target), 1.0, want);
    const auto got = be.to_host(grad);
    double num = 0, den = 0;
    for (std::int64_t i = 0; i < s.numel(); ++i) {
        const double e = static_cast<double>(got[i]) - static_cast<double>(want[i]);
        num += e * e;
        den += static_cast<double>(want[i]) * static_cast<double>(want[i]);
    }
    const double rel = std::sqrt(num / std::max(den, 1e-300));
    if (rel <= tol) return true;
    state.SkipWithError(("gradient differs from the CPU: relative error " + std::to_string(rel)).c_str());
    return false;
}

void bm_ssim_forward(benchmark::State& state) {
    const auto& be = backend();
    hg::bench::measured_copy_bandwidth(be);
    const auto im = make_image_pair(batch_shape(state));
    const hg::losses::ssim loss(hg::ops::ssim_form::valid, false);
    if (first_time(key("ssim_forward", state)) && !value_matches(state, loss, im, 2e-6)) return;
    const auto value = be.empty(hg::shape{1});
    hg::bench::time_on_stream(state, be, [&] { loss.forward(be, im.pred, im.target, value); });
    report(state, 8.0 * static_cast<double>(im.pred.numel()));
}

void bm_ssim_backward(benchmark::State& state) {
    const auto& be = backend();
    hg::bench::measured_copy_bandwidth(be);
    const auto im = make_image_pair(batch_shape(state));
    const hg::losses::ssim loss(hg::ops::ssim_form::valid, false);
    if (first_time(key("ssim_backward", state)) && !gradient_matches(state, loss, im, 1e-5)) return;
    const auto grad = be.empty(im.pred.shape());
    hg::ops::fill(be, grad, 0.f);
    hg::bench::time_on_stream(state, be, [&] { loss.backward(be, im.pred, im.target, 1.0, grad); });
    report(state, 16.0 * static_cast<double>(im.pred.numel()));
    state.counters["traffic_GB/s"] = benchmark::Counter(48.0 * static_cast<double>(im.pred.numel()) * 1e-9,
                                                        benchmark::Counter::kIsIterationInvariantRate);
}

void bm_ms_ssim_forward(benchmark::State& state) {
    const auto& be = backend();
    hg::bench::measured_copy_bandwidth(be);
    const auto im = make_image_pair(batch_shape(state));
    const hg::losses::ms_ssim loss(false);
    if (first_time(key("ms_ssim_forward", state)) && !value_matches(state, loss, im, 2e-5)) return;
    const auto value = be.empty(hg::shape{1});
    hg::bench::time_on_stream(state, be, [&] { loss.forward(be, im.pred, im.target, value); });
    report(state, 8.0 * static_cast<double>(im.pred.numel()));
}

void bm_ms_ssim_backward(benchmark::State& state) {
    const auto& be = backend();
    hg::bench::measured_copy_bandwidth(be);
    const auto im = make_image_pair(batch_shape(state));
    const hg::losses::ms_ssim loss(false);
    if (first_time(key("ms_ssim_backward", state)) && !gradient_matches(state, loss, im, 1e-4)) return;
    const auto grad = be.empty(im.pred.shape());
    hg::ops::fill(be, grad, 0.f);
    hg::bench::time_on_stream(state, be, [&] { loss.backward(be, im.pred, im.target, 1.0, grad); });
    report(state, 16.0 * static_cast<double>(im.pred.numel()));
}

void sizes(benchmark::internal::Benchmark* b) { b->Arg(64)->Arg(128)->UseManualTime()->Unit(benchmark::kMicrosecond); }

}  // namespace

BENCHMARK(bm_ssim_forward)->Apply(sizes);
BENCHMARK(bm_ssim_backward)->Apply(sizes);
BENCHMARK(bm_ms_ssim_forward)->Apply(sizes);
BENCHMARK(bm_ms_ssim_backward)->Apply(sizes);

HG_CUDA_BENCHMARK_MAIN()
