// DeepFaceLab's SAEHD architectures (swap/saehd.hpp) and the LIAE model (swap/liae_model.hpp):
// parameter counts against counts worked out from DeepFaceLab's model code, the shapes at 128 and
// 256 px with and without -u / -d and other dims, the LIAE code routing (decode as A: [inter_a |
// inter_ab], as B: [inter_ab | inter_ab]) against the networks composed by hand, a double-precision
// finite-difference check of the LIAE model's parameter gradients on both sides, and a few
// training steps of both topologies through the swap trainer (checkpoint names, resume).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cpu/helpers.hpp"
#include "hourglass/hourglass.hpp"
#include "hourglass/swap/liae_model.hpp"
#include "hourglass/swap/memory_estimate.hpp"
#include "hourglass/swap/saehd.hpp"
#include "support/swap_fixtures.hpp"

namespace {

namespace swap = hg::swap;
using hg::shape;

// ---- DeepFaceLab's parameter counts ---------------------------------------------------------------
// From core/leras/archis/DeepFakeArchi.py (mod None, opts of 'u' and 'd' only) and
// models/Model_SAEHD/Model.py. leras' Conv2D(in, out, kernel_size) and Dense(in, out) have a bias
// (use_bias=True by default), so
//   conv(k, in, out) = k * k * in * out + out,   dense(in, out) = in * out + out.
// Downscale(in, out) is conv(5, in, out); Upscale(in, out) is conv(3, in, 4 out) (then depth to
// space); ResidualBlock(ch) is two conv(3, ch, ch).
// Encoder(in_ch = 3, e_ch = e): DownscaleBlock(3, e, n_downscales = 4): channels e * min(2^i, 8),
//   i = 0..3 -> e, 2e, 4e, 8e; output resolution res / 16, so the flattened code has
//   8e * (res / 16)^2 features (get_out_ch() * get_out_res(res)^2).
// Inter(in_ch, ae_ch, ae_out_ch): Dense(in_ch, ae_ch), Dense(ae_ch, lowest^2 * ae_out_ch),
//   Upscale(ae_out_ch, ae_out_ch); lowest = res // (32 if 'd' else 16).
// Decoder(in_ch, d_ch, d_mask_ch): upscale0..2 = Upscale(in, 8d), (8d, 4d), (4d, 2d); res0..2 =
//   ResidualBlock(8d), (4d), (2d); upscalem0..2 = Upscale(in, 8m), (8m, 4m), (4m, 2m); out_conv =
//   conv(1, 2d, 3); with 'd': out_conv1..3 = conv(3, 2d, 3) each, upscalem3 = Upscale(2m, m),
//   out_convm = conv(1, m, 1); without: out_convm = conv(1, 2m, 1).
// 'df':   encoder, inter = Inter(enc_out, ae, ae), decoder_src and decoder_dst = Decoder(ae, d, m).
// 'liae': encoder, inter_AB and inter_B = Inter(enc_out, ae, 2 ae), decoder = Decoder(4 ae, d, m)
//         (the inters' outputs concatenated: inters_out_ch = 2 * inter_out_ch).

std::int64_t conv(std::int64_t k, std::int64_t in, std::int64_t out) { return k * k * in * out + out; }
std::int64_t dense(std::int64_t in, std::int64_t out) { return in * out + out; }
std::int64_t upscale(std::int64_t in, std::int64_t out) { return conv(3, in, 4 * out); }
std::int64_t residual(std::int64_t ch) { return 2 * conv(3, ch, ch); }

struct dfl_dims {
    std::int64_t res, ae, e, d, m;
    bool double_res;
};

std::int64_t dfl_encoder(const dfl_dims& s) {
    return conv(5, 3, s.e) + conv(5, s.e, 2 * s.e) + conv(5, 2 * s.e, 4 * s.e) + conv(5, 4 * s.e, 8 * s.e);
}
std::int64_t dfl_encoder_out(const dfl_dims& s) { return 8 * s.e * (s.res / 16) * (s.res / 16); }
std::int64_t dfl_inter(const dfl_dims& s, std::int64_t ae_out) {
    const std::int64_t lowest = s.res / (s.double_res ? 32 : 16);
    return dense(dfl_encoder_out(s), s.ae) + dense(s.ae, lowest * lowest * ae_out) + upscale(ae_out, ae_out);
}
std::int64_t dfl_face_decoder(const dfl_dims& s, std::int64_t in) {
    std::int64_t n = upscale(in, 8 * s.d) + upscale(8 * s.d, 4 * s.d) + upscale(4 * s.d, 2 * s.d) + residual(8 * s.d) +
                     residual(4 * s.d) + residual(2 * s.d) + conv(1, 2 * s.d, 3);
    if (s.double_res) n += 3 * conv(3, 2 * s.d, 3);
    return n;
}
std::int64_t dfl_mask_decoder(const dfl_dims& s, std::int64_t in) {
    std::int64_t n = upscale(in, 8 * s.m) + upscale(8 * s.m, 4 * s.m) + upscale(4 * s.m, 2 * s.m);
    n += s.double_res ? upscale(2 * s.m, s.m) + conv(1, s.m, 1) : conv(1, 2 * s.m, 1);
    return n;
}
std::int64_t dfl_df_total(const dfl_dims& s) {
    return dfl_encoder(s) + dfl_inter(s, s.ae) + 2 * (dfl_face_decoder(s, s.ae) + dfl_mask_decoder(s, s.ae));
}
std::int64_t dfl_liae_total(const dfl_dims& s) {
    return dfl_encoder(s) + 2 * dfl_inter(s, 2 * s.ae) + dfl_face_decoder(s, 4 * s.ae) + dfl_mask_decoder(s, 4 * s.ae);
}

/// Parameters of a layer spec built for per-sample input `in` (shapes only, nothing allocated).
template <class Spec>
std::int64_t spec_parameters(const shape& in, shape* out = nullptr) {
    typename Spec::template bind<hg::cpu> net;
    hg::layer_builder b("net");
    const shape y = net.build(b, in);
    if (out) *out = y;
    return b.layout().count();
}

template <class Arch>
dfl_dims dims_of() {
    return {Arch::input, Arch::ae_dims, Arch::e_dims, Arch::d_dims, Arch::d_mask_dims, Arch::double_res};
}

/// Our df: encoder (with the inter) + two decoders with the mask branch.
template <class Arch>
std::int64_t our_df_total() {
    shape code;
    const std::int64_t enc = spec_parameters<typename Arch::encoder>(shape{Arch::input, Arch::input, 3}, &code);
    return enc + 2 * spec_parameters<typename Arch::template decoder<4>>(code);
}

/// Our liae: encoder + two inters + one decoder with the mask branch.
template <class Arch>
std::int64_t our_liae_total() {
    shape code, half;
    const std::int64_t enc = spec_parameters<typename Arch::encoder>(shape{Arch::input, Arch::input, 3}, &code);
    const std::int64_t inter = spec_parameters<typename Arch::inter>(code, &half);
    return enc + 2 * inter + spec_parameters<typename Arch::template decoder<4>>(shape{half[0], half[1], 2 * half[2]});
}

struct tiny_liae : swap::saehd_liae<32, 16, 4, 4, 2, true, true> {
    static constexpr const char* name = "tiny-liae";
};
struct tiny_df : swap::saehd_df<32, 16, 4, 4, 2, true, false> {
    static constexpr const char* name = "tiny-df";
};

}  // namespace

TEST_CASE("saehd: parameter counts equal DeepFaceLab's (DeepFakeArchi.py), 128 and 256 px, with and without -u/-d") {
    // DeepFaceLab's defaults (ae 256, e 64, d 64, d_mask 22), -ud.
    CHECK(our_df_total<swap::df_ud_128>() == dfl_df_total(dims_of<swap::df_ud_128>()));
    CHECK(our_df_total<swap::df_ud_256>() == dfl_df_total(dims_of<swap::df_ud_256>()));
    CHECK(our_liae_total<swap::liae_ud_128>() == dfl_liae_total(dims_of<swap::liae_ud_128>()));
    CHECK(our_liae_total<swap::liae_ud_256>() == dfl_liae_total(dims_of<swap::liae_ud_256>()));
    // Without -d (the inter's dense code at res / 16) and other dims; -u adds no parameters.
    using df_128 = swap::saehd_df<128, 256, 64, 64, 22, false, false>;
    using liae_256 = swap::saehd_liae<256, 512, 80, 72, 24, true, false>;
    using df_96 = swap::saehd_df<96, 192, 48, 48, 16, false, false>;
    CHECK(our_df_total<df_128>() == dfl_df_total(dims_of<df_128>()));
    CHECK(our_liae_total<liae_256>() == dfl_liae_total(dims_of<liae_256>()));
    CHECK(our_df_total<df_96>() == dfl_df_total(dims_of<df_96>()));
    CHECK(our_df_total<swap::saehd_df<128, 256, 64, 64, 22, true, false>>() == our_df_total<df_128>());
    // The formulas evaluated once by hand for df-ud-128, so that a change to both sides is noticed:
    // encoder 4,864 + 204,928 + 819,456 + 3,277,312; inter dense(32768, 256) 8,388,864 +
    // dense(256, 4 * 4 * 256) 1,052,672 + upscale(256, 256) 2,360,320; a decoder's face branch
    // 4,720,640 + 4,719,616 + 1,180,160 (upscales) + 4,719,616 + 1,180,160 + 295,168 (residuals) +
    // 387 (1x1 out) + 3 x 3,459 (3x3 outs) = 16,826,124 and mask branch 1,622,720 + 557,920 + 139,568
    // + 34,936 + 23 = 2,355,167; in all 4,306,560 + 11,801,856 + 2 x 19,181,291 = 54,470,998.
    const dfl_dims d{128, 256, 64, 64, 22, true};
    CHECK(dfl_encoder(d) == 4864 + 204928 + 819456 + 3277312);
    CHECK(dfl_inter(d, 256) == 8388864 + 1052672 + 2360320);
    CHECK(dfl_face_decoder(d, 256) == 16826124);
    CHECK(dfl_mask_decoder(d, 256) == 2355167);
    CHECK(dfl_df_total(d) == 54470998);
    // The totals docs/faceswap.md quotes.
    CHECK(dfl_df_total(dims_of<swap::df_ud_256>()) == 82794838);
    CHECK(dfl_liae_total(dims_of<swap::liae_ud_128>()) == 82376555);
    CHECK(dfl_liae_total(dims_of<swap::liae_ud_256>()) == 145340267);
}

TEST_CASE("saehd: the models built from the architectures have DeepFaceLab's counts and shapes") {
    hg::cpu be(1);
    swap::swap_model<hg::cpu, swap::df_ud_128, true> df(be, 1);
    CHECK(df.parameter_count() == dfl_df_total(dims_of<swap::df_ud_128>()));
    CHECK(df.encoder().output_shape() == shape{8, 8, 256});  // lowest 4, Upscale -> 8 (-d)
    CHECK(df.decoder(0).output_shape() == shape{128, 128, 4});
    swap::liae_model<hg::cpu, swap::liae_ud_128, true> liae(be, 1);
    CHECK(liae.parameter_count() == dfl_liae_total(dims_of<swap::liae_ud_128>()));
    CHECK(liae.encoder().output_shape() == shape{8 * 8 * 512});  // 8e channels at 128 / 16
    CHECK(liae.inter_ab().output_shape() == shape{8, 8, 512});
    CHECK(liae.decoder().input_shape() == shape{8, 8, 1024});
    CHECK(liae.decoder().output_shape() == shape{128, 128, 4});
    CHECK(swap::liae_model<hg::cpu, swap::liae_ud_128, true>::network_names() ==
          std::vector<std::string>{"encoder", "inter_ab", "inter_a", "decoder"});
    // Without the mask head the decoder is the face branch alone.
    shape code, face;
    spec_parameters<swap::df_ud_256::encoder>(shape{256, 256, 3}, &code);
    CHECK(code == shape{16, 16, 256});
    spec_parameters<swap::df_ud_256::decoder<3>>(code, &face);
    CHECK(face == shape{256, 256, 3});
    // Without -d: the code at res / 8, the decoder's last stage at full resolution.
    spec_parameters<swap::saehd_df<128, 256, 64, 64, 22, true, false>::encoder>(shape{128, 128, 3}, &code);
    CHECK(code == shape{16, 16, 256});
    // Every SAEHD name is one of the program's architectures.
    for (const char* n : {"df-ud-128", "df-ud-256", "liae-ud-128", "liae-ud-256"})
        CHECK(swap::with_architecture(n, [](auto a) { return std::string(decltype(a)::name); }) == n);
    CHECK_THROWS_WITH_AS(swap::with_architecture("df-ud-64", [](auto) { return 0; }),
                         doctest::Contains("liae-ud-256"), hg::value_error);
}

TEST_CASE("saehd: the LIAE model routes the codes as DeepFaceLab does, forward and backward") {
    hg::cpu be(1);
    const std::uint64_t seed = 40;
    swap::liae_model<hg::cpu, tiny_liae, true> m(be, seed);
    // The same networks composed by hand (same seeds, so the same initial parameters).
    hg::model<hg::cpu, tiny_liae::encoder> enc(be, shape{32, 32, 3}, seed, "encoder");
    hg::model<hg::cpu, tiny_liae::inter> ab(be, enc.output_shape(), seed + 1, "inter_ab");
    hg::model<hg::cpu, tiny_liae::inter> a(be, enc.output_shape(), seed + 2, "inter_a");
    hg::model<hg::cpu, tiny_liae::decoder<4>> dec(be, shape{2, 2, 64}, seed + 3, "decoder");
    const auto x = hg::test::random_tensor<float>(shape{3, 32, 32, 3}, 41, 0.0, 1.0);
    const auto dy = hg::test::random_tensor<float>(shape{3, 32, 32, 4}, 42);
    for (int side : {0, 1}) {
        CAPTURE(side);
        m.zero_grad();
        enc.zero_grad(), ab.zero_grad(), a.zero_grad(), dec.zero_grad();
        const auto y = m.forward(x, side).clone();
        m.backward(dy, side);

        const auto e = enc.forward(x).clone();
        const auto code_ab = ab.forward(e).clone();
        const auto code = side == 0 ? hg::ref::concat_last(a.forward(e).clone(), code_ab) : hg::ref::concat_last(code_ab, code_ab);
        HG_CHECK_CLOSE(y, dec.forward(code), 0.0);
        const auto dcode = dec.backward(dy, true).clone();
        const auto first = hg::ref::slice_last(dcode, 0, 32), second = hg::ref::slice_last(dcode, 32, 32);
        hg::tensor de;
        if (side == 0) {
            de = hg::ref::add(a.backward(first, true).clone(), ab.backward(second, true).clone());
        } else {
            de = ab.backward(hg::ref::add(first, second), true).clone();
        }
        enc.backward(de, false);
        const auto sets = m.parameter_sets();
        HG_CHECK_CLOSE(sets[0]->grads(), enc.params().grads(), 1e-6);
        HG_CHECK_CLOSE(sets[1]->grads(), ab.params().grads(), 1e-6);
        HG_CHECK_CLOSE(sets[3]->grads(), dec.params().grads(), 1e-6);
        if (side == 0) {
            HG_CHECK_CLOSE(sets[2]->grads(), a.params().grads(), 1e-6);
        } else {
            // Identity B never reaches inter_a.
            double most = 0;
            for (std::int64_t i = 0; i < sets[2]->grads().numel(); ++i) most = std::max(most, double(std::fabs(sets[2]->grads()[i])));
            CHECK(most == 0.0);
        }
    }
    CHECK_THROWS_WITH_AS(m.forward(x, 2), doctest::Contains("side 2"), hg::value_error);
    m.forward(x, 0);
    CHECK_THROWS_WITH_AS(m.backward(dy, 1), doctest::Contains("after a forward of side a"), hg::value_error);
}

TEST_CASE("saehd gradcheck: the LIAE model's parameter gradients, both sides, by central differences in double") {
    using model64 = swap::liae_model<hg::cpu64, tiny_liae, true>;
    hg::cpu64 be(1);
    model64 m(be, 50);
    const auto x = hg::test::random_tensor<double>(shape{2, 32, 32, 3}, 51, 0.0, 1.0);
    const auto w = hg::test::random_tensor<double>(shape{2, 32, 32, 4}, 52);
    for (int side : {0, 1}) {
        CAPTURE(side);
        auto loss = [&] {
            const auto& y = m.forward(x, side);
            double s = 0;
            for (std::int64_t i = 0; i < y.numel(); ++i) s += w[i] * y[i];
            return s;
        };
        m.zero_grad();
        loss();
        m.backward(w, side);
        double worst = 0;
        int checked = 0;
        for (const auto* p : m.parameter_sets()) {
            const auto values = p->values(), grads = p->grads();
            // 12 elements spread over each network's flat buffer (padding included: its gradient
            // and its effect are both zero).
            for (std::int64_t k = 0; k < 12; ++k) {
                const std::int64_t i = (values.numel() - 1) * k / 11;
                const double keep = values[i], h = 1e-6;
                values[i] = keep + h;
                const double up = loss();
                values[i] = keep - h;
                const double down = loss();
                values[i] = keep;
                const double numeric = (up - down) / (2 * h), analytic = grads[i];
                worst = std::max(worst, std::fabs(numeric - analytic) / std::max(1.0, std::fabs(numeric)));
                ++checked;
            }
        }
        CHECK(checked == 48);
        CHECK(worst < 1e-6);
    }
}

TEST_CASE("saehd: both topologies train through the swap trainer, save their networks by name and resume") {
    hg::cpu be(2);
    hg::test::temp_dir liae_dir("hg_swap_saehd", "liae"), df_dir("hg_swap_saehd", "df");
    auto options = [](std::int64_t iterations) {
        auto o = hg::test::micro_options(true, iterations);
        o.batch = 2;
        return o;
    };
    double first = 0, last = 0;
    {
        swap::trainer<hg::cpu, tiny_liae, true> t(be, options(4), hg::test::synthetic_side(1, 11),
                                                  hg::test::synthetic_side(2, 12), liae_dir.path);
        t.run();
        CHECK(t.iteration() == 4);
        first = t.last_loss(0);
        const auto names = t.model().named_parameters();
        bool has_inter_a = false;
        for (const auto& [n, v] : names) has_inter_a = has_inter_a || n.rfind("inter_a/", 0) == 0;
        CHECK(has_inter_a);
    }
    {
        swap::trainer<hg::cpu, tiny_liae, true> t(be, options(8), hg::test::synthetic_side(1, 11),
                                                  hg::test::synthetic_side(2, 12), liae_dir.path);
        CHECK(t.resumed());
        CHECK(t.iteration() == 4);
        t.run();
        CHECK(t.iteration() == 8);
        last = t.last_loss(0);
        CHECK(std::isfinite(last));
        const auto scores = t.evaluate_holdout();  // none: no held-out faces
        CHECK(scores.empty());
    }
    (void)first;
    {
        swap::trainer<hg::cpu, tiny_df, true> t(be, options(3), hg::test::synthetic_side(1, 11),
                                                hg::test::synthetic_side(2, 12), df_dir.path);
        t.run();
        CHECK(t.iteration() == 3);
        CHECK(std::isfinite(t.last_loss(1)));
    }
    // A LIAE folder refuses another architecture by name.
    CHECK_THROWS_WITH_AS((swap::trainer<hg::cpu, tiny_df, true>(be, options(9), hg::test::synthetic_side(1, 11),
                                                                 hg::test::synthetic_side(2, 12), liae_dir.path)),
                         doctest::Contains("tiny-liae"), hg::format_error);
}

TEST_CASE("saehd: the memory estimate counts the LIAE networks once each") {
    swap::memory_estimate_options o;
    o.batch = 4;
    const auto e = swap::estimate_training_memory("liae-ud-128", true, o, "cpu");
    // Parameters: the exact count plus at most 15 elements of alignment padding per parameter tensor.
    const std::int64_t exact = dfl_liae_total(dims_of<swap::liae_ud_128>()) * 4;
    CHECK(e.bytes_of("parameters") >= exact);
    CHECK(e.bytes_of("parameters") < exact + 4 * 16 * 200);
    const auto df = swap::estimate_training_memory("df-ud-128", true, o, "cpu");
    CHECK(df.bytes_of("parameters") >= dfl_df_total(dims_of<swap::df_ud_128>()) * 4);
}
