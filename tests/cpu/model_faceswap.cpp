// The 64 px face-swap encoder and decoder of docs/architecture.md (faceswap's 'original'), built on
// the CPU backend: parameter counts, output shapes, a forward and backward pass at batch 2 with
// every buffer poisoned, and gradients that reach every parameter tensor.
#include <doctest/doctest.h>

#include <cmath>

#include "support/faceswap64.hpp"
#include "support/test_support.hpp"

using hg::test::decoder64;
using hg::test::encoder64;

TEST_CASE("faceswap original 64px: parameter counts, shapes, forward and backward at batch 2") {
    hg::cpu be;
    be.poison_allocations(true);
    hg::model<hg::cpu, encoder64> enc(be, hg::shape{64, 64, 3}, 1, "encoder");
    hg::model<hg::cpu, decoder64> dec(be, hg::shape{8, 8, 512}, 2, "decoder_a");
    CHECK(enc.parameter_count() == 69662976);
    CHECK(dec.parameter_count() == 6199747);
    CHECK(enc.output_shape() == hg::shape{8, 8, 512});
    CHECK(dec.output_shape() == hg::shape{64, 64, 3});

    const auto x = hg::test::random_tensor<float>(hg::shape{2, 64, 64, 3}, 5, 0.0, 1.0);
    const auto& z = enc.forward(x);
    CHECK(z.shape() == hg::shape{2, 8, 8, 512});
    REQUIRE(hg::test::all_finite(z));
    const auto& y = dec.forward(z);
    CHECK(y.shape() == hg::shape{2, 64, 64, 3});
    REQUIRE(hg::test::all_finite(y));
    for (std::int64_t i = 0; i < y.numel(); ++i) REQUIRE((y[i] > 0.f && y[i] < 1.f));

    // MSE gradient against the input: dL/dy = 2 (y - x) / numel.
    auto dy = be.empty(y.shape());
    for (std::int64_t i = 0; i < y.numel(); ++i) dy[i] = 2.f * (y[i] - x[i]) / static_cast<float>(y.numel());
    const auto& dz = dec.backward(dy, true);
    CHECK(dz.shape() == z.shape());
    REQUIRE(hg::test::all_finite(dz));
    const auto& dx = enc.backward(dz, true);
    REQUIRE(hg::test::all_finite(dx));

    // Every weight tensor of both models received a non-zero gradient.
    for (const auto* params : {&enc.params(), &dec.params()}) {
        for (std::size_t i = 0; i < params->layout().entries().size(); ++i) {
            const auto& e = params->entry(i);
            if (e.name.size() < 2 || e.name.substr(e.name.size() - 2) != ".w") continue;
            const auto g = params->grad(i);
            double norm = 0.0;
            for (std::int64_t j = 0; j < g.numel(); ++j) norm += double(g[j]) * g[j];
            CAPTURE(e.name);
            CHECK(std::isfinite(norm));
            CHECK(norm > 0.0);
        }
    }
    // Parameter names carry the layer path (hg::swap::original's encoder blocks are
    // sequential<conv2d, leaky_relu>: the names checkpoints of 'original' hold).
    CHECK(enc.params().entry(0).name == "encoder/0:sequential/0:conv2d<128, 5, 2>.w");
    CHECK(dec.params().entry(0).name == "decoder_a/0:upscale<256>/0:conv2d<1024, 3, 1>.w");
}
