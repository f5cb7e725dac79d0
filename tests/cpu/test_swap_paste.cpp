// The paste helpers of the face-swap library part (hourglass/swap/paste.hpp): reading a boxes
// file (fields, header, comments, relative frame paths, errors naming the file and line), and pasting
// a face crop into a larger frame at a box: placement, rotation direction, clipping at the frame's
// edges, pixels outside the box untouched, mean-colour matching under the mask.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "hourglass/swap/paste.hpp"
#include "cpu/helpers.hpp"

namespace fs = std::filesystem;
using hg::test::contains;
using hg::test::message_of;

namespace {

fs::path write_text(const std::string& name, const std::string& text) {
    const fs::path dir = fs::temp_directory_path() / ("hg_blend_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const fs::path p = dir / name;
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

TEST_CASE("swap paste: an axis-aligned paste lands in the box and leaves the rest untouched") {
    auto frame = uniform_image(40, 50, 0.5f);
    for (std::int64_t i = 0; i < frame.numel(); ++i) frame[i] = 0.4f + 0.2f * float(i % 7) / 7.f;  // texture
    const auto before = frame.clone();
    const auto mask = hg::tensor::full(hg::shape{16, 16, 1}, 1.f);
    hg::swap::face_box box;
    box.x = 10;
    box.y = 5;
    box.width = 20;
    box.height = 20;
    const auto touched = hg::swap::paste_face(frame, half_face(), mask, box);
    CHECK(touched == 20 * 20);
    for (std::int64_t y = 0; y < 40; ++y)
        for (std::int64_t x = 0; x < 50; ++x) {
            const bool inside = x >= 10 && x < 30 && y >= 5 && y < 25;
            if (!inside)
                for (int c = 0; c < 3; ++c) REQUIRE(pixel(frame, y, x, c) == pixel(before, y, x, c));
        }
    // The face's mean (0.5) is shifted to the frame's mean under the box (about 0.5 too): the left
    // of the box is dark, the right bright.
    CHECK(pixel(frame, 15, 12) < 0.35f);
    CHECK(pixel(frame, 15, 27) > 0.65f);
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
    CHECK(hg::swap::paste_face(frame, half_face(), mask, box) == 15 * 10);
    CHECK(pixel(frame, 0, 0) == pixel(before, 0, 0));
    CHECK(pixel(frame, 19, 5) == pixel(before, 19, 5));
    CHECK(pixel(frame, 25, 20) == pixel(before, 25, 20));
    // Visible: 5 columns of the dark half, 10 of the bright one (mean 0.6, matched to the frame's
    // 0.5 over the visible part only: dark 0.1, bright 0.7).
    CHECK(pixel(frame, 25, 1) == doctest::Approx(0.1f).epsilon(1e-5));
    CHECK(pixel(frame, 25, 12) == doctest::Approx(0.7f).epsilon(1e-5));
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
    // The whole-picture blend (no box) matches colour the same way.
    const auto whole = hg::swap::blend_into(uniform_image(8, 8, 0.3f), face, hg::tensor::full(hg::shape{8, 8, 1}, 1.f));
    CHECK(hg::test::max_abs_difference(whole, uniform_image(8, 8, 0.3f)) < 1e-6);
}
