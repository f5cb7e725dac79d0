// The "convert" path of video_writer: a source video in, the same video out with new pictures. Its
// frames keep the source's size, frame rate and time stamps (constant and variable rate), its audio
// streams are copied packet for packet (remuxed, not re-encoded), and failures (a missing or
// foreign audio source, an audio codec the container cannot hold, a full disk mid-write) throw and
// leave no file. Sources are made by tests/media/av_fixtures.hpp with FFmpeg's libraries.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "av_fixtures.hpp"
#include "hourglass/media/video.hpp"

namespace fs = std::filesystem;
using hg::media::rational;
using hg::media::video_frame;
using hg::media::video_reader;
using hg::media::video_write_options;
using hg::media::video_writer;
using hg_test_media::av_clip_options;
using hg_test_media::make_av_clip;
using hg_test_media::read_audio_tracks;
using hg_test_media::temp_folder;

namespace {


template <class F>
std::string error_text(F&& f) {
    try {
        f();
    } catch (const hg::error& e) {
        return e.what();
    }
    return "(no error was thrown)";
}

/// Per-frame timing of a video, as video_reader gives it.
struct timing {
    std::vector<std::int64_t> pts, durations;
    std::vector<double> times;
};

/// The writer options that keep `src`'s timing, with its audio copied. The frame rate (the
/// source's, unless given) sets the last frame's duration when the source gives none.
video_write_options keep_timing(const video_reader& src, const fs::path& audio_from, rational rate = {}) {
    video_write_options o;
    o.preset = "veryfast";
    o.frame_rate = rate.valid() ? rate : src.info().frame_rate;
    o.time_base = src.info().time_base;
    o.copy_audio_from = audio_from;
    return o;
}

/// Re-encodes every frame of `src` into `out` with the source's time stamps and durations (the
/// face-swap "convert" step with unchanged pictures); returns the source's timing.
timing convert(const fs::path& src, const fs::path& out, const fs::path& audio_from, int* audio_streams = nullptr,
               rational rate = {}) {
    video_reader r(src);
    video_writer w(out, r.info().width, r.info().height, keep_timing(r, audio_from, rate));
    CHECK(w.time_base() == r.info().time_base);
    CHECK(w.frame_rate() == (rate.valid() ? rate : r.info().frame_rate));
    timing t;
    video_frame f;
    while (r.next(f)) {
        REQUIRE(f.pts != hg::media::no_pts);
        t.pts.push_back(f.pts);
        t.durations.push_back(f.duration);
        t.times.push_back(f.time);
        w.write(f.rgb.data(), f.pts, f.duration);
    }
    CHECK_FALSE(r.truncated());
    if (audio_streams) *audio_streams = w.audio_streams();
    w.finish();
    return t;
}

timing read_timing(const fs::path& p) {
    video_reader r(p);
    timing t;
    video_frame f;
    while (r.next(f)) {
        t.pts.push_back(f.pts);
        t.durations.push_back(f.duration);
        t.times.push_back(f.time);
    }
    CHECK_FALSE(r.truncated());
    return t;
}

/// The video stream facts a conversion must keep.
void check_same_video(const fs::path& src, const fs::path& out) {
    video_reader a(src), b(out);
    const auto &x = a.info(), &y = b.info();
    CHECK(y.width == x.width);
    CHECK(y.height == x.height);
    CHECK(y.codec == "h264");
    CHECK(y.frame_count == x.frame_count);
    CHECK(y.frame_count_exact);
    CHECK(y.time_base == x.time_base);
    CHECK(y.frame_rate == x.frame_rate);
    CHECK(y.r_frame_rate == x.r_frame_rate);
    CHECK(y.avg_frame_rate == x.avg_frame_rate);
    CHECK(y.fps == x.fps);
    CHECK(y.start_pts == x.start_pts);
    CHECK(y.duration == doctest::Approx(x.duration).epsilon(1e-9));
}

/// The audio of `out` is `src`'s, packet for packet: same codec, rate, channels, duration (within
/// one AAC frame of 1024 samples), byte-identical payloads at the same times.
void check_same_audio(const fs::path& src, const fs::path& out) {
    const auto a = read_audio_tracks(src), b = read_audio_tracks(out);
    REQUIRE(a.size() == b.size());
    for (std::size_t s = 0; s < a.size(); ++s) {
        CAPTURE(s);
        CHECK(b[s].codec == a[s].codec);
        CHECK(b[s].sample_rate == a[s].sample_rate);
        CHECK(b[s].channels == a[s].channels);
        CHECK(std::abs(b[s].duration - a[s].duration) <= 1024.0 / a[s].sample_rate);
        REQUIRE(b[s].packets.size() == a[s].packets.size());
        std::size_t same = 0;
        for (std::size_t i = 0; i < a[s].packets.size(); ++i) same += (a[s].packets[i] == b[s].packets[i]) ? 1 : 0;
        CHECK(same == a[s].packets.size());
        for (std::size_t i = 0; i < a[s].times.size(); ++i) CHECK(b[s].times[i] == doctest::Approx(a[s].times[i]).epsilon(1e-9));
    }
}

}  // namespace

TEST_CASE("video_reader exposes the exact time base, frame rates and per-frame pts of a written video") {
    temp_folder dir{"hg_test_remux"};
    const fs::path p = dir.path / "cfr.mp4";
    {
        video_writer w(p, 64, 48, {25, 18, "libx264", "ultrafast"});
        CHECK(w.time_base() == rational{1, 25});
        CHECK(w.frame_rate() == rational{25, 1});
        CHECK(w.audio_streams() == 0);
        for (int i = 0; i < 10; ++i) w.write(hg::tensor::full({48, 64, 3}, 0.05f * float(i)));
        w.finish();
    }
    video_reader r(p);
    // The MP4 muxer raises a time base below 10000 ticks per second by doubling: 1/25 -> 1/12800.
    CHECK(r.info().time_base == rational{1, 12800});
    CHECK(r.info().frame_rate == rational{25, 1});
    CHECK(r.info().r_frame_rate == rational{25, 1});
    CHECK(r.info().avg_frame_rate == rational{25, 1});
    CHECK(r.info().start_pts == 0);
    CHECK(r.info().audio_streams == 0);
    video_frame f;
    std::int64_t n = 0;
    while (r.next(f)) {
        CHECK(f.pts == 512 * n);  // 12800 / 25
        CHECK(f.duration == 512);
        CHECK(f.time == doctest::Approx(double(n) / 25.0));
        ++n;
    }
    CHECK(n == 10);
}

TEST_CASE("video_writer keeps a 29.97 fps source's timing and copies its AAC audio byte for byte") {
    temp_folder dir{"hg_test_remux"};
    const fs::path src = dir.path / "source.mp4", out = dir.path / "converted.mp4";
    av_clip_options o;
    o.frames = 30;
    o.frame_rate = AVRational{30000, 1001};
    const auto clip = make_av_clip(src, o);
    CHECK(clip.video_duration == doctest::Approx(30 * 1001 / 30000.0));
    {
        video_reader r(src);
        CHECK(r.info().width == 320);
        CHECK(r.info().height == 240);
        CHECK(r.info().frame_rate == rational{30000, 1001});
        CHECK(r.info().time_base == rational{1, 30000});  // the MP4 timescale of a 1001/30000 stream
        CHECK(r.info().frame_count == 30);
        CHECK(r.info().duration == doctest::Approx(1.001));
        CHECK(r.info().audio_streams == 1);
    }
    const auto src_audio = read_audio_tracks(src);
    REQUIRE(src_audio.size() == 1);
    CHECK(src_audio[0].codec == "aac");
    CHECK(src_audio[0].sample_rate == 44100);
    CHECK(src_audio[0].channels == 2);
    CHECK(std::abs(src_audio[0].duration - clip.video_duration) <= 1024.0 / 44100);
    CHECK(src_audio[0].packets.size() >= 43);  // 1.001 s of 1024-sample frames

    int streams = -1;
    const timing in = convert(src, out, src, &streams);
    CHECK(streams == 1);
    CHECK(dir.entries() == std::vector<std::string>{"converted.mp4", "source.mp4"});  // no temporary file left
    REQUIRE(in.pts.size() == 30);
    for (std::size_t i = 0; i < in.pts.size(); ++i) CHECK(in.pts[i] == std::int64_t(1001 * i));

    check_same_video(src, out);
    const timing got = read_timing(out);
    CHECK(got.pts == in.pts);
    CHECK(got.times == in.times);
    {
        video_reader r(out);
        CHECK(r.info().audio_streams == 1);
        CHECK(r.info().duration == doctest::Approx(1.001));
    }
    check_same_audio(src, out);
}

TEST_CASE("video_writer keeps a variable-frame-rate source's time stamps (gaps, uneven steps)") {
    temp_folder dir{"hg_test_remux"};
    const fs::path src = dir.path / "vfr.mp4", out = dir.path / "vfr-out.mp4";
    av_clip_options o;
    o.frame_rate = AVRational{30, 1};
    o.time_base = AVRational{1, 90000};
    // 30 fps steps of 3000 ticks, a gap of 0.5 s, a stretch at 15 fps, uneven steps at the end.
    o.pts = {0, 3000, 6000, 9000, 54000, 57000, 60000, 66000, 72000, 78000, 80000, 87000, 88500, 99000};
    o.sample_rate = 48000;
    o.channels = 1;
    make_av_clip(src, o);
    {
        video_reader r(src);
        CHECK(r.info().time_base == rational{1, 90000});
        CHECK(r.info().frame_count == 14);
        CHECK(r.info().start_pts == 0);
    }
    // The source's last frame lasts one period of its nominal 30 fps (3000 ticks), which the
    // stream does not record: the conversion is given that rate. (The MP4 duration, 96000 ticks
    // here, counts from the first decoding time stamp, 2 frames before the first presentation.)
    const timing in = convert(src, out, src, nullptr, rational{30, 1});
    CHECK(in.pts == o.pts);  // the reader returns the time stamps the fixture wrote
    check_same_video(src, out);
    const timing got = read_timing(out);
    CHECK(got.pts == o.pts);
    CHECK(got.times == in.times);
    CHECK(got.times[4] == doctest::Approx(0.6));  // after the gap
    check_same_audio(src, out);
    const auto audio = read_audio_tracks(out);
    REQUIRE(audio.size() == 1);
    CHECK(audio[0].sample_rate == 48000);
    CHECK(audio[0].channels == 1);
}

TEST_CASE("video_writer::write_at places frames at given seconds; the last lasts its given duration") {
    temp_folder dir{"hg_test_remux"};
    const fs::path p = dir.path / "seconds.mp4";
    const std::vector<double> times = {0.0, 0.04, 0.1, 0.5, 0.52, 1.0};
    {
        video_write_options o;
        o.preset = "ultrafast";
        o.time_base = {1, 1000};
        video_writer w(p, 64, 64, o);
        CHECK(w.time_base() == rational{1, 1000});
        for (std::size_t i = 0; i < times.size(); ++i) {
            const hg::tensor t = hg::tensor::full({64, 64, 3}, 0.1f * float(i));
            const double duration = i + 1 == times.size() ? 0.25 : 0.0;
            if (i % 2 == 0)
                w.write_at(t, times[i], duration);
            else
                w.write_at(std::vector<std::uint8_t>(64 * 64 * 3, std::uint8_t(20 * i)).data(), times[i], duration);
        }
        w.finish();
    }
    video_reader r(p);
    CHECK(r.info().frame_count == 6);
    CHECK(r.info().duration == doctest::Approx(1.25));
    video_frame f;
    std::size_t n = 0;
    while (r.next(f)) {
        REQUIRE(n < times.size());
        CHECK(f.time == doctest::Approx(times[n]).epsilon(1e-9));
        ++n;
    }
    CHECK(n == times.size());
}

TEST_CASE("video_writer: time stamps that do not increase are value_errors and the writer goes on") {
    temp_folder dir{"hg_test_remux"};
    const fs::path p = dir.path / "order.mp4";
    video_write_options o;
    o.preset = "ultrafast";
    video_writer w(p, 64, 64, o);
    const hg::tensor grey = hg::tensor::full({64, 64, 3}, 0.5f);
    w.write(grey, 10);
    const std::string msg = error_text([&] { w.write(grey, 10); });
    CHECK(msg.find(p.string()) != std::string::npos);
    CHECK(msg.find("frame 1 has the time stamp 10, not after the previous frame's 10") != std::string::npos);
    CHECK_THROWS_AS(w.write(grey, 9), hg::value_error);
    CHECK_THROWS_AS(w.write(grey, 11, -1), hg::value_error);
    CHECK_THROWS_AS(w.write(grey, hg::media::no_pts), hg::value_error);
    CHECK_THROWS_AS(w.write_at(grey, std::nan("")), hg::value_error);
    CHECK(w.frames_written() == 1);
    w.write(grey);  // one period after the previous frame: 11
    w.write(grey, 20);
    w.finish();
    const timing t = read_timing(p);
    // MP4 time base 1/12800: a tick of 1/25 s is 512.
    CHECK(t.pts == std::vector<std::int64_t>{10 * 512, 11 * 512, 20 * 512});
}

TEST_CASE("video_writer: bad frame rates and time bases are value_errors") {
    temp_folder dir{"hg_test_remux"};
    const fs::path p = dir.path / "bad.mp4";
    video_write_options o;
    o.frame_rate = {0, 1};
    CHECK_THROWS_AS(video_writer(p, 64, 64, o), hg::value_error);
    o.frame_rate = {2001, 2};
    CHECK_THROWS_AS(video_writer(p, 64, 64, o), hg::value_error);
    o.frame_rate = {};
    o.time_base = {-1, 90000};
    const std::string msg = error_text([&] { video_writer w(p, 64, 64, o); });
    CHECK(msg.find("the time base -1/90000 is not a positive fraction") != std::string::npos);
    CHECK(dir.entries().empty());
}

TEST_CASE("video_writer: copy_audio_from a video without audio adds no audio and no error") {
    temp_folder dir{"hg_test_remux"};
    const fs::path src = dir.path / "silent.mp4", out = dir.path / "out.mp4";
    av_clip_options o;
    o.frames = 8;
    o.audio = false;
    make_av_clip(src, o);
    int streams = -1;
    const timing in = convert(src, out, src, &streams);
    CHECK(streams == 0);
    CHECK(read_timing(out).pts == in.pts);
    CHECK(video_reader(out).info().audio_streams == 0);
    CHECK(read_audio_tracks(out).empty());
}

TEST_CASE("video_writer: copy_audio_from a missing or non-media file is an io_error naming it; nothing is written") {
    temp_folder dir{"hg_test_remux"};
    const fs::path out = dir.path / "out.mp4";
    video_write_options o;
    o.copy_audio_from = dir.path / "no such sound.mp4";
    std::string msg = error_text([&] { video_writer w(out, 64, 64, o); });
    CHECK_THROWS_AS(video_writer(out, 64, 64, o), hg::io_error);
    CHECK(msg.find(out.string()) != std::string::npos);
    CHECK(msg.find("cannot copy the audio of '" + o.copy_audio_from.string() + "': the file does not exist") != std::string::npos);

    o.copy_audio_from = dir.path / "notes.mp4";
    {
        std::ofstream text(o.copy_audio_from);
        text << "not a video, just words\n";
    }
    msg = error_text([&] { video_writer w(out, 64, 64, o); });
    CHECK_THROWS_AS(video_writer(out, 64, 64, o), hg::io_error);
    CHECK(msg.find("cannot copy the audio of '" + o.copy_audio_from.string() + "': not a media file FFmpeg can read") !=
          std::string::npos);
    CHECK(dir.entries() == std::vector<std::string>{"notes.mp4"});  // no output, no temporary file
}

TEST_CASE("video_writer: an audio codec the container cannot hold is a value_error naming codec and container") {
    temp_folder dir{"hg_test_remux"};
    const fs::path wav = dir.path / "tone.wav";
    hg_test_media::write_pcm_wav(wav);
    video_write_options o;
    o.preset = "ultrafast";
    o.copy_audio_from = wav;
    const fs::path mp4 = dir.path / "out.mp4";
    const std::string msg = error_text([&] { video_writer w(mp4, 64, 64, o); });
    CHECK_THROWS_AS(video_writer(mp4, 64, 64, o), hg::value_error);
    CHECK(msg.find(mp4.string()) != std::string::npos);
    CHECK(msg.find("the container 'mp4' cannot hold the audio codec 'pcm_s16le'") != std::string::npos);
    CHECK(msg.find(wav.string()) != std::string::npos);
    CHECK(dir.entries() == std::vector<std::string>{"tone.wav"});

    // Matroska holds PCM: the same audio is copied there, sample for sample (1 s at 8000 Hz).
    const fs::path mkv = dir.path / "out.mkv";
    {
        video_writer w(mkv, 64, 64, o);
        CHECK(w.audio_streams() == 1);
        for (int i = 0; i < 25; ++i) w.write(hg::tensor::full({64, 64, 3}, 0.02f * float(i)));
        w.finish();
    }
    const auto a = read_audio_tracks(wav), b = read_audio_tracks(mkv);
    REQUIRE(b.size() == 1);
    CHECK(b[0].codec == "pcm_s16le");
    CHECK(b[0].sample_rate == 8000);
    std::vector<std::uint8_t> wa, wb;
    for (const auto& p : a[0].packets) wa.insert(wa.end(), p.begin(), p.end());
    for (const auto& p : b[0].packets) wb.insert(wb.end(), p.begin(), p.end());
    CHECK(wa.size() == 16000);
    CHECK(wb == wa);
}

TEST_CASE("video_writer: libx265 writes HEVC (tagged hvc1 in MP4) and prints nothing") {
    if (!avcodec_find_encoder_by_name("libx265")) {
        MESSAGE("this FFmpeg has no libx265 encoder; checking the error instead");
        temp_folder dir{"hg_test_remux"};
        video_write_options o;
        o.codec = "libx265";
        CHECK_THROWS_AS(video_writer(dir.path / "x.mp4", 128, 128, o), hg::value_error);
        return;
    }
    temp_folder dir{"hg_test_remux"};
    const fs::path p = dir.path / "hevc.mp4", log = dir.path / "stderr.txt";
    video_write_options o;
    o.codec = "libx265";
    o.preset = "ultrafast";
    o.crf = 20;
    std::fflush(stderr);
    const int saved = ::dup(2);
    {
        std::FILE* f = std::fopen(log.c_str(), "w");
        REQUIRE(f);
        ::dup2(::fileno(f), 2);
        std::fclose(f);
    }
    {
        video_writer w(p, 128, 96, o);
        for (int i = 0; i < 6; ++i) w.write(hg::tensor::full({96, 128, 3}, 0.1f + 0.1f * float(i)));
        w.finish();
    }
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    CHECK(fs::file_size(log) == 0);  // x265's own log is off
    video_reader r(p);
    CHECK(r.info().codec == "hevc");
    CHECK(r.info().frame_count == 6);
    video_frame f;
    int n = 0;
    while (r.next(f)) ++n;
    CHECK(n == 6);
    std::ifstream in(p, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(bytes.find("hvc1") != std::string::npos);
}

TEST_CASE("video_writer: a full disk mid-write (RLIMIT_FSIZE in a child) is an io_error and leaves no file") {
    // A child process limits the size of the files it writes to 64 KiB (writes past it fail with
    // EFBIG, SIGXFSZ ignored), converts the sound clip with noisy frames that cannot fit, and
    // reports the error text through a pipe. The parent then checks the folder.
    temp_folder src_dir, dir;
    const fs::path src = src_dir.path / "source.mp4", out = dir.path / "big.mp4";
    av_clip_options co;
    co.frames = 10;
    make_av_clip(src, co);
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        ::signal(SIGXFSZ, SIG_IGN);
        const rlimit lim{64 * 1024, 64 * 1024};
        int code = 3;
        std::string text = "(no error was thrown)";
        if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) {
            code = 4;
        } else {
            try {
                video_write_options o;
                o.preset = "ultrafast";
                o.crf = 0;
                o.copy_audio_from = src;
                video_writer w(out, 320, 240, o);
                std::vector<std::uint8_t> noise(320 * 240 * 3);
                std::uint32_t x = 12345;
                for (int i = 0; i < 40; ++i) {
                    for (auto& b : noise) {
                        x = x * 1664525u + 1013904223u;
                        b = std::uint8_t(x >> 24);
                    }
                    w.write(noise.data());
                }
                w.finish();
            } catch (const hg::io_error& e) {
                text = e.what();
                code = 0;
            } catch (const std::exception& e) {
                text = e.what();
                code = 2;
            }
        }
        (void)!::write(fds[1], text.data(), text.size());
        ::close(fds[1]);
        ::_exit(code);
    }
    ::close(fds[1]);
    std::string text;
    char buf[512];
    ssize_t got = 0;
    while ((got = ::read(fds[0], buf, sizeof buf)) > 0) text.append(buf, std::size_t(got));
    ::close(fds[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 4) {
        MESSAGE("setrlimit(RLIMIT_FSIZE) is not allowed here; the full-disk case is not checked");
        return;
    }
    CAPTURE(text);
    CHECK(WEXITSTATUS(status) == 0);  // an hg::io_error
    CHECK(text.find(out.string()) != std::string::npos);
    CHECK(text.find("failed") != std::string::npos);
    CHECK(text.find("File too large") != std::string::npos);  // EFBIG, FFmpeg's words for it
    CHECK(dir.entries().empty());  // neither the target nor the temporary file
}
