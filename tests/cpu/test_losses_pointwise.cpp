// The pointwise losses (MAE, MSE, LogCosh, generalized Charbonnier, L-inf), the mask multiply, the
// composite loss, the face-mask weighting and the mask loss on the CPU backend (float and double)
// against the naive references of tests/ref/losses_pointwise.hpp: values into poisoned 1-element
// outputs, gradients accumulated into random dpred; known values (including LogCosh at large and tiny
// differences and L-inf ties); typed errors naming the loss for bad shapes, masks and hyperparameters.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "cpu/helpers.hpp"
#include "hourglass/losses/composite.hpp"
#include "hourglass/losses/face_mask.hpp"
#include "hourglass/losses/mask_loss.hpp"
#include "hourglass/losses/pointwise.hpp"
#include "hourglass/ops/mask.hpp"
#include "ref/losses_pointwise.hpp"

namespace {

using hg::shape;
using hg::test::contains;
using hg::test::message_of;
using hg::test::random_tensor;
namespace losses = hg::losses;

// Odd sizes, batch 1, channels 1 and 3 and not a multiple of 4, one large enough for several threads.
const std::vector<shape> loss_shapes = {shape{1, 1, 1, 1}, shape{1, 5, 7, 3}, shape{2, 4, 6, 1},
                                        shape{3, 9, 11, 5}, shape{2, 3, 5, 7}, shape{4, 64, 64, 3}};

/// Relative tolerance of a CPU value or gradient against the double reference: float terms carry a
/// few ulps (expm1/log1p/sinh/tanh), double ones ~1e-15 plus the reference's own cancellation.
template <class T>
constexpr double loss_tol = std::is_same_v<T, float> ? 1e-5 : 1e-11;

template <class T>
T run_forward(const auto& loss, const hg::cpu_backend<T>& be, const hg::basic_tensor<T>& p,
              const hg::basic_tensor<T>& t) {
    auto value = hg::test::poisoned<T>(shape{1});
    loss.forward(be, p, t, value);
    return value[0];
}

/// dpred after backward with `weight`, starting from a random tensor, minus that start, in double.
template <class T>
hg::basic_tensor<double> run_backward(const auto& loss, const hg::cpu_backend<T>& be, const hg::basic_tensor<T>& p,
                                      const hg::basic_tensor<T>& t, double weight, std::uint64_t seed) {
    const auto start = random_tensor<T>(p.shape(), seed);
    auto dpred = start.clone();
    loss.backward(be, p, t, weight, dpred);
    auto diff = hg::basic_tensor<double>::empty(p.shape());
    for (std::int64_t i = 0; i < p.numel(); ++i) diff[i] = static_cast<double>(dpred[i]) - static_cast<double>(start[i]);
    return diff;
}

hg::basic_tensor<double> scaled(const hg::basic_tensor<double>& g, double s) {
    auto out = g.clone();
    for (std::int64_t i = 0; i < out.numel(); ++i) out[i] *= s;
    return out;
}

bool close(double got, double want, double tol) { return std::abs(got - want) <= tol * std::max(std::abs(want), 1e-300); }

/// Checks a mean-of-terms loss against its reference on every shape: value and gradient.
template <class T>
void check_pointwise(const auto& loss, const hg::ref::pointwise_ref& ref, double lo, double hi) {
    hg::cpu_backend<T> be(2);
    std::uint64_t seed = 10;
    for (const shape& s : loss_shapes) {
        CAPTURE(s);
        CAPTURE(loss.name());
        const auto p = random_tensor<T>(s, ++seed, lo, hi);
        const auto t = random_tensor<T>(s, ++seed, lo, hi);
        const double want = hg::ref::pointwise_value(ref, p, t);
        const double got = static_cast<double>(run_forward(loss, be, p, t));
        INFO("value " << got << " want " << want);
        CHECK(close(got, want, loss_tol<T>));
        // A weight of ~count makes the gradient O(1), so adding it to the random start loses nothing.
        const double weight = 0.75 * static_cast<double>(s.numel());
        const auto g = run_backward(loss, be, p, t, weight, ++seed);
        HG_CHECK_CLOSE(g, scaled(hg::ref::pointwise_grad(ref, p, t), weight), loss_tol<T>);
    }
}

}  // namespace

TEST_CASE_TEMPLATE("pointwise losses: mae, mse, log_cosh and charbonnier match the reference", T, float, double) {
    check_pointwise<T>(losses::mae{}, hg::ref::mae_ref(), 0.0, 1.0);
    check_pointwise<T>(losses::mse{}, hg::ref::mse_ref(), 0.0, 1.0);
    check_pointwise<T>(losses::log_cosh{}, hg::ref::log_cosh_ref(), 0.0, 1.0);
    check_pointwise<T>(losses::log_cosh{}, hg::ref::log_cosh_ref(), -6.0, 6.0);  // both branches
    check_pointwise<T>(losses::charbonnier{}, hg::ref::charbonnier_ref(1.0, 1.0 / 255.0), 0.0, 1.0);
    check_pointwise<T>(losses::charbonnier(0.5, 0.1), hg::ref::charbonnier_ref(0.5, 0.1), 0.0, 1.0);
    check_pointwise<T>(losses::charbonnier(-1.0, 0.05), hg::ref::charbonnier_ref(-1.0, 0.05), 0.0, 1.0);
    check_pointwise<T>(losses::charbonnier(1.9999, 1.0 / 255.0), hg::ref::charbonnier_ref(1.9999, 1.0 / 255.0), 0.0,
                       1.0);
    check_pointwise<T>(losses::charbonnier(3.0, 0.5), hg::ref::charbonnier_ref(3.0, 0.5), 0.0, 1.0);
}

TEST_CASE_TEMPLATE("pointwise losses: linf matches the reference (value and arg-max gradient)", T, float, double) {
    hg::cpu_backend<T> be(2);
    std::uint64_t seed = 500;
    const losses::linf loss;
    for (const shape& s : loss_shapes) {
        CAPTURE(s);
        const auto p = random_tensor<T>(s, ++seed, 0.0, 1.0);
        const auto t = random_tensor<T>(s, ++seed, 0.0, 1.0);
        const double want = hg::ref::linf_value(p, t);
        CHECK(close(static_cast<double>(run_forward(loss, be, p, t)), want, loss_tol<T>));
        const double weight = 0.75 * static_cast<double>(s.n() * s.c());
        const auto g = run_backward(loss, be, p, t, weight, ++seed);
        HG_CHECK_CLOSE(g, scaled(hg::ref::linf_grad(p, t), weight), loss_tol<T>);
        // Exactly one non-zero gradient entry per (n, c).
        std::int64_t nonzero = 0;
        for (std::int64_t i = 0; i < g.numel(); ++i) nonzero += std::abs(g[i]) > 0.5 ? 1 : 0;
        CHECK(nonzero == s.n() * s.c());
    }
}

TEST_CASE("pointwise losses: known values") {
    hg::cpu64 be(1);
    // d = pred - target = {0.4, -0.2}.
    const auto p = hg::basic_tensor<double>::from_vector(shape{1, 1, 2, 1}, {0.5, 0.2});
    const auto t = hg::basic_tensor<double>::from_vector(shape{1, 1, 2, 1}, {0.1, 0.4});
    CHECK(run_forward(losses::mae{}, be, p, t) == doctest::Approx(0.3).epsilon(1e-14));
    CHECK(run_forward(losses::mse{}, be, p, t) == doctest::Approx(0.1).epsilon(1e-14));
    CHECK(run_forward(losses::log_cosh{}, be, p, t) ==
          doctest::Approx((std::log(std::cosh(0.4)) + std::log(std::cosh(0.2))) / 2).epsilon(1e-14));
    const double b = 1.0 / 255.0;
    CHECK(run_forward(losses::charbonnier{}, be, p, t) ==
          doctest::Approx((std::sqrt(0.16 + b * b) - b + std::sqrt(0.04 + b * b) - b) / 2).epsilon(1e-13));
    CHECK(run_forward(losses::linf{}, be, p, t) == doctest::Approx(0.4).epsilon(1e-14));
    // MAE gradient: sign(d) / count, and 0 where pred == target.
    const auto q = hg::basic_tensor<double>::from_vector(shape{1, 1, 3, 1}, {0.5, 0.2, 0.7});
    const auto r = hg::basic_tensor<double>::from_vector(shape{1, 1, 3, 1}, {0.1, 0.4, 0.7});
    auto dq = hg::basic_tensor<double>::zeros(q.shape());
    losses::mae{}.backward(be, q, r, 3.0, dq);
    CHECK(dq[0] == 1.0);
    CHECK(dq[1] == -1.0);
    CHECK(dq[2] == 0.0);
}

TEST_CASE("pointwise losses: log_cosh is accurate for large and tiny differences in float") {
    hg::cpu be(1);
    const auto p = hg::tensor::from_vector(shape{1, 1, 1, 4}, {100.f, -100.f, 1e-4f, 3e-3f});
    const auto t = hg::tensor::zeros(p.shape());
    // Each element alone: no overflow at 100 (cosh(100) overflows float), no cancellation near 0.
    const double xs[] = {100.0, -100.0, static_cast<double>(1e-4f), static_cast<double>(3e-3f)};
    for (int i = 0; i < 4; ++i) {
        CAPTURE(i);
        const auto pi = p.slice(i, shape{1, 1, 1, 1});
        const auto ti = t.slice(i, shape{1, 1, 1, 1});
        const double exact = std::log(std::cosh(xs[i]));
        CHECK(close(static_cast<double>(run_forward(losses::log_cosh{}, be, pi, ti)), exact, 1e-6));
        auto g = hg::tensor::zeros(pi.shape());
        losses::log_cosh{}.backward(be, pi, ti, 1.0, g);
        CHECK(close(static_cast<double>(g[0]), std::tanh(xs[i]), 1e-6));
    }
}

TEST_CASE("pointwise losses: charbonnier with alpha = 1 is sqrt(d^2 + beta^2) - beta, its gradient tends to sign(d)") {
    hg::cpu64 be(1);
    const double beta = 0.01;
    const losses::charbonnier loss(1.0, beta);
    for (const double d : {-0.5, -0.003, 0.0, 0.02, 0.9}) {
        CAPTURE(d);
        const auto p = hg::basic_tensor<double>::full(shape{1, 1, 1, 1}, 0.25 + d);
        const auto t = hg::basic_tensor<double>::full(shape{1, 1, 1, 1}, 0.25);
        const double dd = (0.25 + d) - 0.25;
        CHECK(run_forward(loss, be, p, t) == doctest::Approx(std::sqrt(dd * dd + beta * beta) - beta).epsilon(1e-12));
        auto g = hg::basic_tensor<double>::zeros(p.shape());
        loss.backward(be, p, t, 1.0, g);
        CHECK(g[0] == doctest::Approx(dd / std::sqrt(dd * dd + beta * beta)).epsilon(1e-12));
    }
    CHECK(loss.alpha() == 1.0);
    CHECK(loss.beta() == beta);
    CHECK(losses::charbonnier{}.beta() == 1.0 / 255.0);
}

TEST_CASE("pointwise losses: linf gives the gradient to the first maximum on ties and handles negative d") {
    hg::cpu64 be(1);
    // One sample, 2x2 pixels, 2 channels, exactly representable values. Channel 0: d = {0.375, -0.5,
    // 0.5, 0.125} -> max 0.5, first at pixel 1 (d = -0.5). Channel 1: d = {0.25, -0.25, -0.25, 0.25} ->
    // all tied, pixel 0 (d = +0.25).
    const auto p = hg::basic_tensor<double>::from_vector(shape{1, 2, 2, 2}, {0.375, 0.25, 0.0, 0.75, 0.5, 0.75, 0.125, 0.5});
    const auto t = hg::basic_tensor<double>::from_vector(shape{1, 2, 2, 2}, {0.0, 0.0, 0.5, 1.0, 0.0, 1.0, 0.0, 0.25});
    CHECK(run_forward(losses::linf{}, be, p, t) == (0.5 + 0.25) / 2);
    auto g = hg::basic_tensor<double>::zeros(p.shape());
    losses::linf{}.backward(be, p, t, 2.0, g);
    const std::vector<double> want = {0, 1, -1, 0, 0, 0, 0, 0};
    for (std::int64_t i = 0; i < 8; ++i) {
        CAPTURE(i);
        CHECK(g[i] == want[static_cast<std::size_t>(i)]);
    }
}

TEST_CASE("pointwise losses: a NaN difference makes the value NaN") {
    hg::cpu be(1);
    auto p = random_tensor<float>(shape{2, 3, 3, 3}, 5, 0.0, 1.0);
    const auto t = random_tensor<float>(p.shape(), 6, 0.0, 1.0);
    p[17] = std::numeric_limits<float>::quiet_NaN();
    CHECK(std::isnan(run_forward(losses::mae{}, be, p, t)));
    CHECK(std::isnan(run_forward(losses::log_cosh{}, be, p, t)));
    CHECK(std::isnan(run_forward(losses::linf{}, be, p, t)));
}

TEST_CASE_TEMPLATE("pointwise losses: mask_multiply and its backward match the reference", T, float, double) {
    hg::cpu_backend<T> be(2);
    std::uint64_t seed = 700;
    for (const shape& s : loss_shapes) {
        for (const bool broadcast : {true, false}) {
            for (const auto& [scale, offset] : {std::pair{1.f, 0.f}, std::pair{0.6f, 0.4f}}) {
                CAPTURE(s);
                CAPTURE(broadcast);
                CAPTURE(scale);
                const shape ms = broadcast ? shape{s.n(), s.h(), s.w(), 1} : s;
                const auto x = random_tensor<T>(s, ++seed, 0.0, 1.0);
                const auto m = random_tensor<T>(ms, ++seed, 0.0, 1.0);
                auto out = hg::test::poisoned<T>(s);
                hg::ops::mask_multiply(be, x, m, out, scale, offset);
                const auto want = hg::ref::mask_multiply(x, m, static_cast<T>(scale), static_cast<T>(offset));
                HG_CHECK_CLOSE(out, want, hg::test::tolerance<T>);
                // Backward accumulates dy * w into a random dx.
                const auto dy = random_tensor<T>(s, ++seed);
                const auto start = random_tensor<T>(s, ++seed);
                auto dx = start.clone();
                hg::ops::mask_multiply_backward(be, dy, m, dx, scale, offset);
                const auto dyw = hg::ref::mask_multiply(dy, m, static_cast<T>(scale), static_cast<T>(offset));
                HG_CHECK_CLOSE(dx, hg::ref::add(hg::test::D(start), dyw), hg::test::tolerance<T>);
                // In place.
                auto y = x.clone();
                hg::ops::mask_multiply(be, y, m, y, scale, offset);
                HG_CHECK_CLOSE(y, want, hg::test::tolerance<T>);
            }
        }
    }
}

TEST_CASE_TEMPLATE("pointwise losses: composite is the weighted sum of its terms", T, float, double) {
    hg::cpu_backend<T> be(2);
    const shape s{2, 6, 5, 3};
    const auto p = random_tensor<T>(s, 801, 0.0, 1.0);
    const auto t = random_tensor<T>(s, 802, 0.0, 1.0);
    losses::composite<hg::cpu_backend<T>> loss;
    loss.add(losses::mae{}, 0.5).add(losses::mse{}, 2.0, "l2").add(losses::linf{}, 0.25);
    CHECK(loss.size() == 3);
    const double mae = hg::ref::pointwise_value(hg::ref::mae_ref(), p, t);
    const double mse = hg::ref::pointwise_value(hg::ref::mse_ref(), p, t);
    const double linf = hg::ref::linf_value(p, t);
    CHECK(close(static_cast<double>(run_forward(loss, be, p, t)), 0.5 * mae + 2.0 * mse + 0.25 * linf, loss_tol<T>));
    const auto v = loss.values(be);
    REQUIRE(v.size() == 3);
    CHECK(v[0].label == "mae");
    CHECK(v[1].label == "l2");
    CHECK(v[2].label == "linf");
    CHECK(v[1].weight == 2.0);
    CHECK(close(v[0].value, mae, loss_tol<T>));
    CHECK(close(v[1].value, mse, loss_tol<T>));
    CHECK(close(v[2].value, linf, loss_tol<T>));
    const double weight = 1.5 * static_cast<double>(s.numel());
    const auto g = run_backward(loss, be, p, t, weight, 803);
    auto want = scaled(hg::ref::pointwise_grad(hg::ref::mae_ref(), p, t), 0.5 * weight);
    want = hg::ref::add(want, scaled(hg::ref::pointwise_grad(hg::ref::mse_ref(), p, t), 2.0 * weight));
    want = hg::ref::add(want, scaled(hg::ref::linf_grad(p, t), 0.25 * weight));
    HG_CHECK_CLOSE(g, want, loss_tol<T>);
    // A composite nests inside another one.
    losses::composite<hg::cpu_backend<T>> outer;
    outer.add(loss, 2.0, "inner").add(losses::log_cosh{}, 1.0);
    const double lc = hg::ref::pointwise_value(hg::ref::log_cosh_ref(), p, t);
    CHECK(close(static_cast<double>(run_forward(outer, be, p, t)), 2.0 * (0.5 * mae + 2.0 * mse + 0.25 * linf) + lc,
                loss_tol<T>));
}

namespace {

/// Naive face-mask weighting of a pointwise reference: value and dL/dpred.
struct face_mask_ref {
    double value = 0.0;
    hg::basic_tensor<double> grad;
};

template <class T>
face_mask_ref face_mask_reference(const hg::ref::pointwise_ref& f, const hg::basic_tensor<T>& p,
                                  const hg::basic_tensor<T>& t, const hg::losses::face_masks<T>& masks,
                                  const hg::losses::face_mask_options& o) {
    face_mask_ref r;
    r.grad = hg::basic_tensor<double>::zeros(p.shape());
    auto term = [&](const hg::basic_tensor<T>& m, double scale, double offset, double c) {
        const auto pm = hg::ref::mask_multiply(p, m, scale, offset);
        const auto tm = hg::ref::mask_multiply(t, m, scale, offset);
        r.value += c * hg::ref::pointwise_value(f, pm, tm);
        const auto g = hg::ref::pointwise_grad(f, pm, tm);
        // d/dpred of f(pred * w): w * f'(pred * w).
        auto ones = hg::basic_tensor<double>::full(p.shape(), 1.0);
        const auto w = hg::ref::mask_multiply(ones, hg::test::D(m), scale, offset);
        for (std::int64_t i = 0; i < g.numel(); ++i) r.grad[i] += c * w[i] * g[i];
    };
    const double prop = static_cast<double>(static_cast<float>(o.mask_prop));
    term(masks.face, prop, static_cast<double>(1.f - static_cast<float>(o.mask_prop)), 1.0);
    if (o.eye_multiplier > 1.0) term(masks.eye, 1.0, 0.0, o.eye_multiplier);
    if (o.mouth_multiplier > 1.0) term(masks.mouth, 1.0, 0.0, o.mouth_multiplier);
    return r;
}

template <class T>
hg::losses::face_masks<T> random_masks(const shape& s, std::uint64_t seed) {
    const shape ms{s.n(), s.h(), s.w(), 1};
    return {random_tensor<T>(ms, seed, 0.0, 1.0), random_tensor<T>(ms, seed + 1, 0.0, 1.0),
            random_tensor<T>(ms, seed + 2, 0.0, 1.0)};
}

template <class T, class L>
void check_face_mask(const L& inner, const hg::ref::pointwise_ref& f, const hg::losses::face_mask_options& o,
                     std::size_t expected_terms) {
    using B = hg::cpu_backend<T>;
    B be(2);
    std::uint64_t seed = 900;
    for (const shape& s : loss_shapes) {
        CAPTURE(s);
        CAPTURE(o.eye_multiplier);
        CAPTURE(o.mouth_multiplier);
        CAPTURE(o.mask_prop);
        const auto p = random_tensor<T>(s, ++seed, 0.0, 1.0);
        const auto t = random_tensor<T>(s, ++seed, 0.0, 1.0);
        const auto masks = random_masks<T>(s, seed += 3);
        const auto loss = losses::make_face_mask<B>(inner, o);
        const auto want = face_mask_reference(f, p, t, masks, o);
        auto value = hg::test::poisoned<T>(shape{1});
        loss.forward(be, p, t, masks, value);
        CHECK(close(static_cast<double>(value[0]), want.value, loss_tol<T>));
        const auto v = loss.values(be);
        CHECK(v.size() == expected_terms);
        double sum = 0.0;
        for (const auto& e : v) sum += e.weight * e.value;
        CHECK(close(sum, want.value, loss_tol<T>));
        const double weight = 0.5 * static_cast<double>(s.numel());
        const auto start = random_tensor<T>(s, ++seed);
        auto dpred = start.clone();
        loss.backward(be, p, t, masks, weight, dpred);
        auto got = hg::basic_tensor<double>::empty(s);
        for (std::int64_t i = 0; i < s.numel(); ++i) got[i] = static_cast<double>(dpred[i]) - static_cast<double>(start[i]);
        HG_CHECK_CLOSE(got, scaled(want.grad, weight), loss_tol<T>);
    }
}

}  // namespace

TEST_CASE_TEMPLATE("pointwise losses: face_mask weighting matches the reference", T, float, double) {
    // Defaults (eye 3, mouth 2, mask_prop 1): three terms.
    check_face_mask<T>(losses::mse{}, hg::ref::mse_ref(), {}, 3);
    check_face_mask<T>(losses::mae{}, hg::ref::mae_ref(), {}, 3);
    check_face_mask<T>(losses::log_cosh{}, hg::ref::log_cosh_ref(), {2.5, 1.5, 0.7}, 3);
    // A multiplier of 1 or below adds no term (faceswap adds a section only above 1).
    check_face_mask<T>(losses::mse{}, hg::ref::mse_ref(), {1.0, 4.0, 0.5}, 2);
    check_face_mask<T>(losses::mae{}, hg::ref::mae_ref(), {0.0, 0.5, 0.0}, 1);
}

TEST_CASE("pointwise losses: face_mask without eye and mouth terms needs no eye or mouth mask, labels") {
    hg::cpu be(1);
    const shape s{2, 4, 4, 3};
    const auto p = random_tensor<float>(s, 1, 0.0, 1.0);
    const auto t = random_tensor<float>(s, 2, 0.0, 1.0);
    const auto loss = losses::make_face_mask<hg::cpu>(losses::mse{}, {1.0, 1.0, 1.0});
    CHECK(loss.name() == "face_mask(mse)");
    hg::losses::face_masks<float> masks;
    masks.face = hg::tensor::full(shape{2, 4, 4, 1}, 1.f);
    auto value = hg::test::poisoned<float>(shape{1});
    loss.forward(be, p, t, masks, value);
    // An all-ones face mask leaves the plain loss.
    CHECK(close(static_cast<double>(value[0]), hg::ref::pointwise_value(hg::ref::mse_ref(), p, t), 1e-6));
    const auto v = loss.values(be);
    REQUIRE(v.size() == 1);
    CHECK(v[0].label == "face");
    const auto full = losses::make_face_mask<hg::cpu>(losses::mae{});
    const auto all = random_masks<float>(s, 3);
    full.forward(be, p, t, all, value);
    const auto w = full.values(be);
    REQUIRE(w.size() == 3);
    CHECK(w[0].label == "face");
    CHECK(w[1].label == "eye");
    CHECK(w[1].weight == 3.0);
    CHECK(w[2].label == "mouth");
    CHECK(w[2].weight == 2.0);
}

TEST_CASE("pointwise losses: face_mask wraps a composite") {
    hg::cpu64 be(1);
    const shape s{2, 5, 3, 3};
    const auto p = random_tensor<double>(s, 11, 0.0, 1.0);
    const auto t = random_tensor<double>(s, 12, 0.0, 1.0);
    const auto masks = random_masks<double>(s, 13);
    losses::composite<hg::cpu64> inner;
    inner.add(losses::mae{}, 0.3).add(losses::mse{}, 0.7);
    const auto loss = losses::make_face_mask<hg::cpu64>(inner);
    const hg::losses::face_mask_options o;
    const auto a = face_mask_reference(hg::ref::mae_ref(), p, t, masks, o);
    const auto b = face_mask_reference(hg::ref::mse_ref(), p, t, masks, o);
    auto value = hg::test::poisoned<double>(shape{1});
    loss.forward(be, p, t, masks, value);
    CHECK(close(value[0], 0.3 * a.value + 0.7 * b.value, 1e-12));
    auto dpred = hg::basic_tensor<double>::zeros(s);
    loss.backward(be, p, t, masks, 1.0, dpred);
    HG_CHECK_CLOSE(dpred, hg::ref::add(scaled(a.grad, 0.3), scaled(b.grad, 0.7)), 1e-12);
}

TEST_CASE_TEMPLATE("pointwise losses: mask_loss is the MSE of [N, H, W, 1] masks, named 'mask'", T, float, double) {
    hg::cpu_backend<T> be(1);
    const losses::mask_loss loss;
    CHECK(loss.name() == "mask");
    const shape s{3, 7, 5, 1};
    const auto p = random_tensor<T>(s, 21, 0.0, 1.0);
    const auto t = random_tensor<T>(s, 22, 0.0, 1.0);
    CHECK(close(static_cast<double>(run_forward(loss, be, p, t)), hg::ref::pointwise_value(hg::ref::mse_ref(), p, t),
                loss_tol<T>));
    const auto g = run_backward(loss, be, p, t, 100.0, 23);
    HG_CHECK_CLOSE(g, scaled(hg::ref::pointwise_grad(hg::ref::mse_ref(), p, t), 100.0), loss_tol<T>);
}

TEST_CASE("pointwise losses: mismatched or malformed shapes throw shape_error naming the loss") {
    hg::cpu be(1);
    const auto p = random_tensor<float>(shape{2, 4, 4, 3}, 1, 0.0, 1.0);
    const auto t = random_tensor<float>(shape{2, 4, 4, 3}, 2, 0.0, 1.0);
    const auto other = random_tensor<float>(shape{2, 4, 5, 3}, 3, 0.0, 1.0);
    auto value = hg::tensor::zeros(shape{1});
    auto dpred = hg::tensor::zeros(p.shape());
    auto check_loss = [&](const auto& loss, const hg::tensor& a, const hg::tensor& b, const hg::tensor& bad) {
        const std::string n = loss.name();
        CAPTURE(n);
        const shape s = a.shape();
        std::string msg = message_of<hg::shape_error>([&] { loss.forward(be, a, bad, value); });
        CHECK(contains(msg, n + ":"));
        CHECK(contains(msg, bad.shape().str()));
        msg = message_of<hg::shape_error>([&] { loss.backward(be, bad, a, 1.0, dpred); });
        CHECK(contains(msg, n + ":"));
        msg = message_of<hg::shape_error>([&] { loss.forward(be, a, b, hg::tensor::zeros(shape{2})); });
        CHECK(contains(msg, n + ":"));
        msg = message_of<hg::shape_error>(
            [&] { loss.backward(be, a, b, 1.0, hg::tensor::zeros(shape{s.n(), s.h(), s.w(), 2})); });
        CHECK(contains(msg, n + ":"));
        msg = message_of<hg::shape_error>(
            [&] { loss.forward(be, a.view(shape{s.n(), s.per_sample()}), b.view(shape{s.n(), s.per_sample()}), value); });
        CHECK(contains(msg, n + ":"));
        msg = message_of<hg::value_error>([&] {
            auto g = hg::tensor::zeros(s);
            loss.backward(be, a, b, std::numeric_limits<double>::quiet_NaN(), g);
        });
        CHECK(contains(msg, n + ":"));
        CHECK(contains(msg, "weight"));
    };
    check_loss(losses::mae{}, p, t, other);
    check_loss(losses::mse{}, p, t, other);
    check_loss(losses::log_cosh{}, p, t, other);
    check_loss(losses::charbonnier{}, p, t, other);
    check_loss(losses::linf{}, p, t, other);
    const auto m1 = random_tensor<float>(shape{2, 4, 4, 1}, 4, 0.0, 1.0);
    const auto m2 = random_tensor<float>(shape{2, 4, 4, 1}, 5, 0.0, 1.0);
    check_loss(losses::mask_loss{}, m1, m2, hg::tensor::zeros(shape{2, 4, 5, 1}));
    // The mask loss takes single-channel masks only.
    const std::string msg = message_of<hg::shape_error>([&] { losses::mask_loss{}.forward(be, p, t, value); });
    CHECK(contains(msg, "mask: the predicted mask must have 1 channel"));
    CHECK_NOTHROW(losses::mask_loss{}.forward(be, m1, m2, value));
}

TEST_CASE("pointwise losses: bad charbonnier hyperparameters throw value_error naming the loss and parameter") {
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    for (const double beta : {0.0, -1.0, nan, inf}) {
        CAPTURE(beta);
        const std::string msg = message_of<hg::value_error>([&] { losses::charbonnier(1.0, beta); });
        CHECK(contains(msg, "charbonnier: beta"));
    }
    for (const double alpha : {0.0, 2.0, nan, inf, -inf}) {
        CAPTURE(alpha);
        const std::string msg = message_of<hg::value_error>([&] { losses::charbonnier(alpha, 0.1); });
        CHECK(contains(msg, "charbonnier: alpha"));
    }
    CHECK_NOTHROW(losses::charbonnier(-2.0, 0.1));
    CHECK_NOTHROW(losses::charbonnier(1.9999, 1e-3));
}

TEST_CASE("pointwise losses: a mask of the wrong size throws shape_error") {
    hg::cpu be(1);
    const auto x = random_tensor<float>(shape{2, 4, 4, 3}, 1, 0.0, 1.0);
    auto out = hg::tensor::zeros(x.shape());
    for (const shape& bad : {shape{2, 4, 4, 2}, shape{1, 4, 4, 1}, shape{2, 4, 5, 1}, shape{2, 16, 3}}) {
        CAPTURE(bad);
        const auto m = hg::tensor::zeros(bad);
        std::string msg = message_of<hg::shape_error>([&] { hg::ops::mask_multiply(be, x, m, out); });
        CHECK(contains(msg, "mask_multiply: the mask has shape " + bad.str()));
        CHECK(contains(msg, "[2, 4, 4, 1]"));
        msg = message_of<hg::shape_error>([&] { hg::ops::mask_multiply_backward(be, x, m, out); });
        CHECK(contains(msg, "mask_multiply_backward: the mask has shape"));
    }
    CHECK_THROWS_AS(hg::ops::mask_multiply(be, x, hg::tensor(), out), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::mask_multiply(be, x, hg::tensor::zeros(shape{2, 4, 4, 1}), hg::tensor::zeros(shape{2, 4, 4, 1})),
                    hg::shape_error);
    CHECK_THROWS_AS(hg::ops::mask_multiply(be, x, hg::tensor::zeros(shape{2, 4, 4, 1}), out,
                                           std::numeric_limits<float>::infinity()),
                    hg::value_error);

    // The face-mask loss: a missing or misshapen mask names the loss and the mask.
    const auto t = random_tensor<float>(x.shape(), 2, 0.0, 1.0);
    auto value = hg::tensor::zeros(shape{1});
    const auto loss = losses::make_face_mask<hg::cpu>(losses::mae{});
    auto masks = random_masks<float>(x.shape(), 5);
    masks.eye = hg::tensor();
    std::string msg = message_of<hg::shape_error>([&] { loss.forward(be, x, t, masks, value); });
    CHECK(contains(msg, "face_mask(mae): the eye mask is an empty tensor"));
    masks = random_masks<float>(x.shape(), 5);
    masks.mouth = hg::tensor::zeros(shape{2, 4, 4, 3});
    msg = message_of<hg::shape_error>([&] { loss.backward(be, x, t, masks, 1.0, out); });
    CHECK(contains(msg, "face_mask(mae): the mouth mask has shape [2, 4, 4, 3], expected [2, 4, 4, 1]"));
    masks = random_masks<float>(x.shape(), 5);
    masks.face = hg::tensor::zeros(shape{1, 4, 4, 1});
    msg = message_of<hg::shape_error>([&] { loss.forward(be, x, t, masks, value); });
    CHECK(contains(msg, "face_mask(mae): the face mask has shape [1, 4, 4, 1]"));
}

TEST_CASE("pointwise losses: bad face_mask options, composite misuse") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    CHECK(contains(message_of<hg::value_error>([&] { losses::make_face_mask<hg::cpu>(losses::mse{}, {nan, 2.0, 1.0}); }),
                   "face_mask(mse): eye_multiplier"));
    CHECK(contains(message_of<hg::value_error>([&] { losses::make_face_mask<hg::cpu>(losses::mse{}, {3.0, -1.0, 1.0}); }),
                   "face_mask(mse): mouth_multiplier"));
    CHECK(contains(message_of<hg::value_error>([&] { losses::make_face_mask<hg::cpu>(losses::mse{}, {3.0, 2.0, 1.5}); }),
                   "face_mask(mse): mask_prop"));
    CHECK(contains(message_of<hg::value_error>([&] { losses::make_face_mask<hg::cpu>(losses::mse{}, {3.0, 2.0, nan}); }),
                   "face_mask(mse): mask_prop"));

    hg::cpu be(1);
    const auto p = random_tensor<float>(shape{1, 3, 3, 3}, 1, 0.0, 1.0);
    auto value = hg::tensor::zeros(shape{1});
    losses::composite<hg::cpu> empty;
    CHECK(contains(message_of<hg::value_error>([&] { empty.forward(be, p, p, value); }), "composite: no terms"));
    CHECK(contains(message_of<hg::value_error>([&] { empty.add(losses::mae{}, nan); }),
                   "composite: the weight of term 'mae' is not finite"));
    losses::composite<hg::cpu> one;
    one.add(losses::mae{});
    CHECK(contains(message_of<hg::value_error>([&] { one.values(be); }), "composite: values() needs a forward()"));
    CHECK(contains(message_of<hg::shape_error>([&] { one.forward(be, p, p.view(shape{1, 3, 9, 1}), value); }),
                   "composite:"));
}
