// CUDA SSIM family against the CPU backend (float32): ssim_map, ssim_stats, avg_pool2 and its
// transpose, ssim_combine, and the ssim / dssim / ms_ssim losses (value and gradient), over shapes
// with batch 1, odd sizes, 1 to 5 channels and several tiles per image; outputs poisoned with NaN
// (every device allocation too), gradients accumulated into a random dpred; self-similarity exactly
// 1; argument errors. Tolerances (docs/losses.md): both backends compute in float32 but round
// differently (the GPU fuses multiply-adds and sums per tile), and SSIM's variances
// (E[x^2] - mu^2) cancel, so per-position values differ by a few 1e-6.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"
#include "hourglass/losses/ssim.hpp"
#include "support/test_support.hpp"

namespace {

using hg::shape;
using hg::ops::ssim_form;

// Tolerances of CUDA against the CPU (float32 both).
constexpr double map_tol = 2e-5;        // max |difference| of SSIM map entries
constexpr double stats_tol = 2e-6;      // max |difference| of per-image-channel means
constexpr double value_tol = 2e-6;      // |difference| of the ssim / dssim loss value
constexpr double ms_value_tol = 2e-5;   // |difference| of the ms_ssim loss value
constexpr double grad_tol = 1e-5;       // norm-wise relative error of ssim / dssim gradients
constexpr double coef_grad_tol = 2e-5;  // ssim_backward with random-sign coefficients on both means
                                        // (their terms partly cancel, which magnifies rounding)
constexpr double ms_grad_tol = 1e-4;    // norm-wise relative error of ms_ssim gradients
constexpr double pool_tol = 1e-6;       // max |difference| of pooling (same sums, same order)

const shape shapes[] = {shape{1, 11, 11, 1}, shape{2, 13, 17, 3}, shape{3, 24, 19, 2}, shape{1, 40, 33, 3},
                        shape{2, 64, 64, 3}, shape{1, 37, 70, 5},  shape{1, 50, 45, 1}};

/// x in [0, 1] and y = x + noise clipped to [0, 1].
std::pair<hg::tensor, hg::tensor> image_pair(const shape& s, std::uint64_t seed) {
    auto x = hg::test::random_tensor<float>(s, seed, 0.0, 1.0);
    auto noise = hg::test::random_tensor<float>(s, seed + 1, -0.3, 0.3);
    auto y = hg::tensor::empty(s);
    for (std::int64_t i = 0; i < s.numel(); ++i) y[i] = std::clamp(x[i] + noise[i], 0.f, 1.f);
    return {x, y};
}

/// A device tensor of shape s filled with NaN.
hg::tensor poisoned_device(const hg::cuda& be, const shape& s) {
    return be.to_device(hg::tensor::full(s, std::numeric_limits<float>::quiet_NaN()));
}

void check_max_difference(const hg::tensor& got, const hg::tensor& want, double tol) {
    const double d = hg::test::max_abs_difference(got, want);
    CAPTURE(d);
    CHECK(d <= tol);
}

template <class Loss>
void check_loss(const hg::cuda& be, const Loss& loss, const hg::tensor& x, const hg::tensor& y, double vtol,
                double gtol, std::uint64_t seed) {
    CAPTURE(loss.name());
    hg::cpu host(2);
    auto want_value = hg::tensor::empty(shape{1});
    loss.forward(host, x, y, want_value);
    const auto dx = be.to_device(x), dy = be.to_device(y);
    const auto value = poisoned_device(be, shape{1});
    loss.forward(be, dx, dy, value);
    const float got = be.to_host(value)[0];
    CAPTURE(got);
    CAPTURE(want_value[0]);
    CHECK(std::isfinite(got));
    CHECK(std::abs(static_cast<double>(got) - static_cast<double>(want_value[0])) <= vtol);
    // Backward into a random dpred (accumulates). The loss is a mean over ~numel terms, so its
    // gradient per element is ~1/numel: weight 0.75 * numel makes it as large as the start, so that
    // the comparison measures the two backends' gradients and not the float rounding of a tiny
    // addition to a start near 1 (at weight 0.75 that rounding alone is 2e-4 of the gradient at
    // 64x64, on either backend, against a float64 accumulation).
    const double weight = 0.75 * static_cast<double>(x.numel());
    const auto start = hg::test::random_tensor<float>(x.shape(), seed, -1.0, 1.0);
    auto want_grad = start.clone();
    loss.backward(host, x, y, weight, want_grad);
    const auto dpred = be.to_device(start);
    loss.backward(be, dx, dy, weight, dpred);
    const double rel = hg::test::relative_error_of_added(be.to_host(dpred), want_grad, start);
    CAPTURE(rel);
    CHECK(rel <= gtol);
}

}  // namespace

TEST_CASE("cuda ssim: map and statistics match the CPU in both forms") {
    hg::cuda be;
    be.poison_allocations(true);
    hg::cpu host(2);
    std::uint64_t seed = 1000;
    for (const shape& s : shapes)
        for (const ssim_form form : {ssim_form::valid, ssim_form::same})
            for (const int window : {11, 4}) {
                CAPTURE(s);
                CAPTURE(std::string(hg::ops::to_string(form)));
                CAPTURE(window);
                const auto [x, y] = image_pair(s, seed += 2);
                hg::ops::ssim_config cfg;
                cfg.form = form;
                cfg.window = window;
                const auto dx = be.to_device(x), dy = be.to_device(y);
                auto want_map = hg::tensor::empty(cfg.map_shape(s));
                hg::ops::ssim_map(host, cfg, x, y, want_map);
                const auto map = poisoned_device(be, cfg.map_shape(s));
                hg::ops::ssim_map(be, cfg, dx, dy, map);
                check_max_difference(be.to_host(map), want_map, map_tol);
                auto want_stats = hg::tensor::empty(shape{s.n(), s.c(), 2});
                hg::ops::ssim_stats(host, cfg, x, y, want_stats);
                const auto stats = poisoned_device(be, want_stats.shape());
                hg::ops::ssim_stats(be, cfg, dx, dy, stats);
                check_max_difference(be.to_host(stats), want_stats, stats_tol);
            }
}

TEST_CASE("cuda ssim: ssim_backward with per-image coefficients matches the CPU") {
    hg::cuda be;
    be.poison_allocations(true);
    hg::cpu host(2);
    std::uint64_t seed = 2000;
    for (const shape& s : shapes)
        for (const ssim_form form : {ssim_form::valid, ssim_form::same}) {
            CAPTURE(s);
            CAPTURE(std::string(hg::ops::to_string(form)));
            const auto [x, y] = image_pair(s, seed += 3);
            hg::ops::ssim_config cfg;
            cfg.form = form;
            const auto coef = hg::test::random_tensor<float>(shape{s.n(), s.c(), 2}, seed + 2);
            const auto start = hg::test::random_tensor<float>(s, seed + 3);
            auto want = start.clone();
            hg::ops::ssim_backward(host, cfg, x, y, coef, 0.0, 0.0, want);
            const auto grad = be.to_device(start);
            hg::ops::ssim_backward(be, cfg, be.to_device(x), be.to_device(y), be.to_device(coef), 0.0, 0.0, grad);
            auto got_added = be.to_host(grad);
            for (std::int64_t i = 0; i < s.numel(); ++i) {
                got_added[i] -= start[i];
                want[i] -= start[i];
            }
            const double rel = hg::test::relative_error(got_added, want);
            CAPTURE(rel);
            CHECK(rel <= coef_grad_tol);
        }
}

TEST_CASE("cuda ssim: ssim_map_backward with a per-position weight map matches the CPU") {
    hg::cuda be;
    be.poison_allocations(true);
    hg::cpu host(2);
    std::uint64_t seed = 2500;
    for (const shape& s : shapes)
        for (const ssim_form form : {ssim_form::valid, ssim_form::same}) {
            CAPTURE(s);
            CAPTURE(std::string(hg::ops::to_string(form)));
            const auto [x, y] = image_pair(s, seed += 3);
            hg::ops::ssim_config cfg;
            cfg.form = form;
            const auto dmap = hg::test::random_tensor<float>(cfg.map_shape(s), seed + 2, 0.0, 1.0);
            const auto start = hg::test::random_tensor<float>(s, seed + 3);
            auto want = start.clone();
            hg::ops::ssim_map_backward(host, cfg, x, y, dmap, want);
            const auto grad = be.to_device(start);
            hg::ops::ssim_map_backward(be, cfg, be.to_device(x), be.to_device(y), be.to_device(dmap), grad);
            auto got_added = be.to_host(grad);
            for (std::int64_t i = 0; i < s.numel(); ++i) {
                got_added[i] -= start[i];
                want[i] -= start[i];
            }
            const double rel = hg::test::relative_error(got_added, want);
            CAPTURE(rel);
            CHECK(rel <= grad_tol);
        }
}

TEST_CASE("cuda ssim: 2x2 average pooling and its transpose match the CPU") {
    hg::cuda be;
    be.poison_allocations(true);
    hg::cpu host(2);
    std::uint64_t seed = 3000;
    for (const shape& s : {shape{1, 1, 1, 1}, shape{2, 5, 7, 3}, shape{1, 64, 64, 3}, shape{3, 33, 18, 5}}) {
        CAPTURE(s);
        const auto x = hg::test::random_tensor<float>(s, ++seed, 0.0, 1.0);
        const shape small = hg::ops::detail::pool2_shape(s);
        auto want = hg::tensor::empty(small);
        hg::ops::avg_pool2(host, x, want);
        const auto out = poisoned_device(be, small);
        hg::ops::avg_pool2(be, be.to_device(x), out);
        check_max_difference(be.to_host(out), want, pool_tol);
        const auto g = hg::test::random_tensor<float>(small, ++seed);
        for (const bool accumulate : {false, true}) {
            CAPTURE(accumulate);
            const auto start = hg::test::random_tensor<float>(s, ++seed);
            auto want_dx = start.clone();
            hg::ops::avg_pool2_backward(host, g, want_dx, accumulate);
            const auto dx = accumulate ? be.to_device(start) : poisoned_device(be, s);
            hg::ops::avg_pool2_backward(be, be.to_device(g), dx, accumulate);
            check_max_difference(be.to_host(dx), want_dx, pool_tol);
        }
    }
}

TEST_CASE("cuda ssim: loss values and gradients match the CPU") {
    hg::cuda be;
    be.poison_allocations(true);
    std::uint64_t seed = 4000;
    for (const shape& s : shapes) {
        CAPTURE(s);
        const auto [x, y] = image_pair(s, seed += 4);
        check_loss(be, hg::losses::ssim(), x, y, value_tol, grad_tol, seed + 2);
        check_loss(be, hg::losses::ssim(ssim_form::same), x, y, value_tol, grad_tol, seed + 3);
        check_loss(be, hg::losses::dssim(), x, y, value_tol, grad_tol, seed + 4);
        check_loss(be, hg::losses::dssim(ssim_form::same, false), x, y, value_tol, grad_tol, seed + 5);
        if (std::min(s.h(), s.w()) >= hg::losses::ms_ssim::min_side)
            check_loss(be, hg::losses::ms_ssim(), x, y, ms_value_tol, ms_grad_tol, seed + 6);
    }
}

TEST_CASE("cuda ssim: an image against itself gives exactly SSIM 1") {
    hg::cuda be;
    for (const shape& s : {shape{1, 11, 11, 1}, shape{2, 40, 37, 3}, shape{1, 64, 64, 3}}) {
        CAPTURE(s);
        const auto x = be.to_device(hg::test::random_tensor<float>(s, 5000 + static_cast<std::uint64_t>(s.w()), 0.0, 1.0));
        const auto copy = be.empty(s);
        hg::ops::copy(be, x, copy);
        for (const ssim_form form : {ssim_form::valid, ssim_form::same}) {
            hg::ops::ssim_config cfg;
            cfg.form = form;
            const auto map = be.empty(cfg.map_shape(s));
            hg::ops::ssim_map(be, cfg, x, copy, map);
            const auto host_map = be.to_host(map);
            for (std::int64_t i = 0; i < host_map.numel(); ++i) REQUIRE(host_map[i] == 1.f);
            const auto value = be.empty(shape{1});
            hg::losses::ssim(form).forward(be, x, copy, value);
            CHECK(be.to_host(value)[0] == 0.f);
        }
        if (std::min(s.h(), s.w()) >= hg::losses::ms_ssim::min_side) {
            const auto value = be.empty(shape{1});
            hg::losses::ms_ssim().forward(be, x, copy, value);
            CHECK(be.to_host(value)[0] == 0.f);
        }
    }
}

TEST_CASE("cuda ssim: argument errors") {
    hg::cuda be;
    const auto [hx, hy] = image_pair(shape{1, 40, 40, 3}, 6000);
    const auto x = be.to_device(hx), y = be.to_device(hy);
    const auto value = be.empty(shape{1});
    const auto other = be.empty(shape{1, 40, 41, 3});
    CHECK_THROWS_AS(hg::losses::ssim().forward(be, x, other, value), hg::shape_error);
    const auto small = be.to_device(hg::test::random_tensor<float>(shape{1, 10, 12, 3}, 6001, 0.0, 1.0));
    CHECK_THROWS_AS(hg::losses::dssim().forward(be, small, small, value), hg::shape_error);
    const auto x31 = be.to_device(hg::test::random_tensor<float>(shape{1, 31, 64, 3}, 6002, 0.0, 1.0));
    CHECK_THROWS_AS(hg::losses::ms_ssim().forward(be, x31, x31, value), hg::shape_error);
    auto bad = hx.clone();
    bad[5] = -0.5f;
    CHECK_THROWS_AS(hg::losses::ssim().forward(be, be.to_device(bad), y, value), hg::value_error);
    CHECK_NOTHROW(hg::losses::ssim(ssim_form::valid, false).forward(be, be.to_device(bad), y, value));
    // A host tensor on the CUDA backend.
    CHECK_THROWS_AS(hg::losses::ssim().forward(be, hx, y, value), hg::device_error);
}
