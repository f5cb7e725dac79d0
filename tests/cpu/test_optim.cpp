// The optimizers on the CPU: every update rule against an independent scalar reference (plain double
// loops of the published formulas, bias corrections included) over several steps; weight decay
// skipping biases; gradient clipping (global norm, per tensor, value, AutoClip and its percentile);
// the non-finite guard; learning-rate schedules; LR dropout; gradient accumulation; state
// save/load (exact resume, corrupt and mismatched streams); changing the learning rate in flight;
// hyperparameter checks; and a small conv autoencoder whose loss halves under Adam.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "hourglass/hourglass.hpp"
#include "hourglass/losses/pointwise.hpp"
#include "hourglass/optim/optimizer.hpp"
#include "support/test_support.hpp"

namespace {

using hg::optim::optim_rule;

/// A layout with two weight tensors and a bias between them (sizes not multiples of 16, so the
/// buffer has padding): [5, 3] weights, [5] bias, [7, 3, 3, 2] weights.
hg::param_layout small_layout() {
    hg::param_layout layout;
    layout.add("net/0.w", hg::shape{5, 3}, hg::initializer::glorot_uniform, 3, 5);
    layout.add("net/0.b", hg::shape{5}, hg::initializer::zeros);
    layout.add("net/1.w", hg::shape{7, 3, 3, 2}, hg::initializer::he_uniform, 18, 7);
    return layout;
}

/// Sets every bias to a non-zero value (biases start at 0, which would hide decay on them).
void randomize_biases(const hg::parameters<hg::cpu>& p, std::uint64_t seed) {
    for (std::size_t i = 0; i < p.size(); ++i)
        if (!p.entry(i).decays_by_default()) hg::test::fill_random(p.value(i), seed + i, -0.5, 0.5);
}

/// Writes the gradient of step `step` into every tensor (padding left at 0); returns it flat.
std::vector<double> write_grads(const hg::parameters<hg::cpu>& p, std::uint64_t seed, int step, double scale = 1.0) {
    std::vector<double> g(static_cast<std::size_t>(p.values().numel()), 0.0);
    for (std::size_t i = 0; i < p.size(); ++i) {
        const auto t = p.grad(i);
        hg::test::fill_random(t, seed * 1000 + static_cast<std::uint64_t>(step) * 10 + i, -scale, scale);
        for (std::int64_t j = 0; j < t.numel(); ++j) g[static_cast<std::size_t>(p.entry(i).offset + j)] = t[j];
    }
    return g;
}

std::vector<bool> decay_flags(const hg::parameters<hg::cpu>& p) {
    std::vector<bool> d(static_cast<std::size_t>(p.values().numel()), false);
    for (std::size_t i = 0; i < p.size(); ++i)
        if (p.entry(i).decays_by_default())
            for (std::int64_t j = 0; j < p.entry(i).shape.numel(); ++j) d[static_cast<std::size_t>(p.entry(i).offset + j)] = true;
    return d;
}

/// The reference: each rule's published update in double, one element at a time.
struct reference {
    hg::optim::config c;
    std::vector<double> w, m, v, b;
    std::vector<bool> decay;
    double mu_product = 1.0;
    int t = 0;

    reference(const hg::optim::config& cfg, const hg::tensor& values, std::vector<bool> d)
        : c(cfg), w(values.numel()), m(values.numel(), 0.0), v(values.numel(), 0.0), b(values.numel(), 0.0),
          decay(std::move(d)) {
        for (std::int64_t i = 0; i < values.numel(); ++i) w[static_cast<std::size_t>(i)] = values[i];
    }

    void step(const std::vector<double>& grad, double lr) {
        ++t;
        const double b1 = c.beta1, b2 = c.beta2, eps = c.eps, td = t;
        const double bc1 = 1 - std::pow(b1, td), bc2 = 1 - std::pow(b2, td);
        // NAdam's momentum schedule (Dozat; PyTorch): mu_t = b1 (1 - 0.5 * 0.96^(t * 0.004)).
        const double mu = b1 * (1 - 0.5 * std::pow(0.96, td * 0.004));
        const double mu_next = b1 * (1 - 0.5 * std::pow(0.96, (td + 1) * 0.004));
        if (c.rule == optim_rule::nadam) mu_product *= mu;
        for (std::size_t i = 0; i < w.size(); ++i) {
            const double wd = decay[i] ? c.weight_decay : 0.0;
            double g = grad[i];
            double& W = w[i];
            switch (c.rule) {
                case optim_rule::sgd:
                    g += wd * W;
                    if (c.momentum > 0) {
                        b[i] = c.momentum * b[i] + g;
                        g = c.nesterov ? g + c.momentum * b[i] : b[i];
                    }
                    W -= lr * g;
                    break;
                case optim_rule::adam:
                case optim_rule::adamw: {
                    if (c.rule == optim_rule::adam) g += wd * W;
                    if (c.rule == optim_rule::adamw) W -= lr * wd * W;
                    m[i] = b1 * m[i] + (1 - b1) * g;
                    v[i] = b2 * v[i] + (1 - b2) * g * g;
                    if (c.epsilon_hat)  // Keras: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t); w -= lr_t m / (sqrt(v) + eps)
                        W -= lr * std::sqrt(bc2) / bc1 * m[i] / (std::sqrt(v[i]) + eps);
                    else  // Kingma & Ba: m^ = m / (1 - b1^t), v^ = v / (1 - b2^t); w -= lr m^ / (sqrt(v^) + eps)
                        W -= lr * (m[i] / bc1) / (std::sqrt(v[i] / bc2) + eps);
                    break;
                }
                case optim_rule::adabelief: {
                    W -= lr * wd * W;
                    m[i] = b1 * m[i] + (1 - b1) * g;
                    const double r = g - m[i];
                    if (!c.bias_correction) {  // DeepFaceLab: no bias correction, eps only in the denominator
                        v[i] = b2 * v[i] + (1 - b2) * r * r;
                        W -= lr * m[i] / (std::sqrt(v[i]) + eps);
                        break;
                    }
                    v[i] = b2 * v[i] + (1 - b2) * r * r + eps;
                    if (c.rectify) {
                        const double rho_inf = 2 / (1 - b2) - 1;
                        const double rho = rho_inf - 2 * td * std::pow(b2, td) / bc2;
                        if (rho >= 5) {
                            const double rect = std::sqrt((1 - std::pow(b2, td)) * (rho - 4) / (rho_inf - 4) * (rho - 2) /
                                                          rho * rho_inf / (rho_inf - 2));
                            W -= lr * rect / bc1 * m[i] / (std::sqrt(v[i]) + eps);
                        } else {
                            W -= lr / bc1 * m[i];
                        }
                    } else {
                        W -= lr / bc1 * m[i] / (std::sqrt(v[i] / bc2) + eps);
                    }
                    break;
                }
                case optim_rule::rmsprop: {
                    g += wd * W;
                    v[i] = b2 * v[i] + (1 - b2) * g * g;
                    double q = g / (std::sqrt(v[i]) + eps);
                    if (c.momentum > 0) {
                        b[i] = c.momentum * b[i] + q;
                        q = b[i];
                    }
                    W -= lr * q;
                    break;
                }
                case optim_rule::lion: {
                    const double u = b1 * m[i] + (1 - b1) * g;
                    W -= lr * ((u > 0 ? 1.0 : u < 0 ? -1.0 : 0.0) + wd * W);
                    m[i] = b2 * m[i] + (1 - b2) * g;
                    break;
                }
                case optim_rule::nadam: {
                    g += wd * W;
                    m[i] = b1 * m[i] + (1 - b1) * g;
                    v[i] = b2 * v[i] + (1 - b2) * g * g;
                    const double denom = std::sqrt(v[i] / bc2) + eps;
                    W -= lr * (1 - mu) / (1 - mu_product) * g / denom;
                    W -= lr * mu_next / (1 - mu_product * mu_next) * m[i] / denom;
                    break;
                }
                case optim_rule::adamax: {
                    g += wd * W;
                    m[i] = b1 * m[i] + (1 - b1) * g;
                    v[i] = std::max(b2 * v[i], std::abs(g) + eps);
                    W -= lr / bc1 * m[i] / v[i];
                    break;
                }
            }
        }
    }
};

/// ||(a - w0) - (b - w0)|| / ||b - w0||: the error of the total parameter change.
double change_error(const hg::tensor& got, const std::vector<double>& want, const hg::tensor& start) {
    double num = 0, den = 0;
    for (std::int64_t i = 0; i < got.numel(); ++i) {
        const double g = got[i], w = want[static_cast<std::size_t>(i)], s = start[i];
        if (!std::isfinite(g)) return INFINITY;
        num += (g - w) * (g - w);
        den += (w - s) * (w - s);
    }
    return std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
}

/// w_after - w_before equals `expected` up to the rounding of w itself (float32: the difference of
/// two floats near |w| carries an error of up to an ulp of |w|) and 1e-5 of the step.
void check_step(float after, float before, double expected) {
    const double ulp = std::ldexp(1.0, -23) * std::max({1.0, std::abs(static_cast<double>(after)), std::abs(static_cast<double>(before))});
    CHECK(std::abs((static_cast<double>(after) - before) - expected) <= ulp + 1e-5 * std::abs(expected));
}

/// Largest |got - want| over the buffer, NaN counting as infinite.
double max_error(const hg::tensor& got, const std::vector<double>& want) {
    double worst = 0;
    for (std::int64_t i = 0; i < got.numel(); ++i) {
        const double d = std::abs(static_cast<double>(got[i]) - want[static_cast<std::size_t>(i)]);
        worst = std::isfinite(d) ? std::max(worst, d) : INFINITY;
    }
    return worst;
}

struct named_config {
    const char* label;
    hg::optim::config c;
};

std::vector<named_config> every_rule() {
    using namespace hg::optim;
    std::vector<named_config> all;
    all.push_back({"sgd", sgd(0.05, 0.0)});
    all.push_back({"sgd momentum", sgd(0.05, 0.9)});
    auto nesterov = sgd(0.05, 0.9, true);
    nesterov.weight_decay = 0.01;
    all.push_back({"sgd nesterov + L2", nesterov});
    all.push_back({"adam (keras eps)", adam(1e-3)});
    auto paper = adam(1e-3);
    paper.epsilon_hat = false;
    paper.eps = 1e-3;  // large enough that its placement matters
    paper.weight_decay = 0.05;
    all.push_back({"adam (paper eps) + L2", paper});
    all.push_back({"adamw", adamw(1e-3, 0.1)});
    auto belief = adabelief(1e-3);
    belief.eps = 1e-8;
    all.push_back({"adabelief", belief});
    auto rect = adabelief(1e-3, true);
    rect.eps = 1e-8;
    rect.weight_decay = 0.1;
    all.push_back({"adabelief rectified + decay", rect});
    all.push_back({"adabelief deepfacelab", adabelief_deepfacelab(1e-3)});
    all.push_back({"rmsprop", rmsprop(1e-3)});
    auto rms = rmsprop(1e-3);
    rms.momentum = 0.5;
    rms.weight_decay = 0.01;
    all.push_back({"rmsprop momentum + L2", rms});
    auto li = lion(1e-3);
    li.weight_decay = 0.5;
    all.push_back({"lion + decay", li});
    all.push_back({"nadam", nadam()});
    all.push_back({"adamax", adamax()});
    return all;
}

hg::optim::settings with_rule(const hg::optim::config& c) {
    hg::optim::settings s;
    s.rule = c;
    return s;
}

}  // namespace

TEST_CASE("optim: every update rule matches its double-precision reference over 12 steps") {
    hg::cpu be(2);
    for (const auto& [label, c] : every_rule()) {
        const std::string rule = label;
        CAPTURE(rule);
        hg::parameters<hg::cpu> p(be, small_layout(), 5);
        randomize_biases(p, 77);
        const hg::tensor start = p.values().clone();
        hg::optim::optimizer<hg::cpu> opt(be, p, with_rule(c));
        reference ref(c, start, decay_flags(p));
        for (int step = 1; step <= 12; ++step) {
            // Gradients change scale between steps, so moments and bias corrections matter.
            const auto g = write_grads(p, 3, step, step % 3 == 0 ? 0.1 : 1.0);
            REQUIRE(opt.step() == hg::optim::step_result::applied);
            ref.step(g, c.lr);
        }
        CHECK(opt.steps() == 12);
        // The float32 parameters are rounded once per step (half an ulp of |w| <= ~2), and the rule's
        // own float arithmetic adds about 1e-7 of each step: 2 ulps of max(1, |w|) per step bound both.
        double largest = 1.0;
        for (double v : ref.w) largest = std::max(largest, std::abs(v));
        CHECK(max_error(p.values(), ref.w) <= 12 * 2 * std::ldexp(largest, -23));
        CHECK(change_error(p.values(), ref.w, start) < 1e-4);
        // Padding stays zero: it has zero gradients and zero values.
        CHECK(p.values()[15] == 0.f);
    }
}

TEST_CASE("optim: decoupled weight decay skips biases by default and follows a custom predicate") {
    hg::cpu be(1);
    hg::parameters<hg::cpu> p(be, small_layout(), 9);
    randomize_biases(p, 3);
    const hg::tensor start = p.values().clone();
    hg::optim::optimizer<hg::cpu> opt(be, p, with_rule(hg::optim::adamw(1e-2, 0.5)));
    // Zero gradients: Adam's part is 0, only the decay w -= lr wd w acts.
    REQUIRE(opt.step() == hg::optim::step_result::applied);
    const float shrink = 1.f - 1e-2f * 0.5f;
    for (std::size_t i = 0; i < p.size(); ++i) {
        const auto& e = p.entry(i);
        for (std::int64_t j = 0; j < e.shape.numel(); ++j) {
            const float before = start[e.offset + j], after = p.values()[e.offset + j];
            if (e.decays_by_default())
                CHECK(after == doctest::Approx(before * shrink).epsilon(1e-6));
            else
                CHECK(after == before);
        }
    }
    // Decay everything: the bias shrinks too.
    hg::parameters<hg::cpu> q(be, small_layout(), 9);
    randomize_biases(q, 3);
    const float bias_before = q.value(1)[0];
    hg::optim::optimizer<hg::cpu> all(be, q, with_rule(hg::optim::adamw(1e-2, 0.5)),
                                      [](const hg::param_entry&) { return true; });
    all.step();
    CHECK(q.value(1)[0] == doctest::Approx(bias_before * shrink).epsilon(1e-6));
    CHECK(all.decay().size() == 1);
    CHECK(opt.decay().size() == 2);
    // The named tensors, as checkpoints and groupings see them.
    CHECK(p.size() == 3);
    CHECK(p.index_of("net/0.b") == 1);
    CHECK_FALSE(p.entry(1).decays_by_default());
    CHECK(p.entry(2).padded_size() == 128);
    CHECK_THROWS_WITH_AS(p.index_of("net/9.w"), doctest::Contains("net/9.w"), hg::error);
}

TEST_CASE("optim: AutoClip's percentile interpolates like numpy and the history is a ring") {
    CHECK(hg::optim::percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 10) == doctest::Approx(1.9));
    CHECK(hg::optim::percentile({10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 50) == doctest::Approx(5.5));
    CHECK(hg::optim::percentile({3, 1, 2}, 100) == 3.0);
    CHECK(hg::optim::percentile({4}, 10) == 4.0);
    CHECK(hg::optim::percentile({0, 10}, 25) == doctest::Approx(2.5));
    CHECK_THROWS_AS(hg::optim::percentile({}, 10), hg::value_error);
    hg::optim::norm_history h(3);
    for (double v : {5.0, 1.0, 7.0, 2.0}) h.push(v);  // 5 is overwritten by 2
    CHECK(h.values().size() == 3);
    CHECK(h.percentile(100) == 7.0);
    CHECK(h.percentile(1e-9) == doctest::Approx(1.0));
    CHECK(h.percentile(50) == 2.0);
}

TEST_CASE("optim: AutoClip clips to the 10th percentile of the norms seen so far") {
    hg::cpu be(1);
    hg::parameters<hg::cpu> p(be, small_layout(), 1);
    auto s = with_rule(hg::optim::sgd(0.1, 0.0));
    s.clip = hg::optim::clip_config::autoclip();
    hg::optim::optimizer<hg::cpu> opt(be, p, s);
    std::vector<double> norms;
    for (int step = 1; step <= 30; ++step) {
        const double scale = 0.1 + 0.05 * ((step * 7) % 11);
        write_grads(p, 11, step, scale);
        // The reduction's result is a float (ops::reduce writes a float tensor).
        const double norm = static_cast<float>(hg::ops::detail::cpu_reduce(be, p.grads(), hg::ops::reduction::l2_norm));
        norms.push_back(norm);
        const hg::tensor before = p.values().clone();
        const hg::tensor g = p.grads().clone();
        REQUIRE(opt.step() == hg::optim::step_result::applied);
        const double threshold = hg::optim::percentile(norms, 10);
        const double factor = std::min(1.0, threshold / (norm + 1e-6));
        CHECK(opt.last_clip_factor() == doctest::Approx(factor).epsilon(1e-12));
        CHECK(opt.last_grad_norm() == norm);
        // Plain SGD: w changes by -lr * factor * g.
        for (std::int64_t i = 0; i < g.numel(); ++i) check_step(p.values()[i], before[i], -0.1 * factor * g[i]);
    }
    CHECK(opt.autoclip_history().values().size() == 30);
}

TEST_CASE("optim: global-norm, per-tensor-norm and value clipping") {
    hg::cpu be(1);
    const double lr = 0.5;
    SUBCASE("global norm") {
        hg::parameters<hg::cpu> p(be, small_layout(), 1);
        auto s = with_rule(hg::optim::sgd(lr, 0.0));
        s.clip = hg::optim::clip_config::global_norm(0.25);
        hg::optim::optimizer<hg::cpu> opt(be, p, s);
        write_grads(p, 2, 1);
        const double norm = hg::ops::detail::cpu_reduce(be, p.grads(), hg::ops::reduction::l2_norm);
        REQUIRE(norm > 1.0);
        const hg::tensor before = p.values().clone(), g = p.grads().clone();
        opt.step();
        const double f = 0.25 / (norm + 1e-6);
        double moved = 0;
        for (std::int64_t i = 0; i < g.numel(); ++i) {
            check_step(p.values()[i], before[i], -lr * f * g[i]);
            moved += (p.values()[i] - before[i]) * (p.values()[i] - before[i]);
        }
        CHECK(std::sqrt(moved) == doctest::Approx(lr * 0.25).epsilon(1e-4));
    }
    SUBCASE("per tensor") {
        hg::parameters<hg::cpu> p(be, small_layout(), 1);
        auto s = with_rule(hg::optim::sgd(lr, 0.0));
        s.clip = hg::optim::clip_config::per_tensor_norm(0.5);
        hg::optim::optimizer<hg::cpu> opt(be, p, s);
        write_grads(p, 2, 1);
        p.grad(1).fill(0.01f);  // the bias's norm (0.022) is below the limit: left alone
        std::vector<hg::tensor> before, grads;
        for (std::size_t i = 0; i < p.size(); ++i) {
            before.push_back(p.value(i).clone());
            grads.push_back(p.grad(i).clone());
        }
        opt.step();
        for (std::size_t i = 0; i < p.size(); ++i) {
            const double n = hg::ops::detail::cpu_reduce(be, grads[i], hg::ops::reduction::l2_norm);
            const double f = std::min(1.0, 0.5 / (n + 1e-6));
            if (i == 1) CHECK(f == 1.0);
            if (i != 1) CHECK(f < 1.0);
            for (std::int64_t j = 0; j < grads[i].numel(); ++j)
                check_step(p.value(i)[j], before[i][j], -lr * f * grads[i][j]);
        }
    }
    SUBCASE("value") {
        hg::parameters<hg::cpu> p(be, small_layout(), 1);
        auto s = with_rule(hg::optim::sgd(lr, 0.0));
        s.clip = hg::optim::clip_config::by_value(0.3);
        hg::optim::optimizer<hg::cpu> opt(be, p, s);
        write_grads(p, 2, 1);
        const hg::tensor before = p.values().clone(), g = p.grads().clone();
        opt.step();
        for (std::int64_t i = 0; i < g.numel(); ++i) {
            const double clipped = std::clamp(static_cast<double>(g[i]), -0.3, 0.3);
            check_step(p.values()[i], before[i], -lr * clipped);
        }
    }
}

TEST_CASE("optim: a non-finite gradient norm skips the step, counts it and clears the gradients") {
    hg::cpu be(1);
    for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
        CAPTURE(bad);
        hg::parameters<hg::cpu> p(be, small_layout(), 4);
        hg::optim::optimizer<hg::cpu> opt(be, p, with_rule(hg::optim::adam(1e-3)));
        const hg::tensor start = p.values().clone();
        write_grads(p, 6, 1);
        p.grad(2)[17] = bad;
        CHECK(opt.step() == hg::optim::step_result::skipped_non_finite);
        CHECK(opt.skipped_steps() == 1);
        CHECK(opt.steps() == 0);
        CHECK_FALSE(std::isfinite(opt.last_grad_norm()));
        CHECK(hg::test::max_abs_difference(p.values(), start) == 0.0);
        CHECK(hg::ops::detail::cpu_reduce(be, p.grads(), hg::ops::reduction::max_abs) == 0.0);
        CHECK(hg::ops::detail::cpu_reduce(be, opt.state(0), hg::ops::reduction::max_abs) == 0.0);
        // The next finite step is step 1, bit-identical to a fresh optimizer's first step.
        write_grads(p, 6, 2);
        REQUIRE(opt.step() == hg::optim::step_result::applied);
        hg::parameters<hg::cpu> fresh(be, small_layout(), 4);
        hg::optim::optimizer<hg::cpu> clean(be, fresh, with_rule(hg::optim::adam(1e-3)));
        write_grads(fresh, 6, 2);
        clean.step();
        CHECK(hg::test::max_abs_difference(p.values(), fresh.values()) == 0.0);
        CHECK(opt.steps() == 1);
    }
    // With the guard off the update goes through (and poisons the parameters).
    hg::parameters<hg::cpu> p(be, small_layout(), 4);
    auto s = with_rule(hg::optim::sgd(0.1, 0.0));
    s.skip_non_finite = false;
    hg::optim::optimizer<hg::cpu> opt(be, p, s);
    p.grad(0)[0] = std::numeric_limits<float>::quiet_NaN();
    CHECK(opt.step() == hg::optim::step_result::applied);
    CHECK(std::isnan(p.value(0)[0]));
}

TEST_CASE("optim: learning-rate schedules") {
    using hg::optim::lr_schedule;
    CHECK(lr_schedule::constant().factor(1) == 1.0);
    CHECK(lr_schedule::constant().factor(100000) == 1.0);
    const auto warm = lr_schedule::linear_warmup(4);
    CHECK(warm.factor(1) == 0.25);
    CHECK(warm.factor(3) == 0.75);
    CHECK(warm.factor(4) == 1.0);
    CHECK(warm.factor(50) == 1.0);
    const auto cos = lr_schedule::cosine(110, 0.1, 10);
    CHECK(cos.factor(5) == 0.5);
    CHECK(cos.factor(10) == 1.0);
    CHECK(cos.factor(60) == doctest::Approx(0.1 + 0.9 * 0.5));
    CHECK(cos.factor(110) == doctest::Approx(0.1));
    CHECK(cos.factor(500) == doctest::Approx(0.1));
    CHECK(cos.factor(35) == doctest::Approx(0.1 + 0.9 * 0.5 * (1 + std::cos(3.14159265358979 * 0.25))));
    const auto st = lr_schedule::step(10, 0.5);
    CHECK(st.factor(1) == 1.0);
    CHECK(st.factor(10) == 1.0);
    CHECK(st.factor(11) == 0.5);
    CHECK(st.factor(21) == 0.25);
    const auto cyc = lr_schedule::cyclic_cosine(8);
    CHECK(cyc.factor(1) == 1.0);
    CHECK(cyc.factor(5) == doctest::Approx(0.0).scale(1));
    CHECK(cyc.factor(3) == doctest::Approx(0.5));
    CHECK(cyc.factor(9) == 1.0);
    CHECK_THROWS_AS(lr_schedule::cosine(10, 0.0, 10).validate(), hg::value_error);
    CHECK_THROWS_AS(lr_schedule::step(0, 0.5).validate(), hg::value_error);
    CHECK_THROWS_AS(lr_schedule::step(5, 1.5).validate(), hg::value_error);

    // The optimizer applies it: plain SGD moves by lr * factor(t) * g.
    hg::cpu be(1);
    hg::parameters<hg::cpu> p(be, small_layout(), 1);
    auto s = with_rule(hg::optim::sgd(0.2, 0.0));
    s.schedule = lr_schedule::cosine(6, 0.0, 2);
    hg::optim::optimizer<hg::cpu> opt(be, p, s);
    for (int t = 1; t <= 7; ++t) {
        write_grads(p, 1, t);
        const hg::tensor before = p.values().clone(), g = p.grads().clone();
        opt.step();
        CHECK(opt.last_lr() == doctest::Approx(0.2 * s.schedule.factor(t)));
        for (std::int64_t i = 0; i < g.numel(); ++i) check_step(p.values()[i], before[i], -0.2 * s.schedule.factor(t) * g[i]);
    }
}

TEST_CASE("optim: LR dropout applies each element's update with probability p, the same mask as the counter RNG") {
    hg::cpu be(2);
    hg::param_layout layout;
    layout.add("big.w", hg::shape{200, 100}, hg::initializer::glorot_uniform, 100, 200);
    hg::parameters<hg::cpu> p(be, layout, 2);
    auto c = hg::optim::adabelief_deepfacelab(1e-3, 0.3);
    c.seed = 1234;
    hg::optim::optimizer<hg::cpu> opt(be, p, with_rule(c));
    for (int step = 1; step <= 2; ++step) {
        const hg::tensor before = p.values().clone();
        hg::test::fill_random(p.grads(), 40 + static_cast<std::uint64_t>(step));
        opt.step();
        std::int64_t moved = 0, mismatched = 0;
        hg::math::optim_coeffs k;
        k.seed = 1234;
        k.stream = static_cast<std::uint64_t>(step);
        k.keep_prob = 0.3f;
        for (std::int64_t i = 0; i < before.numel(); ++i) {
            const bool changed = p.values()[i] != before[i];
            moved += changed;
            mismatched += changed != hg::math::lr_dropout_keep(k, static_cast<std::uint64_t>(i));
        }
        CHECK(mismatched == 0);
        CHECK(static_cast<double>(moved) / 20000.0 == doctest::Approx(0.3).epsilon(0.05));
    }
    // The moments are updated everywhere, dropped or not.
    CHECK(hg::test::all_finite(opt.state(0)));
    std::int64_t zero_moments = 0;
    for (std::int64_t i = 0; i < 20000; ++i) zero_moments += opt.state(0)[i] == 0.f;
    CHECK(zero_moments == 0);
}

TEST_CASE("optim: accumulating micro-batches equals one step on their mean gradient") {
    hg::cpu be(1);
    hg::parameters<hg::cpu> a(be, small_layout(), 8), b(be, small_layout(), 8);
    auto s = with_rule(hg::optim::adam(1e-2));
    s.clip = hg::optim::clip_config::global_norm(0.5);
    auto sa = s;
    sa.accumulation = 3;
    hg::optim::optimizer<hg::cpu> acc(be, a, sa), one(be, b, s);
    for (int step = 1; step <= 3; ++step) {
        std::vector<hg::tensor> micro;
        for (int k = 0; k < 3; ++k) micro.push_back(hg::test::random_tensor<float>(a.grads().shape(), 100 * step + k));
        for (int k = 0; k < 3; ++k) {
            // backward adds into the gradients; the optimizer counts the micro-batch.
            hg::ops::axpy(be, 1.f, micro[static_cast<std::size_t>(k)], a.grads());
            const auto r = acc.step();
            CHECK(r == (k < 2 ? hg::optim::step_result::accumulating : hg::optim::step_result::applied));
            CHECK(acc.pending_micro_batches() == (k + 1) % 3);
        }
        for (std::int64_t i = 0; i < b.grads().numel(); ++i)
            b.grads()[i] = static_cast<float>((static_cast<double>(micro[0][i]) + micro[1][i] + micro[2][i]) / 3.0);
        one.step();
        CHECK(acc.last_clip_factor() == doctest::Approx(one.last_clip_factor()).epsilon(1e-6));
        CHECK(acc.last_clip_factor() < 1.0);
    }
    CHECK(acc.steps() == 3);
    CHECK(hg::test::relative_error(a.values(), b.values()) < 1e-6);
}

namespace {

/// Runs `steps` updates of synthetic gradients (step-dependent, one of them NaN) on p.
void run_steps(hg::optim::optimizer<hg::cpu>& opt, const hg::parameters<hg::cpu>& p, int first, int last) {
    for (int step = first; step <= last; ++step) {
        for (int micro = 0; micro < 2; ++micro) {
            write_grads(p, 50 + static_cast<std::uint64_t>(micro), step, 0.2 + 0.1 * (step % 4));
            if (step == 4 && micro == 1) p.grad(0)[2] = std::numeric_limits<float>::quiet_NaN();
            opt.step();
        }
    }
}

hg::optim::settings resume_settings(const hg::optim::config& c) {
    hg::optim::settings s;
    s.rule = c;
    s.rule.lr_dropout = 0.5;
    s.rule.seed = 99;
    s.clip = hg::optim::clip_config::autoclip(25, 5);
    s.schedule = hg::optim::lr_schedule::cosine(30, 0.1, 3);
    s.accumulation = 2;
    return s;
}

}  // namespace

TEST_CASE("optim: save/load resumes bit-identically for every rule") {
    hg::cpu be(2);
    for (const auto& [label, c] : every_rule()) {
        const std::string rule = label;
        CAPTURE(rule);
        const auto s = resume_settings(c);
        hg::parameters<hg::cpu> straight(be, small_layout(), 21);
        hg::optim::optimizer<hg::cpu> a(be, straight, s);
        run_steps(a, straight, 1, 16);

        hg::parameters<hg::cpu> first(be, small_layout(), 21);
        hg::optim::optimizer<hg::cpu> b(be, first, s);
        run_steps(b, first, 1, 8);
        std::stringstream stream;
        b.save(stream);
        // A new optimizer on a new model holding the saved values (what a checkpoint restores).
        hg::parameters<hg::cpu> second(be, small_layout(), 777);
        hg::ops::copy(be, first.values(), second.values());
        hg::optim::optimizer<hg::cpu> resumed(be, second, s);
        resumed.load(stream);
        CHECK(resumed.steps() == b.steps());
        CHECK(resumed.skipped_steps() == 1);
        run_steps(resumed, second, 9, 16);
        CHECK(resumed.steps() == a.steps());
        CHECK(hg::test::max_abs_difference(second.values(), straight.values()) == 0.0);
        CHECK(std::memcmp(second.values().data(), straight.values().data(), straight.values().bytes()) == 0);
        CHECK(resumed.autoclip_history().values() == a.autoclip_history().values());
    }
}

TEST_CASE("optim: set_learning_rate keeps the state, the next update uses the new rate and save records it") {
    hg::cpu be(1);
    hg::optim::settings s;
    s.rule = hg::optim::adam(1e-3);
    hg::parameters<hg::cpu> p(be, small_layout(), 21);
    hg::optim::optimizer<hg::cpu> opt(be, p, s);
    for (int step = 1; step <= 3; ++step) {
        write_grads(p, 7, step);
        REQUIRE(opt.step() == hg::optim::step_result::applied);
    }
    // A twin that keeps the old rate: same values, same state.
    std::stringstream before;
    opt.save(before);
    hg::parameters<hg::cpu> q(be, small_layout(), 5);
    hg::ops::copy(be, p.values(), q.values());
    hg::optim::optimizer<hg::cpu> twin(be, q, s);
    twin.load(before);
    const hg::tensor m = opt.state(0).clone(), v = opt.state(1).clone();

    CHECK_THROWS_AS(opt.set_learning_rate(0.0), hg::value_error);
    CHECK_THROWS_AS(opt.set_learning_rate(-1e-3), hg::value_error);
    CHECK_THROWS_AS(opt.set_learning_rate(std::numeric_limits<double>::quiet_NaN()), hg::value_error);
    CHECK(opt.current_settings().rule.lr == 1e-3);
    opt.set_learning_rate(5e-4);
    CHECK(opt.current_settings().rule.lr == 5e-4);
    CHECK(opt.steps() == 3);
    CHECK(std::memcmp(opt.state(0).data(), m.data(), m.bytes()) == 0);
    CHECK(std::memcmp(opt.state(1).data(), v.data(), v.bytes()) == 0);

    // The same gradient for both: the same moments (they do not depend on the rate), half the update.
    const hg::tensor w0 = p.values().clone();
    write_grads(p, 7, 4);
    write_grads(q, 7, 4);
    REQUIRE(opt.step() == hg::optim::step_result::applied);
    REQUIRE(twin.step() == hg::optim::step_result::applied);
    CHECK(opt.last_lr() == 5e-4);
    CHECK(twin.last_lr() == 1e-3);
    CHECK(std::memcmp(opt.state(0).data(), twin.state(0).data(), m.bytes()) == 0);
    CHECK(std::memcmp(opt.state(1).data(), twin.state(1).data(), v.bytes()) == 0);
    double largest = 0, worst = 0;
    for (std::int64_t i = 0; i < w0.numel(); ++i) {
        const double full = double(q.values()[i]) - double(w0[i]), half = double(p.values()[i]) - double(w0[i]);
        largest = std::max(largest, std::abs(full));
        worst = std::max(worst, std::abs(half - 0.5 * full));
    }
    CHECK(largest > 1e-4);
    CHECK(worst <= 2e-7);  // a few float32 roundings of weights below 1 in magnitude

    // save() records the new rate: only an optimizer built with it loads the state.
    std::stringstream after;
    opt.save(after);
    hg::optim::optimizer<hg::cpu> old_rate(be, q, s);
    CHECK_THROWS_AS(old_rate.load(after), hg::format_error);
    after.clear();
    after.seekg(0);
    hg::optim::settings lowered = s;
    lowered.rule.lr = 5e-4;
    hg::optim::optimizer<hg::cpu> new_rate(be, q, lowered);
    new_rate.load(after);
    CHECK(new_rate.steps() == 4);
    CHECK(std::memcmp(new_rate.state(1).data(), opt.state(1).data(), v.bytes()) == 0);
}

TEST_CASE("optim: truncated, foreign and mismatched state streams give format_error naming the reason") {
    hg::cpu be(1);
    hg::parameters<hg::cpu> p(be, small_layout(), 3);
    const auto s = resume_settings(hg::optim::adam(1e-3));
    hg::optim::optimizer<hg::cpu> opt(be, p, s);
    run_steps(opt, p, 1, 5);
    std::stringstream good;
    opt.save(good);
    const std::string bytes = good.str();

    auto load_fails_with = [&](const std::string& data, const hg::optim::settings& st, const char* reason) {
        CAPTURE(reason);
        hg::parameters<hg::cpu> q(be, small_layout(), 3);
        hg::optim::optimizer<hg::cpu> fresh(be, q, st);
        std::stringstream in(data);
        try {
            fresh.load(in);
            FAIL("load accepted a bad stream");
        } catch (const hg::format_error& e) {
            CHECK(std::string(e.what()).find(reason) != std::string::npos);
        }
        CHECK(fresh.steps() == 0);  // left unchanged
    };

    for (const std::size_t cut : {std::size_t{0}, std::size_t{5}, std::size_t{40}, bytes.size() / 2, bytes.size() - 1})
        load_fails_with(bytes.substr(0, cut), s, "truncated");
    load_fails_with("PNG\x0d\x0a\x1a\x0a" + bytes.substr(8), s, "bad magic");
    std::string version = bytes;
    version[8] = 9;
    load_fails_with(version, s, "version");
    load_fails_with(bytes, resume_settings(hg::optim::adamw(1e-3)), "not adamw");
    auto other_lr = s;
    other_lr.rule.lr = 2e-3;
    load_fails_with(bytes, other_lr, "'lr'");
    auto other_clip = s;
    other_clip.clip.percentile = 50;
    load_fails_with(bytes, other_clip, "'clip.percentile'");
    std::string tail = bytes;
    tail[tail.size() - 2] = 'X';
    load_fails_with(tail, s, "end marker");
    // Another parameter layout.
    hg::param_layout bigger = small_layout();
    bigger.add("net/2.w", hg::shape{4, 4}, hg::initializer::glorot_uniform, 4, 4);
    hg::parameters<hg::cpu> q(be, bigger, 3);
    hg::optim::optimizer<hg::cpu> other(be, q, s);
    std::stringstream in(bytes);
    CHECK_THROWS_WITH_AS(other.load(in), doctest::Contains("elements"), hg::format_error);
    // The good stream still loads.
    hg::parameters<hg::cpu> r(be, small_layout(), 3);
    hg::optim::optimizer<hg::cpu> ok(be, r, s);
    std::stringstream again(bytes);
    ok.load(again);
    CHECK(ok.steps() == opt.steps());
}

TEST_CASE("optim: bad hyperparameters throw value_error naming the optimizer and the parameter") {
    hg::cpu be(1);
    hg::parameters<hg::cpu> p(be, small_layout(), 3);
    auto expect = [&](hg::optim::config c, const char* who, const char* what) {
        CAPTURE(who);
        CAPTURE(what);
        try {
            hg::optim::optimizer<hg::cpu> opt(be, p, with_rule(c));
            FAIL("accepted");
        } catch (const hg::value_error& e) {
            const std::string m = e.what();
            CHECK(m.find(who) != std::string::npos);
            CHECK(m.find(what) != std::string::npos);
        }
    };
    const double nan = std::numeric_limits<double>::quiet_NaN();
    auto c = hg::optim::adam();
    c.lr = 0;
    expect(c, "adam", "lr");
    c.lr = -1e-3;
    expect(c, "adam", "lr");
    c.lr = nan;
    expect(c, "adam", "lr");
    c = hg::optim::adamw();
    c.beta1 = 1.0;
    expect(c, "adamw", "beta1");
    c = hg::optim::adabelief();
    c.beta2 = -0.1;
    expect(c, "adabelief", "beta2");
    c = hg::optim::nadam();
    c.eps = 0;
    expect(c, "nadam", "eps");
    c = hg::optim::lion();
    c.weight_decay = INFINITY;
    expect(c, "lion", "weight_decay");
    c = hg::optim::rmsprop();
    c.beta2 = 1.5;
    expect(c, "rmsprop", "rho");
    c = hg::optim::sgd();
    c.momentum = 1.0;
    expect(c, "sgd", "momentum");
    c = hg::optim::adamax();
    c.lr_dropout = 0;
    expect(c, "adamax", "lr_dropout");
    auto s = with_rule(hg::optim::adam());
    s.accumulation = 0;
    CHECK_THROWS_WITH_AS(hg::optim::optimizer<hg::cpu>(be, p, s), doctest::Contains("accumulation"), hg::value_error);
    s = with_rule(hg::optim::adam());
    s.clip = hg::optim::clip_config::autoclip(0);
    CHECK_THROWS_WITH_AS(hg::optim::optimizer<hg::cpu>(be, p, s), doctest::Contains("percentile"), hg::value_error);
    s.clip = hg::optim::clip_config::global_norm(-1);
    CHECK_THROWS_WITH_AS(hg::optim::optimizer<hg::cpu>(be, p, s), doctest::Contains("max_norm"), hg::value_error);
}

TEST_CASE("optim: optim_update rejects wrong shapes, missing state and bad decay ranges") {
    hg::cpu be(1);
    const auto w = hg::tensor::zeros(hg::shape{32});
    const auto g = hg::tensor::zeros(hg::shape{32});
    const auto s = hg::tensor::zeros(hg::shape{32});
    hg::math::optim_coeffs k;
    CHECK_THROWS_AS(hg::ops::optim_update(be, optim_rule::adam, k, {}, w, hg::tensor::zeros(hg::shape{31}), s, s),
                    hg::shape_error);
    CHECK_THROWS_AS(hg::ops::optim_update(be, optim_rule::adam, k, {}, w, g, s, hg::tensor()), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::optim_update(be, optim_rule::adam, k, {{0, 40}}, w, g, s, s), hg::value_error);
    CHECK_THROWS_AS(hg::ops::optim_update(be, optim_rule::adam, k, {{16, 20}, {8, 10}}, w, g, s, s), hg::value_error);
    // Plain SGD needs no state.
    hg::ops::optim_update(be, optim_rule::sgd, k, {}, w, g, hg::tensor(), hg::tensor());
}

TEST_CASE("optim: Adam halves the loss of a small conv autoencoder within 60 steps") {
    using net = hg::sequential<hg::conv2d<8, 3, 2>, hg::leaky_relu<0.1f>, hg::upscale<4>, hg::conv2d<3, 3>, hg::sigmoid>;
    hg::cpu be(2);
    hg::model<hg::cpu, net> m(be, hg::shape{16, 16, 3}, 7, "ae");
    hg::optim::optimizer<hg::cpu> opt(m, with_rule(hg::optim::adam(3e-3)));
    const auto x = hg::test::random_tensor<float>(hg::shape{4, 16, 16, 3}, 5, 0.0, 1.0);
    // A smooth target (neighbouring pixels alike), so an autoencoder can learn it.
    for (std::int64_t i = 0; i < x.numel(); ++i) x[i] = 0.5f + 0.4f * std::sin(0.05f * static_cast<float>(i % 768)) * x[i];
    const hg::losses::mse loss;
    auto value = be.empty(hg::shape{1});
    auto dy = be.empty(x.shape());
    auto eval = [&] {
        loss.forward(be, m.forward(x), x, value);
        return static_cast<double>(value[0]);
    };
    const double initial = eval();
    double last = initial;
    for (int step = 1; step <= 60; ++step) {
        const auto& y = m.forward(x);
        hg::ops::fill(be, dy, 0.f);
        loss.backward(be, y, x, 1.0, dy);
        m.backward(dy);
        REQUIRE(opt.step() == hg::optim::step_result::applied);
        last = eval();
    }
    MESSAGE("autoencoder loss " << initial << " -> " << last << " after 60 Adam steps");
    CHECK(last < 0.5 * initial);
}
