// Tests of the CPU augmentation (include/hourglass/data/augment.hpp and its parts): determinism
// by seed and independence of threads, exact identity with all ranges 0, flips, the sRGB <-> L*a*b*
// conversions against known values and round trips, the warp (exact identity at zero noise,
// constant displacement = translation), the drawn parameters' ranges and statistics, masks
// following the image's geometry exactly, and the errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/helpers.hpp"
#include "hourglass/core/parallel.hpp"
#include "hourglass/data/augment.hpp"
#include "hourglass/data/color.hpp"
#include "hourglass/data/synthetic_faces.hpp"
#include "hourglass/data/transform.hpp"
#include "hourglass/data/warp.hpp"

namespace {

using hg::shape;
using hg::tensor;
using hg::test::contains;
using hg::test::message_of;
namespace data = hg::data;

bool bitwise_equal(const tensor& a, const tensor& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.bytes()) == 0;
}

double mean_abs_difference(const tensor& a, const tensor& b) {
    double s = 0.0;
    for (std::int64_t i = 0; i < a.numel(); ++i) s += std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    return s / static_cast<double>(a.numel());
}

/// A face and its three masks, for realistic inputs.
struct face_input {
    tensor image;
    std::vector<tensor> masks;
};

face_input face(std::int64_t size, std::uint64_t identity = 4, std::int64_t sample = 0) {
    data::synthetic_face f = data::synthetic_face_set{identity, size, 16, 21}.sample(sample);
    return face_input{f.image, {f.face_mask, f.eye_mask, f.mouth_mask}};
}

data::augment_config all_off() {
    data::augment_config c;
    c.rotation_range = c.zoom_range = c.shift_range = c.flip_chance = 0.0f;
    c.color_lightness = c.color_ab = c.warp_sigma = 0.0f;
    return c;
}

bool same_sample(const data::augmented_sample& a, const data::augmented_sample& b) {
    if (!bitwise_equal(a.input, b.input) || !bitwise_equal(a.target, b.target) || a.masks.size() != b.masks.size())
        return false;
    for (std::size_t i = 0; i < a.masks.size(); ++i)
        if (!bitwise_equal(a.masks[i], b.masks[i])) return false;
    return true;
}

}  // namespace

TEST_CASE("data augment: a seed and an index give bitwise the same sample, in any order, object or thread") {
    const face_input in = face(48);
    data::augmenter first({}, 99), second({}, 99);
    const auto a5 = first(in.image, in.masks, 5);
    const auto a3 = first(in.image, in.masks, 3);
    const auto b3 = second(in.image, in.masks, 3);
    const auto b5 = second(in.image, in.masks, 5);
    CHECK(same_sample(a5, b5));
    CHECK(same_sample(first(in.image, {in.masks[0], in.masks[1], in.masks[2]}, 5), a5));
    CHECK(same_sample(a3, b3));
    CHECK_FALSE(bitwise_equal(a5.input, a3.input));

    // Eight samples on two threads (one augmenter each) equal the serial ones.
    std::vector<data::augmented_sample> parallel(8);
    hg::parallel_for(8, 2, 1, [&](std::int64_t i) {
        data::augmenter local({}, 99);
        parallel[static_cast<std::size_t>(i)] = local(in.image, in.masks, static_cast<std::uint64_t>(i));
    });
    for (std::uint64_t i = 0; i < 8; ++i) CHECK(same_sample(parallel[i], first(in.image, in.masks, i)));
}

TEST_CASE("data augment: different seeds and different indices give different samples") {
    const face_input in = face(48);
    data::augmenter a({}, 1), b({}, 2);
    const auto x = a(in.image, in.masks, 0), y = b(in.image, in.masks, 0), z = a(in.image, in.masks, 1);
    CHECK(mean_abs_difference(x.target, y.target) > 1e-3);
    CHECK(mean_abs_difference(x.input, y.input) > 1e-3);
    CHECK(mean_abs_difference(x.target, z.target) > 1e-3);
    CHECK(mean_abs_difference(x.masks[0], y.masks[0]) > 1e-4);
}

TEST_CASE("data augment: with every range 0 the input, the target and the masks are exactly the originals") {
    for (std::int64_t size : {16, 37, 64}) {
        const face_input in = face(size);
        data::augmenter aug(all_off(), 5);
        for (std::uint64_t i = 0; i < 3; ++i) {
            const auto out = aug(in.image, in.masks, i);
            CHECK(bitwise_equal(out.input, in.image));
            CHECK(bitwise_equal(out.target, in.image));
            for (std::size_t k = 0; k < in.masks.size(); ++k) CHECK(bitwise_equal(out.masks[k], in.masks[k]));
        }
    }
    // Non-square images too.
    const tensor img = hg::test::random_tensor<float>(shape{9, 14, 3}, 3, 0.0, 1.0);
    data::augmenter aug(all_off(), 5);
    CHECK(bitwise_equal(aug(img, 0).target, img));
}

TEST_CASE("data augment: flipping twice is the identity, and a certain flip is exactly the mirror") {
    const tensor img = hg::test::random_tensor<float>(shape{7, 10, 3}, 4, 0.0, 1.0);
    const tensor once = data::flip_horizontal(img);
    CHECK_FALSE(bitwise_equal(once, img));
    CHECK(once[(2 * 10 + 0) * 3 + 1] == img[(2 * 10 + 9) * 3 + 1]);
    CHECK(bitwise_equal(data::flip_horizontal(once), img));

    data::augment_config cfg = all_off();
    cfg.flip_chance = 1.0f;
    const face_input in = face(32);
    const auto out = data::augmenter(cfg, 1)(in.image, in.masks, 0);
    CHECK(bitwise_equal(out.target, data::flip_horizontal(in.image)));
    CHECK(bitwise_equal(out.input, out.target));
    CHECK(bitwise_equal(out.masks[0], data::flip_horizontal(in.masks[0])));
}

TEST_CASE("data augment: the random transform rotates about the centre like cv2.getRotationMatrix2D") {
    // 90 degrees counter-clockwise about (w/2, h/2) on an odd-sized image is an exact permutation.
    const tensor img = hg::test::random_tensor<float>(shape{9, 9, 1}, 8, 0.0, 1.0);
    data::transform_params p;
    p.rotation_deg = 90.0f;
    const tensor r = data::random_transform(img, p);
    // dst(x, y) = src(m^-1(x, y)); with m rotating by +90 deg about (4, 4): src = (8 - y, x).
    double worst = 0.0;
    for (std::int64_t y = 0; y < 9; ++y)
        for (std::int64_t x = 0; x < 9; ++x)
            worst = std::max(worst, static_cast<double>(std::abs(r[y * 9 + x] - img[x * 9 + (8 - y)])));
    CHECK(worst < 1e-5);
    // A shift of exactly one pixel to the right.
    data::transform_params s;
    s.shift_x = 1.0f;
    const tensor t = data::random_transform(img, s);
    CHECK(t[4 * 9 + 5] == doctest::Approx(img[4 * 9 + 4]).epsilon(1e-6));
    CHECK(t[4 * 9 + 0] == img[4 * 9 + 0]);  // replicated border
}

TEST_CASE("data color: sRGB <-> L*a*b* matches known D65 values and round-trips within 1e-4") {
    const data::color3 white = data::srgb_to_lab({{1, 1, 1}});
    CHECK(white.c[0] == doctest::Approx(100.0).epsilon(1e-9));
    CHECK(std::abs(white.c[1]) < 1e-9);
    CHECK(std::abs(white.c[2]) < 1e-9);
    const data::color3 red = data::srgb_to_lab({{1, 0, 0}});  // reference: 53.2408, 80.0925, 67.2032
    CHECK(red.c[0] == doctest::Approx(53.2408).epsilon(1e-4));
    CHECK(red.c[1] == doctest::Approx(80.0925).epsilon(1e-4));
    CHECK(red.c[2] == doctest::Approx(67.2032).epsilon(1e-4));
    const data::color3 black = data::srgb_to_lab({{0, 0, 0}});
    CHECK(std::abs(black.c[0]) < 1e-9);

    const auto& table = data::lab_color_table::instance();
    double exact_rt = 0.0, fast_lab = 0.0, fast_rt = 0.0;
    for (int r = 0; r <= 24; ++r)
        for (int g = 0; g <= 24; ++g)
            for (int b = 0; b <= 24; ++b) {
                const data::color3 c{{r / 24.0, g / 24.0, b / 24.0}};
                const data::color3 lab = data::srgb_to_lab(c);
                const data::color3 back = data::lab_to_srgb(lab);
                float px[3] = {static_cast<float>(c.c[0]), static_cast<float>(c.c[1]), static_cast<float>(c.c[2])};
                float coded[3], out[3];
                table.to_coded_lab(px, coded);
                table.from_coded_lab(coded, out);
                const double ref[3] = {lab.c[0] / 100.0, (lab.c[1] + 128.0) / 255.0, (lab.c[2] + 128.0) / 255.0};
                for (int i = 0; i < 3; ++i) {
                    exact_rt = std::max(exact_rt, std::abs(back.c[i] - c.c[i]));
                    fast_lab = std::max(fast_lab, std::abs(static_cast<double>(coded[i]) - ref[i]));
                    fast_rt = std::max(fast_rt, std::abs(static_cast<double>(out[i]) - static_cast<double>(px[i])));
                }
            }
    INFO("exact round trip " << exact_rt << ", fast coded L*a*b* " << fast_lab << ", fast round trip " << fast_rt);
    CHECK(exact_rt < 1e-10);
    CHECK(fast_lab < 2e-6);
    CHECK(fast_rt < 2e-5);

    // lab_jitter with zero amounts is the fast round trip on a whole image.
    tensor img = hg::test::random_tensor<float>(shape{13, 11, 3}, 6, 0.0, 1.0);
    tensor copy = img.clone();
    data::lab_jitter(copy.data(), 13 * 11, 0.0f, 0.0f, 0.0f);
    CHECK(hg::test::max_abs_difference(copy, img) < 2e-5);
}

TEST_CASE("data color: the L*a*b* jitter moves lightness and tint the way faceswap's does") {
    CHECK(data::lab_shift(0.4f, 0.5f) == doctest::Approx(0.7f));  // towards 1
    CHECK(data::lab_shift(0.4f, -0.5f) == doctest::Approx(0.2f));  // towards 0
    CHECK(data::lab_shift(0.4f, 0.0f) == 0.4f);
    const tensor img = hg::test::random_tensor<float>(shape{8, 8, 3}, 7, 0.1, 0.9);
    auto mean_l = [](const tensor& t) {
        double s = 0.0;
        for (std::int64_t p = 0; p < 64; ++p) s += data::srgb_to_lab({{t[3 * p], t[3 * p + 1], t[3 * p + 2]}}).c[0];
        return s / 64.0;
    };
    tensor brighter = img.clone(), darker = img.clone(), redder = img.clone();
    data::lab_jitter(brighter.data(), 64, 0.3f, 0.0f, 0.0f);
    data::lab_jitter(darker.data(), 64, -0.3f, 0.0f, 0.0f);
    data::lab_jitter(redder.data(), 64, 0.0f, 0.08f, 0.0f);
    CHECK(mean_l(brighter) > mean_l(img) + 5.0);
    CHECK(mean_l(darker) < mean_l(img) - 5.0);
    double red_gain = 0.0, green_gain = 0.0;
    for (std::int64_t p = 0; p < 64; ++p) {
        red_gain += redder[3 * p] - img[3 * p];
        green_gain += redder[3 * p + 1] - img[3 * p + 1];
    }
    CHECK(red_gain > 0.0);   // a* up: towards red/magenta
    CHECK(green_gain < 0.0);
    for (std::int64_t i = 0; i < brighter.numel(); ++i) {
        REQUIRE(brighter[i] >= 0.0f);
        REQUIRE(brighter[i] <= 1.0f);
    }
}

TEST_CASE("data warp: zero noise is exactly the identity, a constant displacement is a translation") {
    const tensor img = hg::test::random_tensor<float>(shape{20, 24, 3}, 9, 0.0, 1.0);
    CHECK(bitwise_equal(data::random_warp(img, data::warp_params{}), img));

    // A linear ramp moved by (0.75, -0.5) everywhere: bilinear sampling of a linear function is exact
    // up to float rounding (bound 1e-5 here), away from the replicated border.
    tensor ramp = tensor::empty(shape{20, 24, 1});
    for (std::int64_t y = 0; y < 20; ++y)
        for (std::int64_t x = 0; x < 24; ++x) ramp[y * 24 + x] = 0.03f * static_cast<float>(x) + 0.02f * static_cast<float>(y);
    data::warp_params p;
    for (auto& row : p.dx) row.fill(0.75f);
    for (auto& row : p.dy) row.fill(-0.5f);
    const tensor moved = data::random_warp(ramp, p);
    double worst = 0.0;
    for (std::int64_t y = 1; y < 19; ++y)
        for (std::int64_t x = 0; x < 23; ++x) {
            const double expected = 0.03 * (x + 0.75) + 0.02 * (y - 0.5);
            worst = std::max(worst, std::abs(static_cast<double>(moved[y * 24 + x]) - expected));
        }
    CHECK(worst < 1e-5);
}

TEST_CASE("data warp: the displacement field interpolates the control points smoothly") {
    // One control point displaced: the field peaks at it, is exactly 0 beyond the spline's support
    // (two cells), and has no jumps.
    const std::int64_t n = 64;
    data::warp_params p;
    p.dx[1][1] = 3.0f;
    const data::warp_axis axis(n);
    std::vector<float> dx(static_cast<std::size_t>(n * n)), dy(static_cast<std::size_t>(n * n));
    data::warp_displacement(p, n, n, axis, axis, dx.data(), dy.data());
    float peak = 0.0f;
    std::int64_t peak_at = 0;
    double jump = 0.0;
    for (std::int64_t i = 0; i < n * n; ++i) {
        if (dx[static_cast<std::size_t>(i)] > peak) peak = dx[static_cast<std::size_t>(i)], peak_at = i;
        CHECK(dy[static_cast<std::size_t>(i)] == 0.0f);
        if (i % n) jump = std::max(jump, static_cast<double>(std::abs(dx[static_cast<std::size_t>(i)] - dx[static_cast<std::size_t>(i - 1)])));
    }
    // Control point (1, 1) sits at pixel 1 * 64 / 4 - 0.5 = 15.5: the peak is at 15 or 16 on both axes.
    CHECK(peak == doctest::Approx(3.0).epsilon(0.05));
    CHECK((peak_at / n == 15 || peak_at / n == 16));
    CHECK((peak_at % n == 15 || peak_at % n == 16));
    CHECK(dx[static_cast<std::size_t>(63 * n + 63)] == 0.0f);  // more than two cells away
    CHECK(dx[static_cast<std::size_t>(10 * n + 50)] == 0.0f);
    CHECK(dx[static_cast<std::size_t>(20 * n + 20)] > 0.5f);
    CHECK(jump < 3.0 * 4.0 / 64.0 * 1.6);  // slope bounded by the spline's (no jumps)
}

TEST_CASE("data augment: drawn parameters stay in faceswap's ranges with the expected statistics") {
    const data::augment_config cfg;
    const std::int64_t size = 128, count = 4000;
    int flips = 0;
    double noise_sq = 0.0, noise_sum = 0.0;
    float max_rot = 0.0f, max_zoom = 0.0f, max_shift = 0.0f, max_l = 0.0f, max_ab = 0.0f;
    for (std::int64_t i = 0; i < count; ++i) {
        const auto p = data::draw_augment_params(cfg, size, size, 17, static_cast<std::uint64_t>(i));
        max_rot = std::max(max_rot, std::abs(p.transform.rotation_deg));
        max_zoom = std::max(max_zoom, std::abs(p.transform.scale - 1.0f));
        max_shift = std::max({max_shift, std::abs(p.transform.shift_x), std::abs(p.transform.shift_y)});
        max_l = std::max(max_l, std::abs(p.lab[0]));
        max_ab = std::max({max_ab, std::abs(p.lab[1]), std::abs(p.lab[2])});
        flips += p.transform.flip ? 1 : 0;
        for (int r = 0; r < 5; ++r)
            for (int c = 0; c < 5; ++c) {
                noise_sum += p.warp.dx[r][c] + p.warp.dy[r][c];
                noise_sq += p.warp.dx[r][c] * p.warp.dx[r][c] + p.warp.dy[r][c] * p.warp.dy[r][c];
            }
    }
    CHECK(max_rot <= 10.0f);
    CHECK(max_rot > 9.9f);
    CHECK(max_zoom <= 0.05f + 1e-6f);
    CHECK(max_zoom > 0.049f);
    CHECK(max_shift <= 0.05f * size + 1e-4f);
    CHECK(max_shift > 0.049f * size);
    CHECK(max_l <= 0.3f);
    CHECK(max_l > 0.29f);
    CHECK(max_ab <= 0.08f);
    CHECK(max_ab > 0.079f);
    CHECK(flips > count * 0.45);
    CHECK(flips < count * 0.55);
    const double samples = count * 50.0;
    const double sigma = std::sqrt(noise_sq / samples);
    CHECK(std::abs(noise_sum / samples) < 0.02 * 2.5);
    CHECK(sigma == doctest::Approx(5.0 / 256.0 * size).epsilon(0.02));  // 2.5 px at 128
}

TEST_CASE("data augment: masks get exactly the image's geometry, and still cover the face") {
    const face_input in = face(64, 2, 3);
    // An image whose three channels ARE the three masks: every output channel must equal the
    // corresponding output mask bitwise (same transform, same flip, same bilinear taps).
    tensor stacked = tensor::empty(shape{64, 64, 3});
    for (std::int64_t p = 0; p < 64 * 64; ++p)
        for (int k = 0; k < 3; ++k) stacked[3 * p + k] = in.masks[static_cast<std::size_t>(k)][p];
    data::augment_config cfg;
    cfg.color_lightness = cfg.color_ab = 0.0f;  // colour only touches the image
    data::augmenter aug(cfg, 8);
    for (std::uint64_t i = 0; i < 6; ++i) {
        const auto out = aug(stacked, in.masks, i);
        bool same = true;
        for (std::int64_t p = 0; p < 64 * 64; ++p)
            for (int k = 0; k < 3; ++k) same = same && out.target[3 * p + k] == out.masks[static_cast<std::size_t>(k)][p];
        CHECK(same);
    }
    // The three masks stacked as the channels of one [H, W, 3] mask give the same values.
    {
        const auto out = aug(stacked, std::vector<tensor>{stacked}, 2);
        CHECK(bitwise_equal(out.masks[0], out.target));
    }
    // On the real face: the transformed face mask still covers (almost) the face it covered, moved
    // with the image: inside it (> 0.99) the target is skin-like and differs from the background.
    data::augmenter real(cfg, 8);
    for (std::uint64_t i = 0; i < 4; ++i) {
        const auto out = real(in.image, in.masks, i);
        double inside = 0.0, area = 0.0, area0 = 0.0;
        for (std::int64_t p = 0; p < 64 * 64; ++p) {
            area += out.masks[0][p];
            area0 += in.masks[0][p];
            if (out.masks[0][p] > 0.99f) inside += 1.0;
        }
        CHECK(area == doctest::Approx(area0).epsilon(0.15));  // zoom +-5 %: area +-10 %
        CHECK(inside > 0.25 * 64 * 64);
        // Eye and mouth masks stay inside the transformed face mask.
        float worst = 0.0f;
        for (std::int64_t p = 0; p < 64 * 64; ++p)
            worst = std::max({worst, out.masks[1][p] - out.masks[0][p], out.masks[2][p] - out.masks[0][p]});
        CHECK(worst < 1e-4f);
        // The warped input stays close to the target inside the face (small displacements) but differs.
        const double d = mean_abs_difference(out.input, out.target);
        CHECK(d > 1e-3);
        CHECK(d < 0.1);
    }
}

TEST_CASE("data augment: run_into writes the same values as the allocating call") {
    const face_input in = face(40);
    data::augmenter aug({}, 3);
    const auto ref = aug(in.image, in.masks, 11);
    tensor input = tensor::full(in.image.shape(), std::nanf("")), target = tensor::full(in.image.shape(), std::nanf(""));
    std::vector<tensor> masks;
    for (const tensor& m : in.masks) masks.push_back(tensor::full(m.shape(), std::nanf("")));
    aug.run_into(in.image, in.masks, 11, input, target, masks);
    CHECK(bitwise_equal(input, ref.input));
    CHECK(bitwise_equal(target, ref.target));
    for (std::size_t k = 0; k < masks.size(); ++k) CHECK(bitwise_equal(masks[k], ref.masks[k]));
    CHECK(hg::test::all_finite(input));
}

TEST_CASE("data augment: bad settings and bad shapes are refused with the reason") {
    auto bad = [](auto set) {
        data::augment_config c;
        set(c);
        return message_of<hg::value_error>([&] { data::augmenter a(c); });
    };
    CHECK(contains(bad([](auto& c) { c.rotation_range = -1.0f; }), "rotation_range"));
    CHECK(contains(bad([](auto& c) { c.zoom_range = std::nanf(""); }), "zoom_range"));
    CHECK(contains(bad([](auto& c) { c.zoom_range = 1.5f; }), "zoom_range"));
    CHECK(contains(bad([](auto& c) { c.shift_range = 2.0f; }), "shift_range"));
    CHECK(contains(bad([](auto& c) { c.flip_chance = 1.5f; }), "flip_chance"));
    CHECK(contains(bad([](auto& c) { c.color_lightness = -0.1f; }), "color_lightness"));
    CHECK(contains(bad([](auto& c) { c.color_ab = INFINITY; }), "color_ab"));
    CHECK(contains(bad([](auto& c) { c.warp_sigma = -0.01f; }), "warp_sigma"));

    data::augmenter aug;
    const tensor good = hg::test::random_tensor<float>(shape{16, 16, 3}, 1, 0.0, 1.0);
    const tensor four = hg::test::random_tensor<float>(shape{16, 16, 4}, 1, 0.0, 1.0);
    const tensor batch = hg::test::random_tensor<float>(shape{1, 16, 16, 3}, 1, 0.0, 1.0);
    const tensor tiny = hg::test::random_tensor<float>(shape{3, 16, 3}, 1, 0.0, 1.0);
    const tensor mask_small = tensor::zeros(shape{8, 16, 1});
    const tensor mask_wide = tensor::zeros(shape{16, 17, 1});
    tensor wrong_out = tensor::empty(shape{8, 8, 3});
    tensor right_out = tensor::empty(shape{16, 16, 3});
    CHECK(contains(message_of<hg::shape_error>([&] { aug(four, 0); }), "[H, W, 3]"));
    CHECK(contains(message_of<hg::shape_error>([&] { aug(batch, 0); }), "[1, 16, 16, 3]"));
    CHECK(contains(message_of<hg::value_error>([&] { aug(tiny, 0); }), "minimum of 4 x 4"));
    CHECK(contains(message_of<hg::shape_error>([&] { aug(good, std::vector<tensor>{mask_small}, 0); }), "a mask"));
    CHECK(contains(message_of<hg::shape_error>([&] { aug(good, std::vector<tensor>{mask_wide}, 0); }), "a mask"));
    CHECK(contains(message_of<hg::shape_error>([&] {
                       aug.run_into(good, std::vector<tensor>{tensor::zeros(shape{16, 16, 2})}, 0, right_out,
                                    right_out.clone(), std::vector<tensor>{tensor::zeros(shape{16, 16, 1})});
                   }),
                   "mask output 0"));
    CHECK(contains(message_of<hg::value_error>([&] { aug(tensor{}, 0); }), "undefined"));
    CHECK(contains(message_of<hg::value_error>([&] { aug.run_into(good, {}, 0, good, right_out, {}); }), "overlap"));
    CHECK(contains(message_of<hg::shape_error>([&] { aug.run_into(good, {}, 0, wrong_out, right_out, {}); }),
                   "image's shape"));
    CHECK(contains(message_of<hg::shape_error>([&] {
                       aug.run_into(good, std::vector<tensor>{tensor::zeros(shape{16, 16, 1})}, 0, right_out,
                                    right_out.clone(), {});
                   }),
                   "mask outputs"));
}
