// Opening and reading files that must be regular files (images, checkpoints, alignments, logs)
// without ever blocking: open(2) on a named pipe (FIFO) waits for a writer forever, and a device
// such as /dev/zero never ends. So the file is opened with O_NONBLOCK (which makes opening a FIFO
// for reading return at once), checked with fstat on the open descriptor (no race between a check
// and the open), refused unless it is a regular file, and only then switched back to blocking
// reads. Reads are capped: read_regular_file refuses a file larger than the caller's limit before
// reading a byte, and read_at reads exactly what was asked for, from where it was asked.
// Every failure calls the caller's `fail(reason)`, which must throw (the caller's error names the
// file in its own words); if it returns, an io_error with the reason is thrown.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>

#include "hourglass/core/error.hpp"

namespace hg::io {

/// An open regular file: its descriptor (closed on destruction) and its size when it was opened.
class regular_file {
public:
    regular_file() = default;
    regular_file(const regular_file&) = delete;
    regular_file& operator=(const regular_file&) = delete;
    regular_file(regular_file&& o) noexcept : fd_(std::exchange(o.fd_, -1)), size_(o.size_) {}
    regular_file& operator=(regular_file&& o) noexcept {
        if (this != &o) {
            close();
            fd_ = std::exchange(o.fd_, -1);
            size_ = o.size_;
        }
        return *this;
    }
    ~regular_file() { close(); }

    int fd() const { return fd_; }
    std::uint64_t size() const { return size_; }

    /// Opens `path` for reading; `fail(reason)` when it is missing, a folder, not a regular file (a
    /// named pipe, a device, a socket) or cannot be opened. Never blocks.
    template <class Fail>
    static regular_file open(const std::filesystem::path& path, Fail&& fail) {
        std::error_code ec;
        const auto status = std::filesystem::status(path, ec);
        if (ec || !std::filesystem::exists(status)) raise(fail, "the file does not exist");
        if (std::filesystem::is_directory(status)) raise(fail, "it is a folder, not a file");
        regular_file f;
        f.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (f.fd_ < 0) raise(fail, std::string("cannot open the file (") + std::strerror(errno) + ")");
        struct stat st {};
        if (::fstat(f.fd_, &st) != 0) raise(fail, std::string("cannot stat the file (") + std::strerror(errno) + ")");
        if (!S_ISREG(st.st_mode)) raise(fail, std::string("not a regular file (") + kind_of(st.st_mode) + ")");
        const int flags = ::fcntl(f.fd_, F_GETFL);
        if (flags < 0 || ::fcntl(f.fd_, F_SETFL, flags & ~O_NONBLOCK) != 0)
            raise(fail, std::string("cannot make the file blocking (") + std::strerror(errno) + ")");
        f.size_ = static_cast<std::uint64_t>(st.st_size);
        return f;
    }

    /// Reads up to n bytes at `offset` into dst; returns how many were read (fewer only when the
    /// file ends first, e.g. it shrank since it was opened). `fail(reason)` on a read error.
    template <class Fail>
    std::size_t read_at(void* dst, std::size_t n, std::uint64_t offset, Fail&& fail) const {
        auto* p = static_cast<char*>(dst);
        std::size_t got = 0;
        while (got < n) {
            const ssize_t r = ::pread(fd_, p + got, n - got, static_cast<off_t>(offset + got));
            if (r < 0) {
                if (errno == EINTR) continue;
                raise(fail, std::string("read error (") + std::strerror(errno) + ")");
            }
            if (r == 0) break;
            got += static_cast<std::size_t>(r);
        }
        return got;
    }

    /// A readable word for a file type that is not a regular file.
    static const char* kind_of(unsigned mode) {
        if (S_ISFIFO(mode)) return "a named pipe (FIFO)";
        if (S_ISCHR(mode)) return "a character device";
        if (S_ISBLK(mode)) return "a block device";
        if (S_ISSOCK(mode)) return "a socket";
        if (S_ISDIR(mode)) return "a folder";
        return "not a plain file";
    }

private:
    template <class Fail>
    [[noreturn]] static void raise(Fail& fail, const std::string& reason) {
        fail(reason);
        throw io_error(reason);  // `fail` should have thrown its own error
    }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    int fd_ = -1;
    std::uint64_t size_ = 0;
};

/// The whole of the regular file at `path`, refused (`fail`) when it has more than max_bytes bytes,
/// before anything is read or allocated. A file that shrinks while being read gives what it held.
template <class Container, class Fail>
Container read_regular_file(const std::filesystem::path& path, std::uint64_t max_bytes, Fail&& fail) {
    const regular_file f = regular_file::open(path, fail);
    if (f.size() > max_bytes) {
        fail("the file has " + std::to_string(f.size()) + " bytes, more than the limit of " + std::to_string(max_bytes));
        throw io_error("file too large");
    }
    Container bytes(static_cast<std::size_t>(f.size()), typename Container::value_type{});
    bytes.resize(f.read_at(bytes.data(), bytes.size(), 0, fail));
    return bytes;
}

}  // namespace hg::io
