// hg::layer_memory: the backend buffers a built layer (or hg::model) holds for training on a batch
// of N, counted from its per-sample shapes, in elements - without allocating anything (a layer that
// was built but never bound or run answers too, so a model can be sized before it exists):
//   sequential    an activation and an activation-gradient buffer at every boundary between its
//                 layers ([N] + the sample shape after layer i, i = 1 .. size - 1), plus its layers'
//   residual<F>   the six [N, H, W, F] buffers of residual_layer (a, h, c, s kept from forward;
//                 ds, dh for backward)
//   concat_branches  each branch's output and output gradient ([N] + its output shape), the
//                 second branch's input gradient ([N] + the input shape), plus its branches'
//   pixel_norm    its [N] inverse root mean squares
//   model         its output buffer (activations) and, when the input gradient is asked for (a
//                 decoder feeding the encoder's backward), the input-gradient buffer
//   conv2d, dense, activations, pixel shuffle, reshape: nothing of their own (they write into the
//                 buffers of the enclosing sequential)
// and the CPU backend's scratch (cpu_backend::scratch): the largest that one convolution of the
// layer asks for (cpu_impl::conv2d_scratch_elements: im2col chunks, tiles or Winograd transforms).
// A layer type not listed fails to compile.
#pragma once

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <utility>

#include "hourglass/core/shape.hpp"
#include "hourglass/cpu/conv2d_winograd.hpp"
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

/// Elements of the buffers a layer holds for one training step on a batch (see the file comment).
struct layer_memory {
    std::int64_t activations = 0;  ///< forward values kept for backward
    std::int64_t gradients = 0;    ///< activation gradients of backward
    std::int64_t cpu_scratch = 0;  ///< the largest cpu_backend::scratch request (not a sum)

    layer_memory& operator+=(const layer_memory& o) {
        activations += o.activations;
        gradients += o.gradients;
        cpu_scratch = std::max(cpu_scratch, o.cpu_scratch);
        return *this;
    }
};

namespace detail {

template <class L>
struct memory_counter;  // no generic definition: every layer type is listed below

template <class L, class T>
layer_memory layer_memory_of(L& layer, const shape& in, std::int64_t n, const cpu_backend<T>& be) {
    return memory_counter<L>::count(layer, in, n, be);
}

template <class Conv, class T>
std::int64_t conv_scratch(const Conv& conv, std::int64_t n, const cpu_backend<T>& be) {
    math::conv2d_dims d = conv.dims();
    d.n = n;
    return cpu_impl::conv2d_scratch_elements(be, d);
}

/// Layers with no buffers of their own.
struct no_memory {
    template <class L, class T>
    static layer_memory count(L&, const shape&, std::int64_t, const cpu_backend<T>&) {
        return {};
    }
};

template <class B, int Filters, int Kernel, int Stride, initializer Init>
struct memory_counter<conv2d_layer<B, Filters, Kernel, Stride, Init>> {
    template <class T>
    static layer_memory count(conv2d_layer<B, Filters, Kernel, Stride, Init>& l, const shape&, std::int64_t n,
                              const cpu_backend<T>& be) {
        layer_memory m;
        m.cpu_scratch = conv_scratch(l, n, be);
        return m;
    }
};

template <class B, int Units>
struct memory_counter<dense_layer<B, Units>> : no_memory {};
template <class B, class Fn>
struct memory_counter<activation_layer<B, Fn>> : no_memory {};
template <class B, float Slope>
struct memory_counter<leaky_relu_layer<B, Slope>> : no_memory {};
template <class B, bool ToSpace>
struct memory_counter<pixel_shuffle_layer<B, ToSpace>> : no_memory {};
template <class B, bool Flatten, int... Dims>
struct memory_counter<reshape_layer<B, Flatten, Dims...>> : no_memory {};

template <class B>
struct memory_counter<pixel_norm_layer<B>> {
    template <class T>
    static layer_memory count(pixel_norm_layer<B>&, const shape&, std::int64_t n, const cpu_backend<T>&) {
        layer_memory m;
        m.activations = n;
        return m;
    }
};

template <class B, class First, class Second>
struct memory_counter<concat_branches_layer<B, First, Second>> {
    template <class T>
    static layer_memory count(concat_branches_layer<B, First, Second>& l, const shape& in, std::int64_t n,
                              const cpu_backend<T>& be) {
        layer_memory m;
        m.activations = n * (l.first_shape().numel() + l.second_shape().numel());
        m.gradients = n * (l.first_shape().numel() + l.second_shape().numel() + in.numel());
        m += layer_memory_of(l.first(), in, n, be);
        m += layer_memory_of(l.second(), in, n, be);
        return m;
    }
};

template <class B, int Filters>
struct memory_counter<residual_layer<B, Filters>> {
    template <class T>
    static layer_memory count(residual_layer<B, Filters>& l, const shape& in, std::int64_t n, const cpu_backend<T>& be) {
        layer_memory m;
        m.activations = 4 * n * in.numel();  // a, h, c, s
        m.gradients = 2 * n * in.numel();    // ds, dh
        m.cpu_scratch = std::max(conv_scratch(l.first(), n, be), conv_scratch(l.second(), n, be));
        return m;
    }
};

template <class B, class... Specs>
struct memory_counter<sequential_layer<B, Specs...>> {
    template <class T>
    static layer_memory count(sequential_layer<B, Specs...>& s, const shape&, std::int64_t n, const cpu_backend<T>& be) {
        layer_memory m;
        for (std::size_t i = 1; i < sizeof...(Specs); ++i) {
            m.activations += n * s.sample_shape(i).numel();
            m.gradients += n * s.sample_shape(i).numel();
        }
        each(s, n, be, m, std::index_sequence_for<Specs...>{});
        return m;
    }
    template <class T, std::size_t... I>
    static void each(sequential_layer<B, Specs...>& s, std::int64_t n, const cpu_backend<T>& be, layer_memory& m,
                     std::index_sequence<I...>) {
        ((m += layer_memory_of(s.template layer<I>(), s.sample_shape(I), n, be)), ...);
    }
};

}  // namespace detail

/// The buffers of a built network (a bound layer of any backend, built for per-sample input
/// `input`) for a training step on `batch` samples, plus the model's own output buffer and, with
/// `input_gradient`, its input-gradient buffer. `be` gives the thread count and conv algorithm
/// the CPU scratch depends on.
template <class Network, class T>
layer_memory network_memory(Network& net, const shape& input, const shape& output, std::int64_t batch,
                            bool input_gradient, const cpu_backend<T>& be) {
    layer_memory m = detail::layer_memory_of(net, input, batch, be);
    m.activations += batch * output.numel();
    if (input_gradient) m.gradients += batch * input.numel();
    return m;
}

}  // namespace hg
