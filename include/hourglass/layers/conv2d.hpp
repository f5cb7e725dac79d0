// hg::conv2d<Filters, Kernel, Stride, Init>: 2-D convolution with bias, square kernel, stride 1 or 2,
// symmetric zero padding Kernel/2 (so stride 2 halves an even size). Input [H, W, C] per sample,
// output [OH, OW, Filters]. Filter layout KRSC. Initialiser He-uniform by default; upscale blocks
// use initializer::icnr.
#pragma once

#include <string>

#include "hourglass/layers/layer.hpp"
#include "hourglass/ops/bias.hpp"
#include "hourglass/ops/conv2d.hpp"

namespace hg {

template <class B, int Filters, int Kernel, int Stride, initializer Init>
class conv2d_layer {
public:
    using T = typename B::scalar;
    using tensor_type = basic_tensor<T>;

    static std::string type_name() { return detail::type_name_of("conv2d", Filters, Kernel, Stride); }

    shape build(layer_builder& b, const shape& in) {
        name_ = b.path();
        if (in.rank() != 3 || in[0] < 1 || in[1] < 1 || in[2] < 1)
            throw shape_error(name_ + ": input has shape " + detail::batched(in) + ", expected [N, H, W, C]");
        if (Stride == 2 && (in[0] % 2 || in[1] % 2))
            throw shape_error(name_ + ": input has shape " + detail::batched(in) +
                              ", expected even H and W for stride 2");
        in_ = in;
        dims_ = math::conv2d_dims::make(1, in[0], in[1], in[2], Filters, Kernel, Stride);
        const std::int64_t fan_in = std::int64_t{Kernel} * Kernel * in[2];
        const std::int64_t fan_out = std::int64_t{Kernel} * Kernel * Filters;
        w_index_ = b.declare("w", shape{Filters, Kernel, Kernel, in[2]}, Init, fan_in, fan_out);
        b_index_ = b.declare("b", shape{Filters}, initializer::zeros);
        return shape{dims_.oh, dims_.ow, Filters};
    }

    void bind(const parameters<B>& p) {
        w_ = p.value(w_index_), b_ = p.value(b_index_);
        dw_ = p.grad(w_index_), db_ = p.grad(b_index_);
    }

    void forward(B& be, const tensor_type& x, const tensor_type& y) {
        detail::check_layer_input(x, in_, name_, "input");
        ops::conv2d_forward(be, dims_for(x), x, w_, b_, y);
    }

    /// Forward fused with the activation that follows (sequential uses it): pre = conv(x) + b and
    /// y = f(pre), the bias and the activation applied in one pass after a bias-free convolution.
    /// pre holds what the unfused conv would output, so backward is unchanged.
    template <class Fn>
    void forward_fused(B& be, const tensor_type& x, const tensor_type& pre, const Fn& fn, const tensor_type& y) {
        detail::check_layer_input(x, in_, name_, "input");
        ops::conv2d_forward(be, dims_for(x), x, w_, tensor_type(), pre);
        ops::bias_activation_forward(be, fn, b_, pre, y);
    }
    static constexpr bool fuses_activation = true;

    /// dW += sum dy * x-patches, db += sum dy; dx = transposed convolution of dy.
    void backward(B& be, const tensor_type& x, const tensor_type& /*y*/, const tensor_type& dy, const tensor_type* dx) {
        detail::check_layer_input(x, in_, name_, "input");
        const math::conv2d_dims d = dims_for(x);
        ops::conv2d_backward_filter(be, d, x, dy, dw_, db_);
        if (dx) ops::conv2d_backward_data(be, d, dy, w_, *dx);
    }

    const math::conv2d_dims& dims() const { return dims_; }
    /// The filter [Filters, Kernel, Kernel, C] (KRSC) and bias [Filters] (views of the parameters).
    const tensor_type& weight() const { return w_; }
    const tensor_type& bias() const { return b_; }

private:
    math::conv2d_dims dims_for(const tensor_type& x) const {
        math::conv2d_dims d = dims_;
        d.n = x.shape()[0];
        return d;
    }

    std::string name_;
    shape in_;
    math::conv2d_dims dims_;
    std::size_t w_index_ = 0, b_index_ = 0;
    tensor_type w_, b_, dw_, db_;
};

template <int Filters, int Kernel, int Stride = 1, initializer Init = initializer::he_uniform>
struct conv2d {
    static_assert(Filters >= 1, "conv2d: Filters must be at least 1");
    static_assert(Kernel >= 1 && Kernel % 2 == 1, "conv2d: Kernel must be odd (symmetric padding Kernel/2)");
    static_assert(Stride == 1 || Stride == 2, "conv2d: Stride must be 1 or 2");
    static std::string type_name() { return detail::type_name_of("conv2d", Filters, Kernel, Stride); }
    template <class B>
    using bind = conv2d_layer<B, Filters, Kernel, Stride, Init>;
};

}  // namespace hg
