// Core types: shape printing and checks, tensor views and device checks, the counter-based RNG,
// and the CUDA device query contract (0 devices without a driver, never a crash).
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "hourglass/hourglass.hpp"
#include "hourglass/ops/random.hpp"
#include "support/test_support.hpp"

TEST_CASE("shape: printing, element count, equality") {
    const hg::shape s{2, 64, 64, 3};
    CHECK(s.str() == "[2, 64, 64, 3]");
    CHECK(s.numel() == 2 * 64 * 64 * 3);
    CHECK(s.rank() == 4);
    CHECK(s.n() == 2);
    CHECK(s.c() == 3);
    CHECK(s == hg::shape{2, 64, 64, 3});
    CHECK(s != hg::shape{2, 64, 64, 4});
    CHECK(s.with_batch(5) == hg::shape{5, 64, 64, 3});
    CHECK(hg::shape{}.numel() == 1);
    CHECK_THROWS_AS((hg::shape{1, 2, 3, 4, 5}), hg::shape_error);
    CHECK_THROWS_AS((hg::shape{-1}), hg::shape_error);
    CHECK_THROWS_AS(hg::shape{7}.c(), hg::shape_error);
}

TEST_CASE("tensor: views share storage and check their bounds") {
    auto t = hg::tensor::zeros(hg::shape{2, 3});
    auto v = t.view(hg::shape{6});
    v[4] = 5.f;
    CHECK(t[4] == 5.f);
    auto s = t.slice(3, hg::shape{3});
    CHECK(s[1] == 5.f);
    CHECK(t.batch_slice(1, 1)[1] == 5.f);
    CHECK_THROWS_AS(t.view(hg::shape{7}), hg::shape_error);
    CHECK_THROWS_AS(t.slice(4, hg::shape{3}), hg::shape_error);
    CHECK_THROWS_AS(t.batch_slice(1, 2), hg::shape_error);
    CHECK_THROWS_AS(hg::tensor::from_vector(hg::shape{2}, {1.f}), hg::shape_error);
    CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % 64 == 0);
}

TEST_CASE("tensor: a CUDA tensor is refused by CPU ops and host access") {
    auto host = hg::tensor::zeros(hg::shape{4});
    // A tensor that claims to live on the device (its storage is host memory, but the tag is what
    // every check reads).
    hg::tensor fake(hg::shape{4}, hg::device_kind::cuda, nullptr, host.data());
    hg::cpu be(1);
    CHECK_THROWS_AS((void)fake[0], hg::device_error);
    CHECK_THROWS_AS(hg::ops::fill(be, fake, 1.f), hg::device_error);
    CHECK_THROWS_AS(hg::ops::add(be, host, fake, host), hg::device_error);
    try {
        hg::ops::copy(be, fake, host);
        FAIL("copy accepted a CUDA tensor");
    } catch (const hg::device_error& e) {
        CHECK(std::string(e.what()).find("'src'") != std::string::npos);
        CHECK(std::string(e.what()).find("cuda") != std::string::npos);
    }
}

TEST_CASE("rng: counter-based, reproducible, uniform") {
    hg::rng a(42), b(42), c(43);
    bool differs = false;
    for (int i = 0; i < 100; ++i) {
        const float x = a.uniform();
        CHECK(x == b.uniform());
        differs |= x != c.uniform();
        CHECK(x >= 0.f);
        CHECK(x < 1.f);
    }
    CHECK(differs);
    // Position i of the stream does not depend on the order of evaluation.
    hg::rng d(42);
    d.seek(57);
    CHECK(d.next_bits() == hg::random_bits(42, 0, 57));
    // Mean and spread of many draws.
    hg::rng e(7, 3);
    double sum = 0.0, sum2 = 0.0;
    const int n = 100000;
    for (int i = 0; i < n; ++i) {
        const double x = e.uniform_double();
        sum += x;
        sum2 += x * x;
    }
    CHECK(sum / n == doctest::Approx(0.5).epsilon(0.01));
    CHECK(sum2 / n - (sum / n) * (sum / n) == doctest::Approx(1.0 / 12).epsilon(0.02));
}

TEST_CASE("rng: Philox4x32-10 known-answer vectors") {
    // Test vectors of the Random123 reference implementation (kat_vectors, philox4x32_10).
    const hg::philox_block zero = hg::philox4x32(0, 0, 0, 0, 0, 0);
    CHECK(zero.v[0] == 0x6627e8d5u);
    CHECK(zero.v[1] == 0xe169c58du);
    CHECK(zero.v[2] == 0xbc57ac4cu);
    CHECK(zero.v[3] == 0x9b00dbd8u);
    const hg::philox_block ones =
        hg::philox4x32(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu);
    CHECK(ones.v[0] == 0x408f276du);
    CHECK(ones.v[1] == 0x41c83b0eu);
    CHECK(ones.v[2] == 0xa20bc7c6u);
    CHECK(ones.v[3] == 0x6d5451fdu);
}

TEST_CASE("fill_uniform: every element written, in range, same for any thread count") {
    auto a = hg::tensor::full(hg::shape{100003}, std::nanf(""));
    auto b = hg::tensor::full(hg::shape{100003}, std::nanf(""));
    hg::ops::fill_uniform(hg::cpu(1), a, 9, 1, -0.5f, 0.5f);
    hg::ops::fill_uniform(hg::cpu(2), b, 9, 1, -0.5f, 0.5f);
    for (std::int64_t i = 0; i < a.numel(); ++i) {
        REQUIRE(a[i] >= -0.5f);
        REQUIRE(a[i] < 0.5f);
        REQUIRE(a[i] == b[i]);
    }
}
