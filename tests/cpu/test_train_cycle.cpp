// The library's training cycle (hourglass/train/cycle.hpp) on a tiny autoencoder that trains in
// milliseconds: every stop criterion stops where it must (iterations and epochs exactly; the loss
// target at the first iteration whose moving means all reach it - computed from a reference run's
// log - and never before the minimum; the time limit; a stop request and SIGINT); the reason is
// returned, printed and stored in the checkpoint header; a stop followed by a resume with a higher
// limit equals an uninterrupted run bit for bit; a resumed run whose limit is already met stops at
// once without writing; bad criteria, sides and checkpoints are refused with a clear message. Also
// the duration parser, the epoch arithmetic and the loss log.
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cpu/helpers.hpp"
#include "support/tiny_cycle.hpp"
#include "support/swap_fixtures.hpp"
#include "hourglass/hourglass.hpp"

namespace fs = std::filesystem;
using hg::test::image_producer;
using hg::test::iterations;
using hg::test::px;
using hg::test::tiny_model;
using hg::test::tiny_run;
using hg::test::contains;
using hg::test::message_of;

namespace {

struct temp_dir : hg::test::temp_dir {
    explicit temp_dir(const std::string& name) : hg::test::temp_dir("hg_train_cycle", name) {}
};

std::string file_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

hg::io::json saved_header(const fs::path& folder) { return hg::io::checkpoint_store(folder).load().header; }

}  // namespace

TEST_CASE("train cycle: an iteration limit stops exactly there, says why, and stores the reason") {
    temp_dir dir("iterations");
    tiny_run run(dir.path, iterations(7));
    const auto why = run.cycle->run();
    CHECK(why.reason == hg::train::stop_reason::iterations);
    CHECK(run.cycle->iteration() == 7);
    CHECK(why.iteration == 7);
    CHECK(why.message == "stopped: 7 iterations reached at iteration 7 (epoch 1.2)");  // 7 * 4 / 24
    const auto h = saved_header(dir.path);
    CHECK(h.at("iteration").as_int() == 7);
    CHECK(h.at("format").as_string() == "tiny-test");
    CHECK(h.at("epoch").as_double() == doctest::Approx(7.0 * 4 / 24));
    CHECK(h.at("stop").at("reason").as_string() == "iterations");
    CHECK(h.at("stop").at("message").as_string() == why.message);
    const auto rows = hg::train::read_loss_log(dir.path / "losses.csv");
    REQUIRE(rows.size() == 7);
    CHECK(rows.back().iteration == 7);
    CHECK(file_text(dir.path / "losses.csv").rfind("iteration,loss_a\n", 0) == 0);
}

TEST_CASE("train cycle: an epoch is the largest side seen once; an epoch limit stops at ceil(E * largest / batch)") {
    CHECK(hg::train::iterations_for_epochs(2.0, 25, 4) == 13);
    CHECK(hg::train::iterations_for_epochs(0.5, 25, 4) == 4);
    CHECK(hg::train::iterations_for_epochs(1.0, 24, 4) == 6);
    CHECK(hg::train::epoch_at(13, 25, 4) == doctest::Approx(2.08));
    temp_dir dir("epochs");
    hg::train::stop_criteria st;
    st.epochs = 2;
    tiny_run run(dir.path, st, {10, 25});
    const auto why = run.cycle->run();
    CHECK(why.reason == hg::train::stop_reason::epochs);
    CHECK(run.cycle->iteration() == 13);  // 12 iterations show 48 of the 50 samples side b needs
    CHECK(run.cycle->epoch() == doctest::Approx(13.0 * 4 / 25));
    CHECK(why.message == "stopped: 2 epochs reached at iteration 13 (epoch 2.1)");
    CHECK(saved_header(dir.path).at("stop").at("reason").as_string() == "epochs");
    // Whichever comes first: an iteration limit below the epoch limit wins.
    temp_dir both("both");
    st.iterations = 9;
    tiny_run run2(both.path, st, {10, 25});
    CHECK(run2.cycle->run().reason == hg::train::stop_reason::iterations);
    CHECK(run2.cycle->iteration() == 9);
}

TEST_CASE("train cycle: the loss target stops at the first iteration where every side's moving mean reaches it") {
    // A reference run without a target gives the (deterministic) logged losses of every iteration.
    temp_dir ref_dir("target_ref");
    const std::int64_t window = 10, total = 80;
    tiny_run ref(ref_dir.path, iterations(total), {24, 16});
    ref.cycle->run();
    const auto rows = hg::train::read_loss_log(ref_dir.path / "losses.csv");
    REQUIRE(rows.size() == std::size_t(total));
    auto mean = [&](std::size_t side, std::int64_t it) {  // mean of the logged losses it-window+1 .. it
        double s = 0;
        for (std::int64_t k = it - window; k < it; ++k) s += rows[std::size_t(k)].losses[side];
        return s / double(window);
    };
    // The target: the larger of the two sides' means at iteration 50; where it is first reached by
    // both is computed from the log.
    const double target = std::max(mean(0, 50), mean(1, 50));
    std::int64_t expected = -1;
    for (std::int64_t it = window; it <= total && expected < 0; ++it)
        if (mean(0, it) <= target && mean(1, it) <= target) expected = it;
    REQUIRE(expected > window);
    REQUIRE(expected <= 50);
    CHECK(mean(0, window) > target);  // the losses really do fall towards it

    temp_dir dir("target");
    hg::train::stop_criteria st;
    st.iterations = total;
    st.target_loss = target;
    st.target_window = window;
    tiny_run run(dir.path, st, {24, 16});
    const auto why = run.cycle->run();
    CHECK(why.reason == hg::train::stop_reason::loss_target);
    CHECK(run.cycle->iteration() == expected);
    CAPTURE(why.message);
    CHECK(contains(why.message, "reached by both sides at iteration " + std::to_string(expected)));
    CHECK(contains(why.message, "mean of the last 10 iterations: a "));
    CHECK(saved_header(dir.path).at("stop").at("reason").as_string() == "loss_target");
    CHECK(run.cycle->smoothed_loss(0) <= target);
    CHECK(run.cycle->smoothed_loss(1) <= target);

    // A target met from the start still waits for the minimum (and for a full window).
    temp_dir early("target_min");
    st.target_loss = 1e9;
    st.target_min_iterations = 23;
    tiny_run run2(early.path, st, {24, 16});
    CHECK(run2.cycle->run().reason == hg::train::stop_reason::loss_target);
    CHECK(run2.cycle->iteration() == 23);
    temp_dir early2("target_window");
    st.target_min_iterations = 0;
    tiny_run run3(early2.path, st, {24, 16});
    run3.cycle->run();
    CHECK(run3.cycle->iteration() == window);
}

TEST_CASE("train cycle: the time limit stops a run within a step of it") {
    temp_dir dir("time");
    hg::train::stop_criteria st;
    st.time_limit_seconds = 0.4;
    // 20 ms per sample, batch 2: about 40 ms per iteration (one loader thread).
    tiny_run run(dir.path, st, {8}, 2, {}, 20);
    const auto t0 = std::chrono::steady_clock::now();
    const auto why = run.cycle->run();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(why.reason == hg::train::stop_reason::time_limit);
    CHECK(secs >= 0.4);
    CHECK(secs < 3.0);
    CHECK(run.cycle->iteration() >= 2);
    CHECK(run.cycle->iteration() < 40);
    CHECK(contains(why.message, "stopped: time limit 0.4s reached at iteration"));
    CHECK(hg::train::format_duration(9000) == "2h30m00s");
    CHECK(hg::train::format_duration(307) == "5m07s");
}

TEST_CASE("train cycle: a stop request and SIGINT stop after the current step and save") {
    temp_dir dir("signal");
    std::atomic<bool> flag{false};
    {
        tiny_run run(dir.path, iterations(100), {24}, 4, [&](hg::train::cycle<hg::cpu>& c) {
            if (c.iteration() == 5) flag = true;
        });
        const auto why = run.cycle->run(&flag);
        CHECK(why.reason == hg::train::stop_reason::stop_request);
        CHECK(run.cycle->iteration() == 5);
        CHECK(why.message == "stopped: stop requested at iteration 5 (epoch 0.8)");
        const auto h = saved_header(dir.path);
        CHECK(h.at("iteration").as_int() == 5);  // saved although 5 is not a multiple of save_every
        CHECK(h.at("stop").at("reason").as_string() == "stop_request");
    }
    temp_dir sig_dir("sigint");
    const auto& stop = hg::train::install_stop_signals();
    tiny_run run(sig_dir.path, iterations(100), {24}, 4, [&](hg::train::cycle<hg::cpu>& c) {
        if (c.iteration() == 4) std::raise(SIGINT);
    });
    const auto why = run.cycle->run(&stop);
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    hg::train::stop_flag() = false;
    CHECK(why.reason == hg::train::stop_reason::stop_request);
    CHECK(run.cycle->iteration() == 4);
    CHECK(why.message == "stopped: stop requested (SIGINT) at iteration 4 (epoch 0.7)");
}

TEST_CASE("train cycle: a stop then a resume with a higher limit equals an uninterrupted run bit for bit") {
    temp_dir straight("straight"), split("split");
    std::vector<float> w_straight;
    {
        tiny_run run(straight.path, iterations(11), {24, 16});
        run.cycle->run();
        w_straight = run.weights();
    }
    {
        hg::train::stop_criteria st;
        st.epochs = 0.5;  // ceil(0.5 * 24 / 4) = 3 iterations
        tiny_run run(split.path, st, {24, 16});
        CHECK(run.cycle->run().reason == hg::train::stop_reason::epochs);
        CHECK(run.cycle->iteration() == 3);
    }
    std::atomic<bool> flag{false};
    {
        tiny_run run(split.path, iterations(11), {24, 16}, 4, [&](hg::train::cycle<hg::cpu>& c) {
            if (c.iteration() == 7) flag = true;  // between two saves (6 and 9)
        });
        CHECK(run.cycle->resumed());
        CHECK(run.cycle->iteration() == 3);
        CHECK(run.cycle->run(&flag).reason == hg::train::stop_reason::stop_request);
        CHECK(run.cycle->iteration() == 7);
    }
    std::vector<float> w_split;
    {
        tiny_run run(split.path, iterations(11), {24, 16});
        CHECK(run.cycle->iteration() == 7);
        CHECK(run.cycle->epoch() == doctest::Approx(7.0 * 4 / 24));
        CHECK(run.cycle->run().reason == hg::train::stop_reason::iterations);
        w_split = run.weights();
    }
    REQUIRE(w_straight.size() == w_split.size());
    CHECK(std::memcmp(w_straight.data(), w_split.data(), w_straight.size() * sizeof(float)) == 0);
    CHECK(file_text(straight.path / "losses.csv") == file_text(split.path / "losses.csv"));
    // The same limit again: stops at once, nothing written.
    const auto before = fs::last_write_time(split.path / "model.hgc");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    tiny_run again(split.path, iterations(11), {24, 16});
    const auto why = again.cycle->run();
    CHECK(why.reason == hg::train::stop_reason::iterations);
    CHECK(again.cycle->iteration() == 11);
    CHECK(fs::last_write_time(split.path / "model.hgc") == before);
}

TEST_CASE("train cycle: the loss target after a resume sees the same window as an uninterrupted run") {
    temp_dir straight("target_straight"), split("target_split");
    hg::train::stop_criteria st;
    st.iterations = 60;
    st.target_window = 8;
    {
        tiny_run ref(straight.path, iterations(60), {24});
        ref.cycle->run();
    }
    const auto rows = hg::train::read_loss_log(straight.path / "losses.csv");
    double m = 0;
    for (int k = 30; k < 38; ++k) m += rows[std::size_t(k)].losses[0];
    st.target_loss = m / 8.0;  // the mean over iterations 31..38
    std::int64_t uninterrupted = 0;
    {
        temp_dir once("target_once");
        tiny_run run(once.path, st, {24});
        run.cycle->run();
        uninterrupted = run.cycle->iteration();
    }
    REQUIRE(uninterrupted > 8);
    REQUIRE(uninterrupted <= 38);
    auto first = st;
    first.iterations = uninterrupted - 3;  // stop 3 iterations before, mid-window
    {
        tiny_run run(split.path, first, {24});
        run.cycle->run();
    }
    tiny_run run(split.path, st, {24});
    CHECK(run.cycle->run().reason == hg::train::stop_reason::loss_target);
    CHECK(run.cycle->iteration() == uninterrupted);
}

TEST_CASE("train cycle: bad criteria, sides and checkpoints are refused with a message naming them") {
    temp_dir dir("bad");
    hg::train::stop_criteria st;
    st.iterations = -1;
    CHECK(contains(message_of<hg::value_error>([&] { st.validate(); }), "the iteration limit must be >= 0"));
    st.iterations = 0;
    CHECK(contains(message_of<hg::value_error>([&] { st.validate(); }), "none is set"));
    st.target_window = 0;
    st.iterations = 5;
    CHECK(contains(message_of<hg::value_error>([&] { st.validate(); }), "window must be >= 1"));
    st.target_window = 10;
    st.epochs = std::numeric_limits<double>::infinity();
    CHECK(contains(message_of<hg::value_error>([&] { st.validate(); }), "epoch limit"));
    {
        // No criterion and no stop request: run() refuses instead of training forever.
        tiny_run run(dir.path, hg::train::stop_criteria{});
        CHECK(contains(message_of<hg::value_error>([&] { run.cycle->run(); }), "none is set"));
    }
    // Two sides with one name.
    hg::cpu be(1);
    tiny_model m(be, hg::shape{px, px, 3}, 1, "net");
    auto make_side = [&](const std::string& name) {
        hg::train::side<hg::cpu> s;
        s.source.name = name;
        s.source.samples = 4;
        s.source.height = s.source.width = px;
        s.source.producer = image_producer(1);
        s.task = std::make_unique<hg::train::autoencoder_task<hg::cpu, tiny_model, hg::losses::mse>>(m, hg::losses::mse());
        return s;
    };
    hg::train::cycle_options o;
    o.folder = dir.path / "dup";
    std::vector<hg::train::side<hg::cpu>> sides;
    sides.push_back(make_side("a"));
    sides.push_back(make_side("a"));
    CHECK(contains(message_of<hg::value_error>([&] {
                       hg::train::cycle<hg::cpu> c(be, o, {{"net", &m.params()}}, std::move(sides));
                   }),
                   "two sides are called 'a'"));
    // A folder holding another program's checkpoint.
    {
        tiny_run run(dir.path / "foreign", iterations(3));
        run.cycle->run();
    }
    o.folder = dir.path / "foreign";
    o.format = "something-else";
    std::vector<hg::train::side<hg::cpu>> one;
    one.push_back(make_side("a"));
    const auto msg = message_of<hg::format_error>([&] { hg::train::cycle<hg::cpu> c(be, o, {{"net_a", &m.params()}}, std::move(one)); });
    CHECK(contains(msg, "is not a 'something-else' checkpoint (it says 'tiny-test')"));
}

TEST_CASE("train cycle: durations parse as h, m, s in order, and bad ones are named") {
    CHECK(hg::train::parse_duration("2h30m") == 9000);
    CHECK(hg::train::parse_duration("90m") == 5400);
    CHECK(hg::train::parse_duration("45s") == 45);
    CHECK(hg::train::parse_duration("1h2m3s") == 3723);
    CHECK(hg::train::parse_duration("1.5h") == 5400);
    CHECK(hg::train::parse_duration("3600") == 3600);
    for (const char* bad : {"", "2x", "m", "30m2h", "0", "1h1h", "-5m", "1h30", "inf"}) {
        CAPTURE(bad);
        CHECK(contains(message_of<hg::value_error>([&] { hg::train::parse_duration(bad); }),
                       std::string("the duration '") + bad + "' is not valid"));
    }
}

TEST_CASE("train cycle: the loss log has a header, reads back what it wrote and cuts atomically") {
    temp_dir dir("log");
    fs::create_directories(dir.path);
    hg::train::loss_log log(dir.path / "losses.csv", {"a", "b"});
    log.append(1, {0.5, 0.25});
    log.append(2, {1.0 / 3.0, 0.125});
    log.append(3, {0.1, 0.2});
    log.flush();
    CHECK(file_text(dir.path / "losses.csv") == "iteration,loss_a,loss_b\n1,0.5,0.25\n2,0.333333333,0.125\n3,0.1,0.2\n");
    auto rows = hg::train::read_loss_log(dir.path / "losses.csv", 2);
    REQUIRE(rows.size() == 3);
    CHECK(rows[1].losses[0] == hg::train::log_value(1.0 / 3.0));
    CHECK(hg::train::log_value(1.0 / 3.0) == 0.333333333);
    const auto kept = log.cut(2);
    CHECK(kept.size() == 2);
    CHECK(hg::train::read_loss_log(dir.path / "losses.csv", 2).size() == 2);
    CHECK_THROWS_AS(log.append(4, {1.0}), hg::value_error);
    // A log written without a header line (older model folders) reads the same.
    std::ofstream(dir.path / "old.csv") << "1,0.5,0.25\n2,0.4,0.2\n";
    CHECK(hg::train::read_loss_log(dir.path / "old.csv").size() == 2);
}
