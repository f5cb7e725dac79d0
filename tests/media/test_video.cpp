// Video decoding and encoding (hg::media::video_reader, video_writer) on real files: the MP4 videos
// of Debian's python3-imageio (expected numbers read once with ffprobe 5.1), a round trip of frames
// cut from skimage's astronaut photo (python3-skimage), and bad input: missing, foreign, truncated
// and oversized files, wrong sizes and shapes, abandoned and unwritable outputs.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "hourglass/data/image_io.hpp"
#include "hourglass/media/video.hpp"
#include "media/moving_face.hpp"

namespace fs = std::filesystem;
using hg::media::video_frame;
using hg::media::video_reader;
using hg::media::video_writer;

using hg_test_media::temp_folder;

namespace {

fs::path imageio_video(const char* name) {
    const fs::path p = fs::path(HG_TEST_IMAGEIO_VIDEOS) / name;
    INFO("needs " << p << " from the Debian package python3-imageio (apt-get install python3-imageio)");
    REQUIRE(fs::is_regular_file(p));
    return p;
}

fs::path astronaut_path() {
    const fs::path p = HG_TEST_ASTRONAUT;
    INFO("needs skimage's astronaut.png (" << p << ") from the Debian package python3-skimage");
    REQUIRE(fs::is_regular_file(p));
    return p;
}


std::vector<char> read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& p, const char* data, std::size_t n) {
    std::ofstream out(p, std::ios::binary);
    out.write(data, static_cast<std::streamsize>(n));
}

template <class F>
std::string error_text(F&& f) {
    try {
        f();
    } catch (const hg::error& e) {
        return e.what();
    }
    return "(no error was thrown)";
}

double psnr(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
    REQUIRE(a.size() == b.size());
    double se = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double d = double(a[i]) - double(b[i]);
        se += d * d;
    }
    const double mse = se / double(a.size());
    return mse == 0 ? 99.0 : 10.0 * std::log10(255.0 * 255.0 / mse);
}

double mean(const std::vector<std::uint8_t>& v) {
    double s = 0;
    for (auto x : v) s += x;
    return v.empty() ? 0 : s / double(v.size());
}

/// Decodes every frame, checking index, size and increasing timestamps; returns the frames' times.
std::vector<double> decode_all(video_reader& r, double* brightest_mean = nullptr) {
    std::vector<double> times;
    video_frame f;
    double brightest = 0;
    while (r.next(f)) {
        CHECK(f.index == std::int64_t(times.size()));
        CHECK(f.width == r.info().width);
        CHECK(f.height == r.info().height);
        CHECK(f.rgb.size() == std::size_t(f.width * f.height * 3));
        if (!times.empty()) CHECK(f.time > times.back());
        times.push_back(f.time);
        brightest = std::max(brightest, mean(f.rgb));
    }
    if (brightest_mean) *brightest_mean = brightest;
    return times;
}

// Frames of the round trip: 256 x 256 windows of the 512 x 512 astronaut photo, moved by a known
// shift per frame (5 px right and 3 px down), so consecutive frames differ everywhere.
constexpr int rt_size = 256, rt_frames = 15;
constexpr double rt_fps = 25;

std::vector<std::uint8_t> astronaut_window(const hg::tensor& photo, int i) {
    const std::int64_t w = photo.shape()[1];
    const int x0 = 40 + 5 * i, y0 = 30 + 3 * i;
    std::vector<std::uint8_t> out(std::size_t(rt_size) * rt_size * 3);
    for (int y = 0; y < rt_size; ++y)
        for (int x = 0; x < rt_size; ++x)
            for (int c = 0; c < 3; ++c) {
                const float v = photo.data()[((y0 + y) * w + (x0 + x)) * 3 + c];
                out[std::size_t((y * rt_size + x) * 3 + c)] = static_cast<std::uint8_t>(std::lrint(v * 255.0f));
            }
    return out;
}

hg::tensor to_float(const std::vector<std::uint8_t>& bytes) {
    hg::tensor t = hg::tensor::empty({rt_size, rt_size, 3});
    for (std::size_t i = 0; i < bytes.size(); ++i) t.data()[i] = float(bytes[i]) / 255.0f;
    return t;
}

/// Writes the round-trip video to `path` (even frames as tensors, odd ones as bytes); returns the sources.
std::vector<std::vector<std::uint8_t>> write_round_trip(const fs::path& path) {
    const hg::data::image photo = hg::data::load_image(astronaut_path());
    REQUIRE(photo.width() >= 40 + 5 * rt_frames + rt_size);
    REQUIRE(photo.height() >= 30 + 3 * rt_frames + rt_size);
    std::vector<std::vector<std::uint8_t>> sources;
    video_writer w(path, rt_size, rt_size, {rt_fps, 18, "libx264", "medium"});
    for (int i = 0; i < rt_frames; ++i) {
        sources.push_back(astronaut_window(photo.rgb, i));
        if (i % 2 == 0)
            w.write(to_float(sources.back()));
        else
            w.write(sources.back().data());
        CHECK(w.frames_written() == i + 1);
    }
    w.finish();
    return sources;
}

}  // namespace

// ---- real files ---------------------------------------------------------------------------------
// ffprobe 5.1.9 (Debian 12) on Debian python3-imageio 2.4.1's files (-count_frames agrees with nb_frames):
//   cockatoo.mp4  h264 (yuv444p) 1280x720, r_frame_rate 20/1, nb_frames 280, duration 14.000000 s,
//                 time base 1/10240, start 0; first timestamps 0, 0.05, ...
//   realshort.mp4 h264 (yuv420p) 320x240, r_frame_rate 45000/1499, nb_frames 36, duration 1.199200 s,
//                 time base 1/90000, start 0; timestamps 0, 0.033311, 0.066622, ...
// Both have their index (moov) after the frame data (mdat).

TEST_CASE("video_reader decodes imageio's cockatoo.mp4: info, every frame, timestamps, content") {
    video_reader r(imageio_video("cockatoo.mp4"));
    const auto& info = r.info();
    CHECK(info.width == 1280);
    CHECK(info.height == 720);
    CHECK(info.fps == doctest::Approx(20.0));
    CHECK(info.frame_count == 280);
    CHECK(info.frame_count_exact);
    CHECK(info.duration == doctest::Approx(14.0));
    CHECK(info.codec == "h264");
    CHECK(info.container.find("mp4") != std::string::npos);

    double brightest = 0;
    const auto times = decode_all(r, &brightest);
    CHECK(r.frames_read() == 280);
    REQUIRE(times.size() == 280);
    CHECK(times.front() == doctest::Approx(0.0));
    for (std::size_t i = 0; i < times.size(); ++i) CHECK(times[i] == doctest::Approx(double(i) / 20.0).epsilon(1e-6));
    CHECK(brightest > 40.0);  // a bright bird, not a black frame
    CHECK_FALSE(r.truncated());
    CHECK(r.truncation_message().empty());
    video_frame f;
    CHECK_FALSE(r.next(f));  // stays at the end
    CHECK_FALSE(r.skip());
    CHECK(r.frames_read() == 280);
}

TEST_CASE("video_reader decodes imageio's realshort.mp4; skip() resumes at the same frame") {
    const fs::path path = imageio_video("realshort.mp4");
    std::vector<std::vector<std::uint8_t>> frames;
    {
        video_reader r(path);
        const auto& info = r.info();
        CHECK(info.width == 320);
        CHECK(info.height == 240);
        CHECK(info.fps == doctest::Approx(45000.0 / 1499.0));
        CHECK(info.frame_count == 36);
        CHECK(info.duration == doctest::Approx(1.1992));
        CHECK(info.codec == "h264");
        video_frame f;
        double last = -1;
        while (r.next(f)) {
            CHECK(f.index == std::int64_t(frames.size()));
            CHECK(f.time == doctest::Approx(double(f.index) * 1499.0 / 45000.0).epsilon(1e-4));
            CHECK(f.time > last);
            last = f.time;
            frames.push_back(f.rgb);
        }
        CHECK(r.frames_read() == 36);
        CHECK_FALSE(r.truncated());
    }
    REQUIRE(frames.size() == 36);
    double brightest = 0;
    for (const auto& fr : frames) brightest = std::max(brightest, mean(fr));
    CHECK(brightest > 20.0);

    video_reader r(path);
    for (int i = 0; i < 10; ++i) REQUIRE(r.skip());
    CHECK(r.frames_read() == 10);
    video_frame f;
    REQUIRE(r.next(f));
    CHECK(f.index == 10);
    CHECK(f.rgb == frames[10]);  // decoding is deterministic: the same bytes as the first pass

    const hg::tensor t = f.to_tensor();
    REQUIRE(t.shape() == hg::shape{240, 320, 3});
    CHECK(t.data()[0] == doctest::Approx(f.rgb[0] / 255.0));
    CHECK(t.data()[t.numel() - 1] == doctest::Approx(f.rgb.back() / 255.0));
}

// ---- round trip ---------------------------------------------------------------------------------

TEST_CASE("video_writer -> video_reader round trip of shifted astronaut windows (H.264, crf 18)") {
    temp_folder dir{"hg_test_video"};
    const fs::path path = dir.path / "astronaut.mp4";
    const auto sources = write_round_trip(path);
    CHECK(dir.entries() == std::vector<std::string>{"astronaut.mp4"});  // no temporary file left

    const auto bytes = read_bytes(path);
    const std::string s(bytes.begin(), bytes.end());
    const auto moov = s.find("moov"), mdat = s.find("mdat");
    REQUIRE(moov != std::string::npos);
    REQUIRE(mdat != std::string::npos);
    CHECK(moov < mdat);  // "faststart": the index comes first

    video_reader r(path);
    CHECK(r.info().width == rt_size);
    CHECK(r.info().height == rt_size);
    CHECK(r.info().fps == doctest::Approx(rt_fps));
    CHECK(r.info().frame_count == rt_frames);
    CHECK(r.info().duration == doctest::Approx(rt_frames / rt_fps));
    CHECK(r.info().codec == "h264");
    video_frame f;
    std::int64_t n = 0;
    while (r.next(f)) {
        REQUIRE(n < rt_frames);
        CHECK(f.index == n);
        CHECK(f.time == doctest::Approx(double(n) / rt_fps).epsilon(1e-9));
        REQUIRE(f.rgb.size() == sources[0].size());
        // crf 18 is x264's "visually lossless" setting; with 4:2:0 chroma subsampling of a sharp
        // photo the RGB PSNR measured here is 36.2-38.1 dB. 30 dB leaves room for other x264
        // builds and thread counts, while swapped channels or the wrong frame fall far below it
        // (the neighbouring window, 5 px away, scores about 16 dB).
        const double own = psnr(f.rgb, sources[std::size_t(n)]);
        CHECK(own > 30.0);
        if (n > 0) CHECK(psnr(f.rgb, sources[std::size_t(n - 1)]) < own - 8.0);
        if (n + 1 < rt_frames) CHECK(psnr(f.rgb, sources[std::size_t(n + 1)]) < own - 8.0);
        ++n;
    }
    CHECK(n == rt_frames);
    CHECK(r.frames_read() == rt_frames);
    CHECK_FALSE(r.truncated());
}

// ---- bad input ----------------------------------------------------------------------------------

TEST_CASE("video_reader: a missing file is an io_error naming it") {
    temp_folder dir{"hg_test_video"};
    const fs::path p = dir.path / "nothing here.mp4";
    const std::string msg = error_text([&] { video_reader r(p); });
    CHECK(msg.find(p.string()) != std::string::npos);
    CHECK(msg.find("does not exist") != std::string::npos);
    CHECK_THROWS_AS(video_reader{p}, hg::io_error);
    CHECK_THROWS_AS(video_reader{dir.path}, hg::io_error);  // a folder
}

TEST_CASE("video_reader: a text file renamed .mp4 is an io_error naming it and FFmpeg's reason") {
    temp_folder dir{"hg_test_video"};
    const fs::path p = dir.path / "notes.mp4";
    const std::string text = "These are notes about a video, not a video.\nLine two.\n";
    write_bytes(p, text.data(), text.size());
    CHECK_THROWS_AS(video_reader{p}, hg::io_error);
    const std::string msg = error_text([&] { video_reader r(p); });
    CHECK(msg.find(p.string()) != std::string::npos);
    CHECK(msg.find("not a video FFmpeg can read") != std::string::npos);
    CHECK(msg.find("Invalid data found when processing input") != std::string::npos);
}

TEST_CASE("video_reader: an MP4 truncated to half its bytes, index at the end: io_error at open") {
    // cockatoo.mp4 keeps its index (moov) after the frames: half the file has no index at all.
    temp_folder dir{"hg_test_video"};
    const auto bytes = read_bytes(imageio_video("cockatoo.mp4"));
    const fs::path p = dir.path / "cockatoo-half.mp4";
    write_bytes(p, bytes.data(), bytes.size() / 2);
    CHECK_THROWS_AS(video_reader{p}, hg::io_error);
    const std::string msg = error_text([&] { video_reader r(p); });
    CHECK(msg.find(p.string()) != std::string::npos);
    CHECK(msg.find("not a video FFmpeg can read") != std::string::npos);
    CHECK(msg.find("moov atom not found") != std::string::npos);  // FFmpeg's own words
}

TEST_CASE("video_reader: an MP4 with its index first, truncated: the frames present, then truncated()") {
    // The round-trip video keeps its index first, so a cut file still opens and declares 15 frames.
    // Its first (intra) frame holds about two thirds of the bytes: half the file ends inside it and
    // yields no frame; 80% holds a few complete frames, which come out before the end.
    temp_folder dir{"hg_test_video"};
    const fs::path whole = dir.path / "whole.mp4";
    write_round_trip(whole);
    const auto bytes = read_bytes(whole);
    for (const double part : {0.5, 0.8}) {
        CAPTURE(part);
        const fs::path p = dir.path / ("cut-" + std::to_string(int(part * 100)) + ".mp4");
        write_bytes(p, bytes.data(), std::size_t(double(bytes.size()) * part));
        video_reader r(p);
        CHECK(r.info().frame_count == rt_frames);
        video_frame f;
        std::int64_t n = 0;
        while (r.next(f)) {
            CHECK(f.index == n);
            CHECK(f.time == doctest::Approx(double(n) / rt_fps));
            ++n;
        }
        CHECK(n == r.frames_read());
        CHECK(n < rt_frames);
        if (part > 0.6) CHECK(n > 0);
        CHECK(r.truncated());
        const std::string msg = r.truncation_message();
        CHECK(msg.find(p.string()) != std::string::npos);
        CHECK(msg.find("ended after " + std::to_string(n) + " frames of the 15 its container declares (the file is truncated)") !=
              std::string::npos);
        CHECK(msg.find("partial file") != std::string::npos);  // FFmpeg's reason for the cut packet
    }
}

TEST_CASE("video_reader: frames over max_pixels are refused at open, naming file, size and limit") {
    const fs::path p = imageio_video("realshort.mp4");
    CHECK_NOTHROW(video_reader(p, {320 * 240}));
    CHECK_THROWS_AS(video_reader(p, {320 * 240 - 1}), hg::io_error);
    const std::string msg = error_text([&] { video_reader r(p, {320 * 240 - 1}); });
    CHECK(msg.find(p.string()) != std::string::npos);
    CHECK(msg.find("the frames are 320x240, over the limit of 76799 pixels") != std::string::npos);
}

TEST_CASE("video_writer: odd, zero and negative sizes are value_errors and create nothing") {
    temp_folder dir{"hg_test_video"};
    const fs::path p = dir.path / "odd.mp4";
    for (auto [w, h] : std::vector<std::pair<int, int>>{{255, 256}, {256, 255}, {0, 256}, {256, 0}, {-2, 4}}) {
        CAPTURE(w);
        CAPTURE(h);
        CHECK_THROWS_AS(video_writer(p, w, h), hg::value_error);
        const std::string msg = error_text([&] { video_writer v(p, w, h); });
        CHECK(msg.find(p.string()) != std::string::npos);
        CHECK(msg.find(std::to_string(w) + "x" + std::to_string(h)) != std::string::npos);
        CHECK(msg.find("must be even") != std::string::npos);
    }
    CHECK_THROWS_AS(video_writer(p, 64, 64, {0.0}), hg::value_error);
    CHECK_THROWS_AS(video_writer(p, 64, 64, {25, 52}), hg::value_error);
    CHECK_THROWS_AS(video_writer(p, 64, 64, {25, 18, "no-such-encoder"}), hg::value_error);
    CHECK_THROWS_AS(video_writer(p, 64, 64, {25, 18, "libx264", "warp-speed"}), hg::value_error);
    CHECK_THROWS_AS(video_writer(dir.path / "clip.not-a-container", 64, 64), hg::value_error);
    CHECK(dir.entries().empty());
}

TEST_CASE("video_writer: a wrongly shaped or non-finite tensor is refused and the writer goes on") {
    temp_folder dir{"hg_test_video"};
    const fs::path p = dir.path / "shapes.mp4";
    video_writer w(p, 64, 32);
    const std::string msg = error_text([&] { w.write(hg::tensor::full({64, 32, 3}, 0.5f)); });
    CHECK(msg.find(p.string()) != std::string::npos);
    CHECK(msg.find("expects a [32, 64, 3] tensor, got [64, 32, 3]") != std::string::npos);
    CHECK_THROWS_AS(w.write(hg::tensor::full({32, 64, 3}, 0.5f).view({1, 32, 64, 3})), hg::shape_error);
    CHECK_THROWS_AS(w.write(hg::tensor::full({32, 64, 4}, 0.5f)), hg::shape_error);
    CHECK_THROWS_AS(w.write(hg::tensor()), hg::shape_error);
    hg::tensor bad = hg::tensor::full({32, 64, 3}, 0.5f);
    bad.data()[100] = std::nanf("");
    CHECK_THROWS_AS(w.write(bad), hg::value_error);
    CHECK(w.frames_written() == 0);
    w.write(hg::tensor::full({32, 64, 3}, 0.5f));
    CHECK(w.frames_written() == 1);
    w.finish();
    video_reader r(p);
    video_frame f;
    REQUIRE(r.next(f));
    CHECK(mean(f.rgb) == doctest::Approx(128.0).epsilon(0.02));
    CHECK_FALSE(r.next(f));
}

TEST_CASE("video_writer: destroyed without finish() leaves no file, no temporary file, and an old file unchanged") {
    temp_folder dir{"hg_test_video"};
    const fs::path p = dir.path / "abandoned.mp4";
    {
        video_writer w(p, 64, 64);
        for (int i = 0; i < 5; ++i) w.write(hg::tensor::full({64, 64, 3}, 0.1f * float(i)));
        CHECK(dir.entries().size() == 1);  // the temporary file exists while writing ...
        CHECK_FALSE(fs::exists(p));        // ... and the target does not
    }
    CHECK(dir.entries().empty());

    const std::string old = "the previous video";
    write_bytes(p, old.data(), old.size());
    {
        video_writer w(p, 64, 64);
        w.write(hg::tensor::full({64, 64, 3}, 0.5f));
    }
    const auto kept = read_bytes(p);
    CHECK(std::string(kept.begin(), kept.end()) == old);
    CHECK(dir.entries() == std::vector<std::string>{"abandoned.mp4"});

    // finish() with no frame is refused and writes nothing either.
    const fs::path empty = dir.path / "empty.mp4";
    {
        video_writer w(empty, 64, 64);
        CHECK_THROWS_AS(w.finish(), hg::value_error);
    }
    CHECK_FALSE(fs::exists(empty));
    CHECK(dir.entries() == std::vector<std::string>{"abandoned.mp4"});
}

TEST_CASE("video_writer: a missing or unwritable folder is an io_error naming it") {
    temp_folder dir{"hg_test_video"};
    const fs::path missing = dir.path / "no such folder";
    std::string msg = error_text([&] { video_writer w(missing / "out.mp4", 64, 64); });
    CHECK_THROWS_AS(video_writer(missing / "out.mp4", 64, 64), hg::io_error);
    CHECK(msg.find((missing / "out.mp4").string()) != std::string::npos);
    CHECK(msg.find("the folder '" + missing.string() + "' does not exist") != std::string::npos);

    // A folder without write permission; root ignores permissions, so it gets /proc instead.
    fs::path locked = dir.path / "locked";
    if (::geteuid() == 0) {
        locked = "/proc";
    } else {
        fs::create_directory(locked);
        fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
    }
    msg = error_text([&] { video_writer w(locked / "out.mp4", 64, 64); });
    CHECK_THROWS_AS(video_writer(locked / "out.mp4", 64, 64), hg::io_error);
    CHECK(msg.find((locked / "out.mp4").string()) != std::string::npos);
    CHECK(msg.find("cannot create a temporary file in the folder '" + locked.string() + "'") != std::string::npos);
}

TEST_CASE("is_image_path recognises still-image extensions in any case") {
    using hg::media::is_image_path;
    CHECK(is_image_path("a/b.png"));
    CHECK(is_image_path("x.JPG"));
    CHECK(is_image_path("x.Jpeg"));
    CHECK(is_image_path("x.bmp"));
    CHECK(is_image_path("x.TGA"));
    CHECK_FALSE(is_image_path("x.mp4"));
    CHECK_FALSE(is_image_path("png"));
    CHECK_FALSE(is_image_path("x.png.mkv"));
}
