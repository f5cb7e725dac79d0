// Finite-difference checks (hg::cpu64, central differences) of the SSIM family's backward passes:
// the ssim and dssim losses in both forms, ms_ssim, ssim_backward with per-image coefficients on both
// the SSIM and the contrast-structure means (the path MS-SSIM uses), ssim_map_backward with a
// per-position weight map (mask weighting), and 2x2 average pooling.
// Every backward starts from a random dpred, so the checks also prove that it accumulates.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>

#include "hourglass/losses/ssim.hpp"
#include "support/test_support.hpp"

namespace {

using hg::shape;
using hg::ops::ssim_form;
using tensor64 = hg::basic_tensor<double>;

/// Images in (0, 1), away from the borders of the range so that the steps stay inside it: y is x
/// plus noise, so the two are similar (positive contrast-structure terms, as in training).
std::pair<tensor64, tensor64> image_pair(const shape& s, std::uint64_t seed) {
    auto x = hg::test::random_tensor<double>(s, seed, 0.05, 0.95);
    auto noise = hg::test::random_tensor<double>(s, seed + 1, -0.2, 0.2);
    auto y = tensor64::empty(s);
    for (std::int64_t i = 0; i < s.numel(); ++i) y[i] = std::clamp(x[i] + noise[i], 0.02, 0.98);
    return {x, y};
}

/// Worst |analytic - numeric| / max(1e-3, |analytic|, |numeric|) over every element of x, where the
/// analytic gradient is what `backward` added to a random starting tensor.
double worst_error(tensor64& x, const std::function<double()>& value,
                   const std::function<void(const tensor64&)>& backward, std::uint64_t seed, double eps = 1e-6) {
    auto grad = hg::test::random_tensor<double>(x.shape(), seed);
    const auto start = grad.clone();
    backward(grad);
    double worst = 0.0;
    for (std::int64_t i = 0; i < x.numel(); ++i) {
        const double keep = x[i];
        x[i] = keep + eps;
        const double plus = value();
        x[i] = keep - eps;
        const double minus = value();
        x[i] = keep;
        const double numeric = (plus - minus) / (2 * eps), analytic = grad[i] - start[i];
        worst = std::max(worst, std::abs(analytic - numeric) / std::max({1e-3, std::abs(analytic), std::abs(numeric)}));
    }
    return worst;
}

template <class Loss>
double check_loss(const Loss& loss, const shape& s, std::uint64_t seed, double weight, double eps = 1e-6) {
    hg::cpu64 be(1);
    auto [x, y] = image_pair(s, seed);
    auto out = tensor64::empty(shape{1});
    auto value = [&] {
        loss.forward(be, x, y, out);
        return weight * out[0];
    };
    return worst_error(x, value, [&](const tensor64& g) { loss.backward(be, x, y, weight, g); }, seed + 7,
                       eps);
}

}  // namespace

TEST_CASE("gradcheck ssim and dssim losses, both forms") {
    for (const ssim_form form : {ssim_form::valid, ssim_form::same}) {
        CAPTURE(std::string(hg::ops::to_string(form)));
        const double e1 = check_loss(hg::losses::ssim(form), shape{2, 13, 14, 2}, 10, 1.0);
        CAPTURE(e1);
        CHECK(e1 < 1e-6);
        const double e2 = check_loss(hg::losses::dssim(form), shape{1, 12, 11, 3}, 20, 0.7);
        CAPTURE(e2);
        CHECK(e2 < 1e-6);
    }
}

TEST_CASE("gradcheck ms_ssim loss") {
    // A step of 1e-5: the five-scale product with fractional powers rounds more than one SSIM, and
    // at 1e-6 that rounding (about 1e-16 / step) dominates the difference quotient.
    // 34x37: odd sizes at several scales (34 -> 17 -> 9 -> 5 -> 3), window min(11, 34/16) = 2.
    const double e1 = check_loss(hg::losses::ms_ssim(), shape{1, 34, 37, 2}, 30, 1.0, 1e-5);
    CAPTURE(e1);
    CHECK(e1 < 1e-6);
    // 48x48, batch 2: window 3.
    const double e2 = check_loss(hg::losses::ms_ssim(), shape{2, 48, 48, 1}, 40, 0.5, 1e-5);
    CAPTURE(e2);
    CHECK(e2 < 1e-6);
}

TEST_CASE("gradcheck ssim_backward with per-image coefficients on the SSIM and cs means") {
    hg::cpu64 be(1);
    for (const ssim_form form : {ssim_form::valid, ssim_form::same}) {
        CAPTURE(std::string(hg::ops::to_string(form)));
        const shape s{2, 12, 13, 2};
        auto [x, y] = image_pair(s, 50);
        hg::ops::ssim_config cfg;
        cfg.form = form;
        cfg.window = 5;
        cfg.sigma = 1.1;
        const auto coef = hg::test::random_tensor<double>(shape{2, 2, 2}, 51);
        auto stats = tensor64::empty(coef.shape());
        auto value = [&] {
            hg::ops::ssim_stats(be, cfg, x, y, stats);
            double v = 0;
            for (std::int64_t i = 0; i < stats.numel(); ++i) v += coef[i] * stats[i];
            return v;
        };
        const double e = worst_error(x, value, [&](const tensor64& g) {
            hg::ops::ssim_backward(be, cfg, x, y, coef, 0.0, 0.0, g);
        }, 52);
        CAPTURE(e);
        CHECK(e < 1e-6);
    }
}

TEST_CASE("gradcheck ssim_map_backward with a per-position weight map") {
    hg::cpu64 be(1);
    for (const ssim_form form : {ssim_form::valid, ssim_form::same}) {
        CAPTURE(std::string(hg::ops::to_string(form)));
        const shape s{2, 14, 12, 2};
        auto [x, y] = image_pair(s, 70);
        hg::ops::ssim_config cfg;
        cfg.form = form;
        // Weights of a mean (sum 1 on average), so the value is O(1) like a loss and the rounding of
        // the difference quotient stays small.
        auto dmap = hg::test::random_tensor<double>(cfg.map_shape(s), 71, 0.0, 2.0);
        for (std::int64_t i = 0; i < dmap.numel(); ++i) dmap[i] /= static_cast<double>(dmap.numel());
        auto map = tensor64::empty(dmap.shape());
        auto value = [&] {
            hg::ops::ssim_map(be, cfg, x, y, map);
            double v = 0;
            for (std::int64_t i = 0; i < map.numel(); ++i) v += dmap[i] * map[i];
            return v;
        };
        const double e = worst_error(
            x, value, [&](const tensor64& g) { hg::ops::ssim_map_backward(be, cfg, x, y, dmap, g); }, 72);
        CAPTURE(e);
        CHECK(e < 1e-6);
    }
}

TEST_CASE("gradcheck avg_pool2") {
    hg::cpu64 be(1);
    for (const shape& s : {shape{1, 4, 6, 2}, shape{2, 5, 7, 3}}) {
        CAPTURE(s);
        auto x = hg::test::random_tensor<double>(s, 60);
        const auto g = hg::test::random_tensor<double>(hg::ops::detail::pool2_shape(s), 61);
        auto out = tensor64::empty(g.shape());
        auto value = [&] {
            hg::ops::avg_pool2(be, x, out);
            double v = 0;
            for (std::int64_t i = 0; i < out.numel(); ++i) v += g[i] * out[i];
            return v;
        };
        const double e = worst_error(x, value, [&](const tensor64& d) { hg::ops::avg_pool2_backward(be, g, d, true); }, 62);
        CAPTURE(e);
        CHECK(e < 1e-6);
    }
}
