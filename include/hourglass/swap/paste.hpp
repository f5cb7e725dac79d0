// Pasting swapped faces back into pictures (hourglass-swap swap --blend and --boxes): the feathered
// elliptical mask for models without a mask head, and placing a face crop into a larger frame at a
// box (position, size, rotation) read from a boxes file.
//
// A crop is taken to be the square (or rectangular) region of its frame with top-left corner
// (x, y), size w x h, rotated by `angle` degrees about its centre (counter-clockwise in the picture,
// i.e. the crop's axes are the frame's axes turned by the angle). box_matrix() turns a box into the
// frame-to-crop matrix of that crop, and paste_face() pastes through the convert step's own
// warp-and-paste (swap/convert.hpp paste_back: bilinear warp through the inverse matrix, mean-colour
// matching under the mask, compositing), so --boxes, --blend and convert share one code path.
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
#include "hourglass/data/resize.hpp"
#include "hourglass/data/transform.hpp"
#include "hourglass/swap/convert.hpp"
#include "hourglass/io/regular_file.hpp"

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
    // Read whole first (a regular file only: a named pipe would block) and parsed from memory.
    std::istringstream in(io::read_regular_file<std::string>(file, std::uint64_t(1) << 30, [&](const std::string& why) {
        throw hg::io_error("cannot read the boxes file " + file.string() + ": " + why);
    }));
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

/// The frame-to-crop matrix of a size x size crop of `box` (pixel centres at integers in both, as
/// face/alignment.hpp's matrices). The box spans [x, x + width] x [y, y + height] of the frame
/// (pixel edges), its crop [0, size] x [0, size]; a frame pixel's centre lies at +0.5 in those
/// coordinates. The picture's y axis points down, so turning the crop's axes counter-clockwise on
/// screen maps a frame offset (dx, dy) from the box centre to the crop offset
/// (dx cos - dy sin, dx sin + dy cos), which is then scaled by size / width and size / height.
inline data::affine2 box_matrix(const face_box& box, std::int64_t size) {
    if (!(box.width > 0) || !(box.height > 0)) throw value_error("swap::box_matrix: the box size must be positive");
    if (size < 1) throw value_error("swap::box_matrix: the crop size must be positive");
    const double pi = 3.14159265358979323846;
    const double a = box.angle * pi / 180.0, ca = std::cos(a), sa = std::sin(a);
    const double kx = double(size) / box.width, ky = double(size) / box.height, half = 0.5 * double(size) - 0.5;
    const double ox = 0.5 - (box.x + 0.5 * box.width), oy = 0.5 - (box.y + 0.5 * box.height);  // frame centre -> offset
    return {kx * ca, -kx * sa, kx * (ca * ox - sa * oy) + half, ky * sa, ky * ca, ky * (sa * ox + ca * oy) + half};
}

/// Pastes a swapped face crop ([S, S, 3] in [0, 1]) into `frame` ([H, W, 3], modified in place) at
/// `box`, through `mask` (the crop's mask, [m, m, 1] at any size: area-resized to S), with its mean
/// colour under the mask shifted to the frame's (colour mode avg): swap::paste_back with
/// box_matrix(box, S). Frame pixels beyond the box grown by one crop pixel (the bilinear reach of
/// the crop's edge, where the mask fades out) keep their exact values; a box partly outside the
/// frame is clipped. Returns the number of frame pixels the mask reached (0: nothing was pasted).
inline std::int64_t paste_face(hg::tensor& frame, const hg::tensor& face, const hg::tensor& mask, const face_box& box) {
    data::detail::require_image(face, "swap::paste_face", "face", 3);
    data::detail::require_image(mask, "swap::paste_face", "mask", 1);
    const std::int64_t size = face.shape()[0];
    if (face.shape()[1] != size) throw shape_error("swap::paste_face: the face must be square, got " + face.shape().str());
    const tensor m = mask.shape()[0] == size && mask.shape()[1] == size ? mask : data::resize_area(mask, size, size);
    convert_options o;
    o.color = face::color_mode::avg;
    return paste_back(frame, face, m, box_matrix(box, size), o);
}

}  // namespace hg::swap
