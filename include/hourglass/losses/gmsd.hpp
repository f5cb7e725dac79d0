// The GMSD loss (gradient magnitude similarity deviation, Xue et al. 2014): per image, the
// standard deviation of the gradient magnitude similarity map of pred and target, averaged over
// the batch (0 for identical images). The kernels are ops::gmsd_forward / gmsd_backward
// (ops/gmsd.hpp); this class holds the constant c and the optional [0, 1] range check, and follows
// the contract of losses/loss.hpp.
#pragma once

#include <cmath>
#include <string>

#include "hourglass/losses/loss.hpp"
#include "hourglass/math/image_losses.hpp"
#include "hourglass/ops/gmsd.hpp"

namespace hg::losses {

class gmsd {
public:
    /// c: the similarity's stability constant (0.0025 assumes images in [0, 1]). check_range: check
    /// that pred and target lie in [0, 1] on every call (on hg::cuda this waits for the device).
    explicit gmsd(double c = math::gmsd_default_c, bool check_range = true) : c_(c), check_range_(check_range) {
        detail::require(c > 0.0 && std::isfinite(c), name(), "the constant c must be positive and finite, got " +
                                                                  std::to_string(c));
    }

    std::string name() const { return "gmsd"; }
    double c() const { return c_; }
    bool checks_range() const { return check_range_; }

    template <class B>
    void forward(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target, const tensor_of<B>& value) const {
        check(be, pred, target);
        ops::gmsd_forward(be, pred, target, value, c_);
    }

    template <class B>
    void backward(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target, double weight,
                  const tensor_of<B>& dpred) const {
        detail::require(std::isfinite(weight), name(), "the weight must be finite, got " + std::to_string(weight));
        check(be, pred, target);
        ops::gmsd_backward(be, pred, target, weight, dpred, c_);
    }

private:
    template <class B>
    void check(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target) const {
        detail::check_pair<B>(name(), pred, target);
        if (check_range_) {
            detail::require_unit_range(be, pred, name(), "pred");
            detail::require_unit_range(be, target, name(), "target");
        }
    }

    double c_;
    bool check_range_;
};

}  // namespace hg::losses
