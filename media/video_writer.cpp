// hg::media::video_writer: encoding RGB24 frames with FFmpeg's libraries (libswscale to yuv420p,
// libavcodec's libx264 at a constant rate factor, libavformat muxing into the container the file's
// extension names) into a temporary file beside the target, renamed onto it by finish().
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
#include <iterator>
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
    std::int64_t frames = 0;
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
        if (!std::isfinite(opts.fps) || opts.fps <= 0 || opts.fps > 1000)
            fail_arg("the frame rate " + std::to_string(opts.fps) + " is not in (0, 1000]");
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

        if (opts.codec == "libx264") {  // x264 would print a bad preset's name to stderr itself
            static const char* const presets[] = {"ultrafast", "superfast", "veryfast", "faster", "fast",
                                                  "medium",    "slow",      "slower",   "veryslow", "placebo"};
            if (std::none_of(std::begin(presets), std::end(presets), [&](const char* q) { return opts.preset == q; }))
                fail_arg("x264 has no preset '" + opts.preset +
                         "' (ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow, placebo)");
        }
        enc.reset(avcodec_alloc_context3(codec));
        frame.reset(av_frame_alloc());
        packet.reset(av_packet_alloc());
        if (!enc || !frame || !packet) fail_io("out of memory allocating the encoder");
        const AVRational rate = av_d2q(opts.fps, 100000);
        enc->width = static_cast<int>(width);
        enc->height = static_cast<int>(height);
        enc->pix_fmt = AV_PIX_FMT_YUV420P;
        enc->framerate = rate;
        enc->time_base = av_inv_q(rate);
        enc->thread_count = 0;
        enc->color_range = AVCOL_RANGE_MPEG;
        enc->colorspace = AVCOL_SPC_SMPTE170M;
        enc->color_primaries = AVCOL_PRI_SMPTE170M;
        enc->color_trc = AVCOL_TRC_SMPTE170M;
        if (oc->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
        AVDictionary* codec_opts = nullptr;
        av_dict_set(&codec_opts, "crf", std::to_string(opts.crf).c_str(), 0);
        av_dict_set(&codec_opts, "preset", opts.preset.c_str(), 0);
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

    /// Moves every packet the encoder has ready into the file.
    void drain() {
        while (true) {
            int r = avcodec_receive_packet(enc.get(), packet.get());
            if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
            if (r < 0) fail_io("the encoder failed at frame " + std::to_string(frames) + " (" + reason(r) + ")");
            av_packet_rescale_ts(packet.get(), enc->time_base, stream->time_base);
            packet->stream_index = stream->index;
            r = av_interleaved_write_frame(oc.get(), packet.get());
            if (r < 0) fail_io("writing to the temporary file failed, the disk may be full (" + reason(r) + ")");
        }
    }

    void check_open(const char* what) const {
        if (finished) throw value_error(std::string("video_writer: ") + what + " after finish() on '" + path.string() + "'");
        if (failed)
            throw io_error(std::string("video_writer: ") + what + " on '" + path.string() +
                           "' after an earlier failure; the video is abandoned");
    }

    void encode(const std::uint8_t* rgb24) {
        check_open("write");
        if (!rgb24) fail_arg("write() was given a null pointer");
        int r = av_frame_make_writable(frame.get());
        if (r < 0) fail_io("out of memory preparing a frame (" + reason(r) + ")");
        const std::uint8_t* src[4] = {rgb24, nullptr, nullptr, nullptr};
        const int src_stride[4] = {static_cast<int>(width * 3), 0, 0, 0};
        if (sws_scale(sws.get(), src, src_stride, 0, static_cast<int>(height), frame->data, frame->linesize) !=
            static_cast<int>(height))
            fail_io("converting the frame to yuv420p failed");
        frame->pts = frames;
        r = avcodec_send_frame(enc.get(), frame.get());
        if (r < 0) fail_io("the encoder refused frame " + std::to_string(frames) + " (" + reason(r) + ")");
        ++frames;
        drain();
    }

    void finish() {
        if (finished) return;
        check_open("finish");
        if (frames == 0) throw value_error("video_writer: no frame was written to '" + path.string() + "'; an empty video is not written");
        int r = avcodec_send_frame(enc.get(), nullptr);
        if (r < 0) fail_io("flushing the encoder failed (" + reason(r) + ")");
        drain();
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

void video_writer::write(const tensor& rgb) {
    impl& m = *impl_;
    m.check_open("write");
    const hg::shape want{m.height, m.width, 3};
    if (!rgb.defined() || rgb.shape() != want)
        throw shape_error("video_writer: write to '" + m.path.string() + "' expects a " + want.str() +
                          " tensor, got " + (rgb.defined() ? rgb.shape().str() : std::string("an undefined tensor")));
    if (!rgb.on_cpu()) throw device_error("video_writer: write to '" + m.path.string() + "' needs a CPU tensor");
    const float* p = rgb.data();
    const std::size_t n = static_cast<std::size_t>(rgb.numel());
    m.bytes.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const float v = p[i];
        if (!std::isfinite(v))
            throw value_error("video_writer: write to '" + m.path.string() + "': the frame holds a non-finite value at element " +
                              std::to_string(i));
        m.bytes[i] = static_cast<std::uint8_t>(std::lrint(std::clamp(v, 0.0f, 1.0f) * 255.0f));
    }
    m.encode(m.bytes.data());
}

void video_writer::finish() { impl_->finish(); }
std::int64_t video_writer::frames_written() const { return impl_->frames; }
std::int64_t video_writer::width() const { return impl_->width; }
std::int64_t video_writer::height() const { return impl_->height; }
const std::filesystem::path& video_writer::path() const { return impl_->path; }

}  // namespace hg::media
