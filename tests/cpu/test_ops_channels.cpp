// ops::copy_channels on the CPU (float and double): slicing and joining channel ranges against a
// naive index loop, the untouched channels of the destination, the adjoint identity that makes the
// op its own backward (<copy(x), g> = <x, copy^T(g)>), and the argument errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "hourglass/hourglass.hpp"
#include "support/test_support.hpp"

TEST_CASE("copy_channels slices and joins channel ranges like a naive loop") {
    hg::cpu be(2);
    const auto y = hg::test::random_tensor<float>(hg::shape{3, 5, 6, 4}, 11);
    auto rgb = hg::tensor::full(hg::shape{3, 5, 6, 3}, -7.f);
    auto m = hg::tensor::full(hg::shape{3, 5, 6, 1}, -7.f);
    hg::ops::copy_channels(be, y, 0, rgb, 0, 3);
    hg::ops::copy_channels(be, y, 3, m, 0, 1);
    const std::int64_t rows = 3 * 5 * 6;
    for (std::int64_t r = 0; r < rows; ++r) {
        for (std::int64_t k = 0; k < 3; ++k) REQUIRE(rgb[r * 3 + k] == y[r * 4 + k]);
        REQUIRE(m[r] == y[r * 4 + 3]);
    }
    // Join them back: the original tensor, bit for bit.
    auto joined = hg::tensor::full(y.shape(), std::numeric_limits<float>::quiet_NaN());
    hg::ops::copy_channels(be, rgb, 0, joined, 0, 3);
    hg::ops::copy_channels(be, m, 0, joined, 3, 1);
    for (std::int64_t i = 0; i < y.numel(); ++i) REQUIRE(joined[i] == y[i]);
}

TEST_CASE("copy_channels leaves the destination's other channels alone") {
    hg::cpu be(1);
    const auto src = hg::test::random_tensor<float>(hg::shape{2, 3, 3, 7}, 12);
    auto dst = hg::tensor::full(hg::shape{2, 3, 3, 5}, 42.f);
    hg::ops::copy_channels(be, src, 2, dst, 1, 3);
    for (std::int64_t r = 0; r < 18; ++r)
        for (std::int64_t c = 0; c < 5; ++c) {
            CAPTURE(r);
            CAPTURE(c);
            if (c >= 1 && c < 4) CHECK(dst[r * 5 + c] == src[r * 7 + 2 + (c - 1)]);
            else CHECK(dst[r * 5 + c] == 42.f);
        }
    // count 0 writes nothing
    auto untouched = hg::tensor::full(hg::shape{2, 3, 3, 5}, 1.f);
    hg::ops::copy_channels(be, src, 7, untouched, 5, 0);
    for (std::int64_t i = 0; i < untouched.numel(); ++i) REQUIRE(untouched[i] == 1.f);
}

TEST_CASE("copy_channels is its own adjoint in double precision") {
    // The backward of a channel slice y -> y[..., f:f+n] is the scatter of the gradient into those
    // channels of a zero tensor: the same op with source and destination swapped. Check
    // <S x, g> = <x, S^T g> on random data, with S^T computed by copy_channels.
    hg::cpu64 be(2);
    const hg::shape big{2, 4, 3, 6}, small{2, 4, 3, 2};
    const auto x = hg::test::random_tensor<double>(big, 21);
    const auto g = hg::test::random_tensor<double>(small, 22);
    auto sx = hg::basic_tensor<double>::zeros(small);
    hg::ops::copy_channels(be, x, 3, sx, 0, 2);
    auto stg = hg::basic_tensor<double>::zeros(big);
    hg::ops::copy_channels(be, g, 0, stg, 3, 2);
    double lhs = 0, rhs = 0;
    for (std::int64_t i = 0; i < sx.numel(); ++i) lhs += sx[i] * g[i];
    for (std::int64_t i = 0; i < x.numel(); ++i) rhs += x[i] * stg[i];
    CHECK(lhs == doctest::Approx(rhs).epsilon(1e-14));
    // The channels the slice did not read get a zero gradient.
    for (std::int64_t r = 0; r < 24; ++r)
        for (std::int64_t c = 0; c < 6; ++c)
            if (c < 3 || c >= 5) REQUIRE(stg[r * 6 + c] == 0.0);
}

TEST_CASE("copy_channels rejects bad ranges, mismatched leading extents and overlap") {
    hg::cpu be(1);
    const auto src = hg::tensor::zeros(hg::shape{2, 4, 4, 4});
    const auto dst = hg::tensor::zeros(hg::shape{2, 4, 4, 3});
    CHECK_THROWS_AS(hg::ops::copy_channels(be, src, 2, dst, 0, 3), hg::shape_error);   // past src's channels
    CHECK_THROWS_AS(hg::ops::copy_channels(be, src, 0, dst, 1, 3), hg::shape_error);   // past dst's channels
    CHECK_THROWS_AS(hg::ops::copy_channels(be, src, -1, dst, 0, 1), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::copy_channels(be, src, 0, dst, 0, -1), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::copy_channels(be, src, 0, hg::tensor::zeros(hg::shape{2, 4, 5, 3}), 0, 3), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::copy_channels(be, src, 0, hg::tensor::zeros(hg::shape{32, 3}), 0, 3), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::copy_channels(be, src, 0, src.slice(0, hg::shape{2, 4, 4, 3}), 0, 3), hg::value_error);
    CHECK_THROWS_AS(hg::ops::copy_channels(be, src, 0, hg::tensor(), 0, 3), hg::shape_error);
    try {
        hg::ops::copy_channels(be, src, 2, dst, 0, 3);
    } catch (const hg::shape_error& e) {
        CHECK(std::string(e.what()).find("copy_channels") != std::string::npos);
        CHECK(std::string(e.what()).find("'src'") != std::string::npos);
    }
}
