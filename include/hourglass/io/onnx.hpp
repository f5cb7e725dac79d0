// hg::io::onnx: the ONNX model format (github.com/onnx/onnx, onnx/onnx.proto) as far as an exporter
// of feed-forward float networks needs it: a graph_builder collects nodes, float and int64
// initializers, and the typed graph inputs and outputs, and serialises them as a ModelProto with
// the protobuf encoder of io/protobuf_wire.hpp (written by hand: see there why).
//
// Field numbers used (onnx.proto, stable since IR version 3):
//   ModelProto        1 ir_version, 2 producer_name, 3 producer_version, 6 doc_string, 7 graph,
//                     8 opset_import, 14 metadata_props
//   OperatorSetIdProto 1 domain, 2 version      StringStringEntryProto 1 key, 2 value
//   GraphProto        1 node, 2 name, 5 initializer, 11 input, 12 output
//   NodeProto         1 input, 2 output, 3 name, 4 op_type, 5 attribute
//   AttributeProto    1 name, 2 f, 3 i, 4 s, 8 ints, 20 type (FLOAT 1, INT 2, STRING 3, INTS 7)
//   TensorProto       1 dims, 2 data_type (FLOAT 1, INT64 7), 8 name, 9 raw_data (little-endian)
//   ValueInfoProto    1 name, 2 type;  TypeProto 1 tensor_type;  TypeProto.Tensor 1 elem_type,
//                     2 shape;  TensorShapeProto 1 dim;  Dimension 1 dim_value, 2 dim_param
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/io/protobuf_wire.hpp"

namespace hg::io::onnx {

/// The opsets an exporter of this library writes: 13 (DepthToSpace, Slice with inputs, Split
/// with an input; every op used has had its current form since 13) up to 21.
inline constexpr int min_opset = 13;
inline constexpr int max_opset = 21;
inline constexpr int default_opset = 17;

/// The IR version the ONNX release that introduced `opset` writes (onnx/helper.py VERSION_TABLE):
/// runtimes accept a model only when they know its IR version, so use the oldest that allows it.
inline std::int64_t ir_version_for(int opset) {
    if (opset < min_opset || opset > max_opset)
        throw value_error("ONNX opset " + std::to_string(opset) + " is not supported (use " +
                          std::to_string(min_opset) + " to " + std::to_string(max_opset) + ")");
    if (opset <= 14) return 7;
    if (opset <= 18) return 8;
    if (opset <= 20) return 9;
    return 10;
}

enum class elem_type : int { float32 = 1, int64 = 7 };

/// A dimension of a graph input or output: a fixed extent or a named symbolic one ("batch").
using dim = std::variant<std::int64_t, std::string>;

/// One attribute of a node, already encoded as an AttributeProto.
class attribute {
public:
    static attribute integer(const std::string& name, std::int64_t v) {
        attribute a(name, 2);
        a.w_.int_field(3, v);
        return a;
    }
    static attribute real(const std::string& name, float v) {
        attribute a(name, 1);
        a.w_.float_field(2, v);
        return a;
    }
    static attribute text(const std::string& name, const std::string& v) {
        attribute a(name, 3);
        a.w_.bytes_field(4, v);
        return a;
    }
    static attribute integers(const std::string& name, const std::vector<std::int64_t>& v) {
        attribute a(name, 7);
        a.w_.packed_varints_field(8, v);
        return a;
    }
    const protobuf::message& proto() const { return w_; }

private:
    attribute(const std::string& name, int type) {
        w_.bytes_field(1, name);
        w_.uint_field(20, static_cast<std::uint64_t>(type));
    }
    protobuf::message w_;
};

class graph_builder {
public:
    explicit graph_builder(std::string name) : name_(std::move(name)) {}

    /// A value name not used yet, "<hint>" or "<hint>_2", "<hint>_3", ...
    std::string fresh(const std::string& hint) {
        const int n = ++used_[hint];
        return n == 1 ? hint : hint + "_" + std::to_string(n);
    }

    /// Appends a node (nodes must come in an order where every input is produced before use).
    void node(const std::string& op_type, const std::vector<std::string>& inputs,
              const std::vector<std::string>& outputs, const std::vector<attribute>& attributes = {}) {
        protobuf::message n;
        for (const auto& i : inputs) n.bytes_field(1, i);
        for (const auto& o : outputs) n.bytes_field(2, o);
        n.bytes_field(3, fresh(op_type));
        n.bytes_field(4, op_type);
        for (const auto& a : attributes) n.message_field(5, a.proto());
        graph_.message_field(1, n);
        ++nodes_;
    }

    /// A float initializer named `name` (unique), `values` in row-major order of `dims`.
    const std::string& initializer(const std::string& name, const std::vector<std::int64_t>& dims,
                                   const std::vector<float>& values) {
        std::int64_t count = 1;
        for (auto d : dims) count *= d;
        if (count != static_cast<std::int64_t>(values.size()))
            throw value_error("ONNX initializer '" + name + "': " + std::to_string(values.size()) +
                              " values for " + std::to_string(count) + " elements");
        protobuf::message t;
        t.packed_varints_field(1, dims);
        t.uint_field(2, static_cast<std::uint64_t>(elem_type::float32));
        t.bytes_field(8, name);
        t.bytes_field(9, protobuf::little_endian_floats(values.data(), values.size()));
        graph_.message_field(5, t);
        return name;
    }

    /// A 1-D int64 initializer (shapes, axes, slice bounds).
    std::string int64_initializer(const std::string& hint, const std::vector<std::int64_t>& values) {
        const std::string name = fresh(hint);
        protobuf::message t;
        t.packed_varints_field(1, std::vector<std::int64_t>{static_cast<std::int64_t>(values.size())});
        t.uint_field(2, static_cast<std::uint64_t>(elem_type::int64));
        t.bytes_field(8, name);
        std::string raw;
        for (const std::int64_t v : values)
            for (int b = 0; b < 8; ++b) raw.push_back(static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * b)) & 0xff));
        t.bytes_field(9, raw);
        graph_.message_field(5, t);
        return name;
    }

    void input(const std::string& name, const std::vector<dim>& shape) { inputs_.message_field(11, value_info(name, shape)); }
    void output(const std::string& name, const std::vector<dim>& shape) {
        outputs_.message_field(12, value_info(name, shape));
    }

    std::size_t node_count() const { return nodes_; }

    /// The serialised ModelProto. `metadata` becomes metadata_props (key, value).
    std::string model(int opset, const std::string& producer, const std::string& producer_version,
                      const std::vector<std::pair<std::string, std::string>>& metadata = {}) const {
        const std::int64_t ir = ir_version_for(opset);
        protobuf::message graph = graph_;
        graph.bytes_field(2, name_);
        graph.raw(inputs_.bytes());
        graph.raw(outputs_.bytes());
        protobuf::message m;
        m.int_field(1, ir);
        m.bytes_field(2, producer);
        m.bytes_field(3, producer_version);
        m.message_field(7, graph);
        protobuf::message op;
        op.bytes_field(1, "");
        op.int_field(2, opset);
        m.message_field(8, op);
        for (const auto& [k, v] : metadata) {
            protobuf::message e;
            e.bytes_field(1, k);
            e.bytes_field(2, v);
            m.message_field(14, e);
        }
        return m.bytes();
    }

private:
    static protobuf::message value_info(const std::string& name, const std::vector<dim>& shape) {
        protobuf::message dims;
        for (const auto& d : shape) {
            protobuf::message one;
            if (const auto* v = std::get_if<std::int64_t>(&d)) one.int_field(1, *v);
            else one.bytes_field(2, std::get<std::string>(d));
            dims.message_field(1, one);
        }
        protobuf::message tensor;
        tensor.uint_field(1, static_cast<std::uint64_t>(elem_type::float32));
        tensor.message_field(2, dims);
        protobuf::message type;
        type.message_field(1, tensor);
        protobuf::message vi;
        vi.bytes_field(1, name);
        vi.message_field(2, type);
        return vi;
    }

    std::string name_;
    protobuf::message graph_, inputs_, outputs_;
    std::map<std::string, int> used_;
    std::size_t nodes_ = 0;
};

}  // namespace hg::io::onnx
