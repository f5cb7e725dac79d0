// TensorBoard event files (io/tensorboard.hpp) and what they are built from: CRC-32C against
// published check values (RFC 3720) and a bitwise implementation, TFRecord's masked CRC against the
// first bytes of every TensorFlow event file, the protobuf wire encoder byte for byte, a written
// file decoded back by the small reader below (framing, both CRCs, the Event, Summary, Value and
// Image fields), errors naming the folder, and the training cycle's TensorBoard log (tags, steps,
// values against losses.csv and the cycle's own record, the preview picture byte for byte).
#include <doctest/doctest.h>

#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cpu/helpers.hpp"
#include "support/swap_fixtures.hpp"
#include "hourglass/hourglass.hpp"
#include "hourglass/io/crc32.hpp"
#include "hourglass/io/protobuf_wire.hpp"
#include "hourglass/io/tensorboard.hpp"

namespace fs = std::filesystem;
using hg::io::crc32c;
using hg::io::masked_crc32c;
using hg::test::contains;
using hg::test::message_of;

namespace {

std::string bytes(std::initializer_list<unsigned> v) {
    std::string s;
    for (unsigned b : v) s += static_cast<char>(static_cast<unsigned char>(b));
    return s;
}

std::string file_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

/// CRC-32C one bit at a time, straight from the definition (reflected polynomial 0x82F63B78).
std::uint32_t crc32c_bitwise(const std::string& data) {
    std::uint32_t c = 0xFFFFFFFFu;
    for (unsigned char b : data) {
        c ^= b;
        for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

// ---- a small reader of what the writer writes ----

std::uint64_t le(const std::string& s, std::size_t at, int n) {
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s.at(at + static_cast<std::size_t>(i)));
    return v;
}

/// The records of a TFRecord file; fails the test on a bad length or CRC.
std::vector<std::string> read_records(const std::string& file) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < file.size()) {
        REQUIRE(file.size() - pos >= 12);
        const std::uint64_t n = le(file, pos, 8);
        REQUIRE(static_cast<std::uint32_t>(le(file, pos + 8, 4)) == masked_crc32c(file.data() + pos, 8));
        REQUIRE(file.size() - pos - 12 >= n + 4);
        std::string data = file.substr(pos + 12, n);
        REQUIRE(static_cast<std::uint32_t>(le(file, pos + 12 + n, 4)) == masked_crc32c(data.data(), data.size()));
        out.push_back(std::move(data));
        pos += 12 + n + 4;
    }
    return out;
}

/// One decoded field: number, wire type, and the varint value or the raw payload.
struct field {
    std::uint32_t number = 0, type = 0;
    std::uint64_t value = 0;  ///< varint, fixed32, fixed64
    std::string payload;      ///< length-delimited
};

std::uint64_t read_varint(const std::string& s, std::size_t& pos) {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        REQUIRE(pos < s.size());
        const auto b = static_cast<unsigned char>(s[pos++]);
        v |= std::uint64_t(b & 0x7Fu) << shift;
        if (!(b & 0x80u)) return v;
    }
    FAIL("varint longer than 10 bytes");
    return 0;
}

std::vector<field> decode(const std::string& m) {
    std::vector<field> out;
    std::size_t pos = 0;
    while (pos < m.size()) {
        const std::uint64_t key = read_varint(m, pos);
        field f;
        f.number = static_cast<std::uint32_t>(key >> 3);
        f.type = static_cast<std::uint32_t>(key & 7u);
        if (f.type == 0) {
            f.value = read_varint(m, pos);
        } else if (f.type == 1 || f.type == 5) {
            const int n = f.type == 1 ? 8 : 4;
            REQUIRE(pos + static_cast<std::size_t>(n) <= m.size());
            f.value = le(m, pos, n);
            pos += static_cast<std::size_t>(n);
        } else {
            REQUIRE(f.type == 2);
            const std::uint64_t n = read_varint(m, pos);
            REQUIRE(n <= m.size() - pos);
            f.payload = m.substr(pos, n);
            pos += n;
        }
        out.push_back(std::move(f));
    }
    return out;
}

/// A decoded Event.
struct event {
    double wall_time = 0;
    std::int64_t step = 0;
    std::string file_version;
    std::map<std::string, float> scalars;
    struct image {
        std::int64_t height = 0, width = 0, colorspace = 0;
        std::string png;
    };
    std::map<std::string, image> images;
};

event decode_event(const std::string& data) {
    event e;
    for (const auto& f : decode(data)) {
        if (f.number == 1 && f.type == 1) e.wall_time = std::bit_cast<double>(f.value);
        else if (f.number == 2 && f.type == 0) e.step = static_cast<std::int64_t>(f.value);
        else if (f.number == 3 && f.type == 2) e.file_version = f.payload;
        else if (f.number == 5 && f.type == 2) {
            for (const auto& v : decode(f.payload)) {
                REQUIRE(v.number == 1);
                std::string tag;
                bool scalar = false;
                float value = 0;
                event::image img;
                bool has_image = false;
                for (const auto& x : decode(v.payload)) {
                    if (x.number == 1) tag = x.payload;
                    else if (x.number == 2 && x.type == 5) scalar = true, value = std::bit_cast<float>(static_cast<std::uint32_t>(x.value));
                    else if (x.number == 4 && x.type == 2) {
                        has_image = true;
                        for (const auto& y : decode(x.payload)) {
                            if (y.number == 1) img.height = static_cast<std::int64_t>(y.value);
                            else if (y.number == 2) img.width = static_cast<std::int64_t>(y.value);
                            else if (y.number == 3) img.colorspace = static_cast<std::int64_t>(y.value);
                            else if (y.number == 4) img.png = y.payload;
                            else FAIL("unexpected Image field " << y.number);
                        }
                    } else FAIL("unexpected Value field " << x.number);
                }
                REQUIRE(scalar != has_image);
                if (scalar) e.scalars[tag] = value;
                else e.images[tag] = img;
            }
        } else FAIL("unexpected Event field " << f.number);
    }
    return e;
}

std::vector<event> read_events(const fs::path& file) {
    std::vector<event> out;
    for (const auto& r : read_records(file_bytes(file))) out.push_back(decode_event(r));
    return out;
}

}  // namespace

TEST_CASE("crc32c: RFC 3720 check values, incremental use, agreement with a bitwise implementation") {
    CHECK(crc32c(std::string_view("")) == 0x00000000u);
    CHECK(crc32c(std::string_view("123456789")) == 0xE3069283u);
    std::string zeros(32, '\0'), ones(32, '\xFF'), up, down;
    for (int i = 0; i < 32; ++i) up += static_cast<char>(i), down += static_cast<char>(31 - i);
    CHECK(crc32c(zeros) == 0x8A9136AAu);
    CHECK(crc32c(ones) == 0x62A8AB43u);
    CHECK(crc32c(up) == 0x46DD794Eu);
    CHECK(crc32c(down) == 0x113FDB5Cu);
    // Not the IEEE CRC, which the same header still gives.
    CHECK(hg::io::crc32(std::string_view("123456789")) == 0xCBF43926u);

    std::mt19937 gen(3);
    std::string data;
    for (int i = 0; i < 1031; ++i) data += static_cast<char>(gen() & 0xFFu);
    for (std::size_t n : {std::size_t(1), std::size_t(7), std::size_t(8), std::size_t(9), std::size_t(64), std::size_t(1031)}) {
        const std::string part = data.substr(0, n);
        CHECK(crc32c(part) == crc32c_bitwise(part));
        for (std::size_t cut : {std::size_t(0), n / 3, n})
            CHECK(crc32c(part.substr(cut), crc32c(part.substr(0, cut))) == crc32c(part));
    }
}

TEST_CASE("masked_crc32c: the header of TensorFlow's own event files") {
    // Every TensorFlow event file starts with the 24-byte file-version record: length 0x18, then the
    // masked CRC-32C of those 8 bytes, a3 7f 4b 22.
    const std::string length = bytes({0x18, 0, 0, 0, 0, 0, 0, 0});
    CHECK(masked_crc32c(length.data(), 8) == 0x224B7FA3u);
    const std::uint32_t c = crc32c(std::string_view("123456789"));
    CHECK(masked_crc32c("123456789", 9) == ((c >> 15) | (c << 17)) + 0xA282EAD8u);
}

TEST_CASE("protobuf wire format: varints, keys, fixed-width and length-delimited fields byte for byte") {
    using hg::io::protobuf::append_varint;
    auto varint = [](std::uint64_t v) {
        std::string s;
        append_varint(s, v);
        return s;
    };
    CHECK(varint(0) == bytes({0x00}));
    CHECK(varint(1) == bytes({0x01}));
    CHECK(varint(127) == bytes({0x7F}));
    CHECK(varint(128) == bytes({0x80, 0x01}));
    CHECK(varint(300) == bytes({0xAC, 0x02}));
    CHECK(varint(16384) == bytes({0x80, 0x80, 0x01}));
    CHECK(varint(0xFFFFFFFFFFFFFFFFull) == bytes({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}));

    hg::io::protobuf::message m;
    m.int_field(1, 150);  // the protobuf guide's example: 08 96 01
    CHECK(m.bytes() == bytes({0x08, 0x96, 0x01}));
    hg::io::protobuf::message neg;
    neg.int_field(2, -1);  // int64 -1: ten bytes of two's complement
    CHECK(neg.bytes() == bytes({0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}));
    hg::io::protobuf::message s;
    s.bytes_field(2, "testing");  // 12 07 74 65 73 74 69 6e 67
    CHECK(s.bytes() == bytes({0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g'}));
    hg::io::protobuf::message f;
    f.float_field(2, 1.0f).double_field(1, 1.5);
    CHECK(f.bytes() == bytes({0x15, 0x00, 0x00, 0x80, 0x3F, 0x09, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F}));
    hg::io::protobuf::message big;
    big.uint_field(16, 1).fixed32_field(3, 0x01020304u).fixed64_field(4, 0x0102030405060708ull);
    CHECK(big.bytes() == bytes({0x80, 0x01, 0x01, 0x1D, 0x04, 0x03, 0x02, 0x01, 0x21, 8, 7, 6, 5, 4, 3, 2, 1}));
    hg::io::protobuf::message outer;
    outer.message_field(3, m);  // 1a 03 08 96 01
    CHECK(outer.bytes() == bytes({0x1A, 0x03, 0x08, 0x96, 0x01}));
    hg::io::protobuf::message bad;
    CHECK(contains(message_of<hg::value_error>([&] { bad.uint_field(0, 1); }), "field number 0"));
    CHECK(contains(message_of<hg::value_error>([&] { bad.uint_field(1u << 29, 1); }), "field number 536870912"));
}

TEST_CASE("tensorboard_writer: a file of TFRecords holding the file version, scalars and an image") {
    hg::test::temp_dir dir("hg_tensorboard", "writer");
    const fs::path logs = dir.path / "logs" / "run";  // created by the writer
    hg::io::encoded_image img;
    {
        // A real PNG: 3 x 2 RGB.
        hg::tensor t = hg::tensor::empty(hg::shape{2, 3, 3});
        for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = float(i) / float(t.numel());
        hg::data::save_png(dir.path / "small.png", t);
        img = hg::io::read_png_file(dir.path / "small.png");
        CHECK(img.width == 3);
        CHECK(img.height == 2);
        CHECK(img.channels == 3);
        CHECK(img.png == file_bytes(dir.path / "small.png"));
    }
    fs::path file;
    const double t0 = hg::io::unix_time_now();
    {
        hg::io::tensorboard_writer w(logs);
        file = w.path();
        char host[256] = {};
        ::gethostname(host, sizeof host - 1);
        CHECK(file.parent_path() == logs);
        CHECK(file.filename().string().rfind("events.out.tfevents.", 0) == 0);
        CHECK(contains(file.filename().string(), std::string(".") + host));
        // Written at once: the file-version record is there before the writer is closed.
        const std::string head = file_bytes(file);
        REQUIRE(head.size() == 12 + 24 + 4);
        CHECK(head.substr(0, 12) == bytes({0x18, 0, 0, 0, 0, 0, 0, 0, 0xA3, 0x7F, 0x4B, 0x22}));

        hg::io::tensorboard_summary s;
        s.scalar("loss/a", 0.25f).scalar("learning_rate", 5e-5f);
        w.write(7, s, 1234.5);
        w.write(8, hg::io::tensorboard_summary());  // empty: nothing written
        hg::io::tensorboard_summary p;
        p.image("preview", img).scalar("loss/a", -3.0f);
        w.write(9, p);
        // A second writer in the same folder (same second) gets its own file.
        hg::io::tensorboard_writer w2(logs);
        CHECK(w2.path() != w.path());
    }
    const auto events = read_events(file);
    REQUIRE(events.size() == 3);
    CHECK(events[0].file_version == "brain.Event:2");
    CHECK(events[0].step == 0);
    CHECK(events[0].wall_time >= t0 - 1);
    CHECK(events[0].wall_time <= hg::io::unix_time_now() + 1);
    CHECK(events[0].scalars.empty());
    CHECK(events[1].step == 7);
    CHECK(events[1].wall_time == 1234.5);
    CHECK(events[1].file_version.empty());
    REQUIRE(events[1].scalars.size() == 2);
    CHECK(events[1].scalars.at("loss/a") == 0.25f);
    CHECK(events[1].scalars.at("learning_rate") == 5e-5f);
    CHECK(events[2].step == 9);
    CHECK(events[2].scalars.at("loss/a") == -3.0f);
    REQUIRE(events[2].images.count("preview") == 1);
    const auto& im = events[2].images.at("preview");
    CHECK(im.height == 2);
    CHECK(im.width == 3);
    CHECK(im.colorspace == 3);
    CHECK(im.png == img.png);

    // The reader itself fails on a flipped byte (so the checks above mean something).
    std::string corrupt = file_bytes(file);
    corrupt[20] = static_cast<char>(corrupt[20] ^ 1);
    std::size_t pos = 0;
    const std::uint64_t n = le(corrupt, pos, 8);
    CHECK(static_cast<std::uint32_t>(le(corrupt, 12 + n, 4)) != masked_crc32c(corrupt.data() + 12, n));
}

TEST_CASE("tensorboard_writer: errors name the folder or file and the reason") {
    hg::test::temp_dir dir("hg_tensorboard", "errors");
    std::ofstream(dir.path / "a_file") << "x";
    // A folder under a regular file cannot be created (even by root).
    const std::string m = message_of<hg::io_error>([&] { hg::io::tensorboard_writer w(dir.path / "a_file" / "logs"); });
    CHECK(contains(m, (dir.path / "a_file" / "logs").string()));
    CHECK(contains(m, "cannot create the log folder"));
    const std::string m2 = message_of<hg::io_error>([&] { hg::io::tensorboard_writer w(dir.path / "a_file"); });
    CHECK(contains(m2, (dir.path / "a_file").string()));
    // Not a PNG, and no file.
    CHECK(contains(message_of<hg::format_error>([&] { (void)hg::io::read_png_file(dir.path / "a_file"); }), "is not a PNG file"));
    CHECK(contains(message_of<hg::io_error>([&] { (void)hg::io::read_png_file(dir.path / "missing.png"); }), "missing.png"));
    hg::io::tensorboard_summary s;
    CHECK(contains(message_of<hg::value_error>([&] { s.image("x", hg::io::encoded_image{}); }), "'x'"));
}

TEST_CASE("training cycle: TensorBoard scalars every N iterations and the preview at every preview") {
    hg::test::temp_dir dir("hg_tensorboard", "cycle");
    hg::cpu be(1);
    auto o = hg::test::micro_options(true, 6);  // mask head: two loss terms per side
    o.preview_every = 3;
    o.tensorboard_dir = dir.path / "tb";
    o.tensorboard_every = 2;
    hg::swap::trainer<hg::cpu, hg::swap::micro, true> tr(be, o, hg::test::synthetic_side(0, 1), hg::test::synthetic_side(1, 2),
                                                       dir.path / "model");
    std::map<std::int64_t, std::vector<std::pair<std::string, float>>> recorded;
    tr.run(nullptr, [&] { recorded[tr.iteration()] = tr.cycle().tensorboard_scalars(); });
    const fs::path file = tr.cycle().tensorboard_file();
    REQUIRE(file.parent_path() == dir.path / "tb");
    const auto events = read_events(file);
    // The file version, then iterations 2, 3 (preview only), 4, 6 (scalars and preview).
    REQUIRE(events.size() == 5);
    const std::int64_t steps[] = {0, 2, 3, 4, 6};
    for (std::size_t i = 0; i < 5; ++i) CHECK(events[i].step == steps[i]);
    const auto losses = hg::train::read_loss_log(dir.path / "model" / "losses.csv", 2);
    REQUIRE(losses.size() == 6);
    const std::vector<std::string> tags = {"grad_norm/decoder_a", "grad_norm/decoder_b", "grad_norm/encoder", "iterations_per_second",
                                           "learning_rate",       "loss/a",              "loss/a/face",       "loss/a/mask",
                                           "loss/b",              "loss/b/face",         "loss/b/mask"};
    for (std::size_t i : {std::size_t(1), std::size_t(3), std::size_t(4)}) {
        const auto& e = events[i];
        CAPTURE(e.step);
        std::vector<std::string> got;
        for (const auto& [tag, v] : e.scalars) got.push_back(tag);
        CHECK(got == tags);
        // The losses are the values losses.csv holds, as floats; the terms add up to them.
        const auto& row = losses[static_cast<std::size_t>(e.step - 1)];
        REQUIRE(row.iteration == e.step);
        CHECK(e.scalars.at("loss/a") == static_cast<float>(row.losses[0]));
        CHECK(e.scalars.at("loss/b") == static_cast<float>(row.losses[1]));
        CHECK(double(e.scalars.at("loss/a/face")) + double(e.scalars.at("loss/a/mask")) ==
              doctest::Approx(row.losses[0]).epsilon(1e-6));
        CHECK(e.scalars.at("learning_rate") == static_cast<float>(o.lr));
        CHECK(e.scalars.at("iterations_per_second") > 0.f);
        CHECK(e.scalars.at("grad_norm/encoder") > 0.f);
        // ... and what the cycle reported for that iteration.
        const auto& rec = recorded.at(e.step);
        REQUIRE(rec.size() == tags.size());
        for (const auto& [tag, v] : rec) CHECK(e.scalars.at(tag) == v);
    }
    CHECK(events[2].scalars.empty());
    for (std::size_t i : {std::size_t(2), std::size_t(4)}) {
        const auto& e = events[i];
        REQUIRE(e.images.count("preview") == 1);
        const fs::path png = dir.path / "model" / ("preview_" + std::to_string(e.step) + ".png");
        const auto& im = e.images.at("preview");
        CHECK(im.png == file_bytes(png));
        const auto info = hg::data::read_image_info(png);
        CHECK(im.width == info.width);
        CHECK(im.height == info.height);
        CHECK(im.colorspace == 3);
    }
    CHECK(events[1].images.empty());
    CHECK(events[3].images.empty());
}

TEST_CASE("training cycle: tensorboard options are checked") {
    hg::test::temp_dir dir("hg_tensorboard", "options");
    hg::cpu be(1);
    auto o = hg::test::micro_options(false, 1);
    o.tensorboard_dir = dir.path / "tb";
    o.tensorboard_every = 0;
    CHECK(contains(message_of<hg::value_error>([&] {
                       hg::swap::trainer<hg::cpu, hg::swap::micro, false> tr(be, o, hg::test::synthetic_side(0, 1),
                                                                             hg::test::synthetic_side(1, 2), dir.path / "m");
                   }),
                   "tensorboard_every must be >= 1, got 0"));
    std::ofstream(dir.path / "a_file") << "x";
    o.tensorboard_every = 1;
    o.tensorboard_dir = dir.path / "a_file" / "tb";
    CHECK(contains(message_of<hg::io_error>([&] {
                       hg::swap::trainer<hg::cpu, hg::swap::micro, false> tr(be, o, hg::test::synthetic_side(0, 1),
                                                                             hg::test::synthetic_side(1, 2), dir.path / "m");
                   }),
                   (dir.path / "a_file" / "tb").string()));
}

TEST_CASE("training cycle: no TensorBoard image when the preview callback writes no picture") {
    // Without preview faces the trainer's preview callback writes nothing; a picture of that name
    // left by an earlier run must not be logged as this run's preview.
    hg::test::temp_dir dir("hg_tensorboard", "no_preview");
    hg::cpu be(1);
    auto o = hg::test::micro_options(false, 3);
    o.preview_every = 3;
    o.tensorboard_dir = dir.path / "tb";
    auto a = hg::test::synthetic_side(0, 1), b = hg::test::synthetic_side(1, 2);
    a.preview_faces = hg::tensor();
    fs::create_directories(dir.path / "model");
    std::ofstream(dir.path / "model" / "preview_3.png") << "an old picture";
    hg::swap::trainer<hg::cpu, hg::swap::micro, false> tr(be, o, std::move(a), std::move(b), dir.path / "model");
    tr.run();
    const auto events = read_events(tr.cycle().tensorboard_file());
    REQUIRE(events.size() == 4);  // the file version, then scalars at 1, 2, 3
    for (const auto& e : events) CHECK(e.images.empty());
    CHECK(events[3].step == 3);
    CHECK(events[3].scalars.count("loss/a") == 1);
    CHECK(events[3].scalars.count("loss/a/face") == 0);  // one term per side: no term tags
}
