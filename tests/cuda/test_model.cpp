// Whole layers and models on the GPU against the same layers on the CPU (same seed, so the same
// initial parameters): every layer type forward and backward (pixel_norm and concat_branches also
// at SAEHD's shapes), and the 64 px face-swap encoder and
// decoder. Also: after a warm-up step, further steps take no new memory from the device.
// Tolerances (relative, float32, TF32 off): single layers 1e-5, also at the 64 px model's real
// shapes; the whole 64 px model's output 1e-4 and its gradients 1e-4 on at least 4 of 6 seeds (see
// the comment of that test and docs/numerics.md).
#include <doctest/doctest.h>

#include <cstdio>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"
#include "support/faceswap64.hpp"
#include "support/test_support.hpp"

namespace {

struct comparison {
    double output = 0, input_grad = 0, param_grad = 0;
};

/// Runs Spec forward and backward on both backends with identical inputs and parameters.
template <class Spec>
comparison compare_backends(const hg::shape& sample, std::int64_t batch, std::uint64_t seed) {
    hg::cpu cpu;
    hg::cuda gpu;
    gpu.poison_allocations(true);
    hg::model<hg::cpu, Spec> mc(cpu, sample, seed);
    hg::model<hg::cuda, Spec> mg(gpu, sample, seed);
    REQUIRE(mc.parameter_count() == mg.parameter_count());

    const auto x = hg::test::random_tensor<float>(hg::detail::with_batch(batch, sample), seed + 1);
    const auto& yc = mc.forward(x);
    const auto& yg = mg.forward(gpu.to_device(x));
    const auto dy = hg::test::random_tensor<float>(yc.shape(), seed + 2);
    const auto& dxc = mc.backward(dy, true);
    const auto& dxg = mg.backward(gpu.to_device(dy), true);

    comparison r;
    r.output = hg::test::relative_error(gpu.to_host(yg), yc);
    r.input_grad = hg::test::relative_error(gpu.to_host(dxg), dxc);
    r.param_grad = mc.parameter_count() ? hg::test::relative_error(gpu.to_host(mg.params().grads()), mc.params().grads())
                                        : 0.0;
    return r;
}

void check_layer(const comparison& r, double tolerance) {
    CHECK(r.output < tolerance);
    CHECK(r.input_grad < tolerance);
    CHECK(r.param_grad < tolerance);
}

}  // namespace

TEST_CASE("cuda layers: every layer type matches the CPU forward and backward") {
    constexpr double tol = 1e-5;
    check_layer(compare_backends<hg::conv2d<13, 3, 1>>(hg::shape{5, 7, 3}, 2, 1), tol);
    check_layer(compare_backends<hg::conv2d<16, 5, 2>>(hg::shape{8, 6, 3}, 1, 2), tol);
    check_layer(compare_backends<hg::dense<37>>(hg::shape{4, 4, 5}, 3, 3), tol);
    check_layer(compare_backends<hg::leaky_relu<0.1f>>(hg::shape{3, 5, 6}, 2, 4), tol);
    check_layer(compare_backends<hg::relu>(hg::shape{3, 5, 6}, 2, 5), tol);
    check_layer(compare_backends<hg::sigmoid>(hg::shape{3, 5, 6}, 2, 6), tol);
    check_layer(compare_backends<hg::tanh>(hg::shape{3, 5, 6}, 2, 7), tol);
    check_layer(compare_backends<hg::sequential<hg::flatten, hg::dense<8>, hg::reshape<2, 2, 2>>>(hg::shape{3, 3, 2}, 2, 8), tol);
    check_layer(compare_backends<hg::pixel_shuffle>(hg::shape{3, 5, 12}, 2, 9), tol);
    check_layer(compare_backends<hg::pixel_unshuffle>(hg::shape{6, 4, 3}, 2, 10), tol);
    check_layer(compare_backends<hg::upscale<8>>(hg::shape{4, 5, 6}, 2, 11), tol);
    check_layer(compare_backends<hg::residual<8>>(hg::shape{5, 5, 8}, 2, 12), tol);
}

TEST_CASE("cuda layers: pixel_norm and concat_branches (SAEHD's layers) match the CPU, also at SAEHD's shapes") {
    constexpr double tol = 1e-5;
    check_layer(compare_backends<hg::pixel_norm>(hg::shape{37}, 3, 51), tol);
    check_layer(compare_backends<hg::pixel_norm>(hg::shape{3, 5, 7}, 2, 52), tol);
    check_layer(compare_backends<hg::concat_branches<hg::conv2d<3, 1>, hg::conv2d<9, 3>>>(hg::shape{6, 5, 8}, 2, 53), tol);
    check_layer(compare_backends<hg::concat_branches<hg::dense<5>, hg::dense<3>>>(hg::shape{11}, 3, 54), tol);
    // df-ud at 128 px: the flattened 8 x 8 x 512 code; the -d output convolutions at 64 x 64 x 128.
    check_layer(compare_backends<hg::sequential<hg::flatten, hg::pixel_norm>>(hg::shape{8, 8, 512}, 2, 55), tol);
    check_layer(compare_backends<hg::concat_branches<hg::conv2d<3, 1>, hg::conv2d<9, 3>>>(hg::shape{64, 64, 128}, 2, 56),
                tol);
}

TEST_CASE("cuda layers: every layer of the 64 px face-swap model, at its real shape, matches the CPU") {
    constexpr double tol = 1e-5;
    check_layer(compare_backends<hg::conv2d<128, 5, 2>>(hg::shape{64, 64, 3}, 2, 31), tol);
    check_layer(compare_backends<hg::conv2d<256, 5, 2>>(hg::shape{32, 32, 128}, 2, 32), tol);
    check_layer(compare_backends<hg::conv2d<512, 5, 2>>(hg::shape{16, 16, 256}, 2, 33), tol);
    check_layer(compare_backends<hg::conv2d<1024, 5, 2>>(hg::shape{8, 8, 512}, 2, 34), tol);
    check_layer(compare_backends<hg::dense<1024>>(hg::shape{4, 4, 1024}, 2, 35), tol);
    check_layer(compare_backends<hg::dense<16384>>(hg::shape{1024}, 2, 36), tol);
    check_layer(compare_backends<hg::upscale<512>>(hg::shape{4, 4, 1024}, 2, 37), tol);
    check_layer(compare_backends<hg::upscale<256>>(hg::shape{8, 8, 512}, 2, 38), tol);
    check_layer(compare_backends<hg::upscale<128>>(hg::shape{16, 16, 256}, 2, 39), tol);
    check_layer(compare_backends<hg::upscale<64>>(hg::shape{32, 32, 128}, 2, 40), tol);
    check_layer(compare_backends<hg::sequential<hg::conv2d<3, 5>, hg::sigmoid>>(hg::shape{64, 64, 64}, 2, 41), tol);
}

// Gradients of the whole 64 px model are compared over several seeds: in a chain of 20 LeakyReLU
// layers, a pre-activation within rounding of zero can take the other slope under a different
// rounding (a factor of 10 in that element's gradient), which then moves every earlier gradient by
// ~1e-2. It happens for float32 against float64 on the CPU alone (seed 21: 9e-3, seeds 22 and 23:
// 1e-6), so it is no GPU fault; a wrong kernel would miss on every seed. The binding per-op check is
// the per-layer test above at 1e-5.
TEST_CASE("cuda model: the 64 px face-swap encoder and decoder match the CPU at batch 2") {
    using net = hg::sequential<hg::test::encoder64, hg::test::decoder64>;
    int close = 0;
    const std::uint64_t seeds[] = {21, 22, 23, 24, 25, 26};
    for (std::uint64_t seed : seeds) {
        const comparison r = compare_backends<net>(hg::shape{64, 64, 3}, 2, seed);
        MESSAGE("seed " << seed << ": 64px swap model GPU vs CPU relative errors: output " << r.output
                        << ", input grad " << r.input_grad << ", parameter grads " << r.param_grad);
        CHECK(r.output < 1e-4);
        CHECK(r.input_grad < 5e-2);
        CHECK(r.param_grad < 5e-2);
        if (r.input_grad < 1e-4 && r.param_grad < 1e-4) ++close;
    }
    CHECK(close >= 4);
}

TEST_CASE("cuda model: a warmed-up training step takes no new device memory") {
    hg::cuda gpu;
    hg::model<hg::cuda, hg::test::decoder64> dec(gpu, hg::shape{8, 8, 512}, 3);
    const auto x = gpu.to_device(hg::test::random_tensor<float>(hg::shape{4, 8, 8, 512}, 4));
    const auto dy = gpu.to_device(hg::test::random_tensor<float>(hg::shape{4, 64, 64, 3}, 5));
    auto step = [&] {
        dec.zero_grad();
        dec.forward(x);
        dec.backward(dy, true);
        gpu.synchronize();
    };
    step();
    const auto warm = gpu.memory();
    for (int i = 0; i < 3; ++i) step();
    const auto after = gpu.memory();
    CHECK(after.reserved == warm.reserved);
    CHECK(after.in_use == warm.in_use);
    CHECK(after.peak == warm.peak);
    CHECK(warm.in_use > 0);
    CHECK(warm.peak >= warm.in_use);
}
