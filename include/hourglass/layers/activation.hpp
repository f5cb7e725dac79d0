// Activation layers: hg::leaky_relu<Slope>, hg::relu, hg::sigmoid, hg::tanh. Shape-preserving,
// no parameters; the formulas and derivatives live in math/activations.hpp.
#pragma once

#include <cmath>
#include <string>

#include "hourglass/layers/layer.hpp"
#include "hourglass/math/activations.hpp"
#include "hourglass/ops/elementwise.hpp"

namespace hg {

template <class B, class Fn>
class activation_layer {
public:
    using T = typename B::scalar;
    using tensor_type = basic_tensor<T>;

    explicit activation_layer(Fn fn = Fn{}) : fn_(fn) {}

    shape build(layer_builder& b, const shape& in) {
        name_ = b.path();
        if (in.numel() < 1) throw shape_error(name_ + ": input has shape " + detail::batched(in) + " with no elements");
        in_ = in;
        return in;
    }
    void bind(const parameters<B>&) {}

    using activation_fn = Fn;
    const Fn& fn() const { return fn_; }

    void forward(B& be, const tensor_type& x, const tensor_type& y) {
        detail::check_layer_input(x, in_, name_, "input");
        ops::activation_forward(be, fn_, x, y);
    }
    /// dx = dy * f'(x).
    void backward(B& be, const tensor_type& x, const tensor_type& y, const tensor_type& dy, const tensor_type* dx) {
        if (dx) ops::activation_backward(be, fn_, x, y, dy, *dx);
    }

private:
    Fn fn_;
    std::string name_;
    shape in_;
};

template <class B, float Slope>
class leaky_relu_layer : public activation_layer<B, math::leaky_relu_fn> {
public:
    leaky_relu_layer() : activation_layer<B, math::leaky_relu_fn>(math::leaky_relu_fn{Slope}) {}
};

/// LeakyReLU with a compile-time slope, e.g. hg::leaky_relu<0.1f>.
template <float Slope>
struct leaky_relu {
    static_assert(Slope == Slope, "leaky_relu: the slope is NaN");
    static_assert(Slope > -3.4e38f && Slope < 3.4e38f, "leaky_relu: the slope is not finite");
    static std::string type_name() { return detail::type_name_of("leaky_relu", Slope); }
    template <class B>
    using bind = leaky_relu_layer<B, Slope>;
};

struct relu {
    static std::string type_name() { return "relu"; }
    template <class B>
    using bind = activation_layer<B, math::relu_fn>;
};

struct sigmoid {
    static std::string type_name() { return "sigmoid"; }
    template <class B>
    using bind = activation_layer<B, math::sigmoid_fn>;
};

struct tanh {
    static std::string type_name() { return "tanh"; }
    template <class B>
    using bind = activation_layer<B, math::tanh_fn>;
};

}  // namespace hg
