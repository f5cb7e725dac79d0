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
inline constexpr std::int64_t demo_cpu_iterations = 480;
inline constexpr std::int64_t demo_gpu_iterations = 5000;
inline constexpr std::int64_t demo_batch = 16;

/// The demo's augmentation: faceswap's defaults (data::augment_config) with half the rotation, zoom
/// and shift, and no colour jitter or random warp. The synthetic poses already vary; in a run of a few
/// hundred steps the full augmentation costs more than it brings: the colour jitter teaches decoder B
/// to copy the input's lightness instead of B's own colours, and the warp blurs the output (measured
/// in docs/faceswap.md).
inline hg::data::augment_config demo_augment() {
    hg::data::augment_config c;
    c.rotation_range *= 0.5f;
    c.zoom_range *= 0.5f;
    c.shift_range *= 0.5f;
    c.color_lightness = 0.0f;
    c.color_ab = 0.0f;
    c.warp_sigma = 0.0f;
    return c;
}

inline demo_result demo(const demo_options& o, const print_fn& print) {
    demo_result r;
    r.device = resolve_device(o.device);
    r.architecture = r.device == "cuda" ? "original" : "slim";
    r.iterations = o.iterations > 0 ? o.iterations : (r.device == "cuda" ? demo_gpu_iterations : demo_cpu_iterations);
    std::filesystem::create_directories(o.out);
    const std::filesystem::path model_dir = o.out / "model";
    // A demo folder resumes only the same demo: its learning-rate schedule spans the iteration count
    // it was started with, so another count would not continue it.
    if (hg::io::checkpoint_store store(model_dir); store.exists()) {
        const auto header = store.load().header;
        const auto* steps = header.at("options").find("cosine_steps");
        const std::int64_t trained_for = steps ? steps->as_int() : 0;
        const std::int64_t wanted = r.device == "cuda" ? 0 : r.iterations;
        if (header.at("architecture").as_string() != r.architecture || trained_for != wanted) {
            std::string msg = "the demo folder " + o.out.string() + " holds a demo model of '";
            msg += header.at("architecture").as_string() + "' started for a different run (";
            msg += trained_for > 0 ? std::to_string(trained_for) + " iterations" : std::string("the GPU demo");
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
    side_data a, b;
    a.producer = hg::data::augmented_producer(set_a, demo_augment());
    b.producer = hg::data::augmented_producer(set_b, demo_augment());
    a.samples = b.samples = demo_train_poses;  // the loaders never see the held-out indices
    a.mask_channels = b.mask_channels = 3;
    a.preview_faces = synthetic_images(set_a, demo_train_poses, 4);
    b.preview_faces = synthetic_images(set_b, demo_train_poses, 4);

    train_options t;
    t.architecture = r.architecture;
    t.batch = demo_batch;
    t.stop = {};
    t.stop.iterations = r.iterations;
    t.save_every = r.iterations;
    t.preview_every = r.iterations + 1;  // the demo writes its own preview
    t.seed = o.seed;
    t.profile = o.profile;
    t.profile_layers = o.profile_layers;
    // The slim CPU model has few steps: a larger rate, decayed to a tenth along a cosine.
    t.lr = r.device == "cuda" ? 5e-5 : 1.5e-3;
    if (r.device != "cuda") t.cosine_steps = r.iterations;
    const auto start = std::chrono::steady_clock::now();
    with_backend(r.device, o.threads, [&](auto& be) {
        using B = std::decay_t<decltype(be)>;
        with_model_kind(r.architecture, false, [&](auto arch, auto mask) {
            using A = decltype(arch);
            trainer<B, A, decltype(mask)::value> tr(be, t, a, b, model_dir, print);
            if (tr.resumed()) print("resuming the demo model in " + model_dir.string());
            print(std::string("demo: training '") + A::name + "' (" + std::to_string(tr.model().parameter_count()) +
                  " parameters) on the " + r.device + " for " + std::to_string(r.iterations) + " iterations");
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
    std::vector<std::string> given;  ///< options given on the command line (resume keeps the rest)
};

/// Options stored in a checkpoint header override the defaults (not what the command line gave).
inline void apply_header(train_command_options& o, const hg::io::json& h) {
    auto given = [&](const char* name) { return std::find(o.given.begin(), o.given.end(), name) != o.given.end(); };
    o.train.architecture = h.at("architecture").as_string();
    o.train.mask = h.at("mask").as_bool();
    const auto& op = h.at("options");
    // These shape the model, the optimizer state or the batches: always the checkpoint's.
    o.train.batch = op.at("batch").as_int();
    o.train.loss = hg::swap::split_names(op.at("loss").as_string());
    o.train.optimizer = op.at("optimizer").as_string();
    o.train.lr = op.at("lr").as_double();
    if (const auto* c = op.find("cosine_steps")) o.train.cosine_steps = c->as_int();
    o.train.eye_multiplier = op.at("eye_multiplier").as_double();
    o.train.mouth_multiplier = op.at("mouth_multiplier").as_double();
    o.train.seed = static_cast<std::uint64_t>(h.at("seeds").at("model").as_int());
    if (!given("--save-every")) o.train.save_every = op.at("save_every").as_int();
}

inline void train_command(train_command_options o, const std::atomic<bool>* stop, const print_fn& print) {
    hg::io::checkpoint_store store(o.model);
    if (store.exists()) {
        const auto c = store.load();
        apply_header(o, c.header);
        print("resuming " + o.train.architecture + " from " + o.model.string() + " at iteration " +
              std::to_string(c.header.at("iteration").as_int()));
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
        auto side = [&](const hg::data::face_dataset& d) {
            side_data s;
            s.producer = hg::data::augmented_producer(d);
            s.samples = d.size();
            s.mask_channels = d.mask_channels();  // 3 for extracted faces: eye and mouth weighting
            // The preview grid shows the same number of faces of each side.
            const std::int64_t rows = std::min<std::int64_t>({4, da.size(), db.size()}), px = A::output * A::output * 3;
            s.preview_faces = hg::tensor::empty(hg::shape{rows, A::output, A::output, 3});
            for (std::int64_t i = 0; i < rows; ++i) std::copy_n(d.get(i)->rgb.data(), px, s.preview_faces.data() + i * px);
            return s;
        };
        with_backend(device, o.threads, [&](auto& be) {
            using B = std::decay_t<decltype(be)>;
            trainer<B, A, decltype(mask)::value> tr(be, o.train, side(da), side(db), o.model, print);
            print(std::string("training '") + A::name + "' (" + std::to_string(tr.model().parameter_count()) +
                  " parameters) on the " + device + ", " + std::to_string(da.size()) + " faces A, " +
                  std::to_string(db.size()) + " faces B, from iteration " + std::to_string(tr.iteration()));
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
            hg::swap::swap_model<B, A, decltype(mask)::value> m(be, 0);
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
