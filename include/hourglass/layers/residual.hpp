// hg::residual<F>: the residual block of the larger face-swap decoders,
//   y = lrelu_0.2( conv3x3_2( lrelu_0.2( conv3x3_1(x) ) ) + x ),   input and output [H, W, F].
// Backward (chain rule): ds = dy * lrelu'(s) where s is the sum; the skip path gives dx += ds and
// the conv path dh = conv2^T ds, da = dh * lrelu'(a), dx += conv1^T da.
#pragma once

#include <string>

#include "hourglass/layers/activation.hpp"
#include "hourglass/layers/conv2d.hpp"

namespace hg {

template <class B, int Filters>
class residual_layer {
public:
    using T = typename B::scalar;
    using tensor_type = basic_tensor<T>;

    shape build(layer_builder& b, const shape& in) {
        name_ = b.path();
        if (in.rank() != 3 || in[2] != Filters)
            throw shape_error(name_ + ": input has shape " + detail::batched(in) + ", expected [N, H, W, " +
                              std::to_string(Filters) + "]");
        in_ = in;
        {
            layer_scope s(b, "conv1");
            conv1_.build(b, in);
        }
        {
            layer_scope s(b, "conv2");
            conv2_.build(b, in);
        }
        return in;
    }
    void bind(const parameters<B>& p) {
        conv1_.bind(p);
        conv2_.bind(p);
    }

    void forward(B& be, const tensor_type& x, const tensor_type& y) {
        detail::check_layer_input(x, in_, name_, "input");
        ensure_buffers(be, x.shape());
        conv1_.forward_fused(be, x, a_, act_, h_);
        conv2_.forward(be, h_, c_);
        ops::add(be, c_, x, s_);
        ops::activation_forward(be, act_, s_, y);
    }

    void backward(B& be, const tensor_type& x, const tensor_type& y, const tensor_type& dy, const tensor_type* dx) {
        detail::check_layer_input(x, in_, name_, "input");
        ops::activation_backward(be, act_, s_, y, dy, ds_);
        conv2_.backward(be, h_, c_, ds_, &dh_);
        ops::activation_backward(be, act_, a_, h_, dh_, dh_);
        conv1_.backward(be, x, a_, dh_, dx);
        if (dx) ops::axpy(be, T(1), ds_, *dx);
    }

    /// The two 3x3 convolutions, in order (for exporters and estimators that walk the layers).
    const auto& first() const { return conv1_; }
    const auto& second() const { return conv2_; }

private:
    void ensure_buffers(B& be, const shape& s) {
        if (a_.defined() && a_.shape() == s) return;
        a_ = be.empty(s), h_ = be.empty(s), c_ = be.empty(s), s_ = be.empty(s);
        ds_ = be.empty(s), dh_ = be.empty(s);
    }

    typename conv2d<Filters, 3>::template bind<B> conv1_, conv2_;
    math::leaky_relu_fn act_{0.2f};
    tensor_type a_, h_, c_, s_, ds_, dh_;
    std::string name_;
    shape in_;
};

template <int Filters>
struct residual {
    static_assert(Filters >= 1, "residual: Filters must be at least 1");
    static std::string type_name() { return detail::type_name_of("residual", Filters); }
    template <class B>
    using bind = residual_layer<B, Filters>;
};

}  // namespace hg
