// Fixtures for the checkpoint tests: sample checkpoints (several ranks, special float values, binary
// optimizer state), bitwise comparison, an independent little-endian encoder of the documented
// layout, and helpers to catch an error's message.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "hourglass/core/rng.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/io/checkpoint.hpp"
#include "test_data_fixtures.hpp"

namespace hg_test_ckpt {

namespace fs = std::filesystem;
using hg::io::checkpoint;
using hg::io::json;

/// A CPU tensor of shape s with uniform values in [-1, 1) from (seed, 7).
inline hg::tensor random_tensor(const hg::shape& s, std::uint64_t seed) {
    hg::rng r(seed, 7);
    hg::tensor t = hg::tensor::empty(s);
    for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = r.uniform(-1.0f, 1.0f);
    return t;
}

/// A checkpoint whose contents all depend on `seed`: a header like a trainer's, tensors of rank 0
/// to 4 (one with no elements, one with -0, denormals and extremes), a binary optimizer state.
/// `scale` multiplies the size of the largest tensor.
inline checkpoint sample_checkpoint(std::uint64_t seed, std::int64_t scale = 1) {
    checkpoint c;
    c.header["architecture"] = "original";
    c.header["resolution"] = 64;
    c.header["iteration"] = std::int64_t(1000 + seed);
    c.header["learning_rate"] = 5e-5;
    c.header["rng"] = json::array({json(std::int64_t(0x7fffffffffffffffLL)), json(std::int64_t(seed))});
    c.header["notes"] = "face \"A\" \\ B\n\xc3\xa9";
    c.tensors.emplace_back("encoder/0:conv2d.w", random_tensor(hg::shape{4, 3, 3, 2}, seed));
    c.tensors.emplace_back("encoder/0:conv2d.b", random_tensor(hg::shape{4}, seed + 1));
    c.tensors.emplace_back("decoder_a/dense.w", random_tensor(hg::shape{8 * scale, 5}, seed + 2));
    c.tensors.emplace_back("scalar", hg::tensor::full(hg::shape{}, 0.5f + float(seed)));
    c.tensors.emplace_back("empty", hg::tensor::empty(hg::shape{0, 3}));
    c.tensors.emplace_back("special", hg::tensor::from_vector(hg::shape{2, 3}, {-0.0f, std::numeric_limits<float>::denorm_min(),
                                                                                std::numeric_limits<float>::max(),
                                                                                std::numeric_limits<float>::lowest(),
                                                                                std::numeric_limits<float>::min(), 1.0f}));
    hg::rng r(seed, 11);
    for (int i = 0; i < 300; ++i) c.optimizer_state += char(i < 256 ? i : int(r.next_bits() & 0xFF));
    return c;
}

/// Bitwise equality of two checkpoints (header values, names, shapes, element bits, state bytes).
inline bool same(const checkpoint& a, const checkpoint& b) {
    if (a.header != b.header || a.header.dump() != b.header.dump() || a.optimizer_state != b.optimizer_state ||
        a.tensors.size() != b.tensors.size())
        return false;
    for (std::size_t i = 0; i < a.tensors.size(); ++i) {
        const auto& [na, ta] = a.tensors[i];
        const auto& [nb, tb] = b.tensors[i];
        if (na != nb || ta.shape() != tb.shape() || (ta.bytes() && std::memcmp(ta.data(), tb.data(), ta.bytes()) != 0)) return false;
    }
    return true;
}

/// The documented layout, written independently of the library (bitwise CRC from the data fixtures).
struct raw_tensor {
    std::string name;
    std::vector<std::int64_t> dims;
    std::vector<float> values;
    std::uint32_t type = 1;
};

inline void put_le(std::string& out, std::uint64_t v, int bytes) {
    for (int k = 0; k < bytes; ++k) out += char((v >> (8 * k)) & 0xFF);
}

inline std::uint32_t bitwise_crc(const std::string& s) {
    return hg_test_data::crc32(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

inline std::string raw_checkpoint(const std::string& header_text, const std::vector<raw_tensor>& tensors,
                                  const std::string& state, std::uint32_t version = 1) {
    std::string out("HGCKPT\0\1", 8);
    put_le(out, version, 4);
    put_le(out, header_text.size(), 8);
    out += header_text;
    put_le(out, tensors.size(), 8);
    for (const raw_tensor& t : tensors) {
        put_le(out, t.name.size(), 4);
        out += t.name;
        put_le(out, t.dims.size(), 4);
        for (std::int64_t d : t.dims) put_le(out, std::uint64_t(d), 8);
        put_le(out, t.type, 4);
        std::string data;
        for (float v : t.values) {
            std::uint32_t u = 0;
            std::memcpy(&u, &v, 4);
            put_le(data, u, 4);
        }
        put_le(out, data.size(), 8);
        out += data;
        put_le(out, bitwise_crc(data), 4);
    }
    put_le(out, state.size(), 8);
    out += state;
    put_le(out, bitwise_crc(state), 4);
    put_le(out, bitwise_crc(out), 4);
    return out;
}

/// The message of the exception of type E that f throws, or a marker when it throws none.
template <class E>
std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    return "(no exception of the expected type)";
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

inline std::string read_all(const fs::path& p) {
    const auto v = hg_test_data::read_bytes(p);
    return std::string(v.begin(), v.end());
}

inline std::size_t files_in(const fs::path& dir) {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
    return n;
}

}  // namespace hg_test_ckpt
