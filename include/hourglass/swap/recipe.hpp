// hg::swap training recipes: the learning rate, its warmup and decay, and the augmentation (with
// its ramp) chosen from the training budget, so that `train` with no other option learns within
// the iterations a user gives it. apply_preset fills these fields of a train_options:
//
//   preset     lr       warmup                 decay (cosine, to final_lr_factor)   augmentation
//   quick      1.5e-3   5 % of the budget      over the budget, to 0.1              light: half rotation/zoom/shift,
//                       (at most 100)                                              the random warp, no colour jitter
//   balanced   5e-4     2 % (at most 500)      over the budget, to 0.1              faceswap's full set, ramping in
//                                                                                  from 0 over the first 20 %
//   quality    1e-4     1 % (at most 1000)     over the budget, to 0.1              full, ramping in over 10 %
//   classic    5e-5     none                   none                                 full from the start (faceswap's
//                                                                                  defaults; the old `train`)
//
// 'auto' (the default) picks quick for budgets up to 3000 iterations, balanced up to 30000, quality
// above. Without an iteration budget (only --epochs converted by the caller, or --time-limit) the
// decay has no end to aim at: auto then picks balanced with warmup and no decay.
//
// Why these (measured on the demo's synthetic faces, docs/faceswap.md): a narrow model trained for
// a few hundred steps at faceswap's 5e-5 has barely left its initialisation (grey, checkered
// outputs); a rate of 1.5e-3 decayed along a cosine learns the faces. The random warp is what makes
// the swap work in a short run: it teaches the shared encoder to map a distorted face to its clean
// version, so decoder B meets codes of A's faces it can decode (480 iterations of 'slim', swap
// fidelity 0.852 / 0.793 / 0.851 for seeds 1-3 with the warp, 0.783 / 0.690 / 0.745 without). The
// colour jitter stays off in short runs: the synthetic lighting is part of the pose, and the
// jittered target teaches decoder B to copy the input's lightness. A longer budget affords a lower
// rate and the full augmentation that makes a model generalise, ramped in. The warmup keeps Adam's
// first steps (whose second moment is still a poor estimate) from throwing the weights far at a
// high rate.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdint>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/data/augment.hpp"
#include "hourglass/data/augmented_producer.hpp"
#include "hourglass/io/json.hpp"
#include "hourglass/swap/train_options.hpp"

namespace hg::swap {

inline std::vector<std::string> preset_names() { return {"auto", "quick", "balanced", "quality", "classic"}; }

/// The augmentation of the quick preset: faceswap's geometry at half its ranges and its random
/// warp, no colour jitter.
inline data::augment_config light_augment() {
    data::augment_config c;
    c.rotation_range *= 0.5f;
    c.zoom_range *= 0.5f;
    c.shift_range *= 0.5f;
    c.color_lightness = 0.0f;
    c.color_ab = 0.0f;
    return c;
}

/// The preset 'auto' resolves to for a budget of `iterations` (0: no iteration budget).
inline std::string resolve_preset(const std::string& preset, std::int64_t iterations) {
    const auto names = preset_names();
    if (std::find(names.begin(), names.end(), preset) == names.end())
        throw value_error("unknown preset '" + preset + "' (auto, quick, balanced, quality, classic)");
    if (preset != "auto") return preset;
    if (iterations <= 0) return "balanced";
    if (iterations <= 3000) return "quick";
    if (iterations <= 30000) return "balanced";
    return "quality";
}

/// Which fields of train_options the caller set itself and a preset must leave alone.
struct preset_keep {
    bool lr = false, warmup = false, decay = false, augment = false;
};

/// Fills o.preset (resolved), lr, warmup, cosine_steps, final_lr_factor, augment and augment_ramp
/// from `preset` for a budget of `iterations` (0: none), except what `keep` names.
inline void apply_preset(train_options& o, const std::string& preset, std::int64_t iterations, preset_keep keep = {}) {
    if (iterations < 0) throw value_error("apply_preset: the budget must be >= 0 iterations, got " + std::to_string(iterations));
    const std::string p = resolve_preset(preset, iterations);
    double lr = 5e-5, warmup_share = 0, ramp_share = 0;
    std::int64_t warmup_cap = 0;
    data::augment_config aug;
    if (p == "quick") {
        lr = 1.5e-3, warmup_share = 0.05, warmup_cap = 100, aug = light_augment();
    } else if (p == "balanced") {
        lr = 5e-4, warmup_share = 0.02, warmup_cap = 500, ramp_share = 0.2;
    } else if (p == "quality") {
        lr = 1e-4, warmup_share = 0.01, warmup_cap = 1000, ramp_share = 0.1;
    }
    o.preset = p;
    if (!keep.lr) o.lr = lr;
    // Without a budget: a fixed warmup of the cap's size, no decay, a ramp over 2000 steps.
    const double span = iterations > 0 ? static_cast<double>(iterations) : 0.0;
    if (!keep.warmup)
        o.warmup = p == "classic" ? 0
                   : iterations > 0 ? std::min<std::int64_t>(warmup_cap, static_cast<std::int64_t>(warmup_share * span))
                                    : warmup_cap;
    if (!keep.decay) {
        o.cosine_steps = p != "classic" && iterations > 0 ? iterations : 0;
        o.final_lr_factor = 0.1;
        // A cosine must end after the warmup.
        if (o.cosine_steps > 0 && o.cosine_steps <= o.warmup) o.cosine_steps = 0;
    }
    if (!keep.augment) {
        o.augment = aug;
        o.augment_ramp = {};
        if (ramp_share > 0) o.augment_ramp.steps = iterations > 0 ? static_cast<std::int64_t>(ramp_share * span) : 2000;
    }
}

/// One line saying what the options' preset set: "preset quick: lr 0.0015, warmup 24, cosine
/// decay to 0.1x at 480, augmentation ...".
inline std::string describe_schedule(const train_options& o) {
    char buf[400];
    std::string decay = "no decay";
    if (o.cosine_steps > 0) {
        char d[96];
        std::snprintf(d, sizeof d, "cosine decay to %gx at %lld", o.final_lr_factor, static_cast<long long>(o.cosine_steps));
        decay = d;
    }
    const auto& a = o.augment;
    std::string ramp = "at full strength";
    if (o.augment_ramp.steps > 0) ramp = "ramping in over " + std::to_string(o.augment_ramp.steps) + " iterations";
    std::snprintf(buf, sizeof buf,
                  "preset %s: lr %g, warmup %lld, %s; augmentation rotation %g deg, zoom %g %%, shift %g %%, colour %s, "
                  "warp %s, %s",
                  o.preset.c_str(), o.lr, static_cast<long long>(o.warmup), decay.c_str(), static_cast<double>(a.rotation_range),
                  100.0 * static_cast<double>(a.zoom_range), 100.0 * static_cast<double>(a.shift_range),
                  a.color_lightness > 0 || a.color_ab > 0 ? "on" : "off", a.warp_sigma > 0 ? "on" : "off", ramp.c_str());
    return buf;
}

/// The augmentation settings and ramp as a checkpoint header object (and back: a header without
/// them is from before presets, whose training used faceswap's full augmentation from the start).
inline io::json augment_json(const data::augment_config& c, const data::augment_ramp& r) {
    io::json j = io::json::object();
    j["rotation_range"] = static_cast<double>(c.rotation_range);
    j["zoom_range"] = static_cast<double>(c.zoom_range);
    j["shift_range"] = static_cast<double>(c.shift_range);
    j["flip_chance"] = static_cast<double>(c.flip_chance);
    j["color_lightness"] = static_cast<double>(c.color_lightness);
    j["color_ab"] = static_cast<double>(c.color_ab);
    j["warp_sigma"] = static_cast<double>(c.warp_sigma);
    j["ramp_steps"] = r.steps;
    j["ramp_start"] = r.start;
    return j;
}

inline void augment_from_json(const io::json* j, data::augment_config& c, data::augment_ramp& r) {
    c = {};
    r = {};
    if (!j) return;
    auto f = [&](const char* name, float& v) {
        if (const auto* x = j->find(name)) v = static_cast<float>(x->as_double());
    };
    f("rotation_range", c.rotation_range);
    f("zoom_range", c.zoom_range);
    f("shift_range", c.shift_range);
    f("flip_chance", c.flip_chance);
    f("color_lightness", c.color_lightness);
    f("color_ab", c.color_ab);
    f("warp_sigma", c.warp_sigma);
    if (const auto* x = j->find("ramp_steps")) r.steps = x->as_int();
    if (const auto* x = j->find("ramp_start")) r.start = x->as_double();
    c.validate("the checkpoint's augmentation");
    r.validate();
}

}  // namespace hg::swap
