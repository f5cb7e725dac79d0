// CUDA reconstruction losses (hg::losses on hg::cuda), forward and backward timed separately, on
// batches of 64x64x3 and 128x128x3 images in [0, 1] at batch 16 and 64 (quick mode: 16 of 64x64x3):
//   pointwise   mae, mse, log_cosh, charbonnier (alpha 1, beta 1/255), linf
//   face_mask   faceswap's mask weighting around mae: the face term plus the eye (x3) and mouth (x2)
//               terms (masks [N, H, W, 1])
//   image       gmsd (range check off: two reductions and a host sync), gradient_difference
//               (tv = tv2 = 1), laplacian_pyramid (5 levels, sigma 1), focal_frequency (alpha 1, cuFFT)
// (The SSIM family has its own suite, ssim_cuda.cpp.) pred is uniform, target = (pred + another
// uniform image) / 2. Before timing, each loss is checked once against the CPU loss on the same
// images: forward's value (relative) and what backward adds to a zeroed dpred (norm-wise relative),
// with the tolerances of the CUDA loss tests (docs/losses.md), listed with their reasons at `tol`
// below. A mismatch skips the benchmark with an error.
// Counters, as ssim_cuda.cpp: GB/s = the bytes the pass must touch / kernel time: forward reads
// pred and target (8 bytes per element), backward also reads and writes dpred (16); face_mask adds
// its three masks (12 bytes per pixel). of_copy_bw = GB/s over the measured device-to-device copy
// bandwidth. The losses' own intermediates (masked copies, pyramid levels, spectra) are not counted.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

#include "../bench_common.hpp"
#include "compare.hpp"
#include "cuda_bench.hpp"
#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"

namespace {

using hg::bench::backend;
using hg::bench::first_time;
using hg::bench::host;

/// Relative tolerances of the value and of the gradient against the CPU.
struct tolerances {
    double value, gradient;
};

namespace tol {
// Identical float terms per element; double sums in another order, rounded to float.
constexpr tolerances exact_terms{1e-6, 1e-6};
// Device sinhf/log1pf/expm1f/tanhf differ from glibc by an ulp or two (log_cosh, charbonnier).
constexpr tolerances transcendental{2e-6, 2e-6};
// Masked inputs are bitwise equal on both; then mae.
constexpr tolerances face_mask{2e-6, 2e-6};
// Magnitude, division and square root per pixel with fused multiply-adds on the device.
constexpr tolerances gmsd{1e-6, 5e-6};
// The differences and their signs are bit-identical; only the weighted sums round differently.
constexpr tolerances gradient_difference{1e-6, 1e-6};
// 25-tap blurs over 6 levels. A band within float rounding (~1e-8) of 0 could take the other sign on
// the two backends and move the gradient; well under one band per problem is expected that close
// at these sizes, and these seeds pass at every size (checked on an H200).
constexpr tolerances laplacian_pyramid{1e-6, 1e-6};
// cuFFT in float32 against the CPU's double-precision FFT (tests/cuda/test_losses_frequency.cpp).
constexpr tolerances focal_frequency{1e-5, 1e-5};
}  // namespace tol

/// Arguments: batch, image size (square, 3 channels).
hg::shape batch_shape(const benchmark::State& state) {
    return hg::shape{state.range(0), state.range(1), state.range(1), 3};
}

using images = hg::bench::image_pair;
using hg::bench::make_image_pair;

/// Face, eye and mouth masks [N, H, W, 1] in [0, 1] on the device.
hg::losses::face_masks<float> make_masks(const hg::shape& s) {
    const auto& be = backend();
    const hg::shape m{s.n(), s.h(), s.w(), 1};
    hg::losses::face_masks<float> masks{be.empty(m), be.empty(m), be.empty(m)};
    hg::ops::fill_uniform(be, masks.face, 21, 0, 0.f, 1.f);
    hg::ops::fill_uniform(be, masks.eye, 22, 0, 0.f, 1.f);
    hg::ops::fill_uniform(be, masks.mouth, 23, 0, 0.f, 1.f);
    return masks;
}

hg::losses::face_masks<float> to_host(const hg::losses::face_masks<float>& m) {
    const auto& be = backend();
    return {be.to_host(m.face), be.to_host(m.eye), be.to_host(m.mouth)};
}

void report(benchmark::State& state, double bytes_per_call) {
    state.counters["GB/s"] = benchmark::Counter(bytes_per_call * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["of_copy_bw"] = benchmark::Counter(bytes_per_call / hg::bench::measured_copy_bandwidth(backend()),
                                                      benchmark::Counter::kIsIterationInvariantRate);
}

/// The value on the device against the CPU's: |got - want| <= tol |want|.
bool value_matches(benchmark::State& state, const hg::tensor& got, const hg::tensor& want, double tolerance) {
    const double g = static_cast<double>(backend().to_host(got)[0]), w = static_cast<double>(want[0]);
    if (std::abs(g - w) <= tolerance * std::abs(w)) return true;  // false for NaN
    char message[160];
    std::snprintf(message, sizeof message, "value differs from the CPU: %.9g against %.9g, relative tolerance %.1g", g,
                  w, tolerance);
    state.SkipWithError(message);
    return false;
}

/// Runs `device_call(value)` / `cpu_call(value)` (forward) or `device_call(dpred)` / `cpu_call(dpred)`
/// (backward into zeroed gradients) once and compares; true when they match.
template <class DeviceCall, class CpuCall>
bool check_pass(benchmark::State& state, bool forward, const hg::shape& s, double tolerance, DeviceCall&& device_call,
                CpuCall&& cpu_call) {
    const auto& be = backend();
    if (forward) {
        const auto value = be.empty(hg::shape{1});
        hg::ops::fill(be, value, std::nanf(""));
        device_call(value);
        auto want = hg::tensor::empty(hg::shape{1});
        cpu_call(want);
        return value_matches(state, value, want, tolerance);
    }
    const auto grad = be.empty(s);
    hg::ops::fill(be, grad, 0.f);
    device_call(grad);
    auto want = hg::tensor::zeros(s);
    cpu_call(want);
    return hg::bench::matches_cpu(state, be, grad, want, tolerance, "gradient");
}

template <class Loss>
void run(benchmark::State& state, const char* name, const Loss& loss, tolerances t, bool forward) {
    try {
        const auto& be = backend();
        hg::bench::measured_copy_bandwidth(be);
        const auto im = make_image_pair(batch_shape(state));
        const hg::shape& s = im.pred.shape();
        if (first_time(hg::bench::problem_key(name, state, 2) + (forward ? "/forward" : "/backward"))) {
            const auto hp = be.to_host(im.pred), ht = be.to_host(im.target);
            const bool ok = forward ? check_pass(
                                          state, true, s, t.value,
                                          [&](const hg::tensor& v) { loss.forward(be, im.pred, im.target, v); },
                                          [&](const hg::tensor& v) { loss.forward(host(), hp, ht, v); })
                                    : check_pass(
                                          state, false, s, t.gradient,
                                          [&](const hg::tensor& g) { loss.backward(be, im.pred, im.target, 1.0, g); },
                                          [&](const hg::tensor& g) { loss.backward(host(), hp, ht, 1.0, g); });
            if (!ok) return;
        }
        if (forward) {
            const auto value = be.empty(hg::shape{1});
            hg::bench::time_on_stream(state, be, [&] { loss.forward(be, im.pred, im.target, value); });
            report(state, 8.0 * static_cast<double>(s.numel()));
        } else {
            const auto grad = be.empty(s);
            hg::ops::fill(be, grad, 0.f);
            hg::bench::time_on_stream(state, be, [&] { loss.backward(be, im.pred, im.target, 1.0, grad); });
            report(state, 16.0 * static_cast<double>(s.numel()));
        }
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

template <class Loss>
void bm_loss_forward(benchmark::State& state, const char* name, Loss loss, tolerances t) {
    run(state, name, loss, t, true);
}

template <class Loss>
void bm_loss_backward(benchmark::State& state, const char* name, Loss loss, tolerances t) {
    run(state, name, loss, t, false);
}

void run_face_mask(benchmark::State& state, bool forward) {
    try {
        const auto& be = backend();
        hg::bench::measured_copy_bandwidth(be);
        const auto im = make_image_pair(batch_shape(state));
        const hg::shape& s = im.pred.shape();
        const auto masks = make_masks(s);
        const auto loss = hg::losses::make_face_mask<hg::cuda>(hg::losses::mae{});
        if (first_time(hg::bench::problem_key("face_mask_mae", state, 2) + (forward ? "/forward" : "/backward"))) {
            const auto cpu_loss = hg::losses::make_face_mask<hg::cpu>(hg::losses::mae{});
            const auto hp = be.to_host(im.pred), ht = be.to_host(im.target);
            const auto hm = to_host(masks);
            const bool ok =
                forward ? check_pass(
                              state, true, s, tol::face_mask.value,
                              [&](const hg::tensor& v) { loss.forward(be, im.pred, im.target, masks, v); },
                              [&](const hg::tensor& v) { cpu_loss.forward(host(), hp, ht, hm, v); })
                        : check_pass(
                              state, false, s, tol::face_mask.gradient,
                              [&](const hg::tensor& g) { loss.backward(be, im.pred, im.target, masks, 1.0, g); },
                              [&](const hg::tensor& g) { cpu_loss.backward(host(), hp, ht, hm, 1.0, g); });
            if (!ok) return;
        }
        const double mask_bytes = 3.0 * 4.0 * static_cast<double>(s.n() * s.h() * s.w());
        if (forward) {
            const auto value = be.empty(hg::shape{1});
            hg::bench::time_on_stream(state, be, [&] { loss.forward(be, im.pred, im.target, masks, value); });
            report(state, 8.0 * static_cast<double>(s.numel()) + mask_bytes);
        } else {
            const auto grad = be.empty(s);
            hg::ops::fill(be, grad, 0.f);
            hg::bench::time_on_stream(state, be, [&] { loss.backward(be, im.pred, im.target, masks, 1.0, grad); });
            report(state, 16.0 * static_cast<double>(s.numel()) + mask_bytes);
        }
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

void bm_face_mask_mae_forward(benchmark::State& state) { run_face_mask(state, true); }
void bm_face_mask_mae_backward(benchmark::State& state) { run_face_mask(state, false); }

void shapes(benchmark::internal::Benchmark* b) {
    for (const std::int64_t n : {16, 64})
        for (const std::int64_t size : {64, 128}) {
            if ((n > 16 || size > 64) && hg::bench::quick()) continue;
            b->Args({n, size});
        }
    b->ArgNames({"batch", "size"})->UseManualTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace

#define HG_LOSS_BENCHMARKS(name, loss, tolerance)                                                   \
    BENCHMARK_CAPTURE(bm_loss_forward, name, #name, loss, tolerance)->Apply(shapes);                \
    BENCHMARK_CAPTURE(bm_loss_backward, name, #name, loss, tolerance)->Apply(shapes)

HG_LOSS_BENCHMARKS(mae, hg::losses::mae{}, tol::exact_terms);
HG_LOSS_BENCHMARKS(mse, hg::losses::mse{}, tol::exact_terms);
HG_LOSS_BENCHMARKS(log_cosh, hg::losses::log_cosh{}, tol::transcendental);
HG_LOSS_BENCHMARKS(charbonnier, hg::losses::charbonnier{}, tol::transcendental);
HG_LOSS_BENCHMARKS(linf, hg::losses::linf{}, tol::exact_terms);
BENCHMARK(bm_face_mask_mae_forward)->Apply(shapes);
BENCHMARK(bm_face_mask_mae_backward)->Apply(shapes);
HG_LOSS_BENCHMARKS(gmsd, hg::losses::gmsd(hg::math::gmsd_default_c, false), tol::gmsd);
HG_LOSS_BENCHMARKS(gradient_difference, hg::losses::gradient_difference{}, tol::gradient_difference);
HG_LOSS_BENCHMARKS(laplacian_pyramid, hg::losses::laplacian_pyramid{}, tol::laplacian_pyramid);
HG_LOSS_BENCHMARKS(focal_frequency, hg::losses::focal_frequency{}, tol::focal_frequency);

HG_CUDA_BENCHMARK_MAIN()
