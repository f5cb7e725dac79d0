// Op contract of the fused optimizer update: one pass over a flat parameter buffer that reads the
// gradient, updates the rule's state buffers and writes the parameters, element by element with the
// formulas of math/optim_rules.hpp:
//   optim_update(be, rule, k, decay, w, g, s1, s2)
//     w, g         the flat values and gradients (same shape, any; read as flat)
//     s1, s2       the rule's state buffers (same shape as w), or undefined tensors for the ones the
//                  rule does not use (optim_state_buffers says which it uses)
//     k            the step's coefficients (math::optim_coeffs)
//     decay        sorted, disjoint element ranges [begin, end) that get weight decay; elements
//                  outside them are updated with k's weight-decay coefficients set to 0 (biases)
// Writes w, s1, s2 in place; g is only read. Every element is independent, so the order of the
// CPU's threads and of the GPU's blocks does not change the result.
#pragma once

#include "hourglass/core/config.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#if HG_CPU_OPS
#include "hourglass/cpu/backend.hpp"
#endif
#include "hourglass/math/optim_rules.hpp"
#include "hourglass/ops/check.hpp"

namespace hg {
class cuda;
}

namespace hg::ops {

/// Elements [begin, end) of a flat buffer.
struct index_range {
    std::int64_t begin = 0;
    std::int64_t end = 0;
};

/// Which state buffers a rule uses: bit 0 = s1, bit 1 = s2.
inline unsigned optim_state_buffers(math::optim_rule rule, float momentum) {
    switch (rule) {
        case math::optim_rule::sgd: return momentum > 0.f ? 1u : 0u;
        case math::optim_rule::rmsprop: return momentum > 0.f ? 3u : 2u;
        case math::optim_rule::lion: return 1u;
        default: return 3u;
    }
}

namespace detail {
template <class B>
void check_optim_update(math::optim_rule rule, const math::optim_coeffs& k, const std::vector<index_range>& decay,
                        const tensor& w, const tensor& g, const tensor& s1, const tensor& s2) {
    const char* op = "optim_update";
    check_arg<B>(w, w.shape(), op, "w");
    check_arg<B>(g, w.shape(), op, "g");
    const unsigned used = optim_state_buffers(rule, k.momentum);
    if (used & 1u) check_arg<B>(s1, w.shape(), op, "s1");
    if (used & 2u) check_arg<B>(s2, w.shape(), op, "s2");
    std::int64_t last = 0;
    for (const index_range& r : decay) {
        if (r.begin < last || r.end < r.begin || r.end > w.numel())
            throw value_error(std::string(op) + ": decay ranges must be sorted, disjoint and within the " +
                              std::to_string(w.numel()) + " elements; got [" + std::to_string(r.begin) + ", " +
                              std::to_string(r.end) + ")");
        last = r.end;
    }
}
}  // namespace detail

#if HG_CPU_OPS
namespace detail {

/// w[i] += delta for i in [lo, hi) with one coefficient set. S1, S2: whether the state buffers
/// exist; Drop: whether LR dropout is on. Without dropout the loop is branch-free and vectorizes
/// when built with -fno-math-errno (docs/optimizers.md, "CPU implementation").
template <math::optim_rule R, bool S1, bool S2, bool Drop>
void cpu_optim_run(const math::optim_coeffs& k, std::int64_t lo, std::int64_t hi, float* w, const float* g,
                   float* s1, float* s2) {
    for (std::int64_t i = lo; i < hi; ++i) {
        float a = 0.f, b = 0.f;
        if constexpr (S1) a = s1[i];
        if constexpr (S2) b = s2[i];
        const float delta = math::optim_delta<R>(k, w[i], g[i], a, b);
        if constexpr (Drop) {
            if (math::lr_dropout_keep(k, static_cast<std::uint64_t>(i))) w[i] = w[i] + delta;
        } else {
            w[i] = w[i] + delta;
        }
        if constexpr (S1) s1[i] = a;
        if constexpr (S2) s2[i] = b;
    }
}

template <math::optim_rule R, bool S1, bool S2, bool Drop>
void cpu_optim_apply(int threads, const math::optim_coeffs& k, const std::vector<index_range>& decay,
                     std::int64_t n, float* w, const float* g, float* s1, float* s2) {
    math::optim_coeffs k0 = k;  // the coefficients outside the decay ranges
    k0.wd_coupled = 0.f;
    k0.wd_decoupled = 0.f;
    constexpr std::int64_t chunk = 16384;
    const std::int64_t chunks = (n + chunk - 1) / chunk;
    parallel_for(chunks, threads, 4, [&](std::int64_t c) {
        const std::int64_t lo = c * chunk, hi = std::min(n, lo + chunk);
        auto it = std::partition_point(decay.begin(), decay.end(), [&](const index_range& r) { return r.end <= lo; });
        std::int64_t i = lo;
        while (i < hi) {
            if (it != decay.end() && it->begin <= i) {
                const std::int64_t e = std::min(hi, it->end);
                cpu_optim_run<R, S1, S2, Drop>(k, i, e, w, g, s1, s2);
                i = e;
                ++it;
            } else {
                const std::int64_t e = std::min(hi, it != decay.end() ? it->begin : hi);
                cpu_optim_run<R, S1, S2, Drop>(k0, i, e, w, g, s1, s2);
                i = e;
            }
        }
    });
}

template <math::optim_rule R>
void cpu_optim_dispatch(int threads, const math::optim_coeffs& k, const std::vector<index_range>& decay,
                        std::int64_t n, float* w, const float* g, float* s1, float* s2) {
    const bool drop = k.keep_prob < 1.f;
    const int mode = (s1 ? 1 : 0) + (s2 ? 2 : 0) + (drop ? 4 : 0);
    switch (mode) {
        case 0: return cpu_optim_apply<R, false, false, false>(threads, k, decay, n, w, g, s1, s2);
        case 1: return cpu_optim_apply<R, true, false, false>(threads, k, decay, n, w, g, s1, s2);
        case 2: return cpu_optim_apply<R, false, true, false>(threads, k, decay, n, w, g, s1, s2);
        case 3: return cpu_optim_apply<R, true, true, false>(threads, k, decay, n, w, g, s1, s2);
        case 4: return cpu_optim_apply<R, false, false, true>(threads, k, decay, n, w, g, s1, s2);
        case 5: return cpu_optim_apply<R, true, false, true>(threads, k, decay, n, w, g, s1, s2);
        case 6: return cpu_optim_apply<R, false, true, true>(threads, k, decay, n, w, g, s1, s2);
        default: return cpu_optim_apply<R, true, true, true>(threads, k, decay, n, w, g, s1, s2);
    }
}

}  // namespace detail

inline void optim_update(const cpu& be, math::optim_rule rule, const math::optim_coeffs& k,
                         const std::vector<index_range>& decay, const tensor& w, const tensor& g, const tensor& s1,
                         const tensor& s2) {
    detail::check_optim_update<cpu>(rule, k, decay, w, g, s1, s2);
    const unsigned used = optim_state_buffers(rule, k.momentum);
    float* p1 = (used & 1u) ? s1.data() : nullptr;
    float* p2 = (used & 2u) ? s2.data() : nullptr;
    const int threads = be.threads();
    const std::int64_t n = w.numel();
    using math::optim_rule;
    switch (rule) {
        case optim_rule::sgd: return detail::cpu_optim_dispatch<optim_rule::sgd>(threads, k, decay, n, w.data(), g.data(), p1, p2);
        case optim_rule::adam: return detail::cpu_optim_dispatch<optim_rule::adam>(threads, k, decay, n, w.data(), g.data(), p1, p2);
        case optim_rule::adamw: return detail::cpu_optim_dispatch<optim_rule::adamw>(threads, k, decay, n, w.data(), g.data(), p1, p2);
        case optim_rule::adabelief: return detail::cpu_optim_dispatch<optim_rule::adabelief>(threads, k, decay, n, w.data(), g.data(), p1, p2);
        case optim_rule::rmsprop: return detail::cpu_optim_dispatch<optim_rule::rmsprop>(threads, k, decay, n, w.data(), g.data(), p1, p2);
        case optim_rule::lion: return detail::cpu_optim_dispatch<optim_rule::lion>(threads, k, decay, n, w.data(), g.data(), p1, p2);
        case optim_rule::nadam: return detail::cpu_optim_dispatch<optim_rule::nadam>(threads, k, decay, n, w.data(), g.data(), p1, p2);
        case optim_rule::adamax: return detail::cpu_optim_dispatch<optim_rule::adamax>(threads, k, decay, n, w.data(), g.data(), p1, p2);
    }
    throw value_error("optim_update: unknown rule " + std::to_string(static_cast<unsigned>(rule)));
}

#endif  // HG_CPU_OPS

/// CUDA overload (cuda/optim.cu): one fused grid-stride kernel (float4 loads where aligned); a
/// decay table with more than optim_cuda_max_ranges ranges is split over several launches.
void optim_update(const cuda& be, math::optim_rule rule, const math::optim_coeffs& k,
                  const std::vector<index_range>& decay, const tensor& w, const tensor& g, const tensor& s1,
                  const tensor& s2);

/// Decay ranges one CUDA launch carries in its kernel parameters.
inline constexpr int optim_cuda_max_ranges = 120;

}  // namespace hg::ops
