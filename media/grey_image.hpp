// Private to the media component: 8-bit RGB pictures as dlib's grey images, and an area-average
// downscale for scanning large frames on a smaller copy.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <dlib/array2d.h>

#include "hourglass/core/error.hpp"
#include "hourglass/media/face_detector.hpp"

namespace hg::media::detail {

inline void require_picture(const rgb_view& p, const char* who) {
    if (p.data == nullptr || p.width < 1 || p.height < 1)
        throw shape_error(std::string(who) + ": the picture is empty (" + std::to_string(p.width) + " x " +
                          std::to_string(p.height) + ")");
}

/// ITU-R BT.601 luma in integer arithmetic: (77 R + 150 G + 29 B + 128) >> 8.
inline void to_grey(const rgb_view& p, dlib::array2d<unsigned char>& out) {
    out.set_size(p.height, p.width);
    for (std::int64_t y = 0; y < p.height; ++y) {
        const std::uint8_t* s = p.data + y * p.width * 3;
        unsigned char* d = &out[y][0];
        for (std::int64_t x = 0; x < p.width; ++x, s += 3)
            d[x] = static_cast<unsigned char>((77u * s[0] + 150u * s[1] + 29u * s[2] + 128u) >> 8);
    }
}

/// Area-average downscale of a grey picture to out_w x out_h (each output pixel the mean of the
/// input area it covers, fractional pixels weighted by their overlap): no aliasing at any factor.
inline void downscale_area(const dlib::array2d<unsigned char>& in, long out_w, long out_h,
                           dlib::array2d<unsigned char>& out) {
    const long in_w = in.nc(), in_h = in.nr();
    const double sx = double(in_w) / double(out_w), sy = double(in_h) / double(out_h);
    // Horizontal pass into floats, then vertical.
    std::vector<float> rows(static_cast<std::size_t>(in_h * out_w));
    for (long y = 0; y < in_h; ++y)
        for (long x = 0; x < out_w; ++x) {
            const double x0 = x * sx, x1 = (x + 1) * sx;
            double sum = 0;
            for (long i = long(x0); i < std::min<long>(in_w, long(x1) + 1); ++i) {
                const double w = std::min<double>(x1, i + 1) - std::max<double>(x0, i);
                if (w > 0) sum += w * in[y][i];
            }
            rows[std::size_t(y * out_w + x)] = float(sum / sx);
        }
    out.set_size(out_h, out_w);
    for (long y = 0; y < out_h; ++y) {
        const double y0 = y * sy, y1 = (y + 1) * sy;
        for (long x = 0; x < out_w; ++x) {
            double sum = 0;
            for (long j = long(y0); j < std::min<long>(in_h, long(y1) + 1); ++j) {
                const double w = std::min<double>(y1, j + 1) - std::max<double>(y0, j);
                if (w > 0) sum += w * rows[std::size_t(j * out_w + x)];
            }
            out[y][x] = static_cast<unsigned char>(std::clamp(sum / sy + 0.5, 0.0, 255.0));
        }
    }
}

}  // namespace hg::media::detail
