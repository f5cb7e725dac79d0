// hg::train::step_profile: where the time of a training iteration goes (train --profile).
// The training loop calls mark(phase) at the end of each phase; the time since the previous mark
// is added to that phase, so the phases of an iteration add up to its wall time exactly. When on,
// mark() first waits for the backend (a device synchronization on hg::cuda): kernels run
// asynchronously, and without the wait their time would land in whichever later phase happens to
// block. Off (the default), mark() does nothing and adds no synchronization.
//
// Phases: data wait (blocked in the batch loaders' next(): the producers are behind - a starved
// GPU shows up here), upload (resizing and copying the batch to the backend), forward, loss
// (forward of the loss and reading its value), backward, reduce (data-parallel training: the sums
// of gradients and losses over the ranks, train/cycle.hpp; 0 in a single process), optimizer (the
// optimizer steps), other (losses.csv, checkpoints, previews, progress lines).
//
// With enable_layers() it also holds a per-layer profile (layers/layer_profile.hpp) that the
// training loop makes active while the models run (train --profile layers).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>

#include "hourglass/layers/layer_profile.hpp"

namespace hg::train {

enum class step_phase { data_wait, upload, forward, loss, backward, reduce, optimizer, other };

inline constexpr std::size_t step_phase_count = 8;

inline const char* step_phase_name(step_phase p) {
    switch (p) {
        case step_phase::data_wait: return "data wait";
        case step_phase::upload: return "upload";
        case step_phase::forward: return "forward";
        case step_phase::loss: return "loss";
        case step_phase::backward: return "backward";
        case step_phase::reduce: return "reduce";
        case step_phase::optimizer: return "optimizer";
        case step_phase::other: return "other";
    }
    return "?";
}

class step_profile {
public:
    using clock = std::chrono::steady_clock;

    /// Turns profiling on; `sync` waits until the backend has finished its queued work.
    void enable(std::function<void()> sync) {
        sync_ = std::move(sync);
        on_ = true;
    }
    bool enabled() const { return on_; }

    /// Also times every layer (after enable()); layer_table() prints the result.
    void enable_layers() { layers_on_ = true; }
    bool layers_enabled() const { return on_ && layers_on_; }
    /// The per-layer profile (filled only when layers_enabled()).
    layer_profile& layers() { return layers_; }
    const layer_profile& layers() const { return layers_; }
    /// The per-layer table, mean ms per iteration (see layer_profile::table).
    std::string layer_table() const { return layers_.table(iterations_); }

    /// Starts the clock (before the first iteration).
    void begin() {
        if (!on_) return;
        wait();
        last_ = clock::now();
        started_ = true;
    }

    /// Ends phase p: the time since the previous mark (or begin) goes to p.
    void mark(step_phase p) {
        if (!on_) return;
        wait();
        const auto now = clock::now();
        if (started_) totals_[static_cast<std::size_t>(p)] += std::chrono::duration<double>(now - last_).count();
        last_ = now;
        started_ = true;
    }

    /// Ends an iteration: the rest of it is `other`.
    void end_iteration() {
        if (!on_) return;
        mark(step_phase::other);
        ++iterations_;
    }

    std::int64_t iterations() const { return iterations_; }
    /// Seconds spent in phase p over all iterations.
    double total_seconds(step_phase p) const { return totals_[static_cast<std::size_t>(p)]; }
    /// Mean milliseconds per iteration in phase p (0 before the first iteration).
    double mean_ms(step_phase p) const {
        return iterations_ > 0 ? 1e3 * total_seconds(p) / static_cast<double>(iterations_) : 0.0;
    }
    /// Mean milliseconds per iteration, all phases.
    double step_ms() const {
        double s = 0;
        for (std::size_t i = 0; i < step_phase_count; ++i) s += mean_ms(static_cast<step_phase>(i));
        return s;
    }
    /// Share of phase p in the iteration time, in percent.
    double percent(step_phase p) const {
        const double t = step_ms();
        return t > 0 ? 100.0 * mean_ms(p) / t : 0.0;
    }

    /// The per-phase table: mean ms per iteration and % of the iteration, one line per phase.
    std::string table() const {
        std::string out;
        char buf[128];
        std::snprintf(buf, sizeof buf, "profile over %lld iterations (backend synchronized at phase boundaries):\n",
                      static_cast<long long>(iterations_));
        out += buf;
        out += "  phase          ms/iter      %\n";
        for (std::size_t i = 0; i < step_phase_count; ++i) {
            const auto p = static_cast<step_phase>(i);
            if (!shown(p)) continue;
            std::snprintf(buf, sizeof buf, "  %-12s %9.2f  %5.1f\n", step_phase_name(p), mean_ms(p), percent(p));
            out += buf;
        }
        std::snprintf(buf, sizeof buf, "  %-12s %9.2f  100.0", "iteration", step_ms());
        out += buf;
        return out;
    }

    /// A short form for progress lines: "data 3% fwd 31% ...".
    std::string summary() const {
        static const char* const short_names[step_phase_count] = {"data", "upload", "fwd", "loss", "bwd", "reduce", "opt", "other"};
        std::string out;
        char buf[32];
        for (std::size_t i = 0; i < step_phase_count; ++i) {
            if (!shown(static_cast<step_phase>(i))) continue;
            std::snprintf(buf, sizeof buf, "%s%s %.0f%%", i ? " " : "", short_names[i], percent(static_cast<step_phase>(i)));
            out += buf;
        }
        return out;
    }

private:
    /// Every phase but reduce, which only data-parallel runs have.
    bool shown(step_phase p) const { return p != step_phase::reduce || total_seconds(p) > 0; }

    void wait() const {
        if (sync_) sync_();
    }

    bool on_ = false, started_ = false, layers_on_ = false;
    layer_profile layers_;
    std::function<void()> sync_;
    clock::time_point last_{};
    std::array<double, step_phase_count> totals_{};
    std::int64_t iterations_ = 0;
};

}  // namespace hg::train
