// Little binary reader and writer for the optimizer's state format (docs/optimizers.md): fixed-width
// little-endian integers, IEEE doubles and float32 arrays. The reader turns a short read into an
// hg::format_error that says what it was reading, so a truncated stream is reported, never
// half-applied.
#pragma once

#include <cstdint>
#include <cstring>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"

namespace hg::optim::detail {

class state_writer {
public:
    explicit state_writer(std::ostream& out) : out_(out) {}
    void bytes(const void* p, std::size_t n) { out_.write(static_cast<const char*>(p), static_cast<std::streamsize>(n)); }
    void u32(std::uint32_t v) { bytes(&v, sizeof v); }
    void u64(std::uint64_t v) { bytes(&v, sizeof v); }
    void i64(std::int64_t v) { bytes(&v, sizeof v); }
    void f64(double v) { bytes(&v, sizeof v); }
    void floats(const float* p, std::int64_t n) { bytes(p, static_cast<std::size_t>(n) * sizeof(float)); }
    void finish(const char* what) {
        out_.flush();
        if (!out_) throw io_error(std::string(what) + ": writing the optimizer state failed");
    }

private:
    std::ostream& out_;
};

class state_reader {
public:
    explicit state_reader(std::istream& in) : in_(in) {}
    void bytes(void* p, std::size_t n, const char* what) {
        in_.read(static_cast<char*>(p), static_cast<std::streamsize>(n));
        if (static_cast<std::size_t>(in_.gcount()) != n)
            throw format_error(std::string("optimizer state: truncated stream (reading ") + what + ")");
    }
    std::uint32_t u32(const char* what) {
        std::uint32_t v = 0;
        bytes(&v, sizeof v, what);
        return v;
    }
    std::uint64_t u64(const char* what) {
        std::uint64_t v = 0;
        bytes(&v, sizeof v, what);
        return v;
    }
    std::int64_t i64(const char* what) {
        std::int64_t v = 0;
        bytes(&v, sizeof v, what);
        return v;
    }
    double f64(const char* what) {
        double v = 0;
        bytes(&v, sizeof v, what);
        return v;
    }
    void floats(float* p, std::int64_t n, const char* what) { bytes(p, static_cast<std::size_t>(n) * sizeof(float), what); }

private:
    std::istream& in_;
};

/// Bit-exact equality of two doubles (so that a stored NaN, or -0 against 0, counts as a change).
inline bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace hg::optim::detail
