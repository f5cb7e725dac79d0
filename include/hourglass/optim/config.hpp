// The hyperparameters of an optimizer's update rule (hg::optim::config), with one factory per rule
// that gives its defaults, and the check that rejects bad values with an hg::value_error naming the
// rule and the hyperparameter. The formulas are in math/optim_rules.hpp and docs/optimizers.md.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/math/optim_rules.hpp"

namespace hg::optim {

using math::optim_rule;

struct config {
    optim_rule rule = optim_rule::adam;
    double lr = 5e-5;
    double beta1 = 0.9;
    double beta2 = 0.999;      ///< rmsprop: rho
    double eps = 1e-7;
    double weight_decay = 0;   ///< L2 (added to g) for sgd, adam, rmsprop, nadam, adamax; decoupled for adamw, adabelief, lion
    double momentum = 0;       ///< sgd, rmsprop
    bool nesterov = false;     ///< sgd
    bool epsilon_hat = true;   ///< adam, adamw: Keras/faceswap placement of eps (see math::adam_update)
    bool rectify = false;      ///< adabelief: RAdam-style rectification of the early steps
    bool bias_correction = true;  ///< adabelief: false gives DeepFaceLab's form (no bias correction, no eps inside s)
    double lr_dropout = 1.0;   ///< probability that an element's update is applied (DeepFaceLab uses 0.3); 1 = off
    std::uint64_t seed = 0;    ///< seed of the LR-dropout mask

    /// The rule's name as the messages and the state format use it.
    const char* name() const { return rule_name(rule); }

    static const char* rule_name(optim_rule r) {
        switch (r) {
            case optim_rule::sgd: return "sgd";
            case optim_rule::adam: return "adam";
            case optim_rule::adamw: return "adamw";
            case optim_rule::adabelief: return "adabelief";
            case optim_rule::rmsprop: return "rmsprop";
            case optim_rule::lion: return "lion";
            case optim_rule::nadam: return "nadam";
            case optim_rule::adamax: return "adamax";
        }
        return "unknown";
    }

    /// Throws value_error naming the rule and the hyperparameter when a value is out of range.
    void validate() const {
        const std::string who = name();
        if (who == "unknown") throw value_error("optimizer: unknown rule " + std::to_string(static_cast<unsigned>(rule)));
        auto fail = [&](const char* what, const char* must, double v) {
            throw value_error(who + ": " + what + " must be " + must + ", got " + std::to_string(v));
        };
        auto finite = [&](const char* what, double v) {
            if (!std::isfinite(v)) fail(what, "finite", v);
        };
        finite("lr", lr);
        if (!(lr > 0)) fail("lr", "positive", lr);
        const bool uses_beta1 = rule != optim_rule::sgd && rule != optim_rule::rmsprop;
        const bool uses_beta2 = rule != optim_rule::sgd;
        if (uses_beta1) {
            finite("beta1", beta1);
            if (!(beta1 >= 0 && beta1 < 1)) fail("beta1", "in [0, 1)", beta1);
        }
        if (uses_beta2) {
            const char* b2 = rule == optim_rule::rmsprop ? "rho" : "beta2";
            finite(b2, beta2);
            if (!(beta2 >= 0 && beta2 < 1)) fail(b2, "in [0, 1)", beta2);
        }
        if (rule != optim_rule::sgd && rule != optim_rule::lion) {
            finite("eps", eps);
            if (!(eps > 0)) fail("eps", "positive", eps);
        }
        finite("weight_decay", weight_decay);
        if (!(weight_decay >= 0)) fail("weight_decay", "non-negative", weight_decay);
        finite("momentum", momentum);
        if (!(momentum >= 0 && momentum < 1)) fail("momentum", "in [0, 1)", momentum);
        if (nesterov && !(momentum > 0)) fail("momentum", "positive with nesterov", momentum);
        finite("lr_dropout", lr_dropout);
        if (!(lr_dropout > 0 && lr_dropout <= 1)) fail("lr_dropout", "in (0, 1]", lr_dropout);
    }
};

/// SGD: lr 1e-2, momentum 0.9 (0 gives plain SGD), Nesterov off.
inline config sgd(double lr = 1e-2, double momentum = 0.9, bool nesterov = false) {
    config c;
    c.rule = optim_rule::sgd;
    c.lr = lr;
    c.momentum = momentum;
    c.nesterov = nesterov;
    return c;
}

/// Adam with faceswap's defaults: lr 5e-5, betas 0.9 / 0.999, eps 1e-7 (Keras placement).
inline config adam(double lr = 5e-5) {
    config c;
    c.rule = optim_rule::adam;
    c.lr = lr;
    return c;
}

/// AdamW: Adam with decoupled weight decay 1e-2 (biases excluded by the default groups).
inline config adamw(double lr = 5e-5, double weight_decay = 1e-2) {
    config c = adam(lr);
    c.rule = optim_rule::adamw;
    c.weight_decay = weight_decay;
    return c;
}

/// AdaBelief (Zhuang et al.): lr 5e-5, betas 0.9 / 0.999, eps 1e-16, bias-corrected, not rectified.
inline config adabelief(double lr = 5e-5, bool rectify = false) {
    config c;
    c.rule = optim_rule::adabelief;
    c.lr = lr;
    c.eps = 1e-16;
    c.rectify = rectify;
    return c;
}

/// AdaBelief as DeepFaceLab writes it: no bias correction, eps 1e-6 (float32's resolution) only in
/// the denominator; optionally with LR dropout (keep probability 0.3 in DeepFaceLab).
inline config adabelief_deepfacelab(double lr = 5e-5, double lr_dropout = 1.0) {
    config c = adabelief(lr);
    c.bias_correction = false;
    c.eps = 1e-6;
    c.lr_dropout = lr_dropout;
    return c;
}

/// RMSprop (Keras defaults): lr 1e-3, rho 0.9, eps 1e-7, no momentum.
inline config rmsprop(double lr = 1e-3, double rho = 0.9) {
    config c;
    c.rule = optim_rule::rmsprop;
    c.lr = lr;
    c.beta2 = rho;
    return c;
}

/// Lion: lr 1e-4, betas 0.9 / 0.99, decoupled weight decay 0.
inline config lion(double lr = 1e-4) {
    config c;
    c.rule = optim_rule::lion;
    c.lr = lr;
    c.beta2 = 0.99;
    return c;
}

/// NAdam (PyTorch defaults): lr 2e-3, betas 0.9 / 0.999, eps 1e-8, momentum decay 0.004.
inline config nadam(double lr = 2e-3) {
    config c;
    c.rule = optim_rule::nadam;
    c.lr = lr;
    c.eps = 1e-8;
    return c;
}

/// Adamax (PyTorch defaults): lr 2e-3, betas 0.9 / 0.999, eps 1e-8.
inline config adamax(double lr = 2e-3) {
    config c;
    c.rule = optim_rule::adamax;
    c.lr = lr;
    c.eps = 1e-8;
    return c;
}

/// The names by_name() knows, in the order it lists them.
inline std::vector<std::string> rule_names() { return {"adam", "adamw", "adabelief", "rmsprop", "lion", "nadam", "adamax", "sgd"}; }

/// The update rule called `name` with its library defaults and base rate `lr`; value_error naming
/// the name and the known ones otherwise.
inline config by_name(const std::string& name, double lr) {
    config c;
    if (name == "adam") c = adam(lr);
    else if (name == "adamw") c = adamw(lr);
    else if (name == "adabelief") c = adabelief(lr);
    else if (name == "rmsprop") c = rmsprop(lr);
    else if (name == "lion") c = lion(lr);
    else if (name == "nadam") c = nadam(lr);
    else if (name == "adamax") c = adamax(lr);
    else if (name == "sgd") c = sgd(lr);
    else {
        std::string known;
        for (const auto& n : rule_names()) known += (known.empty() ? "" : ", ") + n;
        throw value_error("unknown optimizer '" + name + "' (" + known + ")");
    }
    c.lr = lr;
    return c;
}

}  // namespace hg::optim
