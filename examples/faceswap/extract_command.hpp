// hourglass-swap extract: faces from a video, a picture or a folder of pictures into a folder that
// `train --a DIR` reads (hg::media::extract_faces), with a progress line while it runs and a
// summary at the end. Needs the library's media component (dlib and FFmpeg found at configure time,
// HG_WITH_MEDIA); without it the command says so and fails.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>

#include "hourglass/core/error.hpp"
#include "hourglass/face/centering.hpp"
#include "hourglass/train/stop_criteria.hpp"

#if HG_WITH_MEDIA
#include "hourglass/media/extract.hpp"
#endif

namespace faceswap {

struct extract_command_options {
    std::filesystem::path input, output;
    std::int64_t size = 256;
    std::string centering = "face";
    double coverage = 1.0;
    std::string mask = "extended";
    std::int64_t every = 1;
    double min_size = 0;
    std::int64_t max_faces = 0;
    double blur_threshold = 0;
    bool smooth = false;
    std::int64_t smooth_radius = 3;
    std::filesystem::path detector_model, landmarks_model;
    std::int64_t detect_size = 640;
    int upsample = 0;
    double detector_threshold = 0;
    std::string device = "auto";
    int threads = 0;
};

/// Whether this build has the media component (extract works).
inline constexpr bool has_media() {
#if HG_WITH_MEDIA
    return true;
#else
    return false;
#endif
}

/// Runs the extraction; returns the exit status (0 done, also with no faces; 1 the video was
/// truncated: the faces of the frames read are kept and the message says so).
inline int extract_command(const extract_command_options& o, const std::atomic<bool>* stop,
                           const std::function<void(const std::string&)>& print) {
#if HG_WITH_MEDIA
    if (o.device != "auto" && o.device != "cpu" && o.device != "cuda")
        throw hg::value_error("--device must be auto, cpu or cuda, got '" + o.device + "'");
    if (o.device == "cuda" && !hg::media::detector_has_cuda())
        throw hg::device_error("--device cuda: this build's dlib runs on the CPU only (Debian's dlib is built without CUDA)");
    hg::media::extract_options e;
    e.input = o.input;
    e.output = o.output;
    e.align.size = o.size;
    e.align.centre = hg::face::parse_centering(o.centering);
    e.align.coverage = o.coverage;
    e.mask = hg::media::parse_face_mask_kind(o.mask);
    e.every = o.every;
    e.min_size = o.min_size;
    e.max_faces = o.max_faces;
    e.blur_threshold = o.blur_threshold;
    e.smooth = o.smooth;
    e.smooth_radius = o.smooth_radius;
    e.detector.cnn_model = o.detector_model;
    e.detector.detect_size = o.detect_size;
    e.detector.upsample = o.upsample;
    e.detector.threshold = o.detector_threshold;
    e.landmarks_model = o.landmarks_model;
    e.threads = o.threads;

    auto last = std::chrono::steady_clock::now() - std::chrono::seconds(10);
    auto progress = [&](const hg::media::extract_progress& p) {
        const auto now = std::chrono::steady_clock::now();
        if (now - last < std::chrono::seconds(1)) return;
        last = now;
        std::string line = "frames " + std::to_string(p.frames_read);
        char buf[160];
        if (p.frames_total > 0) {
            std::snprintf(buf, sizeof buf, "/%lld (%.0f%%)", static_cast<long long>(p.frames_total),
                          100.0 * double(p.frames_read) / double(p.frames_total));
            line += buf;
        }
        std::snprintf(buf, sizeof buf, "  faces %lld  %.1f frames/s", static_cast<long long>(p.faces_kept), p.frames_per_second);
        line += buf;
        if (p.seconds_left >= 0) line += "  ETA " + hg::train::format_duration(p.seconds_left);
        print(line);
    };
    const auto s = hg::media::extract_faces(e, progress, stop);
    for (const auto& w : s.warnings) print("warning: " + w);
    if (s.already_complete) {
        print("nothing to do: " + s.alignments_file.string() + " records a complete extraction of " + o.input.string() + " (" +
              std::to_string(s.faces_kept) + " faces); remove the folder to extract again");
        return 0;
    }
    char buf[400];
    if (s.resumed_at >= 0) print("resumed at frame " + std::to_string(s.resumed_at));
    std::snprintf(buf, sizeof buf,
                  "%s: %lld %s read, %lld searched, %lld with faces; %lld faces found, %lld kept in %s",
                  s.stopped ? "stopped" : "done", static_cast<long long>(s.frames_read),
                  s.source_kind == "video" ? "frames" : "pictures", static_cast<long long>(s.frames_worked),
                  static_cast<long long>(s.frames_with_faces), static_cast<long long>(s.faces_found),
                  static_cast<long long>(s.faces_kept), o.output.string().c_str());
    print(buf);
    std::snprintf(buf, sizeof buf, "dropped: %lld smaller than --min-size, %lld over --max-faces, %lld under --blur-threshold",
                  static_cast<long long>(s.dropped_small), static_cast<long long>(s.dropped_max_faces),
                  static_cast<long long>(s.dropped_blurry));
    print(buf);
    if (s.unreadable > 0) print("skipped " + std::to_string(s.unreadable) + " unreadable pictures (warnings above)");
    std::snprintf(buf, sizeof buf, "time: %.1f s (decoding %.1f s, detection %.1f s, landmarks %.1f s, alignment and writing %.1f s)",
                  s.seconds, s.decode_seconds, s.detect_seconds, s.landmark_seconds, s.write_seconds);
    print(buf);
    print("alignments: " + s.alignments_file.string());
    if (s.stopped) print("stopped: run the same command again to continue");
    if (s.truncated) {
        print("error: " + s.truncation_message + "; the faces of the frames read were kept");
        return 1;
    }
    return 0;
#else
    (void)o;
    (void)stop;
    (void)print;
    throw hg::io_error(
        "extract needs the media component, which this build lacks: dlib and FFmpeg's libraries were not found at "
        "configure time (run scripts/setup.sh, then configure again)");
#endif
}

}  // namespace faceswap
