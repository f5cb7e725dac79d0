// The per-step coefficients of every update rule (math::optim_coeffs), computed once per step on the
// host in double and rounded to float: bias corrections, the AdaBelief rectification term, NAdam's
// momentum schedule, the decay coefficients. The per-element rules (math/optim_rules.hpp) only
// combine them with the element's values.
#pragma once

#include <cmath>
#include <cstdint>

#include "hourglass/math/optim_rules.hpp"
#include "hourglass/optim/config.hpp"

namespace hg::optim {

/// NAdam's momentum coefficient mu_t = beta1 (1 - 0.5 * 0.96^(0.004 t)) (Dozat; PyTorch's schedule).
inline double nadam_mu(double beta1, std::int64_t t) {
    return beta1 * (1.0 - 0.5 * std::pow(0.96, 0.004 * static_cast<double>(t)));
}

/// Coefficients of step t (1-based: the t-th update applied) at learning rate lr_t. For NAdam,
/// `mu_product` is prod mu_1..mu_{t-1} on entry and prod mu_1..mu_t on return (other rules leave it).
inline math::optim_coeffs step_coefficients(const config& c, std::int64_t t, double lr_t, double& mu_product) {
    math::optim_coeffs k;
    const double td = static_cast<double>(t);
    const double bc1 = 1.0 - std::pow(c.beta1, td);
    const double bc2 = 1.0 - std::pow(c.beta2, td);
    k.lr = static_cast<float>(lr_t);
    k.b1 = static_cast<float>(c.beta1);
    k.b2 = static_cast<float>(c.beta2);
    k.eps = static_cast<float>(c.eps);
    k.momentum = static_cast<float>(c.momentum);
    k.nesterov = c.nesterov;
    k.keep_prob = static_cast<float>(c.lr_dropout);
    k.seed = c.seed;
    k.stream = static_cast<std::uint64_t>(t);
    const bool decoupled =
        c.rule == optim_rule::adamw || c.rule == optim_rule::adabelief || c.rule == optim_rule::lion;
    if (decoupled)
        k.wd_decoupled = static_cast<float>(lr_t * c.weight_decay);
    else
        k.wd_coupled = static_cast<float>(c.weight_decay);
    switch (c.rule) {
        case optim_rule::sgd:
        case optim_rule::rmsprop:
        case optim_rule::lion: break;
        case optim_rule::adam:
        case optim_rule::adamw:
            if (c.epsilon_hat) {
                k.a = static_cast<float>(lr_t * std::sqrt(bc2) / bc1);
                k.c = 1.f;
            } else {
                k.a = static_cast<float>(lr_t / bc1);
                k.c = static_cast<float>(1.0 / std::sqrt(bc2));
            }
            break;
        case optim_rule::adabelief:
            if (!c.bias_correction) {
                k.a = k.lr;
                k.c = 1.f;
                k.eps_inside = 0.f;
            } else if (c.rectify) {
                // RAdam's variance rectification as adabelief-pytorch applies it: the length of the
                // approximated SMA rho_t decides between the adaptive step and plain momentum SGD.
                k.eps_inside = k.eps;
                const double rho_inf = 2.0 / (1.0 - c.beta2) - 1.0;
                const double rho_t = rho_inf - 2.0 * td * std::pow(c.beta2, td) / bc2;
                if (rho_t >= 5.0) {
                    const double r = std::sqrt(bc2 * (rho_t - 4.0) / (rho_inf - 4.0) * (rho_t - 2.0) / rho_t * rho_inf /
                                               (rho_inf - 2.0)) /
                                     bc1;
                    k.a = static_cast<float>(lr_t * r);
                    k.c = 1.f;
                } else {
                    k.sgd_mode = true;
                    k.a = static_cast<float>(lr_t / bc1);
                }
            } else {
                k.eps_inside = k.eps;
                k.a = static_cast<float>(lr_t / bc1);
                k.c = static_cast<float>(1.0 / std::sqrt(bc2));
            }
            break;
        case optim_rule::nadam: {
            const double mu = nadam_mu(c.beta1, t), mu_next = nadam_mu(c.beta1, t + 1);
            mu_product *= mu;
            k.cg = static_cast<float>(lr_t * (1.0 - mu) / (1.0 - mu_product));
            k.cm = static_cast<float>(lr_t * mu_next / (1.0 - mu_product * mu_next));
            k.c = static_cast<float>(1.0 / std::sqrt(bc2));
            break;
        }
        case optim_rule::adamax: k.a = static_cast<float>(lr_t / bc1); break;
    }
    return k;
}

}  // namespace hg::optim
