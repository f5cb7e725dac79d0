// Private to the media component: owners of FFmpeg's objects (unique_ptr deleters calling the
// matching free function) and the error text of an FFmpeg call, shared by video_reader.cpp and
// video_writer.cpp. Include after the FFmpeg headers.
#pragma once

#include <string>

#include "hourglass/media/video.hpp"

namespace hg::media::detail {

static_assert(no_pts == AV_NOPTS_VALUE, "hg::media::no_pts must be FFmpeg's AV_NOPTS_VALUE");

/// Closes a demuxer opened with avformat_open_input.
struct input_closer {
    void operator()(AVFormatContext* p) const { avformat_close_input(&p); }
};

struct codec_closer {
    void operator()(AVCodecContext* p) const { avcodec_free_context(&p); }
};
struct frame_closer {
    void operator()(AVFrame* p) const { av_frame_free(&p); }
};
struct packet_closer {
    void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct sws_closer {
    void operator()(SwsContext* p) const { sws_freeContext(p); }
};

/// FFmpeg's reason for `code`, with the last message it logged on this thread when there is one.
inline std::string reason(int code) {
    std::string r = ffmpeg_error_text(code);
    const std::string logged = take_ffmpeg_log();
    if (!logged.empty()) r += "; FFmpeg: " + logged;
    return r;
}

}  // namespace hg::media::detail
