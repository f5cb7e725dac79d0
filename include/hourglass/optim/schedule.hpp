// Learning-rate schedules: the factor by which step t (1-based, counting applied updates) multiplies
// the optimizer's lr. A linear warmup can precede any of them:
//   constant        1
//   cosine          min + (1 - min) (1 + cos(pi p)) / 2, p = (t - warmup) / (total - warmup) in [0, 1]
//   step            gamma^floor((t - warmup - 1) / every)
//   cyclic_cosine   (1 + cos(2 pi (t - 1) / period)) / 2   (DeepFaceLab's lr_cos)
//   warmup          t / warmup while t <= warmup, then the schedule above
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "hourglass/core/error.hpp"

namespace hg::optim {

enum class schedule_kind : std::uint32_t { constant = 0, cosine = 1, step = 2, cyclic_cosine = 3 };

struct lr_schedule {
    schedule_kind kind = schedule_kind::constant;
    std::int64_t warmup = 0;  ///< steps of linear warmup from lr / warmup to lr
    std::int64_t total = 0;   ///< cosine: the step at which the factor reaches min_factor
    double min_factor = 0.0;  ///< cosine: the final factor
    std::int64_t every = 1;   ///< step: steps between decays; cyclic_cosine: the period
    double gamma = 0.1;       ///< step: the decay factor

    static lr_schedule constant() { return {}; }
    static lr_schedule linear_warmup(std::int64_t steps) {
        lr_schedule s;
        s.warmup = steps;
        return s;
    }
    static lr_schedule cosine(std::int64_t total_steps, double min_factor = 0.0, std::int64_t warmup_steps = 0) {
        lr_schedule s;
        s.kind = schedule_kind::cosine;
        s.total = total_steps;
        s.min_factor = min_factor;
        s.warmup = warmup_steps;
        return s;
    }
    static lr_schedule step(std::int64_t every_steps, double gamma, std::int64_t warmup_steps = 0) {
        lr_schedule s;
        s.kind = schedule_kind::step;
        s.every = every_steps;
        s.gamma = gamma;
        s.warmup = warmup_steps;
        return s;
    }
    static lr_schedule cyclic_cosine(std::int64_t period) {
        lr_schedule s;
        s.kind = schedule_kind::cyclic_cosine;
        s.every = period;
        return s;
    }

    void validate() const {
        auto fail = [](const std::string& what) { throw value_error("lr schedule: " + what); };
        if (warmup < 0) fail("warmup must be >= 0, got " + std::to_string(warmup));
        if (kind == schedule_kind::cosine && total <= warmup)
            fail("cosine needs total steps > warmup, got " + std::to_string(total) + " <= " + std::to_string(warmup));
        if (!(std::isfinite(min_factor) && min_factor >= 0 && min_factor <= 1))
            fail("min_factor must be in [0, 1], got " + std::to_string(min_factor));
        if ((kind == schedule_kind::step || kind == schedule_kind::cyclic_cosine) && every < 1)
            fail("the period must be >= 1, got " + std::to_string(every));
        if (!(std::isfinite(gamma) && gamma > 0 && gamma <= 1)) fail("gamma must be in (0, 1], got " + std::to_string(gamma));
        if (kind != schedule_kind::constant && kind != schedule_kind::cosine && kind != schedule_kind::step &&
            kind != schedule_kind::cyclic_cosine)
            fail("unknown kind " + std::to_string(static_cast<unsigned>(kind)));
    }

    /// The factor of step t >= 1.
    double factor(std::int64_t t) const {
        constexpr double pi = 3.14159265358979323846;
        if (t <= warmup) return static_cast<double>(t) / static_cast<double>(warmup);
        const std::int64_t after = t - warmup;  // >= 1
        switch (kind) {
            case schedule_kind::constant: return 1.0;
            case schedule_kind::cosine: {
                const double p = std::min(1.0, static_cast<double>(after) / static_cast<double>(total - warmup));
                return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + std::cos(pi * p));
            }
            case schedule_kind::step: return std::pow(gamma, static_cast<double>((after - 1) / every));
            case schedule_kind::cyclic_cosine:
                return 0.5 * (1.0 + std::cos(2.0 * pi * static_cast<double>((t - 1) % every) / static_cast<double>(every)));
        }
        return 1.0;
    }
};

}  // namespace hg::optim
