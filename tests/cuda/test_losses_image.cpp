// CUDA image-structure losses (GMSD, gradient difference, Laplacian pyramid) against the CPU
// losses on random images in [0, 1]: several shapes (batch 1, odd H and W, 1, 3 and 5 channels,
// the smallest sizes each loss allows), NaN-poisoned device allocations and a NaN-filled value
// tensor (an unwritten output fails), backward accumulating with a weight into a random dpred of
// the gradient's own scale (so both a lost and a doubled accumulation fail); back-to-back calls
// sharing the workspace without new device memory; the [0, 1] check of GMSD and shape errors on
// the device. Tolerances (relative, norm-wise for gradients) and why are in docs/losses.md.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"
#include "hourglass/losses/gmsd.hpp"
#include "hourglass/losses/gradient_difference.hpp"
#include "hourglass/losses/laplacian_pyramid.hpp"
#include "ref/losses_image.hpp"
#include "support/test_support.hpp"

namespace {

constexpr float nan_value = std::numeric_limits<float>::quiet_NaN();

struct tolerances {
    double value;
    double gradient;
};

// Both backends run the same per-pixel float code (math/image_losses.hpp) and sum in double; they
// differ by the device's fused multiply-adds (an ulp per operation) and the order of the double
// sums. For scale: the float CPU losses differ from the double ones by at most 5e-8 (values) and
// 5e-7 (GMSD gradient), 6e-8 (the other gradients) at these shapes and seeds.
constexpr tolerances gmsd_tol{1e-6, 5e-6};                 // magnitude, division, square root per pixel
constexpr tolerances gradient_difference_tol{1e-6, 1e-6};  // the differences and their signs are bit-identical
constexpr tolerances laplacian_tol{1e-6, 1e-6};            // 25-tap blurs over up to 6 levels, signs guarded

hg::tensor image(const hg::shape& s, std::uint64_t seed) { return hg::test::random_tensor<float>(s, seed, 0.0, 1.0); }

/// Runs `loss` on the CPU and on the GPU for one pair of random images and compares the value and
/// the accumulated gradient.
template <class Loss>
void compare(hg::cuda& gpu, const Loss& loss, const hg::shape& s, std::uint64_t seed, tolerances tol) {
    CAPTURE(loss.name());
    CAPTURE(s);
    hg::cpu cpu(1);
    const auto p = image(s, seed), t = image(s, seed + 1);
    const double weight = 0.75;

    auto want_value = hg::tensor::full(hg::shape{1}, nan_value);
    loss.forward(cpu, p, t, want_value);
    auto g = hg::tensor::zeros(s);
    loss.backward(cpu, p, t, weight, g);
    const double scale = hg::test::max_abs_difference(g, hg::tensor::zeros(s));
    REQUIRE(scale > 0.0);
    // dpred starts at random values of the gradient's own size.
    const auto before = hg::test::random_tensor<float>(s, seed + 2, -scale, scale);
    auto want = before.clone();
    loss.backward(cpu, p, t, weight, want);

    const auto dp = gpu.to_device(p), dt = gpu.to_device(t);
    const auto dv = gpu.to_device(hg::tensor::full(hg::shape{1}, nan_value));
    loss.forward(gpu, dp, dt, dv);
    const double got_value = gpu.to_host(dv)[0];
    INFO("value: GPU " << got_value << ", CPU " << want_value[0]);
    CHECK(std::abs(got_value - want_value[0]) <= tol.value * std::abs(want_value[0]));

    const auto dd = gpu.to_device(before);
    loss.backward(gpu, dp, dt, weight, dd);
    const auto got = gpu.to_host(dd);
    REQUIRE(hg::test::all_finite(got));
    // The added part alone, and the whole accumulated tensor.
    auto got_delta = got.clone(), want_delta = want.clone();
    for (std::int64_t i = 0; i < got.numel(); ++i) {
        got_delta[i] -= before[i];
        want_delta[i] -= before[i];
    }
    const double delta_error = hg::test::relative_error(got_delta, want_delta);
    INFO("gradient relative error " << delta_error);
    CHECK(delta_error <= tol.gradient);
    CHECK(hg::test::relative_error(got, want) <= tol.gradient);
}

}  // namespace

TEST_CASE("cuda image losses: gmsd against the CPU") {
    hg::cuda gpu;
    gpu.poison_allocations(true);
    std::uint64_t seed = 1000;
    for (const auto& s : {hg::shape{1, 3, 3, 1}, hg::shape{2, 16, 17, 3}, hg::shape{1, 31, 9, 1}, hg::shape{3, 24, 24, 5},
                          hg::shape{1, 64, 64, 3}, hg::shape{16, 64, 64, 3}})
        compare(gpu, hg::losses::gmsd(), s, seed += 10, gmsd_tol);
    compare(gpu, hg::losses::gmsd(0.01, false), hg::shape{2, 9, 12, 3}, 1100, gmsd_tol);
}

TEST_CASE("cuda image losses: gradient_difference against the CPU") {
    hg::cuda gpu;
    gpu.poison_allocations(true);
    std::uint64_t seed = 2000;
    for (const auto& s : {hg::shape{1, 3, 3, 1}, hg::shape{2, 17, 9, 3}, hg::shape{4, 32, 31, 5}, hg::shape{1, 64, 64, 3},
                          hg::shape{16, 64, 64, 3}})
        compare(gpu, hg::losses::gradient_difference(), s, seed += 10, gradient_difference_tol);
    compare(gpu, hg::losses::gradient_difference(0.2, 1.5), hg::shape{2, 11, 13, 3}, 2100, gradient_difference_tol);
    compare(gpu, hg::losses::gradient_difference(1.0, 0.0), hg::shape{1, 5, 4, 1}, 2110, gradient_difference_tol);
}

TEST_CASE("cuda image losses: laplacian_pyramid against the CPU") {
    hg::cuda gpu;
    gpu.poison_allocations(true);
    struct case_t {
        hg::shape s;
        std::uint64_t seed;
        int levels;
        double sigma;
    };
    for (const auto& k : std::vector<case_t>{{hg::shape{1, 32, 32, 3}, 3101, 5, 1.0},
                                             {hg::shape{2, 37, 45, 1}, 3011, 5, 1.0},
                                             {hg::shape{1, 64, 33, 5}, 3021, 5, 1.0},
                                             {hg::shape{4, 64, 64, 3}, 3131, 5, 1.0},
                                             {hg::shape{1, 5, 7, 3}, 3041, 2, 1.5}}) {
        // A band within float rounding of 0 could take the other sign on the two backends (a kink
        // of |.|); the seeds are chosen so that every band difference is at least 1e-6 from 0, ten
        // times the rounding of these float pyramids.
        {
            const auto p = image(k.s, k.seed), t = image(k.s, k.seed + 1);
            INFO("shape " << k.s << ": every band difference must be away from 0");
            REQUIRE(hg::ref::image::laplacian_pyramid(p, t, k.levels, k.sigma).smallest_difference >= 1e-6);
        }
        compare(gpu, hg::losses::laplacian_pyramid(k.levels, k.sigma), k.s, k.seed, laplacian_tol);
    }
}

TEST_CASE("cuda image losses: back-to-back calls share the workspace and allocate nothing new") {
    hg::cuda gpu;
    const hg::shape s{4, 64, 64, 3};
    const auto p = gpu.to_device(image(s, 4001)), t = gpu.to_device(image(s, 4002));
    const auto v = gpu.empty(hg::shape{1});
    const auto d = gpu.to_device(hg::tensor::zeros(s));
    const hg::losses::gmsd gm(0.0025, false);
    const hg::losses::gradient_difference gd;
    const hg::losses::laplacian_pyramid lp;
    auto step = [&] {
        gm.forward(gpu, p, t, v);
        gm.backward(gpu, p, t, 1.0, d);
        gd.forward(gpu, p, t, v);
        gd.backward(gpu, p, t, 1.0, d);
        lp.forward(gpu, p, t, v);
        lp.backward(gpu, p, t, 1.0, d);
    };
    step();
    gpu.synchronize();
    const auto warm = gpu.memory();
    for (int i = 0; i < 3; ++i) step();
    gpu.synchronize();
    const auto after = gpu.memory();
    CHECK(after.in_use == warm.in_use);
    CHECK(after.reserved == warm.reserved);
    // The last value is the last loss's (lp) and matches a fresh CPU evaluation.
    hg::cpu cpu(1);
    auto want = hg::tensor::empty(hg::shape{1});
    lp.forward(cpu, gpu.to_host(p), gpu.to_host(t), want);
    CHECK(std::abs(gpu.to_host(v)[0] - want[0]) <= laplacian_tol.value * std::abs(want[0]));
}

TEST_CASE("cuda image losses: errors on the device") {
    hg::cuda gpu;
    const hg::shape s{1, 32, 32, 3};
    auto bright = image(s, 5001);
    bright[100] = 1.25f;
    const auto p = gpu.to_device(bright), t = gpu.to_device(image(s, 5002));
    const auto v = gpu.empty(hg::shape{1});
    std::string msg;
    try {
        hg::losses::gmsd().forward(gpu, p, t, v);
    } catch (const hg::value_error& e) {
        msg = e.what();
    }
    CHECK(msg.find("gmsd") != std::string::npos);
    CHECK(msg.find("[0, 1]") != std::string::npos);

    const auto other = gpu.to_device(image(hg::shape{1, 32, 31, 3}, 5003));
    CHECK_THROWS_AS(hg::losses::gmsd().forward(gpu, t, other, v), hg::shape_error);
    CHECK_THROWS_AS(hg::losses::gradient_difference().forward(gpu, t, other, v), hg::shape_error);
    CHECK_THROWS_AS(hg::losses::laplacian_pyramid().forward(gpu, t, other, v), hg::shape_error);
    const auto small = gpu.to_device(image(hg::shape{1, 16, 16, 3}, 5004));
    CHECK_THROWS_AS(hg::losses::laplacian_pyramid().forward(gpu, small, small, v), hg::shape_error);
    // A host tensor given to the CUDA loss.
    const auto host = image(s, 5005);
    CHECK_THROWS_AS(hg::losses::gradient_difference().forward(gpu, host, t, v), hg::device_error);
    gpu.synchronize();
}
