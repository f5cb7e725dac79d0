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
#include "hourglass/train/checkpoint_store.hpp"
#include "blend.hpp"
#include "preview.hpp"
#include "swap_fidelity.hpp"
#include "trainer.hpp"

#if HG_WITH_CUDA && !defined(FACESWAP_CPU_ONLY)
#define FACESWAP_HAS_CUDA 1
#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/device.hpp"
#else
#define FACESWAP_HAS_CUDA 0
#endif

namespace faceswap {

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
    with_architecture(arch, [&](auto a) {
        if (mask) fn(a, std::true_type{});
        else fn(a, std::false_type{});
    });
}

inline std::string format_duration(double seconds) {
    char buf[64];
    const long s = static_cast<long>(std::lround(std::max(0.0, seconds)));
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
    else std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
    return buf;
}

/// Prints progress lines (at most one per second, and the last step) for a trainer.
template <class Trainer>
std::function<void()> progress_printer(Trainer& t, const print_fn& print) {
    auto start = std::chrono::steady_clock::now();
    auto last = start - std::chrono::seconds(10);
    const std::int64_t first = t.iteration();
    return [&t, print, start, last, first]() mutable {
        const auto now = std::chrono::steady_clock::now();
        const std::int64_t it = t.iteration(), target = t.options().iterations;
        if (now - last < std::chrono::seconds(1) && it != target) return;
        last = now;
        const double secs = std::chrono::duration<double>(now - start).count();
        const double rate = secs > 0 ? double(it - first) / secs : 0.0;
        char buf[256];
        std::snprintf(buf, sizeof buf, "iteration %lld/%lld  loss A %.5f  loss B %.5f  %.2f it/s  %.1f examples/s  ETA %s",
                      static_cast<long long>(it), static_cast<long long>(target), t.last_loss(0), t.last_loss(1), rate,
                      rate * 2.0 * double(t.options().batch),
                      rate > 0 ? format_duration(double(target - it) / rate).c_str() : "?");
        std::string line = buf;
        if (t.profile().enabled() && t.profile().iterations() > 0) line += "  [" + t.profile().summary() + "]";
        print(line);
    };
}

/// The loss plot of a model folder's losses.csv.
inline void write_loss_plot_of(const std::filesystem::path& model_dir, const std::filesystem::path& png) {
    const auto rows = read_losses(model_dir / "losses.csv");
    std::vector<double> it, a, b;
    for (const auto& r : rows) it.push_back(double(r.iteration)), a.push_back(r.loss_a), b.push_back(r.loss_b);
    write_loss_plot(png, it, a, b);
}

/// Stacks the images of synthetic faces i in [first, first + count) of a set: [count, size, size, 3].
inline hg::tensor synthetic_images(const hg::data::synthetic_face_set& set, std::int64_t first, std::int64_t count) {
    const std::int64_t px = set.size * set.size * 3;
    auto out = hg::tensor::empty(hg::shape{count, set.size, set.size, 3});
    for (std::int64_t i = 0; i < count; ++i) {
        const auto f = set.sample(first + i);
        std::copy_n(f.image.data(), px, out.data() + i * px);
    }
    return out;
}

/// Stacks the face masks of synthetic faces i in [first, first + count) of a set: [count, size, size, 1].
inline hg::tensor synthetic_face_masks(const hg::data::synthetic_face_set& set, std::int64_t first, std::int64_t count) {
    const std::int64_t px = set.size * set.size;
    auto out = hg::tensor::empty(hg::shape{count, set.size, set.size, 1});
    for (std::int64_t i = 0; i < count; ++i) {
        const auto f = set.sample(first + i);
        std::copy_n(f.face_mask.data(), px, out.data() + i * px);
    }
    return out;
}

// ---- demo ------------------------------------------------------------------------------------

struct demo_options {
    std::filesystem::path out = "hourglass-demo";
    std::int64_t iterations = 0;  ///< 0: the default of the chosen backend
    std::uint64_t seed = 1;
    std::string device = "auto";
    int threads = 0;
    bool profile = false;  ///< print where the time of an iteration goes (step_profile.hpp)
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
    if (hg::train::checkpoint_store store(model_dir); store.exists()) {
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
    t.iterations = r.iterations;
    t.save_every = r.iterations;
    t.preview_every = r.iterations + 1;  // the demo writes its own preview
    t.seed = o.seed;
    t.profile = o.profile;
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
            tr.run(nullptr, progress_printer(tr, print));
            if (tr.profile().enabled()) print(tr.profile().table());
            r.preview = o.out / "preview.png";
            tr.write_preview(r.preview);
            // Fidelity on held-out poses.
            const auto xa = synthetic_images(set_a, demo_train_poses, demo_held_out);
            const auto truth = synthetic_images(truth_a2b, demo_train_poses, demo_held_out);
            const auto swapped = channels_of(decode_host(tr.model(), xa, 1), 0, 3);
            const auto rebuilt = channels_of(decode_host(tr.model(), truth, 1), 0, 3);
            const auto face = synthetic_face_masks(truth_a2b, demo_train_poses, demo_held_out);
            r.fidelity = face_ssim(swapped, truth, face);
            r.baseline = face_ssim(xa, truth, face);
            r.reconstruction = face_ssim(rebuilt, truth, face);
            r.gap_closed = faceswap::gap_closed(r.fidelity, r.baseline);
            char buf[320];
            std::snprintf(buf, sizeof buf,
                          "face-region SSIM on %lld held-out poses: A->B swap %.4f, unswapped A %.4f (baseline), "
                          "B->B reconstruction %.4f; the swap closes %.1f%% of the gap from the baseline to 1",
                          static_cast<long long>(demo_held_out), r.fidelity, r.baseline, r.reconstruction,
                          100.0 * r.gap_closed);
            print(buf);
        });
    });
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.loss_plot = o.out / "loss.png";
    write_loss_plot_of(model_dir, r.loss_plot);
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
inline void apply_header(train_command_options& o, const hg::train::json& h) {
    auto given = [&](const char* name) { return std::find(o.given.begin(), o.given.end(), name) != o.given.end(); };
    o.train.architecture = h.at("architecture").as_string();
    o.train.mask = h.at("mask").as_bool();
    const auto& op = h.at("options");
    // These shape the model, the optimizer state or the batches: always the checkpoint's.
    o.train.batch = op.at("batch").as_int();
    o.train.loss = split_list(op.at("loss").as_string());
    o.train.optimizer = op.at("optimizer").as_string();
    o.train.lr = op.at("lr").as_double();
    if (const auto* c = op.find("cosine_steps")) o.train.cosine_steps = c->as_int();
    o.train.eye_multiplier = op.at("eye_multiplier").as_double();
    o.train.mouth_multiplier = op.at("mouth_multiplier").as_double();
    o.train.seed = static_cast<std::uint64_t>(h.at("seeds").at("model").as_int());
    if (!given("--save-every")) o.train.save_every = op.at("save_every").as_int();
}

inline void train_command(train_command_options o, const std::atomic<bool>* stop, const print_fn& print) {
    hg::train::checkpoint_store store(o.model);
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
            s.mask_channels = 1;
            const std::int64_t rows = std::min<std::int64_t>(4, d.size()), px = A::output * A::output * 3;
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
            tr.run(stop, progress_printer(tr, print));
            if (tr.profile().enabled()) print(tr.profile().table());
            print("saved " + o.model.string() + " at iteration " + std::to_string(tr.iteration()));
        });
    });
    write_loss_plot_of(o.model, o.model / "loss.png");
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
    std::vector<face_box> boxes;
    std::map<std::string, std::pair<hg::tensor, hg::tensor>> swapped;  // crop name -> (face, mask)
    if (!o.boxes.empty()) {
        boxes = read_boxes(o.boxes);
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
    hg::train::checkpoint_store store(o.model);
    if (!store.exists()) throw hg::io_error("no checkpoint in " + o.model.string());
    const hg::train::checkpoint c = store.load();
    for (const auto& w : store.warnings()) print("warning: " + w);
    std::filesystem::create_directories(o.output);
    std::int64_t done = 0;
    with_model_kind(c.header.at("architecture").as_string(), c.header.at("mask").as_bool(), [&](auto arch, auto mask) {
        using A = decltype(arch);
        with_backend(resolve_device(o.device), o.threads, [&](auto& be) {
            using B = std::decay_t<decltype(be)>;
            swap_model<B, A, decltype(mask)::value> m(be, 0);
            m.load_parameters([&](const std::string& n) { return c.find(n); });
            for (const auto& f : files) {
                const auto img = hg::data::load_image(f);
                const auto h = img.height(), w = img.width();
                auto x = hg::data::resize_area(img.rgb, A::input, A::input);
                const auto y = decode_host(m, x.view(hg::shape{1, A::input, A::input, 3}), side);
                const auto face = channels_of(y, 0, 3).view(hg::shape{A::output, A::output, 3});
                const auto crop_mask = [&] {
                    return decltype(mask)::value ? channels_of(y, 3, 1).view(hg::shape{A::output, A::output, 1})
                                                 : elliptical_mask(A::output, A::output);
                };
                if (!boxes.empty()) {  // pasted into the frames below
                    swapped.emplace(f.filename().string(), std::pair{face, crop_mask()});
                    continue;
                }
                hg::tensor result;
                if (o.blend) {
                    const auto big = hg::data::resize_area(face, h, w);
                    const auto mask_t = decltype(mask)::value ? hg::data::resize_area(crop_mask(), h, w) : elliptical_mask(h, w);
                    result = blend_into(img.rgb, big, mask_t);
                } else {
                    result = face;
                }
                auto name = f.filename();
                name.replace_extension(".png");
                hg::data::save_png(o.output / name, result);
                ++done;
            }
        });
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
            if (paste_face(frame, face, face_mask, b) == 0)
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
    hg::train::checkpoint_store store(model);
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
    const auto rows = read_losses(model / "losses.csv");
    if (rows.empty()) {
        print("losses:        (no losses.csv)");
        return;
    }
    const std::size_t n = std::min<std::size_t>(100, rows.size());
    double sa = 0, sb = 0;
    for (std::size_t i = rows.size() - n; i < rows.size(); ++i) sa += rows[i].loss_a, sb += rows[i].loss_b;
    char buf[200];
    std::snprintf(buf, sizeof buf, "losses:        mean of the last %zu iterations: A %.5f, B %.5f", n, sa / n, sb / n);
    print(buf);
    for (std::size_t i = rows.size() - std::min<std::size_t>(5, rows.size()); i < rows.size(); ++i) {
        std::snprintf(buf, sizeof buf, "  iteration %lld: A %.5f, B %.5f", static_cast<long long>(rows[i].iteration),
                      rows[i].loss_a, rows[i].loss_b);
        print(buf);
    }
}

}  // namespace faceswap
