// The training cycle's phase profile (hourglass/train/step_profile.hpp, hourglass-swap train --profile):
// off it never synchronizes the backend; on, the phases of run() add up to its measured wall time,
// a slow batch producer shows up as data wait, and compute phases are reported.
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "hourglass/hourglass.hpp"
#include "hourglass/swap/trainer.hpp"
#include "support/swap_fixtures.hpp"

namespace fs = std::filesystem;

namespace {

struct profile_dir : hg::test::temp_dir {
    explicit profile_dir(const std::string& name) : hg::test::temp_dir("hg_train_profile", name) {}
};

hg::swap::side_data side(std::uint64_t identity, std::uint64_t seed, int sleep_ms) {
    const hg::data::synthetic_face_set set{identity, 32, 16, seed};
    hg::swap::side_data s;
    auto produce = hg::data::augmented_producer(set);
    s.producer = [produce, sleep_ms](std::int64_t i, std::uint64_t sd, const hg::data::sample_views& v) {
        if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
        produce(i, sd, v);
    };
    s.samples = set.count;
    s.mask_channels = 3;
    return s;
}

hg::swap::train_options options(std::int64_t iterations, bool profile, std::int64_t batch = 4) {
    hg::swap::train_options o;
    o.architecture = "micro";
    o.batch = batch;
    o.stop.iterations = iterations;
    o.save_every = 1000;
    o.preview_every = 1000;
    o.lr = 1e-3;
    o.loader_threads = 1;
    o.profile = profile;
    return o;
}

using micro_trainer = hg::swap::trainer<hg::cpu, hg::swap::micro, false>;

double sum_seconds(const hg::train::step_profile& p) {
    double s = 0;
    for (std::size_t i = 0; i < hg::train::step_phase_count; ++i) s += p.total_seconds(static_cast<hg::train::step_phase>(i));
    return s;
}

}  // namespace

TEST_CASE("train profile: marks synchronize only when on and split the time between them") {
    hg::train::step_profile p;
    int syncs = 0;
    p.begin();
    p.mark(hg::train::step_phase::forward);
    p.end_iteration();
    CHECK_FALSE(p.enabled());
    CHECK(p.iterations() == 0);
    CHECK(sum_seconds(p) == 0.0);

    p.enable([&] { ++syncs; });
    p.begin();
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    p.mark(hg::train::step_phase::data_wait);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    p.mark(hg::train::step_phase::backward);
    p.end_iteration();
    CHECK(syncs == 4);  // begin, two marks, the end of the iteration
    CHECK(p.iterations() == 1);
    CHECK(p.mean_ms(hg::train::step_phase::data_wait) >= 30.0);
    CHECK(p.mean_ms(hg::train::step_phase::backward) >= 10.0);
    CHECK(p.mean_ms(hg::train::step_phase::data_wait) > p.mean_ms(hg::train::step_phase::backward));
    CHECK(p.step_ms() == doctest::Approx(1e3 * sum_seconds(p)));
    double percent = 0;
    for (std::size_t i = 0; i < hg::train::step_phase_count; ++i) percent += p.percent(static_cast<hg::train::step_phase>(i));
    CHECK(percent == doctest::Approx(100.0));
    const std::string table = p.table();
    CHECK(table.find("data wait") != std::string::npos);
    CHECK(table.find("optimizer") != std::string::npos);
    CHECK(p.summary().find("data ") == 0);
}

TEST_CASE("train profile: without --profile the trainer records nothing") {
    hg::cpu be(1);  // one thread: no OpenMP barriers to stall on a busy machine
    profile_dir dir("off");
    micro_trainer t(be, options(2, false), side(1, 11, 0), side(2, 12, 0), dir.path);
    t.run();
    CHECK(t.iteration() == 2);
    CHECK_FALSE(t.profile().enabled());
    CHECK(t.profile().iterations() == 0);
    CHECK(sum_seconds(t.profile()) == 0.0);
}

TEST_CASE("train profile: the phases add up to the run time and a slow producer is data wait") {
    hg::cpu be(1);  // one thread: no OpenMP barriers to stall on a busy machine
    profile_dir dir("slow");
    // One face per batch at 600 ms on one loader thread per side: far more than a step of the
    // 32 px model on one face (a few ms; tens, at worst a few hundred, on a loaded machine). Only
    // relative checks: a slow step lets the loader work ahead and shortens the wait in absolute terms.
    micro_trainer t(be, options(5, true, 1), side(1, 11, 600), side(2, 12, 600), dir.path);
    const auto start = std::chrono::steady_clock::now();
    t.run();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto& p = t.profile();
    INFO(p.table());
    REQUIRE(p.enabled());
    CHECK(p.iterations() == 5);
    // The profile covers the loop; run() also writes the final checkpoint after it.
    const double profiled = sum_seconds(p);
    CHECK(profiled <= wall);
    CHECK(profiled >= 0.85 * wall);
    CHECK(p.step_ms() == doctest::Approx(1e3 * profiled / 5.0));
    using hg::train::step_phase;
    CHECK(p.percent(step_phase::data_wait) > 50.0);
    for (const auto ph : {step_phase::forward, step_phase::loss, step_phase::backward, step_phase::optimizer})
        CHECK(p.total_seconds(ph) > 0.0);
    CHECK(p.mean_ms(step_phase::data_wait) > p.mean_ms(step_phase::forward));
}

TEST_CASE("train profile: a fast producer leaves the compute phases dominant") {
    hg::cpu be(1);  // one thread: no OpenMP barriers to stall on a busy machine
    profile_dir dir("fast");
    micro_trainer t(be, options(4, true), side(1, 11, 0), side(2, 12, 0), dir.path);
    // The loaders fill their prefetch slots before the timed loop: the waits below are then about
    // the compute.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    t.run();
    const auto& p = t.profile();
    using hg::train::step_phase;
    const double compute = p.mean_ms(step_phase::forward) + p.mean_ms(step_phase::loss) +
                           p.mean_ms(step_phase::backward) + p.mean_ms(step_phase::optimizer);
    CHECK(p.iterations() == 4);
    CHECK(compute > p.mean_ms(step_phase::data_wait));
}
