// Smoothing of noisy curves (a loss per iteration) for the plots in viz/.
//
// Contract: moving_mean(y, window) is the trailing moving mean over the finite values of the last
// `window` samples:
//     m[i] = (1 / |F_i|) * sum_{j in F_i} y[j],   F_i = { j : max(0, i - window + 1) <= j <= i, y[j] finite }
// NaN and infinities are skipped (they neither count nor add); m[i] is NaN where F_i is empty.
// The result has y.size() values; window 1 returns y with its non-finite values turned to NaN.
// value_error for window < 1. Cost O(n): a running sum, recomputed from scratch every `window`
// samples so rounding errors cannot pile up over long curves.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"

namespace hg::viz {

/// Trailing mean of the finite values among y[i - window + 1 .. i] (NaN where there are none).
inline std::vector<double> moving_mean(const std::vector<double>& y, std::int64_t window) {
    if (window < 1) throw value_error("viz::moving_mean: the window " + std::to_string(window) + " is below 1");
    const std::int64_t n = static_cast<std::int64_t>(y.size());
    std::vector<double> out(y.size(), std::numeric_limits<double>::quiet_NaN());
    double sum = 0;
    std::int64_t count = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t start = i - window + 1;  // first index inside the window
        if (i % window == 0) {                       // fresh sum over [start, i - 1]
            sum = 0, count = 0;
            for (std::int64_t j = std::max<std::int64_t>(0, start); j < i; ++j)
                if (std::isfinite(y[static_cast<std::size_t>(j)])) sum += y[static_cast<std::size_t>(j)], ++count;
        } else if (start - 1 >= 0 && std::isfinite(y[static_cast<std::size_t>(start - 1)])) {
            sum -= y[static_cast<std::size_t>(start - 1)], --count;  // the sample that left the window
        }
        if (std::isfinite(y[static_cast<std::size_t>(i)])) sum += y[static_cast<std::size_t>(i)], ++count;
        if (count > 0) out[static_cast<std::size_t>(i)] = sum / static_cast<double>(count);
        else sum = 0;
    }
    return out;
}

}  // namespace hg::viz
