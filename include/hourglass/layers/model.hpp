// hg::model<B, Spec>: a layer spec bound to backend B with its parameters in one flat buffer.
// Built once for a per-sample input shape (checked through every layer, so a mismatch is reported
// at construction with the layer's path); then forward() on batches of any size >= 1 and backward()
// which adds into the parameter gradients and, on request, writes the input gradient.
#pragma once

#include <cstdint>
#include <string>

#include "hourglass/layers/layer.hpp"
#include "hourglass/layers/parameters.hpp"

namespace hg {

template <class B, class Spec>
class model {
public:
    using T = typename B::scalar;
    using tensor_type = basic_tensor<T>;
    using network_type = typename Spec::template bind<B>;

    model(B& be, const shape& input_sample, std::uint64_t seed, std::string name = "model")
        : be_(be), name_(std::move(name)), in_(input_sample) {
        layer_builder builder(name_);
        out_ = net_.build(builder, input_sample);
        params_ = parameters<B>(be_, builder.take_layout(), seed);
        net_.bind(params_);
    }
    model(const model&) = delete;
    model& operator=(const model&) = delete;

    const std::string& name() const { return name_; }
    const shape& input_shape() const { return in_; }
    const shape& output_shape() const { return out_; }
    std::int64_t parameter_count() const { return params_.count(); }
    const parameters<B>& params() const { return params_; }
    B& backend() const { return be_; }
    network_type& network() { return net_; }

    /// Runs the network on x ([N] + input shape) and returns the output (valid until the next forward).
    const tensor_type& forward(const tensor_type& x) {
        detail::check_layer_input(x, in_, name_, "input");
        const shape out = detail::with_batch(x.shape()[0], out_);
        if (!y_.defined() || y_.shape() != out) y_ = be_.empty(out);
        x_ = x;
        net_.forward(be_, x_, y_);
        return y_;
    }

    /// Back-propagates dy (the loss gradient w.r.t. the last forward's output): adds into the
    /// parameter gradients; when `want_input_grad`, also writes and returns dL/dx.
    const tensor_type& backward(const tensor_type& dy, bool want_input_grad = false) {
        if (!x_.defined()) throw error(name_ + ": backward called before forward");
        detail::check_layer_input(dy, out_, name_, "output gradient");
        if (dy.shape() != y_.shape())
            throw shape_error(name_ + ": output gradient has shape " + dy.shape().str() + ", expected " +
                              y_.shape().str() + " (the last forward's output)");
        if (want_input_grad && (!dx_.defined() || dx_.shape() != x_.shape())) dx_ = be_.empty(x_.shape());
        net_.backward(be_, x_, y_, dy, want_input_grad ? &dx_ : nullptr);
        return want_input_grad ? dx_ : empty_;
    }

    void zero_grad() { params_.zero_grad(be_); }

private:
    B& be_;
    std::string name_;
    shape in_, out_;
    network_type net_;
    parameters<B> params_;
    tensor_type x_, y_, dx_, empty_;
};

}  // namespace hg
