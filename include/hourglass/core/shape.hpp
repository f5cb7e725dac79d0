// hg::shape: the extents of a dense tensor, up to 4 dimensions, NHWC by convention.
// Printing gives "[2, 64, 64, 3]" so error messages can show shapes as users read them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <sstream>
#include <string>

#include "hourglass/core/error.hpp"

namespace hg {

class shape {
public:
    static constexpr int max_rank = 4;

    constexpr shape() = default;
    shape(std::initializer_list<std::int64_t> dims) {
        if (dims.size() > static_cast<std::size_t>(max_rank))
            throw shape_error("shape: rank " + std::to_string(dims.size()) + " exceeds the maximum of 4");
        for (auto d : dims) {
            if (d < 0) throw shape_error("shape: negative extent " + std::to_string(d));
            dims_[static_cast<std::size_t>(rank_++)] = d;
        }
    }

    /// An NHWC shape.
    static shape nhwc(std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c) { return {n, h, w, c}; }

    constexpr int rank() const { return rank_; }
    std::int64_t operator[](int i) const {
        if (i < 0 || i >= rank_) throw shape_error("shape: index " + std::to_string(i) + " out of range for " + str());
        return dims_[static_cast<std::size_t>(i)];
    }
    /// Number of elements (1 for a rank-0 shape).
    std::int64_t numel() const {
        std::int64_t n = 1;
        for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<std::size_t>(i)];
        return n;
    }
    // NHWC accessors; only valid for rank-4 shapes.
    std::int64_t n() const { return at4(0); }
    std::int64_t h() const { return at4(1); }
    std::int64_t w() const { return at4(2); }
    std::int64_t c() const { return at4(3); }

    /// The same shape with the leading (batch) extent replaced.
    shape with_batch(std::int64_t n) const {
        if (rank_ == 0) throw shape_error("shape: a rank-0 shape has no batch extent");
        shape s = *this;
        s.dims_[0] = n;
        return s;
    }
    /// Extents after the first, multiplied (features per sample).
    std::int64_t per_sample() const {
        std::int64_t n = 1;
        for (int i = 1; i < rank_; ++i) n *= dims_[static_cast<std::size_t>(i)];
        return n;
    }

    friend bool operator==(const shape& a, const shape& b) {
        if (a.rank_ != b.rank_) return false;
        for (int i = 0; i < a.rank_; ++i)
            if (a.dims_[static_cast<std::size_t>(i)] != b.dims_[static_cast<std::size_t>(i)]) return false;
        return true;
    }
    friend bool operator!=(const shape& a, const shape& b) { return !(a == b); }

    std::string str() const {
        std::ostringstream os;
        os << '[';
        for (int i = 0; i < rank_; ++i) os << (i ? ", " : "") << dims_[static_cast<std::size_t>(i)];
        os << ']';
        return os.str();
    }
    friend std::ostream& operator<<(std::ostream& os, const shape& s) { return os << s.str(); }

private:
    std::int64_t at4(int i) const {
        if (rank_ != 4) throw shape_error("shape: NHWC accessor used on non-NHWC shape " + str());
        return dims_[static_cast<std::size_t>(i)];
    }
    std::array<std::int64_t, max_rank> dims_{};
    int rank_ = 0;
};

}  // namespace hg
