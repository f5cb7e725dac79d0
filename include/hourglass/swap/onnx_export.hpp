// hg::swap::export_onnx: the swap path of a face-swap model - the shared encoder and the decoder of
// one identity (for LIAE: the encoder, that identity's inters and the shared decoder) - as an ONNX
// model (io/onnx.hpp, layers/onnx_graph.hpp) for other runtimes.
//
// Graph interface, in the library's NHWC layout and value range (RGB in [0, 1]):
//   input  "face"     float [batch, in, in, 3]   (a face crop at the architecture's input size)
//   output "swapped"  float [batch, out, out, 3] (the face decoded by the chosen decoder)
//   output "mask"     float [batch, out, out, 1] (only for models with a mask head: channel 3 of
//                                                 the decoder's output, split off with Slice)
// batch is the symbolic dimension "batch" (any size at run time) or a fixed extent. Inside, the
// graph is NCHW (a Transpose after the input and before the outputs). metadata_props record the
// architecture, the decoder and the input and output sizes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/data/image_io.hpp"
#include "hourglass/io/onnx.hpp"
#include "hourglass/layers/onnx_graph.hpp"
#include "hourglass/swap/liae_model.hpp"
#include "hourglass/swap/swap_model.hpp"

namespace hg::swap {

struct onnx_export_options {
    int opset = io::onnx::default_opset;  ///< io::onnx::min_opset .. max_opset
    std::int64_t batch = 0;               ///< 0: dynamic ("batch"); else this fixed batch size
    std::string producer_version = "0.1.0";
};

namespace detail {

/// The graph around a model's swap path: the "face" input, emit(cx, face) for the path (returns the
/// decoder's output value), the "swapped" (and "mask") outputs and the metadata; `path` names the
/// networks used ("encoder + decoder_b").
template <class Arch, bool Mask, class B, class Emit>
std::string export_swap_graph(const B& be, const std::string& path, const std::string& decoder,
                              const onnx_export_options& o, Emit&& emit) {
    io::onnx::graph_builder g(std::string("hourglass ") + Arch::name + " " + path);
    onnx_context<B> cx{g, be};
    const io::onnx::dim batch = o.batch > 0 ? io::onnx::dim{o.batch} : io::onnx::dim{std::string("batch")};
    const std::int64_t in = Arch::input, out = Arch::output;
    g.input("face", {batch, in, in, std::int64_t{3}});
    const onnx_value y = emit(cx, onnx_value{"face", shape{in, in, 3}, false});
    if constexpr (Mask) {
        const onnx_value nhwc = hg::detail::as_nhwc(g, y);
        const std::string axes = g.int64_initializer("channel_axis", {3});
        g.node("Slice", {nhwc.name, g.int64_initializer("face_start", {0}), g.int64_initializer("face_end", {3}), axes},
               {"swapped"});
        g.node("Slice", {nhwc.name, g.int64_initializer("mask_start", {3}), g.int64_initializer("mask_end", {4}), axes},
               {"mask"});
        g.output("swapped", {batch, out, out, std::int64_t{3}});
        g.output("mask", {batch, out, out, std::int64_t{1}});
    } else {
        if (y.nchw) hg::detail::onnx_transpose(g, y, false, "swapped");
        else g.node("Identity", {y.name}, {"swapped"});
        g.output("swapped", {batch, out, out, std::int64_t{3}});
    }
    return g.model(o.opset, "hourglass", o.producer_version,
                   {{"architecture", Arch::name},
                    {"mask", Mask ? "true" : "false"},
                    {"decoder", decoder},
                    {"layout", "NHWC, RGB in [0, 1]"},
                    {"input_size", std::to_string(in)},
                    {"output_size", std::to_string(out)}});
}

inline void check_export_options(const onnx_export_options& o) {
    (void)io::onnx::ir_version_for(o.opset);  // checks the opset before any work
    if (o.batch < 0) throw value_error("ONNX export: the batch size must be >= 1 or dynamic, got " + std::to_string(o.batch));
}

}  // namespace detail

/// The ONNX model (serialised ModelProto) of encoder + decoder `decoder_side` of m. value_error for
/// an unsupported opset, a negative batch or a side out of range.
template <class B, class Arch, bool Mask, int K>
std::string export_onnx(swap_model<B, Arch, Mask, K>& m, int decoder_side, const onnx_export_options& o = {}) {
    detail::check_export_options(o);
    auto& decoder = m.decoder(decoder_side);  // value_error for a side out of range
    return detail::export_swap_graph<Arch, Mask>(m.backend(), m.swap_path(decoder_side), "decoder_" + side_name(decoder_side), o,
                                                 [&](onnx_context<B>& cx, const onnx_value& face) {
                                                     return onnx_emit(cx, decoder, onnx_emit(cx, m.encoder(), face));
                                                 });
}

/// The same for a LIAE model decoding as identity `side` (liae_model.hpp): encoder, the inters of
/// that identity's code, their Concat on the channels, the shared decoder. The "decoder" metadata
/// names the code ("inter_a|inter_ab" or "inter_ab|inter_ab").
template <class B, class Arch, bool Mask, int K>
std::string export_onnx(liae_model<B, Arch, Mask, K>& m, int side, const onnx_export_options& o = {}) {
    detail::check_export_options(o);
    if (side < 0 || side > 1) throw value_error("ONNX export: side " + std::to_string(side) + " is out of [0, 2)");
    const std::string code = side == 0 ? "inter_a|inter_ab" : "inter_ab|inter_ab";
    return detail::export_swap_graph<Arch, Mask>(
        m.backend(), m.swap_path(side), "decoder(" + code + ")", o,
        [&](onnx_context<B>& cx, const onnx_value& face) {
            auto& g = cx.graph;
            const onnx_value e = onnx_emit(cx, m.encoder(), face);
            const onnx_value ab = hg::detail::as_nchw(g, onnx_emit(cx, m.inter_ab(), e));
            const onnx_value first = side == 0 ? hg::detail::as_nchw(g, onnx_emit(cx, m.inter_a(), e)) : ab;
            onnx_value joined{g.fresh("code"), shape{ab.sample[0], ab.sample[1], 2 * ab.sample[2]}, true};
            g.node("Concat", {first.name, ab.name}, {joined.name}, {io::onnx::attribute::integer("axis", 1)});
            return onnx_emit(cx, m.decoder(), joined);
        });
}

/// Writes `model_bytes` to `path` atomically (temporary file in the same folder, fsync, rename):
/// a failed write leaves any previous file as it was. io_error naming the path on failure.
inline void write_onnx_file(const std::filesystem::path& path, const std::string& model_bytes) {
    data::write_file_atomic(path, std::vector<unsigned char>(model_bytes.begin(), model_bytes.end()));
}

}  // namespace hg::swap
