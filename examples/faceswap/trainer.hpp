// trainer<B, Arch, Mask>: the training loop of hourglass-swap. Two batch loaders (one per identity,
// each fed by data::augmented_producer), the loss faceswap uses by default - a composite of the
// chosen terms (SSIM + MSE) applied through losses::face_mask (face mask, eye x3, mouth x2), plus
// losses::mask_loss against the face mask when the model has a mask head - and one
// hg::optim::optimizer per network (encoder, decoder A, decoder B; Adam 5e-5 by default).
//
// Checkpoints (hg::train::checkpoint_store in the model folder): header = architecture, options,
// iteration, learning rate, seeds; tensors = every named parameter; optimizer_state = the three
// optimizer states, each as "<bytes>\n<optimizer::save output>". A trainer built on a folder with a
// checkpoint resumes exactly: weights, optimizer moments, iteration, and the loaders restart at
// batch_loader_options::first_step = iteration, so a resumed run repeats an uninterrupted one bit
// for bit. losses.csv (iteration,loss_a,loss_b) is cut back to the checkpoint's iteration on resume.
//
// Non-finite loss: the step is skipped (gradients dropped) with a warning; after 3 failures in a
// row the trainer rolls back to the last checkpoint - weights, iteration and the optimizer states
// saved with it (moments, step counts) - and halves the learning rate (optimizer::set_learning_rate,
// the restored moments are kept). Without a checkpoint yet only the rate halves (the optimizers
// restart at it: there is no earlier state to return to). The checkpoint writer refuses non-finite
// weights, so a diverged model never replaces a good checkpoint.
#pragma once

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "hourglass/hourglass.hpp"
#include "hourglass/train/checkpoint_store.hpp"
#include "hourglass/train/json.hpp"
#include "step_profile.hpp"
#include "swap_model.hpp"

namespace faceswap {

struct train_options {
    std::string architecture = "original";
    bool mask = false;                              ///< learned mask head
    std::int64_t batch = 16;
    std::int64_t iterations = 100000;               ///< train until this iteration
    std::vector<std::string> loss = {"ssim", "mse"};
    std::string optimizer = "adam";
    double lr = 5e-5;
    std::int64_t cosine_steps = 0;                  ///< > 0: cosine decay of lr to lr / 10 over these steps
    std::int64_t save_every = 250;
    std::int64_t preview_every = 0;                 ///< 0: at every save
    std::uint64_t seed = 1;
    int loader_threads = 2;
    double eye_multiplier = 3.0, mouth_multiplier = 2.0;
    bool profile = false;                           ///< time each phase of an iteration (step_profile.hpp)
};

/// The faces of one identity: a producer for batch_loader and its size, and a few unaugmented faces
/// ([R, out, out, 3], host) for the previews.
struct side_data {
    hg::data::sample_producer producer;
    std::int64_t samples = 0;
    std::int64_t mask_channels = 1;  ///< 3 for synthetic faces (face, eye, mouth), 1 for folders
    hg::tensor preview_faces;
};

inline hg::optim::config optimizer_config(const std::string& name, double lr) {
    hg::optim::config c;
    if (name == "adam") c = hg::optim::adam(lr);
    else if (name == "adamw") c = hg::optim::adamw(lr);
    else if (name == "adabelief") c = hg::optim::adabelief(lr);
    else if (name == "rmsprop") c = hg::optim::rmsprop(lr);
    else if (name == "lion") c = hg::optim::lion(lr);
    else if (name == "nadam") c = hg::optim::nadam(lr);
    else if (name == "adamax") c = hg::optim::adamax(lr);
    else throw hg::value_error("unknown optimizer '" + name + "' (adam, adamw, adabelief, rmsprop, lion, nadam, adamax)");
    c.lr = lr;
    return c;
}

template <class B>
hg::losses::composite<B> make_loss_terms(const std::vector<std::string>& names) {
    hg::losses::composite<B> c;
    for (const auto& n : names) {
        // The range check is off: masked faces stay in [0, 1] and a NaN is handled by the NaN policy.
        if (n == "ssim") c.add(hg::losses::ssim(hg::ops::ssim_form::valid, false));
        else if (n == "dssim") c.add(hg::losses::dssim(hg::ops::ssim_form::valid, false));
        else if (n == "mse") c.add(hg::losses::mse());
        else if (n == "mae") c.add(hg::losses::mae());
        else if (n == "log_cosh") c.add(hg::losses::log_cosh());
        else throw hg::value_error("unknown loss term '" + n + "' (ssim, dssim, mse, mae, log_cosh)");
    }
    if (c.size() == 0) throw hg::value_error("--loss needs at least one term");
    return c;
}

/// An [N, H, W, C] host batch resized to size x size (area / bilinear, per sample).
inline hg::tensor resize_batch(const hg::tensor& x, std::int64_t size) {
    const auto s = x.shape();
    if (s[1] == size && s[2] == size) return x;
    auto out = hg::tensor::empty(hg::shape{s[0], size, size, s[3]});
    const std::int64_t in_px = s[1] * s[2] * s[3], out_px = size * size * s[3];
    for (std::int64_t i = 0; i < s[0]; ++i) {
        const auto r = hg::data::resize_area(x.slice(i * in_px, hg::shape{s[1], s[2], s[3]}), size, size);
        std::copy_n(r.data(), out_px, out.data() + i * out_px);
    }
    return out;
}

/// Decodes host faces ([N, H, W, 3], any size) with decoder `side`: host [N, out, out, C].
template <class Model>
hg::tensor decode_host(Model& m, const hg::tensor& faces, int side) {
    auto& be = m.backend();
    const auto x = to_backend(be, resize_batch(faces, Model::input_size()));
    return be.to_host(m.forward(x, side));
}

inline std::string json_string_list(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
}

inline std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    for (std::string item; std::getline(in, item, ',');)
        if (!item.empty()) out.push_back(item);
    return out;
}

/// One row of losses.csv.
struct loss_row {
    std::int64_t iteration = 0;
    double loss_a = 0, loss_b = 0;
};

inline std::vector<loss_row> read_losses(const std::filesystem::path& csv) {
    std::vector<loss_row> rows;
    std::ifstream in(csv);
    std::string line;
    while (std::getline(in, line)) {
        loss_row r;
        if (std::sscanf(line.c_str(), "%lld,%lf,%lf", reinterpret_cast<long long*>(&r.iteration), &r.loss_a, &r.loss_b) == 3)
            rows.push_back(r);
    }
    return rows;
}

template <class B, class Arch, bool Mask>
class trainer {
public:
    using model_type = swap_model<B, Arch, Mask>;
    using log_fn = std::function<void(const std::string&)>;

    trainer(B& be, train_options o, side_data a, side_data b, std::filesystem::path model_dir, log_fn log = {})
        : be_(be), o_(std::move(o)), dir_(std::move(model_dir)), store_(dir_), log_(std::move(log)),
          model_(be, o_.seed) {
        sides_[0] = std::move(a);
        sides_[1] = std::move(b);
        if (o_.batch < 1) throw hg::value_error("--batch must be >= 1");
        if (o_.save_every < 1) throw hg::value_error("--save-every must be >= 1");
        for (int s = 0; s < 2; ++s) {
            hg::losses::face_mask_options fo;
            fo.eye_multiplier = sides_[s].mask_channels == 3 ? o_.eye_multiplier : 0.0;
            fo.mouth_multiplier = sides_[s].mask_channels == 3 ? o_.mouth_multiplier : 0.0;
            loss_[s] = std::make_unique<loss_type>(make_loss_terms<B>(o_.loss), fo);
        }
        lr_ = o_.lr;
        value_ = be.empty(hg::shape{4});  // per side: the loss, the mask loss (0 without a mask head)
        hg::ops::fill(be, value_, 0.f);
        std::filesystem::create_directories(dir_);
        if (store_.exists()) resume();
        else make_optimizers();
        make_loaders();
        if (o_.profile) profile_.enable([this] { synchronize(); });
    }

    model_type& model() { return model_; }
    std::int64_t iteration() const { return iteration_; }
    double learning_rate() const { return lr_; }
    double last_loss(int side) const { return last_[side]; }
    const train_options& options() const { return o_; }
    bool resumed() const { return resumed_; }
    /// The optimizer of network i: 0 encoder, 1 decoder A, 2 decoder B.
    const hg::optim::optimizer<B>& optimizer(std::size_t i) const { return *opts_.at(i); }
    /// The phase times of run() (all zero unless options().profile).
    const step_profile& profile() const { return profile_; }

    /// Trains until options().iterations or until *stop turns true (then saves and returns).
    /// on_step(iteration) runs after every applied step (progress lines).
    void run(const std::atomic<bool>* stop = nullptr, const std::function<void()>& on_step = {}) {
        const std::int64_t preview_every = o_.preview_every > 0 ? o_.preview_every : o_.save_every;
        profile_.begin();
        while (iteration_ < o_.iterations) {
            if (stop && stop->load()) break;
            if (!step()) {
                profile_.end_iteration();
                continue;
            }
            if (!csv_.is_open()) csv_.open(dir_ / "losses.csv", std::ios::app);  // (re)opened after a roll-back
            csv_ << iteration_ << ',' << hg_format(last_[0]) << ',' << hg_format(last_[1]) << '\n';
            window_sum_ += 0.5 * (last_[0] + last_[1]);
            ++window_count_;
            if (iteration_ % o_.save_every == 0) {
                csv_.flush();
                save();
            }
            if (iteration_ % preview_every == 0) write_preview(dir_ / ("preview_" + std::to_string(iteration_) + ".png"));
            if (on_step) on_step();
            profile_.end_iteration();
        }
        if (csv_.is_open()) csv_.flush();
        if (window_count_ > 0) save();
    }

    /// One training step on the next batch of both sides; false when it was skipped (non-finite).
    bool step() {
        const hg::data::batch a = loaders_[0]->next(), b = loaders_[1]->next();
        profile_.mark(step_phase::data_wait);
        return step(a, b);
    }

    /// One training step on given host batches of side A and side B (input [N, H, W, 3] of any
    /// size, target [N, out, out, 3], mask [N, out, out, 1 or 3] as the loaders make them), e.g.
    /// batches made once for a benchmark; false when it was skipped (non-finite).
    bool step(const hg::data::batch& a, const hg::data::batch& b) {
        // Both batches go to the backend before any compute (each copy waits for the stream, idle
        // here), and the losses are read once, after both backward passes: on hg::cuda the two
        // sides run without a host round trip between them. A non-finite loss still skips the
        // step; its backward pass ran for nothing, and its gradients are dropped below.
        const side_inputs inputs[2] = {upload(a), upload(b)};
        profile_.mark(step_phase::upload);
        // Every completed step leaves the gradients at zero (the optimizers clear them after an
        // update or a skip, and a dropped step clears them below), so the zeroing pass over all
        // parameters runs only before the first step and after a step that did not complete.
        if (!grads_zero_) model_.zero_grad();
        grads_zero_ = false;
        for (int s = 0; s < 2; ++s) side_step(inputs[s], s);
        const hg::tensor losses = be_.to_host(value_);
        const double values[2] = {double(losses[0]) + double(losses[1]), double(losses[2]) + double(losses[3])};
        profile_.mark(step_phase::loss);
        const bool finite = std::isfinite(values[0]) && std::isfinite(values[1]);
        bool applied = finite;
        if (finite)
            for (auto& opt : opts_) applied = opt->step() == hg::optim::step_result::applied && applied;
        profile_.mark(step_phase::optimizer);
        if (!applied) {
            model_.zero_grad();
            grads_zero_ = true;
            ++failures_;
            warn("iteration " + std::to_string(iteration_ + 1) + ": the loss or its gradient is not finite (A " +
                 std::to_string(values[0]) + ", B " + std::to_string(values[1]) + "), step skipped");
            if (failures_ >= 3) roll_back();
            return false;
        }
        grads_zero_ = true;  // every optimizer applied its update and cleared its gradients
        failures_ = 0;
        ++iteration_;
        last_[0] = values[0];
        last_[1] = values[1];
        return true;
    }

    /// Writes the checkpoint now.
    void save() {
        const double mean = window_count_ > 0 ? window_sum_ / double(window_count_) : previous_window_;
        const bool improved = !(previous_window_ <= mean);  // also true for the first save (NaN)
        hg::train::checkpoint c;
        c.header = header();
        c.header["window_mean"] = std::isfinite(mean) ? hg::train::json(mean) : hg::train::json();
        c.tensors = model_.named_parameters();
        c.optimizer_state = optimizer_state();
        store_.save(c, improved);
        previous_window_ = mean;
        window_sum_ = 0;
        window_count_ = 0;
    }

    /// The preview grid of the preview faces of both sides.
    void write_preview(const std::filesystem::path& path);

private:
    using loss_type = hg::losses::face_mask<B, hg::losses::composite<B>>;

    static std::string hg_format(double v) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.9g", v);
        return buf;
    }

    /// Waits for the backend's queued work (hg::cuda); the CPU backend runs synchronously.
    void synchronize() {
        if constexpr (requires(B& be) { be.synchronize(); }) be_.synchronize();
    }

    void warn(const std::string& m) {
        if (log_) log_("warning: " + m);
    }

    /// A side's batch on the backend: model input, target and the loss masks.
    struct side_inputs {
        hg::tensor x, target;
        typename loss_type::masks_type masks;
    };

    side_inputs upload(const hg::data::batch& b) {
        side_inputs in;
        in.x = to_backend(be_, resize_batch(b.input, Arch::input));
        in.target = to_backend(be_, b.target);
        in.masks.face = to_backend(be_, channels_of(b.mask, 0, 1));
        if (b.mask.shape().c() == 3) {
            in.masks.eye = to_backend(be_, channels_of(b.mask, 1, 1));
            in.masks.mouth = to_backend(be_, channels_of(b.mask, 2, 1));
        }
        return in;
    }

    /// Forward, loss and backward of one side; the loss goes to value_[2 side], the mask loss to
    /// value_[2 side + 1], both left on the backend (step() reads them).
    void side_step(const side_inputs& in, int side) {
        const hg::tensor& x = in.x;
        const hg::tensor& target = in.target;
        const auto& masks = in.masks;
        const hg::tensor& y = model_.forward(x, side);
        profile_.mark(step_phase::forward);
        hg::tensor rgb = y, mask_pred;
        if constexpr (Mask) {
            // Split on the backend (no host round trip): channels 0-2 the face, channel 3 the mask.
            const auto s = y.shape();
            rgb = be_.empty(hg::shape{s.n(), s.h(), s.w(), 3});
            mask_pred = be_.empty(hg::shape{s.n(), s.h(), s.w(), 1});
            hg::ops::copy_channels(be_, y, 0, rgb, 0, 3);
            hg::ops::copy_channels(be_, y, 3, mask_pred, 0, 1);
        }
        loss_[side]->forward(be_, rgb, target, masks, value_.slice(2 * side, hg::shape{1}));
        if constexpr (Mask) mask_loss_.forward(be_, mask_pred, masks.face, value_.slice(2 * side + 1, hg::shape{1}));
        profile_.mark(step_phase::loss);
        auto drgb = be_.empty(rgb.shape());
        hg::ops::fill(be_, drgb, 0.f);
        loss_[side]->backward(be_, rgb, target, masks, 1.0, drgb);
        if constexpr (Mask) {
            auto dm = be_.empty(mask_pred.shape());
            hg::ops::fill(be_, dm, 0.f);
            mask_loss_.backward(be_, mask_pred, masks.face, 1.0, dm);
            auto dy = be_.empty(y.shape());  // the split's backward: the two gradients joined
            hg::ops::copy_channels(be_, drgb, 0, dy, 0, 3);
            hg::ops::copy_channels(be_, dm, 0, dy, 3, 1);
            model_.backward(dy, side);
        } else {
            model_.backward(drgb, side);
        }
        profile_.mark(step_phase::backward);
    }

    std::uint64_t loader_seed(int side) const { return o_.seed * 1000003u + 17u + static_cast<std::uint64_t>(side); }

    void make_loaders() {
        for (int s = 0; s < 2; ++s) {
            loaders_[s].reset();
            hg::data::batch_loader_options lo;
            lo.samples = sides_[s].samples;
            lo.batch_size = o_.batch;
            lo.height = lo.width = Arch::output;
            lo.channels = 3;
            lo.mask_channels = sides_[s].mask_channels;
            lo.seed = loader_seed(s);
            lo.threads = o_.loader_threads;
            lo.first_step = iteration_;
            if constexpr (B::device != hg::device_kind::cpu) lo.allocate = hg::data::pinned_allocator(be_);
            loaders_[s] = std::make_unique<hg::data::batch_loader>(lo, sides_[s].producer);
        }
    }

    void make_optimizers() {
        opts_.clear();
        hg::optim::settings st;
        st.rule = optimizer_config(o_.optimizer, lr_);
        if (o_.cosine_steps > 0) st.schedule = hg::optim::lr_schedule::cosine(o_.cosine_steps, 0.1);
        for (const auto* p : model_.parameter_sets())
            opts_.push_back(std::make_unique<hg::optim::optimizer<B>>(be_, *p, st));
    }

    std::string optimizer_state() const {
        std::string out;
        for (const auto& opt : opts_) {
            std::ostringstream s;
            opt->save(s);
            out += std::to_string(s.str().size()) + "\n" + s.str();
        }
        return out;
    }

    void load_optimizer_state(const std::string& state) {
        std::size_t pos = 0;
        for (auto& opt : opts_) {
            const std::size_t nl = state.find('\n', pos);
            if (nl == std::string::npos) throw hg::format_error("checkpoint: the optimizer state is truncated");
            const std::size_t n = std::stoull(state.substr(pos, nl - pos));
            if (nl + 1 + n > state.size()) throw hg::format_error("checkpoint: the optimizer state is truncated");
            std::istringstream in(state.substr(nl + 1, n));
            opt->load(in);
            pos = nl + 1 + n;
        }
    }

    hg::train::json header() const {
        auto h = hg::train::json::object();
        h["format"] = "hourglass-swap";
        h["architecture"] = Arch::name;
        h["mask"] = Mask;
        h["iteration"] = iteration_;
        h["learning_rate"] = lr_;
        auto& op = h["options"];
        op["batch"] = o_.batch;
        op["loss"] = json_string_list(o_.loss);
        op["optimizer"] = o_.optimizer;
        op["lr"] = o_.lr;
        op["cosine_steps"] = o_.cosine_steps;
        op["save_every"] = o_.save_every;
        op["eye_multiplier"] = o_.eye_multiplier;
        op["mouth_multiplier"] = o_.mouth_multiplier;
        auto& seeds = h["seeds"];
        seeds["model"] = static_cast<std::int64_t>(o_.seed);
        seeds["loader_a"] = static_cast<std::int64_t>(loader_seed(0));
        seeds["loader_b"] = static_cast<std::int64_t>(loader_seed(1));
        h["parameters"] = model_.parameter_count();
        return h;
    }

    /// Loads the folder's checkpoint into the model and optimizers (the options come from the header:
    /// the command line read them from there already).
    void load_checkpoint() {
        const hg::train::checkpoint c = store_.load();
        for (const auto& w : store_.warnings()) warn(w);
        if (c.header.at("architecture").as_string() != Arch::name || c.header.at("mask").as_bool() != Mask)
            throw hg::format_error("the checkpoint in " + dir_.string() + " holds a " +
                                   c.header.at("architecture").as_string() + " model");
        model_.load_parameters([&](const std::string& n) { return c.find(n); });
        iteration_ = c.header.at("iteration").as_int();
        lr_ = c.header.at("learning_rate").as_double();
        const auto* wm = c.header.find("window_mean");
        previous_window_ = wm && wm->is_number() ? wm->as_double() : std::nan("");
        make_optimizers();
        load_optimizer_state(c.optimizer_state);
    }

    void resume() {
        load_checkpoint();
        resumed_ = true;
        cut_losses();
    }

    /// Drops the rows of losses.csv after the current iteration (steps that are about to be repeated).
    void cut_losses() {
        if (csv_.is_open()) csv_.close();
        const auto csv = dir_ / "losses.csv";
        auto rows = read_losses(csv);
        std::ofstream out(csv, std::ios::trunc);
        for (const auto& r : rows)
            if (r.iteration <= iteration_) out << r.iteration << ',' << hg_format(r.loss_a) << ',' << hg_format(r.loss_b) << '\n';
    }

    void roll_back() {
        failures_ = 0;
        // Halve the rate in use now (not the checkpoint's): repeated roll-backs to the same
        // checkpoint keep lowering it.
        const double halved = lr_ * 0.5;
        if (store_.exists()) {
            load_checkpoint();  // weights, iteration, and the optimizers with the saved moments
            cut_losses();
            window_sum_ = 0;    // the rolled-back steps do not count towards the next save's mean
            window_count_ = 0;
            lr_ = halved;
            for (auto& opt : opts_) opt->set_learning_rate(halved);
            warn("3 failed steps in a row: rolled back to the checkpoint of iteration " + std::to_string(iteration_) +
                 " (weights and optimizer state), learning rate halved to " + std::to_string(halved));
        } else {
            lr_ = halved;
            make_optimizers();
            warn("3 failed steps in a row and no checkpoint yet: learning rate halved to " + std::to_string(halved));
        }
        make_loaders();
    }

    B& be_;
    train_options o_;
    std::filesystem::path dir_;
    hg::train::checkpoint_store store_;
    log_fn log_;
    model_type model_;
    side_data sides_[2];
    std::unique_ptr<loss_type> loss_[2];
    hg::losses::mask_loss mask_loss_;
    std::vector<std::unique_ptr<hg::optim::optimizer<B>>> opts_;
    std::unique_ptr<hg::data::batch_loader> loaders_[2];
    std::ofstream csv_;  ///< losses.csv, opened by run()
    hg::tensor value_;
    std::int64_t iteration_ = 0;
    double lr_ = 0;
    double last_[2] = {std::nan(""), std::nan("")};
    int failures_ = 0;
    bool grads_zero_ = false;  ///< the gradients are known to be zero (see step(a, b))
    double window_sum_ = 0;
    std::int64_t window_count_ = 0;
    double previous_window_ = std::nan("");
    bool resumed_ = false;
    step_profile profile_;
};

}  // namespace faceswap

#include "preview.hpp"

template <class B, class Arch, bool Mask>
void faceswap::trainer<B, Arch, Mask>::write_preview(const std::filesystem::path& path) {
    const auto& fa = sides_[0].preview_faces;
    const auto& fb = sides_[1].preview_faces;
    if (!fa.defined() || !fb.defined()) return;
    const auto rgb = [](const hg::tensor& t) { return channels_of(t, 0, 3); };
    write_preview_grid(path, resize_batch(fa, Arch::output), rgb(decode_host(model_, fa, 0)), rgb(decode_host(model_, fa, 1)),
                       resize_batch(fb, Arch::output), rgb(decode_host(model_, fb, 1)), rgb(decode_host(model_, fb, 0)));
}
