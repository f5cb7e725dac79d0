// Axis ticks for the plots in viz/: where the ticks go on a linear axis (nice_ticks) and on a
// logarithmic one (log_ticks), and the text written under each tick (tick_label).
//
// Contract:
// - nice_ticks(lo, hi, max_count): equally spaced ticks k * step with step = 1, 2 or 5 times a
//   power of ten, the smallest such step for which the ticks from the largest multiple <= lo to
//   the smallest multiple >= hi number at most max_count. The ticks therefore cover [lo, hi]
//   (first <= lo, last >= hi) and there are at least 2 of them. The order of lo and hi does not
//   matter. When lo == hi (or the range is below 1e-12 of their magnitude) the range is widened
//   to lo -/+ 10% of |lo| (-/+ 1 when lo is 0). value_error for non-finite ends, a range whose
//   width overflows, or max_count outside [3, 1000] (with 2 ticks a range around 0 such as
//   [-0.1, 0.1] cannot be covered by any step). Each tick is the double nearest to its decimal
//   value (0.3, not 3 * 0.1), and 0 is exactly 0.
// - log_ticks(lo, hi): for 0 < lo <= hi, the powers of ten from 10^floor(log10 lo) to
//   10^ceil(log10 hi); when the data span fewer than 3 decades (hi / lo < 1000) the 2 and 5
//   multiples are added (1, 2, 5, 10, 20, ...). The list is then trimmed to the largest tick <= lo through the
//   smallest tick >= hi, so it covers [lo, hi]; it always has at least 2 ticks (when lo == hi is
//   itself a tick the next tick up is kept). value_error for lo <= 0, hi < lo or non-finite ends.
// - tick_label(value, step): the shortest text that writes `value` exactly to the precision of
//   `step` (the distance between neighbouring ticks; for a log axis pass the power of ten of its
//   smallest tick). Let d be the number of decimals needed to write step exactly (at most 15) in
//   the unit of the chosen form:
//     * 0 (|value| < 1e-9 step) is "0";
//     * step < 1e-4 (or |value| >= 1e15): scientific, printf style, mantissa to the precision of
//       step, trailing zeros removed: "1e-05", "2.5e-04", "1e+15" (so plain text never needs
//       more than 4 decimals);
//     * step >= 1e4: an SI suffix chosen by |value| (k = 1e3, M = 1e6, G = 1e9, T = 1e12; none
//       below 1e3) with the decimals step needs in that unit: "10k", "250k", "1.5M";
//     * otherwise plain decimals, as many as step needs, trailing zeros removed: "0.02", "1.5",
//       "2000".
//   Every label is the value rounded to a multiple of a power of ten no coarser than step, so
//   labels of one axis (values at least step apart, one step for all) are distinct. Non-finite
//   values are "nan", "inf", "-inf". value_error for a step that is not finite and positive.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "hourglass/core/error.hpp"

namespace hg::viz {

namespace ticks_detail {

/// 10^e as the correctly rounded double (exact for 0 <= e <= 22).
inline double pow10(int e) { return e >= 0 ? std::pow(10.0, e) : 1.0 / std::pow(10.0, -e); }

/// floor(log10(v)) for v > 0, robust to v being a power of ten that log10 rounds down.
inline int decade(double v) {
    int e = static_cast<int>(std::floor(std::log10(v)));
    if (pow10(e + 1) <= v * (1 + 1e-12)) ++e;
    else if (pow10(e) > v * (1 + 1e-12)) --e;
    return e;
}

/// The fewest decimals (0..15) that write `step` (in some unit) exactly, up to 1e-6 of itself.
inline int decimals_for(double step) {
    for (int d = 0; d < 15; ++d) {
        const double scaled = step * pow10(d);
        if (std::fabs(scaled - std::round(scaled)) <= 1e-6 * scaled && std::round(scaled) >= 1) return d;
    }
    return 15;
}

/// printf("%.*f") or ("%.*e") and then trailing zeros (and a trailing '.') removed from the
/// mantissa; "-0" becomes "0".
inline std::string format_trimmed(double v, int decimals, bool scientific) {
    char buf[64];
    std::snprintf(buf, sizeof buf, scientific ? "%.*e" : "%.*f", decimals, v);
    std::string s = buf;
    const std::size_t e = scientific ? s.find('e') : std::string::npos;
    std::string mantissa = s.substr(0, e), exponent = e == std::string::npos ? "" : s.substr(e);
    if (mantissa.find('.') != std::string::npos) {
        while (!mantissa.empty() && mantissa.back() == '0') mantissa.pop_back();
        if (!mantissa.empty() && mantissa.back() == '.') mantissa.pop_back();
    }
    if (mantissa == "-0") mantissa = "0";
    return mantissa + exponent;
}

}  // namespace ticks_detail

/// Equally spaced 1-2-5 ticks covering [lo, hi], at least 2 and at most max_count of them.
inline std::vector<double> nice_ticks(double lo, double hi, int max_count = 8) {
    if (!std::isfinite(lo) || !std::isfinite(hi))
        throw value_error("viz::nice_ticks: the range [" + std::to_string(lo) + ", " + std::to_string(hi) +
                          "] has a non-finite end");
    if (max_count < 3 || max_count > 1000)
        throw value_error("viz::nice_ticks: max_count " + std::to_string(max_count) + " is not between 3 and 1000");
    if (lo > hi) std::swap(lo, hi);
    const double magnitude = std::max(std::fabs(lo), std::fabs(hi));
    if (hi - lo <= 1e-12 * magnitude) {
        const double pad = lo == 0 ? 1.0 : 0.1 * std::fabs(lo);
        lo -= pad, hi += pad;
    }
    const double width = hi - lo;
    if (!std::isfinite(width) || !std::isfinite(lo) || !std::isfinite(hi))
        throw value_error("viz::nice_ticks: the range [" + std::to_string(lo) + ", " + std::to_string(hi) +
                          "] is too wide to divide");
    const double raw = width / (max_count - 1);
    int e = ticks_detail::decade(raw);
    static constexpr double mantissas[3] = {1, 2, 5};
    for (int guard = 0; guard < 40; ++e, ++guard)
        for (double m : mantissas) {
            const double step = m * ticks_detail::pow10(e);
            if (step < raw * (1 - 1e-12)) continue;
            // tick k is the double nearest to k * m * 10^e (k * m is an exact integer)
            const auto at = [&](double k) { return e >= 0 ? k * m * ticks_detail::pow10(e) : k * m / ticks_detail::pow10(-e); };
            double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
            if (at(first) > lo) first -= 1;
            if (at(last) < hi) last += 1;
            if (last - first + 1 > max_count) continue;
            std::vector<double> ticks;
            for (double k = first; k <= last; k += 1) ticks.push_back(k == 0 ? 0.0 : at(k));
            return ticks;
        }
    throw value_error("viz::nice_ticks: no tick step found for [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

/// Powers of ten covering [lo, hi] (with their 2 and 5 multiples when they span under 3 decades).
inline std::vector<double> log_ticks(double lo, double hi) {
    if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo > 0) || hi < lo)
        throw value_error("viz::log_ticks: need 0 < lo <= hi, both finite; got [" + std::to_string(lo) + ", " +
                          std::to_string(hi) + "]");
    const int a = ticks_detail::decade(lo);
    int b = ticks_detail::decade(hi);
    if (ticks_detail::pow10(b) < hi * (1 - 1e-12)) ++b;  // ceil(log10 hi)
    if (b == a) ++b;
    const bool fine = hi / lo < 1000 * (1 - 1e-12);  // under 3 decades of data
    std::vector<double> all;
    for (int d = a; d < b; ++d) {
        const double p = ticks_detail::pow10(d);
        all.push_back(p);
        if (fine) {
            // 2 * 10^d and 5 * 10^d, correctly rounded like 10^d itself
            all.push_back(d >= 0 ? 2 * p : 2.0 / ticks_detail::pow10(-d));
            all.push_back(d >= 0 ? 5 * p : 5.0 / ticks_detail::pow10(-d));
        }
    }
    all.push_back(ticks_detail::pow10(b));
    std::size_t first = 0, last = all.size() - 1;
    while (first + 1 < all.size() && all[first + 1] <= lo * (1 + 1e-12)) ++first;
    while (last > 0 && all[last - 1] >= hi * (1 - 1e-12)) --last;
    if (last <= first) last = std::min(all.size() - 1, first + 1);
    if (last <= first) first = last - 1;
    return std::vector<double>(all.begin() + static_cast<std::ptrdiff_t>(first),
                               all.begin() + static_cast<std::ptrdiff_t>(last) + 1);
}

/// The text under a tick at `value` on an axis whose ticks are `step` apart (rules above).
inline std::string tick_label(double value, double step) {
    if (!std::isfinite(step) || !(step > 0))
        throw value_error("viz::tick_label: the step " + std::to_string(step) + " is not finite and positive");
    if (std::isnan(value)) return "nan";
    if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
    const double mag = std::fabs(value);
    if (mag < 1e-9 * step) return "0";
    using namespace ticks_detail;
    if (step < 1e-4 * (1 - 1e-9) || mag >= 1e15) {
        const int ev = decade(mag);
        return format_trimmed(value, decimals_for(step / pow10(ev)), true);
    }
    if (step >= 1e4 && mag >= 1e3) {
        static constexpr const char* suffixes[4] = {"k", "M", "G", "T"};
        const int u = std::min(3, decade(mag) / 3 - 1);
        const double unit = pow10(3 * (u + 1));
        return format_trimmed(value / unit, decimals_for(step / unit), false) + suffixes[u];
    }
    return format_trimmed(value, decimals_for(step), false);
}

}  // namespace hg::viz
