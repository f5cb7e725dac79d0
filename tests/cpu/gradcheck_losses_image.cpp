// Finite-difference gradient checks of the image-structure losses (GMSD, gradient difference,
// Laplacian pyramid) in double precision (hg::cpu64): the analytic dL/dpred of backward against
// central differences of the loss's own forward AND of the independent naive reference
// (tests/ref/losses_image.hpp), over every entry of small batches (or evenly spaced entries of the
// larger pyramid ones). backward starts from a random dpred and runs with a weight, so the check
// also proves that it adds weight * dL/dpred. The L1 losses have kinks where a term is 0: each
// case first asserts that every term is at least 1e-5 away from 0. A step of 1e-6 in one input
// moves any term by at most 2e-6 (the largest stencil coefficient is the -2 of the second
// differences; the pyramid's band coefficients are below 1), so no central difference straddles a
// kink. The seeds are chosen so that this holds; a change of seed that breaks it fails loudly.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "hourglass/losses/gmsd.hpp"
#include "hourglass/losses/gradient_difference.hpp"
#include "hourglass/losses/laplacian_pyramid.hpp"
#include "ref/losses_image.hpp"
#include "support/test_support.hpp"

namespace {

using tensor64 = hg::basic_tensor<double>;

constexpr double step = 1e-6;
/// Norm-wise relative error of the analytic gradient against central differences. Truncation is
/// ~step^2 * L''' (1e-12 relative); cancellation is ~1e-16 * |L| / step per entry, about 1e-8 of a
/// gradient entry at these sizes.
constexpr double gradient_tolerance = 1e-6;
constexpr double smallest_allowed_term = 1e-5;

/// Indices of up to `most` evenly spaced entries of [0, count), including the first and last.
std::vector<std::int64_t> spaced(std::int64_t count, std::int64_t most) {
    std::vector<std::int64_t> idx;
    const std::int64_t k = std::min(count, most);
    for (std::int64_t j = 0; j < k; ++j) idx.push_back(k == 1 ? 0 : j * (count - 1) / (k - 1));
    return idx;
}

/// Central differences of f at the chosen entries of x (others 0 in the returned tensor's slots
/// are not compared: the result holds only the chosen entries, in order).
std::vector<double> numeric_gradient(tensor64& x, const std::vector<std::int64_t>& idx, const std::function<double()>& f) {
    std::vector<double> g;
    for (std::int64_t i : idx) {
        const double keep = x[i];
        x[i] = keep + step;
        const double lp = f();
        x[i] = keep - step;
        const double lm = f();
        x[i] = keep;
        g.push_back((lp - lm) / (2 * step));
    }
    return g;
}

double relative(const std::vector<double>& a, const std::vector<double>& b) {
    double num = 0.0, den = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
}

/// Checks loss.backward on cpu64 against central differences of loss.forward and of `naive`.
template <class Loss>
void gradcheck(const Loss& loss, const hg::shape& s, std::uint64_t seed, const std::function<double(const tensor64&, const tensor64&)>& naive,
               std::int64_t most = 1 << 30) {
    CAPTURE(loss.name());
    CAPTURE(s);
    hg::cpu64 be(1);
    auto pred = hg::test::random_tensor<double>(s, seed, 0.0, 1.0);
    const auto target = hg::test::random_tensor<double>(s, seed + 1, 0.0, 1.0);
    const double weight = 0.625;
    const auto offset = hg::test::random_tensor<double>(s, seed + 2, -1.0, 1.0);
    auto dpred = offset.clone();
    loss.backward(be, pred, target, weight, dpred);
    REQUIRE(hg::test::all_finite(dpred));

    const auto idx = spaced(pred.numel(), most);
    std::vector<double> analytic;
    for (std::int64_t i : idx) analytic.push_back((dpred[i] - offset[i]) / weight);

    auto value = tensor64::empty(hg::shape{1});
    const auto own = numeric_gradient(pred, idx, [&] {
        loss.forward(be, pred, target, value);
        return value[0];
    });
    const auto reference = numeric_gradient(pred, idx, [&] { return naive(pred, target); });
    const double own_error = relative(analytic, own), reference_error = relative(analytic, reference);
    INFO("entries checked: " << idx.size() << ", error vs own forward " << own_error << ", vs naive reference "
                             << reference_error);
    CHECK(own_error <= gradient_tolerance);
    CHECK(reference_error <= gradient_tolerance);
    // Not a vacuous comparison: the gradient is not 0.
    double norm = 0.0;
    for (double g : analytic) norm += g * g;
    CHECK(norm > 0.0);
}

}  // namespace

TEST_CASE("gradcheck: gmsd") {
    const hg::losses::gmsd loss;
    auto naive = [](const tensor64& p, const tensor64& t) { return hg::ref::image::gmsd(p, t); };
    gradcheck(loss, hg::shape{1, 3, 3, 1}, 11, naive);
    gradcheck(loss, hg::shape{2, 5, 6, 3}, 12, naive);
    gradcheck(loss, hg::shape{1, 7, 4, 2}, 13, naive);
    gradcheck(hg::losses::gmsd(0.01), hg::shape{2, 4, 5, 1}, 14,
              [](const tensor64& p, const tensor64& t) { return hg::ref::image::gmsd(p, t, 0.01); });
}

TEST_CASE("gradcheck: gradient_difference") {
    for (const auto& [s, seed] : std::vector<std::pair<hg::shape, std::uint64_t>>{
             {hg::shape{1, 3, 3, 1}, 21}, {hg::shape{2, 5, 6, 3}, 22}, {hg::shape{1, 8, 4, 2}, 23}}) {
        {
            const auto p = hg::test::random_tensor<double>(s, seed, 0.0, 1.0);
            const auto t = hg::test::random_tensor<double>(s, seed + 1, 0.0, 1.0);
            INFO("shape " << s << ": every L1 term must be away from its kink");
            REQUIRE(hg::ref::image::gradient_difference(p, t).smallest_difference >= smallest_allowed_term);
        }
        gradcheck(hg::losses::gradient_difference(), s, seed,
                  [](const tensor64& p, const tensor64& t) { return hg::ref::image::gradient_difference(p, t).value; });
        gradcheck(hg::losses::gradient_difference(0.3, 1.7), s, seed,
                  [](const tensor64& p, const tensor64& t) { return hg::ref::image::gradient_difference(p, t, 0.3, 1.7).value; });
    }
}

TEST_CASE("gradcheck: laplacian_pyramid") {
    struct case_t {
        hg::shape s;
        std::uint64_t seed;
        int levels;
        double sigma;
        std::int64_t most;
    };
    for (const auto& k : std::vector<case_t>{{hg::shape{1, 4, 5, 1}, 31, 2, 1.0, 1 << 30},
                                             {hg::shape{2, 9, 8, 3}, 32, 3, 0.8, 1 << 30},
                                             {hg::shape{1, 32, 35, 2}, 43, 5, 1.0, 300},
                                             {hg::shape{2, 33, 32, 1}, 34, 5, 1.3, 300}}) {
        const auto naive = [k](const tensor64& p, const tensor64& t) {
            return hg::ref::image::laplacian_pyramid(p, t, k.levels, k.sigma).value;
        };
        {
            const auto p = hg::test::random_tensor<double>(k.s, k.seed, 0.0, 1.0);
            const auto t = hg::test::random_tensor<double>(k.s, k.seed + 1, 0.0, 1.0);
            INFO("shape " << k.s << ": every band difference must be away from its kink");
            REQUIRE(hg::ref::image::laplacian_pyramid(p, t, k.levels, k.sigma).smallest_difference >= smallest_allowed_term);
        }
        gradcheck(hg::losses::laplacian_pyramid(k.levels, k.sigma), k.s, k.seed, naive, k.most);
    }
}
