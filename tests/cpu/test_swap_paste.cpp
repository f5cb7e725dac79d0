// The paste helpers of the face-swap library part (hourglass/swap/paste.hpp): reading a boxes
// file (fields, header, comments, relative frame paths, errors naming the file and line), and pasting
// a face crop into a larger frame at a box through the convert step's warp-and-paste
// (swap::paste_back): placement (inside the box the swapped crop, outside it the frame bit for bit),
// identity with a direct paste_back call, rotation direction, clipping at the frame's edges,
// mean-colour matching under the mask.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "hourglass/swap/paste.hpp"
#include "cpu/helpers.hpp"
#include "support/swap_fixtures.hpp"

namespace fs = std::filesystem;
using hg::test::contains;
using hg::test::message_of;

namespace {

fs::path write_text(const std::string& name, const std::string& text) {
    static const hg::test::temp_dir dir("hg_blend", "paste");  // removed at exit
    const fs::path p = dir.path / name;
    std::ofstream(p) << text;
    return p;
}

/// [h, w, 3] filled with v.
hg::tensor uniform_image(std::int64_t h, std::int64_t w, float v) { return hg::tensor::full(hg::shape{h, w, 3}, v); }

/// A 16x16 face: left half dark (0.2), right half bright (0.8): mean 0.5.
hg::tensor half_face() {
    auto f = uniform_image(16, 16, 0.2f);
    for (std::int64_t y = 0; y < 16; ++y)
        for (std::int64_t x = 8; x < 16; ++x)
            for (int c = 0; c < 3; ++c) f[(y * 16 + x) * 3 + c] = 0.8f;
    return f;
}

float pixel(const hg::tensor& img, std::int64_t y, std::int64_t x, int c = 0) {
    return img[(y * img.shape()[1] + x) * 3 + c];
}

}  // namespace

TEST_CASE("swap paste: a boxes file is read with its header, comments and relative frame paths") {
    const auto file = write_text("boxes.csv",
                                 "crop,frame,x,y,width,height,angle\n"
                                 "# a comment\n"
                                 "\n"
                                 "a.png, frames/one.jpg, 10, 20.5, 64, 64\n"
                                 "b.png,/abs/two.png,-3,4,32,40,12.5\r\n");
    const auto boxes = hg::swap::read_boxes(file);
    REQUIRE(boxes.size() == 2);
    CHECK(boxes[0].crop == "a.png");
    CHECK(boxes[0].frame == file.parent_path() / "frames/one.jpg");
    CHECK(boxes[0].x == 10.0);
    CHECK(boxes[0].y == 20.5);
    CHECK(boxes[0].width == 64.0);
    CHECK(boxes[0].angle == 0.0);
    CHECK(boxes[1].frame == fs::path("/abs/two.png"));
    CHECK(boxes[1].x == -3.0);
    CHECK(boxes[1].height == 40.0);
    CHECK(boxes[1].angle == 12.5);
}

TEST_CASE("swap paste: bad boxes files name the file, the line and the field") {
    CHECK(contains(message_of<hg::io_error>([] { hg::swap::read_boxes("/nonexistent/boxes.csv"); }),
                   "cannot read the boxes file /nonexistent/boxes.csv"));
    const auto fields = write_text("fields.csv", "a.png,f.png,1,2,3\n");
    const auto m1 = message_of<hg::value_error>([&] { hg::swap::read_boxes(fields); });
    CHECK(contains(m1, fields.string() + ", line 1"));
    CHECK(contains(m1, "found 5"));
    const auto nan = write_text("nan.csv", "# header comment\na.png,f.png,1,2x,3,4\n");
    const auto m2 = message_of<hg::value_error>([&] { hg::swap::read_boxes(nan); });
    CHECK(contains(m2, "line 2"));
    CHECK(contains(m2, "'y' is not a finite number: '2x'"));
    const auto size = write_text("size.csv", "a.png,f.png,1,2,0,4\n");
    CHECK(contains(message_of<hg::value_error>([&] { hg::swap::read_boxes(size); }), "the box size must be positive"));
    const auto inf = write_text("inf.csv", "a.png,f.png,1,2,3,4,inf\n");
    CHECK(contains(message_of<hg::value_error>([&] { hg::swap::read_boxes(inf); }), "'angle' is not a finite number"));
}

namespace {

/// A 16x16 face whose value rises linearly from 0.2 (crop column 0) to 0.8 (column 15): bilinear
/// sampling reproduces it exactly between the crop's pixel centres.
hg::tensor ramp_face() {
    auto f = uniform_image(16, 16, 0.0f);
    for (std::int64_t y = 0; y < 16; ++y)
        for (std::int64_t x = 0; x < 16; ++x)
            for (int c = 0; c < 3; ++c) f[(y * 16 + x) * 3 + c] = 0.2f + 0.6f * float(x) / 15.0f;
    return f;
}

}  // namespace

TEST_CASE("swap paste: an axis-aligned paste puts the swapped crop in the box and leaves the frame beyond it bit-identical") {
    // A 20 x 20 box at (10, 5) of a 40 x 50 frame: 1.25 frame pixels per crop pixel. The frame is
    // 0.5 over the box and a texture farther out.
    auto frame = uniform_image(40, 50, 0.5f);
    for (std::int64_t y = 0; y < 40; ++y)
        for (std::int64_t x = 0; x < 50; ++x) {
            const bool near = x >= 7 && x < 33 && y >= 2 && y < 28;
            if (!near)
                for (int c = 0; c < 3; ++c) frame[(y * 50 + x) * 3 + c] = 0.4f + 0.2f * float((y * 50 + x + c) % 7) / 7.f;
        }
    const auto before = frame.clone();
    const auto mask = hg::tensor::full(hg::shape{16, 16, 1}, 1.f);
    hg::swap::face_box box;
    box.x = 10;
    box.y = 5;
    box.width = 20;
    box.height = 20;
    const auto touched = hg::swap::paste_face(frame, ramp_face(), mask, box);
    // The mask reaches the box's 20 x 20 pixels and, fading, the ring one crop pixel (1.25 px) around it.
    CHECK(touched >= 20 * 20);
    CHECK(touched <= 22 * 22);
    // Beyond the box grown by one crop pixel: bit-identical.
    for (std::int64_t y = 0; y < 40; ++y)
        for (std::int64_t x = 0; x < 50; ++x) {
            const bool reach = x >= 8 && x < 32 && y >= 3 && y < 27;
            if (!reach)
                for (int c = 0; c < 3; ++c) REQUIRE(pixel(frame, y, x, c) == pixel(before, y, x, c));
        }
    // Inside: frame pixel x lands on crop column u = 0.8 (x + 0.5 - 20) + 7.5 and shows the ramp
    // there. The ramp's mean under the (symmetric) mask is 0.5, the frame's under it 0.5, so the
    // colour shift is 0 up to rounding: over the pixels whose centre maps between crop pixel
    // centres, the result matches the swapped crop above 80 dB PSNR.
    double se = 0;
    std::int64_t n = 0;
    for (std::int64_t y = 5; y < 25; ++y)
        for (std::int64_t x = 10; x < 30; ++x) {
            // Only where the mask is whole: both crop coordinates between the crop's pixel centres.
            const double u = 0.8 * (double(x) + 0.5 - 20.0) + 7.5, v = 0.8 * (double(y) + 0.5 - 15.0) + 7.5;
            if (u < 0 || u > 15 || v < 0 || v > 15) continue;
            const double want = 0.2 + 0.6 * u / 15.0;
            for (int c = 0; c < 3; ++c) {
                const double d = double(pixel(frame, y, x, c)) - want;
                se += d * d;
                ++n;
            }
        }
    REQUIRE(n > 0);
    const double psnr = se > 0 ? 10.0 * std::log10(double(n) / se) : 200.0;
    MESSAGE("box paste of a ramp: PSNR " << psnr << " dB over " << n / 3 << " pixels");
    CHECK(psnr > 80.0);
}

TEST_CASE("swap paste: paste_face is convert's paste_back through the box's matrix") {
    auto frame = uniform_image(48, 64, 0.3f);
    for (std::int64_t i = 0; i < frame.numel(); ++i) frame[i] = 0.25f + 0.5f * float((i * 37) % 101) / 101.f;
    auto direct = frame.clone();
    hg::swap::face_box box;
    box.x = 12.5;
    box.y = 6;
    box.width = 30;
    box.height = 26;
    box.angle = 15;
    const auto face = half_face();
    const auto mask = hg::swap::elliptical_mask(16, 16);
    const auto touched = hg::swap::paste_face(frame, face, mask, box);
    hg::swap::convert_options o;
    o.color = hg::face::color_mode::avg;
    CHECK(hg::swap::paste_back(direct, face, mask, hg::swap::box_matrix(box, 16), o) == touched);
    CHECK(touched > 0);
    CHECK(hg::test::max_abs_difference(frame, direct) == 0.0);
    // The box's centre maps to the crop's centre (7.5, 7.5); its corner (x, y) edge to (-0.5, -0.5).
    const auto m = hg::swap::box_matrix(box, 16);
    const double cx = box.x + 0.5 * box.width - 0.5, cy = box.y + 0.5 * box.height - 0.5;  // centre, pixel-centre coordinates
    CHECK(m.a * cx + m.b * cy + m.c == doctest::Approx(7.5).epsilon(1e-12));
    CHECK(m.d * cx + m.e * cy + m.f == doctest::Approx(7.5).epsilon(1e-12));
    // A mask of another size is resized to the face's.
    auto other = direct.clone();
    CHECK(hg::swap::paste_face(other, face, hg::swap::elliptical_mask(32, 32), box) > 0);
}

TEST_CASE("swap paste: a positive angle turns the crop counter-clockwise on screen") {
    auto frame = uniform_image(60, 60, 0.5f);
    const auto mask = hg::tensor::full(hg::shape{16, 16, 1}, 1.f);
    hg::swap::face_box box;
    box.x = 14;
    box.y = 14;
    box.width = 32;
    box.height = 32;
    box.angle = 90;
    CHECK(hg::swap::paste_face(frame, half_face(), mask, box) > 0);
    // The crop's +x axis (its bright right half) now points up the picture.
    CHECK(pixel(frame, 20, 30) > 0.65f);  // above the centre (30, 30)
    CHECK(pixel(frame, 40, 30) < 0.35f);  // below it
    // Left and right of the centre lie on the crop's dividing line: mid-grey between the halves.
    CHECK(std::abs(pixel(frame, 30, 20) - 0.5f) < 0.31f);
    box.angle = -90;
    auto other = uniform_image(60, 60, 0.5f);
    hg::swap::paste_face(other, half_face(), mask, box);
    CHECK(pixel(other, 20, 30) < 0.35f);
    CHECK(pixel(other, 40, 30) > 0.65f);
}

TEST_CASE("swap paste: boxes over the edge are clipped, boxes off the frame change nothing") {
    auto frame = uniform_image(30, 30, 0.5f);
    const auto before = frame.clone();
    const auto mask = hg::tensor::full(hg::shape{16, 16, 1}, 1.f);
    hg::swap::face_box box;
    box.x = -5;
    box.y = 20;
    box.width = 20;
    box.height = 20;
    // Visible: columns 0..14 and rows 20..29 of the box, plus the fading ring (column 15, row 19).
    CHECK(hg::swap::paste_face(frame, half_face(), mask, box) == 16 * 11);
    CHECK(pixel(frame, 0, 0) == pixel(before, 0, 0));
    CHECK(pixel(frame, 18, 5) == pixel(before, 18, 5));
    CHECK(pixel(frame, 25, 17) == pixel(before, 25, 17));
    // 5 columns of the dark half and 10 of the bright one show: the visible face's mean (about 0.6)
    // is shifted to the frame's 0.5, so dark 0.2 and bright 0.8 move by the same shift, about -0.1.
    const float shift = pixel(frame, 25, 1) - 0.2f;
    CHECK(shift < -0.09f);
    CHECK(shift > -0.11f);
    CHECK(pixel(frame, 25, 12) == doctest::Approx(0.8f + shift).epsilon(1e-5));
    box.x = 100;
    auto untouched = before.clone();
    CHECK(hg::swap::paste_face(untouched, half_face(), mask, box) == 0);
    CHECK(hg::test::max_abs_difference(untouched, before) == 0.0);
}

TEST_CASE("swap paste: the face's colour is matched to the frame under the mask, a zero mask pastes nothing") {
    auto frame = uniform_image(20, 20, 0.3f);
    const auto face = uniform_image(8, 8, 0.7f);
    auto mask = hg::tensor::full(hg::shape{8, 8, 1}, 1.f);
    hg::swap::face_box box;
    box.width = 20;
    box.height = 20;
    hg::swap::paste_face(frame, face, mask, box);
    for (std::int64_t i = 0; i < frame.numel(); ++i) REQUIRE(frame[i] == doctest::Approx(0.3f).epsilon(1e-6));
    mask.fill(0.f);
    auto other = uniform_image(20, 20, 0.3f);
    CHECK(hg::swap::paste_face(other, face, mask, box) == 0);
    CHECK(hg::test::max_abs_difference(other, uniform_image(20, 20, 0.3f)) == 0.0);
    // Pasting over the whole picture (swap --blend without boxes) matches colour the same way.
    auto whole = uniform_image(8, 8, 0.3f);
    hg::swap::face_box all;
    all.width = 8;
    all.height = 8;
    CHECK(hg::swap::paste_face(whole, face, hg::tensor::full(hg::shape{8, 8, 1}, 1.f), all) == 64);
    CHECK(hg::test::max_abs_difference(whole, uniform_image(8, 8, 0.3f)) < 1e-6);
}
