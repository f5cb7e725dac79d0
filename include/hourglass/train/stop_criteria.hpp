// When a training cycle stops: the stop criteria (any combination; whichever is met first wins),
// the reason a run stopped, the loss-target tracker with its smoothing window, and the wall-clock
// duration format of --time-limit ("2h30m", "90m", "45s", "1h", "3600").
//
// Definitions (docs/training.md):
// - iteration: one optimizer update, i.e. one batch of every side.
// - epoch: every side has seen all of its samples once. With batch size b and side sizes n_s, after
//   i iterations side s has drawn i*b samples, i.e. i*b/n_s passes over its data; the cycle's epoch
//   count is the smallest of these, min_s(i*b/n_s) = i*b/max_s(n_s): the largest side sets the
//   pace and smaller sides are seen more often. `epochs = E` stops at the first iteration with
//   i*b >= E*max_s(n_s), i.e. i = ceil(E*max_s(n_s)/b).
// - loss target: every side's smoothed loss (the mean of its last `target_window` logged losses,
//   a trailing moving mean) is <= target_loss, checked after each iteration once at least
//   max(target_window, target_min_iterations) iterations have been logged, so one lucky batch
//   cannot stop the run.
// - time limit: wall-clock seconds of this run (from the cycle's run() call; a resumed run gets
//   the full limit again).
// - stop request: a flag (e.g. set by SIGINT/SIGTERM, train/signals.hpp) checked before each step.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <limits>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"

namespace hg::train {

/// The stop criteria of a run; 0 (or NaN for the loss target) switches a criterion off.
struct stop_criteria {
    std::int64_t iterations = 0;           ///< stop when the iteration count reaches this
    double epochs = 0;                     ///< stop when the epoch count reaches this (fractions allowed)
    double target_loss = std::numeric_limits<double>::quiet_NaN();  ///< every side's smoothed loss <= this
    std::int64_t target_window = 100;      ///< iterations in the moving mean of the loss target
    std::int64_t target_min_iterations = 0;  ///< the target is not checked before this many logged iterations
    double time_limit_seconds = 0;         ///< wall-clock limit of one run

    bool has_loss_target() const { return std::isfinite(target_loss); }

    /// value_error naming the criterion that is out of range; also when no criterion is set at all
    /// (a run must end by itself or by a stop request: `allow_none` lets a caller accept that).
    void validate(bool allow_none = false) const {
        if (iterations < 0) throw value_error("stop criteria: the iteration limit must be >= 0, got " + std::to_string(iterations));
        if (!(epochs >= 0) || !std::isfinite(epochs))
            throw value_error("stop criteria: the epoch limit must be a finite number >= 0, got " + std::to_string(epochs));
        if (!std::isnan(target_loss) && !std::isfinite(target_loss))
            throw value_error("stop criteria: the loss target must be finite");
        if (target_window < 1) throw value_error("stop criteria: the loss target window must be >= 1, got " + std::to_string(target_window));
        if (target_min_iterations < 0)
            throw value_error("stop criteria: the loss target's minimum iterations must be >= 0, got " +
                              std::to_string(target_min_iterations));
        if (!(time_limit_seconds >= 0) || !std::isfinite(time_limit_seconds))
            throw value_error("stop criteria: the time limit must be >= 0 seconds");
        if (!allow_none && iterations == 0 && epochs == 0 && !has_loss_target() && time_limit_seconds == 0)
            throw value_error("stop criteria: none is set (give an iteration or epoch limit, a loss target or a time limit)");
    }

    /// Iterations the loss target needs logged before it is checked.
    std::int64_t target_needs() const { return std::max(target_window, target_min_iterations); }
};

/// Why a run stopped.
enum class stop_reason { none, iterations, epochs, loss_target, time_limit, stop_request };

inline const char* stop_reason_name(stop_reason r) {
    switch (r) {
        case stop_reason::none: return "none";
        case stop_reason::iterations: return "iterations";
        case stop_reason::epochs: return "epochs";
        case stop_reason::loss_target: return "loss_target";
        case stop_reason::time_limit: return "time_limit";
        case stop_reason::stop_request: return "stop_request";
    }
    return "none";
}

/// The iteration at which `epochs` epochs are complete: ceil(epochs * largest_side / batch).
inline std::int64_t iterations_for_epochs(double epochs, std::int64_t largest_side, std::int64_t batch) {
    if (batch < 1 || largest_side < 1) throw value_error("iterations_for_epochs: batch and side size must be >= 1");
    const long double need = static_cast<long double>(epochs) * static_cast<long double>(largest_side);
    return static_cast<std::int64_t>(std::ceil(need / static_cast<long double>(batch)));
}

/// The epoch count after `iteration` iterations: iteration * batch / largest_side.
inline double epoch_at(std::int64_t iteration, std::int64_t largest_side, std::int64_t batch) {
    return largest_side > 0 ? double(iteration) * double(batch) / double(largest_side) : 0.0;
}

/// "2h30m", "1h", "90m", "45s", "1h2m3s", "1.5h" or a plain number of seconds ("3600") in seconds;
/// value_error naming the text otherwise (also for zero or negative durations).
inline double parse_duration(const std::string& text) {
    const auto bad = [&](const std::string& why) {
        return value_error("the duration '" + text + "' is not valid: " + why +
                           " (examples: 2h30m, 90m, 45s, 1h2m3s, 3600)");
    };
    if (text.empty()) throw bad("it is empty");
    double total = 0;
    std::size_t i = 0;
    int last_unit = -1;  // 0 h, 1 m, 2 s: units must come in this order, each once
    bool any = false;
    while (i < text.size()) {
        std::size_t used = 0;
        double v = 0;
        const std::string rest = text.substr(i);
        if (!(rest[0] >= '0' && rest[0] <= '9') && rest[0] != '.') throw bad("expected a number at '" + rest + "'");
        try {
            v = std::stod(rest, &used);
        } catch (const std::exception&) {
            throw bad("expected a number at '" + rest + "'");
        }
        if (!std::isfinite(v) || v < 0) throw bad("the number must be finite and >= 0");
        i += used;
        any = true;
        if (i == text.size()) {
            if (last_unit >= 0) throw bad("a number without a unit after " + std::string(1, "hms"[last_unit]));
            total += v;  // plain seconds
            break;
        }
        const char u = text[i++];
        const int unit = u == 'h' ? 0 : u == 'm' ? 1 : u == 's' ? 2 : -1;
        if (unit < 0) throw bad(std::string("unknown unit '") + u + "' (h, m, s)");
        if (unit <= last_unit) throw bad("units must come in the order h, m, s, each once");
        last_unit = unit;
        total += v * (unit == 0 ? 3600.0 : unit == 1 ? 60.0 : 1.0);
    }
    if (!any || !(total > 0)) throw bad("it must be longer than 0 s");
    return total;
}

/// Seconds as "2h30m00s", "5m07s", "42s" (rounded to the second from a minute up) or "0.4s".
inline std::string format_duration(double seconds) {
    char buf[64];
    seconds = std::max(0.0, seconds);
    const long long s = static_cast<long long>(std::llround(seconds));
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm%02llds", s / 3600, (s / 60) % 60, s % 60);
    else if (s >= 60) std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%.3gs", std::round(seconds * 10.0) / 10.0);
    return buf;
}

/// The trailing moving mean of each side's logged losses over the loss target's window. The values
/// pushed are the logged ones (what the loss log holds), so a run resumed from its log refills the
/// window with exactly the numbers an uninterrupted run had.
class loss_window {
public:
    loss_window() = default;
    loss_window(std::size_t sides, std::int64_t window) : window_(window), values_(sides) {}

    std::size_t sides() const { return values_.size(); }
    std::int64_t window() const { return window_; }
    /// Iterations pushed since the start (or the last clear).
    std::int64_t count() const { return count_; }

    void clear() {
        for (auto& v : values_) v.clear();
        count_ = 0;
    }

    /// Adds one iteration's losses (one per side).
    void push(const std::vector<double>& losses) {
        if (losses.size() != values_.size())
            throw value_error("loss_window: " + std::to_string(losses.size()) + " losses for " +
                              std::to_string(values_.size()) + " sides");
        for (std::size_t s = 0; s < values_.size(); ++s) {
            values_[s].push_back(losses[s]);
            if (static_cast<std::int64_t>(values_[s].size()) > window_) values_[s].pop_front();
        }
        ++count_;
    }

    /// The mean of side s's last min(window, count) values (NaN when empty). Summed afresh in
    /// order, so the result depends only on the values in the window.
    double mean(std::size_t side) const {
        const auto& v = values_.at(side);
        if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
        double sum = 0;
        for (double x : v) sum += x;
        return sum / double(v.size());
    }

    bool full() const { return !values_.empty() && static_cast<std::int64_t>(values_[0].size()) >= window_; }

private:
    std::int64_t window_ = 100;
    std::vector<std::deque<double>> values_;
    std::int64_t count_ = 0;
};

}  // namespace hg::train
