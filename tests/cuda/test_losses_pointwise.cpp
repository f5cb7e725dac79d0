// CUDA pointwise losses (MAE, MSE, LogCosh, generalized Charbonnier, L-inf), the mask multiply, the
// composite loss, the face-mask weighting and the mask loss against the CPU backend on random inputs
// in [0, 1] of several shapes (batch 1, channels 1, 3 and 5, odd sizes, one large enough for the
// grid-stride loops to go round more than once). Device operands are views inside NaN-filled buffers
// at offset 0 (16-byte aligned: the float4 paths) or 1 (misaligned: the head/tail and scalar paths),
// with NaN guard elements after them; values start as NaN; dpred starts from a random tensor, so the
// backward's accumulation is checked, and the weight is about the element count so that the
// gradient is as large as that start; gradients are compared by what the backward added to the
// start (a start that cancels the addition would magnify rounding). Tolerances (docs/losses.md):
//   MAE, MSE, L-inf value and gradient, mask multiply   relative 1e-6 (identical float terms; double
//                                                       sums in another order, rounded to float)
//   LogCosh, Charbonnier value and gradient             relative 2e-6 (device sinhf/log1pf/expm1f/
//                                                       expf/tanhf differ from glibc by an ulp or two)
//   Charbonnier value at alpha = 1.9999                 relative 5e-6 (expm1 of an argument up to ~20
//                                                       amplifies an ulp of log1pf twentyfold)
//   composite, face_mask, mask loss                     relative 2e-6 (sums of the above)
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"
#include "hourglass/losses/composite.hpp"
#include "hourglass/losses/face_mask.hpp"
#include "hourglass/losses/mask_loss.hpp"
#include "hourglass/losses/pointwise.hpp"
#include "hourglass/ops/mask.hpp"
#include "cuda/device_views.hpp"
#include "support/test_support.hpp"

namespace {

using hg::shape;
namespace losses = hg::losses;

constexpr float nan_value = std::numeric_limits<float>::quiet_NaN();
using hg::test::device_view;
using hg::test::download;
using hg::test::upload;

double rel(double got, double want) { return std::abs(got - want) / std::max(std::abs(want), 1e-30); }

// Batch 1, channels 1, 3 and 5, odd sizes; the last two go round the grid-stride loops more than once
// (and give L-inf several blocks per plane).
const std::vector<shape> shapes = {shape{1, 1, 1, 1},  shape{1, 5, 7, 3},   shape{2, 4, 6, 1},
                                   shape{3, 9, 11, 5}, shape{4, 64, 64, 3}, shape{8, 256, 256, 3}};

/// (pred offset, target offset, dpred offset): aligned; equally misaligned (float4 body with a head);
/// differently misaligned (the scalar forward path).
struct placement {
    std::int64_t pred, target, dpred;
};
const placement placements[] = {{0, 0, 0}, {1, 1, 1}, {0, 1, 3}, {2, 0, 0}};

/// Runs a loss (forward and backward) on both backends and compares.
template <class L>
void compare_loss(const L& loss, double value_tol, double grad_tol, std::uint64_t seed) {
    hg::cuda be;
    be.poison_allocations(true);
    hg::cpu host;
    for (const shape& s : shapes) {
        const auto p = hg::test::random_tensor<float>(s, ++seed, 0.0, 1.0);
        const auto t = hg::test::random_tensor<float>(s, ++seed, 0.0, 1.0);
        const auto start = hg::test::random_tensor<float>(s, ++seed);
        auto want_value = hg::tensor::full(shape{1}, nan_value);
        loss.forward(host, p, t, want_value);
        const double weight = 0.75 * static_cast<double>(s.numel());
        auto want_grad = start.clone();
        loss.backward(host, p, t, weight, want_grad);
        for (const placement& pl : placements) {
            CAPTURE(loss.name());
            CAPTURE(s);
            CAPTURE(pl.pred);
            CAPTURE(pl.target);
            CAPTURE(pl.dpred);
            const auto dp = upload(be, p, pl.pred);
            const auto dt = upload(be, t, pl.target);
            const auto value = upload(be, hg::tensor::full(shape{1}, nan_value), 0);
            loss.forward(be, dp.view, dt.view, value.view);
            const float got = download(be, value)[0];
            INFO("value " << got << ", cpu " << want_value[0]);
            CHECK(rel(got, want_value[0]) <= value_tol);
            const auto dg = upload(be, start, pl.dpred);
            loss.backward(be, dp.view, dt.view, weight, dg.view);
            const auto grad = download(be, dg);
            CHECK(hg::test::relative_error_of_added(grad, want_grad, start) <= grad_tol);
        }
    }
}

}  // namespace

TEST_CASE("cuda pointwise losses: mae, mse and linf match the CPU") {
    compare_loss(losses::mae{}, 1e-6, 1e-6, 10);
    compare_loss(losses::mse{}, 1e-6, 1e-6, 20);
    compare_loss(losses::linf{}, 1e-6, 1e-6, 30);
}

TEST_CASE("cuda pointwise losses: log_cosh and charbonnier match the CPU") {
    compare_loss(losses::log_cosh{}, 2e-6, 2e-6, 40);
    compare_loss(losses::charbonnier{}, 2e-6, 2e-6, 50);
    compare_loss(losses::charbonnier(0.5, 0.1), 2e-6, 2e-6, 60);
    // Near alpha = 2 the value is expm1(x) with x = alpha/2 * log1p(q) up to ~20 for differences of
    // ~1 at beta = 1/255: an ulp of x (device log1pf vs glibc) moves the term by up to ~2e-6
    // relative, so the value gets 5e-6; the gradient's exponent is tiny (alpha/2 - 1).
    compare_loss(losses::charbonnier(1.9999, 1.0 / 255.0), 5e-6, 2e-6, 70);
}

TEST_CASE("cuda pointwise losses: mask loss matches the CPU") {
    hg::cuda be;
    hg::cpu host;
    const losses::mask_loss loss;
    for (const shape& s : {shape{1, 1, 1, 1}, shape{2, 7, 5, 1}, shape{4, 128, 128, 1}}) {
        CAPTURE(s);
        const auto p = hg::test::random_tensor<float>(s, 80, 0.0, 1.0);
        const auto t = hg::test::random_tensor<float>(s, 81, 0.0, 1.0);
        auto want = hg::tensor::full(shape{1}, nan_value);
        loss.forward(host, p, t, want);
        const auto dp = upload(be, p, 1), dt = upload(be, t, 1);
        const auto poisoned_value = upload(be, hg::tensor::full(shape{1}, nan_value), 0);
        loss.forward(be, dp.view, dt.view, poisoned_value.view);
        CHECK(rel(download(be, poisoned_value)[0], want[0]) <= 2e-6);
        const auto start = hg::test::random_tensor<float>(s, 82);
        auto want_grad = start.clone();
        const double weight = static_cast<double>(s.numel());
        loss.backward(host, p, t, weight, want_grad);
        const auto dg = upload(be, start, 0);
        loss.backward(be, dp.view, dt.view, weight, dg.view);
        CHECK(hg::test::relative_error_of_added(download(be, dg), want_grad, start) <= 2e-6);
    }
}

TEST_CASE("cuda pointwise losses: linf ties across blocks go to the first pixel, NaN propagates") {
    hg::cuda be;
    hg::cpu host;
    // Every |d| = 0.25 exactly: each plane is one big tie spread over many blocks.
    const shape s{2, 256, 256, 3};
    const auto t = hg::test::random_tensor<float>(s, 90, 0.5, 0.75);  // t +- 0.25 is exact
    auto p = t.clone();
    for (std::int64_t i = 0; i < p.numel(); ++i) p[i] = t[i] + ((i / 7) % 2 ? 0.25f : -0.25f);
    for (std::int64_t i = 0; i < p.numel(); ++i) REQUIRE(std::abs(p[i] - t[i]) == 0.25f);
    const auto dp = upload(be, p, 0), dt = upload(be, t, 0);
    const auto value = upload(be, hg::tensor::full(shape{1}, nan_value), 0);
    losses::linf{}.forward(be, dp.view, dt.view, value.view);
    CHECK(download(be, value)[0] == 0.25f);
    const auto dg = upload(be, hg::tensor::zeros(s), 0);
    losses::linf{}.backward(be, dp.view, dt.view, 6.0, dg.view);
    const auto g = download(be, dg);
    auto want = hg::tensor::zeros(s);
    losses::linf{}.backward(host, p, t, 6.0, want);
    // Pixel 0 of each (n, c) gets sign(d), every other element 0.
    std::int64_t nonzero = 0;
    for (std::int64_t i = 0; i < want.numel(); ++i) nonzero += want[i] != 0.f ? 1 : 0;
    CHECK(nonzero == 6);
    for (std::int64_t n = 0; n < 2; ++n)
        for (std::int64_t c = 0; c < 3; ++c) {
            const std::int64_t i = n * 256 * 256 * 3 + c;
            CHECK(want.at(n, 0, 0, c) == ((i / 7) % 2 ? 1.f : -1.f));
        }
    CHECK(hg::test::max_abs_difference(g, want) == 0.0);

    // A NaN anywhere makes the value NaN.
    p[s.numel() / 2 + 1] = nan_value;
    const auto dn = upload(be, p, 0);
    losses::linf{}.forward(be, dn.view, dt.view, value.view);
    CHECK(std::isnan(download(be, value)[0]));
    losses::mae{}.forward(be, dn.view, dt.view, value.view);
    CHECK(std::isnan(download(be, value)[0]));
}

TEST_CASE("cuda pointwise losses: mask_multiply and its backward match the CPU") {
    hg::cuda be;
    hg::cpu host;
    std::uint64_t seed = 100;
    for (const shape& s : shapes) {
        for (const bool broadcast : {true, false}) {
            for (const auto& [scale, offset] : {std::pair{1.f, 0.f}, std::pair{0.6f, 0.4f}}) {
                const shape ms = broadcast ? shape{s.n(), s.h(), s.w(), 1} : s;
                const auto x = hg::test::random_tensor<float>(s, ++seed, 0.0, 1.0);
                const auto m = hg::test::random_tensor<float>(ms, ++seed, 0.0, 1.0);
                const auto dy = hg::test::random_tensor<float>(s, ++seed);
                const auto start = hg::test::random_tensor<float>(s, ++seed);
                auto want = hg::tensor::empty(s);
                hg::ops::mask_multiply(host, x, m, want, scale, offset);
                auto want_dx = start.clone();
                hg::ops::mask_multiply_backward(host, dy, m, want_dx, scale, offset);
                for (const placement& pl : placements) {
                    CAPTURE(s);
                    CAPTURE(broadcast);
                    CAPTURE(scale);
                    CAPTURE(pl.pred);
                    CAPTURE(pl.dpred);
                    const auto dx_in = upload(be, x, pl.pred);
                    const auto dm = upload(be, m, pl.target);
                    const auto out = upload(be, hg::tensor::full(s, nan_value), pl.dpred);
                    hg::ops::mask_multiply(be, dx_in.view, dm.view, out.view, scale, offset);
                    CHECK(hg::test::relative_error(download(be, out), want) <= 1e-6);
                    const auto ddy = upload(be, dy, pl.pred);
                    const auto ddx = upload(be, start, pl.dpred);
                    hg::ops::mask_multiply_backward(be, ddy.view, dm.view, ddx.view, scale, offset);
                    CHECK(hg::test::relative_error_of_added(download(be, ddx), want_dx, start) <= 1e-6);
                }
                // In place.
                const auto inplace = upload(be, x, 0);
                const auto dm = upload(be, m, 0);
                hg::ops::mask_multiply(be, inplace.view, dm.view, inplace.view, scale, offset);
                CHECK(hg::test::relative_error(download(be, inplace), want) <= 1e-6);
            }
        }
    }
}

TEST_CASE("cuda pointwise losses: composite matches the CPU, per-term values included") {
    hg::cuda be;
    be.poison_allocations(true);
    hg::cpu host;
    losses::composite<hg::cuda> dev;
    losses::composite<hg::cpu> cpu;
    dev.add(losses::mae{}, 0.5).add(losses::mse{}, 2.0).add(losses::log_cosh{}, 0.3).add(losses::charbonnier{}, 1.2)
        .add(losses::linf{}, 0.1, "max");
    cpu.add(losses::mae{}, 0.5).add(losses::mse{}, 2.0).add(losses::log_cosh{}, 0.3).add(losses::charbonnier{}, 1.2)
        .add(losses::linf{}, 0.1, "max");
    std::uint64_t seed = 200;
    for (const shape& s : shapes) {
        CAPTURE(s);
        const auto p = hg::test::random_tensor<float>(s, ++seed, 0.0, 1.0);
        const auto t = hg::test::random_tensor<float>(s, ++seed, 0.0, 1.0);
        const auto start = hg::test::random_tensor<float>(s, ++seed);
        auto want = hg::tensor::full(shape{1}, nan_value);
        cpu.forward(host, p, t, want);
        const auto dp = upload(be, p, 1), dt = upload(be, t, 1);
        const auto value = upload(be, hg::tensor::full(shape{1}, nan_value), 0);
        dev.forward(be, dp.view, dt.view, value.view);
        CHECK(rel(download(be, value)[0], want[0]) <= 2e-6);
        const auto vd = dev.values(be), vc = cpu.values(host);
        REQUIRE(vd.size() == vc.size());
        for (std::size_t k = 0; k < vd.size(); ++k) {
            CAPTURE(vc[k].label);
            CHECK(vd[k].label == vc[k].label);
            CHECK(rel(vd[k].value, vc[k].value) <= 2e-6);
        }
        const double weight = static_cast<double>(s.numel());
        auto want_grad = start.clone();
        cpu.backward(host, p, t, weight, want_grad);
        const auto dg = upload(be, start, 0);
        dev.backward(be, dp.view, dt.view, weight, dg.view);
        CHECK(hg::test::relative_error_of_added(download(be, dg), want_grad, start) <= 2e-6);
    }
}

namespace {

template <class L>
void compare_face_mask(const L& inner_cpu, const auto& inner_cuda, const losses::face_mask_options& o,
                       std::uint64_t seed) {
    hg::cuda be;
    be.poison_allocations(true);
    hg::cpu host;
    const auto cpu_loss = losses::make_face_mask<hg::cpu>(inner_cpu, o);
    const auto dev_loss = losses::make_face_mask<hg::cuda>(inner_cuda, o);
    for (const shape& s : shapes) {
        CAPTURE(dev_loss.name());
        CAPTURE(s);
        CAPTURE(o.eye_multiplier);
        CAPTURE(o.mouth_multiplier);
        CAPTURE(o.mask_prop);
        const shape ms{s.n(), s.h(), s.w(), 1};
        const auto p = hg::test::random_tensor<float>(s, ++seed, 0.0, 1.0);
        const auto t = hg::test::random_tensor<float>(s, ++seed, 0.0, 1.0);
        const losses::face_masks<float> masks{hg::test::random_tensor<float>(ms, ++seed, 0.0, 1.0),
                                              hg::test::random_tensor<float>(ms, ++seed, 0.0, 1.0),
                                              hg::test::random_tensor<float>(ms, ++seed, 0.0, 1.0)};
        const auto start = hg::test::random_tensor<float>(s, ++seed);
        auto want = hg::tensor::full(shape{1}, nan_value);
        cpu_loss.forward(host, p, t, masks, want);
        const double weight = 0.5 * static_cast<double>(s.numel());
        auto want_grad = start.clone();
        cpu_loss.backward(host, p, t, masks, weight, want_grad);

        const auto dp = upload(be, p, 1), dt = upload(be, t, 0);
        const auto face = upload(be, masks.face, 1), eye = upload(be, masks.eye, 0), mouth = upload(be, masks.mouth, 2);
        const losses::face_masks<float> dmasks{face.view, eye.view, mouth.view};
        const auto value = upload(be, hg::tensor::full(shape{1}, nan_value), 0);
        dev_loss.forward(be, dp.view, dt.view, dmasks, value.view);
        CHECK(rel(download(be, value)[0], want[0]) <= 2e-6);
        const auto vd = dev_loss.values(be), vc = cpu_loss.values(host);
        REQUIRE(vd.size() == vc.size());
        for (std::size_t k = 0; k < vd.size(); ++k) CHECK(rel(vd[k].value, vc[k].value) <= 2e-6);
        const auto dg = upload(be, start, 1);
        dev_loss.backward(be, dp.view, dt.view, dmasks, weight, dg.view);
        CHECK(hg::test::relative_error_of_added(download(be, dg), want_grad, start) <= 2e-6);
    }
}

}  // namespace

TEST_CASE("cuda pointwise losses: face_mask around mae, mse, log_cosh and a composite matches the CPU") {
    const losses::face_mask_options options[] = {{}, {2.5, 1.0, 0.6}, {1.0, 1.0, 0.0}};
    std::uint64_t seed = 300;
    for (const auto& o : options) {
        compare_face_mask(losses::mae{}, losses::mae{}, o, seed += 50);
        compare_face_mask(losses::mse{}, losses::mse{}, o, seed += 50);
        compare_face_mask(losses::log_cosh{}, losses::log_cosh{}, o, seed += 50);
        losses::composite<hg::cpu> c;
        c.add(losses::mae{}, 0.4).add(losses::charbonnier{}, 0.6);
        losses::composite<hg::cuda> d;
        d.add(losses::mae{}, 0.4).add(losses::charbonnier{}, 0.6);
        compare_face_mask(c, d, o, seed += 50);
    }
}

TEST_CASE("cuda pointwise losses: wrong devices, shapes and masks are rejected") {
    hg::cuda be;
    const shape s{2, 4, 4, 3};
    const auto p = be.to_device(hg::test::random_tensor<float>(s, 1, 0.0, 1.0));
    const auto t = be.to_device(hg::test::random_tensor<float>(s, 2, 0.0, 1.0));
    const auto value = be.empty(shape{1});
    const auto host_t = hg::test::random_tensor<float>(s, 3, 0.0, 1.0);
    CHECK_THROWS_AS(losses::mae{}.forward(be, p, host_t, value), hg::device_error);
    CHECK_THROWS_AS(losses::linf{}.forward(be, p, t, hg::tensor::zeros(shape{1})), hg::device_error);
    CHECK_THROWS_AS(losses::mse{}.backward(be, p, t, 1.0, hg::tensor::zeros(s)), hg::device_error);
    CHECK_THROWS_AS(losses::log_cosh{}.forward(be, p, be.empty(shape{2, 4, 4, 1}), value), hg::shape_error);
    CHECK_THROWS_AS(losses::charbonnier{}.backward(be, p, t, 1.0, be.empty(shape{2, 4, 4, 1})), hg::shape_error);
    const auto out = be.empty(s);
    CHECK_THROWS_AS(hg::ops::mask_multiply(be, p, be.empty(shape{2, 4, 4, 2}), out), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::mask_multiply(be, p, hg::tensor::zeros(shape{2, 4, 4, 1}), out), hg::device_error);
    CHECK_THROWS_AS(hg::ops::mask_multiply_backward(be, p, be.empty(shape{1, 4, 4, 1}), out), hg::shape_error);
    const auto fm = losses::make_face_mask<hg::cuda>(losses::mae{});
    losses::face_masks<float> masks{be.empty(shape{2, 4, 4, 1}), be.empty(shape{2, 4, 4, 1}), hg::tensor()};
    CHECK_THROWS_AS(fm.forward(be, p, t, masks, value), hg::shape_error);
}
