// CUDA bias_add and bias_grad against the CPU ops on random inputs of many shapes (one channel to
// a thousand, a few rows to 70000 rows, so the column reduction runs with one and with many row
// chunks). bias_add does the same float addition as the CPU: bitwise equal. bias_grad adds into a
// random db (proving accumulation); tolerance relative 1e-5 against a double-precision sum.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"
#include "support/test_support.hpp"

namespace {

constexpr double fp32_tolerance = 1e-5;

const std::vector<hg::shape>& bias_shapes() {
    static const std::vector<hg::shape> shapes = {
        hg::shape{2, 3, 5, 7}, hg::shape{1000, 3}, hg::shape{4, 64},  hg::shape{70000, 13}, hg::shape{5, 1},
        hg::shape{3, 1000},    hg::shape{2, 2, 2, 300}, hg::shape{1, 1}, hg::shape{16, 8, 8, 1024}, hg::shape{257},
    };
    return shapes;
}

std::int64_t channels_of(const hg::shape& s) { return s[s.rank() - 1]; }

}  // namespace

TEST_CASE("cuda bias_add: adds the bias to every row exactly as the CPU does") {
    hg::cuda gpu;
    hg::cpu cpu(1);
    std::uint64_t seed = 1;
    for (const hg::shape& s : bias_shapes()) {
        CAPTURE(s.str());
        const auto y0 = hg::test::random_tensor<float>(s, seed++);
        const auto b = hg::test::random_tensor<float>(hg::shape{channels_of(s)}, seed++);
        auto expected = y0.clone();
        hg::ops::bias_add(cpu, expected, b);
        const auto y = gpu.to_device(y0);
        hg::ops::bias_add(gpu, y, gpu.to_device(b));
        CHECK(hg::test::max_abs_difference(gpu.to_host(y), expected) == 0.0);
    }
}

TEST_CASE("cuda bias_grad: adds the column sums of dy into db") {
    hg::cuda gpu;
    std::uint64_t seed = 50;
    for (const hg::shape& s : bias_shapes()) {
        CAPTURE(s.str());
        const std::int64_t k = channels_of(s);
        const auto dy = hg::test::random_tensor<float>(s, seed++);
        const auto db0 = hg::test::random_tensor<float>(hg::shape{k}, seed++);
        auto expected = hg::basic_tensor<double>::empty(hg::shape{k});
        for (std::int64_t c = 0; c < k; ++c) expected[c] = static_cast<double>(db0[c]);
        for (std::int64_t i = 0; i < dy.numel(); ++i) expected[i % k] += static_cast<double>(dy[i]);
        const auto db = gpu.to_device(db0);
        hg::ops::bias_grad(gpu, gpu.to_device(dy), db);
        const auto got = gpu.to_host(db);
        CHECK(hg::test::all_finite(got));
        CHECK(hg::test::relative_error(got, expected) <= fp32_tolerance);
    }
}

TEST_CASE("cuda bias ops: wrong shapes and host tensors are refused") {
    hg::cuda gpu;
    const auto y = gpu.empty(hg::shape{4, 6}), b = gpu.empty(hg::shape{6});
    CHECK_THROWS_AS(hg::ops::bias_add(gpu, y, gpu.empty(hg::shape{5})), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::bias_add(gpu, y, gpu.empty(hg::shape{2, 3})), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::bias_add(gpu, hg::tensor::zeros(hg::shape{4, 6}), b), hg::device_error);
    CHECK_THROWS_AS(hg::ops::bias_add(gpu, y, hg::tensor::zeros(hg::shape{6})), hg::device_error);
    CHECK_THROWS_AS(hg::ops::bias_grad(gpu, y, gpu.empty(hg::shape{4})), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::bias_grad(gpu, hg::tensor::zeros(hg::shape{4, 6}), b), hg::device_error);
    CHECK_THROWS_AS(hg::ops::bias_grad(gpu, y, hg::tensor::zeros(hg::shape{6})), hg::device_error);
    CHECK_THROWS_AS(hg::ops::bias_grad(gpu, y, hg::tensor()), hg::shape_error);
}
