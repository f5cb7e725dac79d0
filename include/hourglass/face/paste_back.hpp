// Warping an aligned face back into its frame: the inverse of alignment.hpp's warp_to_crop. A crop
// (the swapped face, its mask) made for a frame_to_crop matrix covers a rotated square of the
// frame; warp_to_frame samples the crop at frame_to_crop(x, y) for every frame pixel (x, y) of that
// square's bounding rectangle (bilinear, pixel centres at integers in both pictures, as
// cv2.warpAffine with WARP_INVERSE_MAP), giving a frame_patch: the region, the face's colour and
// mask there, and the frame's own pixels there. Outside the crop the mask is 0, so compositing the
// patch leaves every frame pixel outside the crop exactly as it was.
//
// composite() is the paste itself: frame = mask * face + (1 - mask) * frame over the region.
// A mask is eroded and feathered in CROP pixels before warping (morphology.hpp) by the caller;
// colour matching and Poisson blending work on the patch (color_transfer.hpp, poisson_blend.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/data/transform.hpp"
#include "hourglass/face/alignment.hpp"

namespace hg::face {

/// A crop warped into the frame: the frame region [x0, x0 + width) x [y0, y0 + height) and, over it,
/// the crop's colour, its mask (0 where the crop does not reach) and the frame's own pixels.
struct frame_patch {
    std::int64_t x0 = 0, y0 = 0, width = 0, height = 0;
    tensor rgb;       ///< [height, width, 3]
    tensor mask;      ///< [height, width, 1] in [0, 1]
    tensor original;  ///< [height, width, 3], the frame's pixels of the region
    bool empty() const { return width <= 0 || height <= 0; }
};

/// The frame pixels a size x size crop covers: the bounding rectangle of the crop's corners (crop
/// pixel centres 0 and size - 1, widened by one crop pixel in every direction of the crop for the
/// bilinear reach, plus one frame pixel), clipped to the frame. Empty when the crop misses the
/// frame. Any affine matrix: a non-square box (swap/paste.hpp) stretches the crop unevenly.
inline void crop_region(const data::affine2& frame_to_crop, std::int64_t size, std::int64_t frame_h, std::int64_t frame_w,
                        std::int64_t& x0, std::int64_t& y0, std::int64_t& x1, std::int64_t& y1) {
    const crop_box box = crop_in_frame(frame_to_crop, size);
    double lo_x = box.corners[0].x(), hi_x = lo_x, lo_y = box.corners[0].y(), hi_y = lo_y;
    for (const auto& c : box.corners) {
        lo_x = std::min(lo_x, c.x());
        hi_x = std::max(hi_x, c.x());
        lo_y = std::min(lo_y, c.y());
        hi_y = std::max(hi_y, c.y());
    }
    // One crop pixel along both crop axes, in frame pixels: |inverse| applied to (1, 1).
    const data::affine2 inv = data::inverse(frame_to_crop);
    const double reach_x = std::abs(inv.a) + std::abs(inv.b) + 1.0, reach_y = std::abs(inv.d) + std::abs(inv.e) + 1.0;
    x0 = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(lo_x - reach_x)));
    y0 = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(lo_y - reach_y)));
    x1 = std::min<std::int64_t>(frame_w, static_cast<std::int64_t>(std::ceil(hi_x + reach_x)) + 1);
    y1 = std::min<std::int64_t>(frame_h, static_cast<std::int64_t>(std::ceil(hi_y + reach_y)) + 1);
}

/// Warps `crop_rgb` ([S, S, 3]) and `crop_mask` ([S, S, 1], or undefined: ones) into `frame`'s
/// pixels through the inverse of `frame_to_crop` (the matrix the crop was cut with).
inline frame_patch warp_to_frame(const tensor& frame, const tensor& crop_rgb, const tensor& crop_mask,
                                 const data::affine2& frame_to_crop) {
    data::detail::require_image(frame, "face::warp_to_frame", "frame", 3);
    data::detail::require_image(crop_rgb, "face::warp_to_frame", "face", 3);
    const std::int64_t size = crop_rgb.shape()[0];
    if (crop_rgb.shape()[1] != size)
        throw shape_error("face::warp_to_frame: the face must be square, got " + crop_rgb.shape().str());
    if (crop_mask.defined() && crop_mask.shape() != shape{size, size, 1}) {
        std::string msg = "face::warp_to_frame: the mask must be ";
        msg += shape{size, size, 1}.str();
        msg += " like the face, got ";
        msg += crop_mask.shape().str();
        throw shape_error(msg);
    }
    for (const double v : {frame_to_crop.a, frame_to_crop.b, frame_to_crop.c, frame_to_crop.d, frame_to_crop.e, frame_to_crop.f})
        if (!std::isfinite(v)) throw value_error("face::warp_to_frame: the frame-to-crop matrix is not finite");
    const std::int64_t fh = frame.shape()[0], fw = frame.shape()[1];
    frame_patch p;
    std::int64_t x1 = 0, y1 = 0;
    crop_region(frame_to_crop, size, fh, fw, p.x0, p.y0, x1, y1);
    p.width = std::max<std::int64_t>(0, x1 - p.x0);
    p.height = std::max<std::int64_t>(0, y1 - p.y0);
    if (p.empty()) return p;
    p.rgb = tensor::empty(shape{p.height, p.width, 3});
    p.mask = tensor::empty(shape{p.height, p.width, 1});
    p.original = tensor::empty(shape{p.height, p.width, 3});
    const float* src = crop_rgb.data();
    const float* msk = crop_mask.defined() ? crop_mask.data() : nullptr;
    const data::affine2& m = frame_to_crop;
    for (std::int64_t y = 0; y < p.height; ++y)
        for (std::int64_t x = 0; x < p.width; ++x) {
            const double fx = static_cast<double>(p.x0 + x), fy = static_cast<double>(p.y0 + y);
            const detail::zero_border_tap tap(m.a * fx + m.b * fy + m.c, m.d * fx + m.e * fy + m.f, size, size);
            double inside = 0, mv = 0, col[3] = {0, 0, 0};
            for (int k = 0; k < 4; ++k) {
                const double wgt = tap.weight[k];
                inside += wgt;
                mv += wgt * (msk ? static_cast<double>(msk[tap.index[k]]) : 1.0);
                for (int c = 0; c < 3; ++c) col[c] += wgt * static_cast<double>(src[tap.index[k] * 3 + c]);
            }
            const std::int64_t q = y * p.width + x, f = ((p.y0 + y) * fw + (p.x0 + x)) * 3;
            // Colour: the crop's, renormalised along its border (where part of the taps fall
            // outside it), so the edge is not darkened; the mask fades there instead.
            for (int c = 0; c < 3; ++c) {
                p.rgb.data()[q * 3 + c] = inside > 0 ? static_cast<float>(col[c] / inside) : frame.data()[f + c];
                p.original.data()[q * 3 + c] = frame.data()[f + c];
            }
            p.mask.data()[q] = static_cast<float>(std::clamp(mv, 0.0, 1.0));
        }
    return p;
}

/// frame = mask * rgb + (1 - mask) * frame over the patch's region (rgb and mask: the patch's size).
/// Frame pixels where the mask is 0 keep their exact values.
inline void composite(tensor& frame, const frame_patch& p, const tensor& rgb, const tensor& mask) {
    if (p.empty()) return;
    if (rgb.shape() != shape{p.height, p.width, 3} || mask.shape() != shape{p.height, p.width, 1})
    {
        std::string msg = "face::composite: the colour and mask must be the patch's size ";
        msg += shape{p.height, p.width, 3}.str();
        throw shape_error(msg);
    }
    const std::int64_t fw = frame.shape()[1];
    for (std::int64_t y = 0; y < p.height; ++y)
        for (std::int64_t x = 0; x < p.width; ++x) {
            const std::int64_t q = y * p.width + x;
            const float a = mask.data()[q];
            if (a <= 0.0f) continue;
            float* px = frame.data() + ((p.y0 + y) * fw + (p.x0 + x)) * 3;
            for (int c = 0; c < 3; ++c) px[c] = a >= 1.0f ? rgb.data()[q * 3 + c] : a * rgb.data()[q * 3 + c] + (1.0f - a) * px[c];
        }
}

}  // namespace hg::face
