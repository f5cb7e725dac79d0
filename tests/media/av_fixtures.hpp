// Test media with sound, made with FFmpeg's libraries (no ffmpeg program): an MP4 (or another
// container FFmpeg writes) holding an H.264 video of the astronaut portrait moving through known
// poses (moving_face.hpp) and an AAC audio track (FFmpeg's native "aac" encoder, fltp) of the same
// duration carrying a sine tone; plus a reader of a file's audio packets, to check that a copied
// track is byte for byte the source's. Frames may be given their own time stamps (variable rate).
// Failures throw std::runtime_error naming the FFmpeg call and its reason.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "hourglass/media/video.hpp"
#include "moving_face.hpp"

namespace hg_test_media {

struct av_clip_options {
    std::int64_t width = 320, height = 240;
    int frames = 30;
    AVRational frame_rate{25, 1};
    AVRational time_base{0, 0};     ///< of the video stream and `pts`; {0, 0}: 1 / frame_rate
    std::vector<std::int64_t> pts;  ///< per-frame time stamps in time_base; empty: frame i at i
    bool audio = true;
    int sample_rate = 44100;
    int channels = 2;
    double tone_hz = 440.0;         ///< the left channel's tone; the others are an octave up each
};

/// What make_av_clip wrote.
struct av_clip {
    double video_duration = 0;       ///< last frame's time stamp plus one frame period, seconds
    std::int64_t audio_samples = 0;  ///< per channel: video_duration * sample_rate, rounded
};

namespace detail {

inline void av_check(int r, const char* what) {
    if (r >= 0) return;
    char buf[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(r, buf, sizeof buf);
    std::string msg = "av_fixtures: ";
    msg += what;
    msg += " failed: ";
    msg += buf;
    throw std::runtime_error(msg);
}

inline void av_require(bool ok, const char* what) {
    if (!ok) av_check(AVERROR(ENOMEM), what);
}

/// Owns what make_av_clip allocates, freed in any case.
struct clip_state {
    AVFormatContext* oc = nullptr;
    AVCodecContext* venc = nullptr;
    AVCodecContext* aenc = nullptr;
    AVFrame* vframe = nullptr;
    AVFrame* aframe = nullptr;
    AVPacket* pkt = nullptr;
    SwsContext* sws = nullptr;
    AVStream* vs = nullptr;
    AVStream* as = nullptr;
    ~clip_state() {
        sws_freeContext(sws);
        av_packet_free(&pkt);
        av_frame_free(&aframe);
        av_frame_free(&vframe);
        avcodec_free_context(&aenc);
        avcodec_free_context(&venc);
        if (oc) {
            if (oc->pb) avio_closep(&oc->pb);
            avformat_free_context(oc);
        }
    }

    /// Sends `f` (nullptr: flush) to `enc` and writes every packet it gives to `st`.
    void encode(AVCodecContext* enc, AVStream* st, AVFrame* f) {
        av_check(avcodec_send_frame(enc, f), "avcodec_send_frame");
        while (true) {
            const int r = avcodec_receive_packet(enc, pkt);
            if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
            av_check(r, "avcodec_receive_packet");
            av_packet_rescale_ts(pkt, enc->time_base, st->time_base);
            pkt->stream_index = st->index;
            av_check(av_interleaved_write_frame(oc, pkt), "av_interleaved_write_frame");
        }
    }
};

}  // namespace detail

/// Writes `path` (the container from its extension): the moving astronaut as H.264 (libx264,
/// veryfast, crf 20, B-frames), and with `opts.audio` an AAC track of the video's duration.
inline av_clip make_av_clip(const std::filesystem::path& path, const av_clip_options& opts = {}) {
    using detail::av_check;
    using detail::av_require;
    hg::media::detail::install_ffmpeg_log_hook();  // FFmpeg's log stays quiet, as in the library
    const hg::data::image photo = hg::data::load_image(astronaut_path());
    const AVRational tb = opts.time_base.den > 0 ? opts.time_base : av_inv_q(opts.frame_rate);
    std::vector<std::int64_t> pts = opts.pts;
    if (pts.empty())
        for (int i = 0; i < opts.frames; ++i) pts.push_back(av_rescale_q(i, av_inv_q(opts.frame_rate), tb));
    const std::int64_t period = av_rescale_q(1, av_inv_q(opts.frame_rate), tb);
    av_clip out;
    out.video_duration = double(pts.back() + period) * av_q2d(tb);
    out.audio_samples = std::llround(out.video_duration * opts.sample_rate);

    detail::clip_state s;
    av_check(avformat_alloc_output_context2(&s.oc, nullptr, nullptr, path.c_str()), "avformat_alloc_output_context2");

    const AVCodec* vc = avcodec_find_encoder_by_name("libx264");
    av_require(vc != nullptr, "finding libx264");
    s.venc = avcodec_alloc_context3(vc);
    av_require(s.venc != nullptr, "avcodec_alloc_context3");
    s.venc->width = int(opts.width);
    s.venc->height = int(opts.height);
    s.venc->pix_fmt = AV_PIX_FMT_YUV420P;
    s.venc->time_base = tb;
    s.venc->framerate = opts.frame_rate;
    s.venc->thread_count = 1;
    if (s.oc->oformat->flags & AVFMT_GLOBALHEADER) s.venc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary* vopts = nullptr;
    av_dict_set(&vopts, "preset", "veryfast", 0);
    av_dict_set(&vopts, "crf", "20", 0);
    const int vr = avcodec_open2(s.venc, vc, &vopts);
    av_dict_free(&vopts);
    av_check(vr, "avcodec_open2 (libx264)");
    s.vs = avformat_new_stream(s.oc, nullptr);
    av_require(s.vs != nullptr, "avformat_new_stream");
    s.vs->time_base = tb;
    s.vs->avg_frame_rate = opts.frame_rate;
    av_check(avcodec_parameters_from_context(s.vs->codecpar, s.venc), "avcodec_parameters_from_context");

    if (opts.audio) {
        const AVCodec* ac = avcodec_find_encoder_by_name("aac");
        av_require(ac != nullptr, "finding the aac encoder");
        s.aenc = avcodec_alloc_context3(ac);
        av_require(s.aenc != nullptr, "avcodec_alloc_context3");
        s.aenc->sample_fmt = AV_SAMPLE_FMT_FLTP;
        s.aenc->sample_rate = opts.sample_rate;
        av_channel_layout_default(&s.aenc->ch_layout, opts.channels);
        s.aenc->bit_rate = 96000;
        s.aenc->time_base = AVRational{1, opts.sample_rate};
        if (s.oc->oformat->flags & AVFMT_GLOBALHEADER) s.aenc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
        av_check(avcodec_open2(s.aenc, ac, nullptr), "avcodec_open2 (aac)");
        s.as = avformat_new_stream(s.oc, nullptr);
        av_require(s.as != nullptr, "avformat_new_stream");
        s.as->time_base = s.aenc->time_base;
        av_check(avcodec_parameters_from_context(s.as->codecpar, s.aenc), "avcodec_parameters_from_context");
        s.aframe = av_frame_alloc();
        av_require(s.aframe != nullptr, "av_frame_alloc");
    }

    av_check(avio_open(&s.oc->pb, path.c_str(), AVIO_FLAG_WRITE), "avio_open");
    av_check(avformat_write_header(s.oc, nullptr), "avformat_write_header");

    s.vframe = av_frame_alloc();
    s.pkt = av_packet_alloc();
    av_require(s.vframe && s.pkt, "av_frame_alloc");
    s.vframe->format = AV_PIX_FMT_YUV420P;
    s.vframe->width = int(opts.width);
    s.vframe->height = int(opts.height);
    av_check(av_frame_get_buffer(s.vframe, 0), "av_frame_get_buffer");
    s.sws = sws_getContext(int(opts.width), int(opts.height), AV_PIX_FMT_RGB24, int(opts.width), int(opts.height),
                           AV_PIX_FMT_YUV420P, SWS_BICUBIC, nullptr, nullptr, nullptr);
    av_require(s.sws != nullptr, "sws_getContext");

    std::int64_t samples_done = 0;
    const double two_pi = 6.283185307179586;
    auto audio_until = [&](std::int64_t until) {  // encodes samples [samples_done, until)
        if (!opts.audio) return;
        const int frame_size = s.aenc->frame_size > 0 ? s.aenc->frame_size : 1024;
        while (samples_done < until) {
            const int n = int(std::min<std::int64_t>(frame_size, until - samples_done));
            if (n < frame_size && until < out.audio_samples) return;  // whole frames until the end
            av_frame_unref(s.aframe);
            s.aframe->format = AV_SAMPLE_FMT_FLTP;
            s.aframe->sample_rate = opts.sample_rate;
            s.aframe->nb_samples = n;
            av_check(av_channel_layout_copy(&s.aframe->ch_layout, &s.aenc->ch_layout), "av_channel_layout_copy");
            av_check(av_frame_get_buffer(s.aframe, 0), "av_frame_get_buffer (audio)");
            for (int c = 0; c < opts.channels; ++c) {
                float* dst = reinterpret_cast<float*>(s.aframe->extended_data[c]);
                const double hz = opts.tone_hz * double(1 << c);
                for (int i = 0; i < n; ++i)
                    dst[i] = float(0.3 * std::sin(two_pi * hz * double(samples_done + i) / opts.sample_rate));
            }
            s.aframe->pts = samples_done;
            samples_done += n;
            s.encode(s.aenc, s.as, s.aframe);
        }
    };

    const std::vector<pose> poses = moving_poses(int(pts.size()), opts.width, opts.height);
    std::vector<std::uint8_t> rgb(std::size_t(opts.width * opts.height * 3));
    for (std::size_t k = 0; k < pts.size(); ++k) {
        const hg::tensor t = render(photo.rgb, poses[k], opts.width, opts.height);
        for (std::size_t i = 0; i < rgb.size(); ++i)
            rgb[i] = static_cast<std::uint8_t>(std::lrint(std::clamp(t.data()[i], 0.0f, 1.0f) * 255.0f));
        av_check(av_frame_make_writable(s.vframe), "av_frame_make_writable");
        const std::uint8_t* src[4] = {rgb.data(), nullptr, nullptr, nullptr};
        const int stride[4] = {int(opts.width * 3), 0, 0, 0};
        sws_scale(s.sws, src, stride, 0, int(opts.height), s.vframe->data, s.vframe->linesize);
        s.vframe->pts = pts[k];
        s.encode(s.venc, s.vs, s.vframe);
        const std::int64_t next = k + 1 < pts.size() ? pts[k + 1] : pts[k] + period;
        audio_until(std::min(out.audio_samples, av_rescale_q(next, tb, AVRational{1, opts.sample_rate})));
    }
    s.encode(s.venc, s.vs, nullptr);
    if (opts.audio) {
        audio_until(out.audio_samples);
        s.encode(s.aenc, s.as, nullptr);
    }
    av_check(av_write_trailer(s.oc), "av_write_trailer");
    return out;
}

/// One audio stream of a file as its demuxer gives it.
struct audio_track {
    std::string codec;  ///< FFmpeg's codec name, e.g. "aac"
    int sample_rate = 0;
    int channels = 0;
    AVRational time_base{0, 1};
    double duration = 0;  ///< seconds: the stream's, else the last packet's end minus the first's start
    std::vector<std::vector<std::uint8_t>> packets;  ///< payloads in file order
    std::vector<double> times;                       ///< each packet's pts, seconds
};

/// Every audio stream of `path`, in order, with all of its packets.
inline std::vector<audio_track> read_audio_tracks(const std::filesystem::path& path) {
    using detail::av_check;
    hg::media::detail::install_ffmpeg_log_hook();
    AVFormatContext* raw = nullptr;
    av_check(avformat_open_input(&raw, path.c_str(), nullptr, nullptr), "avformat_open_input");
    struct closer {
        AVFormatContext* p;
        AVPacket* pkt = av_packet_alloc();
        ~closer() {
            av_packet_free(&pkt);
            avformat_close_input(&p);
        }
    } in{raw};
    av_check(avformat_find_stream_info(in.p, nullptr), "avformat_find_stream_info");
    std::vector<int> index(in.p->nb_streams, -1);
    std::vector<audio_track> tracks;
    std::vector<std::int64_t> first(in.p->nb_streams, AV_NOPTS_VALUE), end(in.p->nb_streams, AV_NOPTS_VALUE);
    for (unsigned i = 0; i < in.p->nb_streams; ++i) {
        const AVStream* st = in.p->streams[i];
        if (st->codecpar->codec_type != AVMEDIA_TYPE_AUDIO) continue;
        index[i] = int(tracks.size());
        audio_track t;
        t.codec = avcodec_get_name(st->codecpar->codec_id);
        t.sample_rate = st->codecpar->sample_rate;
        t.channels = st->codecpar->ch_layout.nb_channels;
        t.time_base = st->time_base;
        if (st->duration != AV_NOPTS_VALUE && st->duration > 0) t.duration = double(st->duration) * av_q2d(st->time_base);
        tracks.push_back(std::move(t));
    }
    while (true) {
        const int r = av_read_frame(in.p, in.pkt);
        if (r == AVERROR_EOF) break;
        av_check(r, "av_read_frame");
        const int s = in.pkt->stream_index;
        if (index[std::size_t(s)] >= 0) {
            audio_track& t = tracks[std::size_t(index[std::size_t(s)])];
            t.packets.emplace_back(in.pkt->data, in.pkt->data + in.pkt->size);
            t.times.push_back(double(in.pkt->pts) * av_q2d(t.time_base));
            if (first[std::size_t(s)] == AV_NOPTS_VALUE) first[std::size_t(s)] = in.pkt->pts;
            end[std::size_t(s)] = in.pkt->pts + in.pkt->duration;
        }
        av_packet_unref(in.pkt);
    }
    for (unsigned i = 0; i < in.p->nb_streams; ++i)
        if (index[i] >= 0 && tracks[std::size_t(index[i])].duration == 0 && first[i] != AV_NOPTS_VALUE)
            tracks[std::size_t(index[i])].duration = double(end[i] - first[i]) * av_q2d(tracks[std::size_t(index[i])].time_base);
    return tracks;
}

/// A mono 16-bit PCM WAV file of `samples` samples of a 440 Hz tone (an audio codec MP4 cannot hold).
inline void write_pcm_wav(const std::filesystem::path& path, int sample_rate = 8000, int samples = 8000) {
    std::vector<std::uint8_t> b;
    auto u32 = [&](std::uint32_t v) {
        for (int i = 0; i < 4; ++i) b.push_back(std::uint8_t(v >> (8 * i)));
    };
    auto u16 = [&](std::uint16_t v) {
        b.push_back(std::uint8_t(v));
        b.push_back(std::uint8_t(v >> 8));
    };
    auto tag = [&](const char* t) { b.insert(b.end(), t, t + 4); };
    const std::uint32_t data_bytes = std::uint32_t(samples) * 2;
    tag("RIFF");
    u32(36 + data_bytes);
    tag("WAVE");
    tag("fmt ");
    u32(16);
    u16(1);  // PCM
    u16(1);  // mono
    u32(std::uint32_t(sample_rate));
    u32(std::uint32_t(sample_rate) * 2);
    u16(2);
    u16(16);
    tag("data");
    u32(data_bytes);
    for (int i = 0; i < samples; ++i)
        u16(std::uint16_t(std::int16_t(std::lrint(8000.0 * std::sin(6.283185307179586 * 440.0 * i / sample_rate)))));
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) {
        std::string msg = "av_fixtures: cannot create ";
        msg += path.string();
        throw std::runtime_error(msg);
    }
    std::fwrite(b.data(), 1, b.size(), f);
    std::fclose(f);
}

}  // namespace hg_test_media
