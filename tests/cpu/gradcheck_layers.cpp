// Finite-difference gradient checks (double precision) of every layer type: the input gradient and
// every parameter's gradient, with parameter gradients accumulated onto a random offset. Covers
// conv2d (kernels 1/3/5, strides 1/2, odd and even sizes; 3x3 also by Winograd), dense on images, every activation,
// flatten, reshape, pixel_shuffle / pixel_unshuffle, upscale, residual, pixel_norm, concat_branches
// and nested sequentials.
#include <doctest/doctest.h>

#include "support/test_support.hpp"

namespace {

constexpr double tolerance = 1e-6;

/// Runs hg::test::gradcheck for Spec and checks that both gradients were checked and are within
/// the tolerance; `has_params` says whether the layer has parameters to check.
template <class Spec>
void check_gradients(const hg::shape& sample, std::int64_t batch, std::uint64_t seed, bool has_params = true,
                     std::int64_t max_checks = 200) {
    INFO(Spec::type_name() << " on " << hg::detail::batched(sample) << ", batch " << batch << ", seed " << seed);
    const auto r = hg::test::gradcheck<Spec>(sample, batch, seed, 1e-6, max_checks);
    CHECK(r.checked_inputs > 0);
    if (has_params)
        CHECK(r.checked_params > 0);
    else
        CHECK(r.checked_params == 0);
    CHECK(r.worst_input < tolerance);
    CHECK(r.worst_param < tolerance);
}

}  // namespace

TEST_CASE("gradcheck: conv2d 3x3 stride 1") {
    const auto r = hg::test::gradcheck<hg::conv2d<4, 3, 1>>(hg::shape{5, 6, 3}, 2, 100);
    CHECK(r.checked_inputs > 0);
    CHECK(r.checked_params > 0);
    CHECK(r.worst_input < tolerance);
    CHECK(r.worst_param < tolerance);
}

TEST_CASE("gradcheck: conv2d kernels 1/3/5, strides 1/2, odd and even sizes") {
    check_gradients<hg::conv2d<3, 1, 1>>(hg::shape{5, 7, 3}, 2, 101);
    check_gradients<hg::conv2d<5, 1, 2>>(hg::shape{6, 4, 3}, 2, 102);
    check_gradients<hg::conv2d<4, 3, 2>>(hg::shape{6, 8, 3}, 2, 103);
    check_gradients<hg::conv2d<3, 5, 1>>(hg::shape{5, 7, 2}, 1, 104);
    check_gradients<hg::conv2d<3, 5, 2>>(hg::shape{6, 6, 2}, 2, 105);
    check_gradients<hg::conv2d<13, 3, 1>>(hg::shape{3, 5, 3}, 1, 106);
    check_gradients<hg::conv2d<2, 3, 1>>(hg::shape{1, 1, 3}, 2, 107);
    check_gradients<hg::conv2d<2, 5, 2>>(hg::shape{2, 4, 5}, 3, 108);
}

TEST_CASE("gradcheck: conv2d 3x3 stride 1 by Winograd F(2x2) and F(4x4)") {
    for (const auto algorithm : {hg::cpu_conv_algorithm::winograd_2x2, hg::cpu_conv_algorithm::winograd_4x4}) {
        INFO("algorithm " << static_cast<int>(algorithm));
        // 7 x 6 images: edge tiles hang over for both tile sizes; 5 input channels, 4 filters.
        const auto r = hg::test::gradcheck<hg::conv2d<4, 3, 1>>(hg::shape{7, 6, 5}, 2, 110, 1e-6, 200, -1.0, 1.0,
                                                                algorithm);
        CHECK(r.checked_inputs > 0);
        CHECK(r.checked_params > 0);
        CHECK(r.worst_input < tolerance);
        CHECK(r.worst_param < tolerance);
    }
}

TEST_CASE("gradcheck: dense on vector and image inputs") {
    check_gradients<hg::dense<5>>(hg::shape{3, 4, 2}, 2, 200);
    check_gradients<hg::dense<7>>(hg::shape{6}, 3, 201);
    check_gradients<hg::dense<1>>(hg::shape{9}, 1, 202);
}

TEST_CASE("gradcheck: activations") {
    check_gradients<hg::leaky_relu<0.1f>>(hg::shape{4, 5, 3}, 2, 300, false);
    check_gradients<hg::leaky_relu<0.2f>>(hg::shape{11}, 3, 301, false);
    check_gradients<hg::relu>(hg::shape{4, 5, 3}, 2, 302, false);
    check_gradients<hg::sigmoid>(hg::shape{4, 5, 3}, 2, 303, false);
    check_gradients<hg::tanh>(hg::shape{4, 5, 3}, 2, 304, false);
}

TEST_CASE("gradcheck: flatten and reshape") {
    check_gradients<hg::flatten>(hg::shape{3, 4, 5}, 2, 400, false);
    check_gradients<hg::reshape<5, 4, 3>>(hg::shape{3, 4, 5}, 2, 401, false);
    check_gradients<hg::reshape<60>>(hg::shape{3, 4, 5}, 1, 402, false);
}

TEST_CASE("gradcheck: pixel_shuffle and pixel_unshuffle") {
    check_gradients<hg::pixel_shuffle>(hg::shape{3, 4, 8}, 2, 500, false);
    check_gradients<hg::pixel_unshuffle>(hg::shape{4, 6, 3}, 2, 501, false);
}

TEST_CASE("gradcheck: upscale") {
    check_gradients<hg::upscale<2>>(hg::shape{3, 4, 5}, 2, 600);
    check_gradients<hg::upscale<3>>(hg::shape{2, 3, 2}, 1, 601);
}

TEST_CASE("gradcheck: residual") {
    check_gradients<hg::residual<3>>(hg::shape{4, 5, 3}, 2, 700);
    check_gradients<hg::residual<2>>(hg::shape{3, 3, 2}, 1, 701);
}

TEST_CASE("gradcheck: pixel_norm") {
    check_gradients<hg::pixel_norm>(hg::shape{23}, 3, 710, false);
    check_gradients<hg::pixel_norm>(hg::shape{3, 2, 4}, 2, 711, false);
}

TEST_CASE("gradcheck: concat_branches (images and vectors, nested)") {
    check_gradients<hg::concat_branches<hg::conv2d<3, 1>, hg::conv2d<9, 3>>>(hg::shape{4, 3, 5}, 2, 720);
    check_gradients<hg::concat_branches<hg::dense<2>, hg::sequential<hg::pixel_norm, hg::dense<3>>>>(hg::shape{6}, 2, 721);
    check_gradients<hg::sequential<hg::concat_branches<hg::sequential<hg::upscale<2>, hg::residual<2>>,
                                                       hg::sequential<hg::upscale<1>, hg::conv2d<1, 1>, hg::sigmoid>>,
                                   hg::conv2d<2, 3>>>(hg::shape{2, 3, 4}, 2, 722);
}

TEST_CASE("gradcheck: a small encoder/decoder mixing every layer type") {
    using net = hg::sequential<hg::conv2d<4, 3, 2>, hg::leaky_relu<0.1f>,  // [8, 8, 3] -> [4, 4, 4]
                               hg::conv2d<6, 3, 2>, hg::relu,              // [2, 2, 6]
                               hg::flatten, hg::dense<8>, hg::tanh,        // [8]
                               hg::dense<24>, hg::reshape<2, 2, 6>,        // [2, 2, 6]
                               hg::upscale<4>, hg::residual<4>,            // [4, 4, 4]
                               hg::pixel_unshuffle, hg::pixel_shuffle,     // [2, 2, 16] -> [4, 4, 4]
                               hg::upscale<3>, hg::conv2d<3, 5>, hg::sigmoid>;  // [8, 8, 3]
    check_gradients<net>(hg::shape{8, 8, 3}, 2, 800);
}

TEST_CASE("gradcheck: convolutions followed by activations (run fused)") {
    check_gradients<hg::sequential<hg::conv2d<3, 3>, hg::tanh>>(hg::shape{4, 5, 2}, 2, 850);
    check_gradients<hg::sequential<hg::conv2d<4, 1, 2>, hg::leaky_relu<0.3f>, hg::conv2d<3, 5>, hg::sigmoid>>(
        hg::shape{6, 4, 3}, 2, 851);
}

TEST_CASE("gradcheck: nested sequentials") {
    using net = hg::sequential<hg::sequential<hg::conv2d<4, 3>, hg::tanh>,
                               hg::sequential<hg::pixel_unshuffle, hg::sequential<hg::dense<3>, hg::sigmoid>>>;
    check_gradients<net>(hg::shape{4, 6, 2}, 2, 900);
}
