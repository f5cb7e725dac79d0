// hg::swap::export_onnx: the swap path of a face-swap model - the shared encoder and the decoder of
// one identity - as an ONNX model (io/onnx.hpp, layers/onnx_graph.hpp) for other runtimes.
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
#include "hourglass/swap/swap_model.hpp"

namespace hg::swap {

struct onnx_export_options {
    int opset = io::onnx::default_opset;  ///< io::onnx::min_opset .. max_opset
    std::int64_t batch = 0;               ///< 0: dynamic ("batch"); else this fixed batch size
    std::string producer_version = "0.1.0";
};

/// The ONNX model (serialised ModelProto) of encoder + decoder `decoder_side` of m. value_error for
/// an unsupported opset, a negative batch or a side out of range.
template <class B, class Arch, bool Mask, int K>
std::string export_onnx(swap_model<B, Arch, Mask, K>& m, int decoder_side, const onnx_export_options& o = {}) {
    (void)io::onnx::ir_version_for(o.opset);  // checks the opset before any work
    if (o.batch < 0) throw value_error("ONNX export: the batch size must be >= 1 or dynamic, got " + std::to_string(o.batch));
    auto& decoder = m.decoder(decoder_side);  // value_error for a side out of range
    io::onnx::graph_builder g(std::string("hourglass ") + Arch::name + " encoder + decoder_" + side_name(decoder_side));
    onnx_context<B> cx{g, m.backend()};
    const io::onnx::dim batch = o.batch > 0 ? io::onnx::dim{o.batch} : io::onnx::dim{std::string("batch")};
    const std::int64_t in = Arch::input, out = Arch::output;
    g.input("face", {batch, in, in, std::int64_t{3}});
    const onnx_value face{"face", shape{in, in, 3}, false};
    const onnx_value code = onnx_emit(cx, m.encoder(), face);
    const onnx_value y = onnx_emit(cx, decoder, code);
    if constexpr (Mask) {
        const onnx_value nhwc = detail::as_nhwc(g, y);
        const std::string axes = g.int64_initializer("channel_axis", {3});
        g.node("Slice", {nhwc.name, g.int64_initializer("face_start", {0}), g.int64_initializer("face_end", {3}), axes},
               {"swapped"});
        g.node("Slice", {nhwc.name, g.int64_initializer("mask_start", {3}), g.int64_initializer("mask_end", {4}), axes},
               {"mask"});
        g.output("swapped", {batch, out, out, std::int64_t{3}});
        g.output("mask", {batch, out, out, std::int64_t{1}});
    } else {
        if (y.nchw) detail::onnx_transpose(g, y, false, "swapped");
        else g.node("Identity", {y.name}, {"swapped"});
        g.output("swapped", {batch, out, out, std::int64_t{3}});
    }
    return g.model(o.opset, "hourglass", o.producer_version,
                   {{"architecture", Arch::name},
                    {"mask", Mask ? "true" : "false"},
                    {"decoder", "decoder_" + side_name(decoder_side)},
                    {"layout", "NHWC, RGB in [0, 1]"},
                    {"input_size", std::to_string(in)},
                    {"output_size", std::to_string(out)}});
}

/// Writes `model_bytes` to `path` atomically (temporary file in the same folder, fsync, rename):
/// a failed write leaves any previous file as it was. io_error naming the path on failure.
inline void write_onnx_file(const std::filesystem::path& path, const std::string& model_bytes) {
    data::write_file_atomic(path, std::vector<unsigned char>(model_bytes.begin(), model_bytes.end()));
}

}  // namespace hg::swap
