// hg::swap::frame_converter: one frame of `hourglass-swap convert`. For every face that the
// alignments file lists for the frame: cut the face out of the frame with its alignment matrix (at
// the model's output size, area-resized to its input size), swap it (a function: the model's
// decoder of the other identity), build the paste mask in crop pixels (the landmark mask,
// the model's learned mask, or the whole crop), erode and feather it, warp the swapped face and the
// mask back into the frame with the inverse matrix (face/paste_back.hpp), match the face's colours
// to the frame's inside the mask (face/color_transfer.hpp), optionally blend it seamlessly
// (Poisson, face/poisson_blend.hpp) and sharpen it (face/sharpen.hpp), and composite it
// (paste_back(), which `swap --blend/--boxes` uses too). Faces of one call are swapped as one
// batch. Frame pixels outside every mask keep their exact values.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/data/resize.hpp"
#include "hourglass/face/alignments.hpp"
#include "hourglass/face/color_transfer.hpp"
#include "hourglass/face/landmark_masks.hpp"
#include "hourglass/face/morphology.hpp"
#include "hourglass/face/paste_back.hpp"
#include "hourglass/face/poisson_blend.hpp"
#include "hourglass/face/sharpen.hpp"

namespace hg::swap {

/// Where the paste mask comes from: the landmark masks (face/landmark_masks.hpp), the model's
/// learned mask (its fourth output channel), or the whole crop.
enum class paste_mask { components, extended, learned, box };

inline std::string to_string(paste_mask m) {
    switch (m) {
        case paste_mask::components: return "components";
        case paste_mask::extended: return "extended";
        case paste_mask::learned: return "learned";
        case paste_mask::box: return "box";
    }
    return "?";
}

inline paste_mask parse_paste_mask(const std::string& s) {
    if (s == "components") return paste_mask::components;
    if (s == "extended") return paste_mask::extended;
    if (s == "learned") return paste_mask::learned;
    if (s == "box") return paste_mask::box;
    throw value_error("the mask must be components, extended, learned or box, got '" + s + "'");
}

struct convert_options {
    paste_mask mask = paste_mask::extended;
    double erode = 0;          ///< shrink (> 0) or grow (< 0) the mask by this many crop pixels
    double blur = 0;           ///< feather the mask edge: Gaussian of this radius in crop pixels (0: off)
    face::color_mode color = face::color_mode::rct;
    bool seamless = false;     ///< Poisson blending over the mask
    double sharpen = 0;        ///< unsharp-mask amount of the pasted face (0: off)
    double sharpen_sigma = 1;  ///< its Gaussian sigma, frame pixels

    void validate() const {
        if (!std::isfinite(erode) || std::abs(erode) > 1000)
            throw value_error("convert: --erode must be a finite number of pixels, got " + std::to_string(erode));
        if (!(blur >= 0) || !std::isfinite(blur) || blur > 1000)
            throw value_error("convert: --blur must be 0 or a positive number of pixels, got " + std::to_string(blur));
        if (!(sharpen >= 0) || !std::isfinite(sharpen))
            throw value_error("convert: --sharpen must be >= 0, got " + std::to_string(sharpen));
        if (!(sharpen_sigma > 0) || !std::isfinite(sharpen_sigma))
            throw value_error("convert: the sharpening sigma must be positive");
    }
};

/// A model as the converter sees it: a batch of aligned faces [N, in, in, 3] in [0, 1] to the
/// swapped faces [N, out, out, 3] (or 4 channels: colour and a learned mask).
using swap_function = std::function<tensor(const tensor& faces)>;

/// The frame_to_crop matrix of the same crop at another size: crop pixel centres at integers, so a
/// crop of `from` pixels maps to one of `to` pixels by x' = k (x + 0.5) - 0.5, k = to / from.
inline data::affine2 rescale_crop_matrix(const data::affine2& m, std::int64_t from, std::int64_t to) {
    const double k = double(to) / double(from), shift = 0.5 * k - 0.5;
    return {k * m.a, k * m.b, k * m.c + shift, k * m.d, k * m.e, k * m.f + shift};
}

/// Pastes one swapped face into its frame: warps `face` ([S, S, 3] in [0, 1]) and its `mask`
/// ([S, S, 1] in [0, 1], in crop pixels, already eroded and feathered) into `frame` through the
/// inverse of `frame_to_crop` (the matrix the face was cut out with; face/paste_back.hpp), matches
/// the face's colours to the frame's inside the mask (`o.color`), blends it in the gradient domain
/// (`o.seamless`) and sharpens it (`o.sharpen`), then composites it through the mask. Frame pixels
/// where the warped mask is 0 keep their exact values. Returns how many frame pixels the mask
/// reaches (0: the face misses the frame, or its mask sums to at most half a pixel there, and
/// nothing was changed). The convert step and `hourglass-swap swap --blend/--boxes` both paste
/// through this function.
inline std::int64_t paste_back(tensor& frame, const tensor& face, const tensor& mask, const data::affine2& frame_to_crop,
                               const convert_options& o) {
    face::frame_patch p = face::warp_to_frame(frame, face, mask, frame_to_crop);
    if (p.empty()) return 0;
    double mask_sum = 0;
    std::int64_t reached = 0;
    for (std::int64_t q = 0; q < p.mask.numel(); ++q) {
        mask_sum += p.mask.data()[q];
        reached += p.mask.data()[q] > 0.0f;
    }
    if (!(mask_sum > 0.5)) return 0;  // nothing of the mask reaches the frame
    tensor face_rgb = p.rgb;
    if (o.color != face::color_mode::none)
        face_rgb = face::match_colors(face_rgb, p.original, p.mask, o.color, face::color_region::mask_box);
    if (o.seamless) {
        // Poisson needs a boundary: only when the mask's hard part leaves a frame border around it.
        bool interior = false, touches_edge = false;
        for (std::int64_t y = 0; y < p.height; ++y)
            for (std::int64_t x = 0; x < p.width; ++x)
                if (p.mask.data()[y * p.width + x] > 0.5f) {
                    interior = true;
                    if (x == 0 || y == 0 || x == p.width - 1 || y == p.height - 1) touches_edge = true;
                }
        if (interior && !touches_edge) face_rgb = face::poisson_blend(face_rgb, p.original, p.mask);
    }
    if (o.sharpen > 0) face_rgb = face::unsharp_mask(face_rgb, o.sharpen, o.sharpen_sigma, p.mask);
    face::composite(frame, p, face_rgb, p.mask);
    return reached;
}

class frame_converter {
public:
    /// `align_size`: the face size the alignments were made for (their matrices map to it);
    /// `input_size`, `output_size`: the model's; `model_has_mask`: its output has a fourth channel.
    frame_converter(convert_options o, std::int64_t align_size, std::int64_t input_size, std::int64_t output_size,
                    bool model_has_mask, swap_function swap)
        : o_(o), align_(align_size), in_(input_size), out_(output_size), has_mask_(model_has_mask), swap_(std::move(swap)) {
        o_.validate();
        if (align_ < 1 || in_ < 1 || out_ < 1) throw value_error("convert: the face sizes must be positive");
        if (o_.mask == paste_mask::learned && !has_mask_)
            throw value_error("convert: --mask learned needs a model trained with --mask (a learned mask head); this one has none");
        if (!swap_) throw value_error("convert: no swap function");
    }

    const convert_options& options() const { return o_; }

    /// The frames with their faces swapped; faces[i] lists frame i's faces. Frames are [H, W, 3].
    std::vector<tensor> convert(const std::vector<tensor>& frames, const std::vector<std::vector<face::face_record>>& faces) const {
        if (frames.size() != faces.size()) throw value_error("convert: one list of faces per frame is needed");
        std::vector<tensor> out(frames.size());
        // Cut every face out and swap them as one batch.
        std::int64_t n = 0;
        for (const auto& f : faces) n += static_cast<std::int64_t>(f.size());
        tensor batch = n > 0 ? tensor::empty(shape{n, in_, in_, 3}) : tensor();
        std::vector<data::affine2> matrices;
        std::int64_t k = 0;
        for (std::size_t i = 0; i < frames.size(); ++i) {
            data::detail::require_image(frames[i], "convert", "frame", 3);
            for (const auto& r : faces[i]) {
                const data::affine2 m = rescale_crop_matrix(r.matrix, align_, out_);
                matrices.push_back(m);
                tensor crop = face::warp_to_crop(frames[i], m, out_);
                if (out_ != in_) crop = data::resize_area(crop, in_, in_);
                std::copy_n(crop.data(), in_ * in_ * 3, batch.data() + k * in_ * in_ * 3);
                ++k;
            }
        }
        tensor swapped;
        if (n > 0) {
            swapped = swap_(batch);
            const std::int64_t want_c = has_mask_ ? 4 : 3;
            if (swapped.shape() != shape{n, out_, out_, want_c}) {
                std::string msg = "convert: the model gave ";
                msg += swapped.shape().str();
                msg += " for ";
                msg += std::to_string(n);
                msg += " faces, expected ";
                msg += shape{n, out_, out_, want_c}.str();
                throw shape_error(msg);
            }
        }
        k = 0;
        for (std::size_t i = 0; i < frames.size(); ++i) {
            out[i] = frames[i].clone();
            for (const auto& r : faces[i]) {
                paste(out[i], r, matrices[static_cast<std::size_t>(k)], swapped, k);
                ++k;
            }
        }
        return out;
    }

    /// One frame.
    tensor convert(const tensor& frame, const std::vector<face::face_record>& faces) const {
        return convert(std::vector<tensor>{frame}, std::vector<std::vector<face::face_record>>{faces}).front();
    }

    /// The paste mask of a face in crop pixels (out x out), eroded and feathered.
    tensor crop_mask(const face::face_record& r, const data::affine2& m, const tensor& swapped, std::int64_t k) const {
        tensor mask;
        switch (o_.mask) {
            case paste_mask::components:
            case paste_mask::extended: {
                const face::landmarks in_crop = face::transform_landmarks(r.points, m);
                mask = o_.mask == paste_mask::components ? face::components_mask(in_crop, out_) : face::extended_mask(in_crop, out_);
                break;
            }
            case paste_mask::learned: {
                mask = tensor::empty(shape{out_, out_, 1});
                const float* s = swapped.data() + k * out_ * out_ * 4;
                for (std::int64_t q = 0; q < out_ * out_; ++q) mask.data()[q] = std::clamp(s[q * 4 + 3], 0.0f, 1.0f);
                break;
            }
            case paste_mask::box:
                mask = tensor::full(shape{out_, out_, 1}, 1.0f);
                break;
        }
        if (o_.erode > 0) mask = face::erode(mask, o_.erode);
        if (o_.erode < 0) mask = face::dilate(mask, -o_.erode);
        if (o_.blur > 0) {
            // A Gaussian of sigma = radius / 2 over a kernel of 2 radius + 1 (odd), as OpenCV's.
            const auto ksize = 2 * static_cast<std::int64_t>(std::ceil(o_.blur)) + 1;
            mask = face::gaussian_blur(mask, ksize, o_.blur / 2.0);
        }
        // The box mask fades over the crop's outer pixel, so even unblurred it has no hard frame.
        return mask;
    }

private:
    void paste(tensor& frame, const face::face_record& r, const data::affine2& m, const tensor& swapped, std::int64_t k) const {
        const std::int64_t c = has_mask_ ? 4 : 3;
        tensor rgb = tensor::empty(shape{out_, out_, 3});
        const float* s = swapped.data() + k * out_ * out_ * c;
        for (std::int64_t q = 0; q < out_ * out_; ++q)
            for (int ch = 0; ch < 3; ++ch) rgb.data()[q * 3 + ch] = std::clamp(s[q * c + ch], 0.0f, 1.0f);
        paste_back(frame, rgb, crop_mask(r, m, swapped, k), m, o_);
    }

    convert_options o_;
    std::int64_t align_, in_, out_;
    bool has_mask_;
    swap_function swap_;
};

}  // namespace hg::swap
