// faceswap_onnx_cases: writes what tests/checkers/run_onnx.py compares - ONNX models of the swap
// path, input faces and the library's CPU forward on them - as .onnx and .npy files plus a
// manifest (cases.txt: one line "ONNX_FILE INPUT.npy EXPECTED_SWAPPED.npy [EXPECTED_MASK.npy]" per
// run the checker makes).
//   faceswap_onnx_cases arch NAME MASK OPSET BATCH ASTRONAUT OUT_DIR
//       builds the architecture NAME (mask head when MASK is 1) with seeded initial weights, exports
//       decoder B's swap path (opset OPSET, BATCH 0 = dynamic) and writes two runs: random faces
//       (uniform in [0, 1]) and real face crops cut out of the astronaut portrait ASTRONAUT (four
//       crops around the face at three sizes and one mirrored, resized to the input size). With a
//       dynamic batch the random faces come 3 at a time and the crops 4 (two batch sizes for one
//       file); with a fixed batch both come BATCH at a time.
//   faceswap_onnx_cases layers OPSET OUT_DIR
//       a network of the layer types the architectures do not use (relu, tanh, pixel_unshuffle,
//       reshape of an image, dense on an image) exported through the same mapping.
//   faceswap_onnx_cases model MODEL_DIR DIRECTION BATCH ONNX_FILE ASTRONAUT OUT_DIR
//       loads a trained model folder and writes the inputs and the library's outputs for an
//       ONNX_FILE that `hourglass-swap export` wrote from it (BATCH as in arch).
// .npy files: NumPy format 1.0, little-endian float32, C order.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "hourglass/hourglass.hpp"
#include "hourglass/layers/onnx_graph.hpp"
#include "hourglass/swap/onnx_export.hpp"

namespace {

namespace fs = std::filesystem;

std::int64_t number(const char* s) {
    char* end = nullptr;
    const long long v = std::strtoll(s, &end, 10);
    if (end == s || *end != '\0') throw hg::value_error(std::string("not an integer: '") + s + "'");
    return v;
}

void write_npy(const fs::path& path, const hg::tensor& t) {
    std::string dims;
    for (int i = 0; i < t.shape().rank(); ++i) dims += std::to_string(t.shape()[i]) + (t.shape().rank() == 1 || i + 1 < t.shape().rank() ? ", " : "");
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
    // Magic (6) + version (2) + header length (2) + header, padded with spaces to 64 bytes, "\n".
    while ((10 + header.size() + 1) % 64) header += ' ';
    header += '\n';
    std::ofstream out(path, std::ios::binary);
    out.write("\x93NUMPY\x01\x00", 8);
    const auto n = static_cast<std::uint16_t>(header.size());
    const char len[2] = {static_cast<char>(n & 0xff), static_cast<char>(n >> 8)};
    out.write(len, 2);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    const auto bytes = hg::io::protobuf::little_endian_floats(t.data(), static_cast<std::size_t>(t.numel()));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw hg::io_error("cannot write " + path.string());
}

hg::tensor random_faces(std::int64_t n, std::int64_t size, std::uint64_t seed) {
    auto t = hg::tensor::empty(hg::shape{n, size, size, 3});
    for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(hg::random_unit_double(seed, 0, static_cast<std::uint64_t>(i)));
    return t;
}

/// n square crops of the astronaut's face (centre 222, 128 in the 512 px portrait), resized to size.
hg::tensor face_crops(const fs::path& astronaut, std::int64_t n, std::int64_t size) {
    const auto img = hg::data::load_image(astronaut);
    const std::int64_t w = img.width();
    struct crop {
        std::int64_t side, dx, dy;
        bool mirror;
    };
    const crop crops[] = {{200, 0, 0, false}, {160, 6, -4, false}, {240, -8, 10, false}, {200, 0, 0, true}};
    auto out = hg::tensor::empty(hg::shape{n, size, size, 3});
    for (std::int64_t i = 0; i < n; ++i) {
        const crop& c = crops[i % 4];
        const std::int64_t x0 = 222 + c.dx - c.side / 2, y0 = 128 + c.dy - c.side / 2;
        auto cut = hg::tensor::empty(hg::shape{c.side, c.side, 3});
        for (std::int64_t y = 0; y < c.side; ++y)
            for (std::int64_t x = 0; x < c.side; ++x)
                for (std::int64_t ch = 0; ch < 3; ++ch) {
                    const std::int64_t sx = c.mirror ? x0 + c.side - 1 - x : x0 + x;
                    cut.data()[(y * c.side + x) * 3 + ch] = img.rgb.data()[((y0 + y) * w + sx) * 3 + ch];
                }
        const auto small = hg::data::resize_area(cut, size, size);
        std::memcpy(out.data() + i * size * size * 3, small.data(), static_cast<std::size_t>(size * size * 3) * sizeof(float));
    }
    return out;
}

/// Writes input and expected outputs of one run and appends its manifest line.
template <class M>
void write_run(M& m, int side, const hg::tensor& x, const fs::path& onnx, const fs::path& dir, const std::string& name,
               std::ofstream& manifest) {
    const auto y = m.decode_host(x, side);
    write_npy(dir / (name + "_input.npy"), x);
    write_npy(dir / (name + "_swapped.npy"), hg::data::channels_of(y, 0, 3));
    manifest << onnx.string() << ' ' << (dir / (name + "_input.npy")).string() << ' '
             << (dir / (name + "_swapped.npy")).string();
    if constexpr (M::has_mask()) {
        write_npy(dir / (name + "_mask.npy"), hg::data::channels_of(y, 3, 1));
        manifest << ' ' << (dir / (name + "_mask.npy")).string();
    }
    manifest << '\n';
}

template <class M>
void write_runs(M& m, int side, std::int64_t batch, const fs::path& astronaut, const fs::path& onnx, const fs::path& dir,
                std::ofstream& manifest, const std::string& prefix = {}) {
    const std::int64_t in = M::input_size();
    write_run(m, side, random_faces(batch > 0 ? batch : 3, in, 17), onnx, dir, prefix + "random", manifest);
    write_run(m, side, face_crops(astronaut, batch > 0 ? batch : 4, in), onnx, dir, prefix + "astronaut", manifest);
    if (!manifest) throw hg::io_error("cannot write " + (dir / "cases.txt").string());
}

int arch_cases(const std::string& name, bool mask, int opset, std::int64_t batch, const fs::path& astronaut,
               const fs::path& dir) {
    fs::create_directories(dir);
    faceswap::with_model_kind(name, mask, [&](auto arch, auto has_mask) {
        using A = decltype(arch);
        hg::cpu be(0);
        hg::swap::model_for<hg::cpu, A, decltype(has_mask)::value> m(be, 2024);
        hg::swap::onnx_export_options o;
        o.opset = opset;
        o.batch = batch;
        std::ofstream manifest(dir / "cases.txt");
        // Decoded as B (the swap path); a LIAE model also as A (its own inter's code).
        for (const int side : hg::swap::is_liae<A> ? std::vector<int>{1, 0} : std::vector<int>{1}) {
            const fs::path onnx = dir / ("model_" + hg::swap::side_name(side) + ".onnx");
            hg::swap::write_onnx_file(onnx, hg::swap::export_onnx(m, side, o));
            write_runs(m, side, batch, astronaut, onnx, dir, manifest, hg::swap::side_name(side) + "_");
        }
    });
    return 0;
}

/// relu, tanh, pixel_unshuffle, a reshape of an image, a dense layer on an image: [8, 8, 4] -> [4, 4, 4].
using other_layers = hg::sequential<hg::conv2d<8, 3>, hg::relu, hg::pixel_unshuffle, hg::tanh, hg::reshape<8, 8, 8>,
                                    hg::conv2d<4, 3, 2>, hg::dense<64>, hg::sigmoid, hg::reshape<4, 4, 4>>;

int layer_cases(int opset, const fs::path& dir) {
    fs::create_directories(dir);
    hg::cpu be(1);
    hg::model<hg::cpu, other_layers> m(be, hg::shape{8, 8, 4}, 99, "layers");
    hg::io::onnx::graph_builder g("layers");
    hg::onnx_context<hg::cpu> cx{g, be};
    g.input("face", {std::string("batch"), std::int64_t{8}, std::int64_t{8}, std::int64_t{4}});
    const auto y = hg::onnx_emit(cx, m, hg::onnx_value{"face", hg::shape{8, 8, 4}, false});
    hg::detail::onnx_transpose(g, y, false, "swapped");
    g.output("swapped", {std::string("batch"), std::int64_t{4}, std::int64_t{4}, std::int64_t{4}});
    const fs::path onnx = dir / "model.onnx";
    hg::swap::write_onnx_file(onnx, g.model(opset, "hourglass", "test"));
    auto x = hg::tensor::empty(hg::shape{3, 8, 8, 4});  // uniform in [-1, 1]
    for (std::int64_t i = 0; i < x.numel(); ++i)
        x.data()[i] = static_cast<float>(2.0 * hg::random_unit_double(5, 0, static_cast<std::uint64_t>(i)) - 1.0);
    const auto out = be.to_host(m.forward(x));
    write_npy(dir / "layers_input.npy", x);
    write_npy(dir / "layers_swapped.npy", out);
    std::ofstream manifest(dir / "cases.txt");
    manifest << onnx.string() << ' ' << (dir / "layers_input.npy").string() << ' ' << (dir / "layers_swapped.npy").string()
             << '\n';
    return 0;
}

int model_cases(const fs::path& model, const std::string& direction, std::int64_t batch, const fs::path& onnx,
                const fs::path& astronaut, const fs::path& dir) {
    fs::create_directories(dir);
    const int side = direction == "a2b" ? 1 : 0;
    faceswap::with_trained_model(model, "cpu", 0, [](const std::string&) {},
                                 [&](auto& m) {
                                     std::ofstream manifest(dir / "cases.txt");
                                     write_runs(m, side, batch, astronaut, onnx, dir, manifest);
                                 });
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::string mode = argc > 1 ? argv[1] : "";
        if (mode == "arch" && argc == 8)
            return arch_cases(argv[2], number(argv[3]) != 0, static_cast<int>(number(argv[4])), number(argv[5]), argv[6],
                              argv[7]);
        if (mode == "layers" && argc == 4) return layer_cases(static_cast<int>(number(argv[2])), argv[3]);
        if (mode == "model" && argc == 8) return model_cases(argv[2], argv[3], number(argv[4]), argv[5], argv[6], argv[7]);
        std::fprintf(stderr,
                     "usage: faceswap_onnx_cases arch NAME MASK OPSET BATCH ASTRONAUT OUT_DIR\n"
                     "       faceswap_onnx_cases layers OPSET OUT_DIR\n"
                     "       faceswap_onnx_cases model MODEL_DIR DIRECTION BATCH ONNX_FILE ASTRONAUT OUT_DIR\n");
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "faceswap_onnx_cases: %s\n", e.what());
        return 1;
    }
}
