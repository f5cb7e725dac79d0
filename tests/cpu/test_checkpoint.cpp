// Checkpoints: CRC-32 vectors, the JSON header type (round trips, malformed text), the file format
// (bitwise round trip, the documented layout, truncation at every byte, every flipped byte, foreign
// files, newer versions, crafted lengths, non-finite weights refused), and the store (backup policy,
// fallback to the backup, both files bad, unwritable folder, full disk, a saving process killed at
// random moments, and training resumed bit-identically from parameters and optimizer state).
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "hourglass/cpu/backend.hpp"
#include "hourglass/layers/parameters.hpp"
#include "hourglass/optim/optimizer.hpp"
#include "hourglass/io/checkpoint_store.hpp"
#include "hourglass/io/crc32.hpp"
#include "hourglass/io/json.hpp"
#include "test_checkpoint_fixtures.hpp"

namespace fs = std::filesystem;
using namespace hg_test_ckpt;
using hg::io::checkpoint_store;
using hg::io::crc32;
using hg::io::decode_checkpoint;
using hg::io::encode_checkpoint;
using hg_test_data::temp_dir;

TEST_CASE("crc32: known vectors, incremental use, and agreement with a bitwise implementation") {
    CHECK(crc32(std::string_view("")) == 0x00000000u);
    CHECK(crc32(std::string_view("a")) == 0xE8B7BE43u);
    CHECK(crc32(std::string_view("abc")) == 0x352441C2u);
    CHECK(crc32(std::string_view("123456789")) == 0xCBF43926u);
    CHECK(crc32(std::string_view("The quick brown fox jumps over the lazy dog")) == 0x414FA339u);
    CHECK(crc32(std::string(32, '\0')) == 0x190A55ADu);
    CHECK(crc32(std::string(32, '\xff')) == 0xFF6CAB0Bu);
    std::string all;
    for (int i = 0; i < 256; ++i) all += char(i);
    CHECK(crc32(all) == 0x29058C73u);
    CHECK(crc32(std::string_view("6789"), crc32(std::string_view("12345"))) == 0xCBF43926u);

    // Every length and alignment the 8-byte steps and the byte tail can meet.
    hg::rng r(5, 1);
    std::vector<unsigned char> buf(300);
    for (auto& b : buf) b = static_cast<unsigned char>(r.next_bits());
    for (std::size_t offset = 0; offset < 8; ++offset)
        for (std::size_t n = 0; n + offset <= buf.size(); n += (n < 40 ? 1 : 37))
            REQUIRE(crc32(buf.data() + offset, n) == hg_test_data::crc32(buf.data() + offset, n));
}

TEST_CASE("json: values round-trip through compact text") {
    json v = json::object();
    v["null"] = nullptr;
    v["yes"] = true;
    v["no"] = false;
    v["int_max"] = std::int64_t(9223372036854775807LL);
    v["int_min"] = std::int64_t(-9223372036854775807LL - 1);
    v["big_exact"] = std::int64_t(9007199254740993LL);  // 2^53 + 1: not a double
    v["one"] = 1.0;
    v["tenth"] = 0.1;
    v["neg_zero"] = -0.0;
    v["tiny"] = 5e-324;
    v["huge"] = 1.7976931348623157e308;
    v["text"] = std::string("quote \" backslash \\ slash / \b\f\n\r\t \x01\x1f end") + std::string(1, '\0') + "nul";
    v["utf8"] = "\xc3\xa9\xf0\x9f\x98\x80";
    v["list"] = json::array({json(1), json("two"), json::array(), json::object(), json(3.5)});
    v["nested"]["deeper"]["deepest"] = json::array({json(nullptr)});
    const std::string text = v.dump();
    const json back = json::parse(text);
    CHECK(back == v);
    CHECK(back.dump() == text);
    CHECK(back.at("int_max").as_int() == 9223372036854775807LL);
    CHECK(back.at("int_min").as_int() == -9223372036854775807LL - 1);
    CHECK(back.at("big_exact").is_int());
    CHECK(back.at("big_exact").as_int() == 9007199254740993LL);
    CHECK(back.at("one").type() == json::kind::number);  // 1.0 stays a double
    CHECK(std::signbit(back.at("neg_zero").as_double()));
    CHECK(back.at("tiny").as_double() == 5e-324);
    CHECK(back.at("text").as_string() == v.at("text").as_string());
    CHECK(back.at("utf8").as_string() == "\xc3\xa9\xf0\x9f\x98\x80");
    CHECK(back.at("list").size() == 5);
    CHECK(back.at("list").at(1).as_string() == "two");
    CHECK(back.at("nested").at("deeper").at("deepest").at(0).is_null());
    // Keys keep their insertion order.
    CHECK(text.rfind("{\"null\":null,\"yes\":true,\"no\":false,\"int_max\":9223372036854775807,", 0) == 0);
    CHECK(json(1.0).dump() == "1.0");
    CHECK(json(0.1).dump() == "0.1");
    CHECK(json(1e300).dump() == "1e+300");
    CHECK(json("a\"b\\c\n\x01").dump() == "\"a\\\"b\\\\c\\n\\u0001\"");

    // Random finite doubles come back bit for bit.
    hg::rng r(9, 2);
    for (int i = 0; i < 2000; ++i) {
        const std::uint64_t bits = (std::uint64_t(r.next_bits()) << 32) | r.next_bits();
        double d = 0;
        std::memcpy(&d, &bits, 8);
        if (!std::isfinite(d)) continue;
        const double e = json::parse(json(d).dump()).as_double();
        REQUIRE(std::memcmp(&d, &e, 8) == 0);
    }
}

TEST_CASE("json: reading other writers' text") {
    const json v = json::parse(" \t\r\n{ \"a\" : [ 1 , -2.5e2 , 3E-1 ] , \"s\" : \"\\u00e9\\ud83d\\ude00\\/\" } \n");
    CHECK(v.at("a").at(0).as_int() == 1);
    CHECK(v.at("a").at(1).as_double() == -250.0);
    CHECK(v.at("a").at(2).as_double() == 0.3);
    CHECK(v.at("s").as_string() == "\xc3\xa9\xf0\x9f\x98\x80/");
    CHECK(json::parse("9223372036854775808").as_double() == 9223372036854775808.0);  // beyond int64: a double
    CHECK(json::parse("-0").as_int() == 0);
    CHECK(json::parse("2.0").as_int() == 2);  // an integral double reads as an integer
    CHECK(json::parse("\"\\u0000\"").as_string() == std::string(1, '\0'));
}

TEST_CASE("json: malformed text is a format_error with the position and the reason") {
    struct bad {
        std::string text, reason;
    };
    const std::vector<bad> cases = {
        {"", "unexpected end of the text, expected a value at byte 0"},
        {"   ", "unexpected end of the text, expected a value at byte 3"},
        {"{", "expected a string key in an object, found the end of the text at byte 1"},
        {"[1,]", "unexpected ']', expected a value at byte 3"},
        {"[1 2]", "expected ',' or ']' in an array, found '2' at byte 3"},
        {"{\"a\":1,}", "expected a string key in an object, found '}' at byte 7"},
        {"{\"a\" 1}", "expected ':' after an object key, found '1' at byte 5"},
        {"{1:2}", "expected a string key in an object, found '1' at byte 1"},
        {"{\"a\":1,\"a\":2}", "duplicate key \"a\" at byte 7"},
        {"01", "a number with a leading zero at byte 0"},
        {"-", "expected a digit after '-' at byte 1"},
        {"1.", "expected a digit after the decimal point at byte 2"},
        {"1e+", "expected a digit in the exponent at byte 3"},
        {"1e999", "the number 1e999 is out of the range of a double at byte 0"},
        {"\"abc", "unterminated string at byte 4"},
        {"\"a\nb\"", "unescaped control character the byte 0x0a in a string at byte 2"},
        {"\"\\x\"", "invalid escape character 'x' after a backslash in a string at byte 2"},
        {"\"\\u12\"", "truncated \\u escape at byte 3"},
        {"\"\\u12g4\"", "invalid hexadecimal digit 'g' in a \\u escape at byte 5"},
        {"\"\\ud800\"", "a high surrogate not followed by a \\u low surrogate at byte 7"},
        {"\"\\ud800\\u0041\"", "a high surrogate not followed by a low surrogate at byte 13"},
        {"\"\\udc00\"", "a low surrogate without a high one in a \\u escape at byte 7"},
        {"tru", "unexpected 't', expected a value at byte 0"},
        {"NaN", "unexpected 'N', expected a value at byte 0"},
        {"1 2", "unexpected text after the value at byte 2"},
        {"{\"a\":1}x", "unexpected text after the value at byte 7"},
        {"\x80", "unexpected the byte 0x80, expected a value at byte 0"},
        {std::string(300, '[') + std::string(300, ']'), "nesting deeper than 256 levels at byte 256"},
    };
    for (const bad& b : cases) {
        CAPTURE(b.text);
        const std::string msg = message_of<hg::format_error>([&] { json::parse(b.text); });
        CHECK(msg == "json: " + b.reason);
    }
    // Reading a value as the wrong type, or a missing member.
    CHECK(message_of<hg::format_error>([] { json("x").as_int(); }) == "json: expected an integer, found a string");
    CHECK(message_of<hg::format_error>([] { json(1.5).as_int(); }) == "json: expected an integer, found the number 1.5");
    CHECK(message_of<hg::format_error>([] { json::object().at("iteration"); }) ==
          "json: the object has no member \"iteration\"");
    CHECK(message_of<hg::format_error>([] { json::array({json(1)}).at(std::size_t(1)); }) ==
          "json: index 1 is outside an array of 1 elements");
    CHECK_THROWS_AS(json(std::nan("")).dump(), hg::value_error);
    CHECK_THROWS_AS(json(HUGE_VAL).dump(), hg::value_error);
    CHECK_THROWS_AS(json(std::uint64_t(1) << 63), hg::value_error);
}

TEST_CASE("checkpoint: encode and decode round-trip bit for bit") {
    const checkpoint c = sample_checkpoint(3);
    const std::string bytes = encode_checkpoint(c);
    const checkpoint back = decode_checkpoint(bytes, "sample.hgc");
    CHECK(same(c, back));
    CHECK(encode_checkpoint(back) == bytes);
    CHECK(back.at("special").data()[0] == 0.0f);
    CHECK(std::signbit(back.at("special").data()[0]));
    CHECK(back.at("scalar").shape().rank() == 0);
    CHECK(back.at("empty").shape() == hg::shape{0, 3});
    CHECK(back.find("missing") == nullptr);
    CHECK_THROWS_AS(back.at("missing"), hg::format_error);
    CHECK(back.header.at("iteration").as_int() == 1003);

    // An empty checkpoint (no tensors, no optimizer state) is valid too.
    const checkpoint empty;
    CHECK(same(decode_checkpoint(encode_checkpoint(empty), "empty.hgc"), empty));
}

TEST_CASE("checkpoint: the bytes follow the documented layout") {
    checkpoint c;
    c.header["iteration"] = 7;
    c.tensors.emplace_back("w", hg::tensor::from_vector(hg::shape{2, 1}, {1.5f, -2.0f}));
    c.tensors.emplace_back("s", hg::tensor::full(hg::shape{}, 3.0f));
    c.optimizer_state = std::string("\0\1\2", 3);
    const std::string expected =
        raw_checkpoint("{\"iteration\":7}", {{"w", {2, 1}, {1.5f, -2.0f}}, {"s", {}, {3.0f}}}, c.optimizer_state);
    CHECK(encode_checkpoint(c) == expected);
    // Spot checks of the fixed fields at their documented offsets.
    CHECK(expected.substr(0, 8) == std::string("HGCKPT\0\1", 8));
    CHECK(expected.substr(8, 4) == std::string("\1\0\0\0", 4));
    CHECK(expected.substr(12, 8) == std::string("\x0f\0\0\0\0\0\0\0", 8));
    CHECK(expected.substr(20, 15) == "{\"iteration\":7}");
}

TEST_CASE("checkpoint: a file cut at any byte is a format_error saying it is truncated") {
    const std::string bytes = encode_checkpoint(sample_checkpoint(4));
    REQUIRE(bytes.size() > 400);
    CHECK(message_of<hg::format_error>([&] { decode_checkpoint(bytes.substr(0, 0), "cut.hgc"); }) ==
          "checkpoint 'cut.hgc': the file is empty");
    for (std::size_t n = 1; n < bytes.size(); ++n) {
        CAPTURE(n);
        const std::string msg = message_of<hg::format_error>([&] { decode_checkpoint(bytes.substr(0, n), "cut.hgc"); });
        REQUIRE(contains(msg, "checkpoint 'cut.hgc': "));
        REQUIRE(contains(msg, "truncated"));
    }
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(bytes.substr(0, 5), "cut.hgc"); }),
                   "truncated: the file ends at byte 5 while reading the magic number at byte 0"));
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(bytes.substr(0, bytes.size() - 2), "cut.hgc"); }),
                   "while reading the CRC-32 of the whole file"));
    // Bytes after the end are refused too.
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(bytes + "x", "long.hgc"); }),
                   "1 unexpected bytes after the end of the checkpoint"));
}

TEST_CASE("checkpoint: every flipped byte is detected") {
    const std::string bytes = encode_checkpoint(sample_checkpoint(5));
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        for (const unsigned char mask : {0x01, 0x80, 0xFF}) {
            std::string bad = bytes;
            bad[i] = char(static_cast<unsigned char>(bad[i]) ^ mask);
            CAPTURE(i);
            CAPTURE(int(mask));
            const std::string msg = message_of<hg::format_error>([&] { decode_checkpoint(bad, "flip.hgc"); });
            REQUIRE(contains(msg, "checkpoint 'flip.hgc': "));
        }
    }
    // A flip in the data of a tensor names that tensor.
    const std::string name = "decoder_a/dense.w";
    const std::size_t at = bytes.find(name) + name.size() + 4 + 2 * 8 + 4 + 8 + 13;
    std::string bad = bytes;
    bad[at] ^= 0x10;
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(bad, "flip.hgc"); }),
                   "CRC mismatch in the data of tensor 'decoder_a/dense.w'"));
    // A flip in the header is caught by the whole-file CRC, before the header is parsed.
    bad = bytes;
    bad[30] ^= 0x01;
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(bad, "flip.hgc"); }),
                   "CRC mismatch in the whole file"));
    bad = bytes;
    bad[bytes.size() - 10] ^= 0x01;  // in the optimizer state
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(bad, "flip.hgc"); }),
                   "CRC mismatch in the optimizer state"));

    // A larger file: a sample of positions.
    const std::string big = encode_checkpoint(sample_checkpoint(6, 4000));
    REQUIRE(big.size() > 100000);
    std::mt19937_64 gen(77);
    for (int k = 0; k < 1500; ++k) {
        const std::size_t i = gen() % big.size();
        std::string b2 = big;
        b2[i] = char(static_cast<unsigned char>(b2[i]) ^ static_cast<unsigned char>(1u << (gen() % 8)));
        CAPTURE(i);
        REQUIRE(contains(message_of<hg::format_error>([&] { decode_checkpoint(b2, "big.hgc"); }), "checkpoint 'big.hgc': "));
    }
}

TEST_CASE("checkpoint: foreign files, newer versions, crafted lengths and headers") {
    const std::string bytes = encode_checkpoint(sample_checkpoint(7));
    CHECK(message_of<hg::format_error>([&] { decode_checkpoint("PK\3\4 some zip", "model.zip"); }) ==
          "checkpoint 'model.zip': not an hourglass checkpoint (the file does not start with \"HGCKPT\")");
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint("HG", "x"); }), "truncated"));
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint("HGX", "x"); }), "not an hourglass checkpoint"));

    std::string newer = bytes;
    newer[8] = 2;
    CHECK(message_of<hg::format_error>([&] { decode_checkpoint(newer, "new.hgc"); }) ==
          "checkpoint 'new.hgc': written by a newer version 2 of the checkpoint format; this build reads up to 1");
    newer[8] = 0;
    newer[11] = 1;  // 16777216
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(newer, "new.hgc"); }), "newer version 16777216"));
    std::string zero = bytes;
    zero[8] = 0;
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(zero, "z.hgc"); }), "format version 0 does not exist"));

    // Lengths that the rest of the file cannot hold are refused before anything is allocated.
    const std::string h = "{}";
    auto with = [&](std::size_t offset, std::uint64_t v, int width, const std::string& file) {
        std::string b = file;
        for (int k = 0; k < width; ++k) b[offset + std::size_t(k)] = char((v >> (8 * k)) & 0xFF);
        return b;
    };
    const std::string one = raw_checkpoint(h, {{"w", {2, 2}, {1, 2, 3, 4}}}, "state");
    const std::size_t count_at = 20 + h.size(), dims_at = count_at + 8 + 4 + 1 + 4, type_at = dims_at + 16, len_at = type_at + 4;
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(with(12, ~0ull, 8, one), "x"); }),
                   "the length of the header at byte 12 is 18446744073709551615 bytes, more than the"));
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(with(count_at, 1ull << 60, 8, one), "x"); }),
                   "the tensor count 1152921504606846976 is more than the"));
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(with(count_at + 8, 0, 4, one), "x"); }),
                   "the name length of tensor #0 is 0"));
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(with(count_at + 8 + 4 + 1, 5, 4, one), "x"); }),
                   "tensor 'w' has rank 5, more than the supported 4"));
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(with(dims_at, ~0ull, 8, one), "x"); }),
                   "tensor 'w' has the negative extent -1"));
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(with(dims_at, 1ull << 40, 8, one), "x"); }),
                   "tensor 'w' declares 16 data bytes at byte"));
    std::string huge = with(dims_at, 1ull << 40, 8, one);
    huge = with(dims_at + 8, 1ull << 40, 8, huge);
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(huge, "x"); }), "whose product overflows"));
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(with(type_at, 2, 4, one), "x"); }),
                   "tensor 'w' has element type 2; this build reads only 1 (float32)"));
    // The same element type in a file whose checksums match: another writer's file, not a damaged one.
    raw_tensor typed{"w", {1}, {1.0f}};
    typed.type = 2;
    CHECK(message_of<hg::format_error>([&] { decode_checkpoint(raw_checkpoint("{}", {typed}, ""), "x"); }) ==
          "checkpoint 'x': tensor 'w' has element type 2; this build reads only 1 (float32)");
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(with(type_at, 2, 4, one), "x"); }),
                   "(float32) (the file's final CRC-32 does not match its contents either: the file is damaged or cut short)"));
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(with(len_at, 12, 8, one), "x"); }),
                   "tensor 'w' declares 12 data bytes at byte 59, but its extents need 16"));
    // Consistent huge shape and length: the data cannot be in the file, nothing is allocated.
    std::string big = with(dims_at, 1ull << 40, 8, one);
    big = with(len_at, (1ull << 40) * 2 * 4, 8, big);
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(big, "x"); }),
                   "declares 8796093022208 data bytes at byte 59, more than the"));

    // Files whose checksums are right but whose contents are not valid.
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(raw_checkpoint("{\"a\":}", {}, ""), "x"); }),
                   "the header (from byte 20) is not valid JSON: json: unexpected '}', expected a value at byte 5"));
    CHECK(contains(message_of<hg::format_error>([&] { decode_checkpoint(raw_checkpoint("[1]", {}, ""), "x"); }),
                   "the header is a JSON array, not an object"));
    CHECK(contains(message_of<hg::format_error>(
                       [&] { decode_checkpoint(raw_checkpoint("{}", {{"w", {1}, {1}}, {"w", {1}, {2}}}, ""), "x"); }),
                   "two tensors are named 'w'"));
    // NaN stored by another writer is read as it is (the check is at save time), bit for bit.
    const checkpoint nan = decode_checkpoint(raw_checkpoint("{}", {{"w", {1}, {std::nanf("")}}}, ""), "x");
    CHECK(std::isnan(nan.at("w").data()[0]));
}

TEST_CASE("checkpoint: what cannot be saved is refused before anything is written") {
    temp_dir dir;
    const fs::path file = dir / "model.hgc";
    hg::io::save_checkpoint_file(file, sample_checkpoint(1));
    const std::string before = read_all(file);

    checkpoint c = sample_checkpoint(2);
    c.tensors[2].second.data()[7] = std::nanf("");
    CHECK(message_of<hg::value_error>([&] { hg::io::save_checkpoint_file(file, c); }) ==
          "checkpoint: tensor 'decoder_a/dense.w' holds the non-finite value nan at element 7; a model with non-finite "
          "weights is not saved");
    c.tensors[2].second.data()[7] = -INFINITY;
    CHECK(contains(message_of<hg::value_error>([&] { hg::io::save_checkpoint_file(file, c); }), "non-finite value -inf"));
    CHECK(contains(message_of<hg::value_error>([&] { hg::io::save_checkpoint_file(dir / "new.hgc", c); }),
                   "decoder_a/dense.w"));
    CHECK_FALSE(fs::exists(dir / "new.hgc"));

    checkpoint h = sample_checkpoint(2);
    h.header = json::array();
    CHECK(contains(message_of<hg::value_error>([&] { encode_checkpoint(h); }), "the header must be a JSON object, not a array"));
    h = sample_checkpoint(2);
    h.header["loss"] = std::nan("");
    CHECK(contains(message_of<hg::value_error>([&] { encode_checkpoint(h); }), "the header cannot be written"));
    h = sample_checkpoint(2);
    h.tensors.emplace_back("scalar", hg::tensor::zeros(hg::shape{1}));
    CHECK(contains(message_of<hg::value_error>([&] { encode_checkpoint(h); }), "two tensors are named 'scalar'"));
    h = sample_checkpoint(2);
    h.tensors.emplace_back("", hg::tensor::zeros(hg::shape{1}));
    CHECK(contains(message_of<hg::value_error>([&] { encode_checkpoint(h); }), "1 to 65535 bytes"));
    h = sample_checkpoint(2);
    h.tensors.emplace_back("undefined", hg::tensor());
    CHECK(contains(message_of<hg::value_error>([&] { encode_checkpoint(h); }), "tensor 'undefined' is undefined"));
    CHECK(read_all(file) == before);
    CHECK(files_in(dir.path()) == 1);
}

TEST_CASE("checkpoint files: save, load, and the errors of missing or foreign files") {
    temp_dir dir;
    const checkpoint c = sample_checkpoint(8);
    hg::io::save_checkpoint_file(dir / "a.hgc", c);
    CHECK(same(hg::io::load_checkpoint_file(dir / "a.hgc"), c));
    CHECK(read_all(dir / "a.hgc") == encode_checkpoint(c));
    CHECK(files_in(dir.path()) == 1);

    CHECK(contains(message_of<hg::io_error>([&] { hg::io::load_checkpoint_file(dir / "none.hgc"); }),
                   "none.hgc': the file does not exist"));
    CHECK(contains(message_of<hg::io_error>([&] { hg::io::load_checkpoint_file(dir.path()); }), "it is a folder"));
    hg_test_data::write_bytes(dir / "text.hgc", {'h', 'e', 'l', 'l', 'o'});
    CHECK(message_of<hg::format_error>([&] { hg::io::load_checkpoint_file(dir / "text.hgc"); }) ==
          "checkpoint '" + (dir / "text.hgc").string() + "': not an hourglass checkpoint (the file does not start with \"HGCKPT\")");
    CHECK(contains(message_of<hg::io_error>([&] { hg::io::save_checkpoint_file(dir / "no" / "a.hgc", c); }),
                   "checkpoint: cannot save '" + (dir / "no" / "a.hgc").string() + "': the folder"));
}

namespace {

/// Saves under a file-size limit below the checkpoint's size (a full disk) and restores the limit.
std::string save_with_full_disk(const std::function<void()>& save) {
    struct rlimit old {};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    auto* old_handler = signal(SIGXFSZ, SIG_IGN);
    struct rlimit tight = old;
    tight.rlim_cur = 2048;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &tight) == 0);
    const std::string msg = message_of<hg::io_error>(save);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    return msg;
}

}  // namespace

TEST_CASE("checkpoint_store: the current file, the backup policy and the fallback to the backup") {
    temp_dir dir;
    checkpoint_store store(dir / "model");  // created by the first save
    CHECK_FALSE(store.exists());
    CHECK(store.current_path() == dir / "model" / "model.hgc");
    CHECK(store.backup_path() == dir / "model" / "model.backup.hgc");
    CHECK(contains(message_of<hg::io_error>([&] { store.load(); }), "neither 'model.hgc' nor 'model.backup.hgc' exists"));

    const checkpoint c1 = sample_checkpoint(11), c2 = sample_checkpoint(12), c3 = sample_checkpoint(13),
                     c4 = sample_checkpoint(14);
    store.save(c1, true);  // improved, but nothing to keep as backup yet
    CHECK(store.exists());
    CHECK_FALSE(fs::exists(store.backup_path()));
    CHECK(same(store.load(), c1));

    store.save(c2, false);  // not improved: the current is replaced, no backup made
    CHECK(read_all(store.current_path()) == encode_checkpoint(c2));
    CHECK_FALSE(fs::exists(store.backup_path()));

    store.save(c3, true);  // improved: c2 becomes the backup
    CHECK(read_all(store.current_path()) == encode_checkpoint(c3));
    CHECK(read_all(store.backup_path()) == encode_checkpoint(c2));

    store.save(c4, false);  // not improved: the backup stays
    CHECK(read_all(store.current_path()) == encode_checkpoint(c4));
    CHECK(read_all(store.backup_path()) == encode_checkpoint(c2));
    CHECK(files_in(store.folder()) == 2);  // no temporary or staging file left
    CHECK(same(store.load(), c4));
    CHECK(store.warnings().empty());

    // A corrupt current: the backup is loaded, with a warning that names the file and the reason.
    std::string bytes = read_all(store.current_path());
    bytes[bytes.size() / 2] ^= 0x01;
    hg_test_data::write_bytes(store.current_path(), std::vector<unsigned char>(bytes.begin(), bytes.end()));
    checkpoint_store reopened(store.folder());
    CHECK(same(reopened.load(), c2));
    REQUIRE(reopened.warnings().size() == 1);
    CHECK(contains(reopened.warnings()[0], store.current_path().string()));
    CHECK(contains(reopened.warnings()[0], "could not be loaded (checkpoint '" + store.current_path().string() + "': "));
    CHECK(contains(reopened.warnings()[0], "the file is damaged"));
    CHECK(contains(reopened.warnings()[0], "loaded the backup '" + store.backup_path().string() + "'"));

    // A missing current (a crash between the renames of an improved save): the backup, with a warning.
    fs::remove(store.current_path());
    CHECK(store.exists());
    CHECK(same(reopened.load(), c2));
    CHECK(reopened.warnings().size() == 2);
    CHECK(contains(reopened.warnings()[1], "the file does not exist"));

    // Both bad: a format_error naming both files and both reasons.
    hg_test_data::write_bytes(store.current_path(), {'H', 'G', 'C'});
    std::string backup = read_all(store.backup_path());
    backup.resize(backup.size() - 1);
    hg_test_data::write_bytes(store.backup_path(), std::vector<unsigned char>(backup.begin(), backup.end()));
    const std::string msg = message_of<hg::format_error>([&] { reopened.load(); });
    CHECK(contains(msg, "no usable checkpoint in '" + store.folder().string() + "'"));
    CHECK(contains(msg, "the current '" + store.current_path().string() + "' failed (checkpoint '" +
                            store.current_path().string() + "': truncated"));
    CHECK(contains(msg, "the backup '" + store.backup_path().string() + "' failed (checkpoint '" +
                            store.backup_path().string() + "': truncated"));

    // The next good save repairs the current.
    store.save(c1, false);
    CHECK(same(reopened.load(), c1));
}

TEST_CASE("checkpoint_store: failed saves leave the previous files as they were") {
    temp_dir dir;
    checkpoint_store store(dir.path());
    const checkpoint c1 = sample_checkpoint(21), c2 = sample_checkpoint(22);
    store.save(c1, false);
    store.save(c2, true);
    const std::string current = read_all(store.current_path()), backup = read_all(store.backup_path());
    auto unchanged = [&] {
        CHECK(read_all(store.current_path()) == current);
        CHECK(read_all(store.backup_path()) == backup);
        CHECK(files_in(dir.path()) == 2);
    };

    // Non-finite weights: refused before the disk is touched.
    checkpoint nan = sample_checkpoint(23);
    nan.tensors[0].second.data()[0] = std::nanf("");
    CHECK_THROWS_AS(store.save(nan, true), hg::value_error);
    unchanged();

    // A full disk (a file-size limit), improved or not.
    const checkpoint big = sample_checkpoint(24, 100);
    REQUIRE(encode_checkpoint(big).size() > 2048);  // over the limit below
    for (const bool improved : {false, true}) {
        CAPTURE(improved);
        const std::string msg = save_with_full_disk([&] { store.save(big, improved); });
        CHECK(contains(msg, "checkpoint: cannot save '"));
        CHECK(contains(msg, "the disk may be full"));
        CHECK(contains(msg, "the destination was not changed"));
        unchanged();
    }
    CHECK(same(store.load(), c2));

    // The folder cannot be made: a file is in the way.
    temp_dir other;
    hg_test_data::write_bytes(other / "blocked", {'x'});
    checkpoint_store blocked(other / "blocked" / "model");
    CHECK(contains(message_of<hg::io_error>([&] { blocked.save(c1, false); }), "cannot create the folder"));

    // An unwritable folder (root writes everywhere, so this part needs another user).
    if (::geteuid() != 0) {
        fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
        for (const bool improved : {false, true}) {
            const std::string msg = message_of<hg::io_error>([&] { store.save(c1, improved); });
            CHECK(contains(msg, "cannot create the temporary file"));
            CHECK(contains(msg, "Permission denied"));
        }
        fs::permissions(dir.path(), fs::perms::owner_all);
        unchanged();
    }
}

TEST_CASE("checkpoint_store: temporary files of dead processes are removed by the next save") {
    temp_dir dir;
    checkpoint_store store(dir.path());
    const pid_t dead = fork();
    REQUIRE(dead >= 0);
    if (dead == 0) _exit(0);
    REQUIRE(waitpid(dead, nullptr, 0) == dead);
    const std::string stale = ".model.hgc.tmp-" + std::to_string(dead) + "-0";
    const std::string stale_staged = ".model.new.hgc.tmp-" + std::to_string(dead) + "-3";
    const std::string alive = ".model.hgc.tmp-1-0";  // pid 1 exists: kept
    const std::string other = ".other.hgc.tmp-" + std::to_string(dead) + "-0";  // not ours: kept
    for (const auto& name : {stale, stale_staged, alive, other}) hg_test_data::write_bytes(dir / name, {'x'});
    store.save(sample_checkpoint(1), false);
    CHECK_FALSE(fs::exists(dir / stale));
    CHECK_FALSE(fs::exists(dir / stale_staged));
    CHECK(fs::exists(dir / alive));
    CHECK(fs::exists(dir / other));
}

TEST_CASE("checkpoint_store: a process killed at a random moment while saving leaves a complete checkpoint") {
    temp_dir dir;
    const checkpoint versions[2] = {sample_checkpoint(31, 3000), sample_checkpoint(32, 3000)};  // about 120 KB each
    const std::string encoded[2] = {encode_checkpoint(versions[0]), encode_checkpoint(versions[1])};
    auto is_written = [&](const std::string& bytes) { return bytes == encoded[0] || bytes == encoded[1]; };
    std::mt19937 gen(2024);
    std::uniform_int_distribution<int> delay_us(0, 20000);
    int saw[2] = {0, 0}, fallbacks = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int round = 0; round < 50; ++round) {
        CAPTURE(round);
        checkpoint_store store(dir / "model");
        if (round == 0) store.save(versions[0], false);
        int ready[2];
        REQUIRE(pipe(ready) == 0);
        const pid_t child = fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            // Save forever, alternating the contents and the backup policy; say so after the first.
            ::close(ready[0]);
            try {
                for (std::uint64_t k = 0;; ++k) {
                    store.save(versions[(k + 1) % 2], (k / 2) % 2 == 1);
                    if (k == 0 && ::write(ready[1], "1", 1) != 1) _exit(3);
                }
            } catch (...) {
                _exit(2);
            }
        }
        ::close(ready[1]);
        char byte = 0;
        const bool child_saved = ::read(ready[0], &byte, 1) == 1;  // 0: the child died before saving
        ::close(ready[0]);
        ::usleep(static_cast<useconds_t>(delay_us(gen)));
        ::kill(child, SIGKILL);
        int status = 0;
        REQUIRE(waitpid(child, &status, 0) == child);
        REQUIRE(child_saved);
        REQUIRE(WIFSIGNALED(status));

        checkpoint_store after(dir / "model");
        const checkpoint loaded = after.load();
        const std::string bytes = encode_checkpoint(loaded);
        REQUIRE(is_written(bytes));
        ++saw[bytes == encoded[1] ? 1 : 0];
        // The current, when present, is always complete; the backup may be used only when it is missing.
        if (fs::exists(after.current_path())) {
            REQUIRE(is_written(read_all(after.current_path())));
            REQUIRE(after.warnings().empty());
        } else {
            ++fallbacks;
            REQUIRE(after.warnings().size() == 1);
        }
        if (fs::exists(after.backup_path())) REQUIRE(is_written(read_all(after.backup_path())));
    }
    // A save by the next process removes what the killed ones left behind.
    checkpoint_store(dir / "model").save(versions[0], false);
    for (const auto& e : fs::directory_iterator(dir / "model"))
        CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    MESSAGE("killed 50 saving processes in " << seconds << " s: loaded version A " << saw[0] << " times, B " << saw[1]
                                              << " times, from the backup " << fallbacks << " times");
    CHECK(seconds < 20.0);
}

namespace {

/// Fills the gradients of p's tensors (not the alignment padding) with values from (seed, step).
void write_gradients(const hg::parameters<hg::cpu>& p, std::uint64_t seed, int step) {
    hg::rng r(seed, static_cast<std::uint64_t>(step));
    p.grads().fill(0.0f);
    for (std::size_t k = 0; k < p.size(); ++k)
        for (std::int64_t i = 0; i < p.grad(k).numel(); ++i) p.grad(k)[i] = r.uniform(-1.0f, 1.0f);
}

}  // namespace

TEST_CASE("checkpoint_store: parameters and Adam state resume training bit-identically") {
    hg::cpu be(1);
    hg::param_layout layout;
    layout.add("dense.w", hg::shape{4, 3}, hg::initializer::he_uniform, 3, 4);
    layout.add("dense.b", hg::shape{4}, hg::initializer::zeros);
    hg::optim::settings s;
    s.rule = hg::optim::adam(1e-2);

    hg::parameters<hg::cpu> straight(be, layout, 3);
    hg::optim::optimizer<hg::cpu> opt(be, straight, s);
    temp_dir dir;
    checkpoint_store store(dir.path());
    for (int step = 1; step <= 10; ++step) {
        write_gradients(straight, 8, step);
        REQUIRE(opt.step() == hg::optim::step_result::applied);
        if (step == 5) {
            checkpoint c;
            c.header["iteration"] = step;
            for (std::size_t i = 0; i < straight.size(); ++i)
                c.tensors.emplace_back(straight.entry(i).name, straight.value(i).clone());
            std::ostringstream state;
            opt.save(state);
            c.optimizer_state = state.str();
            store.save(c, true);
        }
    }

    // A fresh process: other initial values, the checkpoint loaded, the same five steps.
    hg::parameters<hg::cpu> resumed(be, layout, 99);
    hg::optim::optimizer<hg::cpu> opt2(be, resumed, s);
    const checkpoint c = checkpoint_store(dir.path()).load();
    REQUIRE(c.header.at("iteration").as_int() == 5);
    for (std::size_t i = 0; i < resumed.size(); ++i) {
        const hg::tensor& t = c.at(resumed.entry(i).name);
        REQUIRE(t.shape() == resumed.entry(i).shape);
        std::copy(t.data(), t.data() + t.numel(), resumed.value(i).data());
    }
    std::istringstream state(c.optimizer_state);
    opt2.load(state);
    for (int step = 6; step <= 10; ++step) {
        write_gradients(resumed, 8, step);
        REQUIRE(opt2.step() == hg::optim::step_result::applied);
    }
    CHECK(std::memcmp(resumed.values().data(), straight.values().data(), straight.values().bytes()) == 0);
    CHECK(opt2.steps() == opt.steps());
}
