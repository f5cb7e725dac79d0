// hg::sequential<Layers...>: runs layer specs one after another, and is itself a layer spec, so
// blocks nest (an encoder is a sequential of convolutions, dense layers and an upscale block).
// It owns the activations between its layers and their gradients, allocated on the backend for
// the batch size of the last forward call and reused while it stays the same.
// A convolution directly followed by an activation runs fused in forward: the convolution without
// bias, then one pass adding the bias and applying the activation (the two buffers hold exactly
// what the unfused layers would write, so backward is the same).
// While a layer profile is active on the calling thread (layers/layer_profile.hpp), each leaf
// layer's forward and backward call is timed into it.
#pragma once

#include <array>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "hourglass/layers/layer.hpp"
#include "hourglass/layers/layer_profile.hpp"

namespace hg {

template <class B, class... Specs>
class sequential_layer;

namespace detail {

template <class L>
struct flop_counter;  // layers/flops.hpp, included at the end of this file

template <class B, class... Specs>
inline constexpr bool is_container_layer<sequential_layer<B, Specs...>> = true;

/// Forward FLOPs of one sample through layer l (0 for a layer type flops.hpp does not count).
template <class L>
double profiled_flops(L& l, const shape& in) {
    if constexpr (requires { flop_counter<L>::per_sample(l, in); })
        return flop_counter<L>::per_sample(l, in);
    else
        return 0.0;
}

}  // namespace detail

template <class B, class... Specs>
class sequential_layer {
public:
    using T = typename B::scalar;
    using tensor_type = basic_tensor<T>;
    static constexpr std::size_t size = sizeof...(Specs);
    static_assert(size >= 1, "sequential: give at least one layer");

    shape build(layer_builder& b, const shape& in) {
        name_ = b.path();
        in_ = in;
        samples_[0] = in;
        build_each(b, std::index_sequence_for<Specs...>{});
        return samples_[size];
    }

    void bind(const parameters<B>& p) {
        std::apply([&](auto&... layer) { (layer.bind(p), ...); }, layers_);
    }

    void forward(B& be, const tensor_type& x, const tensor_type& y) {
        detail::check_layer_input(x, in_, name_, "input");
        ensure_buffers(be, x.shape()[0]);
        forward_from<0>(be, x, y);
    }

    void backward(B& be, const tensor_type& x, const tensor_type& y, const tensor_type& dy, const tensor_type* dx) {
        detail::check_layer_input(x, in_, name_, "input");
        if (x.shape()[0] != batch_)
            throw shape_error(name_ + ": backward batch " + x.shape().str() +
                              " differs from the last forward batch " + std::to_string(batch_));
        backward_each<size - 1>(be, x, y, dy, dx);
    }

    /// Per-sample shape after layer i (i = 0 is the input).
    const shape& sample_shape(std::size_t i) const { return samples_.at(i); }
    template <std::size_t I>
    auto& layer() {
        return std::get<I>(layers_);
    }

private:
    template <std::size_t... I>
    void build_each(layer_builder& b, std::index_sequence<I...>) {
        ((build_one<I>(b)), ...);
    }
    template <std::size_t I>
    void build_one(layer_builder& b) {
        using spec = std::tuple_element_t<I, std::tuple<Specs...>>;
        layer_scope scope(b, std::to_string(I) + ":" + spec::type_name());
        paths_[I] = b.path();
        samples_[I + 1] = std::get<I>(layers_).build(b, samples_[I]);
    }

    void ensure_buffers(B& be, std::int64_t n) {
        if (n == batch_) return;
        acts_.clear();
        grads_.clear();
        for (std::size_t i = 1; i < size; ++i) {
            acts_.push_back(be.empty(detail::with_batch(n, samples_[i])));
            grads_.push_back(be.empty(detail::with_batch(n, samples_[i])));
        }
        batch_ = n;
    }
    // Input and output of layer I: the sequential's own x / y at the ends, intermediates between.
    const tensor_type& input_of(std::size_t i, const tensor_type& x) const { return i == 0 ? x : acts_[i - 1]; }
    const tensor_type& output_of(std::size_t i, const tensor_type& y) const { return i + 1 == size ? y : acts_[i]; }

    template <std::size_t I>
    using layer_type = std::tuple_element_t<I, std::tuple<typename Specs::template bind<B>...>>;

    /// Whether layer I is a convolution and layer I + 1 an activation that it can run fused with.
    template <std::size_t I>
    static constexpr bool fused_pair() {
        if constexpr (I + 1 >= size) {
            return false;
        } else {
            return requires { layer_type<I>::fuses_activation; } &&
                   requires(const layer_type<I + 1>& a) { a.fn(); };
        }
    }

    template <std::size_t I>
    void forward_from(B& be, const tensor_type& x, const tensor_type& y) {
        if constexpr (I < size) {
            if constexpr (fused_pair<I>()) {
                timed<I>(be, call::forward, x, [&] {
                    std::get<I>(layers_).forward_fused(be, input_of(I, x), output_of(I, y),
                                                       std::get<I + 1>(layers_).fn(), output_of(I + 1, y));
                });
                if (auto* p = detail::active_layer_profile()) p->mark_fused(paths_[I + 1]);
                forward_from<I + 2>(be, x, y);
            } else {
                timed<I>(be, call::forward, x,
                         [&] { std::get<I>(layers_).forward(be, input_of(I, x), output_of(I, y)); });
                forward_from<I + 1>(be, x, y);
            }
        }
    }

    template <std::size_t I>
    void backward_each(B& be, const tensor_type& x, const tensor_type& y, const tensor_type& dy,
                       const tensor_type* dx) {
        const tensor_type& out_grad = I + 1 == size ? dy : grads_[I];
        const tensor_type* in_grad = I == 0 ? dx : &grads_[I - 1];
        timed<I>(be, in_grad ? call::backward : call::backward_no_input_grad, x,
                 [&] { std::get<I>(layers_).backward(be, input_of(I, x), output_of(I, y), out_grad, in_grad); });
        if constexpr (I > 0) backward_each<I - 1>(be, x, y, dy, dx);
    }

    enum class call { forward, backward, backward_no_input_grad };

    /// Runs f, layer I's call; with a layer profile active on this thread and layer I a leaf,
    /// times it between two backend waits and adds it to the profile. A backward call counts 2x
    /// the forward FLOPs (input and weight gradients), 1x when the input gradient is not wanted.
    template <std::size_t I, class F>
    void timed(B& be, call c, const tensor_type& x, F&& f) {
        layer_profile* p = detail::active_layer_profile();
        if (p == nullptr || detail::is_container_layer<layer_type<I>>) {
            f();
            return;
        }
        detail::wait_for_backend(be);
        const auto start = layer_profile::clock::now();
        f();
        detail::wait_for_backend(be);
        const double seconds = std::chrono::duration<double>(layer_profile::clock::now() - start).count();
        const double forward =
            static_cast<double>(x.shape()[0]) * detail::profiled_flops(std::get<I>(layers_), samples_[I]);
        if (c == call::forward)
            p->add(paths_[I], layer_profile::pass::forward, seconds, forward);
        else
            p->add(paths_[I], layer_profile::pass::backward, seconds, (c == call::backward ? 2.0 : 1.0) * forward);
    }

    std::tuple<typename Specs::template bind<B>...> layers_;
    std::array<shape, size + 1> samples_{};
    std::array<std::string, size> paths_{};
    std::vector<tensor_type> acts_, grads_;
    std::int64_t batch_ = -1;
    std::string name_;
    shape in_;
};

template <class... Specs>
struct sequential {
    static std::string type_name() { return "sequential"; }
    template <class B>
    using bind = sequential_layer<B, Specs...>;
};

}  // namespace hg

// The FLOP counts the layer profile reports (flops.hpp includes this file; pragma once ends the cycle).
#include "hourglass/layers/flops.hpp"
