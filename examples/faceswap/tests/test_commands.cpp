// The commands of hourglass-swap (commands.hpp) called as functions, on the CPU with the 32 px
// 'micro' architecture and synthetic faces: swap writes one PNG per input (plain, blended into a
// larger frame through the library's paste, pasted at boxes), info reports the model, a demo folder
// resumes only the same demo.
#include <doctest/doctest.h>

#include <unistd.h>

#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#define FACESWAP_CPU_ONLY 1
#include "commands.hpp"
#include "cpu/helpers.hpp"
#include "support/swap_fixtures.hpp"

namespace fs = std::filesystem;

namespace {

using hg::test::micro_options;
using hg::test::micro_trainer;
using hg::test::synthetic_side;

struct temp_dir : hg::test::temp_dir {
    explicit temp_dir(const std::string& name) : hg::test::temp_dir("hg_faceswap_cmd", name) {}
};

}  // namespace

TEST_CASE("faceswap commands: swap writes one face per input, blend keeps the frame size, info reports the model") {
    hg::cpu be(2);
    temp_dir dir("swap");
    const fs::path model = dir.path / "model", in = dir.path / "in", out = dir.path / "out", blended = dir.path / "blended";
    {
        micro_trainer<false> t(be, micro_options(false, 3), synthetic_side(1, 11), synthetic_side(2, 12), model);
        t.run();
    }
    fs::create_directories(in);
    const hg::data::synthetic_face_set frames{1, 48, 3, 99};
    for (int i = 0; i < 3; ++i) hg::data::save_png(in / ("face" + std::to_string(i) + ".png"), frames.sample(i).image);
    std::ofstream(in / "notes.txt") << "not an image";

    faceswap::swap_options o;
    o.model = model;
    o.input = in;
    o.output = out;
    o.device = "cpu";
    CHECK(faceswap::swap_command(o, [](const std::string&) {}) == 3);
    for (int i = 0; i < 3; ++i) {
        const auto img = hg::data::load_image(out / ("face" + std::to_string(i) + ".png"));
        CHECK(img.height() == 32);
        CHECK(img.width() == 32);
    }
    o.output = blended;
    o.blend = true;
    o.direction = "b2a";
    CHECK(faceswap::swap_command(o, [](const std::string&) {}) == 3);
    const auto frame = hg::data::load_image(in / "face0.png");
    const auto img = hg::data::load_image(blended / "face0.png");
    REQUIRE(img.height() == 48);
    REQUIRE(img.width() == 48);
    // Outside the feathered ellipse the frame is untouched (corner pixel), inside it changed.
    CHECK(img.rgb[0] == frame.rgb[0]);
    double diff = 0;
    for (std::int64_t i = 0; i < img.rgb.numel(); ++i) diff += std::abs(img.rgb[i] - frame.rgb[i]);
    CHECK(diff > 1.0);
    // The blend is the library's box paste over the whole picture (convert's paste_back): the same
    // paste of the plain b2a swap (stored in 8 bits) gives the same picture within 8-bit rounding.
    {
        faceswap::swap_options plain = o;
        plain.blend = false;
        plain.output = dir.path / "plain_b2a";
        CHECK(faceswap::swap_command(plain, [](const std::string&) {}) == 3);
        const auto face = hg::data::load_image(plain.output / "face0.png").rgb;
        auto expected = frame.rgb.clone();
        hg::swap::face_box whole;
        whole.width = 48;
        whole.height = 48;
        CHECK(hg::swap::paste_face(expected, face, hg::swap::elliptical_mask(32, 32), whole) > 0);
        double se = 0;
        for (std::int64_t i = 0; i < img.rgb.numel(); ++i) se += double(img.rgb[i] - expected[i]) * double(img.rgb[i] - expected[i]);
        const double psnr = se > 0 ? 10.0 * std::log10(double(img.rgb.numel()) / se) : 200.0;
        MESSAGE("swap --blend against paste_face of the stored swap: PSNR " << psnr << " dB");
        CHECK(psnr > 45.0);
    }
    o.direction = "sideways";
    CHECK_THROWS_AS(faceswap::swap_command(o, [](const std::string&) {}), hg::value_error);

    std::vector<std::string> lines;
    faceswap::info_command(model, [&](const std::string& s) { lines.push_back(s); });
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    CAPTURE(all);
    CHECK(all.find("architecture:  micro") != std::string::npos);
    CHECK(all.find("iterations:    3") != std::string::npos);
    CHECK(all.find("iteration 3: A ") != std::string::npos);
    CHECK_THROWS_AS(faceswap::info_command(dir.path / "nothing", [](const std::string&) {}), hg::io_error);
}

TEST_CASE("faceswap commands: swap --boxes pastes each crop into its frame at its box, and bad boxes are refused") {
    hg::cpu be(2);
    temp_dir dir("boxes");
    const fs::path model = dir.path / "model", in = dir.path / "in", out = dir.path / "out";
    {
        micro_trainer<false> t(be, micro_options(false, 2), synthetic_side(1, 11), synthetic_side(2, 12), model);
        t.run();
    }
    fs::create_directories(in);
    const hg::data::synthetic_face_set faces{1, 48, 2, 77};
    for (int i = 0; i < 2; ++i) hg::data::save_png(in / ("crop" + std::to_string(i) + ".png"), faces.sample(i).image);
    // One 120 x 90 frame holding both faces (one turned by 20 degrees), another holding the first.
    const auto frame = hg::tensor::full(hg::shape{90, 120, 3}, 0.35f);
    hg::data::save_png(dir.path / "frame_a.png", frame);
    hg::data::save_png(dir.path / "frame_b.png", frame);
    std::ofstream(dir.path / "boxes.csv") << "crop,frame,x,y,width,height,angle\n"
                                             "crop0.png,frame_a.png,5,10,40,40\n"
                                             "crop1.png,frame_a.png,60,20,50,50,20\n"
                                             "crop0.png,frame_b.png,70,40,30,30\n";
    faceswap::swap_options o;
    o.model = model;
    o.input = in;
    o.output = out;
    o.device = "cpu";
    o.blend = true;
    o.boxes = dir.path / "boxes.csv";
    CHECK(faceswap::swap_command(o, [](const std::string&) {}) == 2);
    const auto a = hg::data::load_image(out / "frame_a.png"), b = hg::data::load_image(out / "frame_b.png");
    REQUIRE(a.height() == 90);
    REQUIRE(a.width() == 120);
    CHECK_FALSE(fs::exists(out / "crop0.png"));
    const auto original = hg::data::load_image(dir.path / "frame_a.png");  // 0.35 as stored in 8 bits
    auto changed = [&](const hg::data::image& img, std::int64_t y0, std::int64_t x0, std::int64_t y1, std::int64_t x1) {
        double d = 0;
        for (std::int64_t y = y0; y < y1; ++y)
            for (std::int64_t x = x0; x < x1; ++x)
                for (int c = 0; c < 3; ++c) {
                    const std::int64_t i = (y * 120 + x) * 3 + c;
                    d += std::abs(img.rgb[i] - original.rgb[i]);
                }
        return d;
    };
    CHECK(changed(a, 10, 5, 50, 45) > 1.0);    // first box
    CHECK(changed(a, 20, 60, 70, 110) > 1.0);  // second box
    CHECK(changed(a, 60, 0, 90, 50) == 0.0);   // below the first box: untouched
    CHECK(changed(b, 40, 70, 70, 100) > 1.0);
    CHECK(changed(b, 0, 0, 40, 120) == 0.0);
    // A crop that is not among the inputs, and a frame that does not exist, are named.
    std::ofstream(dir.path / "bad.csv") << "crop9.png,frame_a.png,5,10,40,40\n";
    o.boxes = dir.path / "bad.csv";
    CHECK(hg::test::contains(hg::test::message_of<hg::value_error>([&] { faceswap::swap_command(o, [](const std::string&) {}); }),
                             "names the crop 'crop9.png', which is not among the --input images"));
    std::ofstream(dir.path / "missing.csv") << "crop0.png,nowhere.png,5,10,40,40\n";
    o.boxes = dir.path / "missing.csv";
    CHECK(hg::test::contains(hg::test::message_of<hg::io_error>([&] { faceswap::swap_command(o, [](const std::string&) {}); }),
                             "nowhere.png of crop crop0.png does not exist"));
}

TEST_CASE("faceswap commands: a demo folder resumes the same demo and refuses one of another length or preset") {
    temp_dir dir("demo_resume");
    faceswap::demo_options o;
    o.out = dir.path;
    o.iterations = 2;
    o.device = "cpu";
    o.threads = 1;
    const auto quiet = [](const std::string&) {};
    CHECK(faceswap::demo(o, quiet).iterations == 2);
    CHECK(faceswap::demo(o, quiet).iterations == 2);  // the same run: resumed, nothing refused
    o.iterations = 3;
    CHECK(hg::test::contains(hg::test::message_of<hg::value_error>([&] { faceswap::demo(o, quiet); }),
                             "started for a different run (2 iterations, preset quick); use another --out or remove that folder"));
    o.iterations = 2;
    o.preset = "balanced";  // the same length with another preset: another schedule, refused too
    CHECK(hg::test::contains(hg::test::message_of<hg::value_error>([&] { faceswap::demo(o, quiet); }),
                             "(2 iterations, preset quick)"));
}
