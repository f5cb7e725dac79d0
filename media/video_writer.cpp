// hg::media::video_writer: encoding RGB24 frames with FFmpeg's libraries (libswscale to yuv420p,
// libavcodec's libx264 or libx265 at a constant rate factor, libavformat muxing into the container
// the file's extension names) into a temporary file beside the target, renamed onto it by finish().
// Frames carry the time stamps they were given; the audio streams of another file are copied in
// packet by packet (no re-encoding), interleaved with the video as it is written.
// The contract is in include/hourglass/media/video.hpp.
#include "hourglass/media/video.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include "ffmpeg_handles.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <iterator>
#include <map>
#include <system_error>

namespace hg::media {

namespace {

struct output_closer {
    void operator()(AVFormatContext* p) const {
        if (!p) return;
        if (p->pb && !(p->oformat->flags & AVFMT_NOFILE)) avio_closep(&p->pb);
        avformat_free_context(p);
    }
};
using detail::codec_closer;
using detail::frame_closer;
using detail::input_closer;
using detail::packet_closer;
using detail::sws_closer;
using detail::reason;


std::atomic<std::uint64_t> temp_counter{0};

}  // namespace

struct video_writer::impl {
    std::filesystem::path path;
    std::filesystem::path temp;
    std::int64_t width = 0, height = 0;
    video_write_options opts;
    std::unique_ptr<AVFormatContext, output_closer> oc;
    std::unique_ptr<AVCodecContext, codec_closer> enc;
    std::unique_ptr<AVFrame, frame_closer> frame;
    std::unique_ptr<AVPacket, packet_closer> packet;
    std::unique_ptr<SwsContext, sws_closer> sws;
    AVStream* stream = nullptr;
    AVRational rate{0, 1};       // frame rate in use
    AVRational time_base{0, 1};  // unit of the time stamps given to write() (the encoder's time base)
    std::int64_t frames = 0;
    std::int64_t last_pts = AV_NOPTS_VALUE;  // time stamp of the latest frame, in time_base
    std::int64_t last_duration = 0;          // its given duration (0: one frame period)
    bool explicit_pts = false;               // whether any frame came with its own time stamp
    // Durations of frames whose packet is not written yet (pts -> duration, in time_base): a frame
    // lasts until the next one, so a packet waits in `held` until its successor has been written.
    std::map<std::int64_t, std::int64_t> durations;
    std::deque<std::unique_ptr<AVPacket, packet_closer>> held;
    // Audio copied from opts.copy_audio_from: its demuxer, input stream -> output stream (-1: not
    // copied), the packet read but not written yet.
    std::unique_ptr<AVFormatContext, input_closer> audio_in;
    std::vector<int> audio_map;
    std::unique_ptr<AVPacket, packet_closer> audio_packet;
    bool audio_pending = false;
    bool audio_ended = false;
    int audio_count = 0;
    bool failed = false;
    bool finished = false;
    std::vector<std::uint8_t> bytes;  // RGB24 staging for write(tensor)

    [[noreturn]] void fail_arg(const std::string& why) const {
        throw value_error("video_writer: cannot write '" + path.string() + "': " + why);
    }
    [[noreturn]] void fail_io(const std::string& why) {
        failed = true;
        throw io_error("video_writer: cannot write '" + path.string() + "': " + why);
    }

    void open() {
        detail::install_ffmpeg_log_hook();
        detail::take_ffmpeg_log();
        if (width <= 0 || height <= 0 || width % 2 != 0 || height % 2 != 0)
            fail_arg("the frame size " + std::to_string(width) + "x" + std::to_string(height) +
                     " is not allowed (width and height must be even and above 0 for yuv420p)");
        if (width > 16384 || height > 16384)
            fail_arg("the frame size " + std::to_string(width) + "x" + std::to_string(height) +
                     " is over the limit of 16384 pixels per side");
        if (opts.frame_rate.num != 0 || opts.frame_rate.den != 0) {
            if (!opts.frame_rate.valid() || opts.frame_rate.value() > 1000)
                fail_arg("the frame rate " + std::to_string(opts.frame_rate.num) + "/" + std::to_string(opts.frame_rate.den) +
                         " is not in (0, 1000]");
            rate = AVRational{opts.frame_rate.num, opts.frame_rate.den};
        } else {
            if (!std::isfinite(opts.fps) || opts.fps <= 0 || opts.fps > 1000)
                fail_arg("the frame rate " + std::to_string(opts.fps) + " is not in (0, 1000]");
            rate = av_d2q(opts.fps, 100000);
        }
        if (opts.time_base.num != 0 || opts.time_base.den != 0) {
            if (!opts.time_base.valid())
                fail_arg("the time base " + std::to_string(opts.time_base.num) + "/" + std::to_string(opts.time_base.den) +
                         " is not a positive fraction");
            time_base = AVRational{opts.time_base.num, opts.time_base.den};
        } else {
            time_base = av_inv_q(rate);
        }
        if (opts.crf < 0 || opts.crf > 51) fail_arg("the crf " + std::to_string(opts.crf) + " is not in [0, 51]");

        const std::filesystem::path folder = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
        std::error_code ec;
        if (!std::filesystem::is_directory(folder, ec)) fail_io("the folder '" + folder.string() + "' does not exist");

        // The container comes from the target's name; the context is named after the temporary
        // file, because muxers that rewrite their output (MP4 "faststart") reopen it by that name.
        const AVOutputFormat* container = av_guess_format(nullptr, path.c_str(), nullptr);
        if (!container)
            fail_arg("FFmpeg knows no container for the extension '" + path.extension().string() + "'");
        std::string temp_leaf(".");  // built by appending: GCC 12 misreports "." + string (-Wrestrict)
        temp_leaf += path.stem().string();
        temp_leaf += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(temp_counter++);
        temp_leaf += path.extension().string();
        const std::filesystem::path temp_name = folder / temp_leaf;
        AVFormatContext* raw = nullptr;
        int r = avformat_alloc_output_context2(&raw, container, nullptr, temp_name.c_str());
        if (r < 0 || !raw) fail_io("cannot set up the '" + std::string(container->name) + "' muxer (" + reason(r) + ")");
        oc.reset(raw);
        const AVCodec* codec = avcodec_find_encoder_by_name(opts.codec.c_str());
        if (!codec || codec->type != AVMEDIA_TYPE_VIDEO)
            fail_arg("this FFmpeg has no video encoder named '" + opts.codec + "'");
        if (avformat_query_codec(oc->oformat, codec->id, FF_COMPLIANCE_NORMAL) == 0)
            fail_arg(std::string("the container '") + oc->oformat->name + "' cannot hold " + avcodec_get_name(codec->id));

        const bool x264 = opts.codec == "libx264", x265 = opts.codec == "libx265";
        if (x264 || x265) {  // x264 and x265 would print a bad preset's name to stderr themselves
            static const char* const presets[] = {"ultrafast", "superfast", "veryfast", "faster", "fast",
                                                  "medium",    "slow",      "slower",   "veryslow", "placebo"};
            if (std::none_of(std::begin(presets), std::end(presets), [&](const char* q) { return opts.preset == q; }))
                fail_arg(std::string(x264 ? "x264" : "x265") + " has no preset '" + opts.preset +
                         "' (ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow, placebo)");
        }
        enc.reset(avcodec_alloc_context3(codec));
        frame.reset(av_frame_alloc());
        packet.reset(av_packet_alloc());
        if (!enc || !frame || !packet) fail_io("out of memory allocating the encoder");
        enc->width = static_cast<int>(width);
        enc->height = static_cast<int>(height);
        enc->pix_fmt = AV_PIX_FMT_YUV420P;
        enc->framerate = rate;
        enc->time_base = time_base;
        enc->thread_count = 0;
        enc->color_range = AVCOL_RANGE_MPEG;
        enc->colorspace = AVCOL_SPC_SMPTE170M;
        enc->color_primaries = AVCOL_PRI_SMPTE170M;
        enc->color_trc = AVCOL_TRC_SMPTE170M;
        if (oc->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
        AVDictionary* codec_opts = nullptr;
        av_dict_set(&codec_opts, "crf", std::to_string(opts.crf).c_str(), 0);
        av_dict_set(&codec_opts, "preset", opts.preset.c_str(), 0);
        if (x265) av_dict_set(&codec_opts, "x265-params", "log-level=none", 0);  // x265 logs to stderr itself
        r = avcodec_open2(enc.get(), codec, &codec_opts);
        av_dict_free(&codec_opts);
        if (r < 0)
            fail_arg("cannot open the encoder '" + opts.codec + "' with preset '" + opts.preset + "' and crf " +
                     std::to_string(opts.crf) + " (" + reason(r) + ")");

        stream = avformat_new_stream(oc.get(), nullptr);
        if (!stream) fail_io("out of memory adding the video stream");
        stream->time_base = enc->time_base;
        stream->avg_frame_rate = rate;
        r = avcodec_parameters_from_context(stream->codecpar, enc.get());
        if (r < 0) fail_io("cannot copy the encoder parameters (" + reason(r) + ")");
        // HEVC in MP4/MOV as 'hvc1' (parameter sets in the sample description), which Apple's
        // players require; FFmpeg's default 'hev1' plays elsewhere only.
        const std::string muxer = oc->oformat->name;
        if (codec->id == AV_CODEC_ID_HEVC && (muxer == "mp4" || muxer == "mov"))
            stream->codecpar->codec_tag = MKTAG('h', 'v', 'c', '1');
        open_audio_source();

        frame->format = AV_PIX_FMT_YUV420P;
        frame->width = enc->width;
        frame->height = enc->height;
        r = av_frame_get_buffer(frame.get(), 0);
        if (r < 0) fail_io("out of memory allocating a frame (" + reason(r) + ")");
        sws.reset(sws_getContext(enc->width, enc->height, AV_PIX_FMT_RGB24, enc->width, enc->height,
                                 AV_PIX_FMT_YUV420P, SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP, nullptr,
                                 nullptr, nullptr));
        if (!sws) fail_io("cannot set up the RGB to yuv420p conversion");
        const int* bt601 = sws_getCoefficients(SWS_CS_ITU601);
        sws_setColorspaceDetails(sws.get(), bt601, 1, bt601, 0, 0, 1 << 16, 1 << 16);

        // The temporary file: created exclusively here, so that a clash or a folder without write
        // permission is reported with the system's own reason, then handed to FFmpeg.
        temp = temp_name;
        const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
            const int err = errno;
            temp.clear();
            fail_io("cannot create a temporary file in the folder '" + folder.string() + "' (" + std::strerror(err) + ")");
        }
        ::close(fd);
        r = avio_open(&oc->pb, temp.c_str(), AVIO_FLAG_WRITE);
        if (r < 0) fail_io("cannot open the temporary file '" + temp.string() + "' (" + reason(r) + ")");

        AVDictionary* mux_opts = nullptr;
        if (av_opt_find(oc->priv_data, "movflags", nullptr, 0, 0))
            av_dict_set(&mux_opts, "movflags", "+faststart", 0);  // index first: playable while streaming
        r = avformat_write_header(oc.get(), &mux_opts);
        av_dict_free(&mux_opts);
        if (r < 0) fail_io("writing the container header failed (" + reason(r) + ")");
    }

    /// Opens opts.copy_audio_from and adds one output stream per audio stream it holds, with the
    /// same codec parameters (copied, not re-encoded). A file without audio adds nothing.
    void open_audio_source() {
        const std::filesystem::path& src = opts.copy_audio_from;
        if (src.empty()) return;
        auto fail_src = [&](const std::string& why) {
            std::string msg = "cannot copy the audio of '";
            msg += src.string();
            msg += "': ";
            msg += why;
            fail_io(msg);
        };
        std::error_code ec;
        const auto st = std::filesystem::status(src, ec);
        if (!std::filesystem::exists(st)) fail_src("the file does not exist");
        if (std::filesystem::is_directory(st)) fail_src("it is a folder, not a file");
        AVFormatContext* raw = nullptr;
        int r = avformat_open_input(&raw, src.c_str(), nullptr, nullptr);
        if (r == AVERROR_INVALIDDATA) fail_src("not a media file FFmpeg can read (" + reason(r) + ")");
        if (r < 0) fail_src("FFmpeg cannot open it (" + reason(r) + ")");
        audio_in.reset(raw);
        r = avformat_find_stream_info(audio_in.get(), nullptr);
        if (r < 0) fail_src("cannot read the stream information (" + reason(r) + ")");
        audio_map.assign(audio_in->nb_streams, -1);
        for (unsigned i = 0; i < audio_in->nb_streams; ++i) {
            const AVStream* in = audio_in->streams[i];
            if (in->codecpar->codec_type != AVMEDIA_TYPE_AUDIO) continue;
            const AVCodecID id = in->codecpar->codec_id;
            std::string where = "the audio stream #";
            where += std::to_string(i);
            where += " of '";
            where += src.string();
            where += "'";
            if (id == AV_CODEC_ID_NONE) fail_arg(where + " has a codec FFmpeg does not know; it cannot be copied");
            // 1: the container holds it; 0: it cannot; below 0: the muxer cannot tell (the header decides).
            if (avformat_query_codec(oc->oformat, id, FF_COMPLIANCE_NORMAL) == 0) {
                std::string msg = "the container '";
                msg += oc->oformat->name;
                msg += "' cannot hold the audio codec '";
                msg += avcodec_get_name(id);
                msg += "' of ";
                msg += where;
                msg += " (copied without re-encoding); choose another container for the output";
                fail_arg(msg);
            }
            AVStream* out = avformat_new_stream(oc.get(), nullptr);
            if (!out) fail_io("out of memory adding an audio stream");
            r = avcodec_parameters_copy(out->codecpar, in->codecpar);
            if (r < 0) fail_io("cannot copy the parameters of " + where + " (" + reason(r) + ")");
            out->codecpar->codec_tag = 0;  // the output container picks its own tag for the codec
            out->time_base = in->time_base;
            out->disposition = in->disposition;
            av_dict_copy(&out->metadata, in->metadata, 0);  // language, title
            audio_map[i] = out->index;
            ++audio_count;
        }
        if (audio_count == 0) {
            audio_in.reset();
            audio_map.clear();
            return;
        }
        audio_packet.reset(av_packet_alloc());
        if (!audio_packet) fail_io("out of memory allocating a packet");
    }

    /// Copies audio packets until one starts after `until` (in `until_tb`), or all of them when
    /// `until` is AV_NOPTS_VALUE.
    void copy_audio(std::int64_t until, AVRational until_tb) {
        if (!audio_in || audio_ended) return;
        while (true) {
            if (!audio_pending) {
                const int r = av_read_frame(audio_in.get(), audio_packet.get());
                if (r == AVERROR_EOF) {
                    audio_ended = true;
                    return;
                }
                if (r < 0) {
                    std::string msg = "reading the audio of '";
                    msg += opts.copy_audio_from.string();
                    msg += "' failed (";
                    msg += reason(r);
                    msg += ")";
                    fail_io(msg);
                }
                const int i = audio_packet->stream_index;
                if (i < 0 || std::size_t(i) >= audio_map.size() || audio_map[std::size_t(i)] < 0) {
                    av_packet_unref(audio_packet.get());
                    continue;
                }
                audio_pending = true;
            }
            const AVStream* in = audio_in->streams[audio_packet->stream_index];
            const std::int64_t ts = audio_packet->dts != AV_NOPTS_VALUE ? audio_packet->dts : audio_packet->pts;
            if (until != AV_NOPTS_VALUE && ts != AV_NOPTS_VALUE && av_compare_ts(ts, in->time_base, until, until_tb) > 0)
                return;
            const AVStream* out = oc->streams[audio_map[std::size_t(audio_packet->stream_index)]];
            av_packet_rescale_ts(audio_packet.get(), in->time_base, out->time_base);
            audio_packet->stream_index = out->index;
            audio_packet->pos = -1;
            audio_pending = false;
            const int r = av_interleaved_write_frame(oc.get(), audio_packet.get());  // leaves the packet blank
            if (r < 0) fail_io("writing audio to the temporary file failed, the disk may be full (" + reason(r) + ")");
        }
    }

    /// One frame period in time_base (at least 1 tick).
    std::int64_t frame_period() const { return std::max<std::int64_t>(1, av_rescale_q(1, av_inv_q(rate), time_base)); }

    /// Moves every packet the encoder has ready into `held`, then writes what can be written.
    void drain(bool final = false) {
        while (true) {
            int r = avcodec_receive_packet(enc.get(), packet.get());
            if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) break;
            if (r < 0) fail_io("the encoder failed at frame " + std::to_string(frames) + " (" + reason(r) + ")");
            std::unique_ptr<AVPacket, packet_closer> p(av_packet_alloc());
            if (!p) fail_io("out of memory holding a packet");
            av_packet_move_ref(p.get(), packet.get());
            held.push_back(std::move(p));
        }
        write_held(final);
    }

    /// Writes the held packets in order, each with its frame's duration (the time to the next
    /// frame); a packet of the latest frame waits for the next frame unless `final`. After each
    /// video packet, the audio up to its time follows.
    void write_held(bool final) {
        while (!held.empty()) {
            AVPacket* p = held.front().get();
            std::int64_t duration = 0;
            const auto it = durations.find(p->pts);
            if (it != durations.end()) {
                duration = it->second;
                durations.erase(it);
            } else if (p->pts == last_pts) {
                if (!final) return;
                duration = last_duration > 0 ? last_duration : frame_period();
            }
            p->duration = duration;
            av_packet_rescale_ts(p, time_base, stream->time_base);
            p->stream_index = stream->index;
            const std::int64_t at = p->dts != AV_NOPTS_VALUE ? p->dts : p->pts;
            const int r = av_interleaved_write_frame(oc.get(), p);
            held.pop_front();
            if (r < 0) fail_io("writing to the temporary file failed, the disk may be full (" + reason(r) + ")");
            if (at != AV_NOPTS_VALUE) copy_audio(at, stream->time_base);
        }
    }

    void check_open(const char* what) const {
        if (finished) throw value_error(std::string("video_writer: ") + what + " after finish() on '" + path.string() + "'");
        if (failed)
            throw io_error(std::string("video_writer: ") + what + " on '" + path.string() +
                           "' after an earlier failure; the video is abandoned");
    }

    /// The time stamp of the next frame: `pts` when given (checked), else one frame period after
    /// the previous frame (frame i at i / frame rate while no frame had its own time stamp).
    std::int64_t next_pts(std::int64_t pts, std::int64_t duration) const {
        if (duration < 0) fail_arg("the frame duration " + std::to_string(duration) + " is negative");
        if (pts == AV_NOPTS_VALUE) {
            if (!explicit_pts) return av_rescale_q(frames, av_inv_q(rate), time_base);
            return last_pts + frame_period();
        }
        if (last_pts != AV_NOPTS_VALUE && pts <= last_pts)
            fail_arg("frame " + std::to_string(frames) + " has the time stamp " + std::to_string(pts) +
                     ", not after the previous frame's " + std::to_string(last_pts) + " (time base " +
                     std::to_string(time_base.num) + "/" + std::to_string(time_base.den) + ")");
        return pts;
    }

    /// Seconds to ticks of time_base; value_error for a non-finite or out-of-range time.
    std::int64_t ticks(double seconds, const char* what) const {
        const double t = seconds * double(time_base.den) / double(time_base.num);
        if (!std::isfinite(t) || std::fabs(t) > 4.0e18) {
            std::string msg = "the ";
            msg += what;
            msg += " ";
            msg += std::to_string(seconds);
            msg += " s is not a finite time in range";
            fail_arg(msg);
        }
        return std::llround(t);
    }

    void encode(const std::uint8_t* rgb24, std::int64_t given_pts = AV_NOPTS_VALUE, std::int64_t duration = 0) {
        check_open("write");
        if (!rgb24) fail_arg("write() was given a null pointer");
        const std::int64_t pts = next_pts(given_pts, duration);
        int r = av_frame_make_writable(frame.get());
        if (r < 0) fail_io("out of memory preparing a frame (" + reason(r) + ")");
        const std::uint8_t* src[4] = {rgb24, nullptr, nullptr, nullptr};
        const int src_stride[4] = {static_cast<int>(width * 3), 0, 0, 0};
        if (sws_scale(sws.get(), src, src_stride, 0, static_cast<int>(height), frame->data, frame->linesize) !=
            static_cast<int>(height))
            fail_io("converting the frame to yuv420p failed");
        frame->pts = pts;
        r = avcodec_send_frame(enc.get(), frame.get());
        if (r < 0) fail_io("the encoder refused frame " + std::to_string(frames) + " (" + reason(r) + ")");
        if (last_pts != AV_NOPTS_VALUE) durations[last_pts] = pts - last_pts;
        last_pts = pts;
        last_duration = duration;
        if (given_pts != AV_NOPTS_VALUE) explicit_pts = true;
        ++frames;
        drain();
    }

    void finish() {
        if (finished) return;
        check_open("finish");
        if (frames == 0) throw value_error("video_writer: no frame was written to '" + path.string() + "'; an empty video is not written");
        int r = avcodec_send_frame(enc.get(), nullptr);
        if (r < 0) fail_io("flushing the encoder failed (" + reason(r) + ")");
        drain(true);
        copy_audio(AV_NOPTS_VALUE, AVRational{1, 1});
        r = av_write_trailer(oc.get());
        if (r < 0) fail_io("writing the container trailer failed, the disk may be full (" + reason(r) + ")");
        r = avio_closep(&oc->pb);
        if (r < 0) fail_io("closing the temporary file failed, the disk may be full (" + reason(r) + ")");
        const int fd = ::open(temp.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || ::fsync(fd) != 0) {
            const int err = errno;
            if (fd >= 0) ::close(fd);
            fail_io("flushing the temporary file '" + temp.string() + "' failed (" + std::strerror(err) + ")");
        }
        ::close(fd);
        if (::rename(temp.c_str(), path.c_str()) != 0) {
            const int err = errno;
            fail_io("renaming the temporary file onto it failed (" + std::string(std::strerror(err)) + ")");
        }
        temp.clear();
        finished = true;
        const std::filesystem::path folder = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
        const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir >= 0) {  // persists the rename; failing here leaves a complete file, so it is no error
            (void)::fsync(dir);
            ::close(dir);
        }
        release();
    }

    void release() noexcept {
        held.clear();
        durations.clear();
        audio_packet.reset();
        audio_in.reset();
        sws.reset();
        oc.reset();
        enc.reset();
        frame.reset();
        packet.reset();
        stream = nullptr;
    }

    ~impl() {
        release();
        if (!temp.empty()) ::unlink(temp.c_str());
    }

    /// The frame as RGB24 bytes in `bytes`, from a [height, width, 3] float CPU tensor in [0, 1].
    const std::uint8_t* tensor_bytes(const tensor& rgb) {
        check_open("write");
        const hg::shape want{height, width, 3};
        if (!rgb.defined() || rgb.shape() != want)
            throw shape_error("video_writer: write to '" + path.string() + "' expects a " + want.str() + " tensor, got " +
                              (rgb.defined() ? rgb.shape().str() : std::string("an undefined tensor")));
        if (!rgb.on_cpu()) throw device_error("video_writer: write to '" + path.string() + "' needs a CPU tensor");
        const float* p = rgb.data();
        const std::size_t n = static_cast<std::size_t>(rgb.numel());
        bytes.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            const float v = p[i];
            if (!std::isfinite(v))
                throw value_error("video_writer: write to '" + path.string() + "': the frame holds a non-finite value at element " +
                                  std::to_string(i));
            bytes[i] = static_cast<std::uint8_t>(std::lrint(std::clamp(v, 0.0f, 1.0f) * 255.0f));
        }
        return bytes.data();
    }
};

video_writer::video_writer(const std::filesystem::path& path, std::int64_t width, std::int64_t height,
                           video_write_options opts)
    : impl_(std::make_unique<impl>()) {
    impl_->path = path;
    impl_->width = width;
    impl_->height = height;
    impl_->opts = std::move(opts);
    impl_->open();  // on a throw, impl's destructor closes FFmpeg and removes the temporary file
}

video_writer::~video_writer() = default;
video_writer::video_writer(video_writer&&) noexcept = default;
video_writer& video_writer::operator=(video_writer&&) noexcept = default;

void video_writer::write(const std::uint8_t* rgb24) { impl_->encode(rgb24); }
void video_writer::write(const tensor& rgb) { impl_->encode(impl_->tensor_bytes(rgb)); }

void video_writer::write(const std::uint8_t* rgb24, std::int64_t pts, std::int64_t duration) {
    if (pts == AV_NOPTS_VALUE) impl_->fail_arg("write() was given no time stamp (no_pts)");
    impl_->encode(rgb24, pts, duration);
}
void video_writer::write(const tensor& rgb, std::int64_t pts, std::int64_t duration) {
    if (pts == AV_NOPTS_VALUE) impl_->fail_arg("write() was given no time stamp (no_pts)");
    impl_->encode(impl_->tensor_bytes(rgb), pts, duration);
}
void video_writer::write_at(const std::uint8_t* rgb24, double seconds, double duration_seconds) {
    impl_->encode(rgb24, impl_->ticks(seconds, "time"), impl_->ticks(duration_seconds, "duration"));
}
void video_writer::write_at(const tensor& rgb, double seconds, double duration_seconds) {
    const std::int64_t pts = impl_->ticks(seconds, "time"), duration = impl_->ticks(duration_seconds, "duration");
    impl_->encode(impl_->tensor_bytes(rgb), pts, duration);
}

void video_writer::finish() { impl_->finish(); }
std::int64_t video_writer::frames_written() const { return impl_->frames; }
rational video_writer::time_base() const { return {impl_->time_base.num, impl_->time_base.den}; }
rational video_writer::frame_rate() const { return {impl_->rate.num, impl_->rate.den}; }
int video_writer::audio_streams() const { return impl_->audio_count; }
std::int64_t video_writer::width() const { return impl_->width; }
std::int64_t video_writer::height() const { return impl_->height; }
const std::filesystem::path& video_writer::path() const { return impl_->path; }

}  // namespace hg::media
