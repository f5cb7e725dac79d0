// Bit-exactness of the CPU per-element kernels (cpu/elementwise.hpp): the vectorised, split-by-thread
// loops must give, for every element, exactly what the scalar formula gives - including -0, +-inf,
// NaN, subnormals and the extremes - with one and two threads, out of place and in place, on sizes
// with ragged ends (not a multiple of any vector width) that are large enough for the threaded split.
// Also: pixel shuffle against the index map of math/pixel_shuffle.hpp at the face-swap model's
// channel counts, and bias_grad against the per-channel double sum in row order.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "cpu/helpers.hpp"
#include "hourglass/math/activations.hpp"
#include "hourglass/math/pixel_shuffle.hpp"
#include "hourglass/ops/bias.hpp"
#include "hourglass/ops/elementwise.hpp"

namespace {

using hg::shape;
using hg::test::random_tensor;

constexpr int thread_counts[] = {1, 2};

/// Random values in [-3, 3) with special values written over every seventh element.
template <class T>
hg::basic_tensor<T> with_specials(const shape& s, std::uint64_t seed) {
    using lim = std::numeric_limits<T>;
    const T specials[] = {T(0),         -T(0),         lim::infinity(), -lim::infinity(), lim::quiet_NaN(),
                          -lim::quiet_NaN(), lim::denorm_min(), -lim::denorm_min(), lim::min(), -lim::min(),
                          lim::max(),   -lim::max(),   T(1),            T(-1)};
    constexpr std::int64_t count = sizeof specials / sizeof specials[0];
    auto x = random_tensor<T>(s, seed, -3.0, 3.0);
    for (std::int64_t i = 0, k = 0; i < x.numel(); i += 7, k = (k + 1) % count) x[i] = specials[k];
    return x;
}

/// An output tensor filled with a value no kernel here produces from these inputs (NaN poison would
/// hide an unwritten element where NaN is expected).
template <class T>
hg::basic_tensor<T> unwritten(const shape& s) {
    auto t = hg::basic_tensor<T>::empty(s);
    t.fill(T(12345.5));
    return t;
}

/// True when a and b hold the same bits, or are both NaN (a NaN's payload is not part of the contract).
template <class T>
bool same_value(T a, T b) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
    return std::memcmp(&a, &b, sizeof(T)) == 0;
}

/// The index of the first element where actual differs from expected, or -1.
template <class T>
std::int64_t first_difference(const hg::basic_tensor<T>& actual, const std::vector<T>& expected) {
    for (std::int64_t i = 0; i < actual.numel(); ++i)
        if (!same_value(actual[i], expected[static_cast<std::size_t>(i)])) return i;
    return -1;
}

// 1: the serial path; 3 * 16384 + 37: a threaded split with ragged ends.
const std::vector<shape> sizes = {shape{1}, shape{13}, shape{1000, 7}, shape{3 * 16384 + 37}};

template <class T, class Fn>
void check_activation_exact(const Fn& fn, std::uint64_t seed) {
    for (const auto& s : sizes) {
        INFO("shape " << s.str());
        const auto x = with_specials<T>(s, seed++);
        const auto dy = with_specials<T>(s, seed++);
        std::vector<T> y_ref(static_cast<std::size_t>(x.numel())), dx_ref(y_ref.size());
        for (std::int64_t i = 0; i < x.numel(); ++i) {
            y_ref[static_cast<std::size_t>(i)] = fn.forward(x[i]);
            dx_ref[static_cast<std::size_t>(i)] = dy[i] * fn.grad(x[i], y_ref[static_cast<std::size_t>(i)]);
        }
        for (const int threads : thread_counts) {
            INFO("threads " << threads);
            hg::cpu_backend<T> be(threads);
            auto y = unwritten<T>(s);
            hg::ops::activation_forward(be, fn, x, y);
            CHECK(first_difference(y, y_ref) == -1);
            auto in_place = x.clone();
            hg::ops::activation_forward(be, fn, in_place, in_place);
            CHECK(first_difference(in_place, y_ref) == -1);

            auto dx = unwritten<T>(s);
            hg::ops::activation_backward(be, fn, x, y, dy, dx);
            CHECK(first_difference(dx, dx_ref) == -1);
            auto dx_in_place = dy.clone();
            hg::ops::activation_backward(be, fn, x, y, dx_in_place, dx_in_place);
            CHECK(first_difference(dx_in_place, dx_ref) == -1);
        }
    }
}

}  // namespace

TEST_CASE_TEMPLATE("elementwise exact: leaky_relu and relu give the scalar formula bit for bit, special values included",
                   T, float, double) {
    check_activation_exact<T>(hg::math::leaky_relu_fn{0.1f}, 10);
    check_activation_exact<T>(hg::math::leaky_relu_fn{0.2f}, 20);
    check_activation_exact<T>(hg::math::relu_fn{}, 30);
    // -0 stays -0 through leaky_relu (slope * -0), and relu maps it to +0; NaN stays NaN.
    hg::cpu_backend<T> be(1);
    auto x = hg::basic_tensor<T>::empty(shape{3});
    x[0] = -T(0);
    x[1] = std::numeric_limits<T>::quiet_NaN();
    x[2] = T(-2);
    auto y = unwritten<T>(shape{3});
    hg::ops::activation_forward(be, hg::math::leaky_relu_fn{0.1f}, x, y);
    CHECK(std::signbit(y[0]));
    CHECK(y[0] == T(0));
    CHECK(std::isnan(y[1]));
    CHECK(y[2] == T(-2) * static_cast<T>(0.1f));
    hg::ops::activation_forward(be, hg::math::relu_fn{}, x, y);
    CHECK(!std::signbit(y[0]));
    CHECK(y[0] == T(0));
    CHECK(y[1] == T(0));
    CHECK(y[2] == T(0));
}

TEST_CASE_TEMPLATE("elementwise exact: sigmoid and tanh kernels give the scalar formula bit for bit", T, float, double) {
    check_activation_exact<T>(hg::math::sigmoid_fn{}, 40);
    check_activation_exact<T>(hg::math::tanh_fn{}, 50);
}

TEST_CASE_TEMPLATE("elementwise exact: add, axpy, scale, fill and copy give the scalar formula bit for bit", T, float,
                   double) {
    std::uint64_t seed = 60;
    const T alpha = static_cast<T>(0.37);
    for (const auto& s : sizes) {
        INFO("shape " << s.str());
        const auto a = with_specials<T>(s, seed++);
        const auto b = with_specials<T>(s, seed++);
        const auto n = static_cast<std::size_t>(a.numel());
        std::vector<T> sum(n), axpy(n), scaled(n), filled(n, T(-0.5)), copied(n);
        for (std::size_t i = 0; i < n; ++i) {
            const auto j = static_cast<std::int64_t>(i);
            sum[i] = a[j] + b[j];
            axpy[i] = b[j] + alpha * a[j];
            scaled[i] = a[j] * alpha;
            copied[i] = a[j];
        }
        for (const int threads : thread_counts) {
            INFO("threads " << threads);
            hg::cpu_backend<T> be(threads);
            auto out = unwritten<T>(s);
            hg::ops::add(be, a, b, out);
            CHECK(first_difference(out, sum) == -1);
            auto y = b.clone();
            hg::ops::axpy(be, alpha, a, y);
            CHECK(first_difference(y, axpy) == -1);
            auto x = a.clone();
            hg::ops::scale(be, alpha, x);
            CHECK(first_difference(x, scaled) == -1);
            auto f = unwritten<T>(s);
            hg::ops::fill(be, f, T(-0.5));
            CHECK(first_difference(f, filled) == -1);
            auto c = unwritten<T>(s);
            hg::ops::copy(be, a, c);
            CHECK(first_difference(c, copied) == -1);
            hg::ops::copy(be, c, c);  // copying onto itself leaves it as it is
            CHECK(first_difference(c, copied) == -1);
        }
    }
}

TEST_CASE_TEMPLATE("elementwise exact: bias_activation_forward gives pre + b then the scalar formula bit for bit", T,
                   float, double) {
    std::uint64_t seed = 80;
    const hg::math::leaky_relu_fn fn{0.1f};
    // Channel counts of the face-swap model's convolutions (3 to 1024) and odd ones.
    for (const auto& s : {shape{2, 5, 7, 3}, shape{40, 13}, shape{2, 8, 8, 1024}, shape{3, 16, 16, 256},
                          shape{2, 9, 9, 65}}) {
        INFO("shape " << s.str());
        const std::int64_t k = s[s.rank() - 1];
        const auto b = with_specials<T>(shape{k}, seed++);
        const auto pre0 = with_specials<T>(s, seed++);
        const auto n = static_cast<std::size_t>(pre0.numel());
        std::vector<T> pre_ref(n), y_ref(n);
        for (std::size_t i = 0; i < n; ++i) {
            const auto j = static_cast<std::int64_t>(i);
            pre_ref[i] = pre0[j] + b[j % k];
            y_ref[i] = fn.forward(pre_ref[i]);
        }
        for (const int threads : thread_counts) {
            INFO("threads " << threads);
            hg::cpu_backend<T> be(threads);
            auto pre = pre0.clone();
            auto y = unwritten<T>(s);
            hg::ops::bias_activation_forward(be, fn, b, pre, y);
            CHECK(first_difference(pre, pre_ref) == -1);
            CHECK(first_difference(y, y_ref) == -1);
            auto added = pre0.clone();
            hg::ops::bias_add(be, added, b);
            CHECK(first_difference(added, pre_ref) == -1);
        }
    }
}

TEST_CASE_TEMPLATE("elementwise exact: bias_grad adds the per-channel double sum taken in row order", T, float, double) {
    std::uint64_t seed = 100;
    for (const auto& s : {shape{1, 3}, shape{2, 64, 64, 3}, shape{4, 16, 16, 70}, shape{2, 32, 32, 256},
                          shape{16, 4, 4, 2048}}) {
        INFO("shape " << s.str());
        const std::int64_t k = s[s.rank() - 1], rows = s.numel() / k;
        const auto dy = random_tensor<T>(s, seed++);
        const auto db0 = random_tensor<T>(shape{k}, seed++);
        std::vector<T> expected(static_cast<std::size_t>(k));
        for (std::int64_t c = 0; c < k; ++c) {
            double sum = 0.0;
            for (std::int64_t r = 0; r < rows; ++r) sum += static_cast<double>(dy[r * k + c]);
            expected[static_cast<std::size_t>(c)] = db0[c] + static_cast<T>(sum);
        }
        for (const int threads : thread_counts) {
            INFO("threads " << threads);
            hg::cpu_backend<T> be(threads);
            auto db = db0.clone();
            hg::ops::bias_grad(be, dy, db);
            CHECK(first_difference(db, expected) == -1);
        }
    }
}

TEST_CASE_TEMPLATE("elementwise exact: pixel shuffle follows the index map at the face-swap model's channel counts", T,
                   float, double) {
    std::uint64_t seed = 120;
    // Space side [N, 2H, 2W, C]: the model's four upscales (C = 512, 256, 128, 64), and odd C.
    for (const auto& big : {shape{2, 8, 8, 512}, shape{2, 16, 16, 256}, shape{3, 32, 32, 128}, shape{2, 64, 64, 64},
                            shape{3, 6, 10, 7}, shape{1, 2, 2, 1}}) {
        INFO("space side " << big.str());
        const shape small{big.n(), big.h() / 2, big.w() / 2, big.c() * 4};
        const auto depth = with_specials<T>(small, seed++);
        const auto space = with_specials<T>(big, seed++);
        const auto n = static_cast<std::size_t>(big.numel());
        std::vector<T> d2s_ref(n), s2d_ref(n);
        for (std::int64_t o = 0; o < big.numel(); ++o) {
            const std::int64_t src = hg::math::depth_to_space_source(o, big.h(), big.w(), big.c());
            d2s_ref[static_cast<std::size_t>(o)] = depth[src];
            s2d_ref[static_cast<std::size_t>(src)] = space[o];
        }
        for (const int threads : thread_counts) {
            INFO("threads " << threads);
            hg::cpu_backend<T> be(threads);
            auto d2s = unwritten<T>(big);
            hg::ops::depth_to_space(be, depth, d2s);
            CHECK(first_difference(d2s, d2s_ref) == -1);
            auto s2d = unwritten<T>(small);
            hg::ops::space_to_depth(be, space, s2d);
            CHECK(first_difference(s2d, s2d_ref) == -1);
        }
    }
}
