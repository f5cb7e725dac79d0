// End to end through the hourglass-swap example (examples/faceswap) on the CPU with its 32 px
// 'micro' architecture and synthetic faces: a run interrupted by a checkpoint and resumed gives the
// same weights and losses bit for bit as an uninterrupted run (with and without a mask head); the
// NaN policy skips, then rolls back to the checkpoint's weights and optimizer state and halves the
// learning rate; swap writes one PNG per input (plain and blended into a larger frame); info reports
// the model.
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
#include "../../examples/faceswap/commands.hpp"
#include "cpu/helpers.hpp"

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

namespace {

/// Bitwise equality of two float tensors (both defined, same element count).
bool same_floats(const hg::tensor& a, const hg::tensor& b) {
    return a.defined() && b.defined() && a.numel() == b.numel() &&
           std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.numel()) * sizeof(float)) == 0;
}

bool all_finite(const hg::tensor& t) {
    for (std::int64_t i = 0; i < t.numel(); ++i)
        if (!std::isfinite(t[i])) return false;
    return true;
}

}  // namespace

TEST_CASE("faceswap e2e: a roll-back restores the checkpoint's weights and optimizer state, halves the rate, and training goes on") {
    hg::cpu be(2);
    temp_dir dir("rollback");
    const auto good_a = synthetic_side(1, 11), good_b = synthetic_side(2, 12);
    {
        micro_trainer<false> t(be, micro_options(false, 3), good_a, good_b, dir.path);
        t.run();  // the checkpoint of iteration 3
    }
    const hg::train::checkpoint saved = hg::train::checkpoint_store(dir.path).load();
    REQUIRE(saved.header.at("iteration").as_int() == 3);

    // Side A's faces of loader steps 4, 5 and 6 (the attempts at iterations 5, 6 and 7 after one good
    // step from the checkpoint) are NaN, each only the first time it is produced: the steps replayed
    // after the roll-back are clean. The loader's seed is in the checkpoint header, and the sample
    // seeds of a step depend only on it and the step, so the poisoned samples are known in advance.
    const auto poisoned = std::make_shared<std::set<std::uint64_t>>();
    const auto poison_mutex = std::make_shared<std::mutex>();
    {
        hg::data::batch_loader_options lo;
        lo.samples = good_a.samples;
        lo.batch_size = 4;
        lo.height = lo.width = 32;
        lo.mask_channels = 3;
        lo.seed = static_cast<std::uint64_t>(saved.header.at("seeds").at("loader_a").as_int());
        lo.threads = 1;
        lo.prefetch = 1;
        const hg::data::batch_loader seeds(lo, [](std::int64_t, std::uint64_t, const hg::data::sample_views&) {});
        for (std::int64_t p = 4 * 4; p < 7 * 4; ++p) poisoned->insert(seeds.sample_seed(p));
    }
    auto bad_a = good_a;
    bad_a.producer = [clean = good_a.producer, poisoned, poison_mutex](std::int64_t i, std::uint64_t seed,
                                                                        const hg::data::sample_views& out) {
        clean(i, seed, out);
        std::lock_guard<std::mutex> lock(*poison_mutex);
        if (poisoned->erase(seed) == 0) return;
        for (const auto* v : {&out.input, &out.target})
            for (std::int64_t k = 0; k < v->numel(); ++k) (*v)[k] = std::numeric_limits<float>::quiet_NaN();
    };

    std::vector<std::string> log;
    micro_trainer<false> t(be, micro_options(false, 8), bad_a, good_b, dir.path,
                           [&](const std::string& s) { log.push_back(s); });
    REQUIRE(t.resumed());
    REQUIRE(t.iteration() == 3);
    // The optimizers hold the checkpoint's state now (resume): keep a copy of it to compare with.
    std::vector<std::array<hg::tensor, 2>> saved_moments;
    std::vector<std::int64_t> saved_steps;
    for (std::size_t n = 0; n < 3; ++n) {
        saved_moments.push_back({t.optimizer(n).state(0).clone(), t.optimizer(n).state(1).clone()});
        saved_steps.push_back(t.optimizer(n).steps());
        CHECK(saved_steps.back() == 3);
        CHECK(t.optimizer(n).current_settings().rule.lr == doctest::Approx(1e-3));
    }
    const auto saved_weights = t.model().named_parameters();
    REQUIRE(saved_weights.size() == saved.tensors.size());
    for (std::size_t i = 0; i < saved_weights.size(); ++i) REQUIRE(same_floats(saved_weights[i].second, saved.tensors[i].second));

    REQUIRE(t.step());  // iteration 4: weights and moments move away from the checkpoint's
    CHECK(t.iteration() == 4);
    CHECK_FALSE(same_floats(t.model().named_parameters().front().second, saved_weights.front().second));
    CHECK_FALSE(same_floats(t.optimizer(0).state(0), saved_moments[0][0]));
    CHECK(t.optimizer(0).steps() == 4);

    CHECK_FALSE(t.step());
    CHECK_FALSE(t.step());
    CHECK(t.learning_rate() == doctest::Approx(1e-3));
    CHECK(t.iteration() == 4);
    CHECK_FALSE(t.step());  // the third failure in a row: roll back
    {
        std::lock_guard<std::mutex> lock(*poison_mutex);
        CHECK(poisoned->empty());
    }
    CHECK(t.iteration() == 3);
    CHECK(t.learning_rate() == doctest::Approx(5e-4));
    REQUIRE(!log.empty());
    CAPTURE(log.back());
    CHECK(log.back().find("rolled back to the checkpoint of iteration 3") != std::string::npos);
    CHECK(log.back().find("halved") != std::string::npos);
    const auto rolled = t.model().named_parameters();
    REQUIRE(rolled.size() == saved_weights.size());
    for (std::size_t i = 0; i < rolled.size(); ++i) {
        CAPTURE(rolled[i].first);
        CHECK(same_floats(rolled[i].second, saved_weights[i].second));
    }
    for (std::size_t n = 0; n < 3; ++n) {
        CAPTURE(n);
        const auto& opt = t.optimizer(n);
        CHECK(opt.steps() == saved_steps[n]);  // not restarted at 0
        for (int k = 0; k < 2; ++k) {
            REQUIRE(opt.state(k).defined());  // Adam: m and v
            CHECK(same_floats(opt.state(k), saved_moments[n][static_cast<std::size_t>(k)]));
        }
        CHECK(opt.current_settings().rule.lr == doctest::Approx(5e-4));
    }
    // The moments are not trivially equal: a restarted optimizer would have zeros.
    double moment_sum = 0;
    for (std::int64_t i = 0; i < saved_moments[0][1].numel(); ++i) moment_sum += saved_moments[0][1][i];
    CHECK(moment_sum > 0);
    CHECK(faceswap::read_losses(dir.path / "losses.csv").size() == 3);  // the rows up to the checkpoint

    // Training goes on at the halved rate from the restored state.
    REQUIRE(t.step());
    CHECK(t.iteration() == 4);
    CHECK(t.optimizer(0).steps() == 4);
    CHECK(t.optimizer(0).last_lr() == doctest::Approx(5e-4));
    t.run();
    CHECK(t.iteration() == 8);
    const auto rows = faceswap::read_losses(dir.path / "losses.csv");
    REQUIRE(rows.size() == 7);  // 1..3, then 5..8 written by run() (the manual step 4 is not logged)
    for (const auto& r : rows) CHECK((std::isfinite(r.loss_a) && std::isfinite(r.loss_b)));

    // What was saved: the halved rate, finite weights, and a state that a resumed trainer loads.
    const hg::train::checkpoint last = hg::train::checkpoint_store(dir.path).load();
    CHECK(last.header.at("iteration").as_int() == 8);
    CHECK(last.header.at("learning_rate").as_double() == doctest::Approx(5e-4));
    for (const auto& [name, w] : last.tensors) {
        CAPTURE(name);
        CHECK(all_finite(w));
    }
    micro_trainer<false> resumed(be, micro_options(false, 8), good_a, good_b, dir.path);
    CHECK(resumed.iteration() == 8);
    CHECK(resumed.learning_rate() == doctest::Approx(5e-4));
    CHECK(same_floats(resumed.optimizer(2).state(1), t.optimizer(2).state(1)));
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

TEST_CASE("faceswap e2e: swap --boxes pastes each crop into its frame at its box, and bad boxes are refused") {
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

TEST_CASE("faceswap e2e: a demo folder resumes the same demo and refuses one of another length") {
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
                             "started for a different run (2 iterations); use another --out or remove that folder"));
}
