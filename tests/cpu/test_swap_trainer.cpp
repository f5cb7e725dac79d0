// The face-swap trainer (hg::swap::trainer on the library's training cycle) on the CPU with the
// 32 px 'micro' architecture and synthetic faces: a run interrupted by a checkpoint and resumed gives
// the same weights and losses bit for bit as an uninterrupted run (with and without a mask head);
// the NaN policy skips, then rolls back to the checkpoint's weights and optimizer state and halves
// the learning rate.
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

#include "cpu/helpers.hpp"
#include "support/swap_fixtures.hpp"
#include "hourglass/hourglass.hpp"
#include "hourglass/swap/trainer.hpp"

namespace fs = std::filesystem;

namespace {

using hg::test::micro_options;
using hg::test::micro_trainer;
using hg::test::synthetic_side;

struct temp_dir : hg::test::temp_dir {
    explicit temp_dir(const std::string& name) : hg::test::temp_dir("hg_swap_trainer", name) {}
};

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
    CHECK(hg::train::read_loss_log(straight.path / "losses.csv").size() == 6);
    CHECK(losses == file_text(resumed.path / "losses.csv"));
    // The weights did move during training.
    micro_trainer<Mask> fresh(be, micro_options(Mask, 6), synthetic_side(1, 11), synthetic_side(2, 12),
                              straight.path / "fresh");
    const auto w0 = fresh.model().named_parameters();
    CHECK(std::memcmp(w0.front().second.data(), w_straight.front().second.data(),
                      static_cast<std::size_t>(w0.front().second.numel()) * sizeof(float)) != 0);
}

}  // namespace

TEST_CASE("swap trainer: a resumed run equals an uninterrupted one bit for bit") { check_exact_resume<false>(); }

TEST_CASE("swap trainer: exact resume with the learned mask head") { check_exact_resume<true>(); }

TEST_CASE("swap trainer: non-finite losses skip steps, then roll back and halve the learning rate") {
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

TEST_CASE("swap trainer: a roll-back restores the checkpoint's weights and optimizer state, halves the rate, and training goes on") {
    hg::cpu be(2);
    temp_dir dir("rollback");
    const auto good_a = synthetic_side(1, 11), good_b = synthetic_side(2, 12);
    {
        micro_trainer<false> t(be, micro_options(false, 3), good_a, good_b, dir.path);
        t.run();  // the checkpoint of iteration 3
    }
    const hg::io::checkpoint saved = hg::io::checkpoint_store(dir.path).load();
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
    CHECK(hg::train::read_loss_log(dir.path / "losses.csv").size() == 3);  // the rows up to the checkpoint

    // Training goes on at the halved rate from the restored state.
    REQUIRE(t.step());
    CHECK(t.iteration() == 4);
    CHECK(t.optimizer(0).steps() == 4);
    CHECK(t.optimizer(0).last_lr() == doctest::Approx(5e-4));
    t.run();
    CHECK(t.iteration() == 8);
    const auto rows = hg::train::read_loss_log(dir.path / "losses.csv");
    REQUIRE(rows.size() == 7);  // 1..3, then 5..8 written by run() (the manual step 4 is not logged)
    for (const auto& r : rows) CHECK((r.losses.size() == 2 && std::isfinite(r.losses[0]) && std::isfinite(r.losses[1])));

    // What was saved: the halved rate, finite weights, and a state that a resumed trainer loads.
    const hg::io::checkpoint last = hg::io::checkpoint_store(dir.path).load();
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


TEST_CASE("swap trainer: three identities share one encoder; the log, checkpoint and preview cover every side") {
    hg::cpu be(2);
    temp_dir dir("three");
    std::vector<hg::swap::side_data> sides = {synthetic_side(1, 11), synthetic_side(2, 12), synthetic_side(3, 13)};
    using trainer3 = hg::swap::trainer<hg::cpu, hg::swap::micro, false, 3>;
    {
        trainer3 t(be, micro_options(false, 3), sides, dir.path);
        const auto why = t.run();
        CHECK(why.reason == hg::train::stop_reason::iterations);
        CHECK(t.iteration() == 3);
        for (int s = 0; s < 3; ++s) CHECK(std::isfinite(t.last_loss(s)));
        CHECK(t.model().network_names() == std::vector<std::string>{"encoder", "decoder_a", "decoder_b", "decoder_c"});
        CHECK(t.model().parameter_sets().size() == 4);
        t.write_preview(dir.path / "grid.png");
    }
    const auto rows = hg::train::read_loss_log(dir.path / "losses.csv");
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].losses.size() == 3);
    CHECK(file_text(dir.path / "losses.csv").rfind("iteration,loss_a,loss_b,loss_c\n", 0) == 0);
    const auto c = hg::io::checkpoint_store(dir.path).load();
    CHECK(c.header.at("identities").as_int() == 3);
    CHECK(c.header.at("seeds").at("loader_c").is_number());
    CHECK(c.find("decoder_c/0:upscale<8>/0:conv2d<32, 3, 1>.w") != nullptr);
    // The preview: per identity the faces, the reconstruction and the swaps to the two others.
    const auto grid = hg::data::load_image(dir.path / "grid.png");
    CHECK(grid.width() == 12 * 32 + 13 * 2);
    // A two-identity trainer refuses the folder, naming both counts.
    const auto msg = hg::test::message_of<hg::format_error>(
        [&] { micro_trainer<false> t(be, micro_options(false, 4), synthetic_side(1, 11), synthetic_side(2, 12), dir.path); });
    CHECK(hg::test::contains(msg, "holds a model of 3 identities, not 2"));
}
