// What every reconstruction loss provides, and the argument checks they share.
//
// A loss is a small class (hyperparameters as members, checked in its constructor) with
//   std::string name() const;
//   template <class B>
//   void forward(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target,
//                const tensor_of<B>& value) const;         // value: 1 element on be's device, written
//   template <class B>
//   void backward(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target, double weight,
//                 const tensor_of<B>& dpred) const;        // dpred += weight * dL/dpred
// pred and target are NHWC batches [N, H, W, C] of equal shape; the value is averaged over the
// batch, so it does not grow with N. backward accumulates, so a weighted sum of losses needs no
// temporaries, and it does not need forward to have run first. Both work on hg::cpu, hg::cpu64
// (gradient checks) and hg::cuda, through the ops in ops/ (which hold the kernels).
#pragma once

#include <string>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/ops/check.hpp"
#include "hourglass/ops/reduce.hpp"

namespace hg::losses::detail {

/// pred and target: defined, on be's device, NHWC with at least one element, equal shapes.
template <class B, class T>
void check_pair(const std::string& loss, const basic_tensor<T>& pred, const basic_tensor<T>& target) {
    if (!pred.defined()) throw shape_error(loss + ": the prediction is an empty tensor");
    if (!target.defined()) throw shape_error(loss + ": the target is an empty tensor");
    require_device(pred.device(), B::device, loss.c_str(), "pred");
    require_device(target.device(), B::device, loss.c_str(), "target");
    if (pred.shape().rank() != 4 || pred.numel() < 1)
        throw shape_error(loss + ": the prediction must be a non-empty NHWC batch [N, H, W, C], got " +
                          pred.shape().str());
    if (target.shape() != pred.shape())
        throw shape_error(loss + ": the target has shape " + target.shape().str() + ", the prediction " +
                          pred.shape().str() + " (they must be equal)");
}

/// The value of a 1-element tensor of backend B, on the host (waits for the device).
template <class B>
double read_scalar(const B& be, const tensor_of<B>& one) {
    return static_cast<double>(be.to_host(one)[0]);
}

/// Throws value_error naming the loss and the argument when x has an element outside [0, 1] or a
/// NaN (losses whose constants assume a data range of 1: the SSIM family, GMSD). On hg::cuda this
/// runs two reductions and waits for them.
template <class B, class T>
void require_unit_range(const B& be, const basic_tensor<T>& x, const std::string& loss, const char* arg) {
    auto one = be.empty(shape{1});
    ops::reduce(be, ops::reduction::min, x, one);
    const double lo = read_scalar(be, one);
    ops::reduce(be, ops::reduction::max, x, one);
    const double hi = read_scalar(be, one);
    if (!(lo >= 0.0 && hi <= 1.0))  // also true for NaN
        throw value_error(loss + ": " + arg + " has values in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                          "], outside [0, 1] (this loss assumes images scaled to [0, 1])");
}

/// A hyperparameter check: throws value_error naming the loss and the parameter unless ok.
inline void require(bool ok, const std::string& loss, const std::string& what) {
    if (!ok) throw value_error(loss + ": " + what);
}

}  // namespace hg::losses::detail
