// hg::forward_flops: the floating-point operations of a model's forward pass, counted from its
// built layers (each layer's per-sample input shape is known once the model is built):
//   conv2d   2 * N * OH * OW * K * C * R * S   (one multiply and one add per weight tap)
//   dense    2 * N * in * out
//   residual its two 3x3 convolutions (F -> F at the block's H x W)
//   concat_branches  the sum of its two branches
// Activations, bias additions, reshapes, pixel shuffles, pixel norms, the branch join and the
// residual skip add are elementwise:
// well under 1% of these totals for the face-swap models, and not counted. A layer type this file
// does not know fails to compile rather than being counted as zero.
// A training step (forward, input-gradient and weight-gradient passes) is conventionally counted
// as 3x the forward FLOPs: each backward GEMM has the shape of the forward one.
#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <utility>

#include "hourglass/core/error.hpp"
#include "hourglass/core/shape.hpp"
#include "hourglass/layers/activation.hpp"
#include "hourglass/layers/concat_branches.hpp"
#include "hourglass/layers/conv2d.hpp"
#include "hourglass/layers/dense.hpp"
#include "hourglass/layers/model.hpp"
#include "hourglass/layers/pixel_norm.hpp"
#include "hourglass/layers/pixel_shuffle.hpp"
#include "hourglass/layers/reshape.hpp"
#include "hourglass/layers/residual.hpp"
#include "hourglass/layers/sequential.hpp"

namespace hg {

namespace detail {

template <class L>
struct flop_counter;  // no generic definition: every layer type is listed below

/// Forward FLOPs of one sample through a built layer whose per-sample input shape is `in`.
template <class L>
double layer_flops(L& layer, const shape& in) {
    return flop_counter<L>::per_sample(layer, in);
}

template <class B, int Filters, int Kernel, int Stride, initializer Init>
struct flop_counter<conv2d_layer<B, Filters, Kernel, Stride, Init>> {
    static double per_sample(conv2d_layer<B, Filters, Kernel, Stride, Init>& l, const shape&) {
        math::conv2d_dims d = l.dims();
        d.n = 1;
        return d.flops();
    }
};

template <class B, int Units>
struct flop_counter<dense_layer<B, Units>> {
    static double per_sample(dense_layer<B, Units>&, const shape& in) {
        return 2.0 * static_cast<double>(in.numel()) * static_cast<double>(Units);
    }
};

template <class B, int Filters>
struct flop_counter<residual_layer<B, Filters>> {
    static double per_sample(residual_layer<B, Filters>&, const shape& in) {
        // Two stride-1 3x3 convolutions F -> F keep the H x W of the input.
        const math::conv2d_dims d = math::conv2d_dims::make(1, in[0], in[1], Filters, Filters, 3, 1);
        return 2.0 * d.flops();
    }
};

template <class B, class Fn>
struct flop_counter<activation_layer<B, Fn>> {
    static double per_sample(activation_layer<B, Fn>&, const shape&) { return 0.0; }
};

template <class B, float Slope>
struct flop_counter<leaky_relu_layer<B, Slope>> {
    static double per_sample(leaky_relu_layer<B, Slope>&, const shape&) { return 0.0; }
};

template <class B, bool ToSpace>
struct flop_counter<pixel_shuffle_layer<B, ToSpace>> {
    static double per_sample(pixel_shuffle_layer<B, ToSpace>&, const shape&) { return 0.0; }
};

template <class B>
struct flop_counter<pixel_norm_layer<B>> {
    static double per_sample(pixel_norm_layer<B>&, const shape&) { return 0.0; }
};

template <class B, class First, class Second>
struct flop_counter<concat_branches_layer<B, First, Second>> {
    static double per_sample(concat_branches_layer<B, First, Second>& l, const shape& in) {
        return layer_flops(l.first(), in) + layer_flops(l.second(), in);
    }
};

template <class B, bool Flatten, int... Dims>
struct flop_counter<reshape_layer<B, Flatten, Dims...>> {
    static double per_sample(reshape_layer<B, Flatten, Dims...>&, const shape&) { return 0.0; }
};

template <class B, class... Specs>
struct flop_counter<sequential_layer<B, Specs...>> {
    static double per_sample(sequential_layer<B, Specs...>& s, const shape&) {
        return sum(s, std::index_sequence_for<Specs...>{});
    }
    template <std::size_t... I>
    static double sum(sequential_layer<B, Specs...>& s, std::index_sequence<I...>) {
        return (0.0 + ... + layer_flops(s.template layer<I>(), s.sample_shape(I)));
    }
};

}  // namespace detail

/// Forward-pass FLOPs of model m on a batch of `batch` samples (see the file comment for what
/// is counted). value_error for a batch < 1.
template <class B, class Spec>
double forward_flops(model<B, Spec>& m, std::int64_t batch) {
    if (batch < 1) throw value_error(m.name() + ": forward_flops needs a batch >= 1, got " + std::to_string(batch));
    return static_cast<double>(batch) * detail::layer_flops(m.network(), m.input_shape());
}

/// FLOPs of one training step of model m on `batch` samples: 3x the forward pass (forward, then
/// the backward's input-gradient and weight-gradient passes, each as costly as the forward).
template <class B, class Spec>
double training_flops(model<B, Spec>& m, std::int64_t batch) {
    return 3.0 * forward_flops(m, batch);
}

}  // namespace hg
