// Regression tests for what fuzzing the readers found (tests/data/fuzz-findings/README.md): PNG
// chunks that declare more bytes than the file holds, a JPEG that stb_image decoded with
// uninitialised tables, PNGs with a tRNS colour key, BMPs with the 12-byte OS/2 header, named
// pipes given as files, sparse and oversized checkpoints, running out of memory while loading a
// checkpoint, names with control bytes in messages, strict UTF-8 and underflowing numbers in JSON.
// The memory and hang checks run in a child process under an address-space limit and an alarm, so
// an over-allocation fails the child's allocation and a hang is killed, and either fails the test.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "hourglass/core/quote.hpp"
#include "hourglass/data/image_io.hpp"
#include "hourglass/face/alignments.hpp"
#include "hourglass/io/checkpoint_store.hpp"
#include "hourglass/io/json.hpp"
#include "test_checkpoint_fixtures.hpp"
#include "test_data_fixtures.hpp"

namespace fs = std::filesystem;
using hg::io::checkpoint;
using namespace hg_test_data;
using namespace hg_test_ckpt;

namespace {

const fs::path findings = fs::path(__FILE__).parent_path().parent_path() / "data" / "fuzz-findings";

/// What a child process did: its exit code (or the signal that ended it) and what it reported.
struct child_result {
    bool exited = false;
    int code = -1;
    int signal = 0;
    std::string report;
};

/// The address space this process uses now, in bytes (/proc/self/statm, first field).
std::uint64_t address_space_now() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    unsigned long long pages = 0;
    if (f) {
        if (std::fscanf(f, "%llu", &pages) != 1) pages = 0;
        std::fclose(f);
    }
    return pages * std::uint64_t(::sysconf(_SC_PAGESIZE));
}

/// Runs `body` in a child process limited to `extra_bytes` of address space beyond what it has now
/// and to `seconds` of time (SIGALRM ends it). `body` returns its report; an exception's message
/// becomes the report with exit code 1.
child_result run_limited(std::uint64_t extra_bytes, unsigned seconds, const std::function<std::string()>& body) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        ::alarm(seconds);
        const std::uint64_t limit = address_space_now() + extra_bytes;
        const rlimit rl{limit, limit};
        ::setrlimit(RLIMIT_AS, &rl);
        int code = 0;
        std::string report;
        try {
            report = body();
        } catch (const std::exception& e) {
            report = std::string("exception: ") + e.what();
            code = 1;
        }
        (void)!::write(fds[1], report.data(), report.size());
        ::_exit(code);
    }
    ::close(fds[1]);
    child_result r;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) r.report.append(buf, std::size_t(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.exited = WIFEXITED(status);
    r.code = r.exited ? WEXITSTATUS(status) : -1;
    r.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return r;
}

template <class E>
std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    return "(no exception of the expected type)";
}

/// An 8-bit grey (comp 1) or RGB (comp 3) PNG with a tRNS colour key.
std::vector<unsigned char> png_with_colour_key(int w, int h, int comp, const std::vector<unsigned char>& px,
                                               const std::vector<unsigned char>& key) {
    std::vector<unsigned char> out{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    put_chunk(out, "IHDR", png_ihdr(static_cast<std::uint32_t>(w), static_cast<std::uint32_t>(h), 8, comp));
    std::vector<unsigned char> trns;  // one 16-bit sample per channel
    for (unsigned char k : key) {
        trns.push_back(0);
        trns.push_back(k);
    }
    put_chunk(out, "tRNS", trns);
    std::vector<unsigned char> raw;
    for (int y = 0; y < h; ++y) {
        raw.push_back(0);
        raw.insert(raw.end(), px.begin() + y * w * comp, px.begin() + (y + 1) * w * comp);
    }
    put_chunk(out, "IDAT", zlib_stored(raw));
    put_chunk(out, "IEND", {});
    return out;
}

/// A 24-bit BMP with the 12-byte OS/2 1.x info header (BITMAPCOREHEADER), rows bottom-up in BGR.
std::vector<unsigned char> os2_bmp(int w, int h, const std::vector<unsigned char>& rgb) {
    const int row = (w * 3 + 3) / 4 * 4;
    std::vector<unsigned char> out;
    auto le = [&](std::uint32_t v, int bytes) {
        for (int k = 0; k < bytes; ++k) out.push_back(static_cast<unsigned char>(v >> (8 * k)));
    };
    out.push_back('B');
    out.push_back('M');
    le(std::uint32_t(26 + row * h), 4);
    le(0, 4);
    le(26, 4);  // pixel data offset: 14 + 12, no palette
    le(12, 4);
    le(std::uint32_t(w), 2);
    le(std::uint32_t(h), 2);
    le(1, 2);   // planes
    le(24, 2);  // bits per pixel
    for (int y = h - 1; y >= 0; --y) {
        for (int x = 0; x < w; ++x)
            for (int c = 2; c >= 0; --c) out.push_back(rgb[static_cast<std::size_t>((y * w + x) * 3 + c)]);
        for (int p = w * 3; p < row; ++p) out.push_back(0);
    }
    return out;
}

/// A sparse file of `bytes` whose first part is `head`.
void write_sparse(const fs::path& p, const std::string& head, std::uint64_t bytes) {
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, head.data(), head.size()) == ssize_t(head.size()));
    REQUIRE(::ftruncate(fd, off_t(bytes)) == 0);
    ::close(fd);
}

constexpr std::uint64_t MiB = std::uint64_t(1) << 20;

}  // namespace

TEST_CASE("image findings: PNG chunks that declare more bytes than the file holds are refused before decoding") {
    for (const char* name : {"png_idat_bomb.png", "png_oom_found.png"}) {
        CAPTURE(name);
        const fs::path file = findings / name;
        REQUIRE(fs::file_size(file) < 300);
        // Under 256 MiB more address space: reserving the declared 2 GiB would fail with stb's
        // "outofmem"; the chunk walk refuses the file first and says why.
        const child_result r = run_limited(256 * MiB, 20, [&] {
            return error_of<hg::io_error>([&] { (void)hg::data::load_image(file); });
        });
        REQUIRE(r.exited);
        CHECK(r.code == 0);
        CHECK(r.report.find(file.string()) != std::string::npos);
        CHECK(r.report.find("the IDAT chunk at byte") != std::string::npos);
        CHECK(r.report.find("are left in the data") != std::string::npos);
    }
    // A PNG cut anywhere after its signature is refused by the walk too, never decoded partially.
    const std::vector<unsigned char> whole = png_with_colour_key(5, 4, 3, random_pixels(5, 4, 3, 3), {1, 2, 3});
    REQUIRE_NOTHROW(hg::data::load_image_from_memory(whole.data(), whole.size(), "whole.png"));
    for (std::size_t n = 9; n < whole.size(); ++n) {
        CAPTURE(n);
        const std::string msg = error_of<hg::io_error>([&] { (void)hg::data::load_image_from_memory(whole.data(), n, "cut.png"); });
        REQUIRE(msg.find("cannot load 'cut.png'") != std::string::npos);
        REQUIRE(msg.find("PNG") != std::string::npos);
    }
}

TEST_CASE("image findings: the JPEG that stb_image decoded with uninitialised Huffman tables is refused cleanly") {
    const fs::path file = findings / "jpeg_uninitialised_huffman.jpg";
    const std::string msg = error_of<hg::io_error>([&] { (void)hg::data::load_image(file); });
    CHECK(msg.find(file.string()) != std::string::npos);
    CHECK(msg.find("JPEG") != std::string::npos);
    // A valid JPEG still decodes (libjpeg-turbo), close to what was written.
    const auto px = smooth_pixels(40, 30, 3);
    temp_dir dir;
    write_image(dir / "smooth.jpg", fmt::jpeg, 40, 30, 3, px);
    const hg::data::image img = hg::data::load_image(dir / "smooth.jpg");
    REQUIRE(img.rgb.shape() == hg::shape({30, 40, 3}));
    double worst = 0;
    for (std::int64_t i = 0; i < img.rgb.numel(); ++i)
        worst = std::max(worst, std::abs(double(img.rgb[i]) - px[static_cast<std::size_t>(i)] / 255.0));
    CHECK(worst < 6.0 / 255.0);
}

TEST_CASE("image findings: a JPEG with fill bytes before its start-of-image marker never reaches stb's JPEG decoder") {
    // The fuzzer's input starts 0xFF 0xFF 0xD8: not a JPEG by its first two bytes, so it was taken
    // for a TGA and handed to stb_image, whose own format test skips the fill bytes and decoded it
    // with its JPEG decoder (a read out of bounds under AddressSanitizer). Refused by name now.
    const fs::path file = findings / "jpeg_fill_bytes_before_soi.jpg";
    const std::string msg = error_of<hg::io_error>([&] { (void)hg::data::load_image(file); });
    CHECK(msg.find(file.string()) != std::string::npos);
    CHECK(msg.find("fill bytes before the JPEG start-of-image marker") != std::string::npos);
    const std::string info = error_of<hg::io_error>([&] { (void)hg::data::read_image_info(file); });
    CHECK(info.find("fill bytes before the JPEG start-of-image marker") != std::string::npos);
    // Any number of fill bytes in front of a valid JPEG: refused the same way, never decoded.
    temp_dir dir;
    write_image(dir / "smooth.jpg", fmt::jpeg, 16, 12, 3, smooth_pixels(16, 12, 3));
    const std::vector<unsigned char> jpeg = read_bytes(dir / "smooth.jpg");
    REQUIRE_NOTHROW(hg::data::load_image_from_memory(jpeg.data(), jpeg.size(), "smooth.jpg"));
    for (std::size_t fill : {1u, 2u, 7u}) {
        CAPTURE(fill);
        std::vector<unsigned char> padded(fill, 0xFF);
        padded.insert(padded.end(), jpeg.begin(), jpeg.end());
        const std::string m = error_of<hg::io_error>([&] { (void)hg::data::load_image_from_memory(padded.data(), padded.size(), "padded.jpg"); });
        CHECK(m.find("fill bytes before the JPEG start-of-image marker") != std::string::npos);
    }
}

TEST_CASE("image findings: grey and RGB PNGs with a tRNS colour key load, with alpha 0 exactly where the key is") {
    const hg::data::image rgb_finding = hg::data::load_image(findings / "rgb8_trns.png");
    CHECK(rgb_finding.source_channels == 4);
    CHECK(rgb_finding.has_alpha());
    const hg::data::image grey_finding = hg::data::load_image(findings / "grey8_trns.png");
    CHECK(grey_finding.source_channels == 2);
    CHECK(grey_finding.has_alpha());
    CHECK(hg::data::read_image_info(findings / "rgb8_trns.png").channels == 4);
    CHECK(hg::data::read_image_info(findings / "grey8_trns.png").channels == 2);

    for (const int comp : {1, 3}) {
        CAPTURE(comp);
        const int w = 9, h = 7;
        std::vector<unsigned char> px = random_pixels(w, h, comp, 11 + comp);
        const std::vector<unsigned char> key(px.begin() + 5 * comp, px.begin() + 6 * comp);  // pixel 5's colour
        std::copy(key.begin(), key.end(), px.begin() + 40 * comp);                          // and pixel 40's
        const auto file = png_with_colour_key(w, h, comp, px, key);
        const hg::data::image img = hg::data::load_image_from_memory(file.data(), file.size(), "key.png");
        REQUIRE(img.has_alpha());
        CHECK(img.source_channels == comp + 1);
        int transparent = 0;
        for (int i = 0; i < w * h; ++i) {
            const bool is_key = std::equal(key.begin(), key.end(), px.begin() + i * comp);
            transparent += is_key;
            REQUIRE(img.alpha[i] == (is_key ? 0.0f : 1.0f));
            for (int k = 0; k < 3; ++k)
                REQUIRE(img.rgb[3 * i + k] == float(px[static_cast<std::size_t>(i * comp + (comp == 1 ? 0 : k))]) / 255.0f);
        }
        CHECK(transparent >= 2);
    }
}

TEST_CASE("image findings: BMPs with the 12-byte OS/2 header load exactly when complete and are refused when cut") {
    const hg::data::image finding = hg::data::load_image(findings / "bmp_os2_complete_misread.bmp");
    CHECK(finding.width() == 100);
    CHECK(finding.height() == 100);
    const std::string cut = error_of<hg::io_error>([&] { (void)hg::data::load_image(findings / "bmp_os2_truncated.bmp"); });
    CHECK(cut.find("truncated BMP") != std::string::npos);

    const int w = 7, h = 5;  // 21 bytes a row, padded to 24
    const auto px = random_pixels(w, h, 3, 5);
    const auto file = os2_bmp(w, h, px);
    const hg::data::image img = hg::data::load_image_from_memory(file.data(), file.size(), "os2.bmp");
    REQUIRE(img.rgb.shape() == hg::shape({h, w, 3}));
    for (int i = 0; i < w * h * 3; ++i) REQUIRE(img.rgb[i] == float(px[static_cast<std::size_t>(i)]) / 255.0f);
    for (std::size_t n = 26; n < file.size(); ++n) {
        CAPTURE(n);
        const std::string msg = error_of<hg::io_error>([&] { (void)hg::data::load_image_from_memory(file.data(), n, "os2.bmp"); });
        REQUIRE(msg.find("truncated BMP") != std::string::npos);
    }
}

TEST_CASE("named pipes given as images, checkpoints or alignments are refused at once, never waited on") {
    temp_dir dir;
    for (const char* name : {"face.png", "model.hgc", "alignments.json"}) REQUIRE(::mkfifo((dir / name).c_str(), 0644) == 0);
    // A good backup beside the pipe named model.hgc.
    const checkpoint good = sample_checkpoint(3);
    hg::io::save_checkpoint_file(dir / "model.backup.hgc", good);

    const child_result r = run_limited(1024 * MiB, 20, [&] {
        std::string report;
        report += error_of<hg::io_error>([&] { (void)hg::data::load_image(dir / "face.png"); }) + "\n";
        report += error_of<hg::io_error>([&] { (void)hg::data::read_image_info(dir / "face.png"); }) + "\n";
        report += error_of<hg::io_error>([&] { (void)hg::io::load_checkpoint_file(dir / "model.hgc"); }) + "\n";
        report += error_of<hg::io_error>([&] { (void)hg::face::read_alignments(dir / "alignments.json"); }) + "\n";
        hg::io::checkpoint_store store(dir.path());
        const checkpoint back = store.load();
        report += same(back, good) ? "store: backup loaded\n" : "store: WRONG checkpoint\n";
        if (!store.warnings().empty()) report += store.warnings().front() + "\n";
        return report;
    });
    INFO(r.report);
    REQUIRE(r.exited);  // not killed by the alarm: nothing blocked
    CHECK(r.code == 0);
    CHECK(r.report.find("cannot load '" + (dir / "face.png").string() + "': not a regular file (a named pipe (FIFO))") !=
          std::string::npos);
    CHECK(r.report.find("checkpoint: cannot load '" + (dir / "model.hgc").string() + "': not a regular file") !=
          std::string::npos);
    CHECK(r.report.find("cannot read the alignments file " + (dir / "alignments.json").string() + ": not a regular file") !=
          std::string::npos);
    CHECK(r.report.find("store: backup loaded") != std::string::npos);
    CHECK(r.report.find("a named pipe (FIFO))); loaded the backup") != std::string::npos);
}

TEST_CASE("checkpoint: a sparse 64 GiB file is refused without being read whole, and the store uses the backup") {
    temp_dir dir;
    const std::uint64_t huge = std::uint64_t(64) << 30;
    const std::string valid = hg::io::encode_checkpoint(sample_checkpoint(4));
    write_sparse(dir / "zeros.hgc", "", huge);
    write_sparse(dir / "valid_then_hole.hgc", valid, huge);
    {
        std::error_code ec;
        if (fs::file_size(dir / "zeros.hgc", ec) != huge) {
            MESSAGE("skipped: this file system cannot hold a sparse 64 GiB file");
            return;
        }
    }
    fs::create_directories(dir / "model");
    write_sparse(dir / "model" / "model.hgc", valid.substr(0, 100), huge);
    hg::io::save_checkpoint_file(dir / "model" / "model.backup.hgc", sample_checkpoint(5));

    // 256 MiB more address space than the child has: a whole-file read would be std::bad_alloc.
    const child_result r = run_limited(256 * MiB, 60, [&] {
        std::string report;
        report += error_of<hg::format_error>([&] { (void)hg::io::load_checkpoint_file(dir / "zeros.hgc"); }) + "\n";
        report += error_of<hg::format_error>([&] { (void)hg::io::load_checkpoint_file(dir / "valid_then_hole.hgc"); }) + "\n";
        hg::io::checkpoint_store store(dir / "model");
        report += same(store.load(), sample_checkpoint(5)) ? "store: backup loaded\n" : "store: WRONG checkpoint\n";
        return report;
    });
    INFO(r.report);
    REQUIRE(r.exited);
    CHECK(r.code == 0);
    CHECK(r.report.find("not an hourglass checkpoint") != std::string::npos);
    CHECK(r.report.find(std::to_string(huge - valid.size()) + " unexpected bytes after the end of the checkpoint") !=
          std::string::npos);
    CHECK(r.report.find("store: backup loaded") != std::string::npos);
}

TEST_CASE("checkpoint: running out of memory for what a file declares is an io_error, and the store falls back") {
    temp_dir dir;
    fs::create_directories(dir / "model");
    checkpoint big;
    big.header = hg::io::json::object();
    big.tensors.emplace_back("huge", random_tensor(hg::shape{24, 1024, 1024}, 9));  // 96 MiB of float32
    hg::io::save_checkpoint_file(dir / "model" / "model.hgc", big);
    const checkpoint small = sample_checkpoint(6);
    hg::io::save_checkpoint_file(dir / "model" / "model.backup.hgc", small);
    big = checkpoint{};

    const child_result r = run_limited(48 * MiB, 60, [&] {
        std::string report = error_of<hg::io_error>([&] { (void)hg::io::load_checkpoint_file(dir / "model" / "model.hgc"); });
        hg::io::checkpoint_store store(dir / "model");
        report += same(store.load(), small) ? "\nstore: backup loaded\n" : "\nstore: WRONG checkpoint\n";
        for (const auto& w : store.warnings()) report += w + "\n";
        return report;
    });
    INFO(r.report);
    REQUIRE(r.exited);
    CHECK(r.code == 0);
    CHECK(r.report.find("not enough memory for what the file declares") != std::string::npos);
    CHECK(r.report.find("store: backup loaded") != std::string::npos);
}

TEST_CASE("checkpoint: loading a file gives the same checkpoint and the same messages as decoding its bytes") {
    temp_dir dir;
    const std::string bytes = hg::io::encode_checkpoint(sample_checkpoint(7));
    const fs::path file = dir / "c.hgc";
    auto write = [&](const std::string& b) {
        std::vector<unsigned char> v(b.begin(), b.end());
        write_bytes(file, v);
    };
    write(bytes);
    CHECK(same(hg::io::load_checkpoint_file(file), hg::io::decode_checkpoint(bytes, file.string())));
    auto both = [&](const std::string& b) {
        write(b);
        const std::string from_memory = error_of<hg::format_error>([&] { (void)hg::io::decode_checkpoint(b, file.string()); });
        const std::string from_file = error_of<hg::format_error>([&] { (void)hg::io::load_checkpoint_file(file); });
        REQUIRE(from_memory.find("checkpoint '" + file.string() + "'") == 0);
        REQUIRE(from_file == from_memory);
    };
    for (std::size_t n = 1; n < bytes.size(); n += 7) {
        CAPTURE(n);
        both(bytes.substr(0, n));
    }
    for (std::size_t i = 0; i < bytes.size(); i += 5) {
        CAPTURE(i);
        std::string bad = bytes;
        bad[i] = char(static_cast<unsigned char>(bad[i]) ^ 0x41);
        both(bad);
    }
    both(bytes + "xyz");
}

TEST_CASE("error messages quote names and keys with control bytes escaped, whole") {
    // A JSON duplicate key holding a NUL: the message goes on past it.
    const std::string text = "{\"a\\u0000b\\n\":1,\"a\\u0000b\\n\":2}";
    const std::string msg = error_of<hg::format_error>([&] { (void)hg::io::json::parse(text); });
    CHECK(msg == "json: duplicate key \"a\\x00b\\n\" at byte 16");
    CHECK(std::strlen(msg.c_str()) == msg.size());

    // A tensor name with a NUL, a newline and an escape byte, in a CRC mismatch.
    checkpoint c;
    c.header = hg::io::json::object();
    const std::string name("w\0x\n\x1b[31m", 9);
    c.tensors.emplace_back(name, random_tensor(hg::shape{4}, 1));
    std::string bytes = hg::io::encode_checkpoint(c);
    bytes[bytes.size() - 30] ^= 0x01;  // in the tensor's data
    const std::string crc = error_of<hg::format_error>([&] { (void)hg::io::decode_checkpoint(bytes, "n.hgc"); });
    CHECK(crc.find("CRC mismatch in the data of tensor 'w\\x00x\\n\\x1b[31m'") != std::string::npos);
    CHECK(std::strlen(crc.c_str()) == crc.size());

    CHECK(hg::quoted("plain") == "'plain'");
    CHECK(hg::quoted("it's") == "'it\\'s'");
    CHECK(hg::quoted("caf\xc3\xa9") == "'caf\xc3\xa9'");  // valid UTF-8 passes
    CHECK(hg::quoted("bad\xff\xc3") == "'bad\\xff\\xc3'");
    CHECK(hg::quoted(std::string(300, 'a')).find("...' (300 bytes)") != std::string::npos);
}

TEST_CASE("json: strings must be valid UTF-8; numbers that underflow read as zero, ones that overflow are refused") {
    using hg::io::json;
    CHECK(json::parse("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"").as_string() == "caf\xc3\xa9 \xf0\x9f\x98\x80");
    for (const char* bad : {"\"\xff\"", "\"\x80\"", "\"\xc3\"", "\"\xc0\xaf\"", "\"\xe0\x80\xaf\"", "\"\xed\xa0\x80\"",
                            "\"\xf4\x90\x80\x80\"", "\"\xf8\x88\x80\x80\x80\""}) {
        CAPTURE(bad);
        const std::string msg = error_of<hg::format_error>([&] { (void)json::parse(bad); });
        CHECK(msg.find("invalid UTF-8") != std::string::npos);
        CHECK(msg.find("at byte 1") != std::string::npos);
    }
    const double tiny = json::parse("1e-400").as_double();
    CHECK(tiny == 0.0);
    CHECK(!std::signbit(tiny));
    const double minus_tiny = json::parse("-1e-400").as_double();
    CHECK(minus_tiny == 0.0);
    CHECK(std::signbit(minus_tiny));
    CHECK(json::parse("123.456e-500").as_double() == 0.0);
    CHECK(json::parse("0.0000001e-320").as_double() == 0.0);
    CHECK(json::parse("1e-310").as_double() == 1e-310);  // subnormal, exact as from_chars reads it
    CHECK(json::parse("[1e-400]").dump() == "[0.0]");
    for (const char* big : {"1e400", "-1e400", "123456789e301"}) {
        CAPTURE(big);
        CHECK(error_of<hg::format_error>([&] { (void)json::parse(big); }).find("out of the range of a double") !=
              std::string::npos);
    }
}
