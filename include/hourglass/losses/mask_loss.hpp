// hg::losses::mask_loss: the loss of a model's mask head (faceswap's "learn mask"): the mean squared
// error between the predicted mask and the target mask, both [N, H, W, 1]; named "mask". Follows
// losses/loss.hpp (backward: dpred += weight * 2 (pred - target) / count).
#pragma once

#include <string>

#include "hourglass/core/error.hpp"
#include "hourglass/losses/loss.hpp"
#include "hourglass/losses/pointwise.hpp"
#include "hourglass/math/pointwise_losses.hpp"
#include "hourglass/ops/pointwise_loss.hpp"

namespace hg::losses {

class mask_loss {
public:
    std::string name() const { return "mask"; }

    template <class B>
    void forward(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target, const tensor_of<B>& value) const {
        check_masks<B>(pred, target);
        pointwise_detail::check_value<B>(name(), value);
        ops::pointwise_loss_forward(be, math::mse_fn{}, pred, target, value);
    }

    template <class B>
    void backward(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target, double weight,
                  const tensor_of<B>& dpred) const {
        check_masks<B>(pred, target);
        pointwise_detail::check_gradient<B>(name(), pred, weight, dpred);
        ops::pointwise_loss_backward(be, math::mse_fn{}, pred, target, weight, dpred);
    }

private:
    template <class B, class T>
    void check_masks(const basic_tensor<T>& pred, const basic_tensor<T>& target) const {
        detail::check_pair<B>(name(), pred, target);
        if (pred.shape().c() != 1)
            throw shape_error(name() + ": the predicted mask must have 1 channel, [N, H, W, 1], got " +
                              pred.shape().str());
    }
};

}  // namespace hg::losses
