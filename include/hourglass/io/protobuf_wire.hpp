// hg::io::protobuf: a minimal encoder of the protocol buffers wire format - enough to write the
// few messages the library emits (TensorBoard's Event, Summary and Image, io/tensorboard.hpp; the
// ONNX model of an exported network, io/onnx.hpp).
//
// Written by hand instead of with libprotobuf and generated code because the library is
// header-mostly and writes a handful of small, stable messages: a dependency (and a code generator
// in the build) for four messages would cost every user of the headers more than these hundred
// lines. Only encoding is here; nothing in the library reads protobuf.
//
// The wire format (https://protobuf.dev/programming-guides/encoding/): a message is a sequence of
// fields, each a key varint (field_number << 3 | wire_type) and a payload:
//   wire type 0 varint            base-128, least significant group first, high bit = "more";
//                                 int32/int64 as their 64-bit two's complement (a negative int
//                                 takes 10 bytes), bool as 0/1
//   wire type 1 64-bit            fixed64, sfixed64, double: 8 bytes little-endian
//   wire type 2 length-delimited  a varint byte count, then the bytes: string, bytes, a nested message
//   wire type 5 32-bit            fixed32, sfixed32, float: 4 bytes little-endian
// Fields may come in any order; a default value may be left out (proto3) but writing it is valid.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "hourglass/core/error.hpp"

namespace hg::io::protobuf {

enum class wire_type : std::uint32_t { varint = 0, fixed64 = 1, length_delimited = 2, fixed32 = 5 };

/// Appends v as a base-128 varint (1 to 10 bytes).
inline void append_varint(std::string& out, std::uint64_t v) {
    while (v >= 0x80u) {
        out += static_cast<char>(static_cast<unsigned char>((v & 0x7Fu) | 0x80u));
        v >>= 7;
    }
    out += static_cast<char>(static_cast<unsigned char>(v));
}

/// Appends v as 4 bytes, least significant first.
inline void append_fixed32(std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out += static_cast<char>(static_cast<unsigned char>((v >> (8 * i)) & 0xFFu));
}

/// Appends v as 8 bytes, least significant first.
inline void append_fixed64(std::string& out, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out += static_cast<char>(static_cast<unsigned char>((v >> (8 * i)) & 0xFFu));
}

/// Builds one message: append fields in any order, then take bytes(). Field numbers must be in
/// [1, 2^29 - 1] (value_error otherwise; the key would not be a valid field).
class message {
public:
    /// uint32, uint64, and bool (0/1) fields.
    message& uint_field(std::uint32_t field, std::uint64_t v) {
        key(field, wire_type::varint);
        append_varint(bytes_, v);
        return *this;
    }
    /// int32 and int64 fields: negative values as their 64-bit two's complement (10 bytes).
    message& int_field(std::uint32_t field, std::int64_t v) { return uint_field(field, static_cast<std::uint64_t>(v)); }
    message& bool_field(std::uint32_t field, bool v) { return uint_field(field, v ? 1u : 0u); }
    message& double_field(std::uint32_t field, double v) {
        key(field, wire_type::fixed64);
        append_fixed64(bytes_, std::bit_cast<std::uint64_t>(v));
        return *this;
    }
    message& float_field(std::uint32_t field, float v) {
        key(field, wire_type::fixed32);
        append_fixed32(bytes_, std::bit_cast<std::uint32_t>(v));
        return *this;
    }
    message& fixed32_field(std::uint32_t field, std::uint32_t v) {
        key(field, wire_type::fixed32);
        append_fixed32(bytes_, v);
        return *this;
    }
    message& fixed64_field(std::uint32_t field, std::uint64_t v) {
        key(field, wire_type::fixed64);
        append_fixed64(bytes_, v);
        return *this;
    }
    /// string and bytes fields (strings are UTF-8; nothing checks that here).
    message& bytes_field(std::uint32_t field, std::string_view v) {
        key(field, wire_type::length_delimited);
        append_varint(bytes_, v.size());
        bytes_.append(v.data(), v.size());
        return *this;
    }
    /// A nested message field.
    message& message_field(std::uint32_t field, const message& m) { return bytes_field(field, m.bytes()); }
    /// A packed repeated int64 field: one length-delimited field holding the varints back to back
    /// (parsers accept it for packed and unpacked declarations alike).
    message& packed_varints_field(std::uint32_t field, std::span<const std::int64_t> values) {
        std::string body;
        for (const std::int64_t v : values) append_varint(body, static_cast<std::uint64_t>(v));
        return bytes_field(field, body);
    }
    /// Appends already encoded fields (another message's bytes(), merged into this one).
    message& raw(std::string_view encoded_fields) {
        bytes_.append(encoded_fields.data(), encoded_fields.size());
        return *this;
    }

    const std::string& bytes() const { return bytes_; }
    bool empty() const { return bytes_.empty(); }

private:
    void key(std::uint32_t field, wire_type t) {
        if (field < 1 || field > (1u << 29) - 1)
            throw value_error("protobuf: field number " + std::to_string(field) + " is outside [1, 536870911]");
        append_varint(bytes_, (std::uint64_t{field} << 3) | static_cast<std::uint32_t>(t));
    }

    std::string bytes_;
};

/// `count` floats as little-endian IEEE 754 bytes (e.g. the raw_data of an ONNX float tensor).
inline std::string little_endian_floats(const float* values, std::size_t count) {
    std::string out;
    out.reserve(count * 4);
    for (std::size_t i = 0; i < count; ++i) append_fixed32(out, std::bit_cast<std::uint32_t>(values[i]));
    return out;
}

}  // namespace hg::io::protobuf
