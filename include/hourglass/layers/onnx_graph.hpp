// hg::onnx_emit: appends the forward pass of a built layer (or a whole hg::model) to an ONNX graph
// (io/onnx.hpp), with its parameters as initializers named like the library's parameters
// ("encoder/0:sequential/0:conv2d<128, 5, 2>.w").
//
// Layouts: the library's activations are NHWC, ONNX's Conv, DepthToSpace and SpaceToDepth work on
// NCHW. Images therefore travel through the graph in NCHW; an onnx_value records which layout its
// tensor has, and a Transpose is inserted only where the layout must change (the network input,
// before a Flatten / Reshape / Dense that reads the NHWC element order, after a Reshape that makes
// an image, and at the output). Per layer:
//   conv2d<F, K, S>   Conv (NCHW), filter KRSC -> OIHW, pads K/2 on every side, strides S
//   dense<U>          [Transpose to NHWC +] Flatten, Gemm(x, W, b, transB = 1) (W is [U, in])
//   leaky_relu / relu / sigmoid / tanh   LeakyRelu(alpha) / Relu / Sigmoid / Tanh (any layout)
//   pixel_shuffle     DepthToSpace(blocksize 2, mode DCR): TensorFlow's depth-to-space order, out
//                     channel c of sub-pixel (dy, dx) <- in channel (dy * 2 + dx) * C + c
//   pixel_unshuffle   SpaceToDepth(blocksize 2), the inverse of DCR
//   flatten / reshape [Transpose to NHWC +] Flatten or Reshape to [-1, dims...] (+ Transpose to
//                     NCHW when the result is an image)
//   residual<F>       Conv, LeakyRelu 0.2, Conv, Add(skip), LeakyRelu 0.2
//   pixel_norm        x * 1 / Sqrt(mean(x * x) + 1e-6) per sample, the mean as a MatMul of the
//                     flattened squares with a 1/F column (opset-independent: ReduceMean moved its
//                     axes from an attribute to an input at opset 18), reshaped to broadcast
//   concat_branches   both branches on the same input, Concat on the channel (NCHW axis 1) or
//                     feature axis
//   sequential        its layers in order
// A layer type not listed fails to compile (no silent gap in an exported model).
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/shape.hpp"
#include "hourglass/io/onnx.hpp"
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

/// A tensor of the graph being built: its name, its per-sample shape in the library's terms
/// ([H, W, C] or [F]) and, for images, whether the graph holds it as NCHW.
struct onnx_value {
    std::string name;
    shape sample;
    bool nchw = false;
    bool is_image() const { return sample.rank() == 3; }
};

/// The graph under construction and the backend that holds the parameters (copied to the host).
template <class B>
struct onnx_context {
    io::onnx::graph_builder& graph;
    const B& backend;
};

namespace detail {

template <class L>
struct onnx_mapping;  // no generic definition: every layer type is listed below

template <class B, class L>
onnx_value onnx_layer(onnx_context<B>& cx, L& layer, const onnx_value& in, const std::string& path) {
    return onnx_mapping<L>::emit(cx, layer, in, path);
}

/// Host floats of a backend tensor.
template <class B, class T>
std::vector<float> host_floats(const B& be, const basic_tensor<T>& t) {
    const auto h = be.to_host(t);
    std::vector<float> v(static_cast<std::size_t>(h.numel()));
    for (std::int64_t i = 0; i < h.numel(); ++i) v[static_cast<std::size_t>(i)] = static_cast<float>(h.data()[i]);
    return v;
}

inline onnx_value onnx_transpose(io::onnx::graph_builder& g, const onnx_value& v, bool to_nchw,
                                 const std::string& out_name = {}) {
    onnx_value out{out_name.empty() ? g.fresh(to_nchw ? "nchw" : "nhwc") : out_name, v.sample, to_nchw};
    g.node("Transpose", {v.name}, {out.name},
           {io::onnx::attribute::integers("perm", to_nchw ? std::vector<std::int64_t>{0, 3, 1, 2}
                                                          : std::vector<std::int64_t>{0, 2, 3, 1})});
    return out;
}

/// v as NCHW (images) / unchanged (vectors).
inline onnx_value as_nchw(io::onnx::graph_builder& g, const onnx_value& v) {
    return v.is_image() && !v.nchw ? onnx_transpose(g, v, true) : v;
}
/// v in the library's NHWC element order.
inline onnx_value as_nhwc(io::onnx::graph_builder& g, const onnx_value& v) {
    return v.is_image() && v.nchw ? onnx_transpose(g, v, false) : v;
}

/// Conv of a built conv2d layer on an NCHW image.
template <class B, class L>
onnx_value onnx_conv(onnx_context<B>& cx, const L& conv, const onnx_value& in, const std::string& path) {
    auto& g = cx.graph;
    const onnx_value x = as_nchw(g, in);
    const math::conv2d_dims& d = conv.dims();
    // KRSC -> OIHW: w_oihw[k, c, r, s] = w_krsc[k, r, s, c].
    const auto krsc = host_floats(cx.backend, conv.weight());
    std::vector<float> oihw(krsc.size());
    for (std::int64_t k = 0; k < d.k; ++k)
        for (std::int64_t r = 0; r < d.r; ++r)
            for (std::int64_t s = 0; s < d.r; ++s)
                for (std::int64_t c = 0; c < d.c; ++c)
                    oihw[static_cast<std::size_t>(((k * d.c + c) * d.r + r) * d.r + s)] =
                        krsc[static_cast<std::size_t>(((k * d.r + r) * d.r + s) * d.c + c)];
    const std::string w = g.initializer(path + ".w", {d.k, d.c, d.r, d.r}, oihw);
    const std::string b = g.initializer(path + ".b", {d.k}, host_floats(cx.backend, conv.bias()));
    onnx_value out{g.fresh("conv"), shape{d.oh, d.ow, d.k}, true};
    g.node("Conv", {x.name, w, b}, {out.name},
           {io::onnx::attribute::integers("kernel_shape", {d.r, d.r}),
            io::onnx::attribute::integers("strides", {d.stride, d.stride}),
            io::onnx::attribute::integers("pads", {d.pad, d.pad, d.pad, d.pad}),
            io::onnx::attribute::integers("dilations", {1, 1}), io::onnx::attribute::integer("group", 1)});
    return out;
}

inline onnx_value onnx_unary(io::onnx::graph_builder& g, const char* op, const onnx_value& in,
                             const std::vector<io::onnx::attribute>& attrs = {}) {
    onnx_value out{g.fresh(op), in.sample, in.nchw};
    g.node(op, {in.name}, {out.name}, attrs);
    return out;
}

inline onnx_value onnx_leaky_relu(io::onnx::graph_builder& g, float slope, const onnx_value& in) {
    return onnx_unary(g, "LeakyRelu", in, {io::onnx::attribute::real("alpha", slope)});
}

template <class B, int Filters, int Kernel, int Stride, initializer Init>
struct onnx_mapping<conv2d_layer<B, Filters, Kernel, Stride, Init>> {
    template <class Cx>
    static onnx_value emit(Cx& cx, conv2d_layer<B, Filters, Kernel, Stride, Init>& l, const onnx_value& in,
                           const std::string& path) {
        return onnx_conv(cx, l, in, path);
    }
};

template <class B, int Units>
struct onnx_mapping<dense_layer<B, Units>> {
    template <class Cx>
    static onnx_value emit(Cx& cx, dense_layer<B, Units>& l, const onnx_value& in, const std::string& path) {
        auto& g = cx.graph;
        onnx_value x = in;
        if (x.sample.rank() != 1) {  // the library reads any per-sample shape as its NHWC elements
            x = as_nhwc(g, x);
            onnx_value flat{g.fresh("flatten"), shape{x.sample.numel()}, false};
            g.node("Flatten", {x.name}, {flat.name}, {io::onnx::attribute::integer("axis", 1)});
            x = flat;
        }
        const std::int64_t features = x.sample[0];
        const std::string w = g.initializer(path + ".w", {Units, features}, host_floats(cx.backend, l.weight()));
        const std::string b = g.initializer(path + ".b", {Units}, host_floats(cx.backend, l.bias()));
        onnx_value out{g.fresh("dense"), shape{Units}, false};
        g.node("Gemm", {x.name, w, b}, {out.name}, {io::onnx::attribute::integer("transB", 1)});
        return out;
    }
};

template <class B, class Fn>
struct onnx_mapping<activation_layer<B, Fn>> {
    template <class Cx>
    static onnx_value emit(Cx& cx, activation_layer<B, Fn>& l, const onnx_value& in, const std::string&) {
        if constexpr (std::is_same_v<Fn, math::leaky_relu_fn>) return onnx_leaky_relu(cx.graph, l.fn().slope, in);
        else if constexpr (std::is_same_v<Fn, math::relu_fn>) return onnx_unary(cx.graph, "Relu", in);
        else if constexpr (std::is_same_v<Fn, math::sigmoid_fn>) return onnx_unary(cx.graph, "Sigmoid", in);
        else if constexpr (std::is_same_v<Fn, math::tanh_fn>) return onnx_unary(cx.graph, "Tanh", in);
        else static_assert(sizeof(Fn) == 0, "onnx_emit: no ONNX mapping for this activation");
    }
};

template <class B, float Slope>
struct onnx_mapping<leaky_relu_layer<B, Slope>> {
    template <class Cx>
    static onnx_value emit(Cx& cx, leaky_relu_layer<B, Slope>&, const onnx_value& in, const std::string&) {
        return onnx_leaky_relu(cx.graph, Slope, in);
    }
};

template <class B, bool ToSpace>
struct onnx_mapping<pixel_shuffle_layer<B, ToSpace>> {
    template <class Cx>
    static onnx_value emit(Cx& cx, pixel_shuffle_layer<B, ToSpace>&, const onnx_value& in, const std::string&) {
        auto& g = cx.graph;
        const onnx_value x = as_nchw(g, in);
        const shape& s = x.sample;
        if constexpr (ToSpace) {
            onnx_value out{g.fresh("depth_to_space"), shape{s[0] * 2, s[1] * 2, s[2] / 4}, true};
            g.node("DepthToSpace", {x.name}, {out.name},
                   {io::onnx::attribute::integer("blocksize", 2), io::onnx::attribute::text("mode", "DCR")});
            return out;
        } else {
            onnx_value out{g.fresh("space_to_depth"), shape{s[0] / 2, s[1] / 2, s[2] * 4}, true};
            g.node("SpaceToDepth", {x.name}, {out.name}, {io::onnx::attribute::integer("blocksize", 2)});
            return out;
        }
    }
};

template <class B, bool Flatten, int... Dims>
struct onnx_mapping<reshape_layer<B, Flatten, Dims...>> {
    template <class Cx>
    static onnx_value emit(Cx& cx, reshape_layer<B, Flatten, Dims...>&, const onnx_value& in, const std::string&) {
        auto& g = cx.graph;
        const onnx_value x = as_nhwc(g, in);
        if constexpr (Flatten) {
            onnx_value out{g.fresh("flatten"), shape{x.sample.numel()}, false};
            g.node("Flatten", {x.name}, {out.name}, {io::onnx::attribute::integer("axis", 1)});
            return out;
        } else {
            const std::string target = g.int64_initializer("reshape_shape", {-1, std::int64_t{Dims}...});
            onnx_value out{g.fresh("reshape"), shape{Dims...}, false};
            g.node("Reshape", {x.name, target}, {out.name});
            return as_nchw(g, out);
        }
    }
};

template <class B, int Filters>
struct onnx_mapping<residual_layer<B, Filters>> {
    template <class Cx>
    static onnx_value emit(Cx& cx, residual_layer<B, Filters>& l, const onnx_value& in, const std::string& path) {
        auto& g = cx.graph;
        const onnx_value x = as_nchw(g, in);
        const onnx_value h = onnx_leaky_relu(g, 0.2f, onnx_conv(cx, l.first(), x, path + "/conv1"));
        const onnx_value c = onnx_conv(cx, l.second(), h, path + "/conv2");
        onnx_value sum{g.fresh("add"), x.sample, true};
        g.node("Add", {c.name, x.name}, {sum.name});
        return onnx_leaky_relu(g, 0.2f, sum);
    }
};

template <class B>
struct onnx_mapping<pixel_norm_layer<B>> {
    template <class Cx>
    static onnx_value emit(Cx& cx, pixel_norm_layer<B>&, const onnx_value& in, const std::string& path) {
        auto& g = cx.graph;
        const std::int64_t f = in.sample.numel();
        const std::string sq = g.fresh("square"), flat = g.fresh("flatten"), ms = g.fresh("mean_square");
        g.node("Mul", {in.name, in.name}, {sq});
        g.node("Flatten", {sq}, {flat}, {io::onnx::attribute::integer("axis", 1)});
        const std::string column =
            g.initializer(path + ".mean_column", {f, 1}, std::vector<float>(static_cast<std::size_t>(f), 1.0f / float(f)));
        g.node("MatMul", {flat, column}, {ms});
        const std::string eps = g.initializer(path + ".epsilon", {1}, {static_cast<float>(ops::pixel_norm_epsilon)});
        const std::string shifted = g.fresh("shifted"), root = g.fresh("rms"), inv = g.fresh("inv_rms");
        g.node("Add", {ms, eps}, {shifted});
        g.node("Sqrt", {shifted}, {root});
        g.node("Reciprocal", {root}, {inv});
        std::vector<std::int64_t> dims{-1};
        for (int i = 0; i < in.sample.rank(); ++i) dims.push_back(1);
        const std::string target = g.int64_initializer("broadcast_shape", dims), r = g.fresh("inv_rms_b");
        g.node("Reshape", {inv, target}, {r});
        onnx_value out{g.fresh("pixel_norm"), in.sample, in.nchw};
        g.node("Mul", {in.name, r}, {out.name});
        return out;
    }
};

template <class B, class First, class Second>
struct onnx_mapping<concat_branches_layer<B, First, Second>> {
    template <class Cx>
    static onnx_value emit(Cx& cx, concat_branches_layer<B, First, Second>& l, const onnx_value& in,
                           const std::string& path) {
        auto& g = cx.graph;
        onnx_value a = onnx_layer(cx, l.first(), in, path + "/0:" + First::type_name());
        onnx_value b = onnx_layer(cx, l.second(), in, path + "/1:" + Second::type_name());
        const int r = a.sample.rank();
        std::int64_t axis = r;  // the last axis of [N, F] / [N, H, W, C]
        if (a.is_image()) {
            a = as_nchw(g, a), b = as_nchw(g, b);
            axis = 1;
        }
        const shape joined = r == 1 ? shape{a.sample[0] + b.sample[0]}
                                    : shape{a.sample[0], a.sample[1], a.sample[2] + b.sample[2]};
        onnx_value out{g.fresh("concat"), joined, a.nchw};
        g.node("Concat", {a.name, b.name}, {out.name}, {io::onnx::attribute::integer("axis", axis)});
        return out;
    }
};

template <class B, class... Specs>
struct onnx_mapping<sequential_layer<B, Specs...>> {
    template <class Cx>
    static onnx_value emit(Cx& cx, sequential_layer<B, Specs...>& s, const onnx_value& in, const std::string& path) {
        return each(cx, s, in, path, std::index_sequence_for<Specs...>{});
    }
    template <class Cx, std::size_t... I>
    static onnx_value each(Cx& cx, sequential_layer<B, Specs...>& s, const onnx_value& in, const std::string& path,
                           std::index_sequence<I...>) {
        onnx_value v = in;
        ((v = onnx_layer(cx, s.template layer<I>(), v,
                         path + "/" + std::to_string(I) + ":" +
                             std::tuple_element_t<I, std::tuple<Specs...>>::type_name())),
         ...);
        return v;
    }
};

}  // namespace detail

/// Appends model m's forward pass to cx.graph, reading `in` (a value whose per-sample shape must be
/// m's input shape); returns the output value (NCHW for images: call detail::as_nhwc for the
/// library's layout). Initializers are named after m's parameters.
template <class B, class Spec>
onnx_value onnx_emit(onnx_context<B>& cx, model<B, Spec>& m, const onnx_value& in) {
    if (in.sample != m.input_shape())
        throw shape_error(m.name() + ": ONNX export input has per-sample shape " + in.sample.str() + ", the model " +
                          m.input_shape().str());
    return detail::onnx_layer(cx, m.network(), in, m.name());
}

}  // namespace hg
