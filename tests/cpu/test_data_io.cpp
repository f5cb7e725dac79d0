// Image io: PNG/JPEG save -> load round trips, every format (PNG, JPEG, BMP, TGA) and channel
// layout (grey, grey+alpha, RGB, RGBA), 16-bit PNG, loading from memory, and the error paths:
// missing, empty, foreign, corrupt and truncated files, decompression bombs, failed and atomic saves.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/resource.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "hourglass/data/image_io.hpp"
#include "test_data_fixtures.hpp"

namespace fs = std::filesystem;
using namespace hg_test_data;
using hg::data::image;

namespace {

/// The expected RGB value of pixel i, channel k, for 8-bit interleaved pixels with `comp` channels.
float expected_rgb(const std::vector<unsigned char>& px, int comp, std::int64_t i, int k) {
    const int src = comp <= 2 ? 0 : k;
    return float(px[static_cast<std::size_t>(i * comp + src)]) / 255.0f;
}

std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const hg::io_error& e) {
        return e.what();
    }
    return "(no io_error)";
}

hg::tensor random_unit_image(std::int64_t h, std::int64_t w, std::int64_t c, std::uint64_t seed) {
    // Multiples of 1/255, so 8-bit files hold them exactly.
    hg::rng r(seed, 3);
    auto t = hg::tensor::empty(hg::shape{h, w, c});
    for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = float(r.next_bits() % 256) / 255.0f;
    return t;
}

std::size_t files_in(const fs::path& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
    return n;
}

}  // namespace

TEST_CASE("image_io: PNG save -> load round trip is exact (RGB and RGBA)") {
    temp_dir dir;
    const auto rgb = random_unit_image(13, 17, 3, 1);
    const auto alpha = random_unit_image(13, 17, 1, 2);
    hg::data::save_png(dir / "rgb.png", rgb);
    hg::data::save_png(dir / "rgba.png", rgb, &alpha);
    const image a = hg::data::load_image(dir / "rgb.png");
    const image b = hg::data::load_image(dir / "rgba.png");
    REQUIRE(a.rgb.shape() == hg::shape{13, 17, 3});
    CHECK_FALSE(a.has_alpha());
    REQUIRE(b.has_alpha());
    CHECK(b.alpha.shape() == hg::shape{13, 17, 1});
    CHECK(a.rgb.to_vector() == rgb.to_vector());
    CHECK(b.rgb.to_vector() == rgb.to_vector());
    CHECK(b.alpha.to_vector() == alpha.to_vector());
    CHECK(a.source_channels == 3);
    CHECK(b.source_channels == 4);
    // Out-of-range values are clamped, not wrapped.
    auto wild = hg::tensor::full(hg::shape{2, 2, 3}, 1.7f);
    wild[0] = -3.0f;
    hg::data::save_png(dir / "wild.png", wild);
    const image w = hg::data::load_image(dir / "wild.png");
    CHECK(w.rgb[0] == 0.0f);
    CHECK(w.rgb[1] == 1.0f);
}

TEST_CASE("image_io: JPEG save -> load round trip is close") {
    temp_dir dir;
    const int w = 40, h = 32;
    const auto px = smooth_pixels(w, h, 3);
    auto t = hg::tensor::empty(hg::shape{h, w, 3});
    for (std::int64_t i = 0; i < t.numel(); ++i) t[i] = float(px[static_cast<std::size_t>(i)]) / 255.0f;
    hg::data::save_jpeg(dir / "a.jpg", t, 95);
    const image img = hg::data::load_image(dir / "a.jpg");
    REQUIRE(img.rgb.shape() == hg::shape{h, w, 3});
    double max_err = 0, sum_err = 0;
    for (std::int64_t i = 0; i < t.numel(); ++i) {
        max_err = std::max(max_err, double(std::fabs(img.rgb[i] - t[i])));
        sum_err += std::fabs(img.rgb[i] - t[i]);
    }
    // Quality 95 on a smooth gradient: a few 8-bit steps at most.
    CHECK(max_err < 8.0 / 255.0);
    CHECK(sum_err / double(t.numel()) < 2.0 / 255.0);
    CHECK_FALSE(img.has_alpha());
}

TEST_CASE("image_io: every format and channel layout loads as RGB [0, 1] with alpha as a mask") {
    temp_dir dir;
    const int w = 9, h = 7;
    for (fmt f : {fmt::png, fmt::bmp, fmt::tga}) {
        for (int comp = 1; comp <= 4; ++comp) {
            const auto px = random_pixels(w, h, comp, 100 + std::uint64_t(comp));
            const fs::path p = dir / numbered(numbered("img", int(f), "_").c_str(), comp, ".x");
            write_image(p, f, w, h, comp, px);
            CAPTURE(int(f));
            CAPTURE(comp);
            const image img = hg::data::load_image(p);
            REQUIRE(img.rgb.shape() == hg::shape{h, w, 3});
            for (std::int64_t i = 0; i < std::int64_t(w) * h; ++i)
                for (int k = 0; k < 3; ++k) REQUIRE(img.rgb[i * 3 + k] == expected_rgb(px, comp, i, k));
            const bool file_alpha = comp == 2 || comp == 4;
            if (f != fmt::bmp) CHECK(img.has_alpha() == file_alpha);  // stb writes grey+alpha BMP as RGBA, RGB as RGB
            if (img.has_alpha()) {
                REQUIRE(file_alpha);
                for (std::int64_t i = 0; i < std::int64_t(w) * h; ++i)
                    REQUIRE(img.alpha[i] == float(px[static_cast<std::size_t>(i * comp + comp - 1)]) / 255.0f);
            }
        }
    }
    // JPEG: grey and colour (lossy: compared loosely on smooth pixels).
    for (int comp : {1, 3}) {
        const auto px = smooth_pixels(16, 16, comp);
        const fs::path p = dir / numbered("j", comp, ".jpg");
        write_image(p, fmt::jpeg, 16, 16, comp, px);
        const image img = hg::data::load_image(p);
        REQUIRE(img.rgb.shape() == hg::shape{16, 16, 3});
        CHECK(img.source_channels == 3);  // stb_image_write stores grey JPEG as YCbCr too
        for (std::int64_t i = 0; i < 256; ++i)
            for (int k = 0; k < 3; ++k) REQUIRE(std::fabs(img.rgb[i * 3 + k] - expected_rgb(px, comp, i, k)) < 10.0f / 255.0f);
    }
}

TEST_CASE("image_io: 16-bit PNG keeps its precision") {
    temp_dir dir;
    const int w = 5, h = 3;
    for (int comp = 1; comp <= 4; ++comp) {
        std::vector<std::uint16_t> samples(static_cast<std::size_t>(w * h * comp));
        for (std::size_t i = 0; i < samples.size(); ++i) samples[i] = static_cast<std::uint16_t>((i * 7919 + 1) % 65536);
        samples[0] = 65535;
        const fs::path p = dir / numbered("deep", comp, ".png");
        write_bytes(p, png16(w, h, comp, samples));
        CAPTURE(comp);
        const image img = hg::data::load_image(p);
        CHECK(img.source_bits == 16);
        REQUIRE(img.rgb.shape() == hg::shape{h, w, 3});
        CHECK(img.has_alpha() == (comp % 2 == 0));
        for (std::int64_t i = 0; i < w * h; ++i) {
            for (int k = 0; k < 3; ++k) {
                const int src = comp <= 2 ? 0 : k;
                REQUIRE(img.rgb[i * 3 + k] == doctest::Approx(samples[static_cast<std::size_t>(i * comp + src)] / 65535.0).epsilon(1e-6));
            }
            if (img.has_alpha())
                REQUIRE(img.alpha[i] == doctest::Approx(samples[static_cast<std::size_t>(i * comp + comp - 1)] / 65535.0).epsilon(1e-6));
        }
        // A value no 8-bit file can hold survives: (i * 7919 + 1) % 65536 at i = 1 is 7920.
        if (comp == 3) CHECK(img.rgb[1] == doctest::Approx(7920.0 / 65535.0).epsilon(1e-6));
    }
}

TEST_CASE("image_io: loading from memory equals loading the file and the header alone gives the size") {
    temp_dir dir;
    write_random_png(dir / "a.png", 6, 4, 4, 9);
    const auto bytes = read_bytes(dir / "a.png");
    const image m = hg::data::load_image_from_memory(bytes.data(), bytes.size(), "a buffer");
    const image f = hg::data::load_image(dir / "a.png");
    CHECK(m.rgb.to_vector() == f.rgb.to_vector());
    CHECK(m.alpha.to_vector() == f.alpha.to_vector());
    const auto info = hg::data::read_image_info(bytes.data(), bytes.size());
    CHECK(info.width == 6);
    CHECK(info.height == 4);
    CHECK(info.channels == 4);
    CHECK(info.format == hg::data::image_format::png);
    const auto enc = hg::data::encode_png(f.rgb);
    CHECK(hg::data::load_image_from_memory(enc.data(), enc.size()).rgb.to_vector() == f.rgb.to_vector());
}

TEST_CASE("image_io: missing, empty, foreign and corrupt files give io_error naming the file and reason") {
    temp_dir dir;
    auto msg = message_of([&] { hg::data::load_image(dir / "nope.png"); });
    CHECK(msg.find("nope.png") != std::string::npos);
    CHECK(msg.find("does not exist") != std::string::npos);

    msg = message_of([&] { hg::data::load_image(dir.path()); });
    CHECK(msg.find("folder") != std::string::npos);

    write_bytes(dir / "empty.png", {});
    msg = message_of([&] { hg::data::load_image(dir / "empty.png"); });
    CHECK(msg.find("empty.png") != std::string::npos);
    CHECK(msg.find("empty") != std::string::npos);

    const std::string text = "this is not an image at all, just some text in a file";
    write_bytes(dir / "text.png", std::vector<unsigned char>(text.begin(), text.end()));
    msg = message_of([&] { hg::data::load_image(dir / "text.png"); });
    CHECK(msg.find("text.png") != std::string::npos);
    CHECK(msg.find("header") != std::string::npos);

    const std::string gif = "GIF89a\x01\x00\x01\x00\x00\x00\x00;";
    write_bytes(dir / "a.gif.png", std::vector<unsigned char>(gif.begin(), gif.end()));
    msg = message_of([&] { hg::data::load_image(dir / "a.gif.png"); });
    CHECK(msg.find("GIF is not supported") != std::string::npos);

    // A PNG with a valid header whose pixel data is garbage: stb's reason is in the message.
    write_random_png(dir / "good.png", 32, 32, 3, 5);
    auto bytes = read_bytes(dir / "good.png");
    for (std::size_t i = 45; i < bytes.size() - 12; ++i) bytes[i] = static_cast<unsigned char>(i * 37);
    write_bytes(dir / "corrupt.png", bytes);
    msg = message_of([&] { hg::data::load_image(dir / "corrupt.png"); });
    CHECK(msg.find("corrupt.png") != std::string::npos);
    CHECK(msg.find("corrupt PNG data (") != std::string::npos);
}

TEST_CASE("image_io: truncated PNG, JPEG, BMP and TGA files are errors, not zero-filled pictures") {
    temp_dir dir;
    const int w = 24, h = 20;
    for (fmt f : {fmt::png, fmt::jpeg, fmt::bmp, fmt::tga}) {
        const fs::path whole = dir / numbered("whole", int(f));
        const auto px = f == fmt::jpeg ? smooth_pixels(w, h, 3) : random_pixels(w, h, 3, 77);
        write_image(whole, f, w, h, 3, px);
        CHECK_NOTHROW(hg::data::load_image(whole));
        const auto bytes = read_bytes(whole);
        for (double keep : {0.95, 0.6, 0.3}) {
            const fs::path cut = dir / numbered(numbered("cut", int(f), "_").c_str(), long(keep * 100));
            write_bytes(cut, std::vector<unsigned char>(bytes.begin(), bytes.begin() + std::ptrdiff_t(double(bytes.size()) * keep)));
            CAPTURE(cut);
            const auto msg = message_of([&] { hg::data::load_image(cut); });
            CHECK(msg.find(cut.filename().string()) != std::string::npos);
        }
    }
    const fs::path jpg = dir / "whole1";
    const auto bytes = read_bytes(jpg);
    write_bytes(dir / "t.jpg", std::vector<unsigned char>(bytes.begin(), bytes.end() - 2));
    CHECK(message_of([&] { hg::data::load_image(dir / "t.jpg"); }).find("end-of-image marker") != std::string::npos);
}

TEST_CASE("image_io: a picture over max_pixels is refused from its header, before decoding") {
    temp_dir dir;
    write_bytes(dir / "bomb.png", png_declaring(100000, 100000));
    const auto msg = message_of([&] { hg::data::load_image(dir / "bomb.png"); });
    CHECK(msg.find("bomb.png") != std::string::npos);
    CHECK(msg.find("100000 x 100000") != std::string::npos);
    CHECK(msg.find("max_pixels") != std::string::npos);
    // Reading the header alone refuses it too; from memory as well.
    CHECK(message_of([&] { hg::data::read_image_info(dir / "bomb.png"); }).find("max_pixels") != std::string::npos);
    const auto bytes = png_declaring(100000, 100000);
    CHECK_THROWS_AS(hg::data::load_image_from_memory(bytes.data(), bytes.size()), hg::io_error);
    // Sides near 2^32 (found by the fuzzer): the pixel count must not overflow.
    const auto huge = png_declaring(0xA14B0300u, 0xD0600000u);
    try {
        hg::data::load_image_from_memory(huge.data(), huge.size(), "huge");
        FAIL("no io_error");
    } catch (const hg::io_error& e) {
        CHECK(std::string(e.what()).find("2706047744 x 3495952384 pixels (9460214061854621696)") != std::string::npos);
    }
    // A JPEG, BMP and TGA header declaring a huge picture are refused the same way.
    write_image(dir / "ok.jpg", fmt::jpeg, 64, 64, 3, smooth_pixels(64, 64, 3));
    write_image(dir / "ok.bmp", fmt::bmp, 64, 64, 3, smooth_pixels(64, 64, 3));
    write_image(dir / "ok.tga", fmt::tga, 64, 64, 3, smooth_pixels(64, 64, 3));
    hg::data::load_options limit;
    limit.max_pixels = 64 * 64 - 1;
    for (const char* f : {"ok.jpg", "ok.bmp", "ok.tga"}) {
        CAPTURE(f);
        CHECK(message_of([&] { hg::data::load_image(dir / f, limit); }).find("64 x 64 pixels") != std::string::npos);
    }

    // A valid picture just over a lowered limit is refused; at the limit it loads.
    write_random_png(dir / "small.png", 10, 10, 3, 1);
    hg::data::load_options opts;
    opts.max_pixels = 99;
    CHECK_THROWS_AS(hg::data::load_image(dir / "small.png", opts), hg::io_error);
    opts.max_pixels = 100;
    CHECK_NOTHROW(hg::data::load_image(dir / "small.png", opts));
    opts.max_file_bytes = 10;
    CHECK(message_of([&] { hg::data::load_image(dir / "small.png", opts); }).find("max_file_bytes") != std::string::npos);
}

TEST_CASE("image_io: saving is atomic and failures say why") {
    temp_dir dir;
    const auto a = random_unit_image(8, 8, 3, 11);
    const auto b = random_unit_image(8, 8, 3, 12);
    hg::data::save_png(dir / "x.png", a);
    hg::data::save_png(dir / "x.png", b);  // replaces
    CHECK(hg::data::load_image(dir / "x.png").rgb.to_vector() == b.to_vector());
    CHECK(files_in(dir.path()) == 1);  // no temporary file left behind

    auto msg = message_of([&] { hg::data::save_png(dir / "missing" / "y.png", a); });
    CHECK(msg.find("y.png") != std::string::npos);
    CHECK(msg.find("does not exist") != std::string::npos);

    CHECK_THROWS_AS(hg::data::save_png(dir / "s.png", hg::tensor::zeros(hg::shape{8, 8, 2})), hg::shape_error);
    CHECK_THROWS_AS(hg::data::save_png(dir / "s.png", hg::tensor::zeros(hg::shape{1, 8, 8, 3})), hg::shape_error);
    const auto bad_alpha = hg::tensor::zeros(hg::shape{8, 7, 1});
    CHECK_THROWS_AS(hg::data::save_png(dir / "s.png", a, &bad_alpha), hg::shape_error);
    auto nan = a.clone();
    nan[5] = std::nanf("");
    CHECK_THROWS_AS(hg::data::save_png(dir / "s.png", nan), hg::value_error);
    CHECK_THROWS_AS(hg::data::save_jpeg(dir / "s.jpg", a, 0), hg::value_error);
    CHECK_FALSE(fs::exists(dir / "s.png"));

    // A write that runs out of space (simulated with a file-size limit) leaves the old file intact.
    const auto big = random_unit_image(64, 64, 3, 13);  // random pixels: a PNG of about 12 KiB
    const auto before = read_bytes(dir / "x.png");
    struct rlimit old {};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    auto* old_handler = signal(SIGXFSZ, SIG_IGN);
    struct rlimit tight = old;
    tight.rlim_cur = 4096;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &tight) == 0);
    msg = message_of([&] { hg::data::save_png(dir / "x.png", big); });
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    CHECK(msg.find("x.png") != std::string::npos);
    CHECK(msg.find("disk may be full") != std::string::npos);
    CHECK(msg.find("destination was not changed") != std::string::npos);
    CHECK(read_bytes(dir / "x.png") == before);
    CHECK(files_in(dir.path()) == 1);
}
