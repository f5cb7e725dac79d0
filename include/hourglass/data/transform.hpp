// Geometric pieces of the augmentation: the random similarity transform (rotation, zoom, shift)
// as a 2x3 affine matrix, the horizontal flip, bilinear sampling with replicated borders, and
// whole-image resampling through a per-pixel coordinate map.
//
// Coordinates follow OpenCV: pixel (x, y) has its centre at (x, y). An affine `m` maps source to
// destination like the matrix of cv2.warpAffine; resampling evaluates the destination pixel at the
// source position m^-1(x, y).
//
// Image layout throughout hg::data: one image is an [H, W, C] float CPU tensor, values in [0, 1].
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"

namespace hg::data {

/// x' = a x + b y + c,  y' = d x + e y + f.
struct affine2 {
    double a = 1, b = 0, c = 0, d = 0, e = 1, f = 0;
};

/// cv2.getRotationMatrix2D: rotation by `angle_deg` (counter-clockwise as seen on screen) and
/// uniform scale about the centre (cx, cy).
inline affine2 rotation_matrix(double cx, double cy, double angle_deg, double scale) {
    constexpr double pi = 3.14159265358979323846;
    const double alpha = scale * std::cos(angle_deg * pi / 180.0);
    const double beta = scale * std::sin(angle_deg * pi / 180.0);
    return affine2{alpha, beta, (1.0 - alpha) * cx - beta * cy, -beta, alpha, beta * cx + (1.0 - alpha) * cy};
}

/// The inverse map (the matrix must be invertible).
inline affine2 inverse(const affine2& m) {
    const double det = m.a * m.e - m.b * m.d;
    if (!(std::abs(det) > 0.0) || !std::isfinite(det))
        throw value_error("data::inverse: the affine transform is not invertible (determinant " + std::to_string(det) + ")");
    const double ia = m.e / det, ib = -m.b / det, id = -m.d / det, ie = m.a / det;
    return affine2{ia, ib, -(ia * m.c + ib * m.f), id, ie, -(id * m.c + ie * m.f)};
}

/// The drawn parameters of one random transform (faceswap's ImageAugmentation.transform followed
/// by random_flip): rotation in degrees, zoom factor, shift in pixels, and whether to flip.
struct transform_params {
    float rotation_deg = 0.0f;
    float scale = 1.0f;
    float shift_x = 0.0f;
    float shift_y = 0.0f;
    bool flip = false;
};

/// The destination-to-source map of a transform on an h x w image: the destination pixel (x, y)
/// is the source at the returned affine of (x, y). The rotation centre is (w / 2, h / 2) in
/// integer division, as faceswap's (size // 2, size // 2); the flip comes after the transform,
/// so it reads destination column w - 1 - x. With rotation 0, scale 1, shift 0 the map is exactly
/// the identity (or exactly the mirror).
inline affine2 destination_to_source(const transform_params& p, std::int64_t h, std::int64_t w) {
    affine2 m = rotation_matrix(static_cast<double>(w / 2), static_cast<double>(h / 2), p.rotation_deg, p.scale);
    m.c += p.shift_x;
    m.f += p.shift_y;
    affine2 inv = inverse(m);
    if (p.flip) {  // x -> (w - 1 - x) before the inverse transform
        inv.c += inv.a * static_cast<double>(w - 1);
        inv.a = -inv.a;
        inv.f += inv.d * static_cast<double>(w - 1);
        inv.d = -inv.d;
    }
    return inv;
}

/// Bilinear weights and clamped indices for sampling at (sx, sy) with replicated borders.
/// At integer positions the weights are exactly (1, 0), so the sample is exactly the pixel.
struct bilinear_tap {
    std::int64_t o00, o01, o10, o11;  // element offsets of the four pixels (times the channel count)
    float fx, fy;

    static bilinear_tap at(float sx, float sy, std::int64_t h, std::int64_t w, std::int64_t channels) {
        // Clamp first so huge or non-finite coordinates cannot overflow the integer conversion.
        sx = std::clamp(sx, -1.0f, static_cast<float>(w));
        sy = std::clamp(sy, -1.0f, static_cast<float>(h));
        if (!(sx == sx)) sx = 0.0f;
        if (!(sy == sy)) sy = 0.0f;
        std::int64_t x0 = static_cast<std::int64_t>(sx), y0 = static_cast<std::int64_t>(sy);
        if (static_cast<float>(x0) > sx) --x0;
        if (static_cast<float>(y0) > sy) --y0;
        bilinear_tap t;
        t.fx = sx - static_cast<float>(x0);
        t.fy = sy - static_cast<float>(y0);
        const std::int64_t xa = std::clamp<std::int64_t>(x0, 0, w - 1), xb = std::clamp<std::int64_t>(x0 + 1, 0, w - 1);
        const std::int64_t ya = std::clamp<std::int64_t>(y0, 0, h - 1), yb = std::clamp<std::int64_t>(y0 + 1, 0, h - 1);
        t.o00 = (ya * w + xa) * channels;
        t.o01 = (ya * w + xb) * channels;
        t.o10 = (yb * w + xa) * channels;
        t.o11 = (yb * w + xb) * channels;
        return t;
    }
    float sample(const float* img, std::int64_t ch) const {
        const float top = (1.0f - fx) * img[o00 + ch] + fx * img[o01 + ch];
        const float bottom = (1.0f - fx) * img[o10 + ch] + fx * img[o11 + ch];
        return (1.0f - fy) * top + fy * bottom;
    }
};

namespace detail {

/// Throws unless `t` is a defined CPU tensor of shape [H, W, C] (C given, or any C when channels < 0).
inline void require_image(const tensor& t, const char* who, const char* what, std::int64_t channels) {
    const std::string w = std::string(who) + ": " + what;
    if (!t.defined()) throw value_error(w + " is undefined");
    if (!t.on_cpu()) throw device_error(w + " must be a CPU tensor");
    const shape& s = t.shape();
    if (s.rank() != 3 || (channels >= 0 && s[2] != channels))
        throw shape_error(w + " must have shape [H, W, " + (channels >= 0 ? std::to_string(channels) : std::string("C")) +
                          "], got " + s.str());
    if (s[0] < 1 || s[1] < 1) throw value_error(w + " is empty (" + s.str() + ")");
}

}  // namespace detail

/// The image mirrored left to right ([H, W, C] in, same shape out).
inline tensor flip_horizontal(const tensor& image) {
    detail::require_image(image, "data::flip_horizontal", "image", -1);
    const std::int64_t h = image.shape()[0], w = image.shape()[1], c = image.shape()[2];
    tensor out = tensor::empty(image.shape());
    const float* src = image.data();
    float* dst = out.data();
    for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x)
            std::copy_n(src + (y * w + (w - 1 - x)) * c, c, dst + (y * w + x) * c);
    return out;
}

/// Resamples `image` ([H, W, C]) through the random transform `p` (bilinear, replicated border),
/// as faceswap's cv2.warpAffine(..., borderMode=BORDER_REPLICATE) followed by the flip.
inline tensor random_transform(const tensor& image, const transform_params& p) {
    detail::require_image(image, "data::random_transform", "image", -1);
    const std::int64_t h = image.shape()[0], w = image.shape()[1], c = image.shape()[2];
    const affine2 m = destination_to_source(p, h, w);
    const float ma = static_cast<float>(m.a), mb = static_cast<float>(m.b), mc = static_cast<float>(m.c);
    const float md = static_cast<float>(m.d), me = static_cast<float>(m.e), mf = static_cast<float>(m.f);
    tensor out = tensor::empty(image.shape());
    const float* src = image.data();
    float* dst = out.data();
    for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x) {
            const float fx = static_cast<float>(x), fy = static_cast<float>(y);
            const auto tap = bilinear_tap::at(ma * fx + mb * fy + mc, md * fx + me * fy + mf, h, w, c);
            for (std::int64_t ch = 0; ch < c; ++ch) dst[(y * w + x) * c + ch] = tap.sample(src, ch);
        }
    return out;
}

}  // namespace hg::data
