// Helpers shared by the test suites: seeded random tensors (never all zeros), poisoning, error
// norms and a finite-difference gradient checker for any layer spec on the double-precision CPU
// backend.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "hourglass/hourglass.hpp"

namespace hg::test {

/// Fills t with uniform values in [lo, hi) drawn from (seed, stream 0).
template <class T>
void fill_random(const basic_tensor<T>& t, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
    rng gen(seed, 7);
    for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<T>(lo + (hi - lo) * gen.uniform_double());
}

template <class T>
basic_tensor<T> random_tensor(const shape& s, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
    auto t = basic_tensor<T>::empty(s);
    fill_random(t, seed, lo, hi);
    return t;
}

template <class T>
void poison(const basic_tensor<T>& t) {
    t.fill(std::numeric_limits<T>::quiet_NaN());
}

template <class T>
bool all_finite(const basic_tensor<T>& t) {
    for (std::int64_t i = 0; i < t.numel(); ++i)
        if (!std::isfinite(static_cast<double>(t[i]))) return false;
    return true;
}

/// ||a - b|| / max(||b||, tiny), in double; NaN anywhere gives +inf.
template <class T, class U>
double relative_error(const basic_tensor<T>& a, const basic_tensor<U>& b) {
    REQUIRE(a.numel() == b.numel());
    double num = 0.0, den = 0.0;
    for (std::int64_t i = 0; i < a.numel(); ++i) {
        const double x = static_cast<double>(a[i]), y = static_cast<double>(b[i]);
        if (!std::isfinite(x) || !std::isfinite(y)) return std::numeric_limits<double>::infinity();
        num += (x - y) * (x - y);
        den += y * y;
    }
    return std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
}

/// Relative error of what an accumulating op added to `start`: ||a - b|| / ||b - start||, in double.
/// Comparing whole results instead lets a start of the same size as the addition cancel it in some
/// elements, and a start much larger than the addition hides it under its own rounding.
template <class T, class U, class V>
double relative_error_of_added(const basic_tensor<T>& a, const basic_tensor<U>& b, const basic_tensor<V>& start) {
    REQUIRE(a.numel() == b.numel());
    REQUIRE(a.numel() == start.numel());
    double num = 0.0, den = 0.0;
    for (std::int64_t i = 0; i < a.numel(); ++i) {
        const double x = static_cast<double>(a[i]), y = static_cast<double>(b[i]), s = static_cast<double>(start[i]);
        if (!std::isfinite(x) || !std::isfinite(y)) return std::numeric_limits<double>::infinity();
        num += (x - y) * (x - y);
        den += (y - s) * (y - s);
    }
    return std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
}

template <class T, class U>
double max_abs_difference(const basic_tensor<T>& a, const basic_tensor<U>& b) {
    REQUIRE(a.numel() == b.numel());
    double m = 0.0;
    for (std::int64_t i = 0; i < a.numel(); ++i) {
        const double d = std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
        if (!std::isfinite(d)) return std::numeric_limits<double>::infinity();
        m = std::max(m, d);
    }
    return m;
}

/// Result of a finite-difference check: the worst relative error over the checked entries.
struct gradcheck_result {
    double worst_input = 0.0;
    double worst_param = 0.0;
    std::int64_t checked_inputs = 0;
    std::int64_t checked_params = 0;
};

/// Checks dL/dx and dL/dparams of model<cpu64, Spec> for L = sum(g * y) against central
/// differences with step `eps`. At most `max_checks` entries of the input and of the parameters
/// are checked (evenly spaced, always including the first and the last). Per-entry error is
/// |analytic - numeric| / max(1, |analytic|, |numeric|).
/// Parameter gradients are first set to a random offset G0, so the check also proves that backward
/// adds into them (the analytic value read back is grad - G0).
template <class Spec>
gradcheck_result gradcheck(const shape& sample, std::int64_t batch, std::uint64_t seed, double eps = 1e-6,
                           std::int64_t max_checks = 200, double input_lo = -1.0, double input_hi = 1.0,
                           cpu_conv_algorithm conv_algorithm = cpu_conv_algorithm::automatic) {
    cpu64 be(1);
    be.poison_allocations(true);
    be.set_conv_algorithm(conv_algorithm);
    model<cpu64, Spec> m(be, sample, seed, "gradcheck");
    const shape in_shape = detail::with_batch(batch, sample);
    auto x = random_tensor<double>(in_shape, seed + 1, input_lo, input_hi);
    const auto& y0 = m.forward(x);
    auto g = random_tensor<double>(y0.shape(), seed + 2);

    auto loss = [&]() {
        const auto& y = m.forward(x);
        double s = 0.0;
        for (std::int64_t i = 0; i < y.numel(); ++i) s += g[i] * y[i];
        return s;
    };

    const auto& grads = m.params().grads();
    auto offset = random_tensor<double>(grads.shape(), seed + 3);
    for (std::int64_t i = 0; i < grads.numel(); ++i) grads[i] = offset[i];
    loss();
    const auto dx = m.backward(g, true).clone();
    REQUIRE(all_finite(dx));
    auto dparams = grads.clone();
    for (std::int64_t i = 0; i < grads.numel(); ++i) dparams[i] -= offset[i];

    auto entry_error = [](double a, double n) { return std::abs(a - n) / std::max({1.0, std::abs(a), std::abs(n)}); };
    auto indices = [&](std::int64_t count) {
        std::vector<std::int64_t> idx;
        const std::int64_t k = std::min(count, max_checks);
        for (std::int64_t j = 0; j < k; ++j) idx.push_back(k == 1 ? 0 : j * (count - 1) / (k - 1));
        return idx;
    };

    gradcheck_result r;
    for (std::int64_t i : indices(x.numel())) {
        const double keep = x[i];
        x[i] = keep + eps;
        const double lp = loss();
        x[i] = keep - eps;
        const double lm = loss();
        x[i] = keep;
        r.worst_input = std::max(r.worst_input, entry_error(dx[i], (lp - lm) / (2 * eps)));
        ++r.checked_inputs;
    }
    const auto& values = m.params().values();
    // Only real parameter entries (skip the alignment padding between tensors).
    std::vector<std::int64_t> live;
    for (const auto& e : m.params().layout().entries())
        for (std::int64_t j = 0; j < e.shape.numel(); ++j) live.push_back(e.offset + j);
    for (std::int64_t k : indices(static_cast<std::int64_t>(live.size()))) {
        if (live.empty()) break;
        const std::int64_t i = live[static_cast<std::size_t>(k)];
        const double keep = values[i];
        values[i] = keep + eps;
        const double lp = loss();
        values[i] = keep - eps;
        const double lm = loss();
        values[i] = keep;
        r.worst_param = std::max(r.worst_param, entry_error(dparams[i], (lp - lm) / (2 * eps)));
        ++r.checked_params;
    }
    return r;
}

}  // namespace hg::test
