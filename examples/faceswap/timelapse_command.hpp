// hourglass-swap timelapse: the preview pictures that `train --timelapse DIR` kept (one per preview,
// named by iteration) encoded as a video with the FFmpeg libraries (media/video.hpp), in iteration
// order, each shown for 1 / fps seconds. Every picture must have the size of the first; an odd
// width or height (H.264 needs even ones) is padded by repeating the last column or row. Needs the
// media component (HG_WITH_MEDIA); without it the command says so and fails.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/data/image_io.hpp"

#if HG_WITH_MEDIA
#include "hourglass/media/video.hpp"
#endif

namespace faceswap {

struct timelapse_options {
    std::filesystem::path input, output;
    double fps = 10;
    int crf = 18;
};

/// The timelapse frames of a folder: its files named <digits>.png, sorted by that number.
inline std::vector<std::filesystem::path> timelapse_frames(const std::filesystem::path& dir) {
    if (!std::filesystem::is_directory(dir)) throw hg::io_error("--input " + dir.string() + " is not a folder");
    std::vector<std::pair<long long, std::filesystem::path>> found;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        const auto stem = e.path().stem().string();
        if (!e.is_regular_file() || e.path().extension() != ".png" || stem.empty() ||
            !std::all_of(stem.begin(), stem.end(), [](unsigned char c) { return c >= '0' && c <= '9'; }))
            continue;
        found.emplace_back(std::stoll(stem), e.path());
    }
    std::sort(found.begin(), found.end());
    std::vector<std::filesystem::path> out;
    for (auto& f : found) out.push_back(f.second);
    if (out.empty())
        throw hg::io_error("no timelapse pictures (<iteration>.png, written by train --timelapse) in " + dir.string());
    return out;
}

/// Encodes the frames of o.input into o.output; returns the number of frames.
inline std::int64_t timelapse_command(const timelapse_options& o, const std::function<void(const std::string&)>& print) {
    const auto frames = timelapse_frames(o.input);
#if HG_WITH_MEDIA
    std::int64_t w = 0, h = 0, ew = 0, eh = 0;
    std::unique_ptr<hg::media::video_writer> writer;
    for (const auto& f : frames) {
        const auto img = hg::data::load_image(f);
        if (!writer) {
            w = img.width(), h = img.height();
            ew = w + (w % 2), eh = h + (h % 2);
            hg::media::video_write_options vo;
            vo.fps = o.fps;
            vo.crf = o.crf;
            writer = std::make_unique<hg::media::video_writer>(o.output, ew, eh, vo);
        } else if (img.width() != w || img.height() != h) {
            throw hg::value_error("the timelapse picture " + f.string() + " is " + std::to_string(img.width()) + "x" +
                                  std::to_string(img.height()) + ", the first was " + std::to_string(w) + "x" +
                                  std::to_string(h) + " (pictures of one training run only)");
        }
        auto frame = hg::tensor::empty(hg::shape{eh, ew, 3});
        for (std::int64_t y = 0; y < eh; ++y)
            for (std::int64_t x = 0; x < ew; ++x)
                for (int c = 0; c < 3; ++c)
                    frame.data()[(y * ew + x) * 3 + c] = img.rgb.data()[(std::min(y, h - 1) * w + std::min(x, w - 1)) * 3 + c];
        writer->write(frame);
    }
    writer->finish();
    print("timelapse: " + std::to_string(frames.size()) + " pictures of " + o.input.string() + " -> " + o.output.string());
    return static_cast<std::int64_t>(frames.size());
#else
    (void)print;
    throw hg::io_error(
        "timelapse needs the media component, which this build lacks: FFmpeg's libraries were not found at configure "
        "time (run scripts/setup.sh, then configure again)");
#endif
}

}  // namespace faceswap
