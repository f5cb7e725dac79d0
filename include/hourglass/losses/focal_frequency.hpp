// The focal frequency loss (Jiang et al., "Focal Frequency Loss for Image Reconstruction and
// Synthesis", ICCV 2021), with the defaults of the authors' implementation (loss_weight 1,
// patch_factor 1, no minibatch-average spectrum, no log weights, per-image weight normalisation):
// per image and channel, the orthonormal 2-D DFT of pred and target, the spectrum distance
// |F_p - F_t|^2 weighted by w = (|F_p - F_t| / its maximum)^alpha, averaged over every frequency,
// channel and image. w is held constant in the gradient, as the reference detaches it.
// The kernels are in ops/focal_frequency.hpp (formulas, derivation) and cuda/focal_frequency.cu.
#pragma once

#include <cmath>
#include <string>

#include "hourglass/losses/loss.hpp"
#include "hourglass/ops/focal_frequency.hpp"

namespace hg::losses {

class focal_frequency {
public:
    /// alpha: the exponent of the spectrum weight matrix; finite and > 0 (value_error otherwise).
    explicit focal_frequency(double alpha = 1.0) : alpha_(alpha) {
        detail::require(std::isfinite(alpha) && alpha > 0.0, name(),
                        "alpha must be finite and > 0, got " + std::to_string(alpha));
    }

    std::string name() const { return "focal_frequency"; }
    double alpha() const { return alpha_; }

    /// value <- L (1 element on be's device, written; no host sync on the GPU).
    template <class B>
    void forward(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target, const tensor_of<B>& value) const {
        detail::check_pair<B>(name(), pred, target);
        if (!value.defined() || value.numel() != 1)
            throw shape_error(name() + ": the value tensor must hold 1 element, has shape " +
                              (value.defined() ? value.shape().str() : std::string("(empty)")));
        ops::focal_frequency_forward(be, pred, target, alpha_, value);
    }

    /// dpred += weight * dL/dpred = weight * (2 / (N H W C)) Re(F^H (w .* (F_p - F_t))), w constant.
    template <class B>
    void backward(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target, double weight,
                  const tensor_of<B>& dpred) const {
        detail::check_pair<B>(name(), pred, target);
        if (!dpred.defined() || dpred.shape() != pred.shape())
            throw shape_error(name() + ": the gradient has shape " +
                              (dpred.defined() ? dpred.shape().str() : std::string("(empty)")) +
                              ", the prediction " + pred.shape().str() + " (they must be equal)");
        ops::focal_frequency_backward(be, pred, target, alpha_, weight, dpred);
    }

private:
    double alpha_;
};

}  // namespace hg::losses
