// CUDA conv2d ops (cuDNN engine and the hand-written direct engine) against the CPU op run in double
// precision (hg::cpu64) on the same float inputs, for many shapes: odd sizes, stride 2, channel counts
// that are not multiples of 4, 1/3/5 kernels, K = 3 outputs, batch 1 and 3, and problems spanning
// several 64 x 64 tiles and split reductions (the direct kernels split when the tiles are few).
// Every device output is a view at the start of a NaN-filled buffer with NaN guard elements after it
// (an unwritten element or a write past the end shows up); backward-filter's dw and db start as
// random values, which must be added to.
// Tolerances (norm-wise relative error against the double reference):
//   float32 paths (TF32 off)  1e-5, the per-op table value for float32 convolutions
//   TF32 (cuDNN, TF32 on)     5e-3  (10-bit mantissa products)
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"
#include "support/test_support.hpp"

namespace {

constexpr double fp32_tolerance = 1e-5;
constexpr double tf32_tolerance = 5e-3;
constexpr float nan_value = std::numeric_limits<float>::quiet_NaN();
constexpr std::int64_t guard = 5;  // NaN elements after every device output

struct conv_case {
    std::int64_t n, h, w, c, k, r, stride;
    std::string str() const {
        return "n " + std::to_string(n) + " h " + std::to_string(h) + " w " + std::to_string(w) + " c " +
               std::to_string(c) + " k " + std::to_string(k) + " r " + std::to_string(r) + " stride " +
               std::to_string(stride);
    }
    hg::math::conv2d_dims dims() const { return hg::math::conv2d_dims::make(n, h, w, c, k, r, stride); }
};

const conv_case all_cases[] = {
    {1, 5, 7, 3, 13, 3, 1},    // odd sizes, batch 1
    {2, 8, 6, 5, 7, 3, 2},     // stride 2 on even sizes, C = 5
    {3, 6, 6, 6, 3, 3, 1},     // K = 3 output (the model's last layer), batch 3
    {2, 64, 64, 3, 16, 5, 2},  // 5x5 stride 2, 64 -> 32, C = 3 (the model's first layer)
    {3, 8, 8, 64, 64, 3, 1},   // 3x3, C = K = 64
    {1, 9, 9, 7, 5, 1, 1},     // 1x1 kernel
    {2, 7, 5, 9, 6, 5, 1},     // 5x5 kernel as wide as the image
    {1, 5, 5, 4, 8, 3, 2},     // stride 2 on odd sizes
    {1, 6, 10, 9, 33, 1, 2},   // 1x1 stride 2 (no padding)
    {4, 32, 32, 8, 16, 3, 1},  // 4096 output pixels: split reduction in the direct backward-filter
    {1, 4, 4, 70, 130, 3, 1},  // several tiles along C and K, split reductions in every direct pass
    {1, 8, 8, 40, 50, 5, 2},   // 5x5 stride 2 with a split reduction over the stride phases
    {1, 1, 2, 3, 4, 3, 2},     // an image smaller than the stride: a phase without pixels
};

hg::basic_tensor<double> widen(const hg::tensor& t) {
    auto r = hg::basic_tensor<double>::empty(t.shape());
    for (std::int64_t i = 0; i < t.numel(); ++i) r[i] = static_cast<double>(t[i]);
    return r;
}

/// A device copy of `host` at the start of a buffer followed by `guard` NaN elements.
struct device_buffer {
    hg::tensor buffer;
    hg::tensor view;
};

device_buffer upload(const hg::cuda& be, const hg::tensor& host) {
    auto whole = hg::tensor::full(hg::shape{host.numel() + guard}, nan_value);
    for (std::int64_t i = 0; i < host.numel(); ++i) whole[i] = host[i];
    auto buffer = be.to_device(whole);
    return {buffer, buffer.slice(0, host.shape())};
}

device_buffer poisoned(const hg::cuda& be, const hg::shape& s) { return upload(be, hg::tensor::full(s, nan_value)); }

/// The view's elements on the host; CHECKs that the guard elements after it are still NaN.
hg::tensor download(const hg::cuda& be, const device_buffer& d) {
    const auto whole = be.to_host(d.buffer);
    const std::int64_t n = d.view.numel();
    for (std::int64_t i = n; i < n + guard; ++i) CHECK(std::isnan(whole[i]));
    auto out = hg::tensor::empty(d.view.shape());
    for (std::int64_t i = 0; i < n; ++i) out[i] = whole[i];
    return out;
}

const char* engine_name(hg::conv_engine e) { return e == hg::conv_engine::cudnn ? "cudnn" : "direct"; }

/// Runs the three passes of `cc` on the GPU and on the double-precision CPU and compares them.
void check_passes(hg::cuda& gpu, const conv_case& cc, bool with_bias, double tolerance, std::uint64_t seed) {
    const hg::math::conv2d_dims d = cc.dims();
    const hg::shape xs{d.n, d.h, d.w, d.c}, ws{d.k, d.r, d.r, d.c}, ys{d.n, d.oh, d.ow, d.k};
    const auto x = hg::test::random_tensor<float>(xs, seed);
    const auto w = hg::test::random_tensor<float>(ws, seed + 1);
    const auto b = hg::test::random_tensor<float>(hg::shape{d.k}, seed + 2);
    const auto dy = hg::test::random_tensor<float>(ys, seed + 3);
    const auto dw0 = hg::test::random_tensor<float>(ws, seed + 4);
    const auto db0 = hg::test::random_tensor<float>(hg::shape{d.k}, seed + 5);

    hg::cpu64 cpu(1);
    const auto xd = widen(x), wd = widen(w), bd = widen(b), dyd = widen(dy);
    auto y_ref = hg::basic_tensor<double>::empty(ys);
    auto dx_ref = hg::basic_tensor<double>::empty(xs);
    auto dw_ref = widen(dw0), db_ref = widen(db0);
    hg::ops::conv2d_forward(cpu, d, xd, wd, with_bias ? bd : hg::basic_tensor<double>(), y_ref);
    hg::ops::conv2d_backward_data(cpu, d, dyd, wd, dx_ref);
    hg::ops::conv2d_backward_filter(cpu, d, xd, dyd, dw_ref, with_bias ? db_ref : hg::basic_tensor<double>());

    const auto xg = gpu.to_device(x), wg = gpu.to_device(w), bg = gpu.to_device(b), dyg = gpu.to_device(dy);
    const auto yg = poisoned(gpu, ys), dxg = poisoned(gpu, xs);
    const auto dwg = upload(gpu, dw0), dbg = upload(gpu, db0);
    hg::ops::conv2d_forward(gpu, d, xg, wg, with_bias ? bg : hg::tensor(), yg.view);
    hg::ops::conv2d_backward_data(gpu, d, dyg, wg, dxg.view);
    hg::ops::conv2d_backward_filter(gpu, d, xg, dyg, dwg.view, with_bias ? dbg.view : hg::tensor());

    const auto y = download(gpu, yg), dx = download(gpu, dxg), dw = download(gpu, dwg), db = download(gpu, dbg);
    CHECK(hg::test::all_finite(y));
    CHECK(hg::test::all_finite(dx));
    CHECK(hg::test::relative_error(y, y_ref) <= tolerance);
    CHECK(hg::test::relative_error(dx, dx_ref) <= tolerance);
    // dw (and db) = the random start + the gradient: an op that overwrote instead of adding would be
    // off by the start values, far beyond the tolerance.
    CHECK(hg::test::relative_error(dw, dw_ref) <= tolerance);
    if (with_bias)
        CHECK(hg::test::relative_error(db, db_ref) <= tolerance);
    else
        CHECK(hg::test::max_abs_difference(db, db0) == 0.0);  // no bias gradient asked for: untouched
}

}  // namespace

TEST_CASE("cuda conv2d: every pass matches the CPU for both engines (float32, TF32 off)") {
    hg::cuda gpu;
    gpu.set_tf32(false);
    for (const hg::conv_engine engine : {hg::conv_engine::cudnn, hg::conv_engine::direct}) {
        gpu.set_conv_engine(engine);
        std::uint64_t seed = 100;
        for (const conv_case& cc : all_cases) {
            CAPTURE(engine_name(engine));
            CAPTURE(cc.str());
            check_passes(gpu, cc, true, fp32_tolerance, seed);
            seed += 10;
        }
    }
}

TEST_CASE("cuda conv2d: without a bias tensor forward adds none and backward-filter leaves db alone") {
    hg::cuda gpu;
    for (const hg::conv_engine engine : {hg::conv_engine::cudnn, hg::conv_engine::direct}) {
        gpu.set_conv_engine(engine);
        CAPTURE(engine_name(engine));
        check_passes(gpu, conv_case{2, 9, 7, 5, 11, 3, 1}, false, fp32_tolerance, 7);
        check_passes(gpu, conv_case{1, 10, 8, 3, 6, 5, 2}, false, fp32_tolerance, 17);
    }
}

TEST_CASE("cuda conv2d: TF32 on stays within TF32 accuracy, and TF32 off afterwards is float32 again") {
    hg::cuda gpu;
    gpu.set_conv_engine(hg::conv_engine::cudnn);
    for (const conv_case& cc : {conv_case{2, 16, 16, 32, 48, 3, 1}, conv_case{3, 8, 8, 64, 64, 3, 1},
                                conv_case{2, 32, 32, 3, 16, 5, 2}}) {
        CAPTURE(cc.str());
        gpu.set_tf32(true);
        check_passes(gpu, cc, true, tf32_tolerance, 31);
        // The same problems with TF32 off must not reuse the TF32 algorithm choice.
        gpu.set_tf32(false);
        check_passes(gpu, cc, true, fp32_tolerance, 41);
    }
}

TEST_CASE("cuda conv2d: a repeated problem reuses its algorithm choice (no second search)") {
    // The algorithm search allocates scratch tensors from the backend; a cached choice allocates
    // nothing, so the second call of the same problem leaves the backend's peak memory unchanged.
    hg::cuda gpu;
    gpu.set_conv_engine(hg::conv_engine::cudnn);
    const conv_case cc{2, 12, 12, 16, 24, 3, 1};
    const auto d = cc.dims();
    const auto x = gpu.to_device(hg::test::random_tensor<float>(hg::shape{d.n, d.h, d.w, d.c}, 1));
    const auto w = gpu.to_device(hg::test::random_tensor<float>(hg::shape{d.k, d.r, d.r, d.c}, 2));
    const auto b = gpu.to_device(hg::test::random_tensor<float>(hg::shape{d.k}, 3));
    const auto dy = gpu.to_device(hg::test::random_tensor<float>(hg::shape{d.n, d.oh, d.ow, d.k}, 4));
    const auto y = gpu.empty(hg::shape{d.n, d.oh, d.ow, d.k});
    const auto dx = gpu.empty(hg::shape{d.n, d.h, d.w, d.c});
    const auto dw = gpu.to_device(hg::tensor::zeros(hg::shape{d.k, d.r, d.r, d.c}));
    const auto db = gpu.to_device(hg::tensor::zeros(hg::shape{d.k}));
    auto all_passes = [&] {
        hg::ops::conv2d_forward(gpu, d, x, w, b, y);
        hg::ops::conv2d_backward_data(gpu, d, dy, w, dx);
        hg::ops::conv2d_backward_filter(gpu, d, x, dy, dw, db);
        gpu.synchronize();
    };

    gpu.synchronize();
    std::size_t before = gpu.memory().in_use;
    gpu.reset_peak();
    all_passes();
    CHECK(gpu.memory().peak > before);  // first call: searched (scratch outputs) and sized the workspace

    before = gpu.memory().in_use;
    gpu.reset_peak();
    all_passes();
    CHECK(gpu.memory().peak == before);  // second call: cached choices, workspace already large enough
}

TEST_CASE("cuda conv2d: wrong shapes, host tensors and inconsistent geometry are refused") {
    hg::cuda gpu;
    const auto d = hg::math::conv2d_dims::make(2, 6, 6, 3, 4, 3, 1);
    const auto x = gpu.empty(hg::shape{2, 6, 6, 3}), w = gpu.empty(hg::shape{4, 3, 3, 3});
    const auto b = gpu.empty(hg::shape{4}), y = gpu.empty(hg::shape{2, 6, 6, 4});
    const auto dw = gpu.empty(hg::shape{4, 3, 3, 3}), db = gpu.empty(hg::shape{4});
    const auto host_x = hg::tensor::zeros(hg::shape{2, 6, 6, 3});

    CHECK_THROWS_AS(hg::ops::conv2d_forward(gpu, d, host_x, w, b, y), hg::device_error);
    CHECK_THROWS_AS(hg::ops::conv2d_forward(gpu, d, x, w, b, gpu.empty(hg::shape{2, 6, 6, 5})), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::conv2d_forward(gpu, d, x, gpu.empty(hg::shape{4, 5, 5, 3}), b, y), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::conv2d_forward(gpu, d, x, w, gpu.empty(hg::shape{3}), y), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::conv2d_backward_data(gpu, d, y, w, host_x), hg::device_error);
    CHECK_THROWS_AS(hg::ops::conv2d_backward_data(gpu, d, gpu.empty(hg::shape{2, 3, 3, 4}), w, x), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::conv2d_backward_filter(gpu, d, x, y, hg::tensor::zeros(hg::shape{4, 3, 3, 3}), db),
                    hg::device_error);
    CHECK_THROWS_AS(hg::ops::conv2d_backward_filter(gpu, d, x, y, dw, gpu.empty(hg::shape{5})), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::conv2d_backward_filter(gpu, d, x, y, gpu.empty(hg::shape{4, 3, 3, 2}), db),
                    hg::shape_error);

    // Tensors that agree with `bad`, whose padding does not give its output extents.
    auto bad = d;
    bad.pad = 0;
    CHECK_THROWS_AS(hg::ops::conv2d_forward(gpu, bad, x, w, b, y), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::conv2d_backward_data(gpu, bad, y, w, x), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::conv2d_backward_filter(gpu, bad, x, y, dw, db), hg::shape_error);
}
