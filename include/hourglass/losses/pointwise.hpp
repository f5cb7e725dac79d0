// The pointwise reconstruction losses, following the contract of losses/loss.hpp: for d = pred - target,
//   mae          mean |d|                                       backward: sign(d) / count (0 at d == 0)
//   mse          mean d^2                                       backward: 2 d / count
//   log_cosh     mean log(cosh d)                               backward: tanh(d) / count
//   charbonnier  mean of faceswap's GeneralizedLoss term (math/pointwise_losses.hpp), alpha = 1 and
//                beta = 1/255 by default                       backward: its derivative / count
//   linf         mean over (n, c) of max over (h, w) of |d|     backward: sign(d) / (N C) at each
//                                                               arg-max (first in memory order on ties)
// count = N H W C, so each value is the batch average of the per-sample means (faceswap's per-sample
// reduction followed by the mean over the batch). Kernels: ops/pointwise_loss.hpp.
#pragma once

#include <cmath>
#include <string>

#include "hourglass/losses/loss.hpp"
#include "hourglass/math/pointwise_losses.hpp"
#include "hourglass/ops/pointwise_loss.hpp"

namespace hg::losses {

namespace pointwise_detail {

/// value: a defined 1-element tensor on be's device.
template <class B, class T>
void check_value(const std::string& loss, const basic_tensor<T>& value) {
    if (!value.defined()) throw shape_error(loss + ": the value output is an empty tensor");
    require_device(value.device(), B::device, loss.c_str(), "value");
    if (value.numel() != 1)
        throw shape_error(loss + ": the value output must hold 1 element, has shape " + value.shape().str());
}

/// dpred: defined, on be's device, pred's shape; weight finite.
template <class B, class T>
void check_gradient(const std::string& loss, const basic_tensor<T>& pred, double weight, const basic_tensor<T>& dpred) {
    if (!dpred.defined()) throw shape_error(loss + ": the gradient output is an empty tensor");
    require_device(dpred.device(), B::device, loss.c_str(), "dpred");
    if (dpred.shape() != pred.shape())
        throw shape_error(loss + ": the gradient output has shape " + dpred.shape().str() + ", the prediction " +
                          pred.shape().str() + " (they must be equal)");
    detail::require(std::isfinite(weight), loss, "the weight is not finite (" + std::to_string(weight) + ")");
}

/// A loss whose value is the mean of Term over all elements.
template <class Term>
class mean_of_terms {
public:
    template <class B>
    void forward(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target, const tensor_of<B>& value) const {
        detail::check_pair<B>(name_, pred, target);
        check_value<B>(name_, value);
        ops::pointwise_loss_forward(be, term_, pred, target, value);
    }
    template <class B>
    void backward(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target, double weight,
                  const tensor_of<B>& dpred) const {
        detail::check_pair<B>(name_, pred, target);
        check_gradient<B>(name_, pred, weight, dpred);
        ops::pointwise_loss_backward(be, term_, pred, target, weight, dpred);
    }
    std::string name() const { return name_; }
    const Term& term() const { return term_; }

protected:
    mean_of_terms(std::string name, Term term) : name_(std::move(name)), term_(term) {}

private:
    std::string name_;
    Term term_;
};

}  // namespace pointwise_detail

/// Mean absolute error (L1).
class mae : public pointwise_detail::mean_of_terms<math::mae_fn> {
public:
    mae() : mean_of_terms("mae", math::mae_fn{}) {}
};

/// Mean squared error (L2).
class mse : public pointwise_detail::mean_of_terms<math::mse_fn> {
public:
    mse() : mean_of_terms("mse", math::mse_fn{}) {}
};

/// Mean of log(cosh(pred - target)): quadratic near 0, linear for large differences.
class log_cosh : public pointwise_detail::mean_of_terms<math::log_cosh_fn> {
public:
    log_cosh() : mean_of_terms("log_cosh", math::log_cosh_fn{}) {}
};

/// Generalized Charbonnier (faceswap's GeneralizedLoss): alpha finite, not 0 and not 2; beta finite
/// and > 0. alpha = 1 is a smooth L1 (sqrt(d^2 + beta^2) - beta); as alpha -> 2 the term approaches
/// d^2 / (2 beta).
class charbonnier : public pointwise_detail::mean_of_terms<math::charbonnier_fn> {
public:
    explicit charbonnier(double alpha = 1.0, double beta = 1.0 / 255.0)
        : mean_of_terms("charbonnier", checked(alpha, beta)), alpha_(alpha), beta_(beta) {}
    double alpha() const { return alpha_; }
    double beta() const { return beta_; }

private:
    static math::charbonnier_fn checked(double alpha, double beta) {
        detail::require(std::isfinite(alpha), "charbonnier", "alpha must be finite, got " + std::to_string(alpha));
        detail::require(alpha != 0.0 && alpha != 2.0, "charbonnier",
                        "alpha must not be 0 or 2 (the formula divides by alpha and by |2 - alpha|), got " +
                            std::to_string(alpha));
        detail::require(std::isfinite(beta) && beta > 0.0, "charbonnier",
                        "beta must be finite and > 0, got " + std::to_string(beta));
        return math::charbonnier_fn::make(alpha, beta);
    }
    double alpha_, beta_;
};

/// L-inf: for each sample and channel the largest |pred - target| over the image, averaged over
/// samples and channels (faceswap's LInfNorm).
class linf {
public:
    std::string name() const { return "linf"; }
    template <class B>
    void forward(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target, const tensor_of<B>& value) const {
        detail::check_pair<B>(name(), pred, target);
        pointwise_detail::check_value<B>(name(), value);
        ops::linf_loss_forward(be, pred, target, value);
    }
    template <class B>
    void backward(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target, double weight,
                  const tensor_of<B>& dpred) const {
        detail::check_pair<B>(name(), pred, target);
        pointwise_detail::check_gradient<B>(name(), pred, weight, dpred);
        ops::linf_loss_backward(be, pred, target, weight, dpred);
    }
};

}  // namespace hg::losses
