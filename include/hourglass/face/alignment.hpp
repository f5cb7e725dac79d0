// Face alignment: the 2x3 matrix that maps FRAME pixels to the pixels of an aligned square crop,
// computed as faceswap's AlignedFace(landmarks, centering=..., size=..., coverage_ratio=...)
// .adjusted_matrix (lib/align/aligned_face.py), and the crop itself.
//
//   1. legacy matrix L = umeyama(landmarks[17:68] -> mean_face_2d): frame -> unit square.
//   2. for 'face' and 'head': the pose of the 3-D mean face fitted to L(landmarks) gives the
//      offset o_c of the centring point in the unit square (pose.hpp); the centred matrix is L with
//      its translation reduced by o_c (so the centring point lands on (0.5, 0.5)). legacy: o = 0.
//   3. padding p = round(size * (coverage - (1 - extract_ratio(c))) / 2), Python's round (ties
//      to even); the unit square is scaled to (size - 2 p) pixels and shifted by p:
//          frame_to_crop = (size - 2 p) * [L | t - o_c] + [0 | p].
//      At coverage 1 the unit square covers (1 - ratio) of the crop: 160 of 256 px for legacy,
//      128 for face, 96 for head. Larger coverage shows more around the face.
// Pixel convention: OpenCV's (pixel (x, y) has its centre at (x, y)) in the frame and in the crop,
// the convention of cv2.warpAffine with this matrix.
//
// warp_to_crop samples the frame bilinearly at frame_to_crop^-1 of each crop pixel; taps outside
// the frame read 0 (cv2.warpAffine's default BORDER_CONSTANT), and inside_mask() tells, with the
// same weights, how much of each crop pixel came from inside the frame. (faceswap interpolates
// with INTER_CUBIC when enlarging and INTER_AREA when shrinking, and OpenCV quantises the sampling
// position to 1/32 px; here the sampling is exact bilinear.)
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include <Eigen/Core>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/data/transform.hpp"
#include "hourglass/face/centering.hpp"
#include "hourglass/face/landmarks.hpp"
#include "hourglass/face/mean_face.hpp"
#include "hourglass/face/pose.hpp"
#include "hourglass/face/umeyama.hpp"

namespace hg::face {

struct alignment_options {
    std::int64_t size = 256;                // crop side in pixels
    centering centre = centering::face;     // where the crop is centred
    double coverage = 1.0;                  // faceswap's coverage_ratio, in (0, 1.5]
};

/// Python 3's round() of a double to an integer: nearest, ties to even.
inline std::int64_t round_half_even(double x) {
    const double f = std::floor(x), diff = x - f;
    double r = f;
    if (diff > 0.5 || (diff == 0.5 && std::fmod(f, 2.0) != 0.0)) r = f + 1.0;
    return static_cast<std::int64_t>(r);
}

/// Checks the options (size >= 1, coverage finite in (0, 1.5], a positive face size); `who` names the caller.
inline void validate_alignment_options(const alignment_options& o, const char* who) {
    const std::string w(who);
    if (o.size < 1) throw value_error(w + ": the crop size " + std::to_string(o.size) + " is below 1");
    if (!std::isfinite(o.coverage) || !(o.coverage > 0.0) || !(o.coverage <= 1.5))
        throw value_error(w + ": the coverage " + std::to_string(o.coverage) + " is outside (0, 1.5]");
    if (o.centre != centering::legacy && o.centre != centering::face && o.centre != centering::head)
        throw value_error(w + ": invalid centering value");
}

/// faceswap's AlignedFace._padding_from_coverage: the padding in pixels on each side of the unit square.
inline std::int64_t crop_padding(std::int64_t size, centering c, double coverage) {
    return round_half_even(static_cast<double>(size) * (coverage - (1.0 - extract_ratio(c))) / 2.0);
}

/// The legacy alignment matrix: frame pixels -> the mean face's unit square (landmarks 17..67).
/// value_error for non-finite or degenerate landmarks.
inline data::affine2 legacy_matrix(const landmarks& frame_landmarks) {
    if (!frame_landmarks.allFinite()) throw value_error("face::legacy_matrix: the landmarks are not all finite");
    point_set mean(mean_face_2d_count, 2);
    for (int i = 0; i < mean_face_2d_count; ++i)
        mean.row(i) << mean_face_2d[static_cast<std::size_t>(i)][0], mean_face_2d[static_cast<std::size_t>(i)][1];
    return face::umeyama(frame_landmarks.bottomRows(mean_face_2d_count), mean);
}

/// Everything the alignment of one face computes.
struct face_alignment {
    alignment_options options;
    data::affine2 legacy;                  // frame -> unit square (legacy centring)
    std::optional<pose_estimate> pose;     // computed for face and head centring
    Eigen::Vector2d offset = Eigen::Vector2d::Zero();  // the centring offset in the unit square
    data::affine2 matrix;                  // frame -> unit square, centred
    std::int64_t padding = 0;              // pixels on each side of the unit square in the crop
    data::affine2 frame_to_crop;           // faceswap's adjusted_matrix
    double average_distance = 0.0;         // mean |L(l_i) - mean_face_i| over landmarks 17..67 (both axes)
    double eye_mouth_position = 0.0;       // highest mouth y minus lowest brow/eye y in the unit square

    /// The landmarks in crop pixels.
    landmarks crop_landmarks(const landmarks& frame_landmarks) const {
        return transform_landmarks(frame_landmarks, frame_to_crop);
    }
};

/// The unit-square matrix scaled to a crop: (size - 2 padding) * m + padding.
inline data::affine2 scale_to_crop(const data::affine2& m, std::int64_t size, std::int64_t padding) {
    const double k = static_cast<double>(size - 2 * padding), p = static_cast<double>(padding);
    return data::affine2{k * m.a, k * m.b, k * m.c + p, k * m.d, k * m.e, k * m.f + p};
}

/// Aligns the face with the given frame landmarks (faceswap's AlignedFace). value_error for
/// non-finite or degenerate landmarks, bad options, or options that leave no room for the face
/// (size - 2 * padding < 1).
inline face_alignment align_face(const landmarks& frame_landmarks, const alignment_options& options = {}) {
    validate_alignment_options(options, "face::align_face");
    if (!frame_landmarks.allFinite()) throw value_error("face::align_face: the landmarks are not all finite");
    face_alignment out;
    out.options = options;
    out.padding = crop_padding(options.size, options.centre, options.coverage);
    if (options.size - 2 * out.padding < 1)
        throw value_error("face::align_face: coverage " + std::to_string(options.coverage) + " with " +
                          std::string(to_string(options.centre)) + " centring leaves no room for the face in a " +
                          std::to_string(options.size) + " px crop (padding " + std::to_string(out.padding) + ")");
    out.legacy = legacy_matrix(frame_landmarks);
    const landmarks unit = transform_landmarks(frame_landmarks, out.legacy);
    out.matrix = out.legacy;
    if (options.centre != centering::legacy) {
        out.pose = estimate_pose(unit);
        out.offset = out.pose->offset(options.centre);
        out.matrix.c -= out.offset.x();
        out.matrix.f -= out.offset.y();
    }
    out.frame_to_crop = scale_to_crop(out.matrix, options.size, out.padding);

    double dist = 0.0;
    for (int i = 0; i < mean_face_2d_count; ++i)
        for (int j = 0; j < 2; ++j)
            dist += std::abs(unit(mean_face_first_landmark + i, j) - mean_face_2d[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)]);
    out.average_distance = dist / (2.0 * mean_face_2d_count);
    double lowest_eyes = -std::numeric_limits<double>::infinity(), highest_mouth = std::numeric_limits<double>::infinity();
    for (int i = 17; i < 27; ++i) lowest_eyes = std::max(lowest_eyes, unit(i, 1));
    for (int i = 36; i < 48; ++i) lowest_eyes = std::max(lowest_eyes, unit(i, 1));
    for (int i = 48; i < 68; ++i) highest_mouth = std::min(highest_mouth, unit(i, 1));
    out.eye_mouth_position = highest_mouth - lowest_eyes;
    return out;
}

/// The 2x3 matrix mapping frame pixels to crop pixels (faceswap's adjusted_matrix).
inline data::affine2 frame_to_crop_matrix(const landmarks& frame_landmarks, const alignment_options& options = {}) {
    return align_face(frame_landmarks, options).frame_to_crop;
}

/// Where the crop lies in the frame: its corners (crop pixels (0,0), (0,size-1), (size-1,size-1),
/// (size-1,0) mapped back, faceswap's original_roi before rounding), its centre, the frame length of
/// one crop pixel and the crop's rotation (radians, as matrix_angle of the inverse).
struct crop_box {
    std::array<Eigen::Vector2d, 4> corners;
    Eigen::Vector2d centre;
    double pixel_size = 1.0;  // frame pixels per crop pixel
    double side = 0.0;        // size * pixel_size: the side of the crop in frame pixels
    double angle = 0.0;
};

inline crop_box crop_in_frame(const data::affine2& frame_to_crop, std::int64_t size) {
    if (size < 1) throw value_error("face::crop_in_frame: the crop size " + std::to_string(size) + " is below 1");
    const data::affine2 inv = data::inverse(frame_to_crop);
    auto map = [&](double x, double y) { return Eigen::Vector2d(inv.a * x + inv.b * y + inv.c, inv.d * x + inv.e * y + inv.f); };
    const double l = static_cast<double>(size - 1), h = 0.5 * static_cast<double>(size - 1);
    crop_box box;
    box.corners = {map(0, 0), map(0, l), map(l, l), map(l, 0)};
    box.centre = map(h, h);
    box.pixel_size = std::sqrt(std::abs(inv.a * inv.e - inv.b * inv.d));
    box.side = box.pixel_size * static_cast<double>(size);
    box.angle = std::atan2(inv.d, inv.a);
    return box;
}

namespace detail {

inline data::affine2 crop_to_frame_checked(const data::affine2& m, const char* who) {
    if (!std::isfinite(m.a) || !std::isfinite(m.b) || !std::isfinite(m.c) || !std::isfinite(m.d) ||
        !std::isfinite(m.e) || !std::isfinite(m.f))
        throw value_error(std::string(who) + ": the frame-to-crop matrix is not finite");
    return data::inverse(m);
}

/// Bilinear taps at (sx, sy) on an h x w grid with zero outside: offsets (pixel index) and weights,
/// weight 0 (offset 0) for taps outside the frame.
struct zero_border_tap {
    std::int64_t index[4] = {0, 0, 0, 0};
    double weight[4] = {0, 0, 0, 0};

    zero_border_tap(double sx, double sy, std::int64_t h, std::int64_t w) {
        if (!(sx > -1.0 && sx < static_cast<double>(w) && sy > -1.0 && sy < static_cast<double>(h))) return;
        const double fx0 = std::floor(sx), fy0 = std::floor(sy);
        const double fx = sx - fx0, fy = sy - fy0;
        const std::int64_t x0 = static_cast<std::int64_t>(fx0), y0 = static_cast<std::int64_t>(fy0);
        const double wx[2] = {1.0 - fx, fx}, wy[2] = {1.0 - fy, fy};
        for (int j = 0; j < 2; ++j)
            for (int i = 0; i < 2; ++i) {
                const std::int64_t x = x0 + i, y = y0 + j;
                if (x < 0 || x >= w || y < 0 || y >= h) continue;
                index[j * 2 + i] = y * w + x;
                weight[j * 2 + i] = wx[i] * wy[j];
            }
    }
};

}  // namespace detail

/// The aligned crop: [size, size, C] from an [H, W, C] float frame, bilinear, black outside the frame.
inline tensor warp_to_crop(const tensor& frame, const data::affine2& frame_to_crop, std::int64_t size) {
    data::detail::require_image(frame, "face::warp_to_crop", "frame", -1);
    if (size < 1) throw value_error("face::warp_to_crop: the crop size " + std::to_string(size) + " is below 1");
    const data::affine2 inv = detail::crop_to_frame_checked(frame_to_crop, "face::warp_to_crop");
    const std::int64_t h = frame.shape()[0], w = frame.shape()[1], c = frame.shape()[2];
    tensor out = tensor::empty(shape{size, size, c});
    const float* src = frame.data();
    float* dst = out.data();
    for (std::int64_t y = 0; y < size; ++y)
        for (std::int64_t x = 0; x < size; ++x) {
            const double fx = static_cast<double>(x), fy = static_cast<double>(y);
            const detail::zero_border_tap tap(inv.a * fx + inv.b * fy + inv.c, inv.d * fx + inv.e * fy + inv.f, h, w);
            float* o = dst + (y * size + x) * c;
            for (std::int64_t ch = 0; ch < c; ++ch) {
                double v = 0.0;
                for (int k = 0; k < 4; ++k) v += tap.weight[k] * static_cast<double>(src[tap.index[k] * c + ch]);
                o[ch] = static_cast<float>(v);
            }
        }
    return out;
}

/// [size, size, 1]: the share of each crop pixel's bilinear weight that falls inside an
/// h x w frame (1 inside, 0 far outside, fractional along the frame's edge).
inline tensor inside_mask(std::int64_t frame_h, std::int64_t frame_w, const data::affine2& frame_to_crop, std::int64_t size) {
    if (frame_h < 1 || frame_w < 1)
        throw value_error("face::inside_mask: the frame size " + std::to_string(frame_w) + "x" + std::to_string(frame_h) + " is empty");
    if (size < 1) throw value_error("face::inside_mask: the crop size " + std::to_string(size) + " is below 1");
    const data::affine2 inv = detail::crop_to_frame_checked(frame_to_crop, "face::inside_mask");
    tensor out = tensor::empty(shape{size, size, 1});
    float* dst = out.data();
    for (std::int64_t y = 0; y < size; ++y)
        for (std::int64_t x = 0; x < size; ++x) {
            const double fx = static_cast<double>(x), fy = static_cast<double>(y);
            const detail::zero_border_tap tap(inv.a * fx + inv.b * fy + inv.c, inv.d * fx + inv.e * fy + inv.f, frame_h, frame_w);
            dst[y * size + x] = static_cast<float>(tap.weight[0] + tap.weight[1] + tap.weight[2] + tap.weight[3]);
        }
    return out;
}

/// The mean of inside_mask: the fraction of the crop that came from inside the frame.
inline double inside_fraction(std::int64_t frame_h, std::int64_t frame_w, const data::affine2& frame_to_crop, std::int64_t size) {
    const tensor m = inside_mask(frame_h, frame_w, frame_to_crop, size);
    double s = 0.0;
    for (std::int64_t i = 0; i < m.numel(); ++i) s += static_cast<double>(m.data()[i]);
    return s / static_cast<double>(m.numel());
}

}  // namespace hg::face
