// CUDA full reductions (sum, mean, max_abs, l2_norm, min, max) against the CPU's float64 result on random
// inputs of many sizes, at every alignment of the first element (the kernel reads 0 to 3 leading
// elements singly, then float4 groups, then 0 to 3 trailing ones); NaN propagation of max_abs, min and max;
// known values; back-to-back reductions sharing the workspace; argument checks.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"
#include "support/test_support.hpp"

namespace {

using hg::ops::reduction;

constexpr reduction all_kinds[] = {reduction::sum,     reduction::mean, reduction::max_abs,
                                   reduction::l2_norm, reduction::min,  reduction::max};

const char* kind_name(reduction kind) {
    switch (kind) {
        case reduction::sum: return "sum";
        case reduction::mean: return "mean";
        case reduction::max_abs: return "max_abs";
        case reduction::l2_norm: return "l2_norm";
        case reduction::min: return "min";
        case reduction::max: return "max";
    }
    return "?";
}

/// x uploaded at element `offset` of a device buffer, so its first element has that misalignment;
/// the buffer's other elements are 1e30, which would show in every kind if the kernel read them.
struct device_input {
    hg::tensor buffer;
    hg::tensor view;
};

device_input upload_at(const hg::cuda& be, const hg::tensor& host, std::int64_t offset) {
    auto whole = hg::tensor::full(hg::shape{offset + host.numel() + 4}, 1e30f);
    std::copy(host.data(), host.data() + host.numel(), whole.data() + offset);
    auto buffer = be.to_device(whole);
    auto view = buffer.slice(offset, host.shape());
    return {buffer, view};
}

/// Runs the CUDA reduction into a 1-element device tensor that starts as `poison`; returns it.
float reduce_on_device(const hg::cuda& be, reduction kind, const hg::tensor& x, float poison) {
    const auto out = be.to_device(hg::tensor::full(hg::shape{1}, poison));
    hg::ops::reduce(be, kind, x, out);
    return be.to_host(out)[0];
}

/// |got - want| within 1e-6 relative, plus the rounding of two float64 sums in different orders
/// (each term is at most 1 here, so at most count * 1e-16 apart).
void check_reduction(float got, double want, std::int64_t count) {
    CHECK(std::isfinite(got));
    CHECK(std::abs(static_cast<double>(got) - want) <= 1e-6 * std::abs(want) + 1e-12 * static_cast<double>(count));
}

}  // namespace

TEST_CASE("cuda reduce: every kind matches the CPU's float64 result for every size and alignment") {
    hg::cuda be;
    hg::cpu host;
    std::uint64_t seed = 900;
    const hg::shape shapes[] = {hg::shape{1},     hg::shape{2},       hg::shape{3},          hg::shape{4},
                                hg::shape{5},     hg::shape{7},       hg::shape{1000},       hg::shape{65537},
                                hg::shape{1, 5, 7, 12}, hg::shape{3, 9, 11, 20}, hg::shape{4194307}};
    for (const hg::shape& s : shapes) {
        const auto x = hg::test::random_tensor<float>(s, ++seed);
        for (const std::int64_t offset : {0, 1, 2, 3}) {
            const auto d = upload_at(be, x, offset);
            for (const reduction kind : all_kinds) {
                CAPTURE(s);
                CAPTURE(offset);
                CAPTURE(kind_name(kind));
                const double want = hg::ops::detail::cpu_reduce(host, x, kind);
                check_reduction(reduce_on_device(be, kind, d.view, std::numeric_limits<float>::quiet_NaN()), want,
                                x.numel());
            }
        }
    }
}

TEST_CASE("cuda reduce: known values") {
    hg::cuda be;
    const std::int64_t n = 65537;
    const auto ones = be.to_device(hg::tensor::full(hg::shape{n}, 1.f));
    const float nan_value = std::numeric_limits<float>::quiet_NaN();
    CHECK(reduce_on_device(be, reduction::sum, ones, nan_value) == static_cast<float>(n));
    CHECK(reduce_on_device(be, reduction::mean, ones, nan_value) == 1.f);
    CHECK(reduce_on_device(be, reduction::max_abs, ones, nan_value) == 1.f);
    CHECK(reduce_on_device(be, reduction::l2_norm, ones, nan_value) ==
          static_cast<float>(std::sqrt(static_cast<double>(n))));
    const auto negative = be.to_device(hg::tensor::from_vector(hg::shape{5}, {-3.f, -1.f, -7.5f, -2.f, 0.f}));
    CHECK(reduce_on_device(be, reduction::max_abs, negative, nan_value) == 7.5f);
    CHECK(reduce_on_device(be, reduction::sum, negative, nan_value) == -13.5f);
    CHECK(reduce_on_device(be, reduction::mean, negative, nan_value) == -2.7f);
    CHECK(reduce_on_device(be, reduction::l2_norm, negative, nan_value) ==
          static_cast<float>(std::sqrt(9.0 + 1.0 + 56.25 + 4.0)));
    CHECK(reduce_on_device(be, reduction::min, negative, nan_value) == -7.5f);
    CHECK(reduce_on_device(be, reduction::max, negative, nan_value) == 0.f);
    // All negative: max must not return the sums' identity 0.
    const auto below = be.to_device(hg::tensor::from_vector(hg::shape{3}, {-3.f, -1.f, -7.5f}));
    CHECK(reduce_on_device(be, reduction::max, below, nan_value) == -1.f);
    CHECK(reduce_on_device(be, reduction::min, ones, nan_value) == 1.f);
}

TEST_CASE("cuda reduce: max_abs, min and max are NaN when any element is NaN, wherever it is") {
    hg::cuda be;
    for (const std::int64_t n : {1, 5, 1000, 65537, 4194307}) {
        const auto x = hg::test::random_tensor<float>(hg::shape{n}, static_cast<std::uint64_t>(n));
        for (const std::int64_t pos : {std::int64_t{0}, n / 2, n - 1}) {
            auto with_nan = x.clone();
            with_nan[pos] = std::numeric_limits<float>::quiet_NaN();
            for (const std::int64_t offset : {0, 1}) {
                CAPTURE(n);
                CAPTURE(pos);
                CAPTURE(offset);
                const auto d = upload_at(be, with_nan, offset);
                // out starts finite, so a kernel that skipped the NaN would leave a number.
                CHECK(std::isnan(reduce_on_device(be, reduction::max_abs, d.view, 0.f)));
                CHECK(std::isnan(reduce_on_device(be, reduction::min, d.view, 0.f)));
                CHECK(std::isnan(reduce_on_device(be, reduction::max, d.view, 0.f)));
                auto with_inf = x.clone();
                with_inf[pos] = -std::numeric_limits<float>::infinity();
                const auto e = upload_at(be, with_inf, offset);
                CHECK(reduce_on_device(be, reduction::max_abs, e.view, 0.f) == std::numeric_limits<float>::infinity());
            }
        }
    }
}

TEST_CASE("cuda reduce: back-to-back reductions of different sizes stay stream-ordered") {
    hg::cuda be;
    hg::cpu host;
    const auto small = hg::test::random_tensor<float>(hg::shape{37}, 1);
    const auto big = hg::test::random_tensor<float>(hg::shape{3000001}, 2);
    const auto d_small = be.to_device(small);
    const auto d_big = be.to_device(big);
    std::vector<hg::tensor> outs;
    for (int i = 0; i < 4; ++i) outs.push_back(be.empty(hg::shape{1}));
    // No host sync in between: the workspace is reused (and grown) on the same stream.
    hg::ops::reduce(be, reduction::sum, d_small, outs[0]);
    hg::ops::reduce(be, reduction::l2_norm, d_big, outs[1]);
    hg::ops::reduce(be, reduction::mean, d_small, outs[2]);
    hg::ops::reduce(be, reduction::max_abs, d_big, outs[3]);
    check_reduction(be.to_host(outs[0])[0], hg::ops::detail::cpu_reduce(host, small, reduction::sum), small.numel());
    check_reduction(be.to_host(outs[1])[0], hg::ops::detail::cpu_reduce(host, big, reduction::l2_norm), big.numel());
    check_reduction(be.to_host(outs[2])[0], hg::ops::detail::cpu_reduce(host, small, reduction::mean), small.numel());
    check_reduction(be.to_host(outs[3])[0], hg::ops::detail::cpu_reduce(host, big, reduction::max_abs), big.numel());
}

TEST_CASE("cuda reduce: wrong devices, empty inputs and wrong output shapes are rejected") {
    hg::cuda be;
    const auto x = be.empty(hg::shape{8});
    const auto out = be.empty(hg::shape{1});
    CHECK_THROWS_AS(hg::ops::reduce(be, reduction::sum, hg::tensor::zeros(hg::shape{8}), out), hg::device_error);
    CHECK_THROWS_AS(hg::ops::reduce(be, reduction::sum, x, hg::tensor::zeros(hg::shape{1})), hg::device_error);
    CHECK_THROWS_AS(hg::ops::reduce(be, reduction::sum, x, be.empty(hg::shape{2})), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::reduce(be, reduction::mean, be.empty(hg::shape{0}), out), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::reduce(be, reduction::max_abs, hg::tensor(), out), hg::shape_error);
}
