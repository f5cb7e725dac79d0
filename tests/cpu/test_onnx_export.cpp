// The protobuf encoder's parts the ONNX writer adds (io/protobuf_wire.hpp: packed repeated int64,
// merged fields, float bytes) against the byte sequences of the protobuf encoding guide and
// hand-worked values; the ONNX builder's IR versions and opset range; the swap-model
// export read back with a minimal wire-format reader (graph, opset, one float initializer per
// parameter tensor with its shape, the inputs and outputs); and the export's errors. Whether
// onnx.checker and onnxruntime accept the files and compute the library's forward is checked by
// tests/checkers/run_onnx.py (ctest onnx_export_*).
#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "hourglass/hourglass.hpp"
#include "hourglass/io/onnx.hpp"
#include "hourglass/io/protobuf_wire.hpp"
#include "hourglass/swap/onnx_export.hpp"

namespace {

std::string bytes(std::initializer_list<unsigned> v) {
    std::string s;
    for (unsigned b : v) s.push_back(static_cast<char>(b));
    return s;
}

/// One field of a message: its number, wire type and payload (the varint value, or the bytes).
struct field {
    int number = 0;
    int wire = 0;
    std::uint64_t value = 0;
    std::string_view data;
};

std::uint64_t read_varint(std::string_view s, std::size_t& pos) {
    std::uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
        REQUIRE(pos < s.size());
        const auto b = static_cast<unsigned char>(s[pos++]);
        v |= std::uint64_t(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
}

/// The fields of a message, in order; fails the test on a malformed message.
std::vector<field> parse(std::string_view s) {
    std::vector<field> out;
    std::size_t pos = 0;
    while (pos < s.size()) {
        const std::uint64_t key = read_varint(s, pos);
        field f;
        f.number = static_cast<int>(key >> 3);
        f.wire = static_cast<int>(key & 7);
        switch (f.wire) {
            case 0: f.value = read_varint(s, pos); break;
            case 1: REQUIRE(pos + 8 <= s.size()); f.data = s.substr(pos, 8); pos += 8; break;
            case 5: REQUIRE(pos + 4 <= s.size()); f.data = s.substr(pos, 4); pos += 4; break;
            case 2: {
                const std::uint64_t n = read_varint(s, pos);
                REQUIRE(pos + n <= s.size());
                f.data = s.substr(pos, n);
                pos += n;
                break;
            }
            default: FAIL("wire type " << f.wire);
        }
        out.push_back(f);
    }
    return out;
}

std::vector<field> fields(std::string_view msg, int number) {
    std::vector<field> out;
    for (const auto& f : parse(msg))
        if (f.number == number) out.push_back(f);
    return out;
}

std::vector<std::int64_t> packed(std::string_view s) {
    std::vector<std::int64_t> v;
    std::size_t pos = 0;
    while (pos < s.size()) v.push_back(static_cast<std::int64_t>(read_varint(s, pos)));
    return v;
}

}  // namespace

TEST_CASE("protobuf: packed repeated varints, merged fields and float bytes as the encoding guide has them") {
    // The guide's packed example: field 4 = [3, 270, 86942].
    hg::io::protobuf::message d;
    const std::vector<std::int64_t> values{3, 270, 86942};
    d.packed_varints_field(4, values);
    CHECK(d.bytes() == bytes({0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05}));
    // A negative element takes ten bytes; an empty list is a zero-length field.
    hg::io::protobuf::message n;
    n.packed_varints_field(1, std::vector<std::int64_t>{-1});
    CHECK(n.bytes() == bytes({0x0a, 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}));
    hg::io::protobuf::message e;
    e.packed_varints_field(2, std::vector<std::int64_t>{});
    CHECK(e.bytes() == bytes({0x12, 0x00}));
    // raw() merges encoded fields: field 1 = 150 then field 2 = "testing" (the guide's examples).
    hg::io::protobuf::message a, b;
    a.uint_field(1, 150);
    b.bytes_field(2, "testing");
    a.raw(b.bytes());
    CHECK(a.bytes() == bytes({0x08, 0x96, 0x01, 0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67}));
    CHECK_THROWS_AS(a.packed_varints_field(0, values), hg::value_error);
    const float f[2] = {1.0f, -0.5f};
    CHECK(hg::io::protobuf::little_endian_floats(f, 2) == bytes({0, 0, 0x80, 0x3f, 0, 0, 0, 0xbf}));
}

TEST_CASE("onnx: IR version per opset, and the supported opset range") {
    CHECK(hg::io::onnx::ir_version_for(13) == 7);
    CHECK(hg::io::onnx::ir_version_for(14) == 7);
    CHECK(hg::io::onnx::ir_version_for(15) == 8);
    CHECK(hg::io::onnx::ir_version_for(17) == 8);
    CHECK(hg::io::onnx::ir_version_for(19) == 9);
    CHECK(hg::io::onnx::ir_version_for(21) == 10);
    CHECK_THROWS_WITH_AS(hg::io::onnx::ir_version_for(12), doctest::Contains("opset 12 is not supported (use 13 to 21)"),
                         hg::value_error);
    CHECK_THROWS_AS(hg::io::onnx::ir_version_for(22), hg::value_error);
}

TEST_CASE("onnx: the micro swap model's export reads back as a ModelProto") {
    hg::cpu be(1);
    hg::swap::swap_model<hg::cpu, hg::swap::micro, true> m(be, 7);
    hg::swap::onnx_export_options o;
    o.opset = 15;
    o.batch = 5;
    const std::string model = hg::swap::export_onnx(m, 1, o);

    const auto top = parse(model);
    REQUIRE(fields(model, 1).size() == 1);
    CHECK(fields(model, 1)[0].value == 8);  // ir_version of opset 15
    REQUIRE(fields(model, 8).size() == 1);
    const auto opset = fields(fields(model, 8)[0].data, 2);
    REQUIRE(opset.size() == 1);
    CHECK(opset[0].value == 15);
    std::map<std::string, std::string> meta;
    for (const auto& e : fields(model, 14))
        meta[std::string(fields(e.data, 1).at(0).data)] = std::string(fields(e.data, 2).at(0).data);
    CHECK(meta["architecture"] == "micro");
    CHECK(meta["decoder"] == "decoder_b");
    CHECK(meta["mask"] == "true");

    REQUIRE(fields(model, 7).size() == 1);
    const std::string_view graph = fields(model, 7)[0].data;
    // One float initializer per parameter tensor of the encoder and decoder B, by name, with the
    // parameter's element count; convolution filters in OIHW order.
    std::map<std::string, std::vector<std::int64_t>> floats;
    for (const auto& init : fields(graph, 5)) {
        const auto type = fields(init.data, 2).at(0).value;
        const std::string name(fields(init.data, 8).at(0).data);
        if (type == 1) {
            floats[name] = packed(fields(init.data, 1).at(0).data);
            std::int64_t n = 1;
            for (auto d : floats[name]) n *= d;
            CHECK(fields(init.data, 9).at(0).data.size() == std::size_t(n) * 4);
        } else {
            CHECK(type == 7);  // the int64 shapes and slice bounds
        }
    }
    const auto& enc = m.encoder().params();
    const auto& dec = m.decoder(1).params();
    CHECK(floats.size() == enc.size() + dec.size());
    for (const auto* p : {&enc, &dec})
        for (std::size_t i = 0; i < p->size(); ++i) {
            const auto& e = p->entry(i);
            INFO(e.name);
            REQUIRE(floats.count(e.name) == 1);
            const auto& dims = floats[e.name];
            if (e.shape.rank() == 4) {  // KRSC -> OIHW
                CHECK(dims == std::vector<std::int64_t>{e.shape[0], e.shape[3], e.shape[1], e.shape[2]});
            } else {
                REQUIRE(dims.size() == std::size_t(e.shape.rank()));
                for (int d = 0; d < e.shape.rank(); ++d) CHECK(dims[std::size_t(d)] == e.shape[d]);
            }
        }
    // Inputs and outputs with their NHWC shapes and the fixed batch of 5.
    auto shape_of = [](std::string_view value_info) {
        std::vector<std::int64_t> dims;
        const auto type = fields(value_info, 2).at(0).data;
        const auto tensor = fields(type, 1).at(0).data;
        CHECK(fields(tensor, 1).at(0).value == 1);  // float
        for (const auto& d : fields(fields(tensor, 2).at(0).data, 1)) dims.push_back(std::int64_t(fields(d.data, 1).at(0).value));
        return dims;
    };
    const auto inputs = fields(graph, 11), outputs = fields(graph, 12);
    REQUIRE(inputs.size() == 1);
    REQUIRE(outputs.size() == 2);
    CHECK(fields(inputs[0].data, 1).at(0).data == "face");
    CHECK(shape_of(inputs[0].data) == std::vector<std::int64_t>{5, 32, 32, 3});
    CHECK(fields(outputs[0].data, 1).at(0).data == "swapped");
    CHECK(shape_of(outputs[0].data) == std::vector<std::int64_t>{5, 32, 32, 3});
    CHECK(fields(outputs[1].data, 1).at(0).data == "mask");
    CHECK(shape_of(outputs[1].data) == std::vector<std::int64_t>{5, 32, 32, 1});
    // Every pixel shuffle is a DepthToSpace in DCR mode.
    int depth_to_space = 0;
    for (const auto& n : fields(graph, 1)) {
        if (fields(n.data, 4).at(0).data != "DepthToSpace") continue;
        ++depth_to_space;
        bool dcr = false;
        for (const auto& a : fields(n.data, 5))
            if (fields(a.data, 1).at(0).data == "mode") dcr = fields(a.data, 4).at(0).data == "DCR";
        CHECK(dcr);
    }
    CHECK(depth_to_space == 3);  // micro: upscale in the encoder, two in the decoder
    CHECK(top.size() >= 5);
}

TEST_CASE("onnx: a dynamic batch is the symbolic dimension 'batch'") {
    hg::cpu be(1);
    hg::swap::swap_model<hg::cpu, hg::swap::micro, false> m(be, 3);
    const std::string model = hg::swap::export_onnx(m, 0);
    CHECK(fields(model, 1).at(0).value == 8);  // the default opset 17
    const auto graph = fields(model, 7).at(0).data;
    const auto outputs = fields(graph, 12);
    REQUIRE(outputs.size() == 1);  // no mask head, no mask output
    const auto type = fields(fields(outputs[0].data, 2).at(0).data, 1).at(0).data;
    const auto first_dim = fields(fields(type, 2).at(0).data, 1).at(0).data;
    CHECK(fields(first_dim, 2).at(0).data == "batch");
}

TEST_CASE("onnx: export errors name the reason") {
    hg::cpu be(1);
    hg::swap::swap_model<hg::cpu, hg::swap::micro, false> m(be, 3);
    hg::swap::onnx_export_options o;
    o.opset = 9;
    CHECK_THROWS_WITH_AS(hg::swap::export_onnx(m, 1, o), doctest::Contains("opset 9 is not supported"), hg::value_error);
    o.opset = 17;
    o.batch = -2;
    CHECK_THROWS_WITH_AS(hg::swap::export_onnx(m, 1, o), doctest::Contains("batch size must be >= 1"), hg::value_error);
    o.batch = 0;
    CHECK_THROWS_AS(hg::swap::export_onnx(m, 2, o), hg::value_error);  // a two-identity model has sides 0 and 1
    CHECK_THROWS_AS(hg::swap::write_onnx_file("/nonexistent-folder/model.onnx", "x"), hg::io_error);
}
