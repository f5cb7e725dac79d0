// Warping aligned faces back into their frames (face/paste_back.hpp): a mark drawn at a landmark in
// the crop lands on that landmark in the frame, a crop cut out and warped back reproduces the
// frame inside the crop, and compositing leaves every pixel outside the mask bit-identical.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>

#include "hourglass/core/rng.hpp"
#include "hourglass/face/alignment.hpp"
#include "hourglass/face/mean_face.hpp"
#include "hourglass/face/paste_back.hpp"

namespace {

namespace face = hg::face;
using hg::shape;
using hg::tensor;

/// The mean face placed in a frame by a similarity (scale s, rotation deg, centre at (cx, cy)).
face::landmarks placed_face(double s, double deg, double cx, double cy) {
    const double t = deg * 3.14159265358979323846 / 180.0, a = s * std::cos(t), b = s * std::sin(t);
    face::landmarks l;
    for (int i = 0; i < face::landmark_count; ++i) {
        // The jaw (not in the 51-point mean face) on an arc below the face.
        double u, v;
        if (i >= 17) {
            u = face::mean_face_2d[std::size_t(i - 17)][0] - 0.5;
            v = face::mean_face_2d[std::size_t(i - 17)][1] - 0.5;
        } else {
            const double ang = 3.14159265358979323846 * (0.05 + 0.9 * i / 16.0);
            u = -0.55 * std::cos(ang);
            v = 0.1 + 0.55 * std::sin(ang);
        }
        l(i, 0) = cx + a * u + b * v;
        l(i, 1) = cy - b * u + a * v;
    }
    return l;
}

/// A smooth random frame (low-frequency sinusoids per channel).
tensor smooth_frame(std::int64_t h, std::int64_t w, std::uint64_t seed) {
    hg::rng r(seed, 1);
    tensor t = tensor::empty(shape{h, w, 3});
    double f[3][4];
    for (auto& c : f)
        for (auto& v : c) v = r.uniform(0.01f, 0.05f);
    for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c)
                t[(y * w + x) * 3 + c] = static_cast<float>(0.5 + 0.2 * std::sin(f[c][0] * x + f[c][1] * y) +
                                                            0.2 * std::cos(f[c][2] * x - f[c][3] * y));
    return t;
}

}  // namespace

TEST_CASE("face::warp_to_frame: a mark at a landmark of the crop lands on that landmark in the frame") {
    const std::int64_t H = 360, W = 640, size = 256;
    const tensor frame = tensor::full(shape{H, W, 3}, 0.0f);
    for (const double deg : {-20.0, 0.0, 13.0}) {
        const face::landmarks l = placed_face(140, deg, 300.5, 170.25);
        face::alignment_options o;
        o.size = size;
        const auto m = face::frame_to_crop_matrix(l, o);
        const face::landmarks in_crop = face::transform_landmarks(l, m);
        for (const int k : {30, 36, 45, 48, 54}) {
            // A 5x5 bright square centred on the landmark's crop position (whole crop pixels), so
            // its centroid in the frame is the crop position mapped back.
            tensor crop = tensor::full(shape{size, size, 3}, 0.0f);
            const auto cx = static_cast<std::int64_t>(std::lround(in_crop(k, 0))), cy = static_cast<std::int64_t>(std::lround(in_crop(k, 1)));
            for (std::int64_t y = cy - 2; y <= cy + 2; ++y)
                for (std::int64_t x = cx - 2; x <= cx + 2; ++x)
                    for (int c = 0; c < 3; ++c) crop[(y * size + x) * 3 + c] = 1.0f;
            const auto p = face::warp_to_frame(frame, crop, tensor(), m);
            REQUIRE_FALSE(p.empty());
            double sx = 0, sy = 0, sw = 0;
            for (std::int64_t y = 0; y < p.height; ++y)
                for (std::int64_t x = 0; x < p.width; ++x) {
                    const double v = p.rgb[(y * p.width + x) * 3];
                    sx += v * double(p.x0 + x);
                    sy += v * double(p.y0 + y);
                    sw += v;
                }
            REQUIRE(sw > 0);
            // The mark is centred on crop pixel (cx, cy): in the frame its centroid must be that
            // point mapped back (bilinear resampling of a symmetric mark keeps its centroid: 0.05 px),
            // which is within half a crop pixel (diagonally) of the landmark itself.
            const auto inv = hg::data::inverse(m);
            const double ex = inv.a * double(cx) + inv.b * double(cy) + inv.c, ey = inv.d * double(cx) + inv.e * double(cy) + inv.f;
            const double frame_px_per_crop_px = std::sqrt(std::abs(inv.a * inv.e - inv.b * inv.d));
            CHECK(std::hypot(sx / sw - ex, sy / sw - ey) < 0.05);
            CHECK(std::hypot(sx / sw - l(k, 0), sy / sw - l(k, 1)) < 0.5 * std::sqrt(2.0) * frame_px_per_crop_px + 0.05);
        }
    }
}

TEST_CASE("face::warp_to_frame and composite: a crop warped back reproduces the frame, and pixels outside the mask are untouched") {
    const std::int64_t H = 300, W = 420, size = 192;
    const tensor frame = smooth_frame(H, W, 3);
    const face::landmarks l = placed_face(110, 9, 200, 150);
    face::alignment_options o;
    o.size = size;
    const auto m = face::frame_to_crop_matrix(l, o);
    const tensor crop = face::warp_to_crop(frame, m, size);
    const auto p = face::warp_to_frame(frame, crop, tensor(), m);
    REQUIRE_FALSE(p.empty());
    // Where the crop fully covers a frame pixel, cut-out-and-back is two bilinear resamplings of a
    // smooth picture (frequencies <= 0.05 rad/px): within 2e-3.
    double worst = 0;
    std::int64_t covered = 0;
    for (std::int64_t q = 0; q < p.height * p.width; ++q) {
        if (p.mask[q] < 1.0f) continue;
        ++covered;
        for (int c = 0; c < 3; ++c) worst = std::max(worst, double(std::abs(p.rgb[q * 3 + c] - p.original[q * 3 + c])));
    }
    CHECK(covered > 100 * 100);
    CHECK(worst < 2e-3);

    // Composite a different colour through a mask that is 0 on the left half of the crop.
    tensor half = tensor::full(shape{size, size, 1}, 0.0f);
    for (std::int64_t y = 0; y < size; ++y)
        for (std::int64_t x = size / 2; x < size; ++x) half[y * size + x] = 1.0f;
    const tensor red = [&] {
        tensor t = tensor::full(shape{size, size, 3}, 0.0f);
        for (std::int64_t q = 0; q < size * size; ++q) t[q * 3] = 1.0f;
        return t;
    }();
    const auto q = face::warp_to_frame(frame, red, half, m);
    tensor out = frame.clone();
    face::composite(out, q, q.rgb, q.mask);
    std::int64_t changed_outside = 0, changed = 0;
    for (std::int64_t y = 0; y < H; ++y)
        for (std::int64_t x = 0; x < W; ++x) {
            const bool in_region = x >= q.x0 && x < q.x0 + q.width && y >= q.y0 && y < q.y0 + q.height;
            const float mv = in_region ? q.mask[(y - q.y0) * q.width + (x - q.x0)] : 0.0f;
            bool differs = false;
            for (int c = 0; c < 3; ++c) differs |= out[(y * W + x) * 3 + c] != frame[(y * W + x) * 3 + c];
            changed += differs;
            if (mv == 0.0f) changed_outside += differs;
        }
    CHECK(changed > 50 * 50);        // the right half of the face became red
    CHECK(changed_outside == 0);     // and nothing where the mask is 0 changed, bit for bit
    // A crop entirely outside the frame gives an empty patch; bad shapes are refused.
    face::landmarks far = l;
    far.col(0).array() += 5000.0;
    CHECK(face::warp_to_frame(frame, crop, tensor(), face::frame_to_crop_matrix(far, o)).empty());
    CHECK_THROWS_AS(face::warp_to_frame(frame, crop, tensor::full(shape{size, size, 3}, 1.0f), m), hg::shape_error);
    CHECK_THROWS_AS(face::composite(out, q, crop, q.mask), hg::shape_error);
}
