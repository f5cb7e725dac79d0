// The host FFT (math/fft.hpp) against a naive O(n^2) DFT: every length 1..20 (radix-2 and
// Bluestein), 64, 100, 128, forward and inverse; Parseval's identity; the round trip; known
// transforms (impulse, constant, a single cosine); the 2-D transform against a naive 2-D DFT for
// square, non-square, odd and degenerate (1 x W, H x 1) shapes; bad lengths.
#include <doctest/doctest.h>

#include <cmath>
#include <complex>
#include <cstdint>
#include <vector>

#include "hourglass/core/rng.hpp"
#include "hourglass/math/fft.hpp"

namespace {

using cd = std::complex<double>;
constexpr double pi = 3.14159265358979323846;

std::vector<cd> random_signal(std::int64_t n, std::uint64_t seed) {
    hg::rng gen(seed, 3);
    std::vector<cd> x(static_cast<std::size_t>(n));
    for (auto& v : x) {
        const double re = 2.0 * gen.uniform_double() - 1.0;
        const double im = 2.0 * gen.uniform_double() - 1.0;
        v = cd(re, im);
    }
    return x;
}

/// X[k] = sum_j x[j] exp(sign 2 pi i k j / n), the angle reduced with (k j mod n) so it stays exact.
std::vector<cd> naive_dft(const std::vector<cd>& x, bool inverse) {
    const auto n = static_cast<std::int64_t>(x.size());
    std::vector<cd> out(x.size());
    const double sign = inverse ? 1.0 : -1.0;
    for (std::int64_t k = 0; k < n; ++k) {
        cd acc(0.0, 0.0);
        for (std::int64_t j = 0; j < n; ++j) {
            const double angle = sign * 2.0 * pi * static_cast<double>((k * j) % n) / static_cast<double>(n);
            acc += x[static_cast<std::size_t>(j)] * cd(std::cos(angle), std::sin(angle));
        }
        out[static_cast<std::size_t>(k)] = acc;
    }
    return out;
}

/// The naive 2-D DFT of a row-major h x w array.
std::vector<cd> naive_dft2(const std::vector<cd>& x, std::int64_t h, std::int64_t w, bool inverse) {
    std::vector<cd> out(x.size());
    const double sign = inverse ? 1.0 : -1.0;
    for (std::int64_t ky = 0; ky < h; ++ky)
        for (std::int64_t kx = 0; kx < w; ++kx) {
            cd acc(0.0, 0.0);
            for (std::int64_t y = 0; y < h; ++y)
                for (std::int64_t x_ = 0; x_ < w; ++x_) {
                    const double angle = sign * 2.0 * pi *
                                         (static_cast<double>((ky * y) % h) / static_cast<double>(h) +
                                          static_cast<double>((kx * x_) % w) / static_cast<double>(w));
                    acc += x[static_cast<std::size_t>(y * w + x_)] * cd(std::cos(angle), std::sin(angle));
                }
            out[static_cast<std::size_t>(ky * w + kx)] = acc;
        }
    return out;
}

double relative_error(const std::vector<cd>& a, const std::vector<cd>& b) {
    double num = 0.0, den = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        num += std::norm(a[i] - b[i]);
        den += std::norm(b[i]);
    }
    return std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
}

double energy(const std::vector<cd>& x) {
    double e = 0.0;
    for (const cd& v : x) e += std::norm(v);
    return e;
}

std::vector<std::int64_t> test_lengths() {
    std::vector<std::int64_t> n;
    for (std::int64_t i = 1; i <= 20; ++i) n.push_back(i);
    for (std::int64_t i : {64, 100, 128}) n.push_back(i);
    return n;
}

// Double-precision FFTs of these lengths agree with the naive sum to ~1e-15 relative; 1e-12 leaves
// room for the naive sum's own rounding (n terms) and nothing more.
constexpr double fft_tolerance = 1e-12;

}  // namespace

TEST_CASE("fft: forward and inverse match the naive DFT for every length 1..20, 64, 100, 128") {
    std::uint64_t seed = 10;
    for (const std::int64_t n : test_lengths()) {
        CAPTURE(n);
        const hg::math::fft_plan plan(n);
        CHECK(plan.size() == n);
        const auto x = random_signal(n, ++seed);
        auto fwd = x;
        plan.forward(fwd.data());
        CHECK(relative_error(fwd, naive_dft(x, false)) < fft_tolerance);
        auto inv = x;
        plan.inverse(inv.data());
        CHECK(relative_error(inv, naive_dft(x, true)) < fft_tolerance);
    }
}

TEST_CASE("fft: Parseval's identity and the round trip") {
    std::uint64_t seed = 100;
    for (const std::int64_t n : test_lengths()) {
        CAPTURE(n);
        const hg::math::fft_plan plan(n);
        const auto x = random_signal(n, ++seed);
        auto X = x;
        plan.forward(X.data());
        // sum |X_k|^2 = n sum |x_j|^2 for the unnormalised transform.
        CHECK(std::abs(energy(X) - static_cast<double>(n) * energy(x)) <= 1e-12 * static_cast<double>(n) * energy(x));
        auto back = X;
        plan.inverse(back.data());
        for (auto& v : back) v /= static_cast<double>(n);
        CHECK(relative_error(back, x) < fft_tolerance);
    }
}

TEST_CASE("fft: known transforms") {
    for (const std::int64_t n : {1, 6, 8, 11}) {
        CAPTURE(n);
        const hg::math::fft_plan plan(n);
        // An impulse at 0 has a flat spectrum of ones.
        std::vector<cd> impulse(static_cast<std::size_t>(n), cd(0.0, 0.0));
        impulse[0] = cd(1.0, 0.0);
        plan.forward(impulse.data());
        for (const cd& v : impulse) CHECK(std::abs(v - cd(1.0, 0.0)) < 1e-14);
        // A constant 2 has all of its energy at frequency 0: 2 n.
        std::vector<cd> constant(static_cast<std::size_t>(n), cd(2.0, 0.0));
        plan.forward(constant.data());
        CHECK(std::abs(constant[0] - cd(2.0 * static_cast<double>(n), 0.0)) < 1e-12);
        for (std::size_t k = 1; k < constant.size(); ++k) CHECK(std::abs(constant[k]) < 1e-12);
    }
    // cos(2 pi 3 j / n) has n/2 at frequencies 3 and n - 3 and nothing elsewhere.
    for (const std::int64_t n : {12, 16, 13}) {
        CAPTURE(n);
        std::vector<cd> x(static_cast<std::size_t>(n));
        for (std::int64_t j = 0; j < n; ++j)
            x[static_cast<std::size_t>(j)] =
                cd(std::cos(2.0 * pi * 3.0 * static_cast<double>(j) / static_cast<double>(n)), 0.0);
        hg::math::fft_plan(n).forward(x.data());
        for (std::int64_t k = 0; k < n; ++k) {
            const double want = (k == 3 || k == n - 3) ? static_cast<double>(n) / 2.0 : 0.0;
            CHECK(std::abs(x[static_cast<std::size_t>(k)] - cd(want, 0.0)) < 1e-12);
        }
    }
}

TEST_CASE("fft2: rows then columns match the naive 2-D DFT") {
    const std::int64_t shapes[][2] = {{1, 1}, {1, 8}, {7, 1}, {5, 7}, {8, 8}, {4, 16}, {24, 20}, {9, 6}, {16, 16}};
    std::uint64_t seed = 300;
    for (const auto& s : shapes) {
        const std::int64_t h = s[0], w = s[1];
        CAPTURE(h);
        CAPTURE(w);
        const hg::math::fft2_plan plan(h, w);
        CHECK(plan.height() == h);
        CHECK(plan.width() == w);
        const auto x = random_signal(h * w, ++seed);
        auto fwd = x;
        plan.forward(fwd.data());
        CHECK(relative_error(fwd, naive_dft2(x, h, w, false)) < fft_tolerance);
        auto inv = x;
        plan.inverse(inv.data());
        CHECK(relative_error(inv, naive_dft2(x, h, w, true)) < fft_tolerance);
        const double want_energy = static_cast<double>(h * w) * energy(x);
        CHECK(std::abs(energy(fwd) - want_energy) <= 1e-12 * want_energy);
    }
}

TEST_CASE("fft: a length below 1 is a value_error") {
    CHECK_THROWS_AS(hg::math::fft_plan(0), hg::value_error);
    CHECK_THROWS_AS(hg::math::fft_plan(-4), hg::value_error);
    CHECK_THROWS_AS(hg::math::fft2_plan(0, 4), hg::value_error);
}
