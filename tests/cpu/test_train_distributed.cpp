// Data-parallel training in the library's cycle (train/cycle.hpp, dist/communicator.hpp), with
// threads of this process as the ranks (support/thread_ranks.hpp; tests/dist runs the same through
// mpirun): the split of a global batch; loader slices that side by side are the whole batch, sample
// for sample; K ranks at global batch B train the same weights as one process at batch B (within a
// stated tolerance: the sums run in another order), every rank holding the same bits; a checkpoint of
// 2 ranks resumes on 1 and the other way round; only rank 0 saves and previews; a stop request on
// one rank stops all at the same iteration; ranks that start from different checkpoints, and a batch
// smaller than the ranks, are refused with errors that say so.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cpu/helpers.hpp"
#include "support/swap_fixtures.hpp"
#include "support/thread_ranks.hpp"
#include "support/tiny_cycle.hpp"
#include "support/weight_compare.hpp"

namespace fs = std::filesystem;
using hg::test::contains;
using hg::test::iterations;
using hg::test::message_of;
using hg::test::relative_difference;
using hg::test::weight_tolerance;
using hg::test::tiny_run;

namespace {

struct temp_dir : hg::test::temp_dir {
    explicit temp_dir(const std::string& name) : hg::test::temp_dir("hg_train_distributed", name) {}
};

/// What one rank ended with.
struct rank_result {
    std::vector<float> weights;
    std::int64_t iteration = 0;
    hg::train::stop_info stop;
    std::string error;  ///< the message of what it threw, if anything
};

/// Trains `ranks` thread ranks on `folders[r]` (one folder for all when only one is given) until
/// `stop`, side sizes {24, 16}, global batch `batch`; `request[r]` set by rank r's on_step at
/// iteration `request_at` (0: never).
std::vector<rank_result> train_ranks(int ranks, std::vector<fs::path> folders, hg::train::stop_criteria stop, std::int64_t batch,
                                     int request_rank = -1, std::int64_t request_at = 0) {
    hg::test::thread_ranks comms(ranks);
    std::vector<rank_result> out(static_cast<std::size_t>(ranks));
    std::vector<std::atomic<bool>> requests(static_cast<std::size_t>(ranks));
    std::vector<std::thread> threads;
    for (int r = 0; r < ranks; ++r)
        threads.emplace_back([&, r] {
            auto& res = out[static_cast<std::size_t>(r)];
            try {
                const fs::path folder = folders.size() == 1 ? folders[0] : folders[static_cast<std::size_t>(r)];
                auto on_step = [&, r](hg::train::cycle<hg::cpu>& c) {
                    if (r == request_rank && c.iteration() == request_at) requests[static_cast<std::size_t>(r)] = true;
                };
                tiny_run run(folder, stop, {24, 16}, batch, on_step, 0, comms.rank(r));
                res.stop = run.cycle->run(&requests[static_cast<std::size_t>(r)]);
                res.iteration = run.cycle->iteration();
                res.weights = run.weights();
            } catch (const std::exception& e) {
                res.error = e.what();
            }
        });
    for (auto& t : threads) t.join();
    return out;
}

/// One process at batch `batch` (the reference), on `folder`.
rank_result train_alone(const fs::path& folder, hg::train::stop_criteria stop, std::int64_t batch) {
    tiny_run run(folder, stop, {24, 16}, batch);
    rank_result r;
    r.stop = run.cycle->run();
    r.iteration = run.cycle->iteration();
    r.weights = run.weights();
    return r;
}


// The ranks' sums of n_r / B scaled gradients equal the whole batch's gradient up to the order of
// the float additions (the batch's GEMM sums all samples at once, the ranks their slices, then the
// slices are added) and the rounding of n_r / B (1/3 is not a float); Adam divides by sqrt(v), which
// makes early steps sensitive to the last bits. Measured: 1.8e-7 (2 ranks) and 3.7e-7 (3 ranks) of
// the weights' scale after 9 steps at lr 2e-2; the tolerance leaves a factor 25. Another batch
// (other samples) moves the weights by more than 100 times it (checked below).
// (weight_tolerance = 1e-5: support/weight_compare.hpp)

}  // namespace

TEST_CASE("distributed: a global batch is split into contiguous slices, every rank at least one sample") {
    const auto a = hg::dist::slice_of(16, 0, 3), b = hg::dist::slice_of(16, 1, 3), c = hg::dist::slice_of(16, 2, 3);
    CHECK(a.first == 0);
    CHECK(a.count == 5);
    CHECK(b.first == 5);
    CHECK(b.count == 5);
    CHECK(c.first == 10);
    CHECK(c.count == 6);
    CHECK(hg::dist::slice_of(8, 0, 1).count == 8);
    CHECK(hg::dist::slice_of(2, 1, 2).first == 1);
    CHECK(contains(message_of<hg::value_error>([] { hg::dist::slice_of(3, 0, 4); }), "global batch (3 per side) is smaller than the 4 ranks"));
    CHECK_THROWS_AS(hg::dist::slice_of(8, 2, 2), hg::value_error);
    hg::dist::single_process one;
    float v[2] = {1.5f, -2.f};
    one.sum(v, 2);
    CHECK(v[0] == 1.5f);
    CHECK(one.any(true));
    CHECK_FALSE(one.any(false));
}

TEST_CASE("distributed: loader slices side by side are the whole batch, sample for sample") {
    auto producer = hg::test::image_producer(7);
    auto options = [](std::int64_t first, std::int64_t count) {
        hg::data::batch_loader_options o;
        o.samples = 13;
        o.batch_size = 10;
        o.height = o.width = hg::test::px;
        o.mask_channels = 0;
        o.seed = 99;
        o.threads = 2;
        o.first_step = 3;
        o.slice_first = first;
        o.slice_count = count;
        return o;
    };
    hg::data::batch_loader whole(options(0, 0), producer);
    std::vector<std::unique_ptr<hg::data::batch_loader>> parts;
    for (int r = 0; r < 3; ++r) {
        const auto s = hg::dist::slice_of(10, r, 3);
        parts.push_back(std::make_unique<hg::data::batch_loader>(options(s.first, s.count), producer));
    }
    for (int step = 0; step < 5; ++step) {  // steps 3..7 cross epochs of 13 samples
        const auto w = whole.next();
        std::int64_t j = 0;
        for (auto& p : parts) {
            const auto b = p->next();
            CHECK(b.step == w.step);
            CHECK(b.epoch == w.epoch);
            for (std::int64_t i = 0; i < b.input.shape()[0]; ++i, ++j) {
                CHECK(b.indices[std::size_t(i)] == w.indices[std::size_t(j)]);
                CHECK(b.seeds[std::size_t(i)] == w.seeds[std::size_t(j)]);
                const auto x = b.input.batch_slice(i, 1), y = w.input.batch_slice(j, 1);
                CHECK(std::equal(x.data(), x.data() + x.numel(), y.data()));
            }
        }
        CHECK(j == 10);
    }
    auto bad = options(8, 3);
    CHECK(contains(message_of<hg::value_error>([&] { hg::data::batch_loader l(bad, producer); }), "the slice [8, 11) is not inside the batch of 10"));
}

TEST_CASE("distributed: 2 and 3 ranks train the weights one process trains at the same global batch") {
    temp_dir alone_dir("alone"), two_dir("two"), three_dir("three"), other_dir("other_batch");
    const auto alone = train_alone(alone_dir.path, iterations(9), 6);
    for (int ranks : {2, 3}) {
        CAPTURE(ranks);
        const fs::path folder = ranks == 2 ? two_dir.path : three_dir.path;
        const auto res = train_ranks(ranks, {folder}, iterations(9), 6);
        for (const auto& r : res) {
            REQUIRE(r.error.empty());
            CHECK(r.iteration == 9);
            CHECK(r.stop.reason == hg::train::stop_reason::iterations);
            CHECK(r.weights == res[0].weights);  // every replica holds the same bits
        }
        const double d = relative_difference(res[0].weights, alone.weights);
        MESSAGE(ranks << " ranks against one process: largest weight difference " << d << " of the weights' scale");
        CHECK(d <= weight_tolerance);
        // The log rank 0 wrote holds the global batch's losses.
        const auto ranks_log = hg::train::read_loss_log(folder / "losses.csv");
        const auto alone_log = hg::train::read_loss_log(alone_dir.path / "losses.csv");
        REQUIRE(ranks_log.size() == alone_log.size());
        CHECK(ranks_log.back().losses[0] == doctest::Approx(alone_log.back().losses[0]).epsilon(1e-4));
        CHECK(ranks_log.back().losses[1] == doctest::Approx(alone_log.back().losses[1]).epsilon(1e-4));
    }
    // The tolerance can fail: one process at another batch (other samples) lands far outside it.
    const auto other = train_alone(other_dir.path, iterations(9), 4);
    CHECK(relative_difference(other.weights, alone.weights) > 100 * weight_tolerance);
}

TEST_CASE("distributed: a 2-rank checkpoint resumes on 1 rank and a 1-rank one on 2, continuing the same training") {
    temp_dir alone_dir("resume_alone"), a_dir("resume_2_to_1"), b_dir("resume_1_to_2");
    const auto alone = train_alone(alone_dir.path, iterations(12), 6);
    const auto first = train_ranks(2, {a_dir.path}, iterations(6), 6);
    REQUIRE(first[0].error.empty());
    const auto then_alone = train_alone(a_dir.path, iterations(12), 6);
    CHECK(then_alone.iteration == 12);
    CHECK(relative_difference(then_alone.weights, alone.weights) <= weight_tolerance);

    train_alone(b_dir.path, iterations(6), 6);
    const auto then_two = train_ranks(2, {b_dir.path}, iterations(12), 6);
    REQUIRE(then_two[0].error.empty());
    REQUIRE(then_two[1].error.empty());
    CHECK(then_two[0].iteration == 12);
    CHECK(then_two[1].weights == then_two[0].weights);
    CHECK(relative_difference(then_two[0].weights, alone.weights) <= weight_tolerance);
    CHECK(hg::io::checkpoint_store(b_dir.path).load().header.at("iteration").as_int() == 12);
}

TEST_CASE("distributed: a stop request on one rank stops every rank at the same iteration; only rank 0 writes") {
    temp_dir dir("stop"), rank1("stop_rank1");
    // Rank 1 gets a folder of its own (both start without a checkpoint): it must stay empty.
    const auto res = train_ranks(2, {dir.path, rank1.path}, iterations(50), 4, 1, 5);
    REQUIRE(res[0].error.empty());
    REQUIRE(res[1].error.empty());
    CHECK(res[0].iteration == 5);
    CHECK(res[1].iteration == 5);
    CHECK(res[0].stop.reason == hg::train::stop_reason::stop_request);
    CHECK(contains(res[0].stop.message, "stop requested by another rank"));
    CHECK(res[0].weights == res[1].weights);
    // Rank 0 saved the stop (and its log); rank 1 wrote nothing.
    CHECK(hg::io::checkpoint_store(dir.path).load().header.at("iteration").as_int() == 5);
    CHECK(hg::train::read_loss_log(dir.path / "losses.csv").size() == 5);
    CHECK((!fs::exists(rank1.path) || fs::is_empty(rank1.path)));
}

TEST_CASE("distributed: ranks that start from different checkpoints, or a batch smaller than the ranks, are refused") {
    temp_dir with("with_checkpoint"), without("without_checkpoint"), small("small_batch");
    train_alone(with.path, iterations(3), 4);
    const auto res = train_ranks(2, {with.path, without.path}, iterations(6), 4);
    CHECK(contains(res[1].error, "rank 1 of 2 found no checkpoint in " + without.path.string() + ", rank 0 a checkpoint of iteration 3"));
    CHECK(contains(res[1].error, "every rank must read the same model folder"));
    CHECK(contains(res[0].error, "another rank found another checkpoint"));
    const auto tiny = train_ranks(3, {small.path}, iterations(2), 2);
    for (const auto& r : tiny) CHECK(contains(r.error, "the global batch (2 per side) is smaller than the 3 ranks"));
}

namespace {

/// Every parameter of a face-swap trainer's model, concatenated.
std::vector<float> swap_weights(hg::test::micro_trainer<true>& t) {
    std::vector<float> w;
    for (const auto& [name, v] : t.model().named_parameters()) w.insert(w.end(), v.data(), v.data() + v.numel());
    return w;
}

}  // namespace

// Plain SGD here: Adam's m / sqrt(v) turns a last-bit difference of a gradient near zero into a
// whole step of lr (seen: 2.3e-3 of the weights' scale after 4 steps with OpenBLAS's GEMMs, whose
// blocking differs between a batch of 4 and slices of 2), which says nothing about the reduction.
// With SGD the weights move by lr times the gradient, and the ranks' weights must match to rounding.
hg::swap::train_options swap_sgd_options() {
    auto o = hg::test::micro_options(true, 4);
    o.optimizer = "sgd";
    o.lr = 0.05;
    return o;
}

TEST_CASE("distributed: the face-swap trainer (face-weighted SSIM + MSE, mask head) on 2 ranks trains what one process trains") {
    temp_dir alone_dir("swap_alone"), ranks_dir("swap_ranks");
    std::vector<float> alone, initial;
    {
        hg::cpu be(1);
        hg::test::micro_trainer<true> t(be, swap_sgd_options(), hg::test::synthetic_side(1, 11), hg::test::synthetic_side(2, 12),
                                        alone_dir.path);
        initial = swap_weights(t);
        t.run();
        alone = swap_weights(t);
    }
    hg::test::thread_ranks comms(2);
    std::vector<std::vector<float>> weights(2);
    std::vector<std::string> errors(2);
    std::vector<std::thread> threads;
    for (int r = 0; r < 2; ++r)
        threads.emplace_back([&, r] {
            try {
                hg::cpu be(1);
                auto o = swap_sgd_options();
                o.comm = comms.rank(r);
                hg::test::micro_trainer<true> t(be, o, hg::test::synthetic_side(1, 11), hg::test::synthetic_side(2, 12), ranks_dir.path);
                t.run();
                weights[std::size_t(r)] = swap_weights(t);
            } catch (const std::exception& e) {
                errors[std::size_t(r)] = e.what();
            }
        });
    for (auto& t : threads) t.join();
    REQUIRE(errors[0].empty());
    REQUIRE(errors[1].empty());
    CHECK(weights[0] == weights[1]);
    // The losses of the first iteration (the same weights on both runs): the face losses are means
    // over the samples, so the ranks' n_r / B weighted sum is the batch's loss up to rounding.
    const auto ranks_log = hg::train::read_loss_log(ranks_dir.path / "losses.csv");
    const auto alone_log = hg::train::read_loss_log(alone_dir.path / "losses.csv");
    REQUIRE(ranks_log.size() == 4);
    REQUIRE(alone_log.size() == 4);
    for (std::size_t s = 0; s < 2; ++s) CHECK(ranks_log[0].losses[s] == doctest::Approx(alone_log[0].losses[s]).epsilon(1e-6));
    const double d = relative_difference(weights[0], alone), moved = relative_difference(alone, initial);
    MESSAGE("face-swap trainer (SGD), 2 ranks against one process after 4 iterations: largest weight difference " << d
                                                                                                                  << "; the weights moved by " << moved);
    CHECK(d <= 1e-6);
    CHECK(moved > 1e-3);  // the training moved the weights far more than the tolerance
}
