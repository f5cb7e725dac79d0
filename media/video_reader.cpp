// hg::media::video_reader: decoding a video file's best video stream with FFmpeg's libraries
// (libavformat demuxing, libavcodec decoding with automatic threads, libswscale conversion to RGB24),
// plus the FFmpeg log hook and error text helpers that the writer shares (hg::media::detail).
// The contract is in include/hourglass/media/video.hpp.
#include "hourglass/media/video.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>
}

#include "ffmpeg_handles.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <system_error>

namespace hg::media {

namespace detail {

namespace {
thread_local std::string last_log;

void log_hook(void* avcl, int level, const char* fmt, std::va_list args) {
    if (level > AV_LOG_ERROR) return;
    char line[1024];
    int print_prefix = 0;  // FFmpeg's prefix carries an address; the component's name is enough
    std::va_list copy;
    va_copy(copy, args);
    av_log_format_line2(avcl, level, fmt, copy, line, sizeof line, &print_prefix);
    va_end(copy);
    std::string s;
    if (avcl) {
        const AVClass* cls = *static_cast<AVClass* const*>(avcl);
        if (cls && cls->item_name) s = std::string(cls->item_name(avcl)) + ": ";
    }
    s += line;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    if (!s.empty()) last_log = std::move(s);
}
}  // namespace

void install_ffmpeg_log_hook() {
    static std::once_flag once;
    std::call_once(once, [] { av_log_set_callback(&log_hook); });
}

std::string take_ffmpeg_log() {
    std::string s = std::move(last_log);
    last_log.clear();
    return s;
}

std::string ffmpeg_error_text(int code) {
    char buf[AV_ERROR_MAX_STRING_SIZE] = {};
    if (av_strerror(code, buf, sizeof buf) < 0) std::snprintf(buf, sizeof buf, "FFmpeg error %d", code);
    return buf;
}

}  // namespace detail

namespace {

using format_closer = detail::input_closer;
using detail::codec_closer;
using detail::frame_closer;
using detail::packet_closer;
using detail::sws_closer;
using detail::reason;


/// The swscale colour matrix for a frame's declared colour space.
int sws_colorspace(AVColorSpace cs) {
    switch (cs) {
        case AVCOL_SPC_BT709: return SWS_CS_ITU709;
        case AVCOL_SPC_FCC: return SWS_CS_FCC;
        case AVCOL_SPC_SMPTE240M: return SWS_CS_SMPTE240M;
        case AVCOL_SPC_BT2020_NCL:
        case AVCOL_SPC_BT2020_CL: return SWS_CS_BT2020;
        default: return SWS_CS_ITU601;
    }
}

bool full_range_format(AVPixelFormat f) {
    return f == AV_PIX_FMT_YUVJ420P || f == AV_PIX_FMT_YUVJ422P || f == AV_PIX_FMT_YUVJ444P ||
           f == AV_PIX_FMT_YUVJ440P || f == AV_PIX_FMT_YUVJ411P;
}

}  // namespace

struct video_reader::impl {
    std::filesystem::path path;
    video_read_options opts;
    video_info info;
    std::unique_ptr<AVFormatContext, format_closer> fmt;
    std::unique_ptr<AVCodecContext, codec_closer> dec;
    std::unique_ptr<AVFrame, frame_closer> frame{av_frame_alloc()};
    std::unique_ptr<AVPacket, packet_closer> packet{av_packet_alloc()};
    std::unique_ptr<SwsContext, sws_closer> sws;
    int sws_key[5] = {-1, -1, -1, -1, -1};  // width, height, format, colour space, range of `sws`
    std::vector<std::uint8_t> scratch;       // aligned RGB24 rows written by swscale
    int scratch_stride = 0;
    int stream_index = -1;
    AVRational time_base{0, 1};
    std::int64_t start_pts = AV_NOPTS_VALUE;
    std::int64_t frames = 0;
    std::int64_t bad_packets = 0;
    std::string first_bad;
    bool draining = false;
    bool pending = false;  // `packet` holds a packet the decoder has not taken yet
    bool ended = false;

    [[noreturn]] void fail_open(const std::string& why) const {
        throw io_error("video_reader: cannot open '" + path.string() + "': " + why);
    }
    [[noreturn]] void fail_read(const std::string& why) const {
        throw io_error("video_reader: cannot read frame " + std::to_string(frames) + " of '" + path.string() +
                       "': " + why);
    }

    void open() {
        detail::install_ffmpeg_log_hook();
        detail::take_ffmpeg_log();
        std::error_code ec;
        const auto st = std::filesystem::status(path, ec);
        if (!std::filesystem::exists(st)) fail_open("the file does not exist");
        if (std::filesystem::is_directory(st)) fail_open("it is a folder, not a file");

        AVFormatContext* raw = nullptr;
        int r = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
        if (r == AVERROR_INVALIDDATA) fail_open("not a video FFmpeg can read (" + reason(r) + ")");
        if (r < 0) fail_open("FFmpeg cannot open it (" + reason(r) + ")");  // permissions, I/O
        fmt.reset(raw);
        r = avformat_find_stream_info(fmt.get(), nullptr);
        if (r < 0) fail_open("cannot read the stream information (" + reason(r) + ")");

        const AVCodec* codec = nullptr;
        r = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
        if (r == AVERROR_STREAM_NOT_FOUND) fail_open("the file has no video stream");
        if (r == AVERROR_DECODER_NOT_FOUND) {
            // Name the codec of the first video stream, which is the one that was refused.
            std::string name = "unknown";
            for (unsigned i = 0; i < fmt->nb_streams; ++i)
                if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
                    name = avcodec_get_name(fmt->streams[i]->codecpar->codec_id);
                    break;
                }
            fail_open("unsupported codec '" + name + "' (this FFmpeg has no decoder for it)");
        }
        if (r < 0) fail_open("cannot select the video stream (" + reason(r) + ")");
        stream_index = r;
        AVStream* stream = fmt->streams[stream_index];
        const AVCodecParameters* par = stream->codecpar;
        if (par->width <= 0 || par->height <= 0)
            fail_open("the video stream declares no frame size (" + std::to_string(par->width) + "x" +
                      std::to_string(par->height) + ")");
        const std::int64_t pixels = std::int64_t(par->width) * par->height;
        if (pixels > opts.max_pixels)
            fail_open("the frames are " + std::to_string(par->width) + "x" + std::to_string(par->height) +
                      ", over the limit of " + std::to_string(opts.max_pixels) + " pixels");

        dec.reset(avcodec_alloc_context3(codec));
        if (!dec || !frame || !packet) fail_open("out of memory allocating the decoder");
        r = avcodec_parameters_to_context(dec.get(), par);
        if (r < 0) fail_open("cannot set up the '" + std::string(codec->name) + "' decoder (" + reason(r) + ")");
        dec->thread_count = 0;  // automatic
        dec->pkt_timebase = stream->time_base;
        r = avcodec_open2(dec.get(), codec, nullptr);
        if (r < 0) fail_open("cannot open the '" + std::string(codec->name) + "' decoder (" + reason(r) + ")");

        time_base = stream->time_base;
        start_pts = stream->start_time;
        info.width = par->width;
        info.height = par->height;
        const AVRational rate = av_guess_frame_rate(fmt.get(), stream, nullptr);
        info.fps = (rate.num > 0 && rate.den > 0) ? av_q2d(rate) : 0.0;
        if (stream->duration != AV_NOPTS_VALUE && stream->duration > 0)
            info.duration = double(stream->duration) * av_q2d(stream->time_base);
        else if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0)
            info.duration = double(fmt->duration) / AV_TIME_BASE;
        if (stream->nb_frames > 0) {
            info.frame_count = stream->nb_frames;
            info.frame_count_exact = true;
        } else if (info.duration > 0 && info.fps > 0) {
            info.frame_count = std::llround(info.duration * info.fps);
        }
        info.time_base = {stream->time_base.num, stream->time_base.den};
        info.frame_rate = (rate.num > 0 && rate.den > 0) ? rational{rate.num, rate.den} : rational{};
        info.r_frame_rate = {stream->r_frame_rate.num, stream->r_frame_rate.den};
        info.avg_frame_rate = {stream->avg_frame_rate.num, stream->avg_frame_rate.den};
        info.start_pts = stream->start_time == AV_NOPTS_VALUE ? no_pts : stream->start_time;
        for (unsigned i = 0; i < fmt->nb_streams; ++i)
            if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) ++info.audio_streams;
        info.codec = avcodec_get_name(par->codec_id);
        info.container = fmt->iformat ? fmt->iformat->name : "";
    }

    /// Sends packets to the decoder until it returns a frame (true) or the stream ends (false).
    bool decode_one() {
        if (ended) return false;
        while (true) {
            int r = avcodec_receive_frame(dec.get(), frame.get());
            if (r == 0) {
                if (frame->decode_error_flags != 0 || (frame->flags & AV_FRAME_FLAG_CORRUPT)) note_bad("a frame decoded with errors");
                return true;
            }
            if (r == AVERROR_EOF) {
                ended = true;
                return false;
            }
            if (r == AVERROR_INVALIDDATA) {
                note_bad(reason(r));
                continue;
            }
            if (r != AVERROR(EAGAIN)) fail_read("the decoder failed (" + reason(r) + ")");
            if (draining) {  // cannot happen with a conforming decoder; end rather than spin
                ended = true;
                return false;
            }
            feed();
        }
    }

    /// Reads packets until one of the video stream has gone to the decoder, or starts draining it
    /// at the end of the file. A packet the decoder cannot take yet (EAGAIN) is kept for the next call.
    void feed() {
        while (true) {
            int r = 0;
            if (!pending) {
                r = av_read_frame(fmt.get(), packet.get());
                if (r < 0) {
                    if (r != AVERROR_EOF) {
                        if (r != AVERROR_INVALIDDATA) fail_read("reading the file failed (" + reason(r) + ")");
                        note_bad(reason(r));
                    }
                    // Drain the frames still inside. An error here belongs to a packet sent before
                    // (threaded decoders report late); draining has begun all the same.
                    r = avcodec_send_packet(dec.get(), nullptr);
                    if (r == AVERROR_INVALIDDATA)
                        note_bad(reason(r));
                    else if (r < 0 && r != AVERROR_EOF)
                        fail_read("flushing the decoder failed (" + reason(r) + ")");
                    draining = true;
                    return;
                }
                if (packet->stream_index != stream_index) {
                    av_packet_unref(packet.get());
                    continue;
                }
            }
            r = avcodec_send_packet(dec.get(), packet.get());
            if (r == AVERROR(EAGAIN)) {  // the decoder has output to give first
                if (pending) fail_read("the decoder neither takes input nor gives frames");
                pending = true;
                return;
            }
            pending = false;
            av_packet_unref(packet.get());
            if (r == AVERROR_INVALIDDATA) note_bad(reason(r));  // this or an earlier packet was bad
            else if (r < 0) fail_read("the decoder refused a packet (" + reason(r) + ")");
            return;
        }
    }

    /// Whether fewer frames came out than the container declares (exactly, or by duration * fps,
    /// then with a margin of 5% or 2 frames for variable frame rates and rounding).
    bool short_of_declared() const {
        if (info.frame_count < 0) return false;
        if (info.frame_count_exact) return frames < info.frame_count;
        const std::int64_t margin = std::max<std::int64_t>(2, info.frame_count / 20);
        return frames + margin < info.frame_count;
    }

    void note_bad(const std::string& why) {
        if (bad_packets++ == 0) first_bad = why;
        detail::take_ffmpeg_log();
    }

    double frame_time() const {
        const std::int64_t ts = frame->best_effort_timestamp;
        if (ts == AV_NOPTS_VALUE || time_base.den == 0) return info.fps > 0 ? double(frames) / info.fps : 0.0;
        const std::int64_t origin = start_pts == AV_NOPTS_VALUE ? 0 : start_pts;
        return double(ts - origin) * av_q2d(time_base);
    }

    void convert(video_frame& out) {
        const int w = frame->width, h = frame->height;
        if (w <= 0 || h <= 0) fail_read("the decoder returned a frame without a size");
        if (std::int64_t(w) * h > opts.max_pixels)
            fail_read("the frame is " + std::to_string(w) + "x" + std::to_string(h) + ", over the limit of " +
                      std::to_string(opts.max_pixels) + " pixels");
        const auto format = static_cast<AVPixelFormat>(frame->format);
        const int cs = sws_colorspace(frame->colorspace);
        const int full = (frame->color_range == AVCOL_RANGE_JPEG || full_range_format(format)) ? 1 : 0;
        const int key[5] = {w, h, frame->format, cs, full};
        if (!sws || std::memcmp(key, sws_key, sizeof key) != 0) {
            sws.reset(sws_getContext(w, h, format, w, h, AV_PIX_FMT_RGB24,
                                     SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, nullptr, nullptr, nullptr));
            if (!sws)
                fail_read(std::string("cannot convert the pixel format '") +
                          (av_get_pix_fmt_name(format) ? av_get_pix_fmt_name(format) : "unknown") + "' to RGB");
            const int* coeffs = sws_getCoefficients(cs);
            int* inv_table = nullptr;
            int* table = nullptr;
            int src_range = 0, dst_range = 0, brightness = 0, contrast = 0, saturation = 0;
            // Only YUV sources have a matrix to set; for RGB sources this call fails harmlessly.
            if (sws_getColorspaceDetails(sws.get(), &inv_table, &src_range, &table, &dst_range, &brightness,
                                         &contrast, &saturation) >= 0)
                sws_setColorspaceDetails(sws.get(), coeffs, full, coeffs, 1, brightness, contrast, saturation);
            std::memcpy(sws_key, key, sizeof key);
            scratch_stride = (w * 3 + 63) / 64 * 64;
            scratch.assign(std::size_t(scratch_stride) * std::size_t(h) + 64, 0);
        }
        std::uint8_t* dst[4] = {scratch.data(), nullptr, nullptr, nullptr};
        const int dst_stride[4] = {scratch_stride, 0, 0, 0};
        const int rows = sws_scale(sws.get(), frame->data, frame->linesize, 0, h, dst, dst_stride);
        if (rows != h) fail_read("converting the frame to RGB failed");
        out.width = w;
        out.height = h;
        out.rgb.resize(std::size_t(w) * std::size_t(h) * 3);
        for (int y = 0; y < h; ++y)
            std::memcpy(out.rgb.data() + std::size_t(y) * std::size_t(w) * 3,
                        scratch.data() + std::size_t(y) * std::size_t(scratch_stride), std::size_t(w) * 3);
    }
};

video_reader::video_reader(const std::filesystem::path& path, video_read_options opts) : impl_(std::make_unique<impl>()) {
    impl_->path = path;
    impl_->opts = opts;
    impl_->open();
}

video_reader::~video_reader() = default;
video_reader::video_reader(video_reader&&) noexcept = default;
video_reader& video_reader::operator=(video_reader&&) noexcept = default;

const video_info& video_reader::info() const { return impl_->info; }
const std::filesystem::path& video_reader::path() const { return impl_->path; }

bool video_reader::next(video_frame& out) {
    impl& m = *impl_;
    if (!m.decode_one()) return false;
    m.convert(out);
    out.index = m.frames;
    out.time = m.frame_time();
    const std::int64_t ts = m.frame->best_effort_timestamp;
    out.pts = ts == AV_NOPTS_VALUE ? no_pts : ts;
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(58, 2, 100)
    out.duration = std::max<std::int64_t>(0, m.frame->duration);
#else
    out.duration = std::max<std::int64_t>(0, m.frame->pkt_duration);
#endif
    av_frame_unref(m.frame.get());
    ++m.frames;
    return true;
}

bool video_reader::skip() {
    impl& m = *impl_;
    if (!m.decode_one()) return false;
    av_frame_unref(m.frame.get());
    ++m.frames;
    return true;
}

std::int64_t video_reader::frames_read() const { return impl_->frames; }

bool video_reader::truncated() const {
    const impl& m = *impl_;
    if (!m.ended) return false;
    return m.bad_packets > 0 || m.short_of_declared();
}

std::string video_reader::truncation_message() const {
    const impl& m = *impl_;
    if (!truncated()) return {};
    std::string msg = "video_reader: '" + m.path.string() + "' ended after " + std::to_string(m.frames) + " frames";
    if (m.short_of_declared())
        msg += m.info.frame_count_exact
                   ? " of the " + std::to_string(m.info.frame_count) + " its container declares (the file is truncated)"
                   : " of about " + std::to_string(m.info.frame_count) +
                         " that its duration and frame rate announce (the file is truncated)";
    if (m.bad_packets > 0)
        msg += "; FFmpeg met bad data " + std::to_string(m.bad_packets) +
               " time(s), frames may be missing or damaged (first: " + m.first_bad + ")";
    return msg;
}

}  // namespace hg::media
