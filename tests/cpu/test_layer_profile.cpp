// The per-layer profile (hourglass/layers/layer_profile.hpp, hourglass-swap train --profile layers):
// nothing is recorded without an active profile; with one, every leaf layer (never a nested block
// as a whole) gets its forward and backward calls, FLOPs that add up to the model's count, a
// fused activation marked as such; inside the trainer the layer times fit in the compute phases.
#include <doctest/doctest.h>

#include <string>

#include "hourglass/hourglass.hpp"
#include "hourglass/swap/trainer.hpp"
#include "support/swap_fixtures.hpp"

namespace {

// conv + activation (fused in forward), an upscale block (a nested sequential), a dense head.
using small_net = hg::sequential<hg::conv2d<6, 3, 2>, hg::leaky_relu<0.1f>, hg::upscale<4>, hg::flatten, hg::dense<5>>;

hg::tensor random_input(hg::cpu& be, std::int64_t n) {
    hg::tensor x = be.empty(hg::shape{n, 8, 8, 3});
    hg::rng r(7);
    for (std::int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(r.uniform(-1.0, 1.0));
    return x;
}

const hg::layer_timing* find_row(const hg::layer_profile& p, const std::string& path) {
    for (const auto& r : p.rows())
        if (r.path == path) return &r;
    return nullptr;
}

}  // namespace

TEST_CASE("layer profile: nothing is recorded while no profile is active") {
    hg::cpu be(1);
    hg::model<hg::cpu, small_net> m(be, hg::shape{8, 8, 3}, 3, "net");
    hg::layer_profile p;
    {
        const hg::layer_profile_scope none(nullptr);
        m.forward(random_input(be, 2));
    }
    m.forward(random_input(be, 2));
    CHECK(p.rows().empty());
    CHECK(hg::detail::active_layer_profile() == nullptr);
}

TEST_CASE("layer profile: leaf layers in order, fused activation, FLOPs that add up to the model's") {
    hg::cpu be(1);
    hg::model<hg::cpu, small_net> m(be, hg::shape{8, 8, 3}, 3, "net");
    const std::int64_t n = 3;
    const hg::tensor x = random_input(be, n);
    hg::layer_profile p;
    {
        const hg::layer_profile_scope on(&p);
        for (int it = 0; it < 2; ++it) {
            const hg::tensor& y = m.forward(x);
            hg::tensor dy = be.empty(y.shape());
            for (std::int64_t i = 0; i < dy.numel(); ++i) dy[i] = 0.01f * static_cast<float>(i % 7 - 3);
            m.backward(dy, /*want_input_grad=*/it == 1);
        }
    }
    CHECK(hg::detail::active_layer_profile() == nullptr);  // the scope restored the previous (none)

    // The upscale block is timed through its own layers, never as one row.
    const std::vector<std::string> expected = {
        "net/0:conv2d<6, 3, 2>", "net/1:leaky_relu<0.1>",          "net/2:upscale<4>/0:conv2d<16, 3, 1>",
        "net/2:upscale<4>/1:leaky_relu<0.1>", "net/2:upscale<4>/2:pixel_shuffle", "net/3:flatten",
        "net/4:dense<5>"};
    std::vector<std::string> got;
    for (const auto& r : p.rows()) got.push_back(r.path);
    INFO(p.table(2));
    REQUIRE(got == expected);

    for (const auto& r : p.rows()) {
        INFO(r.path);
        CHECK(r.backward_calls == 2);
        CHECK(r.backward_seconds > 0.0);
    }
    // Activations run fused into the convolution before them: no forward call of their own.
    for (const char* fused : {"net/1:leaky_relu<0.1>", "net/2:upscale<4>/1:leaky_relu<0.1>"}) {
        const auto* r = find_row(p, fused);
        REQUIRE(r != nullptr);
        CHECK(r->fused_forward);
        CHECK(r->forward_calls == 0);
    }
    const auto* conv = find_row(p, "net/0:conv2d<6, 3, 2>");
    REQUIRE(conv != nullptr);
    CHECK(conv->forward_calls == 2);
    CHECK(conv->forward_seconds > 0.0);
    // conv2d<6, 3, 2> on 8 x 8 x 3, padding 'same': 4 x 4 outputs x 6 filters x 27 taps x 2.
    const double conv_flops = 2.0 * 4 * 4 * 6 * 3 * 3 * 3;
    CHECK(conv->forward_flops == doctest::Approx(2 * n * conv_flops));
    // Backward of the first layer: 1x forward without the input gradient, 2x with it.
    CHECK(conv->backward_flops == doctest::Approx(n * conv_flops + 2 * n * conv_flops));

    double forward = 0;
    for (const auto& r : p.rows()) forward += r.forward_flops;
    CHECK(forward == doctest::Approx(2.0 * hg::forward_flops(m, n)));

    const std::string table = p.table(2);
    CHECK(table.find("fused") != std::string::npos);
    CHECK(table.find("net/4:dense<5>") != std::string::npos);
    CHECK(table.find("all layers") != std::string::npos);
    CHECK(p.table(0).find("no layer ran") != std::string::npos);
}

TEST_CASE("layer profile: the trainer's layer times fit inside its compute phases") {
    hg::cpu be(1);  // one thread: no OpenMP barriers to stall on a busy machine
    hg::test::temp_dir dir("hg_layer_profile", "trainer");
    hg::swap::train_options o;
    o.architecture = "micro";
    o.batch = 2;
    o.stop.iterations = 3;
    o.save_every = 1000;
    o.preview_every = 1000;
    o.loader_threads = 1;
    o.profile = true;
    o.profile_layers = true;
    auto side = [](std::uint64_t identity, std::uint64_t seed) {
        const hg::data::synthetic_face_set set{identity, 32, 8, seed};
        hg::swap::side_data s;
        s.producer = hg::data::augmented_producer(set);
        s.samples = set.count;
        s.mask_channels = 3;
        return s;
    };
    hg::swap::trainer<hg::cpu, hg::swap::micro, false> t(be, o, side(1, 11), side(2, 12), dir.path);
    t.run();
    const auto& p = t.profile();
    REQUIRE(p.layers_enabled());
    const auto& layers = p.layers();
    INFO(p.layer_table());
    // Both decoders and the shared encoder (one row per layer, both sides' calls added).
    const auto* enc = find_row(layers, "encoder/0:sequential/0:conv2d<8, 5, 2>");
    const auto* dec_a = find_row(layers, "decoder_a/2:conv2d<3, 5, 1>");
    const auto* dec_b = find_row(layers, "decoder_b/2:conv2d<3, 5, 1>");
    REQUIRE(enc != nullptr);
    REQUIRE(dec_a != nullptr);
    REQUIRE(dec_b != nullptr);
    CHECK(enc->forward_calls == 2 * 3);  // 3 iterations, 2 sides
    CHECK(dec_a->forward_calls == 3);
    CHECK(dec_b->backward_calls == 3);
    double forward = 0;
    for (const auto& r : layers.rows()) forward += r.forward_flops;
    auto& model = t.model();
    const double expected = 3.0 * (2.0 * hg::forward_flops(model.encoder(), 2) + hg::forward_flops(model.decoder(0), 2) +
                                   hg::forward_flops(model.decoder(1), 2));
    CHECK(forward == doctest::Approx(expected));
    using hg::train::step_phase;
    // Every layer call runs between the upload mark and the backward mark of its iteration.
    const double compute = p.total_seconds(step_phase::forward) + p.total_seconds(step_phase::loss) +
                           p.total_seconds(step_phase::backward);
    CHECK(layers.total_seconds() > 0.0);
    CHECK(layers.total_seconds() <= compute);
    CHECK(p.layer_table().find("over 3 iterations") != std::string::npos);
}
