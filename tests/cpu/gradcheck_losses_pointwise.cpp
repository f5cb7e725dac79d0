// Finite-difference gradient checks (double precision, hg::cpu64) of the pointwise losses (MAE, MSE,
// LogCosh, generalized Charbonnier at several alpha/beta, L-inf), the mask multiply, the face-mask
// weighting around MAE, MSE, LogCosh and a composite, the composite itself and the mask loss. Each
// backward starts from a random dpred (so the check also proves it accumulates); the weight is about
// the element count, so the gradients are O(1) and the per-entry error
// |analytic - numeric| / max(1, |analytic|, |numeric|) is a relative one. MAE inputs keep
// |pred - target| >= 0.05 (away from the kink), L-inf inputs have distinct maxima.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>

#include "hourglass/losses/composite.hpp"
#include "hourglass/losses/face_mask.hpp"
#include "hourglass/losses/mask_loss.hpp"
#include "hourglass/losses/pointwise.hpp"
#include "hourglass/ops/mask.hpp"
#include "support/test_support.hpp"

namespace {

using hg::shape;
using tensor64 = hg::basic_tensor<double>;
using hg::test::random_tensor;
namespace losses = hg::losses;

constexpr double tolerance = 1e-6;
constexpr double eps = 1e-6;

const shape grad_shapes[] = {shape{1, 1, 1, 1}, shape{1, 3, 4, 3}, shape{2, 5, 3, 1}, shape{2, 3, 3, 5}};

/// Worst per-entry error between `analytic` (dL/dx) and central differences of f() over x.
double worst_error(const std::function<double()>& f, const tensor64& x, const tensor64& analytic) {
    double worst = 0.0;
    for (std::int64_t i = 0; i < x.numel(); ++i) {
        const double keep = x[i];
        x[i] = keep + eps;
        const double fp = f();
        x[i] = keep - eps;
        const double fm = f();
        x[i] = keep;
        const double numeric = (fp - fm) / (2 * eps);
        worst = std::max(worst, std::abs(analytic[i] - numeric) /
                                    std::max({1.0, std::abs(analytic[i]), std::abs(numeric)}));
    }
    return worst;
}

/// target, and pred = target + s * u with u in [0.05, 0.5) and a random sign s: |pred - target| >= 0.05.
std::pair<tensor64, tensor64> away_from_kink(const shape& s, std::uint64_t seed) {
    const auto t = random_tensor<double>(s, seed, 0.0, 1.0);
    const auto u = random_tensor<double>(s, seed + 1, 0.05, 0.5);
    const auto sgn = random_tensor<double>(s, seed + 2, -1.0, 1.0);
    auto p = t.clone();
    for (std::int64_t i = 0; i < p.numel(); ++i) p[i] += sgn[i] < 0 ? -u[i] : u[i];
    return {p, t};
}

/// Checks loss.backward against central differences of weight * loss.forward.
template <class L>
void check_loss(const L& loss, const tensor64& p, const tensor64& t) {
    INFO(loss.name() << " on " << p.shape());
    hg::cpu64 be(1);
    auto value = be.empty(shape{1});
    const double weight = 0.8 * static_cast<double>(p.numel());
    auto f = [&]() {
        loss.forward(be, p, t, value);
        return weight * value[0];
    };
    const auto start = random_tensor<double>(p.shape(), 77);
    auto dpred = start.clone();
    loss.backward(be, p, t, weight, dpred);
    auto analytic = dpred.clone();
    for (std::int64_t i = 0; i < analytic.numel(); ++i) analytic[i] -= start[i];
    CHECK(hg::test::all_finite(analytic));
    CHECK(worst_error(f, p, analytic) < tolerance);
}

}  // namespace

TEST_CASE("gradcheck losses: mae away from the kink") {
    std::uint64_t seed = 10;
    for (const shape& s : grad_shapes) {
        const auto [p, t] = away_from_kink(s, seed += 3);
        check_loss(losses::mae{}, p, t);
    }
}

TEST_CASE("gradcheck losses: mse, log_cosh (both branches), mask loss") {
    std::uint64_t seed = 100;
    for (const shape& s : grad_shapes) {
        const auto p = random_tensor<double>(s, ++seed, 0.0, 1.0);
        const auto t = random_tensor<double>(s, ++seed, 0.0, 1.0);
        check_loss(losses::mse{}, p, t);
        check_loss(losses::log_cosh{}, p, t);
        const auto wide = random_tensor<double>(s, ++seed, -3.0, 3.0);
        check_loss(losses::log_cosh{}, wide, t);
        const shape ms{s.n(), s.h(), s.w(), 1};
        const auto mp = random_tensor<double>(ms, ++seed, 0.0, 1.0);
        const auto mt = random_tensor<double>(ms, ++seed, 0.0, 1.0);
        check_loss(losses::mask_loss{}, mp, mt);
    }
}

TEST_CASE("gradcheck losses: charbonnier at several alpha and beta") {
    std::uint64_t seed = 200;
    const std::pair<double, double> params[] = {{1.0, 1.0 / 255.0}, {0.5, 0.1}, {-1.0, 0.05}, {1.9999, 1.0 / 255.0},
                                                {3.0, 0.5}};
    for (const shape& s : grad_shapes)
        for (const auto& [alpha, beta] : params) {
            const auto p = random_tensor<double>(s, ++seed, 0.0, 1.0);
            const auto t = random_tensor<double>(s, ++seed, 0.0, 1.0);
            CAPTURE(alpha);
            CAPTURE(beta);
            check_loss(losses::charbonnier(alpha, beta), p, t);
        }
}

TEST_CASE("gradcheck losses: linf with distinct maxima") {
    std::uint64_t seed = 300;
    for (const shape& s : grad_shapes) {
        // Random doubles: the two largest |d| of a plane are far more than eps apart for these seeds
        // (checked below), so the arg-max does not move under the perturbation.
        const auto p = random_tensor<double>(s, ++seed, 0.0, 1.0);
        const auto t = random_tensor<double>(s, ++seed, 0.0, 1.0);
        for (std::int64_t n = 0; n < s.n(); ++n)
            for (std::int64_t c = 0; c < s.c(); ++c) {
                double first = -1, second = -1;
                for (std::int64_t h = 0; h < s.h(); ++h)
                    for (std::int64_t w = 0; w < s.w(); ++w) {
                        const double a = std::abs(p.at(n, h, w, c) - t.at(n, h, w, c));
                        if (a > first) {
                            second = first;
                            first = a;
                        } else if (a > second) {
                            second = a;
                        }
                    }
                CHECK(first - second > 1e-4);
            }
        check_loss(losses::linf{}, p, t);
    }
}

TEST_CASE("gradcheck losses: mask_multiply backward (broadcast and per-element masks, affine weights)") {
    hg::cpu64 be(1);
    std::uint64_t seed = 400;
    for (const shape& s : grad_shapes)
        for (const bool broadcast : {true, false})
            for (const auto& [scale, offset] : {std::pair{1.f, 0.f}, std::pair{0.3f, 0.7f}}) {
                CAPTURE(s);
                CAPTURE(broadcast);
                CAPTURE(scale);
                const auto x = random_tensor<double>(s, ++seed);
                const auto m = random_tensor<double>(broadcast ? shape{s.n(), s.h(), s.w(), 1} : s, ++seed, 0.0, 1.0);
                const auto g = random_tensor<double>(s, ++seed);
                auto y = be.empty(s);
                auto f = [&]() {  // L = sum(g * mask_multiply(x))
                    hg::ops::mask_multiply(be, x, m, y, scale, offset);
                    double sum = 0.0;
                    for (std::int64_t i = 0; i < y.numel(); ++i) sum += g[i] * y[i];
                    return sum;
                };
                const auto start = random_tensor<double>(s, ++seed);
                auto dx = start.clone();
                hg::ops::mask_multiply_backward(be, g, m, dx, scale, offset);
                for (std::int64_t i = 0; i < dx.numel(); ++i) dx[i] -= start[i];
                CHECK(worst_error(f, x, dx) < tolerance);
            }
}

namespace {

/// Checks face_mask<cpu64, L>.backward against central differences of its forward.
template <class L>
void check_face_mask(const L& inner, const losses::face_mask_options& o, const tensor64& p, const tensor64& t,
                     std::uint64_t seed) {
    hg::cpu64 be(1);
    const shape& s = p.shape();
    const shape ms{s.n(), s.h(), s.w(), 1};
    // Masks in [0.1, 1): with |pred - target| >= 0.05 the masked differences stay >= 0.005 from the
    // MAE kink.
    const losses::face_masks<double> masks{random_tensor<double>(ms, seed, 0.1, 1.0),
                                           random_tensor<double>(ms, seed + 1, 0.1, 1.0),
                                           random_tensor<double>(ms, seed + 2, 0.1, 1.0)};
    const auto loss = losses::make_face_mask<hg::cpu64>(inner, o);
    INFO(loss.name() << " on " << s << ", eye " << o.eye_multiplier << ", mouth " << o.mouth_multiplier
                     << ", mask_prop " << o.mask_prop);
    auto value = be.empty(shape{1});
    const double weight = 0.6 * static_cast<double>(p.numel());
    auto f = [&]() {
        loss.forward(be, p, t, masks, value);
        return weight * value[0];
    };
    const auto start = random_tensor<double>(s, seed + 3);
    auto dpred = start.clone();
    loss.backward(be, p, t, masks, weight, dpred);
    for (std::int64_t i = 0; i < dpred.numel(); ++i) dpred[i] -= start[i];
    CHECK(hg::test::all_finite(dpred));
    CHECK(worst_error(f, p, dpred) < tolerance);
}

}  // namespace

TEST_CASE("gradcheck losses: face_mask around mae, mse, log_cosh and a composite") {
    std::uint64_t seed = 500;
    const losses::face_mask_options options[] = {{}, {2.5, 1.0, 0.6}, {1.0, 4.0, 0.0}};
    for (const shape& s : grad_shapes)
        for (const auto& o : options) {
            const auto [p, t] = away_from_kink(s, seed += 5);
            check_face_mask(losses::mae{}, o, p, t, seed);
            check_face_mask(losses::mse{}, o, p, t, seed + 1);
            check_face_mask(losses::log_cosh{}, o, p, t, seed + 2);
            losses::composite<hg::cpu64> both;
            both.add(losses::mae{}, 0.4).add(losses::mse{}, 1.5);
            check_face_mask(both, o, p, t, seed + 3);
        }
}

TEST_CASE("gradcheck losses: composite of every pointwise loss") {
    std::uint64_t seed = 600;
    for (const shape& s : grad_shapes) {
        const auto [p, t] = away_from_kink(s, seed += 3);
        losses::composite<hg::cpu64> loss;
        loss.add(losses::mae{}, 0.5)
            .add(losses::mse{}, 2.0)
            .add(losses::log_cosh{}, 0.7)
            .add(losses::charbonnier{}, 1.3)
            .add(losses::linf{}, 0.2);
        check_loss(loss, p, t);
    }
}
