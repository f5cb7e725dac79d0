// Finite-difference gradient checks of the focal frequency loss in double precision (hg::cpu64).
// The loss holds its spectrum weight matrix w constant in the gradient (as the reference
// implementation detaches it), so the backward is the exact gradient of the surrogate
//   L_w(pred) = mean of w .* |F pred - F target|^2   with w frozen,
// which is what is checked here, through the given-weights ops; that the loss's own backward is this
// surrogate's gradient at w = weights(pred, target) is checked in test_losses_frequency.cpp, and so
// is the weight matrix itself. L_w is quadratic in pred, so central differences carry no truncation
// error: what remains is cancellation, ~1e-16 * L / eps.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>

#include "hourglass/losses/focal_frequency.hpp"
#include "hourglass/ops/focal_frequency.hpp"
#include "support/test_support.hpp"

namespace {

using hg::shape;
using hg::test::random_tensor;

/// Norm-wise relative error of the analytic gradient (read back from an accumulating backward that
/// started at a random offset) against central differences over every input entry.
double surrogate_gradcheck(const shape& s, const hg::basic_tensor<double>& weights, std::uint64_t seed) {
    hg::cpu64 be(1);
    be.poison_allocations(true);
    auto pred = random_tensor<double>(s, seed, 0.0, 1.0);
    const auto target = random_tensor<double>(s, seed + 1, 0.0, 1.0);
    auto value = be.empty(shape{1});
    auto loss = [&]() {
        hg::ops::focal_frequency_weighted_forward(be, pred, target, weights, value);
        return value[0];
    };
    const auto offset = random_tensor<double>(s, seed + 2);
    auto dpred = offset.clone();
    const double scale = 1.5;
    hg::ops::focal_frequency_weighted_backward(be, pred, target, weights, scale, dpred);
    REQUIRE(hg::test::all_finite(dpred));

    const double eps = 1e-4;
    double num = 0.0, den = 0.0;
    for (std::int64_t i = 0; i < pred.numel(); ++i) {
        const double keep = pred[i];
        pred[i] = keep + eps;
        const double lp = loss();
        pred[i] = keep - eps;
        const double lm = loss();
        pred[i] = keep;
        const double numeric = scale * (lp - lm) / (2 * eps);
        const double analytic = dpred[i] - offset[i];
        num += (analytic - numeric) * (analytic - numeric);
        den += numeric * numeric;
    }
    REQUIRE(den > 0.0);
    return std::sqrt(num) / std::sqrt(den);
}

// Radix-2 and Bluestein sizes in both directions, batch 1 and 2, channels 1 and 3.
const shape gradcheck_shapes[] = {shape{1, 8, 4, 1}, shape{2, 6, 5, 3}, shape{1, 7, 9, 2}, shape{2, 1, 12, 1}};

}  // namespace

TEST_CASE("gradcheck focal_frequency: frozen random weights") {
    std::uint64_t seed = 500;
    for (const shape& s : gradcheck_shapes) {
        CAPTURE(s);
        const auto weights = random_tensor<double>(s, ++seed, 0.0, 1.0);
        const double err = surrogate_gradcheck(s, weights, seed += 3);
        INFO("relative error " << err);
        CHECK(err < 1e-8);
    }
}

TEST_CASE("gradcheck focal_frequency: frozen at the loss's own weights, which its backward uses") {
    std::uint64_t seed = 600;
    for (const shape& s : gradcheck_shapes) {
        CAPTURE(s);
        hg::cpu64 be(1);
        const auto pred = random_tensor<double>(s, seed + 10, 0.0, 1.0);
        const auto target = random_tensor<double>(s, seed + 11, 0.0, 1.0);
        // The weights of the point where the surrogate is checked (surrogate_gradcheck draws the same
        // pred and target from seed + 10 and seed + 11).
        auto weights = be.empty(s);
        hg::ops::focal_frequency_weights(be, pred, target, 1.0, weights);
        const double err = surrogate_gradcheck(s, weights, seed + 10);
        INFO("relative error " << err);
        CHECK(err < 1e-8);

        // The loss's backward is that surrogate's gradient.
        const hg::losses::focal_frequency loss;
        auto a = hg::basic_tensor<double>::zeros(s), b = hg::basic_tensor<double>::zeros(s);
        loss.backward(be, pred, target, 1.0, a);
        hg::ops::focal_frequency_weighted_backward(be, pred, target, weights, 1.0, b);
        CHECK(hg::test::relative_error(a, b) < 1e-14);
        seed += 20;
    }
}
