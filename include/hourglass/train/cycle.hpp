// hg::train::cycle<B>: the training cycle of any autoencoder built from the library's layers -
// one or more sides (each a batch loader over a side_source and a side_task that runs forward,
// loss and backward, train/side.hpp), one optimizer per network, repeated until a stop criterion
// (train/stop_criteria.hpp) is met. It owns what every trainer needs:
//
// - Checkpoints (io::checkpoint_store in the model folder, atomic with backup): header = the
//   caller's fields (options.header: architecture, options...) plus the cycle's: format,
//   iteration, epoch, learning_rate, window_mean, seeds.loader_<side>, parameters, stop (the
//   reason and message of the last stop); tensors = every parameter of every network by name;
//   optimizer_state = each network's optimizer state as "<bytes>\n<optimizer::save output>".
// - Exact resume: a cycle built on a folder with a checkpoint loads weights, optimizer states,
//   iteration and learning rate, cuts the loss log back to that iteration and restarts the loaders
//   at batch_loader_options::first_step = iteration, so on the CPU a resumed run repeats an
//   uninterrupted one bit for bit. Iterations and epochs keep counting; a higher limit continues.
// - The non-finite policy: a step whose loss or gradient is not finite is skipped (gradients
//   dropped) with a warning; after max_failures in a row the cycle rolls back to the last
//   checkpoint (weights, iteration, optimizer moments) and halves the learning rate; without a
//   checkpoint only the rate halves. The checkpoint writer refuses non-finite weights, so a
//   diverged model never replaces a good checkpoint.
// - The loss log (losses.csv, train/loss_log.hpp), previews (events.preview at preview_every),
//   the loss plot (loss.png at every save, viz/loss_plot.hpp) and the phase profile (profile).
// - TensorBoard (options.tensorboard_dir, io/tensorboard.hpp): one event file per cycle; every
//   tensorboard_every iterations the scalars loss/<side> (the value losses.csv holds),
//   loss/<side>/<term> (sides with more than one term), learning_rate (of the last update),
//   iterations_per_second (since the previous scalars) and grad_norm/<network> (when the optimizer
//   computed it); and each preview picture as the image "preview" at its iteration, with the
//   scalars the preview callback added (add_event_scalar: the swap trainer's held-out scores).
//
// - Data-parallel training (options.comm, dist/communicator.hpp; e.g. dist/mpi.hpp under mpirun):
//   K ranks train one model. Rank r's loaders build only its slice of every global batch of
//   options.batch samples per side (dist::slice_of), so the ranks together see exactly the samples
//   one process sees. Each side's loss is a mean over the samples, so the global batch's gradient is
//   sum_r (n_r / B) g_r, with g_r the gradient of rank r's mean over its n_r samples: every rank
//   scales its gradients and loss terms by n_r / B, the communicator sums them in rank order (the
//   same bits on every rank, whatever the timing), and every rank applies the same update from the
//   same sums, so the replicas stay equal (rank 0's weights are broadcast once at the start; a rank
//   that resumed at another iteration is refused). The non-finite guard, the roll-back and the loss
//   target decide on the summed values, so every rank decides alike; a stop request or the time
//   limit on any rank stops every rank (one vote per iteration). Rank 0 alone writes: checkpoints,
//   losses.csv, loss.png, previews, TensorBoard and the on_save/preview events; the model folder
//   must be readable by every rank at start and after a roll-back (one machine, or a shared
//   filesystem). A checkpoint does not depend on the number of ranks: any number resumes it.
//
// Step order per iteration: next batch of every side (data wait), upload of every side, then per
// side compute() (forward, loss, backward; the gradients of shared networks add up), one read of
// all loss terms (with ranks: the sums of gradients and loss terms), then every optimizer's step
// (each clears its gradients).
#pragma once

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "hourglass/data/batch_loader.hpp"
#include "hourglass/dist/communicator.hpp"
#include "hourglass/data/host_batch.hpp"
#include "hourglass/io/checkpoint_store.hpp"
#include "hourglass/io/json.hpp"
#include "hourglass/io/tensorboard.hpp"
#include "hourglass/optim/optimizer.hpp"
#include "hourglass/train/loss_log.hpp"
#include "hourglass/train/named_parameters.hpp"
#include "hourglass/train/side.hpp"
#include "hourglass/train/signals.hpp"
#include "hourglass/train/step_profile.hpp"
#include "hourglass/train/stop_criteria.hpp"
#include "hourglass/viz/loss_plot.hpp"

namespace hg::train {

struct cycle_options {
    std::filesystem::path folder;          ///< the model folder (created when missing)
    std::string format = "hourglass";      ///< the header's "format" field; a resume must match it
    io::json header = io::json::object();  ///< caller's fields stored in every checkpoint header
    /// Called with a checkpoint's header before resuming from it: throw to refuse it (e.g. another
    /// architecture). May be empty.
    std::function<void(const io::json&)> check_header;
    std::int64_t batch = 16;               ///< samples per side and iteration
    stop_criteria stop;
    std::int64_t save_every = 250;         ///< iterations between checkpoints
    std::int64_t preview_every = 0;        ///< 0: at every save; < 0: never
    std::uint64_t seed = 1;                ///< the loaders' seeds derive from it
    int loader_threads = 2;
    optim::settings optimizer;             ///< the same settings for every network's optimizer
    int max_failures = 3;                  ///< failed steps in a row before a roll-back
    bool profile = false;                  ///< time the phases of each iteration (profile())
    bool profile_layers = false;           ///< with profile: also time every layer (profile().layer_table())
    bool loss_plot = true;                 ///< write loss.png at every save
    bool loss_plot_log_scale = false;
    std::string loss_plot_title;           ///< empty: the folder's name
    std::filesystem::path tensorboard_dir;  ///< non-empty: write TensorBoard event files there
    std::int64_t tensorboard_every = 1;     ///< iterations between TensorBoard scalars
    /// The ranks that train this model together (data parallel); empty: this process alone.
    /// batch is then the global batch per side, split over the ranks.
    std::shared_ptr<dist::communicator> comm;
};

/// Callbacks; each may be empty.
struct cycle_events {
    std::function<void(const std::string&)> log;                  ///< warnings ("warning: ...") and notices
    std::function<void()> on_step;                                ///< after every applied iteration
    std::function<void(const std::filesystem::path&)> preview;    ///< write a preview picture to this path
    std::function<void(std::int64_t iteration)> on_save;          ///< after every checkpoint
};

/// Why and where a run stopped.
struct stop_info {
    stop_reason reason = stop_reason::none;
    std::int64_t iteration = 0;
    double epoch = 0;
    std::string message;  ///< "stopped: ... at iteration N (epoch E)"
};

template <class B>
class cycle {
public:
    cycle(B& be, cycle_options o, std::vector<network<B>> networks, std::vector<side<B>> sides, cycle_events events = {})
        : be_(be), o_(std::move(o)), networks_(std::move(networks)), sides_(std::move(sides)),
          events_(std::move(events)), store_(o_.folder),
          comm_(o_.comm ? o_.comm : std::make_shared<dist::single_process>()) {
        validate();
        slice_ = dist::slice_of(o_.batch, comm_->rank(), comm_->size());
        writer_ = comm_->rank() == 0;
        std::vector<std::string> names;
        std::int64_t terms = 0;
        for (const auto& s : sides_) {
            names.push_back(s.source.name);
            term_first_.push_back(terms);
            term_count_.push_back(static_cast<std::int64_t>(s.task->loss_terms().size()));
            terms += term_count_.back();
            largest_side_ = std::max(largest_side_, s.source.samples);
        }
        values_ = be_.empty(shape{std::max<std::int64_t>(terms, 1)});
        ops::fill(be_, values_, 0.f);
        last_.assign(sides_.size(), std::nan(""));
        last_terms_.assign(static_cast<std::size_t>(terms), std::nan(""));
        window_ = loss_window(sides_.size(), o_.stop.target_window);
        log_ = loss_log(o_.folder / "losses.csv", names);
        lr_ = o_.optimizer.rule.lr;
        if (writer_) std::filesystem::create_directories(o_.folder);
        if (store_.exists()) {
            load_checkpoint();
            resumed_ = true;
            refill_window(writer_ ? log_.cut(iteration_) : log_.rows_until(iteration_));
        } else {
            make_optimizers();
            if (writer_) log_.cut(0);  // a fresh run starts a fresh log
        }
        if (comm_->size() > 1) agree_on_start();
        make_loaders();
        if (o_.profile) profile_.enable([this] { synchronize(); });
        if (o_.profile && o_.profile_layers) profile_.enable_layers();
        if (writer_ && !o_.tensorboard_dir.empty()) tensorboard_ = std::make_unique<io::tensorboard_writer>(o_.tensorboard_dir);
    }

    cycle(const cycle&) = delete;
    cycle& operator=(const cycle&) = delete;

    B& backend() const { return be_; }
    const cycle_options& options() const { return o_; }
    std::int64_t iteration() const { return iteration_; }
    /// Epochs so far: iteration * batch / the largest side's size (stop_criteria.hpp).
    double epoch() const { return epoch_at(iteration_, largest_side_, o_.batch); }
    std::int64_t largest_side() const { return largest_side_; }
    double learning_rate() const { return lr_; }
    /// Sets every optimizer's base learning rate (the schedule still scales it) from the next step
    /// on, keeping their moments (the learning-rate finder sweeps it). value_error unless positive
    /// and finite.
    void set_learning_rate(double lr) {
        if (!(std::isfinite(lr) && lr > 0)) throw value_error("cycle: learning rate " + std::to_string(lr) + " is not positive");
        for (auto& opt : opts_) opt->set_learning_rate(lr);
        lr_ = lr;
    }
    std::size_t side_count() const { return sides_.size(); }
    /// The ranks training together (a single_process without options.comm).
    dist::communicator& communicator() const { return *comm_; }
    /// This rank's part of every global batch (all of it without ranks).
    dist::batch_slice batch_slice() const { return slice_; }
    const std::string& side_name(std::size_t s) const { return sides_.at(s).source.name; }
    /// Side s's loss in the last applied iteration (NaN before the first).
    double last_loss(std::size_t s) const { return last_.at(s); }
    /// Side s's loss terms in the last applied iteration.
    std::vector<double> last_loss_terms(std::size_t s) const {
        const auto first = last_terms_.begin() + term_first_.at(s);
        return {first, first + term_count_.at(s)};
    }
    /// Side s's smoothed loss: the mean of its last target_window logged losses.
    double smoothed_loss(std::size_t s) const { return window_.mean(s); }
    bool resumed() const { return resumed_; }
    /// The optimizer of network i (in the order the networks were given).
    const optim::optimizer<B>& optimizer(std::size_t i) const { return *opts_.at(i); }
    const step_profile& profile() const { return profile_; }
    /// The last stop (reason none while running or before run()).
    const stop_info& stopped() const { return stop_; }
    /// The header of the last checkpoint loaded (resume), or an empty object.
    const io::json& loaded_header() const { return loaded_header_; }
    /// The TensorBoard event file (empty without options.tensorboard_dir).
    std::filesystem::path tensorboard_file() const { return tensorboard_ ? tensorboard_->path() : std::filesystem::path(); }
    /// The scalars (tag, value) written to TensorBoard at the last iteration that wrote any.
    const std::vector<std::pair<std::string, float>>& tensorboard_scalars() const { return tensorboard_scalars_; }
    /// Adds a scalar to the TensorBoard event of this iteration's preview (the preview callback
    /// calls it, e.g. a held-out score); dropped without a TensorBoard folder.
    void add_event_scalar(std::string tag, double value) {
        if (tensorboard_) event_scalars_.emplace_back(std::move(tag), value);
    }
    /// Seconds since run() started.
    double run_seconds() const {
        return running_ ? std::chrono::duration<double>(clock::now() - run_start_).count() : 0.0;
    }

    /// Trains until a stop criterion is met or *stop_request turns true; saves a checkpoint with
    /// the stop reason when this run applied any step; returns why it stopped.
    stop_info run(const std::atomic<bool>* stop_request = nullptr) {
        o_.stop.validate(stop_request != nullptr);
        run_start_ = clock::now();
        running_ = true;
        stop_ = {};
        bool dirty = false;  // steps applied since the last save
        std::int64_t applied = 0;
        const std::int64_t preview_every = o_.preview_every == 0 ? o_.save_every : o_.preview_every;
        profile_.begin();
        tensorboard_since_ = {run_start_, iteration_};
        stop_info why;
        while (true) {
            why = check_limits(stop_request, true);  // a stop request, or a limit a resumed run already meets
            if (why.reason != stop_reason::none) break;
            if (!step()) {
                profile_.end_iteration();
                continue;
            }
            ++applied;
            dirty = true;
            if (writer_) log_.append(iteration_, logged_);
            // A limit this step reached is recorded in the checkpoint written now.
            const stop_info reached = check_limits(nullptr);
            if (reached.reason != stop_reason::none) stop_ = reached;
            if (iteration_ % o_.save_every == 0 || reached.reason != stop_reason::none) {
                save();
                dirty = false;
            }
            std::filesystem::path preview;
            if (writer_ && preview_every > 0 && iteration_ % preview_every == 0 && events_.preview)
                preview = write_preview(o_.folder / ("preview_" + std::to_string(iteration_) + ".png"));
            if (tensorboard_) write_tensorboard(preview);
            if (events_.on_step) events_.on_step();
            profile_.end_iteration();
        }
        // Saved when this run trained since its last save, or when the last save does not record
        // this stop (a stop request right after a periodic save).
        const bool recorded = saved_stop_.reason == why.reason && saved_stop_.iteration == why.iteration;
        stop_ = why;
        if (applied > 0 && (dirty || !recorded)) save();
        if (writer_) log_.flush();
        running_ = false;
        return stop_;
    }

    /// One iteration on the next batch of every side; false when it was skipped (non-finite).
    bool step() {
        std::vector<data::batch> batches;
        batches.reserve(sides_.size());
        for (auto& l : loaders_) batches.push_back(l->next());
        profile_.mark(step_phase::data_wait);
        return step(batches);
    }

    /// One iteration on given host batches, one per side (e.g. batches made once for a
    /// benchmark); false when it was skipped (non-finite).
    bool step(const std::vector<data::batch>& batches) {
        if (batches.size() != sides_.size())
            throw value_error("cycle::step: " + std::to_string(batches.size()) + " batches for " +
                              std::to_string(sides_.size()) + " sides");
        for (std::size_t s = 0; s < sides_.size(); ++s) sides_[s].task->upload(batches[s]);
        profile_.mark(step_phase::upload);
        // Every completed step leaves the gradients at zero (the optimizers clear them after an
        // update or a skip, a dropped step clears them below), so the zeroing pass over all
        // parameters runs only before the first step and after a step that did not complete.
        if (!grads_zero_) zero_grad();
        grads_zero_ = false;
        {
            const layer_profile_scope layers(profile_.layers_enabled() ? &profile_.layers() : nullptr);
            for (std::size_t s = 0; s < sides_.size(); ++s)
                sides_[s].task->compute(values_.slice(term_first_[s], shape{term_count_[s]}), profile_);
        }
        tensor host = be_.to_host(values_);
        if (comm_->size() > 1) {
            profile_.mark(step_phase::loss);
            sum_over_ranks(host);
            profile_.mark(step_phase::reduce);
        }
        std::vector<double> losses(sides_.size());
        bool finite = true;
        for (std::size_t s = 0; s < sides_.size(); ++s) {
            double sum = 0;
            for (std::int64_t k = 0; k < term_count_[s]; ++k) sum += double(host[term_first_[s] + k]);
            losses[s] = sum;
            finite = finite && std::isfinite(sum);
        }
        profile_.mark(step_phase::loss);
        bool applied = finite;
        if (finite)
            for (auto& opt : opts_) applied = opt->step() == optim::step_result::applied && applied;
        profile_.mark(step_phase::optimizer);
        if (!applied) {
            zero_grad();
            grads_zero_ = true;
            ++failures_;
            std::string values;
            for (std::size_t s = 0; s < sides_.size(); ++s)
                values += (s ? ", " : "") + sides_[s].source.name + " " + format_loss(losses[s]);
            warn("iteration " + std::to_string(iteration_ + 1) + ": the loss or its gradient is not finite (" + values +
                 "), step skipped");
            if (failures_ >= o_.max_failures) roll_back();
            return false;
        }
        grads_zero_ = true;  // every optimizer applied its update and cleared its gradients
        failures_ = 0;
        ++iteration_;
        last_ = losses;
        for (std::size_t k = 0; k < last_terms_.size(); ++k) last_terms_[k] = double(host[static_cast<std::int64_t>(k)]);
        logged_.resize(losses.size());
        double mean = 0;
        for (std::size_t s = 0; s < losses.size(); ++s) logged_[s] = log_value(losses[s]), mean += losses[s];
        window_.push(logged_);
        window_sum_ += mean / double(losses.size());
        ++window_count_;
        return true;
    }

    /// Writes the checkpoint now (model.hgc; the previous one becomes the backup when the mean loss
    /// since the last save improved) and the loss plot.
    /// With ranks, only rank 0 writes; the others only keep the same bookkeeping.
    void save() {
        const double mean = window_count_ > 0 ? window_sum_ / double(window_count_) : previous_window_;
        const bool improved = !(previous_window_ <= mean);  // also true for the first save (NaN)
        if (!writer_) {
            saved_stop_ = stop_;
            previous_window_ = mean;
            window_sum_ = 0;
            window_count_ = 0;
            return;
        }
        log_.flush();
        io::checkpoint c;
        c.header = header();
        c.header["window_mean"] = std::isfinite(mean) ? io::json(mean) : io::json();
        for (const auto& n : networks_) append_host_parameters(be_, *n.params, c.tensors);
        c.optimizer_state = optimizer_state();
        store_.save(c, improved);
        saved_stop_ = stop_;
        previous_window_ = mean;
        window_sum_ = 0;
        window_count_ = 0;
        if (o_.loss_plot) write_loss_plot(o_.folder / "loss.png");
        if (events_.on_save) events_.on_save(iteration_);
    }

    /// The loss curves of losses.csv (raw and smoothed, one series per side) as a PNG.
    void write_loss_plot(const std::filesystem::path& png) const {
        const auto rows = read_loss_log(log_.path(), sides_.size());
        std::vector<viz::series> series(sides_.size());
        static const viz::rgb colours[] = {{0.85f, 0.1f, 0.1f}, {0.1f, 0.25f, 0.9f}, {0.1f, 0.6f, 0.2f},
                                           {0.6f, 0.2f, 0.7f},  {0.9f, 0.55f, 0.0f}, {0.2f, 0.2f, 0.2f}};
        for (std::size_t s = 0; s < sides_.size(); ++s) {
            series[s].label = "side " + sides_[s].source.name;
            series[s].colour = colours[s % 6];
            for (const auto& r : rows) {
                series[s].x.push_back(double(r.iteration));
                series[s].y.push_back(r.losses[s]);
            }
        }
        viz::loss_plot_options po;
        po.log_scale = o_.loss_plot_log_scale;
        po.title = o_.loss_plot_title.empty() ? o_.folder.filename().string() : o_.loss_plot_title;
        if (po.log_scale)  // a log axis needs positive losses; until there are some, draw a linear one
            for (const auto& s : series)
                if (std::none_of(s.y.begin(), s.y.end(), [](double v) { return v > 0; })) po.log_scale = false;
        viz::write_loss_plot(png, series, po);
    }

    /// Zeroes every network's gradients.
    void zero_grad() {
        for (const auto& n : networks_) n.params->zero_grad(be_);
    }

private:
    using clock = std::chrono::steady_clock;

    void validate() const {
        if (o_.folder.empty()) throw value_error("training cycle: no model folder given");
        if (o_.batch < 1) throw value_error("training cycle: the batch size must be >= 1, got " + std::to_string(o_.batch));
        if (o_.save_every < 1) throw value_error("training cycle: save_every must be >= 1, got " + std::to_string(o_.save_every));
        if (o_.max_failures < 1) throw value_error("training cycle: max_failures must be >= 1");
        if (o_.tensorboard_every < 1)
            throw value_error("training cycle: tensorboard_every must be >= 1, got " + std::to_string(o_.tensorboard_every));
        o_.stop.validate(true);
        if (sides_.empty()) throw value_error("training cycle: no sides");
        if (networks_.empty()) throw value_error("training cycle: no networks");
        for (const auto& n : networks_)
            if (!n.params) throw value_error("training cycle: network '" + n.name + "' has no parameters");
        for (std::size_t s = 0; s < sides_.size(); ++s) {
            const auto& src = sides_[s].source;
            if (!sides_[s].task) throw value_error("training cycle: side '" + src.name + "' has no task");
            if (src.name.empty() || src.name.find_first_of(",\n") != std::string::npos)
                throw value_error("training cycle: side " + std::to_string(s) + " needs a name without ',' or newlines");
            if (src.samples < 1) throw value_error("training cycle: side '" + src.name + "' has no samples");
            if (!src.producer) throw value_error("training cycle: side '" + src.name + "' has no producer");
            if (sides_[s].task->loss_terms().empty())
                throw value_error("training cycle: side '" + src.name + "' declares no loss terms");
            for (std::size_t t = 0; t < s; ++t)
                if (sides_[t].source.name == src.name) throw value_error("training cycle: two sides are called '" + src.name + "'");
        }
    }

    /// With ranks: every rank must start from the same checkpoint (or none); rank 0's weights then
    /// replace the others', so the replicas start equal. All ranks throw together when they differ.
    void agree_on_start() {
        const std::int64_t mine[2] = {resumed_ ? 1 : 0, iteration_};
        std::int64_t root[2] = {mine[0], mine[1]};
        comm_->broadcast(root, sizeof root, 0);
        const bool differs = root[0] != mine[0] || root[1] != mine[1];
        if (comm_->any(differs)) {
            auto state = [](const std::int64_t* v) {
                return v[0] ? "a checkpoint of iteration " + std::to_string(v[1]) : std::string("no checkpoint");
            };
            throw distributed_error(
                (differs ? comm_->describe() + " found " + state(mine) + " in " + o_.folder.string() + ", rank 0 " + state(root)
                         : comm_->describe() + ": another rank found another checkpoint in " + o_.folder.string() + " than rank 0 (" +
                               state(root) + ")") +
                ": every rank must read the same model folder (one machine, or a shared filesystem)");
        }
        for (const auto& n : networks_) {
            const tensor& v = n.params->values();
            if constexpr (B::device == device_kind::cpu) {
                comm_->broadcast(v.data(), v.numel() * std::int64_t(sizeof(float)), 0);
            } else {
                tensor h = be_.to_host(v);
                comm_->broadcast(h.data(), h.numel() * std::int64_t(sizeof(float)), 0);
                ops::copy(be_, data::to_backend(be_, h), v);
            }
        }
    }

    /// With ranks: scales this rank's loss terms (`host_terms`) and gradients by n_r / B and
    /// replaces them with their sums over the ranks, the gradient of the global batch's mean loss
    /// (see the top of the file).
    void sum_over_ranks(tensor& host_terms) {
        const float w = static_cast<float>(double(slice_.count) / double(o_.batch));
        for (std::int64_t k = 0; k < host_terms.numel(); ++k) host_terms.data()[k] *= w;
        comm_->sum(host_terms.data(), host_terms.numel());
        for (const auto& n : networks_) {
            const tensor& g = n.params->grads();
            ops::scale(be_, w, g);
            if constexpr (B::device == device_kind::cpu) {
                comm_->sum(g.data(), g.numel());
            } else {  // through host memory: MPI is not assumed to read device memory
                tensor h = be_.to_host(g);
                comm_->sum(h.data(), h.numel());
                ops::copy(be_, data::to_backend(be_, h), g);
            }
        }
    }

    void synchronize() {
        if constexpr (requires(B& be) { be.synchronize(); }) be_.synchronize();
    }

    void warn(const std::string& m) {
        if (events_.log) events_.log("warning: " + m);
    }

    std::uint64_t loader_seed(std::size_t side) const { return o_.seed * 1000003u + 17u + side; }

    std::string where() const {
        char buf[96];
        std::snprintf(buf, sizeof buf, " at iteration %lld (epoch %.1f)", static_cast<long long>(iteration_), epoch());
        return buf;
    }

    stop_info make_stop(stop_reason r, std::string what) const {
        stop_info s;
        s.reason = r;
        s.iteration = iteration_;
        s.epoch = epoch();
        s.message = "stopped: " + what + where();
        return s;
    }

    stop_info check_request(const std::atomic<bool>* stop_request) const {
        if (stop_request && stop_request->load()) {
            const std::string sig = stop_request == &stop_flag() ? stop_signal_name() : std::string();
            return make_stop(stop_reason::stop_request, "stop requested" + (sig.empty() ? "" : " (" + sig + ")"));
        }
        return {};
    }

    /// The first criterion that is met now (in the order: stop request, iterations, epochs, loss
    /// target, time limit), or reason none.
    /// With `vote` (the check before each step) and ranks: the stop request and the time limit are
    /// per process, the other criteria are computed from the same numbers on every rank; one vote
    /// (a collective call) makes every rank stop at the same iteration.
    stop_info check_limits(const std::atomic<bool>* stop_request, bool vote = false) const {
        stop_info local = local_limits(stop_request);
        if (vote && comm_->size() > 1 && comm_->any(local.reason != stop_reason::none) && local.reason == stop_reason::none)
            local = make_stop(stop_reason::stop_request, "stop requested by another rank");
        return local;
    }

    stop_info local_limits(const std::atomic<bool>* stop_request) const {
        if (auto r = check_request(stop_request); r.reason != stop_reason::none) return r;
        const auto& st = o_.stop;
        if (st.iterations > 0 && iteration_ >= st.iterations)
            return make_stop(stop_reason::iterations, std::to_string(st.iterations) + " iterations reached");
        if (st.epochs > 0 && iteration_ >= iterations_for_epochs(st.epochs, largest_side_, o_.batch)) {
            char buf[64];
            std::snprintf(buf, sizeof buf, "%g epochs reached", st.epochs);
            return make_stop(stop_reason::epochs, buf);
        }
        if (st.has_loss_target() && window_.count() >= st.target_window && iteration_ >= st.target_min_iterations) {
            bool all = true;
            for (std::size_t s = 0; s < sides_.size() && all; ++s) all = window_.mean(s) <= st.target_loss;
            if (all) {
                char buf[64];
                std::snprintf(buf, sizeof buf, "loss target %.4g reached by ", st.target_loss);
                std::string what = buf;
                what += sides_.size() == 1 ? "the side" : sides_.size() == 2 ? "both sides" : "all " + std::to_string(sides_.size()) + " sides";
                auto s = make_stop(stop_reason::loss_target, what);
                s.message += "; mean of the last " + std::to_string(st.target_window) + " iterations:";
                for (std::size_t k = 0; k < sides_.size(); ++k)
                    s.message += (k ? ", " : " ") + sides_[k].source.name + " " + format_loss(window_.mean(k));
                return s;
            }
        }
        if (st.time_limit_seconds > 0 && run_seconds() >= st.time_limit_seconds)
            return make_stop(stop_reason::time_limit, "time limit " + format_duration(st.time_limit_seconds) + " reached");
        return {};
    }

    void make_loaders() {
        loaders_.clear();
        for (std::size_t s = 0; s < sides_.size(); ++s) {
            const auto& src = sides_[s].source;
            data::batch_loader_options lo;
            lo.samples = src.samples;
            lo.batch_size = o_.batch;
            lo.height = src.height;
            lo.width = src.width;
            lo.channels = src.channels;
            lo.mask_channels = src.mask_channels;
            lo.seed = loader_seed(s);
            lo.threads = o_.loader_threads;
            lo.first_step = iteration_;
            if (comm_->size() > 1) {
                lo.slice_first = slice_.first;
                lo.slice_count = slice_.count;
            }
            if constexpr (B::device != device_kind::cpu) lo.allocate = data::pinned_allocator(be_);
            loaders_.push_back(std::make_unique<data::batch_loader>(lo, src.producer));
        }
    }

    void make_optimizers() {
        opts_.clear();
        optim::settings st = o_.optimizer;
        st.rule.lr = lr_;
        for (const auto& n : networks_) opts_.push_back(std::make_unique<optim::optimizer<B>>(be_, *n.params, st));
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
        for (std::size_t i = 0; i < opts_.size(); ++i) {
            const std::size_t nl = state.find('\n', pos);
            if (nl == std::string::npos)
                throw format_error("checkpoint: the optimizer state of '" + networks_[i].name + "' is missing or truncated");
            std::size_t n = 0;
            try {
                n = std::stoull(state.substr(pos, nl - pos));
            } catch (const std::exception&) {
                throw format_error("checkpoint: the optimizer state of '" + networks_[i].name + "' has no valid length");
            }
            if (n > state.size() - (nl + 1))
                throw format_error("checkpoint: the optimizer state of '" + networks_[i].name + "' is truncated");
            std::istringstream in(state.substr(nl + 1, n));
            opts_[i]->load(in);
            pos = nl + 1 + n;
        }
        if (pos != state.size()) throw format_error("checkpoint: the optimizer state holds more networks than this model");
    }

    io::json header() const {
        io::json h = o_.header.is_object() ? o_.header : io::json::object();
        h["format"] = o_.format;
        h["iteration"] = iteration_;
        h["epoch"] = epoch();
        h["learning_rate"] = lr_;
        auto& seeds = h["seeds"];
        if (!seeds.is_object()) seeds = io::json::object();
        for (std::size_t s = 0; s < sides_.size(); ++s)
            seeds["loader_" + sides_[s].source.name] = static_cast<std::int64_t>(loader_seed(s));
        std::int64_t params = 0;
        for (const auto& n : networks_) params += n.params->count();
        h["parameters"] = params;
        auto& sides = h["sides"];
        sides = io::json::object();
        for (const auto& s : sides_) sides[s.source.name] = s.source.samples;
        if (stop_.reason != stop_reason::none) {
            auto& st = h["stop"];
            st = io::json::object();
            st["reason"] = stop_reason_name(stop_.reason);
            st["iteration"] = stop_.iteration;
            st["epoch"] = stop_.epoch;
            st["message"] = stop_.message;
        }
        return h;
    }

    /// Loads the folder's checkpoint into the networks and optimizers.
    void load_checkpoint() {
        const io::checkpoint c = store_.load();
        for (const auto& w : store_.warnings()) warn(w);
        const io::json& h = c.header;
        const auto* format = h.find("format");
        if (!format || !format->is_string() || format->as_string() != o_.format)
            throw format_error("the checkpoint in " + o_.folder.string() + " is not a '" + o_.format + "' checkpoint" +
                               (format && format->is_string() ? " (it says '" + format->as_string() + "')" : ""));
        if (o_.check_header) o_.check_header(h);
        for (const auto& n : networks_) load_parameters(be_, *n.params, [&](const std::string& name) { return c.find(name); });
        iteration_ = h.at("iteration").as_int();
        lr_ = h.at("learning_rate").as_double();
        const auto* wm = h.find("window_mean");
        previous_window_ = wm && wm->is_number() ? wm->as_double() : std::nan("");
        make_optimizers();
        load_optimizer_state(c.optimizer_state);
        loaded_header_ = h;
    }

    void refill_window(const std::vector<loss_row>& rows) {
        window_.clear();
        const std::size_t from = rows.size() > std::size_t(o_.stop.target_window) ? rows.size() - std::size_t(o_.stop.target_window) : 0;
        for (std::size_t i = from; i < rows.size(); ++i) window_.push(rows[i].losses);
        // count() then says how many iterations are in the window: the target waits for a full one.
    }

    /// Asks events.preview for a picture at `png`; returns `png` when the callback wrote it (the
    /// file is new or newer), else an empty path.
    std::filesystem::path write_preview(const std::filesystem::path& png) {
        std::error_code ec;
        const auto before = std::filesystem::last_write_time(png, ec);
        const bool existed = !ec;
        events_.preview(png);
        const auto after = std::filesystem::last_write_time(png, ec);
        return !ec && (!existed || after != before) ? png : std::filesystem::path();
    }

    /// The scalars every tensorboard_every iterations, and the preview picture just written (when
    /// the preview callback wrote one), as one TensorBoard event at this iteration.
    void write_tensorboard(const std::filesystem::path& preview) {
        io::tensorboard_summary summary;
        if (iteration_ % o_.tensorboard_every == 0) {
            tensorboard_scalars_.clear();
            auto add = [&](std::string tag, double v) {
                summary.scalar(tag, static_cast<float>(v));
                tensorboard_scalars_.emplace_back(std::move(tag), static_cast<float>(v));
            };
            for (std::size_t s = 0; s < sides_.size(); ++s) {
                const std::string side = "loss/" + sides_[s].source.name;
                add(side, logged_[s]);
                const auto terms = sides_[s].task->loss_terms();
                for (std::size_t k = 0; terms.size() > 1 && k < terms.size(); ++k)
                    add(side + "/" + terms[k], last_terms_[static_cast<std::size_t>(term_first_[s]) + k]);
            }
            add("learning_rate", opts_.front()->last_lr());
            const auto now = clock::now();
            const double seconds = std::chrono::duration<double>(now - tensorboard_since_.first).count();
            if (seconds > 0 && iteration_ > tensorboard_since_.second)
                add("iterations_per_second", double(iteration_ - tensorboard_since_.second) / seconds);
            tensorboard_since_ = {now, iteration_};
            for (std::size_t i = 0; i < opts_.size(); ++i)
                if (std::isfinite(opts_[i]->last_grad_norm())) add("grad_norm/" + networks_[i].name, opts_[i]->last_grad_norm());
        }
        for (auto& [tag, v] : event_scalars_) {
            summary.scalar(tag, static_cast<float>(v));
            tensorboard_scalars_.emplace_back(tag, static_cast<float>(v));
        }
        event_scalars_.clear();
        if (!preview.empty()) summary.image("preview", io::read_png_file(preview));
        tensorboard_->write(iteration_, summary);
    }

    void roll_back() {
        failures_ = 0;
        // Halve the rate in use now (not the checkpoint's): repeated roll-backs to the same
        // checkpoint keep lowering it.
        const double halved = lr_ * 0.5;
        if (store_.exists()) {
            load_checkpoint();  // weights, iteration, and the optimizers with the saved moments
            refill_window(writer_ ? log_.cut(iteration_) : log_.rows_until(iteration_));
            window_sum_ = 0;  // the rolled-back steps do not count towards the next save's mean
            window_count_ = 0;
            lr_ = halved;
            for (auto& opt : opts_) opt->set_learning_rate(halved);
            warn(std::to_string(o_.max_failures) + " failed steps in a row: rolled back to the checkpoint of iteration " +
                 std::to_string(iteration_) + " (weights and optimizer state), learning rate halved to " +
                 std::to_string(halved));
        } else {
            lr_ = halved;
            make_optimizers();
            warn(std::to_string(o_.max_failures) + " failed steps in a row and no checkpoint yet: learning rate halved to " +
                 std::to_string(halved));
        }
        make_loaders();
    }

    B& be_;
    cycle_options o_;
    std::vector<network<B>> networks_;
    std::vector<side<B>> sides_;
    cycle_events events_;
    io::checkpoint_store store_;
    std::shared_ptr<dist::communicator> comm_;
    dist::batch_slice slice_;
    bool writer_ = true;  ///< rank 0 (or the only process): writes checkpoints, logs, pictures
    std::vector<std::unique_ptr<optim::optimizer<B>>> opts_;
    std::vector<std::unique_ptr<data::batch_loader>> loaders_;
    std::vector<std::int64_t> term_first_, term_count_;
    std::int64_t largest_side_ = 0;
    tensor values_;
    std::vector<double> last_, last_terms_, logged_;
    std::vector<std::pair<std::string, double>> event_scalars_;  ///< add_event_scalar, for the next event
    loss_window window_;
    loss_log log_;
    io::json loaded_header_ = io::json::object();
    std::int64_t iteration_ = 0;
    double lr_ = 0;
    int failures_ = 0;
    bool grads_zero_ = false;
    double window_sum_ = 0;
    std::int64_t window_count_ = 0;
    double previous_window_ = std::nan("");
    bool resumed_ = false;
    bool running_ = false;
    clock::time_point run_start_{};
    stop_info stop_, saved_stop_;
    step_profile profile_;
    std::unique_ptr<io::tensorboard_writer> tensorboard_;
    std::vector<std::pair<std::string, float>> tensorboard_scalars_;
    std::pair<clock::time_point, std::int64_t> tensorboard_since_{};  ///< time and iteration of the last scalars
};

}  // namespace hg::train
