// The commands of hourglass-swap (demo, train, swap, info) as functions, so that tests can call
// them: backend selection (--device), the architecture dispatch, and what each command writes.
// cli.cpp parses the command line into these option structs; main.cpp holds main().
// With HG_WITH_CUDA (and without FACESWAP_CPU_ONLY) --device cuda|auto can pick hg::cuda.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "hourglass/hourglass.hpp"
#include "hourglass/io/checkpoint_store.hpp"
#include "hourglass/swap/fidelity.hpp"
#include "hourglass/swap/holdout.hpp"
#include "hourglass/swap/lr_finder.hpp"
#include "hourglass/swap/recipe.hpp"
#include "hourglass/swap/paste.hpp"
#include "hourglass/swap/trainer.hpp"
#include "hourglass/train/loss_log.hpp"
#include "openmp_waits.hpp"

#if HG_WITH_CUDA && !defined(FACESWAP_CPU_ONLY)
#define FACESWAP_HAS_CUDA 1
#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/device.hpp"
#else
#define FACESWAP_HAS_CUDA 0
#endif

namespace faceswap {

using hg::data::channels_of;
using hg::data::synthetic_face_masks;
using hg::data::synthetic_images;
using hg::data::resize_batch;
using hg::swap::side_data;
using hg::swap::train_options;
using hg::swap::trainer;

using print_fn = std::function<void(const std::string&)>;

/// "cuda" when --device is cuda, or auto with a usable CUDA device; else "cpu". value_error for
/// cuda without a device or without CUDA support in this build.
inline std::string resolve_device(const std::string& device) {
    if (device != "auto" && device != "cpu" && device != "cuda")
        throw hg::value_error("--device must be auto, cpu or cuda, got '" + device + "'");
    if (device == "cpu") return "cpu";
#if FACESWAP_HAS_CUDA
    if (hg::cuda_device_count() > 0) return "cuda";
    if (device == "cuda") throw hg::device_error("--device cuda: " + hg::cuda_device_status());
#else
    if (device == "cuda") throw hg::device_error("--device cuda: this build has no CUDA backend");
#endif
    return "cpu";
}

/// Calls fn(backend&) on the resolved device (threads: CPU threads, 0 = all).
template <class Fn>
void with_backend(const std::string& resolved, int threads, Fn&& fn) {
#if FACESWAP_HAS_CUDA
    if (resolved == "cuda") {
        hg::cuda be(0);
        fn(be);
        return;
    }
#endif
    (void)resolved;
    hg::cpu be(threads);
    fn(be);
}

/// Calls fn(Arch{}, std::bool_constant<Mask>{}).
template <class Fn>
void with_model_kind(const std::string& arch, bool mask, Fn&& fn) {
    hg::swap::with_architecture(arch, [&](auto a) {
        if (mask) fn(a, std::true_type{});
        else fn(a, std::false_type{});
    });
}

/// The progress line of a trainer: iteration (of the iteration limit, when there is one), epoch,
/// each side's loss, speed, and the time left until the nearest limit (iterations, epochs, time).
template <class Trainer>
std::string progress_line(Trainer& t, std::int64_t first_iteration, double seconds) {
    const auto& st = t.options().stop;
    const auto& c = t.cycle();
    const std::int64_t it = t.iteration();
    const double rate = seconds > 0 ? double(it - first_iteration) / seconds : 0.0;
    double left = -1;  // seconds to the nearest limit; < 0: unknown
    auto nearest = [&](double s) {
        if (s >= 0 && (left < 0 || s < left)) left = s;
    };
    std::int64_t cap = 0;
    if (st.iterations > 0) cap = st.iterations;
    if (st.epochs > 0) {
        const auto e = hg::train::iterations_for_epochs(st.epochs, c.largest_side(), t.options().batch);
        cap = cap > 0 ? std::min(cap, e) : e;
    }
    if (cap > 0 && rate > 0) nearest(double(std::max<std::int64_t>(0, cap - it)) / rate);
    if (st.time_limit_seconds > 0) nearest(st.time_limit_seconds - seconds);
    std::string line = "iteration " + std::to_string(it);
    if (cap > 0) line += "/" + std::to_string(cap);
    char buf[96];
    std::snprintf(buf, sizeof buf, "  epoch %.2f ", t.epoch());
    line += buf;
    for (std::size_t s = 0; s < c.side_count(); ++s) {
        std::snprintf(buf, sizeof buf, " loss %s %.5f", hg::swap::side_name(int(s)).c_str(), c.last_loss(s));
        line += buf;
        if (st.has_loss_target()) {
            std::snprintf(buf, sizeof buf, " (mean %.5f)", c.smoothed_loss(s));
            line += buf;
        }
    }
    std::snprintf(buf, sizeof buf, "  %.2f it/s  %.1f examples/s", rate, rate * double(c.side_count()) * double(t.options().batch));
    line += buf;
    if (left >= 0) line += "  ETA " + hg::train::format_duration(left);
    if (t.profile().enabled() && t.profile().iterations() > 0) line += "  [" + t.profile().summary() + "]";
    return line;
}

/// Prints progress lines (at most one per second) for a trainer.
template <class Trainer>
std::function<void()> progress_printer(Trainer& t, const print_fn& print) {
    auto start = std::chrono::steady_clock::now();
    auto last = start - std::chrono::seconds(10);
    const std::int64_t first = t.iteration();
    return [&t, print, start, last, first]() mutable {
        const auto now = std::chrono::steady_clock::now();
        if (now - last < std::chrono::seconds(1)) return;
        last = now;
        print(progress_line(t, first, std::chrono::duration<double>(now - start).count()));
    };
}

// ---- demo ------------------------------------------------------------------------------------

struct demo_options {
    std::filesystem::path out = "hourglass-demo";
    std::int64_t iterations = 0;  ///< 0: the default of the chosen backend
    std::uint64_t seed = 1;
    std::string device = "auto";
    int threads = 0;
    bool profile = false;  ///< print where the time of an iteration goes (step_profile.hpp)
    bool profile_layers = false;  ///< with profile: also per layer (layer_profile.hpp)
    std::string preset = "auto";  ///< the training preset (swap/recipe.hpp), as train's --preset
    double lr = 0;                ///< > 0: instead of the preset's learning rate
    std::int64_t warmup = -1;     ///< >= 0: instead of the preset's warmup
};

struct demo_result {
    std::filesystem::path preview, loss_plot;
    std::string architecture, device;
    std::int64_t iterations = 0;
    double seconds = 0;
    /// Face-region SSIM (swap_fidelity.hpp) between the A->B swaps and B rendered in A's pose
    /// (the ground truth), over the held-out poses.
    double fidelity = 0;
    double baseline = 0;        ///< the same score for the unswapped faces of A (what no swap gives)
    double reconstruction = 0;  ///< the same score for decoder B on the ground truth itself (B -> B)
    double gap_closed = 0;      ///< (fidelity - baseline) / (1 - baseline)
};

inline constexpr std::int64_t demo_train_poses = 512;  ///< pose indices [0, 512) train
inline constexpr std::int64_t demo_held_out = 32;      ///< indices [512, 544) are held out
inline constexpr std::int64_t demo_cpu_iterations = 1000;  ///< about 3.5 minutes on 2 cores (docs/faceswap.md)
inline constexpr std::int64_t demo_gpu_iterations = 5000;
inline constexpr std::int64_t demo_batch = 16;

inline demo_result demo(const demo_options& o, const print_fn& print) {
    demo_result r;
    r.device = resolve_device(o.device);
    r.architecture = r.device == "cuda" ? "original" : "slim";
    r.iterations = o.iterations > 0 ? o.iterations : (r.device == "cuda" ? demo_gpu_iterations : demo_cpu_iterations);
    std::filesystem::create_directories(o.out);
    const std::filesystem::path model_dir = o.out / "model";
    // The demo trains with train's defaults: the preset of its budget (swap/recipe.hpp).
    train_options t;
    t.architecture = r.architecture;
    t.batch = demo_batch;
    t.stop = {};
    t.stop.iterations = r.iterations;
    hg::swap::preset_keep keep;
    keep.lr = o.lr > 0;
    keep.warmup = o.warmup >= 0;
    if (keep.lr) t.lr = o.lr;
    if (keep.warmup) t.warmup = o.warmup;
    hg::swap::apply_preset(t, o.preset, r.iterations, keep);
    // A demo folder resumes only the same demo: its learning-rate schedule spans the iteration count
    // it was started with, so another count would not continue it.
    if (hg::io::checkpoint_store store(model_dir); store.exists()) {
        const auto header = store.load().header;
        const auto* steps = header.at("options").find("cosine_steps");
        const auto* preset = header.at("options").find("preset");
        const std::int64_t trained_for = steps ? steps->as_int() : 0;
        if (header.at("architecture").as_string() != r.architecture || trained_for != t.cosine_steps ||
            !preset || preset->as_string() != t.preset) {
            std::string msg = "the demo folder " + o.out.string() + " holds a demo model of '";
            msg += header.at("architecture").as_string() + "' started for a different run (";
            msg += trained_for > 0 ? std::to_string(trained_for) + " iterations" : std::string("no decay");
            msg += preset ? ", preset " + preset->as_string() : std::string(", before presets");
            msg += "); use another --out or remove that folder";
            throw hg::value_error(msg);
        }
    }

    // Identity 1 (A) and identity 2 (B), each in its own poses. Ground truth of A -> B at pose i:
    // identity 2 in A's pose i, i.e. the set of identity 2 with A's pose seed.
    const std::uint64_t seed_a = o.seed * 2 + 1, seed_b = o.seed * 2 + 2;
    const std::int64_t count = demo_train_poses + demo_held_out;
    const hg::data::synthetic_face_set set_a{1, 64, count, seed_a}, set_b{2, 64, count, seed_b},
        truth_a2b{2, 64, count, seed_a};
    const hg::data::synthetic_face_set truth_b2a{1, 64, count, seed_b};
    side_data a, b;
    a.producer = hg::data::augmented_producer(set_a, t.augment, t.augment_ramp);
    b.producer = hg::data::augmented_producer(set_b, t.augment, t.augment_ramp);
    a.samples = b.samples = demo_train_poses;  // the loaders never see the held-out indices
    a.mask_channels = b.mask_channels = 3;
    a.preview_faces = synthetic_images(set_a, demo_train_poses, 4);
    b.preview_faces = synthetic_images(set_b, demo_train_poses, 4);
    // The held-out poses, scored at every preview (four times in a run): reconstruction per side
    // and both swaps against their ground truth.
    a.holdout_faces = synthetic_images(set_a, demo_train_poses, demo_held_out);
    b.holdout_faces = synthetic_images(set_b, demo_train_poses, demo_held_out);
    a.holdout_masks = synthetic_face_masks(set_a, demo_train_poses, demo_held_out);
    b.holdout_masks = synthetic_face_masks(set_b, demo_train_poses, demo_held_out);
    a.holdout_swaps.push_back({1, synthetic_images(truth_a2b, demo_train_poses, demo_held_out),
                               synthetic_face_masks(truth_a2b, demo_train_poses, demo_held_out)});
    b.holdout_swaps.push_back({0, synthetic_images(truth_b2a, demo_train_poses, demo_held_out),
                               synthetic_face_masks(truth_b2a, demo_train_poses, demo_held_out)});

    t.save_every = r.iterations;
    t.preview_every = std::max<std::int64_t>(1, r.iterations / 4);
    t.seed = o.seed;
    t.profile = o.profile;
    t.profile_layers = o.profile_layers;
    const auto start = std::chrono::steady_clock::now();
    with_backend(r.device, o.threads, [&](auto& be) {
        using B = std::decay_t<decltype(be)>;
        with_model_kind(r.architecture, false, [&](auto arch, auto mask) {
            using A = decltype(arch);
            trainer<B, A, decltype(mask)::value> tr(be, t, a, b, model_dir, print);
            if (tr.resumed()) print("resuming the demo model in " + model_dir.string());
            print(std::string("demo: training '") + A::name + "' (" + std::to_string(tr.model().parameter_count()) +
                  " parameters) on the " + r.device + " for " + std::to_string(r.iterations) + " iterations, " +
                  hg::swap::describe_schedule(t));
            const auto stopped = tr.run(nullptr, progress_printer(tr, print));
            print(stopped.message);
            if (tr.profile().enabled()) print(tr.profile().table());
            if (tr.profile().layers_enabled()) print(tr.profile().layer_table());
            if constexpr (B::device == hg::device_kind::cpu)
                if (tr.profile().enabled()) print(std::to_string(be.threads()) + " CPU threads; " + openmp_wait_description());
            r.preview = o.out / "preview.png";
            tr.write_preview(r.preview);
            // Fidelity on held-out poses.
            const auto xa = synthetic_images(set_a, demo_train_poses, demo_held_out);
            const auto truth = synthetic_images(truth_a2b, demo_train_poses, demo_held_out);
            const auto swapped = channels_of(tr.model().decode_host(xa, 1), 0, 3);
            const auto rebuilt = channels_of(tr.model().decode_host(truth, 1), 0, 3);
            const auto face = synthetic_face_masks(truth_a2b, demo_train_poses, demo_held_out);
            r.fidelity = hg::swap::face_ssim(swapped, truth, face);
            r.baseline = hg::swap::face_ssim(xa, truth, face);
            r.reconstruction = hg::swap::face_ssim(rebuilt, truth, face);
            r.gap_closed = hg::swap::gap_closed(r.fidelity, r.baseline);
            char buf[320];
            std::snprintf(buf, sizeof buf,
                          "face-region SSIM on %lld held-out poses: A->B swap %.4f, unswapped A %.4f (baseline), "
                          "B->B reconstruction %.4f; the swap closes %.1f%% of the gap from the baseline to 1",
                          static_cast<long long>(demo_held_out), r.fidelity, r.baseline, r.reconstruction,
                          100.0 * r.gap_closed);
            print(buf);
            r.loss_plot = o.out / "loss.png";
            tr.cycle().write_loss_plot(r.loss_plot);
        });
    });
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
}

// ---- train -----------------------------------------------------------------------------------

struct train_command_options {
    std::filesystem::path a, b, model;
    train_options train;
    std::string device = "auto";
    int threads = 0;
    bool find_lr = false;            ///< sweep the learning rate first and train at the pick (lr_finder.hpp)
    std::vector<std::string> given;  ///< options given on the command line (resume keeps the rest)
};

/// Options stored in a checkpoint header override the defaults and what the command line gave
/// (they shape the model, its optimizer state and its batches), except --save-every. Returns the
/// options the command line gave with another value than the checkpoint's, as "--batch 8 (the
/// checkpoint's: 16)", for a warning: they are not used.
inline std::vector<std::string> apply_header(train_command_options& o, const hg::io::json& h) {
    auto given = [&](const char* name) { return std::find(o.given.begin(), o.given.end(), name) != o.given.end(); };
    // The model is the checkpoint's: an --arch or --mask that asks for another one is an error, not
    // silently ignored (the folder would go on training the model it holds).
    const std::string held = h.at("architecture").as_string();
    const bool held_mask = h.at("mask").as_bool();
    if (given("--arch") && o.train.architecture != held)
        throw hg::value_error("the model folder " + o.model.string() + " holds a " + held + " model, not " +
                              o.train.architecture + " (leave out --arch to resume it, or use another --model)");
    if (given("--mask") && o.train.mask && !held_mask)
        throw hg::value_error("the model folder " + o.model.string() + " holds a " + held +
                              " model without a mask head (leave out --mask to resume it, or use another --model)");
    o.train.architecture = held;
    o.train.mask = held_mask;
    const auto& op = h.at("options");
    std::vector<std::string> ignored;
    auto number = [](double v) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", v);
        return std::string(buf);
    };
    auto compare = [&](const char* option, const std::string& wanted, const std::string& held_value) {
        if (given(option) && wanted != held_value) ignored.push_back(std::string(option) + " " + wanted + " (the checkpoint's: " + held_value + ")");
    };
    compare("--batch", std::to_string(o.train.batch), std::to_string(op.at("batch").as_int()));
    compare("--loss", hg::swap::join_names(o.train.loss), op.at("loss").as_string());
    compare("--optimizer", o.train.optimizer, op.at("optimizer").as_string());
    compare("--lr", number(o.train.lr), number(op.at("lr").as_double()));
    compare("--seed", std::to_string(o.train.seed), std::to_string(h.at("seeds").at("model").as_int()));
    if (const auto* hold = op.find("holdout")) compare("--holdout", number(o.train.holdout), number(hold->as_double()));
    compare("--eye-multiplier", number(o.train.eye_multiplier), number(op.at("eye_multiplier").as_double()));
    compare("--mouth-multiplier", number(o.train.mouth_multiplier), number(op.at("mouth_multiplier").as_double()));
    if (const auto* p = op.find("preset")) compare("--preset", o.train.preset, p->as_string());
    // These shape the model, the optimizer state or the batches: always the checkpoint's.
    o.train.batch = op.at("batch").as_int();
    o.train.loss = hg::swap::split_names(op.at("loss").as_string());
    o.train.optimizer = op.at("optimizer").as_string();
    o.train.lr = op.at("lr").as_double();
    // Checkpoints from before presets trained with faceswap's settings: the classic preset.
    o.train.preset = op.find("preset") ? op.at("preset").as_string() : "classic";
    o.train.warmup = op.find("warmup") ? op.at("warmup").as_int() : 0;
    o.train.cosine_steps = op.find("cosine_steps") ? op.at("cosine_steps").as_int() : 0;
    o.train.final_lr_factor = op.find("final_lr_factor") ? op.at("final_lr_factor").as_double() : 0.1;
    hg::swap::augment_from_json(op.find("augment"), o.train.augment, o.train.augment_ramp);
    o.train.holdout = op.find("holdout") ? op.at("holdout").as_double() : 0.0;
    o.train.eye_multiplier = op.at("eye_multiplier").as_double();
    o.train.mouth_multiplier = op.at("mouth_multiplier").as_double();
    o.train.mask_weight = op.find("mask_weight") ? op.at("mask_weight").as_double() : 1.0;
    o.train.seed = static_cast<std::uint64_t>(h.at("seeds").at("model").as_int());
    if (!given("--save-every")) o.train.save_every = op.at("save_every").as_int();
    return ignored;
}

/// The warning for apply_header's ignored options (empty when there are none).
inline std::string ignored_options_warning(const std::filesystem::path& model, const std::vector<std::string>& ignored) {
    if (ignored.empty()) return {};
    std::string w = "warning: " + model.string() + " resumes with the options of its checkpoint; not used: ";
    for (std::size_t i = 0; i < ignored.size(); ++i) w += (i ? ", " : "") + ignored[i];
    return w + " (train a new --model to use them)";
}

/// The preset of a new model: its budget is --iterations, else the iterations --epochs comes to
/// (over the larger side's training faces), else none; what the command line gave stays.
inline void apply_train_preset(train_command_options& o, std::int64_t largest_side) {
    auto given = [&](const char* name) { return std::find(o.given.begin(), o.given.end(), name) != o.given.end(); };
    const auto& st = o.train.stop;
    std::int64_t budget = st.iterations;
    if (st.epochs > 0) {
        const auto e = hg::train::iterations_for_epochs(st.epochs, largest_side, o.train.batch);
        budget = budget > 0 ? std::min(budget, e) : e;
    }
    hg::swap::preset_keep keep;
    keep.lr = given("--lr");
    keep.warmup = given("--warmup");
    keep.decay = given("--cosine-steps");
    const auto ramp = o.train.augment_ramp;
    hg::swap::apply_preset(o.train, o.train.preset, budget, keep);
    if (given("--augment-ramp")) o.train.augment_ramp = ramp;
}

/// One side of `train`: the dataset's faces (minus the held-out ones) for the loader, held-out
/// faces and masks to score, and the preview faces (held-out ones when there are any).
template <class Arch>
side_data train_side(const hg::data::face_dataset& d, const train_options& t, const hg::swap::holdout_split& split,
                     std::int64_t preview_rows) {
    constexpr std::int64_t px = Arch::output * Arch::output;
    side_data s;
    s.producer = hg::data::subset_producer(hg::data::augmented_producer(d, t.augment, t.augment_ramp), split.train);
    s.samples = static_cast<std::int64_t>(split.train.size());
    s.mask_channels = d.mask_channels();  // 3 for extracted faces: eye and mouth weighting
    auto faces_of = [&](const std::vector<std::int64_t>& idx, std::int64_t n, bool masks) {
        auto out = hg::tensor::empty(hg::shape{n, Arch::output, Arch::output, masks ? 1 : 3});
        for (std::int64_t i = 0; i < n; ++i) {
            const auto f = d.get(idx[static_cast<std::size_t>(i)]);
            float* dst = out.data() + i * px * (masks ? 1 : 3);
            if (!masks) {
                std::copy_n(f->rgb.data(), px * 3, dst);
            } else if (!f->has_mask()) {
                std::fill_n(dst, px, 1.f);
            } else {
                const std::int64_t c = f->mask.shape()[2];
                for (std::int64_t q = 0; q < px; ++q) dst[q] = f->mask.data()[q * c];  // channel 0: the face
            }
        }
        return out;
    };
    const auto& shown = split.held.empty() ? split.train : split.held;
    s.preview_faces = faces_of(shown, std::min<std::int64_t>(preview_rows, static_cast<std::int64_t>(shown.size())), false);
    if (!split.held.empty()) {
        const auto n = static_cast<std::int64_t>(split.held.size());
        s.holdout_faces = faces_of(split.held, n, false);
        s.holdout_masks = faces_of(split.held, n, true);
    }
    return s;
}

inline void train_command(train_command_options o, const std::atomic<bool>* stop, const print_fn& print) {
    hg::io::checkpoint_store store(o.model);
    const bool resuming = store.exists();
    if (resuming) {
        const auto c = store.load();
        const auto ignored = apply_header(o, c.header);
        if (!ignored.empty()) print(ignored_options_warning(o.model, ignored));
        print("resuming " + o.train.architecture + " from " + o.model.string() + " at iteration " +
              std::to_string(c.header.at("iteration").as_int()));
        if (o.find_lr) print("--find-lr: not run, the model resumes at the learning rate it was started with");
    }
    std::filesystem::create_directories(o.model);
    const std::string device = resolve_device(o.device);
    with_model_kind(o.train.architecture, o.train.mask, [&](auto arch, auto mask) {
        using A = decltype(arch);
        hg::data::dataset_options dopt;
        dopt.size = A::output;
        const hg::data::face_dataset da(o.a, dopt), db(o.b, dopt);
        for (const auto* d : {&da, &db})
            for (const auto& w : d->warnings()) print("warning: " + w);
        // Each side's split has its own stream: the model seed with the side's number.
        const auto split_a = hg::swap::split_holdout(da.size(), o.train.holdout, o.train.seed * 2 + 1, "faces of " + o.a.string());
        const auto split_b = hg::swap::split_holdout(db.size(), o.train.holdout, o.train.seed * 2 + 2, "faces of " + o.b.string());
        if (!resuming)
            apply_train_preset(o, static_cast<std::int64_t>(std::max(split_a.train.size(), split_b.train.size())));
        // The preview grid shows the same number of faces of each side.
        const std::int64_t rows = std::min<std::int64_t>(
            {4, static_cast<std::int64_t>((split_a.held.empty() ? split_a.train : split_a.held).size()),
             static_cast<std::int64_t>((split_b.held.empty() ? split_b.train : split_b.held).size())});
        auto sides = [&] {
            std::vector<side_data> v;
            v.push_back(train_side<A>(da, o.train, split_a, rows));
            v.push_back(train_side<A>(db, o.train, split_b, rows));
            return v;
        };
        with_backend(device, o.threads, [&](auto& be) {
            using B = std::decay_t<decltype(be)>;
            constexpr bool M = decltype(mask)::value;
            if (o.find_lr && !resuming) {
                print("finding the learning rate: a sweep of 100 steps from 1e-6 to 0.1 on a throwaway copy of the model");
                const auto f = hg::swap::find_learning_rate<B, A, M>(be, o.train, sides());
                hg::swap::write_lr_finder_csv(o.model / "lr_finder.csv", f);
                char buf[256];
                std::snprintf(buf, sizeof buf,
                              "learning-rate finder: lowest smoothed loss %.5f at lr %.3g after %zu steps (%s); "
                              "training at lr %.3g (a tenth of it); the sweep is in %s",
                              *std::min_element(f.smoothed.begin(), f.smoothed.end()), f.best_lr, f.lr.size(),
                              f.stopped.c_str(), f.picked, (o.model / "lr_finder.csv").string().c_str());
                print(buf);
                o.train.lr = f.picked;
            }
            trainer<B, A, M> tr(be, o.train, sides(), o.model, print);
            print(std::string("training '") + A::name + "' (" + std::to_string(tr.model().parameter_count()) +
                  " parameters) on the " + device + ", " + std::to_string(split_a.train.size()) + " faces A, " +
                  std::to_string(split_b.train.size()) + " faces B, from iteration " + std::to_string(tr.iteration()));
            print(hg::swap::describe_schedule(o.train));
            if (o.train.holdout > 0)
                print("held out (never trained on, scored at every preview into holdout.csv): " +
                      std::to_string(split_a.held.size()) + " faces A, " + std::to_string(split_b.held.size()) + " faces B");
            for (const auto* d : {&da, &db}) {
                char weights[96];
                std::snprintf(weights, sizeof weights, "face, eye and mouth regions (eye x%g, mouth x%g)",
                              o.train.eye_multiplier, o.train.mouth_multiplier);
                print("masks of " + d->root().string() + ": " + (d->mask_channels() == 3 ? weights : "face only"));
            }
            if (!tr.cycle().tensorboard_file().empty())
                print("TensorBoard events: " + tr.cycle().tensorboard_file().string());
            const auto stopped = tr.run(stop, progress_printer(tr, print));
            print(stopped.message);
            if (tr.profile().enabled()) print(tr.profile().table());
            if (tr.profile().layers_enabled()) print(tr.profile().layer_table());
            if constexpr (B::device == hg::device_kind::cpu)
                if (tr.profile().enabled()) print(std::to_string(be.threads()) + " CPU threads; " + openmp_wait_description());
            print("saved " + o.model.string() + " at iteration " + std::to_string(tr.iteration()));
        });
    });
}

/// Loads the model of a model folder (its architecture and mask head from the checkpoint header)
/// on the resolved device and calls fn(swap_model&). io_error when the folder has no checkpoint.
template <class Fn>
void with_trained_model(const std::filesystem::path& model, const std::string& device, int threads, const print_fn& print,
                        Fn&& fn) {
    hg::io::checkpoint_store store(model);
    if (!store.exists()) throw hg::io_error("no checkpoint in " + model.string());
    const hg::io::checkpoint c = store.load();
    for (const auto& w : store.warnings()) print("warning: " + w);
    with_model_kind(c.header.at("architecture").as_string(), c.header.at("mask").as_bool(), [&](auto arch, auto mask) {
        using A = decltype(arch);
        with_backend(resolve_device(device), threads, [&](auto& be) {
            using B = std::decay_t<decltype(be)>;
            hg::swap::model_for<B, A, decltype(mask)::value> m(be, 0);
            m.load_parameters([&](const std::string& n) { return c.find(n); });
            fn(m);
        });
    });
}

// ---- swap ------------------------------------------------------------------------------------

struct swap_options {
    std::filesystem::path model, input, output;
    std::string direction = "a2b";
    bool blend = false;
    std::filesystem::path boxes;  ///< --boxes FILE: paste each crop into its frame at its box
    std::string device = "auto";
    int threads = 0;
};

inline bool is_image_file(const std::filesystem::path& p) {
    std::string e = p.extension().string();
    std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return e == ".png" || e == ".jpg" || e == ".jpeg" || e == ".bmp" || e == ".tga";
}

/// Swaps every image of o.input (a file, or the image files of a folder, sorted); returns the count.
inline std::int64_t swap_command(const swap_options& o, const print_fn& print) {
    if (o.direction != "a2b" && o.direction != "b2a")
        throw hg::value_error("--direction must be a2b or b2a, got '" + o.direction + "'");
    const int side = o.direction == "a2b" ? 1 : 0;  // the decoder of the other identity
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(o.input)) {
        for (const auto& e : std::filesystem::directory_iterator(o.input))
            if (e.is_regular_file() && is_image_file(e.path())) files.push_back(e.path());
        std::sort(files.begin(), files.end());
    } else if (std::filesystem::is_regular_file(o.input)) {
        files.push_back(o.input);
    } else {
        throw hg::io_error("--input " + o.input.string() + " is neither an image file nor a folder");
    }
    // --boxes: where each crop sits in its frame; every listed crop must be one of the inputs.
    std::vector<hg::swap::face_box> boxes;
    std::map<std::string, std::pair<hg::tensor, hg::tensor>> swapped;  // crop name -> (face, mask)
    if (!o.boxes.empty()) {
        boxes = hg::swap::read_boxes(o.boxes);
        if (boxes.empty()) throw hg::value_error("the boxes file " + o.boxes.string() + " lists no faces");
        for (const auto& b : boxes)
            if (std::none_of(files.begin(), files.end(), [&](const auto& f) { return f.filename().string() == b.crop; })) {
                std::string msg = "the boxes file " + o.boxes.string();
                msg += " names the crop '" + b.crop + "', which is not among the --input images";
                throw hg::value_error(msg);
            }
        for (const auto& b : boxes)
            if (!std::filesystem::is_regular_file(b.frame))
                throw hg::io_error("the frame " + b.frame.string() + " of crop " + b.crop + " does not exist");
    }
    std::filesystem::create_directories(o.output);
    std::int64_t done = 0;
    with_trained_model(o.model, o.device, o.threads, print, [&](auto& m) {
        using M = std::decay_t<decltype(m)>;
        constexpr std::int64_t input = M::input_size(), output = M::output_size();
        constexpr bool has_mask = M::has_mask();
        {
            for (const auto& f : files) {
                const auto img = hg::data::load_image(f);
                const auto h = img.height(), w = img.width();
                auto x = hg::data::resize_area(img.rgb, input, input);
                const auto y = m.decode_host(x.view(hg::shape{1, input, input, 3}), side);
                const auto face = channels_of(y, 0, 3).view(hg::shape{output, output, 3});
                const auto crop_mask = [&] {
                    return has_mask ? channels_of(y, 3, 1).view(hg::shape{output, output, 1})
                                    : hg::swap::elliptical_mask(output, output);
                };
                if (!boxes.empty()) {  // pasted into the frames below
                    swapped.emplace(f.filename().string(), std::pair{face, crop_mask()});
                    continue;
                }
                hg::tensor result;
                if (o.blend) {  // the picture is the face's crop: paste over the whole of it
                    hg::swap::face_box whole;
                    whole.width = static_cast<double>(w);
                    whole.height = static_cast<double>(h);
                    result = img.rgb.clone();
                    hg::swap::paste_face(result, face, crop_mask(), whole);
                } else {
                    result = face;
                }
                auto name = f.filename();
                name.replace_extension(".png");
                hg::data::save_png(o.output / name, result);
                ++done;
            }
        }
    });
    // --boxes: every frame once, with each of its faces pasted in the file's order.
    std::vector<std::filesystem::path> frames;
    for (const auto& b : boxes)
        if (std::find(frames.begin(), frames.end(), b.frame) == frames.end()) frames.push_back(b.frame);
    for (const auto& frame_path : frames) {
        auto frame = hg::data::load_image(frame_path).rgb.clone();
        for (const auto& b : boxes) {
            if (b.frame != frame_path) continue;
            const auto& [face, face_mask] = swapped.at(b.crop);
            if (hg::swap::paste_face(frame, face, face_mask, b) == 0)
                print("warning: the box of " + b.crop + " misses its frame " + frame_path.string() + " (nothing pasted)");
        }
        auto name = frame_path.filename();
        name.replace_extension(".png");
        hg::data::save_png(o.output / name, frame);
        ++done;
    }
    return done;
}

// ---- info ------------------------------------------------------------------------------------

inline void info_command(const std::filesystem::path& model, const print_fn& print) {
    hg::io::checkpoint_store store(model);
    if (!store.exists()) throw hg::io_error("no checkpoint in " + model.string());
    const auto c = store.load();
    for (const auto& w : store.warnings()) print("warning: " + w);
    std::int64_t params = 0;
    for (const auto& [n, t] : c.tensors) params += t.numel();
    const auto& h = c.header;
    print("model:         " + model.string());
    print("architecture:  " + h.at("architecture").as_string() + (h.at("mask").as_bool() ? " (with mask head)" : ""));
    print("parameters:    " + std::to_string(params) + " in " + std::to_string(c.tensors.size()) + " tensors");
    print("iterations:    " + std::to_string(h.at("iteration").as_int()));
    print("learning rate: " + std::to_string(h.at("learning_rate").as_double()));
    print("options:       " + h.at("options").dump());
    if (const auto* e = h.find("epoch"); e && e->is_number()) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "epochs:        %.2f", e->as_double());
        print(buf);
    }
    if (const auto* st = h.find("stop"); st && st->is_object()) print("last stop:     " + st->at("message").as_string());
    const auto rows = hg::train::read_loss_log(model / "losses.csv");
    if (rows.empty()) {
        print("losses:        (no losses.csv)");
        return;
    }
    const std::size_t sides = rows.front().losses.size();
    auto side_upper = [](std::size_t s) { return std::string(1, static_cast<char>('A' + s)); };
    const std::size_t n = std::min<std::size_t>(100, rows.size());
    std::string line = "losses:        mean of the last " + std::to_string(n) + " iterations:";
    char buf[200];
    for (std::size_t s = 0; s < sides; ++s) {
        double sum = 0;
        for (std::size_t i = rows.size() - n; i < rows.size(); ++i) sum += rows[i].losses[s];
        std::snprintf(buf, sizeof buf, "%s %s %.5f", s ? "," : "", side_upper(s).c_str(), sum / double(n));
        line += buf;
    }
    print(line);
    for (std::size_t i = rows.size() - std::min<std::size_t>(5, rows.size()); i < rows.size(); ++i) {
        line = "  iteration " + std::to_string(rows[i].iteration) + ":";
        for (std::size_t s = 0; s < sides; ++s) {
            std::snprintf(buf, sizeof buf, "%s %s %.5f", s ? "," : "", side_upper(s).c_str(), rows[i].losses[s]);
            line += buf;
        }
        print(line);
    }
}

}  // namespace faceswap
