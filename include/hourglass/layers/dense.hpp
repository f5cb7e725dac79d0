// hg::dense<Units>: fully connected layer with bias. Any per-sample input shape is read as a vector
// of its element count (NHWC flattening is free); output [Units]. Weights [Units, in], Glorot-uniform.
#pragma once

#include <string>

#include "hourglass/layers/layer.hpp"
#include "hourglass/ops/dense.hpp"

namespace hg {

template <class B, int Units>
class dense_layer {
public:
    using T = typename B::scalar;
    using tensor_type = basic_tensor<T>;

    shape build(layer_builder& b, const shape& in) {
        name_ = b.path();
        if (in.rank() < 1 || in.numel() < 1)
            throw shape_error(name_ + ": input has shape " + detail::batched(in) + ", expected at least one feature");
        in_ = in;
        features_ = in.numel();
        w_index_ = b.declare("w", shape{Units, features_}, initializer::glorot_uniform, features_, Units);
        b_index_ = b.declare("b", shape{Units}, initializer::zeros);
        return shape{Units};
    }

    void bind(const parameters<B>& p) {
        w_ = p.value(w_index_), b_ = p.value(b_index_);
        dw_ = p.grad(w_index_), db_ = p.grad(b_index_);
    }

    void forward(B& be, const tensor_type& x, const tensor_type& y) {
        detail::check_layer_input(x, in_, name_, "input");
        ops::dense_forward(be, x.shape()[0], features_, Units, x, w_, b_, y);
    }

    /// dW += dy^T x, db += sum dy, dx = dy W.
    void backward(B& be, const tensor_type& x, const tensor_type& /*y*/, const tensor_type& dy, const tensor_type* dx) {
        detail::check_layer_input(x, in_, name_, "input");
        const std::int64_t n = x.shape()[0];
        ops::dense_backward_filter(be, n, features_, Units, x, dy, dw_, db_);
        if (dx) ops::dense_backward_data(be, n, features_, Units, dy, w_, *dx);
    }

    /// The weights [Units, in] and bias [Units] (views of the parameters).
    const tensor_type& weight() const { return w_; }
    const tensor_type& bias() const { return b_; }

private:
    std::string name_;
    shape in_;
    std::int64_t features_ = 0;
    std::size_t w_index_ = 0, b_index_ = 0;
    tensor_type w_, b_, dw_, db_;
};

template <int Units>
struct dense {
    static_assert(Units >= 1, "dense: Units must be at least 1");
    static std::string type_name() { return detail::type_name_of("dense", Units); }
    template <class B>
    using bind = dense_layer<B, Units>;
};

}  // namespace hg
