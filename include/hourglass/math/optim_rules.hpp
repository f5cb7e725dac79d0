// Per-element optimizer update rules, shared by the CPU loop (ops/optim.hpp) and the fused CUDA
// kernel (cuda/optim.cu): each formula is written once, here.
//
// Every rule reads one gradient element g (already multiplied by the step's gradient scale and
// value-clipped, see prepare_grad), updates its one or two state elements s1, s2 in place and returns
// the parameter change `delta`; the caller then writes w + delta (or w, when LR dropout drops the
// element: the moments are updated either way, as in DeepFaceLab). Everything that depends on the
// step number only (bias corrections, scheduled learning rate, NAdam's momentum products) is
// computed once per step on the host, in double, and arrives here as float coefficients, so the
// per-element work is the same few float operations on both backends.
#pragma once

#include <cmath>
#include <cstdint>

#include "hourglass/core/config.hpp"
#include "hourglass/core/rng.hpp"

namespace hg::math {

/// The update rules. s1 and s2 name the rule's state buffers (listed per rule below).
enum class optim_rule : std::uint32_t {
    sgd = 1,        ///< s1 = momentum buffer (unused without momentum)
    adam = 2,       ///< s1 = m (first moment), s2 = v (second moment); L2 decay added to g
    adamw = 3,      ///< as adam, decay decoupled from the gradient
    adabelief = 4,  ///< s1 = m, s2 = s (EMA of (g - m)^2)
    rmsprop = 5,    ///< s1 = momentum buffer, s2 = v (EMA of g^2)
    lion = 6,       ///< s1 = m
    nadam = 7,      ///< s1 = m, s2 = v
    adamax = 8,     ///< s1 = m, s2 = u (exponentially weighted infinity norm)
};

/// Per-step coefficients of every rule (each rule reads the ones it needs).
struct optim_coeffs {
    float lr = 0.f;            ///< the scheduled learning rate of this step
    float b1 = 0.f, b2 = 0.f;  ///< betas (rmsprop: b2 = rho; sgd/rmsprop: b1 unused)
    float eps = 0.f;           ///< added to the denominator
    float eps_inside = 0.f;    ///< adabelief: added to s at every step (0 in DeepFaceLab's form)
    float a = 0.f;             ///< step size multiplying m (lr / (1 - b1^t) and its variants)
    float c = 1.f;             ///< scale of sqrt(v) in the denominator (1 / sqrt(1 - b2^t), or 1)
    float cg = 0.f, cm = 0.f;  ///< nadam: the coefficients of g and of m
    float momentum = 0.f;      ///< sgd, rmsprop
    bool nesterov = false;     ///< sgd
    bool sgd_mode = false;     ///< adabelief with rectification, early steps: w -= a m (no denominator)
    float wd_coupled = 0.f;    ///< L2 decay: g += wd_coupled * w (sgd, adam, rmsprop, nadam, adamax)
    float wd_decoupled = 0.f;  ///< decoupled decay: delta -= wd_decoupled * w (= lr * weight_decay)
    float grad_scale = 1.f;    ///< 1 / micro-batches times the norm-clipping factor
    float clip_value = HUGE_VALF;  ///< g is clamped to [-clip_value, clip_value] after scaling (inf: off)
    float keep_prob = 1.f;     ///< LR dropout: the probability that an element's update is applied
    std::uint64_t seed = 0;    ///< LR dropout: Philox seed; the stream is the step number
    std::uint64_t stream = 0;
};

/// The gradient as the rule sees it: scaled, then clamped to [-clip_value, clip_value] (selects, not
/// branches, so the CPU loop vectorizes; a NaN passes through unchanged).
HG_HOST_DEVICE inline float prepare_grad(const optim_coeffs& k, float g) {
    g *= k.grad_scale;
    g = g > k.clip_value ? k.clip_value : g;
    g = g < -k.clip_value ? -k.clip_value : g;
    return g;
}

/// LR dropout: whether element i's update is applied this step. A Bernoulli(keep_prob) draw from
/// Philox stream (seed, step), element i, so the CPU and the GPU drop the same elements.
HG_HOST_DEVICE inline bool lr_dropout_keep(const optim_coeffs& k, std::uint64_t i) {
    return bits_to_unit_float(random_bits(k.seed, k.stream, i)) < k.keep_prob;
}

HG_HOST_DEVICE inline float optim_sqrt(float x) {
#if defined(__CUDA_ARCH__)
    return sqrtf(x);  // IEEE round-to-nearest (nvcc's default -prec-sqrt=true), like the host's
#else
    return std::sqrt(x);
#endif
}

/// SGD (PyTorch form): g' = g + wd w; b = mu b + g'; d = g' + mu b (Nesterov) or b; delta = -lr d.
/// Without momentum (mu = 0, no buffer) b = g', so the same lines give delta = -lr g'.
HG_HOST_DEVICE inline float sgd_update(const optim_coeffs& k, float w, float g, float& s1, float& /*s2*/) {
    g += k.wd_coupled * w;
    s1 = k.momentum * s1 + g;
    const float d = k.nesterov ? g + k.momentum * s1 : s1;
    return -k.lr * d;
}

/// Adam and AdamW: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
/// delta = -wd_dec w - a m / (c sqrt(v) + eps). Paper/PyTorch form: a = lr / (1 - b1^t),
/// c = 1 / sqrt(1 - b2^t); Keras/faceswap form (epsilon-hat): a = lr sqrt(1 - b2^t) / (1 - b1^t), c = 1.
HG_HOST_DEVICE inline float adam_update(const optim_coeffs& k, float w, float g, float& s1, float& s2) {
    g += k.wd_coupled * w;
    s1 = k.b1 * s1 + (1.f - k.b1) * g;
    s2 = k.b2 * s2 + (1.f - k.b2) * (g * g);
    return -k.wd_decoupled * w - k.a * s1 / (k.c * optim_sqrt(s2) + k.eps);
}

/// AdaBelief (Zhuang et al. 2020): m = b1 m + (1 - b1) g; s = b2 s + (1 - b2) (g - m)^2 + eps_inside;
/// delta = -wd_dec w - a m / (c sqrt(s) + eps), or -a m in the rectified form's early steps.
/// DeepFaceLab's form: no bias correction (a = lr, c = 1) and eps_inside = 0.
HG_HOST_DEVICE inline float adabelief_update(const optim_coeffs& k, float w, float g, float& s1, float& s2) {
    g += k.wd_coupled * w;
    s1 = k.b1 * s1 + (1.f - k.b1) * g;
    const float r = g - s1;
    s2 = k.b2 * s2 + (1.f - k.b2) * (r * r) + k.eps_inside;
    const float denom = k.sgd_mode ? 1.f : k.c * optim_sqrt(s2) + k.eps;  // a select: the loop stays vectorizable
    return -k.wd_decoupled * w - k.a * s1 / denom;
}

/// RMSprop (Keras form, eps outside the root): v = rho v + (1 - rho) g^2; q = g / (sqrt(v) + eps);
/// b = mu b + q and delta = -lr b (without momentum, mu = 0 and no buffer: b = q).
HG_HOST_DEVICE inline float rmsprop_update(const optim_coeffs& k, float w, float g, float& s1, float& s2) {
    g += k.wd_coupled * w;
    s2 = k.b2 * s2 + (1.f - k.b2) * (g * g);
    const float q = g / (optim_sqrt(s2) + k.eps);
    s1 = k.momentum * s1 + q;
    return -k.lr * s1;
}

/// Lion (Chen et al. 2023): u = sign(b1 m + (1 - b1) g); delta = -lr u - wd_dec w;
/// then m = b2 m + (1 - b2) g.
HG_HOST_DEVICE inline float lion_update(const optim_coeffs& k, float w, float g, float& s1, float& /*s2*/) {
    const float c = k.b1 * s1 + (1.f - k.b1) * g;
    const float u = c > 0.f ? 1.f : (c < 0.f ? -1.f : 0.f);
    s1 = k.b2 * s1 + (1.f - k.b2) * g;
    return -k.lr * u - k.wd_decoupled * w;
}

/// NAdam (Dozat 2016, PyTorch's momentum schedule): m and v as Adam; d = c sqrt(v) + eps with
/// c = 1 / sqrt(1 - b2^t); delta = -cg g / d - cm m / d, where cg = lr (1 - mu_t) / (1 - prod mu_1..t)
/// and cm = lr mu_{t+1} / (1 - prod mu_1..t+1).
HG_HOST_DEVICE inline float nadam_update(const optim_coeffs& k, float w, float g, float& s1, float& s2) {
    g += k.wd_coupled * w;
    s1 = k.b1 * s1 + (1.f - k.b1) * g;
    s2 = k.b2 * s2 + (1.f - k.b2) * (g * g);
    const float d = k.c * optim_sqrt(s2) + k.eps;
    return -k.wd_decoupled * w - k.cg * g / d - k.cm * s1 / d;
}

/// Adamax (Kingma & Ba 2015, PyTorch form): m = b1 m + (1 - b1) g; u = max(b2 u, |g| + eps);
/// delta = -a m / u with a = lr / (1 - b1^t).
HG_HOST_DEVICE inline float adamax_update(const optim_coeffs& k, float w, float g, float& s1, float& s2) {
    g += k.wd_coupled * w;
    s1 = k.b1 * s1 + (1.f - k.b1) * g;
    const float ag = (g < 0.f ? -g : g) + k.eps;
    const float bu = k.b2 * s2;
    s2 = bu > ag ? bu : ag;
    return -k.wd_decoupled * w - k.a * s1 / s2;
}

/// The rule R applied to one element: returns delta; s1, s2 updated in place. g is the raw
/// gradient element (scaled and clipped here).
template <optim_rule R>
HG_HOST_DEVICE inline float optim_delta(const optim_coeffs& k, float w, float g, float& s1, float& s2) {
    g = prepare_grad(k, g);
    if constexpr (R == optim_rule::sgd)
        return sgd_update(k, w, g, s1, s2);
    else if constexpr (R == optim_rule::adam || R == optim_rule::adamw)
        return adam_update(k, w, g, s1, s2);
    else if constexpr (R == optim_rule::adabelief)
        return adabelief_update(k, w, g, s1, s2);
    else if constexpr (R == optim_rule::rmsprop)
        return rmsprop_update(k, w, g, s1, s2);
    else if constexpr (R == optim_rule::lion)
        return lion_update(k, w, g, s1, s2);
    else if constexpr (R == optim_rule::nadam)
        return nadam_update(k, w, g, s1, s2);
    else
        return adamax_update(k, w, g, s1, s2);
}

}  // namespace hg::math
