// The image-structure losses (GMSD, gradient difference, Laplacian pyramid) on the CPU: values
// against the naive references of tests/ref/losses_image.hpp on random images in [0, 1] of several
// shapes (batch 1, odd sizes, 1, 3 and 5 channels) in float and double; known values (identical
// images, constant and linear offsets, hand-computed 3x3 GMSD pairs); backward accumulating into
// dpred with a weight; results independent of the thread count; and the errors (mismatched
// shapes, images too small, values outside [0, 1] for GMSD, bad hyperparameters, wrong output
// shapes, a non-finite weight).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "cpu/helpers.hpp"
#include "hourglass/losses/gmsd.hpp"
#include "hourglass/losses/gradient_difference.hpp"
#include "hourglass/losses/laplacian_pyramid.hpp"
#include "ref/losses_image.hpp"

namespace {

using hg::test::contains;
using hg::test::message_of;

/// Value tolerance of the float CPU losses against the double reference: the per-pixel stencils
/// run in float (relative rounding ~1e-7 per pixel), the sums in double.
constexpr double float_value_tolerance = 1e-6;
constexpr double double_value_tolerance = 1e-12;

template <class T>
constexpr double value_tolerance = std::is_same_v<T, float> ? float_value_tolerance : double_value_tolerance;

/// The loss value through the loss class, into a NaN-filled 1-element tensor.
template <class B, class L>
double value_of(const B& be, const L& loss, const hg::tensor_of<B>& pred, const hg::tensor_of<B>& target) {
    auto v = hg::test::poisoned<typename B::scalar>(hg::shape{1});
    loss.forward(be, pred, target, v);
    return static_cast<double>(v[0]);
}

void check_relative(double got, double want, double tol) {
    const double error = std::abs(got - want) / std::max(std::abs(want), 1e-30);
    INFO("got " << got << ", want " << want << ", relative error " << error << ", tolerance " << tol);
    CHECK(error <= tol);
}

template <class T>
hg::basic_tensor<T> image(const hg::shape& s, std::uint64_t seed) {
    return hg::test::random_tensor<T>(s, seed, 0.0, 1.0);
}

const std::vector<hg::shape> small_shapes = {hg::shape{1, 3, 3, 1}, hg::shape{2, 7, 9, 3}, hg::shape{3, 16, 13, 5},
                                             hg::shape{1, 24, 31, 2}};
const std::vector<hg::shape> pyramid_shapes = {hg::shape{1, 32, 32, 1}, hg::shape{2, 33, 45, 3},
                                               hg::shape{1, 64, 40, 5}};

}  // namespace

TEST_CASE_TEMPLATE("image losses: gmsd matches the naive reference", T, float, double) {
    hg::cpu_backend<T> be(2);
    be.poison_allocations(true);
    const hg::losses::gmsd loss;
    std::uint64_t seed = 100;
    for (const auto& s : small_shapes) {
        CAPTURE(s);
        const auto p = image<T>(s, ++seed), t = image<T>(s, ++seed);
        const double want = hg::ref::image::gmsd(p, t);
        CHECK(want > 0.01);  // random images are far from identical
        check_relative(value_of(be, loss, p, t), want, value_tolerance<T>);
    }
    // A different constant c.
    const hg::shape s{2, 8, 11, 3};
    const auto p = image<T>(s, 7), t = image<T>(s, 8);
    check_relative(value_of(be, hg::losses::gmsd(0.01), p, t), hg::ref::image::gmsd(p, t, 0.01), value_tolerance<T>);
}

TEST_CASE_TEMPLATE("image losses: gradient_difference matches the naive reference", T, float, double) {
    hg::cpu_backend<T> be(2);
    be.poison_allocations(true);
    std::uint64_t seed = 200;
    for (const auto& s : small_shapes) {
        CAPTURE(s);
        const auto p = image<T>(s, ++seed), t = image<T>(s, ++seed);
        check_relative(value_of(be, hg::losses::gradient_difference(), p, t), hg::ref::image::gradient_difference(p, t).value,
                       value_tolerance<T>);
        check_relative(value_of(be, hg::losses::gradient_difference(0.25, 2.0), p, t),
                       hg::ref::image::gradient_difference(p, t, 0.25, 2.0).value, value_tolerance<T>);
        check_relative(value_of(be, hg::losses::gradient_difference(0.0, 1.0), p, t),
                       hg::ref::image::gradient_difference(p, t, 0.0, 1.0).value, value_tolerance<T>);
        check_relative(value_of(be, hg::losses::gradient_difference(3.0, 0.0), p, t),
                       hg::ref::image::gradient_difference(p, t, 3.0, 0.0).value, value_tolerance<T>);
    }
}

TEST_CASE_TEMPLATE("image losses: laplacian_pyramid matches the naive reference", T, float, double) {
    hg::cpu_backend<T> be(2);
    be.poison_allocations(true);
    std::uint64_t seed = 300;
    for (const auto& s : pyramid_shapes) {
        CAPTURE(s);
        const auto p = image<T>(s, ++seed), t = image<T>(s, ++seed);
        check_relative(value_of(be, hg::losses::laplacian_pyramid(), p, t), hg::ref::image::laplacian_pyramid(p, t).value,
                       value_tolerance<T>);
    }
    // Fewer levels, another sigma, odd sizes down the pyramid.
    const hg::shape s{2, 9, 13, 3};
    const auto p = image<T>(s, 31), t = image<T>(s, 32);
    check_relative(value_of(be, hg::losses::laplacian_pyramid(2, 1.5), p, t),
                   hg::ref::image::laplacian_pyramid(p, t, 2, 1.5).value, value_tolerance<T>);
    check_relative(value_of(be, hg::losses::laplacian_pyramid(3, 0.7), p, t),
                   hg::ref::image::laplacian_pyramid(p, t, 3, 0.7).value, value_tolerance<T>);
}

TEST_CASE("image losses: known values") {
    hg::cpu64 be(1);
    const hg::shape s{2, 32, 35, 3};
    const auto t = image<double>(s, 41);
    // Identical images: every loss is exactly 0.
    CHECK(value_of(be, hg::losses::gmsd(), t, t) == 0.0);
    CHECK(value_of(be, hg::losses::gradient_difference(), t, t) == 0.0);
    CHECK(value_of(be, hg::losses::laplacian_pyramid(), t, t) == 0.0);

    // A constant offset k: no differences change (gradient difference 0); GMSD 0; every band of the
    // pyramid is unchanged (the replicate-padded blur keeps a constant), only the low-pass
    // remainder moves by k: value 4^-5 |k|.
    auto shifted = t.clone();
    for (std::int64_t i = 0; i < shifted.numel(); ++i) shifted[i] = t[i] * 0.5 + 0.25;
    auto offset = shifted.clone();
    for (std::int64_t i = 0; i < offset.numel(); ++i) offset[i] += 0.125;
    CHECK(std::abs(value_of(be, hg::losses::gradient_difference(), offset, shifted)) < 1e-14);  // rounding of the offset
    CHECK(std::abs(value_of(be, hg::losses::gmsd(), offset, shifted)) < 1e-12);
    CHECK(value_of(be, hg::losses::laplacian_pyramid(), offset, shifted) ==
          doctest::Approx(0.125 / 1024.0).epsilon(1e-12));

    // A ramp a * w: every first difference along w moves by a, nothing else: value
    // tv * a / (tv + tv2) (mean over the w-differences is a; the h-differences and the second
    // differences are unchanged).
    auto ramp = shifted.clone();
    const double a = 1e-3;
    for (std::int64_t n = 0; n < s[0]; ++n)
        for (std::int64_t h = 0; h < s[1]; ++h)
            for (std::int64_t w = 0; w < s[2]; ++w)
                for (std::int64_t c = 0; c < s[3]; ++c) ramp[((n * s[1] + h) * s[2] + w) * s[3] + c] += a * static_cast<double>(w);
    CHECK(value_of(be, hg::losses::gradient_difference(), ramp, shifted) == doctest::Approx(a / 2).epsilon(1e-9));
    CHECK(value_of(be, hg::losses::gradient_difference(3.0, 1.0), ramp, shifted) == doctest::Approx(0.75 * a).epsilon(1e-9));
}

TEST_CASE("image losses: gmsd of hand-computed 3x3 pairs") {
    hg::cpu64 be(1);
    const double c = 0.0025, eps = 1e-12;
    const auto flat = hg::basic_tensor<double>::full(hg::shape{1, 3, 3, 1}, 0.5);
    // With reflect padding a 3x3 image has gx = 0 outside the middle column and gy = 0 outside the
    // middle row. A bright centre is symmetric, so every gradient vanishes: all GMS are exactly 1.
    const auto centre = hg::basic_tensor<double>::from_vector(hg::shape{1, 3, 3, 1}, {0, 0, 0, 0, 1, 0, 0, 0, 0});
    CHECK(value_of(be, hg::losses::gmsd(), centre, flat) == 0.0);
    // A bright top-left pixel: (0, 1) has gx = (1/3)(0 - 1) from the reflected row and row 0, gy = 0;
    // (1, 0) has gy = -1/3, gx = 0; the centre has gx = gy = -1/3; every other gradient is 0. The
    // flat target has m = sqrt(eps) everywhere.
    const auto corner = hg::basic_tensor<double>::from_vector(hg::shape{1, 3, 3, 1}, {1, 0, 0, 0, 0, 0, 0, 0, 0});
    const double mt = std::sqrt(eps);
    auto gms = [&](double g2) {
        const double mp = std::sqrt(g2 + eps);
        return (2 * mp * mt + c) / (mp * mp + mt * mt + c);
    };
    const std::vector<double> map = {gms(0), gms(1.0 / 9), gms(0), gms(1.0 / 9), gms(2.0 / 9), gms(0), gms(0), gms(0), gms(0)};
    double mean = 0.0, var = 0.0;
    for (double g : map) mean += g / 9;
    for (double g : map) var += (g - mean) * (g - mean) / 9;
    const double want = std::sqrt(var);
    CHECK(want == doctest::Approx(0.46275).epsilon(1e-4));  // the same value worked out on paper
    CHECK(value_of(be, hg::losses::gmsd(), corner, flat) == doctest::Approx(want).epsilon(1e-12));
    // Batch of the two: the mean of the per-image deviations.
    auto both_p = hg::basic_tensor<double>::empty(hg::shape{2, 3, 3, 1});
    auto both_t = hg::basic_tensor<double>::full(hg::shape{2, 3, 3, 1}, 0.5);
    for (std::int64_t i = 0; i < 9; ++i) {
        both_p[i] = centre[i];
        both_p[9 + i] = corner[i];
    }
    CHECK(value_of(be, hg::losses::gmsd(), both_p, both_t) == doctest::Approx(want / 2).epsilon(1e-12));
}

TEST_CASE_TEMPLATE("image losses: backward adds weight * gradient into dpred", T, float, double) {
    hg::cpu_backend<T> be(2);
    const hg::shape s{2, 32, 33, 3};
    const auto p = image<T>(s, 51), t = image<T>(s, 52);
    const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-13;
    auto run = [&](const auto& loss) {
        CAPTURE(loss.name());
        auto g1 = hg::basic_tensor<T>::zeros(s);
        loss.backward(be, p, t, 1.0, g1);
        CHECK(hg::test::all_finite(g1));
        CHECK(hg::test::max_abs_difference(g1, hg::basic_tensor<T>::zeros(s)) > 0.0);
        // Backward does not need forward, and it adds: before + w * g.
        const auto before = hg::test::random_tensor<T>(s, 53, -1e-4, 1e-4);
        auto d = before.clone();
        loss.backward(be, p, t, -0.75, d);
        auto want = before.clone();
        for (std::int64_t i = 0; i < want.numel(); ++i) want[i] += static_cast<T>(-0.75) * g1[i];
        HG_CHECK_CLOSE(d, want, tol);
        // Identical images: a zero gradient, dpred unchanged.
        auto same = before.clone();
        loss.backward(be, t, t, 1.0, same);
        HG_CHECK_EQUAL_TENSORS(same, before);
    };
    run(hg::losses::gmsd());
    run(hg::losses::gradient_difference());
    run(hg::losses::laplacian_pyramid());
}

TEST_CASE("image losses: gmsd rejects values outside [0, 1] unless the check is off") {
    hg::cpu be(1);
    const hg::shape s{1, 8, 8, 3};
    const auto good = image<float>(s, 61);
    auto above = good.clone();
    above[17] = 1.5f;
    auto below = good.clone();
    below[3] = -0.25f;
    auto nan = good.clone();
    nan[40] = std::numeric_limits<float>::quiet_NaN();
    auto v = hg::tensor::empty(hg::shape{1});
    const hg::losses::gmsd loss;
    auto msg = message_of<hg::value_error>([&] { loss.forward(be, above, good, v); });
    CHECK(contains(msg, "gmsd"));
    CHECK(contains(msg, "pred"));
    CHECK(contains(msg, "[0, 1]"));
    msg = message_of<hg::value_error>([&] { loss.forward(be, good, below, v); });
    CHECK(contains(msg, "gmsd"));
    CHECK(contains(msg, "target"));
    CHECK(contains(message_of<hg::value_error>([&] { loss.forward(be, nan, good, v); }), "[0, 1]"));
    auto d = hg::tensor::zeros(s);
    CHECK(contains(message_of<hg::value_error>([&] { loss.backward(be, above, good, 1.0, d); }), "[0, 1]"));
    // Without the check, out-of-range images are accepted.
    const hg::losses::gmsd unchecked(0.0025, false);
    CHECK_FALSE(unchecked.checks_range());
    unchecked.forward(be, above, good, v);
    CHECK(std::isfinite(v[0]));
}

TEST_CASE("image losses: shape errors name the loss and the reason") {
    hg::cpu be(1);
    auto v = hg::tensor::empty(hg::shape{1});
    auto two = hg::tensor::empty(hg::shape{2});
    const auto a = image<float>(hg::shape{2, 32, 32, 3}, 71), b = image<float>(hg::shape{2, 32, 31, 3}, 72);
    const auto c1 = image<float>(hg::shape{2, 32, 32, 1}, 73);
    auto check_all = [&](const auto& loss) {
        CAPTURE(loss.name());
        auto msg = message_of<hg::shape_error>([&] { loss.forward(be, a, b, v); });
        CHECK(contains(msg, loss.name()));
        CHECK(contains(msg, "[2, 32, 31, 3]"));
        CHECK(contains(message_of<hg::shape_error>([&] { loss.forward(be, a, c1, v); }), loss.name()));
        auto d = hg::tensor::zeros(a.shape());
        CHECK(contains(message_of<hg::shape_error>([&] { loss.backward(be, a, b, 1.0, d); }), loss.name()));
        auto wrong = hg::tensor::zeros(b.shape());
        msg = message_of<hg::shape_error>([&] { loss.backward(be, a, a, 1.0, wrong); });
        CHECK(contains(msg, loss.name()));
        CHECK(contains(msg, "dpred"));
        msg = message_of<hg::shape_error>([&] { loss.forward(be, a, a, two); });
        CHECK(contains(msg, loss.name()));
        CHECK(contains(msg, "value"));
        CHECK(contains(message_of<hg::shape_error>([&] { loss.forward(be, a.view(hg::shape{2, 32, 96}), a.view(hg::shape{2, 32, 96}), v); }),
                       "NHWC"));
        CHECK(contains(message_of<hg::shape_error>([&] { loss.forward(be, hg::tensor(), a, v); }), "empty"));
        msg = message_of<hg::value_error>([&] { loss.backward(be, a, a, std::numeric_limits<double>::infinity(), d); });
        CHECK(contains(msg, loss.name()));
        CHECK(contains(msg, "weight"));
    };
    check_all(hg::losses::gmsd());
    check_all(hg::losses::gradient_difference());
    check_all(hg::losses::laplacian_pyramid());
}

TEST_CASE("image losses: images too small for the window or the pyramid") {
    hg::cpu be(1);
    auto v = hg::tensor::empty(hg::shape{1});
    auto too_small = [&](const auto& loss, const hg::shape& s, const char* reason) {
        CAPTURE(loss.name());
        CAPTURE(s);
        const auto p = image<float>(s, 81), t = image<float>(s, 82);
        const auto msg = message_of<hg::shape_error>([&] { loss.forward(be, p, t, v); });
        CHECK(contains(msg, loss.name()));
        CHECK(contains(msg, reason));
        auto d = hg::tensor::zeros(s);
        CHECK(contains(message_of<hg::shape_error>([&] { loss.backward(be, p, t, 1.0, d); }), reason));
    };
    too_small(hg::losses::gmsd(), hg::shape{1, 2, 8, 3}, "at least 3x3");
    too_small(hg::losses::gmsd(), hg::shape{1, 8, 1, 3}, "at least 3x3");
    too_small(hg::losses::gradient_difference(), hg::shape{2, 3, 2, 1}, "at least 3x3");
    too_small(hg::losses::gradient_difference(), hg::shape{2, 1, 9, 1}, "at least 3x3");
    too_small(hg::losses::laplacian_pyramid(), hg::shape{1, 31, 64, 3}, "at least 32x32");
    too_small(hg::losses::laplacian_pyramid(), hg::shape{1, 64, 20, 3}, "at least 32x32");
    too_small(hg::losses::laplacian_pyramid(2, 1.0), hg::shape{1, 3, 8, 3}, "at least 4x4");
    // The smallest allowed sizes work.
    const auto p3 = image<float>(hg::shape{1, 3, 3, 2}, 83), t3 = image<float>(hg::shape{1, 3, 3, 2}, 84);
    hg::losses::gmsd().forward(be, p3, t3, v);
    CHECK(std::isfinite(v[0]));
    hg::losses::gradient_difference().forward(be, p3, t3, v);
    CHECK(std::isfinite(v[0]));
    const auto p32 = image<float>(hg::shape{1, 32, 32, 1}, 85), t32 = image<float>(hg::shape{1, 32, 32, 1}, 86);
    hg::losses::laplacian_pyramid().forward(be, p32, t32, v);
    CHECK(std::isfinite(v[0]));
}

TEST_CASE("image losses: bad hyperparameters are rejected when the loss is made") {
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    auto gmsd_error = [](double c) { return message_of<hg::value_error>([&] { hg::losses::gmsd g(c); (void)g; }); };
    for (double c : {0.0, -0.0025, nan, inf}) {
        CAPTURE(c);
        const auto msg = gmsd_error(c);
        CHECK(contains(msg, "gmsd"));
        CHECK(contains(msg, "constant c"));
    }
    auto gd_error = [](double tv, double tv2) {
        return message_of<hg::value_error>([&] { hg::losses::gradient_difference g(tv, tv2); (void)g; });
    };
    for (auto [tv, tv2] : std::vector<std::pair<double, double>>{{-1, 1}, {1, -0.5}, {0, 0}, {inf, 1}, {1, nan}}) {
        CAPTURE(tv);
        CAPTURE(tv2);
        const auto msg = gd_error(tv, tv2);
        CHECK(contains(msg, "gradient_difference"));
        CHECK(contains(msg, "weights"));
    }
    for (int levels : {0, -1, 17}) {
        CAPTURE(levels);
        const auto msg = message_of<hg::value_error>([&] { hg::losses::laplacian_pyramid l(levels); (void)l; });
        CHECK(contains(msg, "laplacian_pyramid"));
        CHECK(contains(msg, "levels"));
    }
    for (double sigma : {0.0, -1.0, nan, inf}) {
        CAPTURE(sigma);
        const auto msg = message_of<hg::value_error>([&] { hg::losses::laplacian_pyramid l(5, sigma); (void)l; });
        CHECK(contains(msg, "laplacian_pyramid"));
        CHECK(contains(msg, "sigma"));
    }
    // The ops check their hyperparameters too.
    hg::cpu be(1);
    const auto p = image<float>(hg::shape{1, 32, 32, 1}, 91);
    auto v = hg::tensor::empty(hg::shape{1});
    CHECK(contains(message_of<hg::value_error>([&] { hg::ops::gmsd_forward(be, p, p, v, -1.0); }), "gmsd"));
    CHECK(contains(message_of<hg::value_error>([&] { hg::ops::gradient_difference_forward(be, p, p, v, 0.0, 0.0); }),
                   "gradient_difference"));
    CHECK(contains(message_of<hg::value_error>([&] { hg::ops::laplacian_pyramid_forward(be, p, p, v, 0, 1.0); }),
                   "laplacian_pyramid"));
}

TEST_CASE("image losses: results do not depend on the thread count") {
    hg::cpu one(1), three(3);
    const hg::shape s{3, 40, 37, 3};
    const auto p = image<float>(s, 95), t = image<float>(s, 96);
    auto run = [&](const auto& loss) {
        CAPTURE(loss.name());
        CHECK(value_of(one, loss, p, t) == value_of(three, loss, p, t));
        auto g1 = hg::tensor::zeros(s), g3 = hg::tensor::zeros(s);
        loss.backward(one, p, t, 1.0, g1);
        loss.backward(three, p, t, 1.0, g3);
        HG_CHECK_EQUAL_TENSORS(g3, g1);
    };
    run(hg::losses::gmsd());
    run(hg::losses::gradient_difference());
    run(hg::losses::laplacian_pyramid());
}
