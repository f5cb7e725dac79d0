// End to end through the hourglass-swap example (examples/faceswap) on the CPU with its 32 px
// 'micro' architecture and synthetic faces: a run interrupted by a checkpoint and resumed gives the
// same weights and losses bit for bit as an uninterrupted run (with and without a mask head); the
// NaN policy skips, then rolls back and halves the learning rate; swap writes one PNG per input
// (plain and blended into a larger frame); info reports the model.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#define FACESWAP_CPU_ONLY 1
#include "../../examples/faceswap/commands.hpp"

namespace fs = std::filesystem;

namespace {

struct temp_dir {
    fs::path path;
    explicit temp_dir(const std::string& name)
        : path(fs::temp_directory_path() / ("hg_faceswap_" + name + "_" + std::to_string(::getpid()))) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

faceswap::side_data synthetic_side(std::uint64_t identity, std::uint64_t seed) {
    const hg::data::synthetic_face_set set{identity, 32, 24, seed};
    faceswap::side_data s;
    s.producer = hg::data::augmented_producer(set);
    s.samples = set.count;
    s.mask_channels = 3;
    s.preview_faces = faceswap::synthetic_images(set, 0, 2);
    return s;
}

faceswap::train_options micro_options(bool mask, std::int64_t iterations) {
    faceswap::train_options o;
    o.architecture = "micro";
    o.mask = mask;
    o.batch = 4;
    o.iterations = iterations;
    o.save_every = 3;
    o.preview_every = 100;
    o.lr = 1e-3;
    o.seed = 7;
    return o;
}

template <bool Mask>
using micro_trainer = faceswap::trainer<hg::cpu, faceswap::micro, Mask>;

std::string file_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

template <bool Mask>
void check_exact_resume() {
    hg::cpu be(2);
    temp_dir straight("straight"), resumed("resumed");
    std::vector<std::pair<std::string, hg::tensor>> w_straight, w_resumed;
    {
        micro_trainer<Mask> t(be, micro_options(Mask, 6), synthetic_side(1, 11), synthetic_side(2, 12), straight.path);
        CHECK_FALSE(t.resumed());
        t.run();
        CHECK(t.iteration() == 6);
        w_straight = t.model().named_parameters();
    }
    {
        micro_trainer<Mask> t(be, micro_options(Mask, 4), synthetic_side(1, 11), synthetic_side(2, 12), resumed.path);
        t.run();  // saves at 3 and at the end (4)
        CHECK(t.iteration() == 4);
    }
    {
        micro_trainer<Mask> t(be, micro_options(Mask, 6), synthetic_side(1, 11), synthetic_side(2, 12), resumed.path);
        CHECK(t.resumed());
        CHECK(t.iteration() == 4);
        t.run();
        CHECK(t.iteration() == 6);
        w_resumed = t.model().named_parameters();
    }
    REQUIRE(w_straight.size() == w_resumed.size());
    REQUIRE(w_straight.size() > 0);
    CHECK(w_straight.front().first.rfind("encoder/", 0) == 0);
    CHECK(w_straight.back().first.rfind("decoder_b/", 0) == 0);
    for (std::size_t i = 0; i < w_straight.size(); ++i) {
        CAPTURE(w_straight[i].first);
        REQUIRE(w_straight[i].first == w_resumed[i].first);
        const auto& a = w_straight[i].second;
        const auto& b = w_resumed[i].second;
        REQUIRE(a.numel() == b.numel());
        CHECK(std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.numel()) * sizeof(float)) == 0);
    }
    const auto losses = file_text(straight.path / "losses.csv");
    CHECK(faceswap::read_losses(straight.path / "losses.csv").size() == 6);
    CHECK(losses == file_text(resumed.path / "losses.csv"));
    // The weights did move during training.
    micro_trainer<Mask> fresh(be, micro_options(Mask, 6), synthetic_side(1, 11), synthetic_side(2, 12),
                              straight.path / "fresh");
    const auto w0 = fresh.model().named_parameters();
    CHECK(std::memcmp(w0.front().second.data(), w_straight.front().second.data(),
                      static_cast<std::size_t>(w0.front().second.numel()) * sizeof(float)) != 0);
}

}  // namespace

TEST_CASE("faceswap e2e: a resumed run equals an uninterrupted one bit for bit") { check_exact_resume<false>(); }

TEST_CASE("faceswap e2e: exact resume with the learned mask head") { check_exact_resume<true>(); }

TEST_CASE("faceswap e2e: non-finite losses skip steps, then roll back and halve the learning rate") {
    hg::cpu be(2);
    temp_dir dir("nan");
    auto bad = synthetic_side(1, 11);
    bad.producer = [](std::int64_t, std::uint64_t, const hg::data::sample_views& out) {
        for (const auto* t : {&out.input, &out.target})
            for (std::int64_t i = 0; i < t->numel(); ++i) (*t)[i] = std::numeric_limits<float>::quiet_NaN();
        for (std::int64_t i = 0; i < out.mask.numel(); ++i) out.mask[i] = 1.f;
    };
    std::vector<std::string> log;
    micro_trainer<false> t(be, micro_options(false, 6), bad, synthetic_side(2, 12), dir.path,
                           [&](const std::string& s) { log.push_back(s); });
    const auto before = t.model().named_parameters();
    CHECK_FALSE(t.step());
    CHECK_FALSE(t.step());
    CHECK(t.learning_rate() == doctest::Approx(1e-3));
    CHECK_FALSE(t.step());
    CHECK(t.learning_rate() == doctest::Approx(5e-4));
    CHECK(t.iteration() == 0);
    REQUIRE(log.size() >= 4);
    CHECK(log[0].find("not finite") != std::string::npos);
    CHECK(log.back().find("halved") != std::string::npos);
    const auto after = t.model().named_parameters();
    for (std::size_t i = 0; i < before.size(); ++i)
        CHECK(std::memcmp(before[i].second.data(), after[i].second.data(),
                          static_cast<std::size_t>(before[i].second.numel()) * sizeof(float)) == 0);
}

TEST_CASE("faceswap e2e: swap writes one face per input, blend keeps the frame size, info reports the model") {
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
