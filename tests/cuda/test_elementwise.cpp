// CUDA per-element ops and pixel shuffle against the CPU ops on random inputs of many sizes. Every
// device operand is a view inside a NaN-filled buffer, at offset 0 (16-byte aligned: the float4
// path) or 1 (misaligned: the scalar path), with NaN guard elements after it; outputs start as NaN,
// so an unwritten element or a write outside the view shows up. Exact (bitwise) agreement where
// both backends do the same float operations; sigmoid and tanh (device expf/tanhf differ from the
// host's by an ulp or two) to relative 1e-6 and max-abs 2e-7.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"
#include "hourglass/math/activations.hpp"
#include "cuda/device_views.hpp"
#include "support/test_support.hpp"

namespace {

using hg::test::device_view;
using hg::test::download;
using hg::test::poisoned;
using hg::test::upload;

/// Index of the first element whose bits differ, or -1 when the tensors are identical.
std::int64_t first_difference(const hg::tensor& got, const hg::tensor& want) {
    REQUIRE(got.numel() == want.numel());
    for (std::int64_t i = 0; i < got.numel(); ++i)
        if (std::memcmp(got.data() + i, want.data() + i, sizeof(float)) != 0) return i;
    return -1;
}

void check_identical(const hg::tensor& got, const hg::tensor& want) { CHECK(first_difference(got, want) == -1); }

void check_close(const hg::tensor& got, const hg::tensor& want, double relative, double max_abs) {
    CHECK(hg::test::relative_error(got, want) <= relative);
    CHECK(hg::test::max_abs_difference(got, want) <= max_abs);
}

/// Sizes: tails of 0 to 3 elements after the float4 groups, odd NHWC shapes, and one large enough
/// that the grid-stride loops go round more than once.
std::vector<hg::shape> sizes() {
    return {hg::shape{1},          hg::shape{3},         hg::shape{4},          hg::shape{6},
            hg::shape{1000},       hg::shape{65537},     hg::shape{1, 5, 7, 12}, hg::shape{3, 9, 11, 20},
            hg::shape{1, 3, 5, 7}, hg::shape{4194307}};
}

/// Where each operand sits: element offset of inputs and output, or the output aliasing an input.
struct placement {
    std::int64_t in = 0, out = 0;
    bool in_place = false;
};

const placement placements[] = {{0, 0, false}, {1, 1, false}, {0, 1, false}, {1, 0, false}, {0, 0, true},
                                {1, 1, true}};

/// Calls f(name, fn, exact) for every activation functor the CUDA backend instantiates.
template <class F>
void for_each_activation(F&& f) {
    f("leaky_relu(0.1)", hg::math::leaky_relu_fn{0.1f}, true);
    f("leaky_relu(0.2)", hg::math::leaky_relu_fn{0.2f}, true);
    f("relu", hg::math::relu_fn{}, true);
    f("sigmoid", hg::math::sigmoid_fn{}, false);
    f("tanh", hg::math::tanh_fn{}, false);
}

void check_activation(const hg::tensor& got, const hg::tensor& want, bool exact) {
    if (exact)
        check_identical(got, want);
    else
        check_close(got, want, 1e-6, 2e-7);
}

/// Random values in [-4, 4), starting with 0, -0 and two saturating values when there is room.
hg::tensor activation_input(const hg::shape& s, std::uint64_t seed) {
    auto x = hg::test::random_tensor<float>(s, seed, -4.0, 4.0);
    const float specials[] = {0.f, -0.f, 20.f, -20.f};
    for (std::int64_t i = 0; i < std::min<std::int64_t>(4, x.numel()); ++i) x[i] = specials[i];
    return x;
}

}  // namespace

TEST_CASE("cuda elementwise: device buffers are 16-byte aligned, so offset 0 takes the float4 path") {
    hg::cuda be;
    for (std::int64_t n : {1, 5, 1000}) {
        CAPTURE(n);
        CHECK(reinterpret_cast<std::uintptr_t>(be.empty(hg::shape{n}).data()) % 16 == 0);
        CHECK(reinterpret_cast<std::uintptr_t>(be.to_device(hg::tensor::zeros(hg::shape{n})).data()) % 16 == 0);
    }
}

TEST_CASE("cuda elementwise: activation forward matches the CPU for every functor, size and placement") {
    hg::cuda be;
    hg::cpu host;
    std::uint64_t seed = 100;
    for (const hg::shape& s : sizes()) {
        const auto x = activation_input(s, ++seed);
        for_each_activation([&](const char* name, const auto& fn, bool exact) {
            auto want = hg::tensor::empty(s);
            hg::ops::activation_forward(host, fn, x, want);
            for (const placement& p : placements) {
                CAPTURE(name);
                CAPTURE(s);
                CAPTURE(p.in);
                CAPTURE(p.out);
                CAPTURE(p.in_place);
                const auto dx = upload(be, x, p.in);
                if (p.in_place) {
                    hg::ops::activation_forward(be, fn, dx.view, dx.view);
                    check_activation(download(be, dx), want, exact);
                } else {
                    const auto dy = poisoned(be, s, p.out);
                    hg::ops::activation_forward(be, fn, dx.view, dy.view);
                    check_activation(download(be, dy), want, exact);
                }
            }
        });
    }
}

TEST_CASE("cuda elementwise: activation backward matches the CPU for every functor, size and placement") {
    hg::cuda be;
    hg::cpu host;
    std::uint64_t seed = 200;
    for (const hg::shape& s : sizes()) {
        const auto x = activation_input(s, ++seed);
        const auto dy = hg::test::random_tensor<float>(s, ++seed);
        for_each_activation([&](const char* name, const auto& fn, bool exact) {
            auto y = hg::tensor::empty(s);
            hg::ops::activation_forward(host, fn, x, y);
            auto want = hg::tensor::empty(s);
            hg::ops::activation_backward(host, fn, x, y, dy, want);
            for (const placement& p : placements) {
                CAPTURE(name);
                CAPTURE(s);
                CAPTURE(p.in);
                CAPTURE(p.out);
                CAPTURE(p.in_place);
                const auto d_x = upload(be, x, p.in);
                const auto d_y = upload(be, y, p.in);
                const auto d_dy = upload(be, dy, p.in);
                if (p.in_place) {  // dx overwrites dy
                    hg::ops::activation_backward(be, fn, d_x.view, d_y.view, d_dy.view, d_dy.view);
                    check_activation(download(be, d_dy), want, exact);
                } else {
                    const auto d_dx = poisoned(be, s, p.out);
                    hg::ops::activation_backward(be, fn, d_x.view, d_y.view, d_dy.view, d_dx.view);
                    check_activation(download(be, d_dx), want, exact);
                }
            }
        });
    }
}

TEST_CASE("cuda elementwise: add matches the CPU bit for bit, in place included") {
    hg::cuda be;
    hg::cpu host;
    std::uint64_t seed = 300;
    for (const hg::shape& s : sizes()) {
        const auto a = hg::test::random_tensor<float>(s, ++seed);
        const auto b = hg::test::random_tensor<float>(s, ++seed);
        auto want = hg::tensor::empty(s);
        hg::ops::add(host, a, b, want);
        for (const placement& p : placements) {
            CAPTURE(s);
            CAPTURE(p.in);
            CAPTURE(p.out);
            CAPTURE(p.in_place);
            const auto da = upload(be, a, p.in);
            // b at the output's offset, so mixed alignments of the two inputs occur too.
            const auto db = upload(be, b, p.out);
            if (p.in_place) {
                hg::ops::add(be, da.view, db.view, da.view);
                check_identical(download(be, da), want);
                const auto da2 = upload(be, a, p.in);
                hg::ops::add(be, da2.view, db.view, db.view);
                check_identical(download(be, db), want);
            } else {
                const auto dout = poisoned(be, s, p.out);
                hg::ops::add(be, da.view, db.view, dout.view);
                check_identical(download(be, dout), want);
            }
        }
    }
}

TEST_CASE("cuda elementwise: axpy matches the CPU") {
    hg::cuda be;
    hg::cpu host;
    std::uint64_t seed = 400;
    for (const float alpha : {0.37f, -2.5f}) {
        for (const hg::shape& s : sizes()) {
            const auto x = hg::test::random_tensor<float>(s, ++seed);
            const auto y = hg::test::random_tensor<float>(s, ++seed);
            for (const placement& p : placements) {
                CAPTURE(alpha);
                CAPTURE(s);
                CAPTURE(p.in);
                CAPTURE(p.out);
                CAPTURE(p.in_place);
                // Both backends round alpha * x before the sum; 1 ulp of slack in case the host
                // compiler contracts the CPU loop into an FMA.
                if (p.in_place) {  // y aliases x: x += alpha * x
                    auto want = x.clone();
                    hg::ops::axpy(host, alpha, want, want);
                    const auto dx = upload(be, x, p.in);
                    hg::ops::axpy(be, alpha, dx.view, dx.view);
                    check_close(download(be, dx), want, 1e-6, 1e-6);
                } else {
                    auto want = y.clone();
                    hg::ops::axpy(host, alpha, x, want);
                    const auto dx = upload(be, x, p.in);
                    const auto dy = upload(be, y, p.out);
                    hg::ops::axpy(be, alpha, dx.view, dy.view);
                    check_close(download(be, dy), want, 1e-6, 1e-6);
                }
            }
        }
    }
}

TEST_CASE("cuda elementwise: scale and fill match the CPU bit for bit") {
    hg::cuda be;
    hg::cpu host;
    std::uint64_t seed = 500;
    for (const hg::shape& s : sizes()) {
        const auto x = hg::test::random_tensor<float>(s, ++seed);
        for (const std::int64_t offset : {0, 1}) {
            CAPTURE(s);
            CAPTURE(offset);
            for (const float alpha : {-1.5f, 0.f}) {
                CAPTURE(alpha);
                auto want = x.clone();
                hg::ops::scale(host, alpha, want);
                const auto dx = upload(be, x, offset);
                hg::ops::scale(be, alpha, dx.view);
                check_identical(download(be, dx), want);
            }
            for (const float value : {0.625f, 0.f}) {
                CAPTURE(value);
                const auto dx = poisoned(be, s, offset);
                hg::ops::fill(be, dx.view, value);
                check_identical(download(be, dx), hg::tensor::full(s, value));
            }
        }
    }
}

TEST_CASE("cuda elementwise: copy between any shapes of equal element count") {
    hg::cuda be;
    std::uint64_t seed = 600;
    for (const hg::shape& s : sizes()) {
        const auto x = hg::test::random_tensor<float>(s, ++seed);
        const hg::shape flat{x.numel()};
        for (const placement& p : placements) {
            CAPTURE(s);
            CAPTURE(p.in);
            CAPTURE(p.out);
            CAPTURE(p.in_place);
            const auto src = upload(be, x, p.in);
            if (p.in_place) {
                hg::ops::copy(be, src.view, src.view);
                check_identical(download(be, src), x);
            } else {
                const auto dst = poisoned(be, flat, p.out);
                hg::ops::copy(be, src.view, dst.view);
                check_identical(download(be, dst), x.view(flat));
            }
        }
    }
    const auto a = be.empty(hg::shape{2, 3});
    CHECK_THROWS_AS(hg::ops::copy(be, a, be.empty(hg::shape{7})), hg::shape_error);
}

TEST_CASE("cuda elementwise: depth_to_space and space_to_depth match the CPU bit for bit") {
    hg::cuda be;
    hg::cpu host;
    std::uint64_t seed = 700;
    // Big-side shapes [N, 2H, 2W, C]: C a multiple of 4 (float4 path) or not, batch 1, one large
    // enough for the grid-stride loop to go round more than once.
    const hg::shape bigs[] = {hg::shape{1, 2, 2, 1},    hg::shape{1, 4, 6, 3},   hg::shape{2, 6, 4, 8},
                              hg::shape{3, 10, 14, 20}, hg::shape{1, 8, 8, 12},  hg::shape{2, 6, 10, 5},
                              hg::shape{8, 64, 64, 64}};
    for (const hg::shape& big : bigs) {
        const hg::shape small{big.n(), big.h() / 2, big.w() / 2, big.c() * 4};
        const auto x_small = hg::test::random_tensor<float>(small, ++seed);
        const auto x_big = hg::test::random_tensor<float>(big, ++seed);
        auto want_big = hg::tensor::empty(big);
        hg::ops::depth_to_space(host, x_small, want_big);
        auto want_small = hg::tensor::empty(small);
        hg::ops::space_to_depth(host, x_big, want_small);
        for (const placement& p : placements) {
            if (p.in_place) continue;  // a permutation cannot run in place
            CAPTURE(big);
            CAPTURE(p.in);
            CAPTURE(p.out);
            {
                const auto in = upload(be, x_small, p.in);
                const auto out = poisoned(be, big, p.out);
                hg::ops::depth_to_space(be, in.view, out.view);
                check_identical(download(be, out), want_big);
                // Its inverse restores the input exactly.
                const auto back = poisoned(be, small, p.in);
                hg::ops::space_to_depth(be, out.view, back.view);
                check_identical(download(be, back), x_small);
            }
            {
                const auto in = upload(be, x_big, p.in);
                const auto out = poisoned(be, small, p.out);
                hg::ops::space_to_depth(be, in.view, out.view);
                check_identical(download(be, out), want_small);
            }
        }
    }
    CHECK_THROWS_AS(hg::ops::depth_to_space(be, be.empty(hg::shape{1, 2, 2, 4}), be.empty(hg::shape{1, 3, 4, 1})),
                    hg::shape_error);
    CHECK_THROWS_AS(hg::ops::depth_to_space(be, be.empty(hg::shape{1, 2, 2, 8}), be.empty(hg::shape{1, 4, 4, 1})),
                    hg::shape_error);
    CHECK_THROWS_AS(hg::ops::space_to_depth(be, be.empty(hg::shape{1, 4, 4, 1}), be.empty(hg::shape{1, 2, 2, 2})),
                    hg::shape_error);
}

TEST_CASE("cuda elementwise: zero-element tensors are accepted and nothing runs") {
    hg::cuda be;
    const auto z = be.empty(hg::shape{0});
    hg::ops::activation_forward(be, hg::math::leaky_relu_fn{0.1f}, z, z);
    hg::ops::activation_backward(be, hg::math::sigmoid_fn{}, z, z, z, z);
    hg::ops::add(be, z, z, z);
    hg::ops::axpy(be, 2.f, z, z);
    hg::ops::scale(be, 2.f, z);
    hg::ops::fill(be, z, 1.f);
    hg::ops::copy(be, z, be.empty(hg::shape{2, 0}));
    hg::ops::depth_to_space(be, be.empty(hg::shape{1, 0, 2, 4}), be.empty(hg::shape{1, 0, 4, 1}));
    hg::ops::space_to_depth(be, be.empty(hg::shape{1, 0, 4, 1}), be.empty(hg::shape{1, 0, 2, 4}));
    CHECK_NOTHROW(be.synchronize());
}

TEST_CASE("cuda elementwise: host tensors and mismatched shapes are rejected") {
    hg::cuda be;
    const hg::shape s{2, 4, 4, 4};
    const auto d = be.empty(s);
    const auto h = hg::tensor::zeros(s);
    const auto wrong = be.empty(hg::shape{2, 4, 4, 5});
    const hg::math::tanh_fn fn{};
    CHECK_THROWS_AS(hg::ops::activation_forward(be, fn, h, d), hg::device_error);
    CHECK_THROWS_AS(hg::ops::activation_forward(be, fn, d, h), hg::device_error);
    CHECK_THROWS_AS(hg::ops::activation_forward(be, fn, d, wrong), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::activation_backward(be, fn, d, d, h, d), hg::device_error);
    CHECK_THROWS_AS(hg::ops::activation_backward(be, fn, d, d, d, h), hg::device_error);
    CHECK_THROWS_AS(hg::ops::activation_backward(be, fn, d, wrong, d, d), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::add(be, d, h, d), hg::device_error);
    CHECK_THROWS_AS(hg::ops::add(be, d, d, h), hg::device_error);
    CHECK_THROWS_AS(hg::ops::add(be, d, wrong, d), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::axpy(be, 1.f, h, d), hg::device_error);
    CHECK_THROWS_AS(hg::ops::axpy(be, 1.f, d, wrong), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::scale(be, 1.f, h), hg::device_error);
    CHECK_THROWS_AS(hg::ops::fill(be, h, 1.f), hg::device_error);
    CHECK_THROWS_AS(hg::ops::copy(be, h, d), hg::device_error);
    CHECK_THROWS_AS(hg::ops::copy(be, d, h), hg::device_error);
    CHECK_THROWS_AS(hg::ops::depth_to_space(be, hg::tensor::zeros(hg::shape{2, 2, 2, 16}), d), hg::device_error);
    CHECK_THROWS_AS(hg::ops::space_to_depth(be, h, be.empty(hg::shape{2, 2, 2, 16})), hg::device_error);
    CHECK_THROWS_AS(hg::ops::fill(be, hg::tensor(), 1.f), hg::shape_error);
    // The CPU ops refuse device tensors the same way.
    hg::cpu host;
    CHECK_THROWS_AS(hg::ops::fill(host, d, 1.f), hg::device_error);
}
