// Pasting swapped faces back into pictures (hourglass-swap swap --blend): the feathered elliptical
// mask for models without a mask head, mean-colour matching inside the mask, and placing a face
// crop into a larger frame at a box (position, size, rotation) read from a boxes file.
//
// A crop is taken to be the square (or rectangular) region of its frame with top-left corner
// (x, y), size w x h, rotated by `angle` degrees about its centre (counter-clockwise in the picture,
// i.e. the crop's axes are the frame's axes turned by the angle). Pasting maps every frame pixel of
// that region back into crop coordinates (the inverse similarity transform) and samples the swapped
// face and the mask bilinearly there: one formula for scaling, rotation and sub-pixel position.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/cpu/backend.hpp"

namespace hg::swap {

/// The feathered elliptical mask used for --blend when the model has no mask head: 1 inside an
/// ellipse with semi-axes 0.40 w x 0.46 h centred at (0.5 w, 0.52 h), falling smoothly to 0 over a
/// band of 0.12 of the size outside it.
inline hg::tensor elliptical_mask(std::int64_t h, std::int64_t w) {
    auto m = hg::tensor::empty(hg::shape{h, w, 1});
    for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x) {
            const double dx = (x + 0.5 - 0.5 * w) / (0.40 * w), dy = (y + 0.5 - 0.52 * h) / (0.46 * h);
            const double d = std::sqrt(dx * dx + dy * dy);                  // 1 on the ellipse
            const double t = std::clamp((d - 1.0) / 0.12 + 0.5, 0.0, 1.0);  // feather across the edge
            m[y * w + x] = static_cast<float>(1.0 - t * t * (3.0 - 2.0 * t));
        }
    return m;
}

/// Pastes `face` (the frame's size) into `frame` through `mask` after shifting the face's mean
/// colour inside the mask to the frame's.
inline hg::tensor blend_into(const hg::tensor& frame, const hg::tensor& face, const hg::tensor& mask) {
    const std::int64_t px = frame.shape()[0] * frame.shape()[1];
    double sf[3] = {0, 0, 0}, ss[3] = {0, 0, 0}, sm = 0;
    for (std::int64_t p = 0; p < px; ++p) {
        sm += mask[p];
        for (int c = 0; c < 3; ++c) sf[c] += mask[p] * frame[p * 3 + c], ss[c] += mask[p] * face[p * 3 + c];
    }
    auto out = hg::tensor::empty(frame.shape());
    for (std::int64_t p = 0; p < px; ++p)
        for (int c = 0; c < 3; ++c) {
            const double shift = sm > 0 ? (sf[c] - ss[c]) / sm : 0.0;
            const double f = std::clamp(face[p * 3 + c] + shift, 0.0, 1.0);
            out[p * 3 + c] = static_cast<float>(mask[p] * f + (1.0 - mask[p]) * frame[p * 3 + c]);
        }
    return out;
}

/// Where a face crop came from in its frame.
struct face_box {
    std::string crop;              ///< the crop's file name (as in --input)
    std::filesystem::path frame;   ///< the frame picture it was cut from
    double x = 0, y = 0;           ///< top-left corner of the unrotated box, in frame pixels
    double width = 0, height = 0;  ///< box size in frame pixels (> 0)
    double angle = 0;              ///< rotation of the crop's axes about the box centre, degrees
};

/// Reads a boxes file: one face per line, `crop,frame,x,y,width,height[,angle]`, comma-separated;
/// blank lines, lines starting with '#' and a first line starting with "crop," (a header) are
/// skipped. A relative frame path is relative to the boxes file's folder. Throws hg::io_error when
/// the file cannot be read and hg::value_error naming the file, the line and the field otherwise.
inline std::vector<face_box> read_boxes(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) throw hg::io_error("cannot read the boxes file " + file.string());
    std::vector<face_box> boxes;
    std::string line;
    std::int64_t number = 0;
    auto fail = [&](const std::string& why) {
        std::string msg = "boxes file " + file.string();
        msg += ", line " + std::to_string(number) + ": " + why;
        throw hg::value_error(msg);
    };
    while (std::getline(in, line)) {
        ++number;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos || line[line.find_first_not_of(" \t")] == '#') continue;
        if (number == 1 && line.rfind("crop,", 0) == 0) continue;
        std::vector<std::string> f;
        std::stringstream ss(line);
        for (std::string field; std::getline(ss, field, ',');) {
            const auto a = field.find_first_not_of(" \t"), b = field.find_last_not_of(" \t");
            f.push_back(a == std::string::npos ? std::string() : field.substr(a, b - a + 1));
        }
        if (f.size() != 6 && f.size() != 7)
            fail("expected crop,frame,x,y,width,height[,angle] (6 or 7 fields), found " + std::to_string(f.size()));
        auto number_of = [&](std::size_t i, const char* name) {
            std::size_t used = 0;
            double v = 0;
            try {
                v = std::stod(f[i], &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used == 0 || used != f[i].size() || !std::isfinite(v))
                fail(std::string("'") + name + "' is not a finite number: '" + f[i] + "'");
            return v;
        };
        face_box b;
        b.crop = f[0];
        if (b.crop.empty()) fail("the crop name is empty");
        if (f[1].empty()) fail("the frame path is empty");
        b.frame = f[1];
        if (b.frame.is_relative()) b.frame = file.parent_path() / b.frame;
        b.x = number_of(2, "x");
        b.y = number_of(3, "y");
        b.width = number_of(4, "width");
        b.height = number_of(5, "height");
        if (f.size() == 7) b.angle = number_of(6, "angle");
        if (b.width <= 0 || b.height <= 0) fail("the box size must be positive");
        boxes.push_back(std::move(b));
    }
    return boxes;
}

/// Bilinear sample of channel c of an [h, w, channels] image at continuous pixel coordinates
/// (u, v) (pixel centres at +0.5), clamped to the border.
inline double sample_bilinear(const hg::tensor& img, std::int64_t channels, std::int64_t c, double u, double v) {
    const std::int64_t h = img.shape()[0], w = img.shape()[1];
    const double fx = std::clamp(u - 0.5, 0.0, double(w - 1)), fy = std::clamp(v - 0.5, 0.0, double(h - 1));
    const auto x0 = static_cast<std::int64_t>(fx), y0 = static_cast<std::int64_t>(fy);
    const std::int64_t x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);
    const double ax = fx - double(x0), ay = fy - double(y0);
    auto at = [&](std::int64_t y, std::int64_t x) { return double(img[(y * w + x) * channels + c]); };
    return (1 - ay) * ((1 - ax) * at(y0, x0) + ax * at(y0, x1)) + ay * ((1 - ax) * at(y1, x0) + ax * at(y1, x1));
}

/// Pastes a swapped face crop ([fh, fw, 3] in [0, 1]) into `frame` ([H, W, 3], modified in place)
/// at `box`, through `mask` ([mh, mw, 1], the crop's mask at any size), after shifting the face's
/// mean colour under the mask to the frame's mean colour under the same mask. Frame pixels outside
/// the (rotated) box are left exactly as they were; a box partly outside the frame is clipped.
/// Returns the number of frame pixels the mask touched (0 when the box misses the frame).
inline std::int64_t paste_face(hg::tensor& frame, const hg::tensor& face, const hg::tensor& mask, const face_box& box) {
    const std::int64_t H = frame.shape()[0], W = frame.shape()[1];
    const std::int64_t fh = face.shape()[0], fw = face.shape()[1];
    const double pi = 3.14159265358979323846;
    const double a = box.angle * pi / 180.0, ca = std::cos(a), sa = std::sin(a);
    const double cx = box.x + 0.5 * box.width, cy = box.y + 0.5 * box.height;
    // The rotated box's bounding rectangle in the frame, clipped.
    const double ex = 0.5 * (std::abs(ca) * box.width + std::abs(sa) * box.height);
    const double ey = 0.5 * (std::abs(sa) * box.width + std::abs(ca) * box.height);
    const auto x_lo = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(cx - ex)));
    const auto x_hi = std::min<std::int64_t>(W, static_cast<std::int64_t>(std::ceil(cx + ex)));
    const auto y_lo = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(cy - ey)));
    const auto y_hi = std::min<std::int64_t>(H, static_cast<std::int64_t>(std::ceil(cy + ey)));
    if (x_lo >= x_hi || y_lo >= y_hi) return 0;
    // Per frame pixel of the region: its place in the crop, the mask there and the face's colour
    // there. The picture's y axis points down, so turning the crop's axes counter-clockwise on screen
    // maps a crop offset (bx, by) to the frame offset (bx cos + by sin, -bx sin + by cos); its inverse
    // (the transpose) takes a frame offset (dx, dy) from the centre back to (dx cos - dy sin,
    // dx sin + dy cos), which is then scaled by the box size to [0, 1] crop coordinates.
    const std::int64_t rw = x_hi - x_lo, rh = y_hi - y_lo;
    std::vector<float> m(static_cast<std::size_t>(rw * rh), 0.f), col(static_cast<std::size_t>(rw * rh * 3), 0.f);
    double sum_m = 0, sum_frame[3] = {0, 0, 0}, sum_face[3] = {0, 0, 0};
    for (std::int64_t y = y_lo; y < y_hi; ++y)
        for (std::int64_t x = x_lo; x < x_hi; ++x) {
            const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
            const double bx = ca * dx - sa * dy, by = sa * dx + ca * dy;  // in the box's axes
            const double s = bx / box.width + 0.5, t = by / box.height + 0.5;  // [0, 1] inside
            if (s < 0 || s > 1 || t < 0 || t > 1) continue;
            const std::size_t r = static_cast<std::size_t>((y - y_lo) * rw + (x - x_lo));
            const double mv = sample_bilinear(mask, 1, 0, s * double(mask.shape()[1]), t * double(mask.shape()[0]));
            m[r] = static_cast<float>(mv);
            sum_m += mv;
            for (int c = 0; c < 3; ++c) {
                const double fv = sample_bilinear(face, 3, c, s * double(fw), t * double(fh));
                col[r * 3 + c] = static_cast<float>(fv);
                sum_face[c] += mv * fv;
                sum_frame[c] += mv * frame[(y * W + x) * 3 + c];
            }
        }
    if (sum_m <= 0) return 0;
    std::int64_t touched = 0;
    for (std::int64_t y = y_lo; y < y_hi; ++y)
        for (std::int64_t x = x_lo; x < x_hi; ++x) {
            const std::size_t r = static_cast<std::size_t>((y - y_lo) * rw + (x - x_lo));
            const double mv = m[r];
            if (mv <= 0) continue;
            ++touched;
            for (int c = 0; c < 3; ++c) {
                const double shift = (sum_frame[c] - sum_face[c]) / sum_m;
                const double f = std::clamp(double(col[r * 3 + c]) + shift, 0.0, 1.0);
                float& px = frame[(y * W + x) * 3 + c];
                px = static_cast<float>(mv * f + (1.0 - mv) * double(px));
            }
        }
    return touched;
}

}  // namespace hg::swap
