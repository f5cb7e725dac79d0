// hg::io::tensorboard_writer: writes TensorBoard event files (scalars and PNG images) without
// TensorFlow, so `tensorboard --logdir DIR` shows a run of the library's training cycle.
//
// File: DIR/events.out.tfevents.<unix seconds>.<hostname> (TensorFlow's name; ".1", ".2", ... is
// appended when a file of that name exists already, e.g. two writers started in one second). A
// sequence of TFRecords, each
//   uint64 length (little-endian) | uint32 masked_crc32c(the 8 length bytes) | data | uint32 masked_crc32c(data)
// (io/crc32.hpp: CRC-32C rotated and offset). Each record's data is one tensorflow.Event message
// (tensorflow/core/util/event.proto):
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }
//   Value   { string tag = 1; float simple_value = 2; Image image = 4; }
//   Image   { int32 height = 1; int32 width = 2; int32 colorspace = 3; bytes encoded_image_string = 4; }
// The first record is the event {wall_time, file_version "brain.Event:2"} that readers expect;
// then one Event per write(). The messages are encoded by hand (io/protobuf_wire.hpp says why).
// read_png_file() makes the image of a summary from a PNG file (its IHDR gives size and channels).
//
// Each write() goes to the file with one write(2) call before it returns (no buffer in the
// process), so a crash loses at most the event being written (TensorBoard stops at a torn last record).
// Failures (the folder cannot be created, the file cannot be created or written) throw io_error
// naming the file and the reason. Not thread-safe: one writer per thread.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/io/crc32.hpp"
#include "hourglass/io/protobuf_wire.hpp"

namespace hg::io {

/// A PNG picture for an image summary: its encoded bytes, size and channel count (colorspace:
/// 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA).
struct encoded_image {
    std::string png;
    std::int64_t height = 0, width = 0;
    int channels = 3;
};

/// A PNG file as an encoded_image: its bytes, and the size and channels its IHDR chunk declares.
/// io_error when the file cannot be read, format_error when it is not a PNG.
inline encoded_image read_png_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw io_error("tensorboard: cannot open the picture " + path.string());
    encoded_image img;
    img.png.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) throw io_error("tensorboard: reading the picture " + path.string() + " failed");
    // Signature (8 bytes), IHDR length (4) and type (4), then width and height (big-endian 32 bit),
    // bit depth and colour type (0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA).
    static constexpr unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    const auto* p = reinterpret_cast<const unsigned char*>(img.png.data());
    if (img.png.size() < 33 || std::memcmp(p, signature, 8) != 0 || std::memcmp(p + 12, "IHDR", 4) != 0)
        throw format_error("tensorboard: " + path.string() + " is not a PNG file");
    auto be32 = [&](std::size_t at) {
        return std::int64_t(p[at]) << 24 | std::int64_t(p[at + 1]) << 16 | std::int64_t(p[at + 2]) << 8 | std::int64_t(p[at + 3]);
    };
    img.width = be32(16);
    img.height = be32(20);
    switch (p[25]) {
        case 0: img.channels = 1; break;
        case 4: img.channels = 2; break;
        case 6: img.channels = 4; break;
        default: img.channels = 3; break;  // RGB, palette
    }
    return img;
}

/// The values of one event: scalars and images, each under a tag ("loss/a", "preview").
class tensorboard_summary {
public:
    tensorboard_summary& scalar(std::string_view tag, float value) {
        protobuf::message v;
        v.bytes_field(1, tag).float_field(2, value);
        summary_.message_field(1, v);
        ++values_;
        return *this;
    }

    tensorboard_summary& image(std::string_view tag, const encoded_image& img) {
        if (img.height < 1 || img.width < 1 || img.channels < 1 || img.channels > 4 || img.png.empty())
            throw value_error("tensorboard: the image '" + std::string(tag) + "' needs a size, 1 to 4 channels and PNG bytes");
        protobuf::message im;
        im.int_field(1, img.height).int_field(2, img.width).int_field(3, img.channels).bytes_field(4, img.png);
        protobuf::message v;
        v.bytes_field(1, tag).message_field(4, im);
        summary_.message_field(1, v);
        ++values_;
        return *this;
    }

    /// Number of values added.
    std::size_t size() const { return values_; }
    bool empty() const { return values_ == 0; }
    /// The encoded Summary message.
    const protobuf::message& message() const { return summary_; }

private:
    protobuf::message summary_;
    std::size_t values_ = 0;
};

/// The encoded Event {wall_time, step, summary}.
inline std::string encode_event(double wall_time, std::int64_t step, const tensorboard_summary& s) {
    protobuf::message e;
    e.double_field(1, wall_time).int_field(2, step).message_field(5, s.message());
    return e.bytes();
}

/// The encoded first Event of a file: {wall_time, file_version "brain.Event:2"} (step 0, the
/// default, left out as TensorFlow does: the record is 24 bytes like TensorFlow's).
inline std::string encode_file_version_event(double wall_time) {
    protobuf::message e;
    e.double_field(1, wall_time).bytes_field(3, "brain.Event:2");
    return e.bytes();
}

/// `data` framed as one TFRecord (see the file comment).
inline std::string tfrecord(std::string_view data) {
    std::string out;
    out.reserve(data.size() + 16);
    protobuf::append_fixed64(out, data.size());
    protobuf::append_fixed32(out, masked_crc32c(out.data(), 8));
    out.append(data.data(), data.size());
    protobuf::append_fixed32(out, masked_crc32c(data.data(), data.size()));
    return out;
}

/// Seconds since the Unix epoch, as TensorBoard's wall_time.
inline double unix_time_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class tensorboard_writer {
public:
    /// Creates `dir` when missing and a new event file in it holding the file-version event.
    explicit tensorboard_writer(const std::filesystem::path& dir) {
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        if (ec || !std::filesystem::is_directory(dir))
            throw io_error("tensorboard: cannot create the log folder " + dir.string() + " (" +
                           (ec ? ec.message() : std::string("not a folder")) + ")");
        const double now = unix_time_now();
        char host[256] = {};
        if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::strcpy(host, "localhost");
        std::string base = "events.out.tfevents.";
        base += std::to_string(static_cast<long long>(now));
        base += '.';
        base += host;
        for (int n = 0;; ++n) {
            path_ = dir / (n == 0 ? base : base + "." + std::to_string(n));
            fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
            if (fd_ >= 0) break;
            if (errno != EEXIST || n >= 1000)
                throw io_error("tensorboard: cannot create the event file " + path_.string() + " (" + std::strerror(errno) + ")");
        }
        put(tfrecord(encode_file_version_event(now)));
    }

    tensorboard_writer(const tensorboard_writer&) = delete;
    tensorboard_writer& operator=(const tensorboard_writer&) = delete;
    tensorboard_writer(tensorboard_writer&& o) noexcept : path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)) {}
    tensorboard_writer& operator=(tensorboard_writer&& o) noexcept {
        if (this != &o) {
            close_fd();
            path_ = std::move(o.path_);
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    ~tensorboard_writer() { close_fd(); }

    /// The event file.
    const std::filesystem::path& path() const { return path_; }

    /// Writes one Event holding the summary's values at `step` (nothing when the summary is empty).
    void write(std::int64_t step, const tensorboard_summary& s, double wall_time = unix_time_now()) {
        if (s.empty()) return;
        put(tfrecord(encode_event(wall_time, step, s)));
    }

private:
    void put(const std::string& bytes) {
        if (fd_ < 0) throw io_error("tensorboard: the writer of " + path_.string() + " was moved from");
        std::size_t done = 0;
        while (done < bytes.size()) {
            const ssize_t r = ::write(fd_, bytes.data() + done, bytes.size() - done);
            if (r < 0) {
                if (errno == EINTR) continue;
                throw io_error("tensorboard: writing " + path_.string() + " failed (" + std::strerror(errno) + ")");
            }
            done += static_cast<std::size_t>(r);
        }
    }

    void close_fd() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    std::filesystem::path path_;
    int fd_ = -1;
};

}  // namespace hg::io
