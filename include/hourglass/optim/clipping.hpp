// Gradient clipping settings and AutoClip's history of gradient norms.
//   global_norm      g *= min(1, max_norm / (||g|| + 1e-6))            over the whole buffer
//   per_tensor_norm  g_i *= min(1, max_norm / (||g_i|| + 1e-6))        each named tensor on its own
//   value            g = clamp(g, -value, value)                       element by element
//   autoclip         global_norm with max_norm = the p-th percentile of the norms of the last
//                    `history` steps, the current one included (Seetharaman et al., 2020;
//                    default p = 10, 10000 steps); percentiles interpolate linearly (numpy's default)
// Norms are those of the gradient the rule sees (averaged over the accumulated micro-batches).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "hourglass/core/error.hpp"

namespace hg::optim {

enum class clip_mode : std::uint32_t { none = 0, global_norm = 1, per_tensor_norm = 2, value = 3, autoclip = 4 };

struct clip_config {
    clip_mode mode = clip_mode::none;
    double max_norm = 1.0;      ///< global_norm, per_tensor_norm
    double value = 1.0;         ///< value
    double percentile = 10.0;   ///< autoclip, in (0, 100]
    std::int64_t history = 10000;  ///< autoclip: norms remembered

    static clip_config none() { return {}; }
    static clip_config global_norm(double max_norm) {
        clip_config c;
        c.mode = clip_mode::global_norm;
        c.max_norm = max_norm;
        return c;
    }
    static clip_config per_tensor_norm(double max_norm) {
        clip_config c;
        c.mode = clip_mode::per_tensor_norm;
        c.max_norm = max_norm;
        return c;
    }
    static clip_config by_value(double limit) {
        clip_config c;
        c.mode = clip_mode::value;
        c.value = limit;
        return c;
    }
    static clip_config autoclip(double percentile = 10.0, std::int64_t history = 10000) {
        clip_config c;
        c.mode = clip_mode::autoclip;
        c.percentile = percentile;
        c.history = history;
        return c;
    }

    void validate() const {
        auto fail = [](const std::string& what) { throw value_error("gradient clipping: " + what); };
        switch (mode) {
            case clip_mode::none: break;
            case clip_mode::global_norm:
            case clip_mode::per_tensor_norm:
                if (!(std::isfinite(max_norm) && max_norm > 0))
                    fail("max_norm must be positive and finite, got " + std::to_string(max_norm));
                break;
            case clip_mode::value:
                if (!(std::isfinite(value) && value > 0)) fail("value must be positive and finite, got " + std::to_string(value));
                break;
            case clip_mode::autoclip:
                if (!(std::isfinite(percentile) && percentile > 0 && percentile <= 100))
                    fail("percentile must be in (0, 100], got " + std::to_string(percentile));
                if (history < 1) fail("history must be >= 1, got " + std::to_string(history));
                break;
            default: fail("unknown mode " + std::to_string(static_cast<unsigned>(mode)));
        }
    }
};

/// The multiplier that brings a gradient of norm `norm` down to at most `max_norm` (1 when it is
/// already below), with PyTorch's 1e-6 guard against a zero norm.
inline double clip_factor(double norm, double max_norm) { return std::min(1.0, max_norm / (norm + 1e-6)); }

/// The p-th percentile (0 < p <= 100) of `values`, interpolating linearly between the two nearest
/// ranks: position (count - 1) p / 100 of the sorted values.
inline double percentile(std::vector<double> values, double p) {
    if (values.empty()) throw value_error("percentile: no values");
    const double pos = static_cast<double>(values.size() - 1) * p / 100.0;
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min(values.size() - 1, lo + 1);
    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(lo), values.end());
    const double a = values[lo];
    double b = a;
    if (hi != lo) b = *std::min_element(values.begin() + static_cast<std::ptrdiff_t>(lo) + 1, values.end());
    return a + (b - a) * (pos - static_cast<double>(lo));
}

/// The last `capacity` gradient norms, oldest overwritten first.
class norm_history {
public:
    norm_history() = default;
    explicit norm_history(std::int64_t capacity) : capacity_(capacity) {
        values_.reserve(static_cast<std::size_t>(std::clamp<std::int64_t>(capacity, 0, 1 << 16)));
    }
    void push(double norm) {
        if (static_cast<std::int64_t>(values_.size()) < capacity_) {
            values_.push_back(norm);
        } else {
            values_[static_cast<std::size_t>(next_)] = norm;
        }
        next_ = (next_ + 1) % capacity_;
    }
    double percentile(double p) const { return optim::percentile(values_, p); }
    std::int64_t capacity() const { return capacity_; }
    std::int64_t next() const { return next_; }
    const std::vector<double>& values() const { return values_; }
    /// Restores a saved history (used by the state reader, which checks the sizes).
    void restore(std::vector<double> values, std::int64_t next) {
        values_ = std::move(values);
        next_ = next;
    }

private:
    std::int64_t capacity_ = 1;
    std::int64_t next_ = 0;
    std::vector<double> values_;
};

}  // namespace hg::optim
