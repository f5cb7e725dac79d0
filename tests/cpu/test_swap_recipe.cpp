// Training recipes and the held-out score of the face-swap trainer: presets chosen from the budget
// (deterministic, explicit settings kept, a valid schedule for every budget), the augmentation
// ramp (the same draws made milder, strength 0 = no augmentation), the hold-out split (a pure
// function of its seed that never leaks into training, checked sample index by sample index through
// a real batch loader), the learning-rate finder (deterministic for a seed, the documented pick),
// and the trainer's held-out scores, holdout.csv (cut back on resume) and timelapse pictures.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/swap_fixtures.hpp"
#include "hourglass/data/augmented_producer.hpp"
#include "hourglass/optim/schedule.hpp"
#include "hourglass/swap/holdout.hpp"
#include "hourglass/swap/lr_finder.hpp"
#include "hourglass/swap/recipe.hpp"
#include "hourglass/swap/trainer.hpp"

namespace fs = std::filesystem;

namespace {

using hg::shape;
using hg::tensor;
using hg::test::micro_options;
using hg::test::micro_trainer;
using hg::test::synthetic_side;

struct temp_dir : hg::test::temp_dir {
    explicit temp_dir(const std::string& name) : hg::test::temp_dir("hg_swap_recipe", name) {}
};

bool same_bits(const tensor& a, const tensor& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.bytes()) == 0;
}

std::vector<std::string> lines_of(const fs::path& p) {
    std::ifstream in(p);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

/// A side of 24 synthetic 32 px faces whose last `held` are held out and scored.
hg::swap::side_data side_with_holdout(std::uint64_t identity, std::uint64_t seed, std::int64_t held) {
    auto s = synthetic_side(identity, seed);
    const hg::data::synthetic_face_set set{identity, 32, 24, seed};
    s.samples = 24 - held;
    s.holdout_faces = hg::data::synthetic_images(set, 24 - held, held);
    s.holdout_masks = hg::data::synthetic_face_masks(set, 24 - held, held);
    return s;
}

}  // namespace

TEST_CASE("swap recipe: auto picks the preset from the budget, and every preset gives a valid schedule") {
    using hg::swap::resolve_preset;
    CHECK(resolve_preset("auto", 480) == "quick");
    CHECK(resolve_preset("auto", 3000) == "quick");
    CHECK(resolve_preset("auto", 3001) == "balanced");
    CHECK(resolve_preset("auto", 30000) == "balanced");
    CHECK(resolve_preset("auto", 100000) == "quality");
    CHECK(resolve_preset("auto", 0) == "balanced");
    CHECK(resolve_preset("classic", 500) == "classic");
    CHECK_THROWS_AS(resolve_preset("fast", 500), hg::value_error);
    for (const auto& p : hg::swap::preset_names())
        for (std::int64_t budget : {0, 1, 5, 20, 480, 1500, 5000, 100000}) {
            CAPTURE(p);
            CAPTURE(budget);
            hg::swap::train_options o;
            hg::swap::apply_preset(o, p, budget);
            CHECK(o.preset != "auto");
            CHECK(o.lr > 0);
            CHECK(o.warmup >= 0);
            hg::optim::lr_schedule s;
            if (o.cosine_steps > 0) s = hg::optim::lr_schedule::cosine(o.cosine_steps, o.final_lr_factor, o.warmup);
            else s = hg::optim::lr_schedule::linear_warmup(o.warmup);
            CHECK_NOTHROW(s.validate());
            CHECK_NOTHROW(o.augment.validate());
            CHECK_NOTHROW(o.augment_ramp.validate());
            if (budget > 0 && o.cosine_steps > 0) CHECK(o.cosine_steps == budget);
        }
}

TEST_CASE("swap recipe: the presets' values, and settings the caller gave are kept") {
    hg::swap::train_options q;
    hg::swap::apply_preset(q, "auto", 480);
    CHECK(q.preset == "quick");
    CHECK(q.lr == doctest::Approx(1.5e-3));
    CHECK(q.warmup == 24);  // 5 % of 480
    CHECK(q.cosine_steps == 480);
    CHECK(q.augment.warp_sigma == hg::data::augment_config{}.warp_sigma);  // faceswap's warp
    CHECK(q.augment.rotation_range == 0.5f * hg::data::augment_config{}.rotation_range);
    CHECK(q.augment.color_lightness == 0.0f);
    CHECK(q.augment_ramp.steps == 0);

    hg::swap::train_options b;
    hg::swap::apply_preset(b, "auto", 10000);
    CHECK(b.preset == "balanced");
    CHECK(b.lr == doctest::Approx(5e-4));
    CHECK(b.warmup == 200);
    CHECK(b.augment.warp_sigma > 0.0f);
    CHECK(b.augment_ramp.steps == 2000);

    hg::swap::train_options c;
    hg::swap::apply_preset(c, "classic", 10000);
    CHECK(c.lr == doctest::Approx(5e-5));
    CHECK(c.warmup == 0);
    CHECK(c.cosine_steps == 0);
    CHECK(c.augment_ramp.steps == 0);

    hg::swap::train_options k;
    k.lr = 3e-4;
    k.warmup = 7;
    k.cosine_steps = 900;
    hg::swap::preset_keep keep;
    keep.lr = keep.warmup = keep.decay = true;
    hg::swap::apply_preset(k, "quick", 480, keep);
    CHECK(k.lr == doctest::Approx(3e-4));
    CHECK(k.warmup == 7);
    CHECK(k.cosine_steps == 900);
    CHECK(k.augment.color_lightness == 0.0f);  // not kept: the preset's

    // The checkpoint header form of the augmentation round-trips; a header without it is classic.
    const auto j = hg::swap::augment_json(b.augment, b.augment_ramp);
    hg::data::augment_config back;
    hg::data::augment_ramp ramp;
    hg::swap::augment_from_json(&j, back, ramp);
    CHECK(back.warp_sigma == b.augment.warp_sigma);
    CHECK(back.rotation_range == b.augment.rotation_range);
    CHECK(ramp.steps == 2000);
    hg::swap::augment_from_json(nullptr, back, ramp);
    CHECK(back.color_lightness == hg::data::augment_config{}.color_lightness);
    CHECK(ramp.steps == 0);
}

TEST_CASE("data augment ramp: strength 1 leaves the draws, 0 removes every augmentation but the flip") {
    const hg::data::augment_config cfg;
    const auto p = hg::data::draw_augment_params(cfg, 32, 32, 1234, 0);
    const auto full = hg::data::scale_augment_params(p, 1.0);
    CHECK(full.transform.rotation_deg == p.transform.rotation_deg);
    CHECK(full.warp.dx[2][3] == p.warp.dx[2][3]);
    const auto half = hg::data::scale_augment_params(p, 0.5);
    CHECK(half.transform.rotation_deg == doctest::Approx(0.5 * p.transform.rotation_deg));
    CHECK(half.transform.scale - 1.0f == doctest::Approx(0.5 * (p.transform.scale - 1.0f)));
    CHECK(half.lab[0] == doctest::Approx(0.5 * p.lab[0]));
    CHECK(half.warp.dy[1][1] == doctest::Approx(0.5 * p.warp.dy[1][1]));
    const auto none = hg::data::scale_augment_params(p, 0.0);
    CHECK(none.transform.rotation_deg == 0.0f);
    CHECK(none.transform.scale == 1.0f);
    CHECK_FALSE(none.color);
    CHECK_FALSE(none.warped);
    CHECK(none.transform.flip == p.transform.flip);
    CHECK_THROWS_AS(hg::data::scale_augment_params(p, 1.5), hg::value_error);

    hg::data::augment_ramp r{100, 0.2};
    CHECK(r.strength(0) == doctest::Approx(0.2));
    CHECK(r.strength(50) == doctest::Approx(0.6));
    CHECK(r.strength(100) == 1.0);
    CHECK(r.strength(5000) == 1.0);
    CHECK(hg::data::augment_ramp{}.strength(0) == 1.0);
    CHECK_THROWS_AS((hg::data::augment_ramp{-1, 0.0}.validate()), hg::value_error);
    CHECK_THROWS_AS((hg::data::augment_ramp{10, 1.5}.validate()), hg::value_error);
}

TEST_CASE("data augment ramp: through the loader, step k of a ramp equals the scaled draws of its seed") {
    const hg::data::synthetic_face_set set{.identity = 2, .size = 32, .count = 8, .seed = 3};
    const hg::data::augment_config cfg;
    const hg::data::augment_ramp ramp{4, 0.0};
    hg::data::batch_loader_options lo;
    lo.samples = 8;
    lo.batch_size = 2;
    lo.height = lo.width = 32;
    lo.channels = 3;
    lo.mask_channels = 3;
    lo.seed = 5;
    lo.threads = 2;
    hg::data::batch_loader loader(lo, hg::data::augmented_producer(set, cfg, ramp));
    hg::data::augmenter direct(cfg);
    bool differs_from_full = false;
    for (std::int64_t step = 0; step < 6; ++step) {
        const auto b = loader.next();
        CHECK(b.step == step);
        for (std::int64_t j = 0; j < 2; ++j) {
            CAPTURE(step);
            const auto f = set.sample(b.indices[static_cast<std::size_t>(j)]);
            const auto drawn = hg::data::draw_augment_params(cfg, 32, 32, b.seeds[static_cast<std::size_t>(j)], 0);
            const auto want = direct.apply(f.image, std::vector<tensor>{f.face_mask, f.eye_mask, f.mouth_mask},
                                           hg::data::scale_augment_params(drawn, ramp.strength(step)));
            const auto got = b.input.slice(j * 32 * 32 * 3, shape{32, 32, 3});
            CHECK(same_bits(got, want.input));
            if (step == 0) {  // strength 0: the target is the face itself (flipped or not), no colour change
                const auto plain = direct.apply(f.image, std::vector<tensor>{f.face_mask},
                                                hg::data::scale_augment_params(drawn, 0.0));
                CHECK(same_bits(b.target.slice(j * 32 * 32 * 3, shape{32, 32, 3}), plain.target));
                const auto full = direct.apply(f.image, std::vector<tensor>{f.face_mask}, drawn);
                differs_from_full = differs_from_full || !same_bits(got, full.input);
            }
        }
    }
    CHECK(differs_from_full);
}

TEST_CASE("swap holdout: the split is a pure function of its seed, disjoint, and sized as asked") {
    const auto s = hg::swap::split_holdout(400, 10, 3);
    CHECK(s.held.size() == 40);
    CHECK(s.train.size() == 360);
    std::set<std::int64_t> all(s.train.begin(), s.train.end());
    for (auto i : s.held) CHECK(all.insert(i).second);  // disjoint
    CHECK(all.size() == 400);
    CHECK(*all.rbegin() == 399);
    CHECK(std::is_sorted(s.held.begin(), s.held.end()));
    const auto again = hg::swap::split_holdout(400, 10, 3);
    CHECK(again.held == s.held);
    CHECK(hg::swap::split_holdout(400, 10, 4).held != s.held);
    // Not simply the last faces: a folder sorted by name would otherwise hold out one video's end.
    CHECK(s.held.front() < 360);
    CHECK(hg::swap::split_holdout(5, 1, 1).held.size() == 1);  // at least one when asked for any
    CHECK(hg::swap::split_holdout(5, 0, 1).held.empty());
    CHECK_THROWS_AS(hg::swap::split_holdout(1, 50, 1), hg::value_error);  // nothing left to train on
    CHECK_THROWS_AS(hg::swap::split_holdout(10, 100, 1), hg::value_error);
    CHECK_THROWS_AS(hg::swap::split_holdout(10, -1, 1), hg::value_error);
}

TEST_CASE("swap holdout: a loader over the training subset never produces a held-out face") {
    const auto split = hg::swap::split_holdout(30, 20, 9);
    std::vector<std::int64_t> seen_by_source;
    std::mutex m;
    hg::data::sample_producer source = [&](std::int64_t index, std::uint64_t, const hg::data::sample_views& v) {
        {
            std::lock_guard<std::mutex> lock(m);
            seen_by_source.push_back(index);
        }
        for (std::int64_t i = 0; i < v.input.numel(); ++i) v.input.data()[i] = v.target.data()[i] = float(index);
    };
    hg::data::batch_loader_options lo;
    lo.samples = static_cast<std::int64_t>(split.train.size());
    lo.batch_size = 5;
    lo.height = lo.width = 4;
    lo.channels = 3;
    lo.seed = 1;
    lo.threads = 2;
    hg::data::batch_loader loader(lo, hg::data::subset_producer(source, split.train));
    std::set<std::int64_t> produced;
    for (int step = 0; step < 3 * 24 / 5 + 2; ++step) {  // three epochs and a bit
        const auto b = loader.next();
        for (std::int64_t j = 0; j < 5; ++j) produced.insert(static_cast<std::int64_t>(b.input[j * 4 * 4 * 3]));
    }
    std::lock_guard<std::mutex> lock(m);
    for (auto i : seen_by_source) CHECK(std::find(split.held.begin(), split.held.end(), i) == split.held.end());
    CHECK(produced == std::set<std::int64_t>(split.train.begin(), split.train.end()));  // every training face, only those
    CHECK_THROWS_AS(hg::data::subset_producer(source, {}), hg::value_error);
}

TEST_CASE("swap lr finder: the sweep is deterministic for a seed and picks a tenth of the best rate") {
    hg::cpu be(2);
    auto o = micro_options(false, 1);
    hg::swap::lr_finder_options f;
    f.steps = 40;
    f.min_lr = 1e-5;
    f.max_lr = 1.0;
    const auto r1 = hg::swap::find_learning_rate<hg::cpu, hg::swap::micro, false>(
        be, o, {synthetic_side(1, 11), synthetic_side(2, 12)}, f);
    const auto r2 = hg::swap::find_learning_rate<hg::cpu, hg::swap::micro, false>(
        be, o, {synthetic_side(1, 11), synthetic_side(2, 12)}, f);
    REQUIRE(r1.lr.size() >= 2);
    CHECK(r1.lr == r2.lr);
    CHECK(r1.loss == r2.loss);
    CHECK(r1.picked == r2.picked);
    CHECK(r1.lr.front() == doctest::Approx(1e-5));
    // Geometric steps: lr_k = min (max / min)^(k / (steps - 1)).
    CHECK(r1.lr[1] == doctest::Approx(1e-5 * std::pow(1e5, 1.0 / 39.0)));
    const auto best = std::min_element(r1.smoothed.begin(), r1.smoothed.end()) - r1.smoothed.begin();
    CHECK(r1.best_lr == r1.lr[static_cast<std::size_t>(best)]);
    CHECK(r1.picked == doctest::Approx(r1.best_lr / 10));
    // A rate sweep up to 1.0 makes Adam diverge on this model: the sweep ends early and says why.
    CHECK(r1.lr.size() < 40);
    CHECK(r1.smoothed.back() > 1.5 * r1.smoothed[static_cast<std::size_t>(best)]);
    CHECK(r1.stopped.find("lr") != std::string::npos);
    temp_dir d("lr_csv");
    hg::swap::write_lr_finder_csv(d.path / "lr.csv", r1);
    const auto lines = lines_of(d.path / "lr.csv");
    CHECK(lines.front() == "step,lr,loss,smoothed");
    CHECK(lines.size() == r1.lr.size() + 1);
    f.steps = 3;
    CHECK_THROWS_AS((hg::swap::find_learning_rate<hg::cpu, hg::swap::micro, false>(
                        be, o, {synthetic_side(1, 11), synthetic_side(2, 12)}, f)),
                    hg::value_error);
}

TEST_CASE("swap trainer: held-out scores at every preview into holdout.csv, timelapse pictures, cut on resume") {
    hg::cpu be(2);
    temp_dir d("holdout");
    const fs::path lapse = d.path / "lapse";
    auto o = micro_options(false, 6);
    o.preview_every = 2;
    o.timelapse_dir = lapse;
    o.tensorboard_dir = d.path / "tb";
    std::vector<std::string> said;
    auto a = side_with_holdout(1, 11, 4), b = side_with_holdout(2, 12, 4);
    // A->B ground truth: identity 2 in A's held-out poses (the set of identity 2 with A's pose seed).
    const hg::data::synthetic_face_set truth{2, 32, 24, 11};
    a.holdout_swaps.push_back({1, hg::data::synthetic_images(truth, 20, 4), hg::data::synthetic_face_masks(truth, 20, 4)});
    {
        micro_trainer<false> t(be, o, a, b, d.path / "model", [&](const std::string& s) { said.push_back(s); });
        CHECK(t.has_holdout());
        t.run();
        const auto scores = t.evaluate_holdout();
        REQUIRE(scores.size() == 3);
        CHECK(scores[0].name == "rebuilt A");
        CHECK(scores[1].name == "A to B");
        CHECK(scores[2].name == "rebuilt B");
        for (const auto& s : scores) CHECK((s.ssim > -1 && s.ssim < 1));
        // The last event (iteration 6, a preview) carries the held-out scores as TensorBoard scalars.
        const auto& tb = t.cycle().tensorboard_scalars();
        for (const char* tag : {"holdout/rebuilt_A", "holdout/A_to_B", "holdout/rebuilt_B"})
            CHECK(std::any_of(tb.begin(), tb.end(), [&](const auto& kv) { return kv.first == tag; }));
        // The score is the documented face SSIM of the model's outputs.
        const auto rebuilt = hg::data::channels_of(t.model().decode_host(b.holdout_faces, 1), 0, 3);
        CHECK(scores[2].ssim == doctest::Approx(hg::swap::face_ssim(rebuilt, b.holdout_faces, b.holdout_masks)));
    }
    auto rows = lines_of(d.path / "model" / "holdout.csv");
    REQUIRE(rows.size() == 4);
    CHECK(rows[0] == "iteration,rebuilt A,A to B,rebuilt B");
    CHECK(rows[1].rfind("2,", 0) == 0);
    CHECK(rows[3].rfind("6,", 0) == 0);
    CHECK(std::count_if(said.begin(), said.end(), [](const std::string& s) {
              return s.rfind("held-out face SSIM at iteration", 0) == 0;
          }) == 3);
    for (const char* f : {"00000002.png", "00000004.png", "00000006.png"}) CHECK(fs::exists(lapse / f));
    // The timelapse pictures are the preview pictures.
    const auto p6 = hg::data::load_image(d.path / "model" / "preview_6.png");
    CHECK(same_bits(hg::data::load_image(lapse / "00000006.png").rgb, p6.rgb));

    // A resume from the checkpoint of iteration 6 drops the rows after it (here a stray one).
    {
        std::ofstream extra(d.path / "model" / "holdout.csv", std::ios::app);
        extra << "99,0.1,0.1,0.1\n";
        extra << "garbage,0.1\n";  // a damaged row: dropped, not a crash
    }
    o.stop.iterations = 8;
    micro_trainer<false> t(be, o, a, b, d.path / "model");
    CHECK(t.resumed());
    rows = lines_of(d.path / "model" / "holdout.csv");
    CHECK(rows.size() == 4);  // the rows of 99 (after the checkpoint of iteration 6) and "garbage" are gone
    CHECK(rows.back().rfind("6,", 0) == 0);
}

TEST_CASE("swap trainer: held-out faces of the wrong shape are refused by side") {
    hg::cpu be(1);
    temp_dir d("holdout_bad");
    auto a = side_with_holdout(1, 11, 2), b = synthetic_side(2, 12);
    a.holdout_masks = tensor::full(shape{2, 32, 32, 3}, 1.f);
    CHECK_THROWS_AS(micro_trainer<false>(be, micro_options(false, 1), a, b, d.path / "m"), hg::shape_error);
    auto c = synthetic_side(1, 11);
    c.holdout_swaps.push_back({1, tensor(), tensor()});
    CHECK_THROWS_AS(micro_trainer<false>(be, micro_options(false, 1), c, b, d.path / "n"), hg::value_error);
}

TEST_CASE("swap trainer: --mask-weight scales the mask term and its gradient, not the face term") {
    hg::cpu be(1);
    temp_dir d("mask_weight");
    auto run_one = [&](double weight, const char* name) {
        auto o = micro_options(true, 1);
        o.mask_weight = weight;
        micro_trainer<true> t(be, o, synthetic_side(1, 11), synthetic_side(2, 12), d.path / name);
        t.step();
        return std::make_pair(t.cycle().last_loss_terms(0), t.model().named_parameters());
    };
    const auto [one, w_one] = run_one(1.0, "w1");
    const auto [three, w_three] = run_one(3.0, "w3");
    REQUIRE(one.size() == 2);  // face, mask
    CHECK(three[0] == one[0]);  // the first step's face term: same weights, same batch
    CHECK(three[1] == doctest::Approx(3.0 * one[1]).epsilon(1e-6));
    // The update differs: the mask gradient is 3x (Adam normalises per weight, but the encoder's
    // gradient mixes the face and mask terms, so its first step changes).
    bool changed = false;
    for (std::size_t i = 0; i < w_one.size(); ++i)
        if (w_one[i].first.rfind("encoder", 0) == 0 && !same_bits(w_one[i].second, w_three[i].second)) changed = true;
    CHECK(changed);
    auto bad = micro_options(true, 1);
    bad.mask_weight = 0;
    CHECK_THROWS_AS(micro_trainer<true>(be, bad, synthetic_side(1, 11), synthetic_side(2, 12), d.path / "bad"),
                    hg::value_error);
}
