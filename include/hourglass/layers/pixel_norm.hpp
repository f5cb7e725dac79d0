// hg::pixel_norm: scales each sample to unit root mean square over all its elements,
// y = x / sqrt(mean(x^2) + 1e-6) - DeepFaceLab's nn.pixel_norm(x, axes=-1) on the flattened code,
// SAEHD's -u option. No parameters; any per-sample shape. The op and its backward formula:
// ops/pixel_norm.hpp.
#pragma once

#include <string>

#include "hourglass/layers/layer.hpp"
#include "hourglass/ops/pixel_norm.hpp"

namespace hg {

template <class B>
class pixel_norm_layer {
public:
    using T = typename B::scalar;
    using tensor_type = basic_tensor<T>;

    shape build(layer_builder& b, const shape& in) {
        name_ = b.path();
        if (in.numel() < 1) throw shape_error(name_ + ": input has shape " + detail::batched(in) + ", which is empty");
        in_ = in;
        return in;
    }
    void bind(const parameters<B>&) {}

    void forward(B& be, const tensor_type& x, const tensor_type& y) {
        detail::check_layer_input(x, in_, name_, "input");
        if (!r_.defined() || r_.shape()[0] != x.shape()[0]) r_ = be.empty(shape{x.shape()[0]});
        ops::pixel_norm_forward(be, x, y, r_);
    }

    void backward(B& be, const tensor_type& x, const tensor_type&, const tensor_type& dy, const tensor_type* dx) {
        detail::check_layer_input(x, in_, name_, "input");
        if (!r_.defined() || r_.shape()[0] != x.shape()[0])
            throw shape_error(name_ + ": backward batch " + x.shape().str() + " differs from the last forward batch");
        if (dx) ops::pixel_norm_backward(be, x, r_, dy, *dx);
    }

private:
    tensor_type r_;  ///< [N] the inverse root mean squares of the last forward
    std::string name_;
    shape in_;
};

struct pixel_norm {
    static std::string type_name() { return "pixel_norm"; }
    template <class B>
    using bind = pixel_norm_layer<B>;
};

}  // namespace hg
