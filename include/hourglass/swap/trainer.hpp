// hg::swap::trainer<B, Arch, Mask, K>: the face-swap model (swap_model: one shared encoder, K
// decoders; liae_model for SAEHD's LIAE architectures) trained by the library's training cycle (train/cycle.hpp). Side s feeds faces of
// identity s through the encoder and decoder s; its loss is faceswap's default: a composite of the
// chosen terms (SSIM + MSE) applied through losses::face_mask (face mask, eye x3, mouth x2 when the
// side's masks have those channels), plus losses::mask_loss against the face mask when the model
// has a mask head (weight options.mask_weight: the "mask" term is weight x MSE, and its gradient
// is scaled alike). One optimizer per network (encoder, decoder a, decoder b, ...; Adam 5e-5 by
// default).
//
// Everything else - checkpoints with backup, exact resume, the non-finite policy, the loss log,
// the stop criteria, the profile - is the cycle's. The checkpoint header adds: architecture, mask,
// identities (K), options (batch, loss, optimizer, preset, lr, warmup, cosine_steps,
// final_lr_factor, augment, save_every, eye/mouth multipliers, holdout) and seeds.model; a folder
// holding another architecture is refused by name.
//
// Held-out faces (side_data::holdout_*, holdout.hpp): at every preview the trainer scores them -
// the face-region SSIM (fidelity.hpp) of each side's reconstructions and, where the caller gives a
// ground truth, of the swaps - prints one line and appends a row to holdout.csv in the model
// folder (iteration, then one column per score; a resume drops the rows after its checkpoint);
// with TensorBoard the scores are also scalars "holdout/rebuilt_A", "holdout/A_to_B", ...
// With options.timelapse_dir every preview picture is also kept there as <iteration>.png (8
// digits), the frames of a timelapse video.
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hourglass/data/batch_loader.hpp"
#include "hourglass/data/host_batch.hpp"
#include "hourglass/losses/composite.hpp"
#include "hourglass/losses/face_mask.hpp"
#include "hourglass/losses/mask_loss.hpp"
#include "hourglass/losses/pointwise.hpp"
#include "hourglass/losses/ssim.hpp"
#include "hourglass/ops/channels.hpp"
#include "hourglass/optim/config.hpp"
#include "hourglass/optim/schedule.hpp"
#include "hourglass/swap/fidelity.hpp"
#include "hourglass/swap/recipe.hpp"
#include "hourglass/swap/liae_model.hpp"
#include "hourglass/swap/swap_model.hpp"
#include "hourglass/swap/train_options.hpp"
#include "hourglass/train/cycle.hpp"
#include "hourglass/viz/preview_grid.hpp"

namespace hg::swap {

/// The ground truth of swapping a side's held-out faces to identity `to`: that identity in the
/// held-out faces' poses ([R, out, out, 3]) and its face mask ([R, out, out, 1]). Synthetic faces
/// have one; real faces do not.
struct holdout_truth {
    int to = -1;
    tensor truth, mask;
};

/// The faces of one identity: a producer for the batch loader and its size, a few unaugmented
/// faces ([R, out, out, 3], host) for the previews, and optionally held-out faces to score.
struct side_data {
    data::sample_producer producer;
    std::int64_t samples = 0;
    std::int64_t mask_channels = 1;  ///< 3 for synthetic faces (face, eye, mouth), 1 for folders
    tensor preview_faces;
    tensor holdout_faces;  ///< [H, out, out, 3] faces the loader never gives; undefined: none
    tensor holdout_masks;  ///< [H, out, out, 1] their face masks (coverage; ones where a face has none)
    std::vector<holdout_truth> holdout_swaps;
};

/// One score of the held-out faces: "rebuilt A" (side A's reconstruction) or "A to B" (the swap).
struct holdout_score {
    std::string name;
    double ssim = 0;
};

/// The loss term names make_loss_terms knows.
inline std::vector<std::string> loss_term_names() { return {"ssim", "dssim", "mse", "mae", "log_cosh"}; }

/// The composite of the named terms (each weight 1).
template <class B>
losses::composite<B> make_loss_terms(const std::vector<std::string>& names) {
    losses::composite<B> c;
    for (const auto& n : names) {
        // The range check is off: masked faces stay in [0, 1] and a NaN is handled by the NaN policy.
        if (n == "ssim") c.add(losses::ssim(ops::ssim_form::valid, false));
        else if (n == "dssim") c.add(losses::dssim(ops::ssim_form::valid, false));
        else if (n == "mse") c.add(losses::mse());
        else if (n == "mae") c.add(losses::mae());
        else if (n == "log_cosh") c.add(losses::log_cosh());
        else throw value_error("unknown loss term '" + n + "' (ssim, dssim, mse, mae, log_cosh)");
    }
    if (c.size() == 0) throw value_error("the loss needs at least one term");
    return c;
}

inline std::string join_names(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
}

inline std::vector<std::string> split_names(const std::string& s) {
    std::vector<std::string> out;
    std::string item;
    for (char c : s) {
        if (c == ',') {
            if (!item.empty()) out.push_back(item);
            item.clear();
        } else {
            item += c;
        }
    }
    if (!item.empty()) out.push_back(item);
    return out;
}

/// Side s of the face-swap model as a cycle side: encoder + decoder s, the masked composite loss
/// and, with a mask head, the mask loss (two loss terms: "face" and "mask").
template <class B, class Model>
class swap_side_task final : public train::side_task<B> {
public:
    using face_loss = losses::face_mask<B, losses::composite<B>>;

    swap_side_task(Model& m, int side, const train_options& o, std::int64_t mask_channels)
        : m_(m), side_(side), mask_weight_(o.mask_weight) {
        if (!(std::isfinite(o.mask_weight) && o.mask_weight > 0))
            throw value_error("--mask-weight must be positive, got " + std::to_string(o.mask_weight));
        losses::face_mask_options fo;
        fo.eye_multiplier = mask_channels == 3 ? o.eye_multiplier : 0.0;
        fo.mouth_multiplier = mask_channels == 3 ? o.mouth_multiplier : 0.0;
        loss_ = std::make_unique<face_loss>(make_loss_terms<B>(o.loss), fo);
    }

    std::vector<std::string> loss_terms() const override {
        if constexpr (Model::has_mask()) return {"face", "mask"};
        else return {"face"};
    }

    void upload(const data::batch& b) override {
        auto& be = m_.backend();
        x_ = data::to_backend(be, data::resize_batch(b.input, Model::input_size()));
        target_ = data::to_backend(be, b.target);
        masks_.face = data::to_backend(be, data::channels_of(b.mask, 0, 1));
        if (b.mask.shape().c() == 3) {
            masks_.eye = data::to_backend(be, data::channels_of(b.mask, 1, 1));
            masks_.mouth = data::to_backend(be, data::channels_of(b.mask, 2, 1));
        } else {
            masks_.eye = tensor();
            masks_.mouth = tensor();
        }
    }

    void compute(const tensor& loss, train::step_profile& profile) override {
        auto& be = m_.backend();
        const tensor& y = m_.forward(x_, side_);
        profile.mark(train::step_phase::forward);
        tensor rgb = y, mask_pred;
        if constexpr (Model::has_mask()) {
            // Split on the backend (no host round trip): channels 0-2 the face, channel 3 the mask.
            const auto s = y.shape();
            rgb = be.empty(shape{s.n(), s.h(), s.w(), 3});
            mask_pred = be.empty(shape{s.n(), s.h(), s.w(), 1});
            ops::copy_channels(be, y, 0, rgb, 0, 3);
            ops::copy_channels(be, y, 3, mask_pred, 0, 1);
        }
        loss_->forward(be, rgb, target_, masks_, loss.slice(0, shape{1}));
        if constexpr (Model::has_mask()) {
            const auto term = loss.slice(1, shape{1});
            mask_loss_.forward(be, mask_pred, masks_.face, term);
            if (mask_weight_ != 1.0) ops::scale(be, static_cast<float>(mask_weight_), term);
        }
        profile.mark(train::step_phase::loss);
        auto drgb = be.empty(rgb.shape());
        ops::fill(be, drgb, 0.f);
        loss_->backward(be, rgb, target_, masks_, 1.0, drgb);
        if constexpr (Model::has_mask()) {
            auto dm = be.empty(mask_pred.shape());
            ops::fill(be, dm, 0.f);
            mask_loss_.backward(be, mask_pred, masks_.face, mask_weight_, dm);
            auto dy = be.empty(y.shape());  // the split's backward: the two gradients joined
            ops::copy_channels(be, drgb, 0, dy, 0, 3);
            ops::copy_channels(be, dm, 0, dy, 3, 1);
            m_.backward(dy, side_);
        } else {
            m_.backward(drgb, side_);
        }
        profile.mark(train::step_phase::backward);
    }

private:
    Model& m_;
    int side_;
    double mask_weight_;
    std::unique_ptr<face_loss> loss_;
    losses::mask_loss mask_loss_;
    tensor x_, target_;
    typename face_loss::masks_type masks_;
};

template <class B, class Arch, bool Mask, int K = 2>
class trainer {
public:
    using model_type = model_for<B, Arch, Mask, K>;  // swap_model, or liae_model for a LIAE architecture
    using log_fn = std::function<void(const std::string&)>;

    /// K sides, side s = identity s.
    trainer(B& be, train_options o, std::vector<side_data> sides, std::filesystem::path model_dir, log_fn log = {})
        : o_(std::move(o)), sides_(std::move(sides)), model_(be, o_.seed) {
        if (sides_.size() != static_cast<std::size_t>(K))
            throw value_error("swap trainer: " + std::to_string(sides_.size()) + " sides for " + std::to_string(K) +
                              " identities");
        if (o_.batch < 1) throw value_error("--batch must be >= 1");
        if (o_.save_every < 1) throw value_error("--save-every must be >= 1");
        check_holdout();
        std::vector<train::network<B>> networks;
        const auto names = model_type::network_names();
        const auto sets = model_.parameter_sets();
        for (std::size_t i = 0; i < sets.size(); ++i) networks.push_back({names[i], sets[i]});
        std::vector<train::side<B>> cycle_sides;
        for (int s = 0; s < K; ++s) {
            const auto& d = sides_[static_cast<std::size_t>(s)];
            train::side<B> cs;
            cs.source.name = side_name(s);
            cs.source.producer = d.producer;
            cs.source.samples = d.samples;
            cs.source.height = cs.source.width = Arch::output;
            cs.source.channels = 3;
            cs.source.mask_channels = d.mask_channels;
            cs.task = std::make_unique<swap_side_task<B, model_type>>(model_, s, o_, d.mask_channels);
            cycle_sides.push_back(std::move(cs));
        }
        train::cycle_events ev;
        ev.log = log;
        ev.on_step = [this] {
            if (on_step_) on_step_();
        };
        ev.preview = [this](const std::filesystem::path& p) { on_preview(p); };
        log_ = log;
        model_dir_ = model_dir;
        cycle_ = std::make_unique<train::cycle<B>>(be, cycle_options(std::move(model_dir)), std::move(networks),
                                                   std::move(cycle_sides), std::move(ev));
        if (has_holdout() && cycle_->communicator().rank() == 0) cut_holdout_log(cycle_->iteration());
    }

    /// Two identities: A and B.
    trainer(B& be, train_options o, side_data a, side_data b, std::filesystem::path model_dir, log_fn log = {})
        : trainer(be, std::move(o), two(std::move(a), std::move(b)), std::move(model_dir), std::move(log)) {}

    model_type& model() { return model_; }
    train::cycle<B>& cycle() { return *cycle_; }
    const train::cycle<B>& cycle() const { return *cycle_; }
    std::int64_t iteration() const { return cycle_->iteration(); }
    double epoch() const { return cycle_->epoch(); }
    double learning_rate() const { return cycle_->learning_rate(); }
    double last_loss(int side) const { return cycle_->last_loss(static_cast<std::size_t>(side)); }
    const train_options& options() const { return o_; }
    bool resumed() const { return cycle_->resumed(); }
    /// The optimizer of network i, in the order of model_type::network_names() (swap_model: 0
    /// encoder, 1 decoder a, 2 decoder b, ...).
    const optim::optimizer<B>& optimizer(std::size_t i) const { return cycle_->optimizer(i); }
    const train::step_profile& profile() const { return cycle_->profile(); }

    /// Trains until a stop criterion of options().stop is met or *stop turns true (then saves);
    /// on_step runs after every applied step (progress lines). Returns why it stopped.
    train::stop_info run(const std::atomic<bool>* stop = nullptr, std::function<void()> on_step = {}) {
        on_step_ = std::move(on_step);
        auto r = cycle_->run(stop);
        on_step_ = {};
        return r;
    }

    /// One training step on the next batch of every side; false when it was skipped (non-finite).
    bool step() { return cycle_->step(); }

    /// One training step on given host batches of side A and side B (input [N, H, W, 3] of any
    /// size, target [N, out, out, 3], mask [N, out, out, 1 or 3] as the loaders make them).
    bool step(const data::batch& a, const data::batch& b) { return cycle_->step(std::vector<data::batch>{a, b}); }

    /// Writes the checkpoint now.
    void save() { cycle_->save(); }

    /// Whether any side has held-out faces to score.
    bool has_holdout() const {
        for (const auto& d : sides_)
            if (d.holdout_faces.defined()) return true;
        return false;
    }

    /// The scores of the held-out faces now (see the file comment); empty without held-out faces.
    std::vector<holdout_score> evaluate_holdout() {
        std::vector<holdout_score> out;
        auto upper = [](int s) { return std::string(1, static_cast<char>('A' + s)); };
        for (int s = 0; s < K; ++s) {
            const auto& d = sides_[static_cast<std::size_t>(s)];
            if (!d.holdout_faces.defined()) continue;
            const auto faces = data::resize_batch(d.holdout_faces, Arch::output);
            const auto rebuilt = data::channels_of(model_.decode_host(d.holdout_faces, s), 0, 3);
            out.push_back({"rebuilt " + upper(s), face_ssim(rebuilt, faces, d.holdout_masks)});
            for (const auto& t : d.holdout_swaps) {
                const auto swapped = data::channels_of(model_.decode_host(d.holdout_faces, t.to), 0, 3);
                out.push_back({upper(s) + " to " + upper(t.to), face_ssim(swapped, t.truth, t.mask)});
            }
        }
        return out;
    }

    /// The preview grid: per identity s, columns s, s rebuilt, and s swapped to every other identity.
    void write_preview(const std::filesystem::path& path) {
        for (const auto& d : sides_)
            if (!d.preview_faces.defined()) return;
        std::vector<viz::preview_column> cols;
        auto upper = [](int s) { return std::string(1, static_cast<char>('A' + s)); };
        for (int s = 0; s < K; ++s) {
            const auto& faces = sides_[static_cast<std::size_t>(s)].preview_faces;
            cols.push_back({upper(s), data::resize_batch(faces, Arch::output)});
            cols.push_back({upper(s) + " rebuilt", data::channels_of(model_.decode_host(faces, s), 0, 3)});
            for (int t = 0; t < K; ++t)
                if (t != s) cols.push_back({upper(s) + " to " + upper(t), data::channels_of(model_.decode_host(faces, t), 0, 3)});
        }
        viz::write_preview_grid(path, cols);
    }

private:
    static std::vector<side_data> two(side_data a, side_data b) {
        std::vector<side_data> v;
        v.push_back(std::move(a));
        v.push_back(std::move(b));
        return v;
    }

    void check_holdout() const {
        for (int s = 0; s < K; ++s) {
            const auto& d = sides_[static_cast<std::size_t>(s)];
            if (!d.holdout_faces.defined()) {
                if (!d.holdout_swaps.empty())
                    throw value_error("swap trainer: side " + side_name(s) + " has swap ground truth but no held-out faces");
                continue;
            }
            const auto fs = d.holdout_faces.shape();
            if (fs.rank() != 4 || fs.c() != 3 || fs.n() < 1)
                throw shape_error("swap trainer: held-out faces of side " + side_name(s) + " must be [N, H, W, 3], got " +
                                  fs.str());
            const shape mask{fs.n(), Arch::output, Arch::output, 1};
            if (d.holdout_masks.shape() != mask)
                throw shape_error("swap trainer: held-out masks of side " + side_name(s) + " must be " + mask.str() +
                                  ", got " + d.holdout_masks.shape().str());
            for (const auto& t : d.holdout_swaps) {
                if (t.to < 0 || t.to >= K || t.to == s)
                    throw value_error("swap trainer: a swap ground truth of side " + side_name(s) + " names identity " +
                                      std::to_string(t.to));
                const shape truth{fs.n(), Arch::output, Arch::output, 3};
                if (t.truth.shape() != truth || t.mask.shape() != mask)
                    throw shape_error("swap trainer: the swap ground truth of side " + side_name(s) + " must be " +
                                      truth.str() + " with a " + mask.str() + " mask");
            }
        }
    }

    std::filesystem::path holdout_log() const { return model_dir_ / "holdout.csv"; }

    /// Keeps the header and the rows up to `iteration` of holdout.csv (a resume repeats the rest);
    /// a row that does not start with an iteration number (a damaged file) is dropped too.
    void cut_holdout_log(std::int64_t iteration) const {
        std::ifstream in(holdout_log());
        if (!in) return;
        std::string line, kept;
        bool first = true;
        while (std::getline(in, line)) {
            const std::string field = line.substr(0, line.find(','));
            char* end = nullptr;
            const long long it = std::strtoll(field.c_str(), &end, 10);
            const bool numbered = !field.empty() && end != nullptr && *end == '\0';
            if (first || (numbered && it <= iteration)) kept += line + "\n";
            first = false;
        }
        in.close();
        const auto tmp = holdout_log().string() + ".tmp";
        {
            std::ofstream out(tmp, std::ios::trunc);
            out << kept;
            if (!out) throw io_error("cannot write " + tmp);
        }
        std::filesystem::rename(tmp, holdout_log());
    }

    /// After the cycle asked for a preview: the picture, its timelapse copy, the held-out scores.
    void on_preview(const std::filesystem::path& p) {
        write_preview(p);
        const std::int64_t it = cycle_ ? cycle_->iteration() : 0;
        if (!o_.timelapse_dir.empty() && std::filesystem::exists(p)) {
            std::filesystem::create_directories(o_.timelapse_dir);
            char name[32];
            std::snprintf(name, sizeof name, "%08lld.png", static_cast<long long>(it));
            std::filesystem::copy_file(p, o_.timelapse_dir / name, std::filesystem::copy_options::overwrite_existing);
        }
        if (!has_holdout()) return;
        const auto scores = evaluate_holdout();
        const bool fresh = !std::filesystem::exists(holdout_log());
        std::ofstream out(holdout_log(), std::ios::app);
        if (fresh) {
            out << "iteration";
            for (const auto& sc : scores) out << ',' << sc.name;
            out << '\n';
        }
        out << it;
        std::string line = "held-out face SSIM at iteration " + std::to_string(it) + ":";
        char buf[96];
        for (std::size_t i = 0; i < scores.size(); ++i) {
            std::snprintf(buf, sizeof buf, ",%.6f", scores[i].ssim);
            out << buf;
            std::snprintf(buf, sizeof buf, "%s %s %.4f", i ? "," : "", scores[i].name.c_str(), scores[i].ssim);
            line += buf;
        }
        out << '\n';
        if (!out) throw io_error("cannot append to " + holdout_log().string());
        for (const auto& sc : scores) {
            std::string tag = "holdout/" + sc.name;
            for (char& c : tag)
                if (c == ' ') c = '_';
            cycle_->add_event_scalar(tag, sc.ssim);
        }
        if (log_) log_(line);
    }

    train::cycle_options cycle_options(std::filesystem::path dir) const {
        train::cycle_options c;
        c.folder = std::move(dir);
        c.format = "hourglass-swap";
        c.batch = o_.batch;
        c.stop = o_.stop;
        c.save_every = o_.save_every;
        c.preview_every = o_.preview_every;
        c.seed = o_.seed;
        c.loader_threads = o_.loader_threads;
        c.optimizer.rule = optim::by_name(o_.optimizer, o_.lr);
        if (o_.cosine_steps > 0)
            c.optimizer.schedule = optim::lr_schedule::cosine(o_.cosine_steps, o_.final_lr_factor, o_.warmup);
        else if (o_.warmup > 0)
            c.optimizer.schedule = optim::lr_schedule::linear_warmup(o_.warmup);
        c.profile = o_.profile;
        c.profile_layers = o_.profile_layers;
        c.loss_plot_log_scale = o_.plot_log_scale;
        c.tensorboard_dir = o_.tensorboard_dir;
        c.tensorboard_every = o_.tensorboard_every;
        c.comm = o_.comm;
        c.loss_plot_title = std::string(Arch::name) + (Mask ? " with mask head" : "") + ", " + c.folder.string();
        auto& h = c.header;
        h["architecture"] = Arch::name;
        h["mask"] = Mask;
        h["identities"] = K;
        auto& op = h["options"];
        op["batch"] = o_.batch;
        op["loss"] = join_names(o_.loss);
        op["optimizer"] = o_.optimizer;
        op["preset"] = o_.preset;
        op["lr"] = o_.lr;
        op["warmup"] = o_.warmup;
        op["cosine_steps"] = o_.cosine_steps;
        op["final_lr_factor"] = o_.final_lr_factor;
        op["augment"] = augment_json(o_.augment, o_.augment_ramp);
        op["holdout"] = o_.holdout;
        op["save_every"] = o_.save_every;
        op["eye_multiplier"] = o_.eye_multiplier;
        op["mouth_multiplier"] = o_.mouth_multiplier;
        op["mask_weight"] = o_.mask_weight;
        h["seeds"]["model"] = static_cast<std::int64_t>(o_.seed);
        const std::string folder = c.folder.string();
        c.check_header = [folder](const io::json& hd) {
            const auto* arch = hd.find("architecture");
            const auto* mask = hd.find("mask");
            const std::string held = arch && arch->is_string() ? arch->as_string() : std::string("unknown");
            const bool held_mask = mask && mask->is_bool() && mask->as_bool();
            if (held != Arch::name || held_mask != Mask)
                throw format_error("the checkpoint in " + folder + " holds a " + held + (held_mask ? " (with mask head)" : "") +
                                   " model, not " + Arch::name + (Mask ? " (with mask head)" : ""));
            const auto* k = hd.find("identities");
            if (k && k->is_number() && k->as_int() != K)
                throw format_error("the checkpoint in " + folder + " holds a model of " + std::to_string(k->as_int()) +
                                   " identities, not " + std::to_string(K));
        };
        return c;
    }

    train_options o_;
    std::filesystem::path model_dir_;
    log_fn log_;
    std::vector<side_data> sides_;
    model_type model_;
    std::unique_ptr<train::cycle<B>> cycle_;
    std::function<void()> on_step_;
};

}  // namespace hg::swap
