// Held-out faces (hg::swap::split_holdout): a share of each identity's faces kept out of training,
// so that the trainer can score faces the model never learned from (reconstruction SSIM per side,
// and the swap fidelity where a ground truth exists) and a user sees progress and overfitting
// without guessing from the training loss.
//
// The split is a pure function of (n, percent, seed): held = round(n * percent / 100) faces (at
// least 1 when percent > 0), chosen by a Fisher-Yates shuffle of [0, n) on the Philox stream
// (seed, holdout_stream); both lists come back sorted. The training side's loader only sees the
// train list (data::subset_producer), which the tests check sample by sample.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/rng.hpp"

namespace hg::swap {

struct holdout_split {
    std::vector<std::int64_t> train;  ///< indices the model trains on (sorted)
    std::vector<std::int64_t> held;   ///< indices kept out (sorted)
};

inline constexpr std::uint64_t holdout_stream = 0x686f6c646f7574ull;  // "holdout"

/// Splits [0, n) into training and held-out indices. value_error when percent is outside [0, 100)
/// or the split would leave no face to train on; `who` names the side in the message.
inline holdout_split split_holdout(std::int64_t n, double percent, std::uint64_t seed, const std::string& who = "faces") {
    if (!(percent >= 0.0 && percent < 100.0))
        throw value_error("--holdout must be a percentage in [0, 100), got " + std::to_string(percent));
    if (n < 0) throw value_error("split_holdout: negative count " + std::to_string(n));
    std::int64_t held = static_cast<std::int64_t>(std::llround(static_cast<double>(n) * percent / 100.0));
    if (percent > 0.0) held = std::max<std::int64_t>(held, 1);
    if (held >= n && percent > 0.0)
        throw value_error("--holdout " + std::to_string(percent) + " % of the " + std::to_string(n) + " " + who +
                          " leaves none to train on");
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
    rng r(seed, holdout_stream);
    for (std::int64_t i = n - 1; i > 0; --i) {
        const std::uint64_t bits = (std::uint64_t(r.next_bits()) << 32) | r.next_bits();
        const auto j = static_cast<std::int64_t>(bits % static_cast<std::uint64_t>(i + 1));
        std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
    }
    holdout_split s;
    s.held.assign(order.begin(), order.begin() + held);
    s.train.assign(order.begin() + held, order.end());
    std::sort(s.held.begin(), s.held.end());
    std::sort(s.train.begin(), s.train.end());
    return s;
}

}  // namespace hg::swap
