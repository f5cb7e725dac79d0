// libFuzzer target for video demuxing and decoding (hg::media::video_reader over FFmpeg's
// libraries): arbitrary bytes written to a file, opened and read to the end (at most 64 frames).
// The reader must throw hg::error or return frames whose size matches video_info and whose buffers
// hold width * height * 3 bytes; anything else (a crash, a sanitizer report in our code, another
// exception, a hang) is a bug. FFmpeg itself is Debian's build, not instrumented: what is fuzzed is
// how the reader drives it.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "hourglass/media/video.hpp"

namespace {

/// The input written as a file of this process, removed when the fuzzer exits.
struct scratch_file {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("hg_video_fuzz_" + std::to_string(::getpid()) + ".mp4");
    ~scratch_file() {
        std::error_code ec;
        std::filesystem::remove(path, ec);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const scratch_file scratch;
    const std::filesystem::path& file = scratch.path;
    {
        std::ofstream f(file, std::ios::binary | std::ios::trunc);
        f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    hg::media::video_read_options opts;
    opts.max_pixels = 1 << 20;
    try {
        hg::media::video_reader reader(file, opts);
        const hg::media::video_info& info = reader.info();
        if (info.width <= 0 || info.height <= 0 || info.width * info.height > opts.max_pixels) __builtin_trap();
        hg::media::video_frame frame;
        for (int i = 0; i < 64 && reader.next(frame); ++i) {
            if (frame.width != info.width || frame.height != info.height) __builtin_trap();
            if (frame.rgb.size() != static_cast<std::size_t>(frame.width * frame.height * 3)) __builtin_trap();
        }
    } catch (const hg::error&) {
    }
    return 0;
}
