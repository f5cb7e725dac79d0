// hg::forward_flops / hg::training_flops (layers/flops.hpp) against hand computations: every layer
// of the face-swap 'original' model (64 px) written out as 2 * OH * OW * K * C * R * S for the
// convolutions and 2 * in * out for the dense layers, a residual block, the batch scaling, the 3x
// training convention and swap_model::training_step_flops; a batch below 1 is rejected.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "hourglass/swap/swap_model.hpp"
#include "hourglass/hourglass.hpp"

namespace {

/// 2 * OH * OW * K * C * R * S: one multiply and one add per filter tap and output element.
constexpr double conv(double oh, double ow, double k, double c, double r) { return 2.0 * oh * ow * k * c * r * r; }
constexpr double dense(double in, double out) { return 2.0 * in * out; }

// 'original', per 64x64x3 face. Encoder: four 5x5 stride-2 convolutions (64 -> 32 -> 16 -> 8 -> 4),
// dense 4*4*1024 -> 1024 -> 4*4*1024, then an upscale block (3x3 conv to 4 * 512 filters at 4x4;
// leaky ReLU and pixel shuffle are not counted).
constexpr double original_encoder = conv(32, 32, 128, 3, 5)       // 19 660 800
                                    + conv(16, 16, 256, 128, 5)   // 419 430 400
                                    + conv(8, 8, 512, 256, 5)     // 419 430 400
                                    + conv(4, 4, 1024, 512, 5)    // 419 430 400
                                    + dense(4 * 4 * 1024, 1024)   // 33 554 432
                                    + dense(1024, 4 * 4 * 1024)   // 33 554 432
                                    + conv(4, 4, 4 * 512, 1024, 3);  // 603 979 776
// Decoder on 8x8x512: upscale 256 / 128 / 64 (3x3 convs to 4F filters at 8x8, 16x16, 32x32), then
// the 5x5 output convolution to 3 channels at 64x64.
constexpr double original_decoder = conv(8, 8, 4 * 256, 512, 3)    // 603 979 776
                                    + conv(16, 16, 4 * 128, 256, 3)  // 603 979 776
                                    + conv(32, 32, 4 * 64, 128, 3)   // 603 979 776
                                    + conv(64, 64, 3, 64, 5);        // 39 321 600

}  // namespace

TEST_CASE("flops: the original encoder and decoder match the hand count") {
    // The totals spelled out, so that a slip in the per-layer formula above shows too.
    CHECK(original_encoder == 1949040640.0);
    CHECK(original_decoder == 1851260928.0);
    hg::cpu be(1);
    hg::model<hg::cpu, hg::swap::original::encoder> enc(be, hg::shape{64, 64, 3}, 1, "encoder");
    hg::model<hg::cpu, hg::swap::original::decoder<3>> dec(be, enc.output_shape(), 2, "decoder");
    CHECK(hg::forward_flops(enc, 1) == original_encoder);
    CHECK(hg::forward_flops(dec, 1) == original_decoder);
    CHECK(hg::forward_flops(enc, 16) == 16 * original_encoder);
    CHECK(hg::training_flops(dec, 64) == 3 * 64 * original_decoder);
    // The mask head adds one output channel to the last convolution only.
    hg::model<hg::cpu, hg::swap::original::decoder<4>> dec4(be, enc.output_shape(), 2, "decoder");
    CHECK(hg::forward_flops(dec4, 1) == original_decoder - conv(64, 64, 3, 64, 5) + conv(64, 64, 4, 64, 5));
}

TEST_CASE("flops: a training step of the original swap model counts both sides at 3x forward") {
    hg::cpu be(1);
    hg::swap::swap_model<hg::cpu, hg::swap::original, false> m(be, 1);
    // Side A: encoder + decoder A, side B: encoder + decoder B; each forward + backward = 3x forward.
    CHECK(m.training_step_flops(16) == 2 * 3 * 16 * (original_encoder + original_decoder));
    CHECK(m.training_step_flops(16) == doctest::Approx(364.83e9).epsilon(1e-4));
}

TEST_CASE("flops: residual blocks count both 3x3 convolutions, elementwise layers count nothing") {
    hg::cpu be(1);
    using spec = hg::sequential<hg::conv2d<8, 3, 2>, hg::leaky_relu<0.1f>, hg::residual<8>, hg::upscale<4>,
                                hg::flatten, hg::dense<5>, hg::sigmoid>;
    hg::model<hg::cpu, spec> m(be, hg::shape{12, 10, 3}, 1);
    // conv 12x10x3 -> 6x5x8; residual two 3x3 8 -> 8 at 6x5; upscale: 3x3 conv 8 -> 16 at 6x5 then
    // pixel shuffle to 12x10x4; dense 480 -> 5.
    const double expected =
        conv(6, 5, 8, 3, 3) + 2 * conv(6, 5, 8, 8, 3) + conv(6, 5, 16, 8, 3) + dense(12 * 10 * 4, 5);
    CHECK(hg::forward_flops(m, 1) == expected);
    CHECK(hg::forward_flops(m, 3) == 3 * expected);
}

TEST_CASE("flops: a batch below 1 is rejected with the model's name") {
    hg::cpu be(1);
    hg::model<hg::cpu, hg::sequential<hg::dense<2>>> m(be, hg::shape{3}, 1, "tiny");
    CHECK(hg::forward_flops(m, 1) == dense(3, 2));
    CHECK_THROWS_AS(hg::forward_flops(m, 0), hg::value_error);
    try {
        (void)hg::forward_flops(m, 0);
    } catch (const hg::value_error& e) {
        CHECK(std::string(e.what()).find("tiny") != std::string::npos);
    }
}
