// hourglass-swap's command line, on CLI11: one subcommand per command (demo, train, swap, info, export, extract, convert,
// timelapse), each
// reading its options into the option structs of commands.hpp; then the command runs and its results
// are printed. `--help` (on the program or a command) lists every option with its type, range or
// allowed values and default, and exits 0. Exit statuses: 0 ok; 2 a usage error (no or an unknown
// command, an unknown option, a bad value, or an hg::value_error from the command); 1 any other
// failure of the command. Messages go to stderr as "hourglass-swap <command>: <message>".
#include "cli.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <iostream>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "commands.hpp"
#include "convert_command.hpp"
#include "distributed_command.hpp"
#include "export_command.hpp"
#include "extract_command.hpp"
#include "hourglass/swap/architectures.hpp"
#include "memory_command.hpp"
#include "timelapse_command.hpp"
#include "hourglass/swap/recipe.hpp"
#include "hourglass/swap/train_options.hpp"
#include "hourglass/train/stop_criteria.hpp"

namespace faceswap {
namespace {

const std::vector<std::string> devices = {"auto", "cpu", "cuda"};
const std::vector<std::string> optimizers = hg::optim::rule_names();
const std::vector<std::string> losses = hg::swap::loss_term_names();

std::string join(const std::vector<std::string>& v, const char* sep) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
    return s;
}

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    for (std::string item; std::getline(in, item, ',');) out.push_back(item);
    return out;
}

/// The first check of a numeric option: a value that is not a T (an integer, or a finite number for
/// floating-point T) is a ConversionError "<option> needs an integer, got '<value>'". It throws
/// rather than returning the message, so that CLI11 does not prefix the option name a second time.
template <class T>
CLI::Validator numeric(const std::string& option) {
    return CLI::Validator(
        [option](std::string& s) {
            T v{};
            bool ok = CLI::detail::lexical_cast(s, v);
            if constexpr (std::is_floating_point_v<T>) ok = ok && std::isfinite(v);
            if constexpr (std::is_unsigned_v<T>) ok = ok && s.find('-') == std::string::npos;
            if (!ok) {
                const char* what = std::is_floating_point_v<T> ? "a finite number"
                                   : std::is_unsigned_v<T>     ? "an integer >= 0"
                                                               : "an integer";
                throw CLI::ConversionError(option + " needs " + what + ", got '" + s + "'");
            }
            return std::string();
        },
        "");
}

/// A lower bound: the value must be > 0 (POSITIVE) or >= 0 (NONNEGATIVE), as CLI11 names them.
CLI::Validator lower_bound(bool strict) {
    return CLI::Validator(
        [strict](std::string& s) {
            double v = 0;
            if (!CLI::detail::lexical_cast(s, v) || (strict ? !(v > 0) : !(v >= 0)))
                return std::string("must be ") + (strict ? "> 0" : ">= 0") + ", got '" + s + "'";
            return std::string();
        },
        strict ? "POSITIVE" : "NONNEGATIVE");
}
const CLI::Validator positive = lower_bound(true);
const CLI::Validator nonnegative = lower_bound(false);

/// A comma-separated list of loss terms: every item one of `losses`.
CLI::Validator loss_list() {
    return CLI::Validator(
        [](std::string& s) {
            const auto items = split_commas(s);
            if (items.empty()) return std::string("needs at least one loss term");
            for (const auto& item : items) {
                if (item.empty()) return "an empty loss term in '" + s + "'";
                if (std::find(losses.begin(), losses.end(), item) == losses.end())
                    return "unknown loss term '" + item + "' in '" + s + "' (allowed: " + join(losses, ", ") + ")";
            }
            return std::string();
        },
        "comma list of {" + join(losses, ",") + "}");
}

/// A duration as hg::train::parse_duration reads it; its message on failure.
CLI::Validator duration() {
    return CLI::Validator(
        [](std::string& s) {
            try {
                (void)hg::train::parse_duration(s);
            } catch (const hg::value_error& e) {
                return std::string(e.what());
            }
            return std::string();
        },
        "");
}

/// Help lines as "--batch INT:POSITIVE   faces per side and iteration (default: 16)": the default
/// goes at the end of the description instead of CLI11's "=16" after the type.
class help_formatter : public CLI::Formatter {
public:
    std::string make_option_opts(const CLI::Option* opt) const override {
        std::string out;
        if (opt->get_type_size() != 0) {
            if (!opt->get_type_name().empty()) out += " " + opt->get_type_name();
            if (opt->get_required()) out += " REQUIRED";
        }
        return out;
    }
    std::string make_option_desc(const CLI::Option* opt) const override {
        std::string d = opt->get_description();
        if (!opt->get_default_str().empty()) d += " (default: " + opt->get_default_str() + ")";
        return d;
    }
};

/// Options of the common numeric kinds, with their check and their default shown.
template <class T>
CLI::Option* add_number(CLI::App& app, const std::string& name, T& var, const std::string& help) {
    return app.add_option(name, var, help)->check(numeric<T>(name))->capture_default_str();
}

CLI::Option* add_device(CLI::App& app, std::string& device, int& threads) {
    auto* d = app.add_option("--device", device, "where to run: auto picks a CUDA GPU when one is usable, else the CPU")
                  ->check(CLI::IsMember(devices))
                  ->capture_default_str();
    add_number(app, "--threads", threads, "CPU threads; 0: all cores")->check(CLI::Range(0, 4096));
    return d;
}

/// --profile [phases|layers]: bare or "phases" times each phase of an iteration, "layers" also
/// each layer's forward and backward.
struct profile_option {
    std::string mode;
    CLI::Option* opt = nullptr;

    CLI::Option* add(CLI::App& app) {
        opt = app.add_option("--profile", mode,
                             "print where the time of an iteration goes: per phase (bare, or 'phases'), or also per "
                             "layer, forward and backward, with GFLOP/s ('layers')")
                  ->expected(0, 1)
                  ->type_name("[phases|layers]")
                  ->check(CLI::IsMember({"", "phases", "layers"}));
        return opt;
    }
    void apply(bool& profile, bool& layers) const {
        profile = opt->count() > 0;
        layers = profile && mode == "layers";
    }
};

/// The long names ("--save-every") of the options of `app` given on the command line.
std::vector<std::string> given_options(const CLI::App& app) {
    std::vector<std::string> out;
    for (const CLI::Option* opt : app.get_options())
        if (opt->count() > 0 && !opt->get_lnames().empty()) out.push_back("--" + opt->get_lnames().front());
    return out;
}

void print_line(const std::string& s) {
    std::printf("%s\n", s.c_str());
    std::fflush(stdout);
}

// ---- the commands: their options, and what runs after a successful parse ----------------------

struct demo_cli {
    demo_options o;
    profile_option profile;

    explicit demo_cli(CLI::App& app) {
        app.add_option("--out", o.out, "folder for the model, preview.png and loss.png")
            ->type_name("DIR")
            ->capture_default_str();
        add_number(app, "--iterations", o.iterations, "training iterations; 0: the backend's default")->check(nonnegative);
        add_number(app, "--seed", o.seed, "seed of the synthetic faces and of the model");
        app.add_option("--preset", o.preset, "training preset, as train's (auto: by the iteration count)")
            ->check(CLI::IsMember(hg::swap::preset_names()))
            ->capture_default_str();
        app.add_option("--lr", o.lr, "learning rate; 0: the preset's")
            ->check(numeric<double>("--lr"))
            ->check(CLI::NonNegativeNumber)
            ->capture_default_str();
        app.add_option("--warmup", o.warmup, "iterations of learning-rate warmup; -1: the preset's")
            ->check(numeric<std::int64_t>("--warmup"))
            ->check(CLI::Range(std::int64_t{-1}, std::int64_t{1} << 40))
            ->capture_default_str();
        add_device(app, o.device, o.threads);
        profile.add(app);
    }

    int run() {
        profile.apply(o.profile, o.profile_layers);
        const auto r = demo(o, print_line);
        std::printf("demo: %lld iterations of '%s' on the %s in %.1f s\n", static_cast<long long>(r.iterations),
                    r.architecture.c_str(), r.device.c_str(), r.seconds);
        std::printf("preview:   %s\n(rows: held-out poses; columns: A, A reconstructed, A swapped to B, B, B reconstructed, "
                    "B swapped to A)\n",
                    r.preview.string().c_str());
        std::printf("loss plot: %s (red: A, blue: B)\n", r.loss_plot.string().c_str());
        std::printf("swap fidelity: mean SSIM %.4f between the A->B swaps and identity B rendered in A's held-out poses, "
                    "faces only (unswapped A faces score %.4f)\n",
                    r.fidelity, r.baseline);
        return 0;
    }
};

struct train_cli {
    train_command_options o;
    CLI::App& app;
    std::string loss = join(o.train.loss, ",");
    std::string time_limit;
    bool dry_run = false;
    bool distributed = false;
    profile_option profile;
    CLI::Option *iterations = nullptr, *epochs = nullptr, *target_loss = nullptr, *time_limit_opt = nullptr;

    explicit train_cli(CLI::App& a) : app(a) {
        auto& t = o.train;
        t.preset = "auto";
        app.add_option("--a", o.a, "folder of face crops of identity A")->type_name("DIR")->required()->group("Data");
        app.add_option("--b", o.b, "folder of face crops of identity B")->type_name("DIR")->required()->group("Data");
        app.add_option("--model", o.model, "model folder: resumed when it holds a checkpoint")
            ->type_name("DIR")
            ->required()
            ->group("Data");
        add_number(app, "--loader-threads", t.loader_threads, "threads loading and augmenting each side's faces")
            ->check(CLI::Range(1, 256))
            ->group("Data");

        app.add_option("--arch", t.architecture, "model architecture")
            ->check(CLI::IsMember(hg::swap::architecture_names()))
            ->capture_default_str()
            ->group("Model");
        app.add_flag("--mask", t.mask, "learn a mask head (a fourth output channel)")->group("Model");
        add_number(app, "--seed", t.seed, "model initialisation; the loaders' seeds derive from it")->group("Model");

        app.add_option("--loss", loss, "loss terms, summed")->check(loss_list())->capture_default_str()->group("Loss");
        add_number(app, "--augment-ramp", t.augment_ramp.steps,
                   "iterations over which the augmentation ramps in from none to full")
            ->check(nonnegative)
            ->default_str("the preset's")
            ->group("Data");
        app.add_option("--holdout", t.holdout,
                       "percent of each side's faces kept out of training and scored (face SSIM) at every preview "
                       "into holdout.csv; the preview shows them")
            ->check(numeric<double>("--holdout"))
            ->check(CLI::Range(0.0, 99.0))
            ->capture_default_str()
            ->group("Data");
        add_number(app, "--mask-weight", t.mask_weight,
                   "weight of the mask head's loss (MSE of the learned mask against the face mask; with --mask)")
            ->check(positive)
            ->group("Loss");
        add_number(app, "--eye-multiplier", t.eye_multiplier, "loss weight of the eye region")
            ->check(CLI::Range(1.0, 40.0))
            ->group("Loss");
        add_number(app, "--mouth-multiplier", t.mouth_multiplier, "loss weight of the mouth region")
            ->check(CLI::Range(1.0, 40.0))
            ->group("Loss");

        app.add_option("--optimizer", t.optimizer, "optimizer")
            ->check(CLI::IsMember(optimizers))
            ->capture_default_str()
            ->group("Optimizer");
        app.add_option("--preset", t.preset,
                       "learning rate, warmup, decay and augmentation for the budget: quick (up to 3000 iterations: a "
                       "high rate, light augmentation), balanced (full augmentation ramping in), quality (above 30000), "
                       "classic (faceswap's: 5e-5, full augmentation, no schedule); auto picks by --iterations/--epochs. "
                       "--lr, --warmup, --cosine-steps, --augment-ramp given here win over the preset")
            ->check(CLI::IsMember(hg::swap::preset_names()))
            ->capture_default_str()
            ->group("Optimizer");
        add_number(app, "--lr", t.lr, "learning rate")->check(positive)->default_str("the preset's")->group("Optimizer");
        app.add_flag("--find-lr", o.find_lr,
                     "before training, sweep the learning rate over 100 steps on a throwaway copy of the model and "
                     "train at a tenth of the rate of lowest loss (writes lr_finder.csv)")
            ->group("Optimizer");
        add_number(app, "--warmup", t.warmup, "iterations of linear learning-rate warmup")
            ->check(nonnegative)
            ->default_str("the preset's")
            ->group("Optimizer");
        add_number(app, "--batch", t.batch, "faces per side and iteration")->check(positive)->group("Optimizer");
        add_number(app, "--cosine-steps", t.cosine_steps,
                   "cosine decay of the learning rate to a tenth, ending at this iteration; 0: constant")
            ->check(nonnegative)
            ->default_str("the preset's: the iteration budget")
            ->group("Optimizer");

        const std::string stop = "Stop criteria (whichever comes first)";
        iterations = add_number(app, "--iterations", t.stop.iterations,
                                "stop at this iteration. The default applies only when none of --epochs, "
                                "--target-loss, --time-limit is given: with any of them, no --iterations means no cap")
                         ->check(nonnegative)
                         ->group(stop);
        epochs = app.add_option("--epochs", t.stop.epochs,
                                "stop after this many epochs (passes over the larger side's faces; fractions allowed)")
                     ->check(numeric<double>("--epochs"))
                     ->check(positive)
                     ->group(stop);
        target_loss = app.add_option("--target-loss", t.stop.target_loss,
                                     "stop when every side's mean loss over the window is <= this")
                          ->check(numeric<double>("--target-loss"))
                          ->check(positive)
                          ->group(stop);
        add_number(app, "--target-window", t.stop.target_window, "iterations in the moving mean of --target-loss")
            ->check(positive)
            ->group(stop);
        app.add_option("--target-min-iterations", t.stop.target_min_iterations,
                       "--target-loss is not checked before this many iterations (default: the window)")
            ->check(numeric<std::int64_t>("--target-min-iterations"))
            ->check(nonnegative)
            ->group(stop);
        time_limit_opt = app.add_option("--time-limit", time_limit,
                                        "stop after this wall-clock time of the run (e.g. 2h30m, 90m, 45s, 3600)")
                             ->type_name("DURATION")
                             ->check(duration())
                             ->group(stop);

        const std::string files = "Checkpoints and pictures";
        add_number(app, "--save-every", t.save_every, "iterations between checkpoints")->check(positive)->group(files);
        add_number(app, "--preview-every", t.preview_every, "iterations between preview pictures; 0: at every save")
            ->check(nonnegative)
            ->group(files);
        app.add_flag("--plot-log-scale", t.plot_log_scale, "loss.png with a logarithmic loss axis")->group(files);
        app.add_option("--tensorboard", t.tensorboard_dir,
                       "write TensorBoard event files to this folder: losses, learning rate, iterations/s, gradient "
                       "norms and the previews (view with: tensorboard --logdir DIR)")
            ->type_name("DIR")
            ->group(files);
        add_number(app, "--tensorboard-every", t.tensorboard_every, "iterations between TensorBoard scalars")
            ->check(positive)
            ->group(files);
        app.add_option("--timelapse", t.timelapse_dir,
                       "keep every preview picture in this folder as <iteration>.png (the same faces each time); "
                       "'hourglass-swap timelapse' makes a video of them")
            ->type_name("DIR")
            ->group(files);

        add_device(app, o.device, o.threads)->group("Backend");
        app.get_option("--threads")->group("Backend");
        profile.add(app)->group("Backend");
        app.add_flag("--dry-run", dry_run, "print the memory training will take (CPU and GPU) and exit without training")
            ->group("Backend");
        app.add_flag("--distributed", distributed,
                     std::string("train data-parallel with the other ranks of an MPI job: mpirun -np K hourglass-swap train ... "
                                 "--distributed; --batch is the global batch per side, split over the ranks; rank 0 prints and "
                                 "writes the model folder (docs/distributed.md)") +
                         (has_mpi() ? "" : " (not in this build: needs MPI)"))
            ->group("Backend");
    }

    int run(const std::atomic<bool>* stop) {
        profile.apply(o.train.profile, o.train.profile_layers);
        o.train.loss = split_commas(loss);
        if (time_limit_opt->count() > 0) o.train.stop.time_limit_seconds = hg::train::parse_duration(time_limit);
        const bool other_stop = epochs->count() > 0 || target_loss->count() > 0 || time_limit_opt->count() > 0;
        if (iterations->count() == 0 && other_stop) o.train.stop.iterations = 0;
        o.train.stop.validate();
        o.given = given_options(app);
        if (dry_run) {
            train_dry_run(o, print_line);
            return 0;
        }
        if (distributed)
            distributed_train_command(o, stop, print_line);
        else
            train_command(o, stop, print_line);
        return 0;
    }
};

struct swap_cli {
    swap_options o;

    explicit swap_cli(CLI::App& app) {
        app.add_option("--model", o.model, "model folder (trained by train)")->type_name("DIR")->required();
        app.add_option("--input", o.input, "an image, or a folder of images (png, jpg, bmp, tga)")
            ->type_name("PATH")
            ->required();
        app.add_option("--output", o.output, "folder for the swapped images")->type_name("DIR")->required();
        app.add_option("--direction", o.direction, "a2b: A's faces become B; b2a: the reverse")
            ->check(CLI::IsMember({"a2b", "b2a"}))
            ->capture_default_str();
        app.add_flag("--blend", o.blend, "paste the swapped face back into its input image");
        app.add_option("--boxes", o.boxes, "paste each crop into its frame at its box (implies --blend)")
            ->type_name("FILE");
        add_device(app, o.device, o.threads);
    }

    int run() {
        if (!o.boxes.empty()) o.blend = true;
        const auto n = swap_command(o, print_line);
        if (o.boxes.empty())
            std::printf("swapped %lld faces (%s) into %s\n", static_cast<long long>(n), o.direction.c_str(),
                        o.output.string().c_str());
        else
            std::printf("pasted the swapped faces (%s) into %lld frames in %s\n", o.direction.c_str(),
                        static_cast<long long>(n), o.output.string().c_str());
        return 0;
    }
};

struct extract_cli {
    extract_command_options o;

    explicit extract_cli(CLI::App& app) {
        const std::string io = "Input and output";
        app.add_option("--input", o.input, "a video (any container and codec FFmpeg reads), a picture, or a folder of "
                                           "pictures (searched recursively)")
            ->type_name("VIDEO|IMAGE|DIR")
            ->required()
            ->group(io);
        app.add_option("--output", o.output, "folder for the aligned faces, their masks and alignments.json (the layout "
                                             "train --a reads); a second run continues an interrupted one")
            ->type_name("DIR")
            ->required()
            ->group(io);
        const std::string faces = "Aligned faces";
        add_number(app, "--size", o.size, "side of the aligned faces in pixels")->check(CLI::Range(16, 4096))->group(faces);
        app.add_option("--centering", o.centering, "centre of the crop (faceswap's): face, legacy (tight, as the first "
                                                   "face-swap tools) or head (the whole head)")
            ->check(CLI::IsMember({"face", "legacy", "head"}))
            ->capture_default_str()
            ->group(faces);
        app.add_option("--coverage", o.coverage, "how much of the centred area the crop shows (faceswap's coverage ratio)")
            ->check(numeric<double>("--coverage"))
            ->check(CLI::Range(0.5, 1.5))
            ->capture_default_str()
            ->group(faces);
        app.add_option("--mask", o.mask, "the face mask written to masks/: components (the landmark hulls) or extended "
                                         "(the forehead up to above the brows)")
            ->check(CLI::IsMember({"components", "extended"}))
            ->capture_default_str()
            ->group(faces);
        const std::string filters = "Filters";
        add_number(app, "--every", o.every, "work on every N-th frame of a video")->check(positive)->group(filters);
        add_number(app, "--min-size", o.min_size, "drop faces whose detected box is smaller (square root of its area, "
                                                  "frame pixels); 0: keep all")
            ->check(nonnegative)
            ->group(filters);
        add_number(app, "--max-faces", o.max_faces, "keep at most K faces per frame, the largest; 0: all")
            ->check(nonnegative)
            ->group(filters);
        add_number(app, "--blur-threshold", o.blur_threshold,
                   "drop faces whose blur score (variance of the Laplacian of the aligned face at 256 px, grey 0-255, "
                   "within the face) is lower; 0: keep all")
            ->check(nonnegative)
            ->group(filters);
        app.add_flag("--smooth", o.smooth, "smooth the landmarks over time (videos): less jitter between frames")->group(filters);
        add_number(app, "--smooth-radius", o.smooth_radius, "frames on each side of the smoothing fit")
            ->check(CLI::Range(1, 30))
            ->group(filters);
        const std::string models = "Detection and landmarks";
        app.add_option("--detector-model", o.detector_model, "dlib MMOD CNN face detector file (mmod_human_face_detector.dat); "
                                                             "default: dlib's built-in HOG detector")
            ->type_name("FILE")
            ->group(models);
        app.add_option("--landmarks-model", o.landmarks_model, "dlib 68-point shape predictor file; default: "
                                                               "/usr/share/dlib/shape_predictor_68_face_landmarks.dat (Debian libdlib-data)")
            ->type_name("FILE")
            ->group(models);
        add_number(app, "--detect-size", o.detect_size, "detect on a copy whose longer side is at most this; 0: full size")
            ->check(nonnegative)
            ->group(models);
        add_number(app, "--upsample", o.upsample, "double the detection copy this many times (finds smaller faces, slower)")
            ->check(CLI::Range(0, 3))
            ->group(models);
        add_number(app, "--detector-threshold", o.detector_threshold,
                   "decision threshold of the detector: higher keeps only surer faces, lower finds more")->group(models);
        add_device(app, o.device, o.threads)->group("Backend");
        app.get_option("--threads")->group("Backend");
    }

    int run(const std::atomic<bool>* stop) { return extract_command(o, stop, print_line); }
};

struct convert_cli {
    convert_command_options o;

    explicit convert_cli(CLI::App& app) {
        const std::string io = "Input and output";
        app.add_option("--input", o.input, "the video, folder of pictures or picture the faces were extracted from")
            ->type_name("VIDEO|DIR|IMAGE")
            ->required()
            ->group(io);
        app.add_option("--alignments", o.alignments, "its alignments file (written by extract)")
            ->type_name("FILE")
            ->required()
            ->group(io);
        app.add_option("--model", o.model, "model folder (trained by train)")->type_name("DIR")->required()->group(io);
        app.add_option("--output", o.output, "the swapped video (FILE.mp4, .mkv, ...; the source's audio is copied), or a "
                                             "folder for the frames as PNG (a path without extension; pictures keep "
                                             "their names)")
            ->type_name("FILE|DIR")
            ->required()
            ->group(io);
        app.add_option("--direction", o.direction, "a2b: A's faces become B; b2a: the reverse")
            ->check(CLI::IsMember({"a2b", "b2a"}))
            ->capture_default_str()
            ->group(io);
        const std::string paste = "Pasting";
        app.add_option("--mask", o.mask, "paste mask: the landmark masks components or extended, the model's learned "
                                         "mask (a model trained with --mask), or the whole crop (box)")
            ->check(CLI::IsMember({"components", "extended", "learned", "box"}))
            ->capture_default_str()
            ->group(paste);
        add_number(app, "--erode", o.erode, "shrink (> 0) or grow (< 0) the mask by this many face pixels")->group(paste);
        add_number(app, "--blur", o.blur, "feather the mask edge over this many face pixels")->check(nonnegative)->group(paste);
        app.add_option("--color", o.color, "colour matching inside the mask: none, avg (mean), rct (Reinhard, LAB mean and "
                                           "deviation), lct (linear, by covariance), hist (histograms)")
            ->check(CLI::IsMember({"none", "avg", "rct", "lct", "hist"}))
            ->capture_default_str()
            ->group(paste);
        app.add_flag("--seamless", o.seamless, "Poisson (gradient-domain) blending over the mask")->group(paste);
        add_number(app, "--sharpen", o.sharpen, "unsharp-mask amount for the pasted face; 0: off")->check(nonnegative)->group(paste);
        const std::string enc = "Encoding";
        app.add_option("--codec", o.codec, "video encoder")
            ->check(CLI::IsMember({"libx264", "libx265"}))
            ->capture_default_str()
            ->group(enc);
        add_number(app, "--crf", o.crf, "constant rate factor (0 lossless .. 51)")->check(CLI::Range(0, 51))->group(enc);
        app.add_option("--preset", o.preset, "encoder speed preset (ultrafast .. veryslow)")->capture_default_str()->group(enc);
        add_number(app, "--fps", o.fps, "frame rate of a video made from pictures")->check(CLI::Range(0.001, 1000.0))->group(enc);
        add_number(app, "--batch", o.batch, "frames swapped per model call")->check(CLI::Range(1, 256))->group("Backend");
        add_device(app, o.device, o.threads)->group("Backend");
        app.get_option("--threads")->group("Backend");
    }

    int run(const std::atomic<bool>* stop) {
        const auto n = convert_command(o, stop, print_line);
        std::printf("converted %lld frames into %s\n", static_cast<long long>(n), o.output.string().c_str());
        return 0;
    }
};

struct timelapse_cli {
    timelapse_options o;

    explicit timelapse_cli(CLI::App& app) {
        app.add_option("--input", o.input, "folder of <iteration>.png pictures (train --timelapse DIR)")
            ->type_name("DIR")
            ->required();
        app.add_option("--output", o.output, "the video to write (FILE.mp4, .mkv, ...)")->type_name("FILE")->required();
        app.add_option("--fps", o.fps, "pictures per second")
            ->check(numeric<double>("--fps"))
            ->check(CLI::Range(0.1, 240.0))
            ->capture_default_str();
        add_number(app, "--crf", o.crf, "H.264 quality: 0 lossless .. 51 worst")->check(CLI::Range(0, 51));
    }

    int run() {
        timelapse_command(o, print_line);
        return 0;
    }
};

struct info_cli {
    std::filesystem::path model;
    std::int64_t batch = 0;
    int threads = 0;

    explicit info_cli(CLI::App& app) {
        app.add_option("--model", model, "model folder")->type_name("DIR")->required();
        add_number(app, "--batch", batch, "batch size of the memory estimate; 0: the model's training batch")
            ->check(nonnegative);
        add_number(app, "--threads", threads, "CPU threads the estimate assumes; 0: all cores")->check(CLI::Range(0, 4096));
    }

    int run() {
        info_command(model, print_line);
        info_memory(model, batch, threads, print_line);
        return 0;
    }
};

struct export_cli {
    export_command_options o;

    explicit export_cli(CLI::App& app) {
        app.add_option("--model", o.model, "model folder (trained by train)")->type_name("DIR")->required();
        app.add_option("--output", o.output, "the ONNX file to write")->type_name("FILE")->required();
        app.add_option("--direction", o.direction, "a2b: the encoder and decoder B (A's faces become B); b2a: decoder A")
            ->check(CLI::IsMember({"a2b", "b2a"}))
            ->capture_default_str();
        add_number(app, "--opset", o.opset,
                   "ONNX opset (" + std::to_string(hg::io::onnx::min_opset) + " to " +
                       std::to_string(hg::io::onnx::max_opset) + ")")
            ->check(CLI::Range(hg::io::onnx::min_opset, hg::io::onnx::max_opset));
        app.add_option("--batch", o.batch, "batch dimension of the graph: dynamic, or a fixed size >= 1")
            ->type_name("dynamic|N")
            ->check(CLI::Validator(
                [](std::string& s) {
                    try {
                        (void)parse_export_batch(s);
                    } catch (const hg::value_error& e) {
                        return std::string(e.what());
                    }
                    return std::string();
                },
                ""))
            ->capture_default_str();
    }

    int run() {
        export_command(o, print_line);
        return 0;
    }
};

}  // namespace

int run_cli(int argc, char** argv, const std::atomic<bool>* stop) {
    CLI::App app("hourglass-swap: train a face-swap autoencoder, preview it and swap faces with it.",
                 "hourglass-swap");
    app.formatter(std::make_shared<help_formatter>());
    app.require_subcommand(1);
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.failure_message([](const CLI::App* top, const CLI::Error& e) {
        std::string where = "hourglass-swap";
        for (const CLI::App* sub : top->get_subcommands()) where += " " + sub->get_name();
        return where + ": " + e.what() + "\nRun '" + where + " --help' for the options.\n";
    });

    demo_cli demo_c(*app.add_subcommand("demo", "train on built-in synthetic faces, then write a preview, a loss plot "
                                                "and the swap fidelity"));
    train_cli train_c(*app.add_subcommand("train", "train (or resume) a model on two folders of face crops"));
    swap_cli swap_c(*app.add_subcommand("swap", "swap the faces of images with a trained model"));
    info_cli info_c(*app.add_subcommand("info", "describe a model folder: architecture, iterations, options, losses, "
                                                "and the memory training takes"));
    export_cli export_c(*app.add_subcommand("export", "write the swap path of a model (encoder + one decoder) as an "
                                                      "ONNX file for other runtimes"));
    convert_cli convert_c(*app.add_subcommand(
        "convert", std::string("swap the faces of a video listed in its alignments file and write the video back, with its "
                               "audio") +
                       (has_media() ? "" : " (not in this build: needs dlib and FFmpeg)")));
    extract_cli extract_c(*app.add_subcommand(
        "extract", std::string("find, align and cut out the faces of a video, a picture or a folder of pictures, with masks "
                               "and an alignments file") +
                       (has_media() ? "" : " (not in this build: needs dlib and FFmpeg)")));
    timelapse_cli timelapse_c(*app.add_subcommand(
        "timelapse", std::string("make a video of the preview pictures that train --timelapse kept") +
                         (has_media() ? "" : " (not in this build: needs FFmpeg)")));
    app.footer("Run 'hourglass-swap <command> --help' for the options of a command; docs/faceswap.md describes them.");

    const std::vector<std::string> commands = {"demo", "train", "swap", "info", "export", "extract", "convert", "timelapse"};

    if (argc < 2) {
        std::cerr << app.help();
        return 2;
    }
    if (argc == 2 && std::string(argv[1]) == "help") {
        std::cout << app.help();
        return 0;
    }
    if (const std::string first = argv[1];
        first[0] != '-' && std::find(commands.begin(), commands.end(), first) == commands.end()) {
        std::fprintf(stderr, "hourglass-swap: unknown command '%s' (%s)\nRun 'hourglass-swap --help' for the commands.\n",
                     first.c_str(), join(commands, ", ").c_str());
        return 2;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e, std::cout, std::cerr) == 0 ? 0 : 2;
    }

    const CLI::App* sub = app.get_subcommands().at(0);
    const std::string command = sub->get_name();
    try {
        if (command == "demo") return demo_c.run();
        if (command == "train") return train_c.run(stop);
        if (command == "swap") return swap_c.run();
        if (command == "extract") return extract_c.run(stop);
        if (command == "convert") return convert_c.run(stop);
        if (command == "export") return export_c.run();
        if (command == "timelapse") return timelapse_c.run();
        return info_c.run();
    } catch (const hg::value_error& e) {
        std::fprintf(stderr, "hourglass-swap %s: %s\n", command.c_str(), e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hourglass-swap %s: %s\n", command.c_str(), e.what());
        return 1;
    }
}

}  // namespace faceswap
