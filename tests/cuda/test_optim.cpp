// The fused CUDA optimizer update against the CPU's: every rule, buffers of many sizes (odd, not a
// multiple of 4, > 1M), random parameters and state, misaligned views (the scalar path), decay
// ranges (also more than one launch carries), LR dropout; unused state buffers poisoned with NaN
// must stay untouched. Then the whole optimizer (AutoClip, per-tensor clipping, accumulation, the
// non-finite guard, schedules) on both backends, and exact resume on the GPU.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"
#include "hourglass/optim/optimizer.hpp"
#include "support/test_support.hpp"

namespace {

using hg::optim::optim_rule;

std::vector<hg::optim::config> rules() {
    using namespace hg::optim;
    auto nesterov = sgd(0.05, 0.9, true);
    nesterov.weight_decay = 0.01;
    auto paper = adam(1e-3);
    paper.epsilon_hat = false;
    auto rect = adabelief(1e-3, true);
    rect.weight_decay = 0.1;
    auto rms = rmsprop(1e-3);
    rms.momentum = 0.5;
    auto li = lion(1e-3);
    li.weight_decay = 0.3;
    auto dfl = adabelief_deepfacelab(1e-3, 0.3);
    dfl.seed = 17;
    return {sgd(0.05, 0.0), nesterov, adam(1e-3), paper, adamw(1e-3, 0.1), adabelief(1e-3), rect, dfl,
            rmsprop(1e-3), rms, li, nadam(), adamax()};
}

/// Random host buffers for one update: w and g in [-1, 1), s1 in [-1, 1), s2 in [0, 1) (second
/// moments are never negative).
struct host_buffers {
    hg::tensor w, g, s1, s2;
};

host_buffers random_buffers(std::int64_t n, std::uint64_t seed) {
    const hg::shape s{n};
    return {hg::test::random_tensor<float>(s, seed), hg::test::random_tensor<float>(s, seed + 1),
            hg::test::random_tensor<float>(s, seed + 2), hg::test::random_tensor<float>(s, seed + 3, 0.0, 1.0)};
}

/// Decay on every other block of 48 elements, starting at 16.
std::vector<hg::ops::index_range> striped_ranges(std::int64_t n, std::int64_t block = 48) {
    std::vector<hg::ops::index_range> r;
    for (std::int64_t b = 16; b < n; b += 2 * block) r.push_back({b, std::min(n, b + block)});
    return r;
}

/// Uploads x at element `offset` of a larger device buffer and returns the view.
hg::tensor upload_at(const hg::cuda& be, const hg::tensor& x, std::int64_t offset) {
    auto whole = hg::tensor::full(hg::shape{offset + x.numel()}, 0.f);
    std::copy(x.data(), x.data() + x.numel(), whole.data() + offset);
    return be.to_device(whole).slice(offset, x.shape());
}

}  // namespace

TEST_CASE("cuda optim_update: every rule matches the CPU for many sizes, alignments and decay ranges") {
    hg::cuda be;
    hg::cpu host(2);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::uint64_t seed = 300;
    for (const auto& c : rules()) {
        for (const std::int64_t n : {1, 3, 4, 5, 17, 1000, 65537, 1048579}) {
            for (const std::int64_t offset : {0, 1}) {
                CAPTURE(std::string(c.name()));
                CAPTURE(n);
                CAPTURE(offset);
                const auto in = random_buffers(n, seed += 4);
                double mu_product = 1.0;
                auto k = hg::optim::step_coefficients(c, 3, c.lr, mu_product);
                k.grad_scale = 0.75f;
                if (n == 1000) k.clip_value = 0.5f;
                const auto decay = striped_ranges(n);
                const unsigned used = hg::ops::optim_state_buffers(c.rule, k.momentum);
                // Unused state buffers hold NaN: they must be neither read into w nor written.
                hg::tensor s1 = in.s1.clone(), s2 = in.s2.clone();
                if (!(used & 1u)) s1.fill(nan);
                if (!(used & 2u)) s2.fill(nan);

                hg::tensor w = in.w.clone();
                hg::ops::optim_update(host, c.rule, k, decay, w, in.g, s1, s2);

                const auto dw = upload_at(be, in.w, offset);
                const auto dg = upload_at(be, in.g, offset);
                const auto d1 = upload_at(be, (used & 1u) ? in.s1 : s1, offset);
                const auto d2 = upload_at(be, (used & 2u) ? in.s2 : s2, offset);
                hg::ops::optim_update(be, c.rule, k, decay, dw, dg, d1, d2);
                const auto gw = be.to_host(dw), g1 = be.to_host(d1), g2 = be.to_host(d2);
                CHECK(hg::test::relative_error(gw, w) <= 1e-6);
                CHECK(hg::test::max_abs_difference(gw, w) <= 1e-6);
                if (used & 1u) CHECK(hg::test::relative_error(g1, s1) <= 1e-6);
                if (used & 2u) CHECK(hg::test::relative_error(g2, s2) <= 1e-6);
                if (!(used & 1u)) CHECK(std::isnan(g1[0]));
                if (!(used & 2u)) CHECK(std::isnan(g2[n - 1]));
            }
        }
    }
}

TEST_CASE("cuda optim_update: more decay ranges than one launch carries") {
    hg::cuda be;
    hg::cpu host(2);
    const std::int64_t n = 100003;
    const auto decay = striped_ranges(n, 100);  // about 500 ranges: several launches
    REQUIRE(decay.size() > 2 * static_cast<std::size_t>(hg::ops::optim_cuda_max_ranges));
    const auto c = hg::optim::adamw(1e-3, 0.5);
    double mu_product = 1.0;
    const auto k = hg::optim::step_coefficients(c, 1, c.lr, mu_product);
    const auto in = random_buffers(n, 5);
    hg::tensor w = in.w.clone(), s1 = in.s1.clone(), s2 = in.s2.clone();
    hg::ops::optim_update(host, c.rule, k, decay, w, in.g, s1, s2);
    const auto dw = be.to_device(in.w), d1 = be.to_device(in.s1), d2 = be.to_device(in.s2);
    hg::ops::optim_update(be, c.rule, k, decay, dw, be.to_device(in.g), d1, d2);
    CHECK(hg::test::relative_error(be.to_host(dw), w) <= 1e-6);
    CHECK(hg::test::relative_error(be.to_host(d2), s2) <= 1e-6);
}

namespace {

hg::param_layout layout() {
    hg::param_layout l;
    l.add("e/0.w", hg::shape{33, 3, 3, 5}, hg::initializer::he_uniform, 45, 33);
    l.add("e/0.b", hg::shape{33}, hg::initializer::zeros);
    l.add("e/1.w", hg::shape{301, 77}, hg::initializer::glorot_uniform, 77, 301);
    l.add("e/1.b", hg::shape{301}, hg::initializer::zeros);
    return l;
}

/// The gradient of step `step`, micro-batch `micro` (a NaN at step 3), on the host.
hg::tensor gradient(const hg::param_layout& l, int step, int micro) {
    auto g = hg::test::random_tensor<float>(hg::shape{l.buffer_size()}, 1000 + 10 * static_cast<std::uint64_t>(step) + micro,
                                            -0.3, 0.3);
    for (const auto& e : l.entries())  // padding stays 0
        for (std::int64_t j = e.shape.numel(); j < e.padded_size(); ++j) g[e.offset + j] = 0.f;
    if (step == 3 && micro == 0) g[7] = std::numeric_limits<float>::quiet_NaN();
    return g;
}

template <class B>
void train(B& be, hg::optim::optimizer<B>& opt, const hg::parameters<B>& p, int first, int last) {
    for (int step = first; step <= last; ++step)
        for (int micro = 0; micro < 2; ++micro) {
            const auto g = be.to_device(gradient(p.layout(), step, micro));
            hg::ops::axpy(be, 1.f, g, p.grads());
            opt.step();
        }
}

hg::optim::settings settings_for(const hg::optim::config& c, hg::optim::clip_mode mode) {
    hg::optim::settings s;
    s.rule = c;
    s.clip = mode == hg::optim::clip_mode::autoclip ? hg::optim::clip_config::autoclip(30, 4)
                                                    : hg::optim::clip_config::per_tensor_norm(0.5);
    s.schedule = hg::optim::lr_schedule::cosine(20, 0.2, 2);
    s.accumulation = 2;
    return s;
}

}  // namespace

TEST_CASE("cuda optimizer: 8 steps on the GPU match the CPU (clipping, accumulation, guard, schedule)") {
    hg::cuda be;
    hg::cpu host(2);
    for (const auto& c : rules()) {
        for (const auto mode : {hg::optim::clip_mode::autoclip, hg::optim::clip_mode::per_tensor_norm}) {
            CAPTURE(std::string(c.name()));
            CAPTURE(static_cast<int>(mode));
            const auto s = settings_for(c, mode);
            hg::parameters<hg::cpu> pc(host, layout(), 4);
            hg::parameters<hg::cuda> pg(be, layout(), 4);
            hg::optim::optimizer<hg::cpu> oc(host, pc, s);
            hg::optim::optimizer<hg::cuda> og(be, pg, s);
            train(host, oc, pc, 1, 8);
            train(be, og, pg, 1, 8);
            CHECK(og.steps() == 7);
            CHECK(og.skipped_steps() == 1);
            CHECK(oc.skipped_steps() == 1);
            CHECK(hg::test::relative_error(be.to_host(pg.values()), pc.values()) <= 1e-5);
            if (og.state(1).defined()) CHECK(hg::test::relative_error(be.to_host(og.state(1)), oc.state(1)) <= 1e-5);
        }
    }
}

TEST_CASE("cuda optimizer: save/load resumes bit-identically on the GPU, and the state loads on the CPU") {
    hg::cuda be;
    hg::cpu host(1);
    const auto s = settings_for(hg::optim::adabelief_deepfacelab(1e-3, 0.3), hg::optim::clip_mode::autoclip);
    hg::parameters<hg::cuda> a(be, layout(), 2);
    hg::optim::optimizer<hg::cuda> oa(be, a, s);
    train(be, oa, a, 1, 10);

    hg::parameters<hg::cuda> b(be, layout(), 2);
    hg::optim::optimizer<hg::cuda> ob(be, b, s);
    train(be, ob, b, 1, 5);
    std::stringstream stream;
    ob.save(stream);
    const std::string bytes = stream.str();
    hg::parameters<hg::cuda> c(be, layout(), 3);
    hg::ops::copy(be, b.values(), c.values());
    hg::optim::optimizer<hg::cuda> oc(be, c, s);
    oc.load(stream);
    train(be, oc, c, 6, 10);
    const auto want = be.to_host(a.values()), got = be.to_host(c.values());
    CHECK(std::memcmp(want.data(), got.data(), want.bytes()) == 0);

    // The same stream loads into a CPU optimizer (the format does not depend on the backend).
    hg::parameters<hg::cpu> h(host, layout(), 2);
    hg::optim::optimizer<hg::cpu> oh(host, h, s);
    std::stringstream again(bytes);
    oh.load(again);
    CHECK(oh.steps() == ob.steps());
    CHECK(hg::test::max_abs_difference(oh.state(0), be.to_host(ob.state(0))) == 0.0);
}

TEST_CASE("cuda optim_update: wrong devices are rejected") {
    hg::cuda be;
    const auto w = be.empty(hg::shape{8});
    hg::math::optim_coeffs k;
    CHECK_THROWS_AS(hg::ops::optim_update(be, optim_rule::sgd, k, {}, w, hg::tensor::zeros(hg::shape{8}), hg::tensor(),
                                          hg::tensor()),
                    hg::device_error);
    CHECK_THROWS_AS(hg::ops::optim_update(be, optim_rule::lion, k, {}, w, w, hg::tensor::zeros(hg::shape{8}), hg::tensor()),
                    hg::device_error);
}
