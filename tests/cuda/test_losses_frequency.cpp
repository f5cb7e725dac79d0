// The CUDA focal frequency loss against the CPU (which transforms in float64): value, gradient and
// weight matrix for 64x64, 128x128 and non-power-of-two images (24x20, 20x24, 7x5), batch 1 and 3,
// channels 1 and 3; the given-weights ops; outputs poisoned with NaN (values) or surrounded by
// sentinel elements (gradients, which accumulate into a random start); the plan cache across
// shapes and backends; no device allocation once warmed up; argument errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"
#include "hourglass/losses/focal_frequency.hpp"
#include "hourglass/ops/focal_frequency.hpp"
#include "support/test_support.hpp"

namespace {

using hg::shape;
using hg::test::random_tensor;

// cuFFT works in float32: a transform of n points has a norm-wise relative error of about
// 1e-7 * log2(n) (~2e-6 for 128 x 128), against the CPU's float64 transforms; the weights and the
// weighted sums add a few float roundings more.
constexpr double value_tolerance = 1e-5;
constexpr double gradient_tolerance = 1e-5;
constexpr double weights_tolerance = 1e-5;
// Accumulating into a random start of magnitude ~1: the float32 rounding of each sum dominates.
constexpr double accumulate_tolerance = 1e-6;

const shape cuda_shapes[] = {shape{1, 64, 64, 3},   shape{3, 64, 64, 1}, shape{1, 128, 128, 1},
                             shape{3, 128, 128, 3}, shape{1, 24, 20, 3}, shape{3, 24, 20, 1},
                             shape{3, 20, 24, 3},   shape{2, 7, 5, 3}};

constexpr std::int64_t guard = 5;
constexpr float sentinel = 1234.5f;

/// A device view of `host` at element `guard` of a buffer whose other elements hold `sentinel`.
struct guarded {
    hg::tensor buffer;
    hg::tensor view;
};

guarded upload_guarded(const hg::cuda& be, const hg::tensor& host) {
    auto whole = hg::tensor::full(shape{host.numel() + 2 * guard}, sentinel);
    std::copy(host.data(), host.data() + host.numel(), whole.data() + guard);
    auto buffer = be.to_device(whole);
    return {buffer, buffer.slice(guard, host.shape())};
}

/// The view's contents; CHECKs that the sentinels around it are untouched.
hg::tensor download_guarded(const hg::cuda& be, const guarded& g) {
    const auto whole = be.to_host(g.buffer);
    const std::int64_t n = g.view.numel();
    std::int64_t touched = 0;
    for (std::int64_t i = 0; i < whole.numel(); ++i)
        if ((i < guard || i >= guard + n) && whole[i] != sentinel) ++touched;
    CHECK(touched == 0);
    auto out = hg::tensor::empty(g.view.shape());
    std::copy(whole.data() + guard, whole.data() + guard + n, out.data());
    return out;
}

hg::basic_tensor<double> to_double(const hg::tensor& t) {
    auto out = hg::basic_tensor<double>::empty(t.shape());
    for (std::int64_t i = 0; i < t.numel(); ++i) out[i] = static_cast<double>(t[i]);
    return out;
}

void check_value(float got, double want) {
    INFO("cuda " << got << ", cpu " << want);
    CHECK(std::isfinite(got));
    CHECK(std::abs(static_cast<double>(got) - want) <= value_tolerance * std::abs(want));
}

}  // namespace

TEST_CASE("cuda focal_frequency: value, gradient and weights match the CPU") {
    hg::cuda be;
    be.poison_allocations(true);
    hg::cpu64 host;
    std::uint64_t seed = 700;
    for (const shape& s : cuda_shapes) {
        for (const double alpha : {1.0, 0.5}) {
            CAPTURE(s);
            CAPTURE(alpha);
            const auto pred = random_tensor<float>(s, ++seed, 0.0, 1.0);
            const auto target = random_tensor<float>(s, ++seed, 0.0, 1.0);
            const auto pred64 = to_double(pred), target64 = to_double(target);
            const auto dpred_ = be.to_device(pred), dtarget = be.to_device(target);
            const hg::losses::focal_frequency loss(alpha);

            auto want_value = host.empty(shape{1});
            loss.forward(host, pred64, target64, want_value);
            auto value = be.empty(shape{1});  // NaN until written
            loss.forward(be, dpred_, dtarget, value);
            check_value(be.to_host(value)[0], want_value[0]);

            // The gradient alone (from zero), with a weight.
            auto want_grad = hg::basic_tensor<double>::zeros(s);
            loss.backward(host, pred64, target64, 0.7, want_grad);
            auto zero = upload_guarded(be, hg::tensor::zeros(s));
            loss.backward(be, dpred_, dtarget, 0.7, zero.view);
            const auto grad = download_guarded(be, zero);
            INFO("gradient relative error " << hg::test::relative_error(grad, want_grad));
            CHECK(hg::test::relative_error(grad, want_grad) <= gradient_tolerance);

            // Accumulation into a random start.
            const auto before = random_tensor<float>(s, ++seed);
            auto acc = upload_guarded(be, before);
            loss.backward(be, dpred_, dtarget, 0.7, acc.view);
            const auto after = download_guarded(be, acc);
            auto want_after = to_double(before);
            for (std::int64_t i = 0; i < want_after.numel(); ++i) want_after[i] += want_grad[i];
            CHECK(hg::test::relative_error(after, want_after) <= accumulate_tolerance);

            auto want_weights = host.empty(s);
            hg::ops::focal_frequency_weights(host, pred64, target64, alpha, want_weights);
            auto weights = be.empty(s);
            hg::ops::focal_frequency_weights(be, dpred_, dtarget, alpha, weights);
            const auto got_weights = be.to_host(weights);
            CHECK(hg::test::relative_error(got_weights, want_weights) <= weights_tolerance);
            float lo = 1.f, hi = 0.f;
            for (std::int64_t i = 0; i < got_weights.numel(); ++i) {
                lo = std::min(lo, got_weights[i]);
                hi = std::max(hi, got_weights[i]);
            }
            CHECK(lo >= 0.f);
            CHECK(hi == 1.f);
        }
    }
}

TEST_CASE("cuda focal_frequency: the given-weights ops match the CPU") {
    hg::cuda be;
    be.poison_allocations(true);
    hg::cpu64 host;
    std::uint64_t seed = 800;
    for (const shape& s : {shape{1, 64, 64, 3}, shape{3, 24, 20, 1}, shape{2, 7, 5, 3}}) {
        CAPTURE(s);
        const auto pred = random_tensor<float>(s, ++seed, 0.0, 1.0);
        const auto target = random_tensor<float>(s, ++seed, 0.0, 1.0);
        const auto weights = random_tensor<float>(s, ++seed, 0.0, 1.0);
        const auto pred64 = to_double(pred), target64 = to_double(target), weights64 = to_double(weights);
        const auto dp = be.to_device(pred), dt = be.to_device(target), dw = be.to_device(weights);

        auto want_value = host.empty(shape{1});
        hg::ops::focal_frequency_weighted_forward(host, pred64, target64, weights64, want_value);
        auto value = be.empty(shape{1});
        hg::ops::focal_frequency_weighted_forward(be, dp, dt, dw, value);
        check_value(be.to_host(value)[0], want_value[0]);

        auto want_grad = hg::basic_tensor<double>::zeros(s);
        hg::ops::focal_frequency_weighted_backward(host, pred64, target64, weights64, 1.3, want_grad);
        auto g = upload_guarded(be, hg::tensor::zeros(s));
        hg::ops::focal_frequency_weighted_backward(be, dp, dt, dw, 1.3, g.view);
        CHECK(hg::test::relative_error(download_guarded(be, g), want_grad) <= gradient_tolerance);
    }
}

TEST_CASE("cuda focal_frequency: identical images give exactly 0 and leave the gradient unchanged") {
    hg::cuda be;
    be.poison_allocations(true);
    const shape s{3, 24, 20, 3};
    const auto x = be.to_device(random_tensor<float>(s, 901, 0.0, 1.0));
    const hg::losses::focal_frequency loss;
    auto value = be.empty(shape{1});
    loss.forward(be, x, x, value);
    CHECK(be.to_host(value)[0] == 0.f);
    const auto before = random_tensor<float>(s, 902);
    auto g = upload_guarded(be, before);
    loss.backward(be, x, x, 1.0, g.view);
    CHECK(hg::test::max_abs_difference(download_guarded(be, g), before) == 0.0);
}

TEST_CASE("cuda focal_frequency: plans are cached per shape and per backend, no allocation once warm") {
    hg::cuda be;
    const hg::losses::focal_frequency loss;
    const shape a{2, 64, 64, 3}, b{1, 24, 20, 1};
    const auto pa = be.to_device(random_tensor<float>(a, 911, 0.0, 1.0));
    const auto ta = be.to_device(random_tensor<float>(a, 912, 0.0, 1.0));
    const auto pb = be.to_device(random_tensor<float>(b, 913, 0.0, 1.0));
    const auto tb = be.to_device(random_tensor<float>(b, 914, 0.0, 1.0));
    auto value = be.empty(shape{1});
    auto ga = be.to_device(hg::tensor::zeros(a)), gb = be.to_device(hg::tensor::zeros(b));
    auto step = [&]() {
        loss.forward(be, pa, ta, value);
        const float first = be.to_host(value)[0];
        loss.forward(be, pb, tb, value);
        loss.backward(be, pb, tb, 1.0, gb);
        loss.forward(be, pa, ta, value);
        CHECK(be.to_host(value)[0] == first);  // the same plan and data give the same bits
        loss.backward(be, pa, ta, 1.0, ga);
        be.synchronize();
    };
    step();
    const auto warm = be.memory();
    for (int i = 0; i < 3; ++i) step();
    const auto after = be.memory();
    CHECK(after.in_use == warm.in_use);
    CHECK(after.peak == warm.peak);
    CHECK(after.reserved == warm.reserved);

    // A second backend builds its own plans (bound to its own stream) and frees them when it goes.
    float other_value = 0.f;
    {
        hg::cuda other;
        const auto p2 = other.to_device(be.to_host(pa)), t2 = other.to_device(be.to_host(ta));
        auto v2 = other.empty(shape{1});
        loss.forward(other, p2, t2, v2);
        other_value = other.to_host(v2)[0];
    }
    loss.forward(be, pa, ta, value);
    CHECK(be.to_host(value)[0] == other_value);
}

TEST_CASE("cuda focal_frequency: wrong shapes, host tensors and a bad alpha are refused") {
    hg::cuda be;
    const hg::losses::focal_frequency loss;
    const shape s{1, 8, 8, 3};
    const auto p = be.to_device(random_tensor<float>(s, 921, 0.0, 1.0));
    const auto t = be.to_device(random_tensor<float>(s, 922, 0.0, 1.0));
    const auto other = be.to_device(random_tensor<float>(shape{1, 8, 6, 3}, 923, 0.0, 1.0));
    auto value = be.empty(shape{1});
    CHECK_THROWS_AS(loss.forward(be, p, other, value), hg::shape_error);
    CHECK_THROWS_AS(loss.backward(be, p, t, 1.0, be.empty(shape{1, 8, 8, 1})), hg::shape_error);
    CHECK_THROWS_AS(loss.forward(be, p, t, be.empty(shape{2})), hg::shape_error);
    CHECK_THROWS_AS(loss.forward(be, random_tensor<float>(s, 924), t, value), hg::error);
    CHECK_THROWS_AS(hg::ops::focal_frequency_forward(be, p, t, -1.0, value), hg::value_error);
    CHECK_THROWS_AS(hg::ops::focal_frequency_weighted_forward(be, p, t, be.empty(shape{1, 8, 8, 1}), value),
                    hg::shape_error);
    CHECK_THROWS_AS(hg::ops::focal_frequency_weights(be, p, t, 1.0, random_tensor<float>(s, 925)), hg::error);
}
