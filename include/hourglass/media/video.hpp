// Video files through FFmpeg's libraries (declarations; the bodies are in media/video_reader.cpp
// and media/video_writer.cpp, so this header needs no FFmpeg header).
//
// Contract:
// - video_reader decodes the first (best) video stream of any container and codec FFmpeg reads,
//   frame by frame in presentation order, into RGB24 (8 bits per channel, row-major, no padding).
//   video_frame::index counts frames from 0; video_frame::time is the frame's best-effort
//   presentation timestamp in seconds, relative to the stream's start time (index / fps when the
//   stream carries no timestamps); video_frame::pts and video_info::time_base give the same time
//   exactly, on the stream's own clock (not shifted by its start). YUV is converted with the
//   matrix and range the stream declares (BT.601 limited range when it declares none). Rotation
//   metadata is not applied.
// - Every failure to open (missing file, not a video, no video stream, no decoder for the codec,
//   frames over video_read_options::max_pixels) throws hg::io_error naming the file and the reason,
//   FFmpeg's own text included. A read or decode error that is not bad data (an I/O error, memory)
//   throws hg::io_error naming the file, the frame index and the reason. Bad data (a corrupt
//   packet) is skipped and counted; a stream that ends before the container's declared frame count
//   (a truncated file) ends normally. After the end, truncated() says whether either happened and
//   truncation_message() explains it.
// - video_writer encodes RGB24 frames as H.264 (yuv420p, BT.601 limited range, tagged as such)
//   through libx264 (or HEVC through libx265) at a constant rate factor, into the container the
//   file's extension names (.mp4: MP4 with the index at the front, "faststart"). It writes a
//   temporary file beside the target and renames it onto the target in finish(); a writer
//   destroyed without finish(), or one whose write failed, removes its temporary file, so no
//   half-written video is ever left at the target. Bad arguments (odd or zero size, a bad fps or
//   crf, an unknown extension or encoder, a wrongly shaped tensor) throw hg::value_error or
//   hg::shape_error; failures to write throw hg::io_error naming the file (or its folder) and the
//   reason.
// - Timing: by default frame i is shown at i / fps. write(frame, pts[, duration]) gives each frame
//   its own presentation time in video_write_options::time_base (the source's time base and pts
//   keep a variable-frame-rate source's timing exactly); write_at() takes seconds. Time stamps
//   must increase strictly (value_error otherwise; the writer stays usable). Each frame lasts
//   until the next; the last one for the duration it was given, else one period of the frame rate.
// - Audio: video_write_options::copy_audio_from names a file whose every audio stream is copied
//   into the output unchanged (remuxed packet by packet, never re-encoded; time stamps rescaled,
//   interleaved with the video as it is written, the rest in finish()). A file that cannot be read
//   is an hg::io_error naming it; an audio codec the output container cannot hold is an
//   hg::value_error naming the codec and the container; a file without audio adds nothing.
// - The library never prints: FFmpeg's log output is captured (the last error message of the
//   calling thread is added to error texts) instead of going to stderr. That hook is process-wide
//   and is installed the first time a reader or writer is made.
// - A reader or writer is used by one thread at a time; different objects are independent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"

namespace hg::media {

/// "No time stamp" (FFmpeg's AV_NOPTS_VALUE).
inline constexpr std::int64_t no_pts = std::numeric_limits<std::int64_t>::min();

/// An exact fraction, as FFmpeg keeps frame rates and time bases (num / den); {0, 0} is "not set".
struct rational {
    int num = 0;
    int den = 0;
    /// Both terms above 0.
    bool valid() const { return num > 0 && den > 0; }
    /// num / den; 0 when den is 0.
    double value() const { return den != 0 ? double(num) / double(den) : 0.0; }
    friend bool operator==(const rational&, const rational&) = default;
};

/// One decoded frame.
struct video_frame {
    std::int64_t index = 0;  ///< 0-based position in presentation order
    double time = 0;         ///< presentation time in seconds from the stream's start
    std::int64_t width = 0;
    std::int64_t height = 0;
    std::vector<std::uint8_t> rgb;  ///< height * width * 3 bytes, row-major RGB24
    /// The best-effort presentation time stamp in video_info::time_base, as the stream stores it
    /// (not shifted by the start time); no_pts when the stream has none.
    std::int64_t pts = no_pts;
    /// How long the frame is shown, in video_info::time_base, as FFmpeg reports it (the container's
    /// sample duration, or an estimate from the codec's timing header); 0 when unknown. The time to
    /// the next frame's pts is the exact figure for every frame but the last.
    std::int64_t duration = 0;

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
    rational time_base;            ///< the unit of video_frame::pts and duration (e.g. 1/12800)
    rational frame_rate;           ///< fps as an exact fraction (FFmpeg's guess); {0, 0} when unknown
    rational r_frame_rate;         ///< the stream's r_frame_rate (lowest rate all time stamps fit); may be {0, 0}
    rational avg_frame_rate;       ///< the stream's avg_frame_rate (frames / duration); may be {0, 0}
    std::int64_t start_pts = no_pts;  ///< the stream's start time in time_base; no_pts when unknown
    int audio_streams = 0;         ///< how many audio streams the file has (video_writer can copy them)
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
    int crf = 18;                    ///< constant rate factor, 0 (lossless) to 51; 18 looks lossless
    std::string codec = "libx264";   ///< FFmpeg encoder name: "libx264" (H.264) or "libx265" (HEVC)
    std::string preset = "medium";   ///< x264/x265 speed/size preset (ultrafast ... veryslow)
    /// The exact frame rate (e.g. a source's video_info::frame_rate, 30000/1001); when set it
    /// replaces fps. It is the stream's nominal rate and the last frame's default duration.
    rational frame_rate{};
    /// The unit of the time stamps given to write(frame, pts) (e.g. a source's
    /// video_info::time_base); when not set, 1 / frame rate, so that pts counts frames.
    rational time_base{};
    /// A file whose every audio stream is copied into the output as it is (no re-encoding); empty:
    /// no audio. Its time stamps are kept, so pass the source's own pts for the video to stay in sync.
    std::filesystem::path copy_audio_from{};
};

/// Encodes RGB24 frames into a video file, atomically (temporary file, then rename in finish()).
class video_writer {
public:
    /// Prepares `path` for width x height frames (both even and > 0, else value_error); throws
    /// io_error when the folder is missing or not writable or copy_audio_from cannot be read,
    /// value_error for a container that cannot hold the video or an audio codec, an unknown
    /// extension or encoder, or a bad frame rate or time base.
    video_writer(const std::filesystem::path& path, std::int64_t width, std::int64_t height,
                 video_write_options opts = {});
    /// Removes the temporary file when finish() was not called (never throws).
    ~video_writer();
    video_writer(video_writer&&) noexcept;
    video_writer& operator=(video_writer&&) noexcept;
    video_writer(const video_writer&) = delete;
    video_writer& operator=(const video_writer&) = delete;

    /// Appends one frame of height * width * 3 bytes (row-major RGB24), shown one frame period
    /// after the previous one (frame i at i / frame rate).
    void write(const std::uint8_t* rgb24);
    /// Appends one [height, width, 3] float CPU tensor with values in [0, 1] (clamped, rounded to
    /// 8 bits); shape_error for another shape, value_error for a NaN or an infinity.
    void write(const tensor& rgb);
    /// Appends a frame presented at `pts` (in time_base(); above the previous frame's, else
    /// value_error). `duration` (same unit, 0: unknown) matters for the last frame only: every
    /// other frame lasts until the next one.
    void write(const std::uint8_t* rgb24, std::int64_t pts, std::int64_t duration = 0);
    void write(const tensor& rgb, std::int64_t pts, std::int64_t duration = 0);
    /// Appends a frame presented at `seconds` (rounded to the nearest tick of time_base()).
    void write_at(const std::uint8_t* rgb24, double seconds, double duration_seconds = 0);
    void write_at(const tensor& rgb, double seconds, double duration_seconds = 0);
    /// Flushes the encoder, writes the trailer, syncs and renames the temporary file onto the
    /// target. At least one frame must have been written (value_error otherwise).
    void finish();

    std::int64_t frames_written() const;
    /// The unit of the time stamps write() takes: video_write_options::time_base, else 1 / frame rate.
    rational time_base() const;
    /// The frame rate in use (video_write_options::frame_rate, else fps as a fraction).
    rational frame_rate() const;
    /// Audio streams copied from video_write_options::copy_audio_from (0 without it).
    int audio_streams() const;
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
