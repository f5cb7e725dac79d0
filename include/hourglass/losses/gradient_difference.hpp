// The pixel gradient difference loss: L1 distance between the first differences (weight tv) and
// between the second differences (weight tv2) of pred and target along both image axes,
// normalised by tv + tv2 as faceswap's GradientLoss does. The kernels are
// ops::gradient_difference_forward / backward (ops/gradient_difference.hpp); this class holds the
// two weights and follows the contract of losses/loss.hpp.
#pragma once

#include <cmath>
#include <string>

#include "hourglass/losses/loss.hpp"
#include "hourglass/ops/gradient_difference.hpp"

namespace hg::losses {

class gradient_difference {
public:
    /// tv: weight of the first-order terms; tv2: weight of the second-order terms (both >= 0,
    /// finite, not both 0; faceswap uses 1 and 1).
    explicit gradient_difference(double tv = 1.0, double tv2 = 1.0) : tv_(tv), tv2_(tv2) {
        detail::require(std::isfinite(tv) && std::isfinite(tv2) && tv >= 0.0 && tv2 >= 0.0 && tv + tv2 > 0.0, name(),
                        "the first- and second-order weights must be finite, >= 0 and not both 0, got " +
                            std::to_string(tv) + " and " + std::to_string(tv2));
    }

    std::string name() const { return "gradient_difference"; }
    double first_order_weight() const { return tv_; }
    double second_order_weight() const { return tv2_; }

    template <class B>
    void forward(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target, const tensor_of<B>& value) const {
        detail::check_pair<B>(name(), pred, target);
        ops::gradient_difference_forward(be, pred, target, value, tv_, tv2_);
    }

    template <class B>
    void backward(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target, double weight,
                  const tensor_of<B>& dpred) const {
        detail::require(std::isfinite(weight), name(), "the weight must be finite, got " + std::to_string(weight));
        detail::check_pair<B>(name(), pred, target);
        ops::gradient_difference_backward(be, pred, target, weight, dpred, tv_, tv2_);
    }

private:
    double tv_, tv2_;
};

}  // namespace hg::losses
