// CUDA dense op (cuBLAS) against the CPU op on random inputs: forward writes y, backward-data
// writes dx, backward-filter adds into pre-filled dw and db. Tolerance: relative 1e-5 (float32
// products of up to 16384 terms summed in a different order; TF32 off).
#include <doctest/doctest.h>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"
#include "support/test_support.hpp"

namespace {

constexpr double fp32_tolerance = 1e-5;

struct dense_case {
    std::int64_t n, in, out;
};

}  // namespace

TEST_CASE("cuda dense: forward, backward-data and accumulating backward-filter match the CPU") {
    hg::cuda gpu;
    gpu.poison_allocations(true);
    hg::cpu cpu;
    for (const dense_case c : {dense_case{1, 1, 1}, dense_case{2, 7, 13}, dense_case{3, 4096, 5},
                               dense_case{16, 1024, 1023}, dense_case{5, 333, 77}}) {
        CAPTURE(c.n);
        CAPTURE(c.in);
        CAPTURE(c.out);
        const std::uint64_t seed = static_cast<std::uint64_t>(c.n * 1000 + c.in + c.out);
        const auto x = hg::test::random_tensor<float>(hg::shape{c.n, c.in}, seed);
        const auto w = hg::test::random_tensor<float>(hg::shape{c.out, c.in}, seed + 1);
        const auto b = hg::test::random_tensor<float>(hg::shape{c.out}, seed + 2);
        const auto dy = hg::test::random_tensor<float>(hg::shape{c.n, c.out}, seed + 3);
        const auto dw0 = hg::test::random_tensor<float>(hg::shape{c.out, c.in}, seed + 4);
        const auto db0 = hg::test::random_tensor<float>(hg::shape{c.out}, seed + 5);

        auto y_cpu = hg::tensor::empty(hg::shape{c.n, c.out});
        auto dx_cpu = hg::tensor::empty(hg::shape{c.n, c.in});
        auto dw_cpu = dw0.clone(), db_cpu = db0.clone();
        hg::ops::dense_forward(cpu, c.n, c.in, c.out, x, w, b, y_cpu);
        hg::ops::dense_backward_data(cpu, c.n, c.in, c.out, dy, w, dx_cpu);
        hg::ops::dense_backward_filter(cpu, c.n, c.in, c.out, x, dy, dw_cpu, db_cpu);

        const auto xg = gpu.to_device(x), wg = gpu.to_device(w), bg = gpu.to_device(b), dyg = gpu.to_device(dy);
        auto yg = gpu.empty(y_cpu.shape()), dxg = gpu.empty(dx_cpu.shape());
        auto dwg = gpu.to_device(dw0), dbg = gpu.to_device(db0);
        hg::ops::dense_forward(gpu, c.n, c.in, c.out, xg, wg, bg, yg);
        hg::ops::dense_backward_data(gpu, c.n, c.in, c.out, dyg, wg, dxg);
        hg::ops::dense_backward_filter(gpu, c.n, c.in, c.out, xg, dyg, dwg, dbg);

        CHECK(hg::test::relative_error(gpu.to_host(yg), y_cpu) < fp32_tolerance);
        CHECK(hg::test::relative_error(gpu.to_host(dxg), dx_cpu) < fp32_tolerance);
        CHECK(hg::test::relative_error(gpu.to_host(dwg), dw_cpu) < fp32_tolerance);
        CHECK(hg::test::relative_error(gpu.to_host(dbg), db_cpu) < fp32_tolerance);
    }
}

TEST_CASE("cuda dense: wrong shapes and host tensors are refused") {
    hg::cuda gpu;
    const auto x = gpu.empty(hg::shape{2, 3}), w = gpu.empty(hg::shape{4, 3}), b = gpu.empty(hg::shape{4});
    auto y = gpu.empty(hg::shape{2, 4});
    CHECK_THROWS_AS(hg::ops::dense_forward(gpu, 2, 3, 5, x, w, b, y), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::dense_forward(gpu, 2, 3, 4, hg::tensor::zeros(hg::shape{2, 3}), w, b, y),
                    hg::device_error);
}
