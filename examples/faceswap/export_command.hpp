// hourglass-swap export: the swap path of a trained model folder (the shared encoder and the decoder
// that --direction picks, with the mask output when the model has a mask head) as an ONNX file for
// other runtimes (hg::swap::export_onnx, docs/export.md). The file is written atomically: a failed
// export leaves no partial file and keeps an older one.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "commands.hpp"
#include "hourglass/swap/onnx_export.hpp"

namespace faceswap {

struct export_command_options {
    std::filesystem::path model, output;
    std::string direction = "a2b";
    int opset = hg::io::onnx::default_opset;
    std::string batch = "dynamic";  ///< "dynamic" or a batch size >= 1
};

/// "dynamic" -> 0, "N" -> N >= 1; value_error otherwise.
inline std::int64_t parse_export_batch(const std::string& s) {
    if (s == "dynamic") return 0;
    std::size_t used = 0;
    long long v = 0;
    try {
        v = std::stoll(s, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != s.size() || s.empty() || v < 1)
        throw hg::value_error("--batch must be 'dynamic' or a batch size >= 1, got '" + s + "'");
    return v;
}

/// Exports; returns the size of the written file in bytes.
inline std::uintmax_t export_command(const export_command_options& o, const print_fn& print) {
    if (o.direction != "a2b" && o.direction != "b2a")
        throw hg::value_error("--direction must be a2b or b2a, got '" + o.direction + "'");
    hg::swap::onnx_export_options eo;
    eo.opset = o.opset;
    eo.batch = parse_export_batch(o.batch);
    (void)hg::io::onnx::ir_version_for(o.opset);  // an unsupported opset fails before the model loads
    const int side = o.direction == "a2b" ? 1 : 0;  // A's faces decoded by B's decoder, as swap does
    with_trained_model(o.model, "cpu", 0, print, [&](auto& m) {
        using M = std::decay_t<decltype(m)>;
        const std::string bytes = hg::swap::export_onnx(m, side, eo);
        hg::swap::write_onnx_file(o.output, bytes);
        char line[400];
        std::snprintf(line, sizeof line, "exported '%s'%s, %s (%s), opset %d, batch %s: %s (%.1f MB)",
                      M::architecture(), M::has_mask() ? " with mask head" : "", o.direction.c_str(),
                      M::swap_path(side).c_str(), o.opset, o.batch.c_str(), o.output.string().c_str(),
                      double(bytes.size()) / 1e6);
        print(line);
        std::snprintf(line, sizeof line, "input 'face' [%s, %d, %d, 3], output 'swapped' [%s, %d, %d, 3]%s (NHWC, RGB in [0, 1])",
                      o.batch == "dynamic" ? "batch" : o.batch.c_str(), M::input_size(), M::input_size(),
                      o.batch == "dynamic" ? "batch" : o.batch.c_str(), M::output_size(), M::output_size(),
                      M::has_mask() ? " and 'mask' [.., 1]" : "");
        print(line);
    });
    return std::filesystem::file_size(o.output);
}

}  // namespace faceswap
