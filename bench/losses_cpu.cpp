// CPU reconstruction losses (hg::losses on hg::cpu), forward and backward timed separately, on
// batches of 64x64x3 and 128x128x3 images in [0, 1] at batch 16 and 64 (quick mode: 16 of 64x64x3):
//   pointwise   mae, mse, log_cosh, charbonnier (alpha 1, beta 1/255), linf
//   face_mask   faceswap's mask weighting around mae: the face term plus the eye (x3) and mouth (x2)
//               terms, each a mask multiply of pred and target and a mae (masks [N, H, W, 1])
//   image       gmsd (range check off: it is a separate pass), gradient_difference (tv = tv2 = 1),
//               laplacian_pyramid (5 levels, sigma 1), focal_frequency (alpha 1)
// (The SSIM family has its own suite, bench/ssim_cpu.cpp.) pred is uniform, target = (pred + another
// uniform image) / 2, so the two are correlated as a reconstruction and its target are.
// Counter GB/s = the bytes the pass must touch / time: forward reads pred and target (8 bytes per
// element), backward also reads and writes dpred (16); face_mask adds its three masks (12 bytes per
// pixel, i.e. 4 per element at 3 channels). What the losses move in between (the masked copies,
// the pyramid levels, the spectra) is not counted, so GB/s compares passes of one loss, and losses
// against the streaming bandwidth (bm_copy in elementwise_cpu).
// Extra flag: --hg_threads=N (default: every OpenMP thread).
#include <benchmark/benchmark.h>

#include <cstdint>

#include "bench_common.hpp"
#include "hourglass/losses/face_mask.hpp"
#include "hourglass/losses/focal_frequency.hpp"
#include "hourglass/losses/gmsd.hpp"
#include "hourglass/losses/gradient_difference.hpp"
#include "hourglass/losses/laplacian_pyramid.hpp"
#include "hourglass/losses/pointwise.hpp"
#include "hourglass/ops/elementwise.hpp"

namespace {

using hg::bench::cpu_be;
using hg::bench::random_tensor;

/// Arguments: batch, image size (square, 3 channels).
hg::shape batch_shape(const benchmark::State& state) {
    return hg::shape{state.range(0), state.range(1), state.range(1), 3};
}

struct images {
    hg::tensor pred, target;
};

/// pred uniform in [0, 1), target = (pred + another uniform image) / 2.
images make_images(const hg::shape& s) {
    images im{random_tensor(s, 11, 0.f, 1.f), random_tensor(s, 12, 0.f, 1.f)};
    hg::ops::add(cpu_be(), im.pred, im.target, im.target);
    hg::ops::scale(cpu_be(), 0.5f, im.target);
    return im;
}

template <class Body>
void timed(benchmark::State& state, double bytes_per_call, Body&& body) {
    body();  // warm-up (first touch, scratch buffers)
    for (auto _ : state) {
        body();
        benchmark::ClobberMemory();
    }
    hg::bench::report_bytes(state, bytes_per_call);
}

template <class Loss>
void bm_loss_forward(benchmark::State& state, Loss loss) {
    const auto im = make_images(batch_shape(state));
    auto value = hg::tensor::empty(hg::shape{1});
    timed(state, 8.0 * static_cast<double>(im.pred.numel()), [&] {
        loss.forward(cpu_be(), im.pred, im.target, value);
        benchmark::DoNotOptimize(value.data());
    });
}

template <class Loss>
void bm_loss_backward(benchmark::State& state, Loss loss) {
    const auto im = make_images(batch_shape(state));
    const auto dpred = hg::tensor::zeros(im.pred.shape());
    timed(state, 16.0 * static_cast<double>(im.pred.numel()),
          [&] { loss.backward(cpu_be(), im.pred, im.target, 1.0, dpred); });
}

/// Face, eye and mouth masks [N, H, W, 1] in [0, 1].
hg::losses::face_masks<float> make_masks(const hg::shape& s) {
    const hg::shape m{s.n(), s.h(), s.w(), 1};
    return {random_tensor(m, 21, 0.f, 1.f), random_tensor(m, 22, 0.f, 1.f), random_tensor(m, 23, 0.f, 1.f)};
}

/// Bytes of the three masks per call.
double mask_bytes(const hg::shape& s) { return 3.0 * 4.0 * static_cast<double>(s.n() * s.h() * s.w()); }

void bm_face_mask_mae_forward(benchmark::State& state) {
    const auto im = make_images(batch_shape(state));
    const auto masks = make_masks(im.pred.shape());
    const auto loss = hg::losses::make_face_mask<hg::cpu>(hg::losses::mae{});
    auto value = hg::tensor::empty(hg::shape{1});
    timed(state, 8.0 * static_cast<double>(im.pred.numel()) + mask_bytes(im.pred.shape()), [&] {
        loss.forward(cpu_be(), im.pred, im.target, masks, value);
        benchmark::DoNotOptimize(value.data());
    });
}

void bm_face_mask_mae_backward(benchmark::State& state) {
    const auto im = make_images(batch_shape(state));
    const auto masks = make_masks(im.pred.shape());
    const auto loss = hg::losses::make_face_mask<hg::cpu>(hg::losses::mae{});
    const auto dpred = hg::tensor::zeros(im.pred.shape());
    timed(state, 16.0 * static_cast<double>(im.pred.numel()) + mask_bytes(im.pred.shape()),
          [&] { loss.backward(cpu_be(), im.pred, im.target, masks, 1.0, dpred); });
}

void shapes(benchmark::internal::Benchmark* b) {
    for (const std::int64_t n : {16, 64})
        for (const std::int64_t size : {64, 128}) {
            if ((n > 16 || size > 64) && hg::bench::quick()) continue;
            b->Args({n, size});
        }
    b->ArgNames({"batch", "size"})->Unit(benchmark::kMicrosecond)->UseRealTime();
}

}  // namespace

BENCHMARK_CAPTURE(bm_loss_forward, mae, hg::losses::mae{})->Apply(shapes);
BENCHMARK_CAPTURE(bm_loss_backward, mae, hg::losses::mae{})->Apply(shapes);
BENCHMARK_CAPTURE(bm_loss_forward, mse, hg::losses::mse{})->Apply(shapes);
BENCHMARK_CAPTURE(bm_loss_backward, mse, hg::losses::mse{})->Apply(shapes);
BENCHMARK_CAPTURE(bm_loss_forward, log_cosh, hg::losses::log_cosh{})->Apply(shapes);
BENCHMARK_CAPTURE(bm_loss_backward, log_cosh, hg::losses::log_cosh{})->Apply(shapes);
BENCHMARK_CAPTURE(bm_loss_forward, charbonnier, hg::losses::charbonnier{})->Apply(shapes);
BENCHMARK_CAPTURE(bm_loss_backward, charbonnier, hg::losses::charbonnier{})->Apply(shapes);
BENCHMARK_CAPTURE(bm_loss_forward, linf, hg::losses::linf{})->Apply(shapes);
BENCHMARK_CAPTURE(bm_loss_backward, linf, hg::losses::linf{})->Apply(shapes);
BENCHMARK(bm_face_mask_mae_forward)->Apply(shapes);
BENCHMARK(bm_face_mask_mae_backward)->Apply(shapes);
BENCHMARK_CAPTURE(bm_loss_forward, gmsd, hg::losses::gmsd(hg::math::gmsd_default_c, false))->Apply(shapes);
BENCHMARK_CAPTURE(bm_loss_backward, gmsd, hg::losses::gmsd(hg::math::gmsd_default_c, false))->Apply(shapes);
BENCHMARK_CAPTURE(bm_loss_forward, gradient_difference, hg::losses::gradient_difference{})->Apply(shapes);
BENCHMARK_CAPTURE(bm_loss_backward, gradient_difference, hg::losses::gradient_difference{})->Apply(shapes);
BENCHMARK_CAPTURE(bm_loss_forward, laplacian_pyramid, hg::losses::laplacian_pyramid{})->Apply(shapes);
BENCHMARK_CAPTURE(bm_loss_backward, laplacian_pyramid, hg::losses::laplacian_pyramid{})->Apply(shapes);
BENCHMARK_CAPTURE(bm_loss_forward, focal_frequency, hg::losses::focal_frequency{})->Apply(shapes);
BENCHMARK_CAPTURE(bm_loss_backward, focal_frequency, hg::losses::focal_frequency{})->Apply(shapes);

HG_CPU_BENCHMARK_MAIN()
