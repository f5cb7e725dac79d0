// Video files through FFmpeg's libraries (declarations; the bodies are in media/video_reader.cpp
// and media/video_writer.cpp, so this header needs no FFmpeg header).
//
// Contract:
// - video_reader decodes the first (best) video stream of any container and codec FFmpeg reads,
//   frame by frame in presentation order, into RGB24 (8 bits per channel, row-major, no padding).
//   video_frame::index counts frames from 0; video_frame::time is the frame's best-effort
//   presentation timestamp in seconds, relative to the stream's start time (index / fps when the
//   stream carries no timestamps). YUV is converted with the matrix and range the stream declares
//   (BT.601 limited range when it declares none). Rotation metadata is not applied.
// - Every failure to open (missing file, not a video, no video stream, no decoder for the codec,
//   frames over video_read_options::max_pixels) throws hg::io_error naming the file and the reason,
//   FFmpeg's own text included. A read or decode error that is not bad data (an I/O error, memory)
//   throws hg::io_error naming the file, the frame index and the reason. Bad data (a corrupt
//   packet) is skipped and counted; a stream that ends before the container's declared frame count
//   (a truncated file) ends normally. After the end, truncated() says whether either happened and
//   truncation_message() explains it.
// - video_writer encodes RGB24 frames as H.264 (yuv420p, BT.601 limited range, tagged as such)
//   through libx264 at a constant rate factor, into the container the file's extension names
//   (.mp4: MP4 with the index at the front, "faststart"). It writes a temporary file beside the
//   target and renames it onto the target in finish(); a writer destroyed without finish(), or one
//   whose write failed, removes its temporary file, so no half-written video is ever left at the
//   target. Bad arguments (odd or zero size, a bad fps or crf, an unknown extension or encoder, a
//   wrongly shaped tensor) throw hg::value_error or hg::shape_error; failures to write throw
//   hg::io_error naming the file (or its folder) and the reason.
// - The library never prints: FFmpeg's log output is captured (the last error message of the
//   calling thread is added to error texts) instead of going to stderr. That hook is process-wide
//   and is installed the first time a reader or writer is made.
// - A reader or writer is used by one thread at a time; different objects are independent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"

namespace hg::media {

/// One decoded frame.
struct video_frame {
    std::int64_t index = 0;  ///< 0-based position in presentation order
    double time = 0;         ///< presentation time in seconds from the stream's start
    std::int64_t width = 0;
    std::int64_t height = 0;
    std::vector<std::uint8_t> rgb;  ///< height * width * 3 bytes, row-major RGB24

    /// The frame as an [H, W, 3] float CPU tensor with values in [0, 1].
    tensor to_tensor() const {
        tensor t = tensor::empty({height, width, 3});
        float* p = t.data();
        for (std::size_t i = 0; i < rgb.size(); ++i) p[i] = static_cast<float>(rgb[i]) * (1.0f / 255.0f);
        return t;
    }
};

/// What the container and stream headers say about the video stream.
struct video_info {
    std::int64_t width = 0;
    std::int64_t height = 0;
    double fps = 0;                ///< the stream's frame rate (FFmpeg's best guess); 0 when unknown
    std::int64_t frame_count = -1; ///< the container's count, else duration * fps rounded; -1 unknown
    bool frame_count_exact = false;///< true when frame_count is the container's own count
    double duration = 0;           ///< seconds; 0 when unknown
    std::string codec;             ///< FFmpeg's codec name, e.g. "h264"
    std::string container;         ///< FFmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
};

struct video_read_options {
    /// Videos whose frames have more pixels than this are refused when opened.
    std::int64_t max_pixels = 64'000'000;
};

/// Decodes the frames of a video file in presentation order.
class video_reader {
public:
    /// Opens `path` and its video decoder; throws io_error (file and reason) when it cannot.
    explicit video_reader(const std::filesystem::path& path, video_read_options opts = {});
    ~video_reader();
    video_reader(video_reader&&) noexcept;
    video_reader& operator=(video_reader&&) noexcept;
    video_reader(const video_reader&) = delete;
    video_reader& operator=(const video_reader&) = delete;

    const video_info& info() const;
    const std::filesystem::path& path() const;

    /// Decodes the next frame into `out` (its buffer is reused); false at the end of the stream,
    /// after the decoder has been flushed so that no frame is lost. Throws io_error (file, frame
    /// index and reason) on a read or decode failure that is not bad data.
    bool next(video_frame& out);
    /// Decodes the next frame without converting it to RGB (to resume at a frame); false at the end.
    bool skip();

    /// Frames returned by next() and skip() so far.
    std::int64_t frames_read() const;
    /// After the end: whether the stream ended before the frame count the container declares, or
    /// bad data was skipped (frames may be missing).
    bool truncated() const;
    /// Why truncated() is true (names the file); empty when it is false.
    std::string truncation_message() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

struct video_write_options {
    double fps = 25;                 ///< frames per second (> 0, at most 1000)
    int crf = 18;                    ///< x264 constant rate factor, 0 (lossless) to 51; 18 looks lossless
    std::string codec = "libx264";   ///< FFmpeg encoder name
    std::string preset = "medium";   ///< x264 speed/size preset (ultrafast ... veryslow)
};

/// Encodes RGB24 frames into a video file, atomically (temporary file, then rename in finish()).
class video_writer {
public:
    /// Prepares `path` for width x height frames (both even and > 0, else value_error); throws
    /// io_error when the folder is missing or not writable, value_error for a container without
    /// H.264 or an unknown extension or encoder.
    video_writer(const std::filesystem::path& path, std::int64_t width, std::int64_t height,
                 video_write_options opts = {});
    /// Removes the temporary file when finish() was not called (never throws).
    ~video_writer();
    video_writer(video_writer&&) noexcept;
    video_writer& operator=(video_writer&&) noexcept;
    video_writer(const video_writer&) = delete;
    video_writer& operator=(const video_writer&) = delete;

    /// Appends one frame of height * width * 3 bytes (row-major RGB24).
    void write(const std::uint8_t* rgb24);
    /// Appends one [height, width, 3] float CPU tensor with values in [0, 1] (clamped, rounded to
    /// 8 bits); shape_error for another shape, value_error for a NaN or an infinity.
    void write(const tensor& rgb);
    /// Flushes the encoder, writes the trailer, syncs and renames the temporary file onto the
    /// target. At least one frame must have been written (value_error otherwise).
    void finish();

    std::int64_t frames_written() const;
    std::int64_t width() const;
    std::int64_t height() const;
    const std::filesystem::path& path() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// Whether `p` names a still image by its extension (png, jpg, jpeg, bmp, tga; any case).
inline bool is_image_path(const std::filesystem::path& p) {
    std::string ext = p.extension().string();
    for (char& c : ext) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".tga";
}

namespace detail {
/// Installs (once, process-wide) the FFmpeg log hook that keeps FFmpeg quiet and records the
/// calling thread's last error message; used by the reader and the writer.
void install_ffmpeg_log_hook();
/// The last error-level message FFmpeg logged on this thread since the last call (then cleared);
/// empty when none.
std::string take_ffmpeg_log();
/// FFmpeg's text for an error code (av_strerror).
std::string ffmpeg_error_text(int code);
}  // namespace detail

}  // namespace hg::media
