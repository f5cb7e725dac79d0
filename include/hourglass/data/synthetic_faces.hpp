// Built-in synthetic faces: the default data set of the demo and the tests. render_face draws a
// face_identity in a face_pose (synthetic_face_model.hpp) at any size, anti-aliased (raster.hpp),
// with its face mask and its eye and mouth region masks; synthetic_face_set is the dataset-like
// view: sample i of {identity, size, count, seed} is make_identity(identity) rendered in
// make_pose(seed, i).
//
// Output: image [size, size, 3] in [0, 1]; face_mask, eye_mask, mouth_mask [size, size, 1] in
// [0, 1]. The face mask is the face outline (chin to skull top, under any hair); the eye mask two
// ellipses around the canonical eye places, the mouth mask one ellipse around the mouth that grows
// as it opens - both depend on the pose only (not on the identity) and lie inside every face
// outline. Everything is a pure function of (identity, pose, size): bitwise reproducible.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/data/raster.hpp"
#include "hourglass/data/synthetic_face_model.hpp"

namespace hg::data {

/// One rendered face with its masks.
struct synthetic_face {
    tensor image;       ///< [size, size, 3]
    tensor face_mask;   ///< [size, size, 1]
    tensor eye_mask;    ///< [size, size, 1]
    tensor mouth_mask;  ///< [size, size, 1]
};

/// Smallest and largest image sizes the renderer accepts.
inline constexpr std::int64_t synthetic_face_min_size = 8;
inline constexpr std::int64_t synthetic_face_max_size = 4096;

namespace face_render_detail {

inline rgb scaled(rgb c, float k) { return rgb{c.r * k, c.g * k, c.b * k}; }

/// The image being drawn, the face-units-to-pixels map of the pose, and a clip buffer.
class canvas {
public:
    canvas(std::int64_t size, const face_pose& pose)
        : n_(size), raster_(size, size), image_(static_cast<std::size_t>(3 * size * size), 0.0f),
          clip_(static_cast<std::size_t>(size * size), 0.0f) {
        const float pi = 3.14159265358979323846f;
        const float r = pose.roll_deg * pi / 180.0f;
        k_ = static_cast<float>(size) * pose.scale;
        cos_ = std::cos(r);
        sin_ = std::sin(r);
        cx_ = static_cast<float>(size) * (0.5f + pose.offset_x);
        cy_ = static_cast<float>(size) * (0.5f + pose.offset_y);
    }

    std::int64_t size() const { return n_; }
    float pixels_per_unit() const { return k_; }
    float* image() { return image_.data(); }

    /// Face units to pixel coordinates.
    point to_pixels(point f) const {
        return point{cx_ + k_ * (cos_ * f.x + sin_ * f.y), cy_ + k_ * (-sin_ * f.x + cos_ * f.y)};
    }
    /// Pixel coordinates to face units.
    point to_face(point p) const {
        const float x = (p.x - cx_) / k_, y = (p.y - cy_) / k_;
        return point{cos_ * x - sin_ * y, sin_ * x + cos_ * y};
    }
    polygon to_pixels(const polygon& f) const {
        polygon p(f.size());
        for (std::size_t i = 0; i < f.size(); ++i) p[i] = to_pixels(f[i]);
        return p;
    }

    /// Rasterises a shape given in face units (the coverage stays in raster()).
    const coverage_raster& cover(const polygon& face_units) {
        raster_.fill(to_pixels(face_units));
        return raster_;
    }
    /// Rasterises a shape given in pixels.
    const coverage_raster& cover_pixels(const polygon& pixels) {
        raster_.fill(pixels);
        return raster_;
    }

    /// Paints a shape in face units with colour c and opacity alpha (times the clip when clipped).
    void paint(const polygon& face_units, rgb c, float alpha = 1.0f, bool clipped = false) {
        cover(face_units);
        blend(c, alpha, clipped);
    }
    void paint_pixels(const polygon& pixels, rgb c, float alpha = 1.0f) {
        cover_pixels(pixels);
        blend(c, alpha, false);
    }

    /// Keeps the coverage of the last shape as the clip for later clipped paints.
    void save_clip() {
        for (std::int64_t y = clip_box_.y0; y < clip_box_.y1; ++y)
            std::fill(clip_.begin() + y * n_ + clip_box_.x0, clip_.begin() + y * n_ + clip_box_.x1, 0.0f);
        clip_box_ = raster_.box();
        const float* c = raster_.coverage();
        for (std::int64_t y = clip_box_.y0; y < clip_box_.y1; ++y)
            std::copy(c + y * n_ + clip_box_.x0, c + y * n_ + clip_box_.x1, clip_.begin() + y * n_ + clip_box_.x0);
    }

    /// Copies (or max-merges) the last shape's coverage into a mask of size * size values.
    void coverage_to_mask(float* mask, bool merge_max) const {
        const pixel_box& b = raster_.box();
        const float* c = raster_.coverage();
        for (std::int64_t y = b.y0; y < b.y1; ++y)
            for (std::int64_t x = b.x0; x < b.x1; ++x) {
                const std::int64_t i = y * n_ + x;
                mask[i] = merge_max ? std::max(mask[i], c[i]) : c[i];
            }
    }

private:
    void blend(rgb c, float alpha, bool clipped) {
        const pixel_box& b = raster_.box();
        const float* cov = raster_.coverage();
        for (std::int64_t y = b.y0; y < b.y1; ++y)
            for (std::int64_t x = b.x0; x < b.x1; ++x) {
                const std::int64_t i = y * n_ + x;
                float a = cov[i] * alpha;
                if (clipped) a *= clip_[static_cast<std::size_t>(i)];
                if (a <= 0.0f) continue;
                float* px = image_.data() + 3 * i;
                px[0] += a * (c.r - px[0]);
                px[1] += a * (c.g - px[1]);
                px[2] += a * (c.b - px[2]);
            }
    }

    std::int64_t n_;
    coverage_raster raster_;
    std::vector<float> image_;
    std::vector<float> clip_;
    pixel_box clip_box_;
    float k_, cos_, sin_, cx_, cy_;
};

/// Points of a cubic Bezier in face units, `segments` pieces, both ends included.
inline polygon cubic(point p0, point c1, point c2, point p3, int segments) {
    polygon p;
    append_cubic(p, p0, c1, c2, p3, segments);
    return p;
}

inline polygon reversed(polygon p) {
    std::reverse(p.begin(), p.end());
    return p;
}

inline polygon join(polygon a, const polygon& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

/// Stroke in face units with half width hw(t), t in [0, 1] along the path.
template <class F>
polygon stroke_path(const polygon& path, F hw) {
    std::vector<float> w(path.size());
    for (std::size_t i = 0; i < path.size(); ++i)
        w[i] = hw(path.size() > 1 ? static_cast<float>(i) / static_cast<float>(path.size() - 1) : 0.0f);
    return stroke(path, w);
}

/// Draws the parts of one face on a canvas, back to front.
struct face_painter {
    canvas& cv;
    const face_identity& who;
    const face_pose& pose;
    std::int64_t size;
    float a;          // face half width
    float hair_top;   // skull top plus the hair volume
    float hair_side;  // face half width plus the hair volume at the sides

    face_painter(canvas& c, const face_identity& w, const face_pose& p)
        : cv(c), who(w), pose(p), size(c.size()), a(w.face_half_width), hair_top(w.forehead + w.hair_volume),
          hair_side(w.face_half_width + 0.6f * w.hair_volume) {}

    /// Segments for a curve of the given extent in face units.
    int segs(float extent) const { return curve_segments(extent * cv.pixels_per_unit()); }

    /// A linear gradient and a few out-of-focus blobs (part of the picture: from the pose).
    void background() {
        float* img = cv.image();
        const float dxb = std::cos(pose.background_angle), dyb = std::sin(pose.background_angle);
        for (std::int64_t y = 0; y < size; ++y)
            for (std::int64_t x = 0; x < size; ++x) {
                const float u = (static_cast<float>(x) + 0.5f) / static_cast<float>(size) - 0.5f;
                const float v = (static_cast<float>(y) + 0.5f) / static_cast<float>(size) - 0.5f;
                const float t = std::clamp(0.5f + u * dxb + v * dyb, 0.0f, 1.0f);
                float* p = img + 3 * (y * size + x);
                p[0] = pose.background_a.r + t * (pose.background_b.r - pose.background_a.r);
                p[1] = pose.background_a.g + t * (pose.background_b.g - pose.background_a.g);
                p[2] = pose.background_a.b + t * (pose.background_b.b - pose.background_a.b);
            }
        const float s = static_cast<float>(size);
        for (int i = 0; i < 3; ++i)
            cv.paint_pixels(ellipse(point{pose.blob_x[i] * s, pose.blob_y[i] * s}, pose.blob_r[i] * s, pose.blob_r[i] * s),
                            pose.blob_color[i], 0.3f);
    }

    /// Long hair behind the head (hair style 1).
    void hair_behind() {
        if (who.hair_style != 1) return;
        polygon back;
        const int k = segs(hair_top);
        for (int i = 0; i <= k; ++i) {  // upper arc, right to left over the top
            const float t = 3.14159265f * static_cast<float>(i) / static_cast<float>(k);
            back.push_back(point{(hair_side + 0.02f) * std::cos(t), -(hair_top + 0.01f) * std::sin(t)});
        }
        back.push_back(point{-(a + 0.07f), 0.40f});
        append_cubic(back, point{-(a + 0.07f), 0.40f}, point{-(a + 0.03f), 0.47f}, point{a + 0.03f, 0.47f},
                     point{a + 0.07f, 0.40f}, segs(a));
        cv.paint(back, scaled(who.hair, 0.8f));
    }

    void clothes_and_neck() {
        const float kw = a / 0.3f;
        cv.paint(ellipse(point{0.0f, 0.74f}, 0.56f, 0.25f), who.clothes);
        cv.paint(polygon{{-0.1f * kw, 0.15f}, {0.1f * kw, 0.15f}, {0.115f * kw, 0.5f}, {0.0f, 0.58f}, {-0.115f * kw, 0.5f}},
                 scaled(who.skin, 0.8f));
    }

    void ears() {
        for (float s : {-1.0f, 1.0f}) {
            const point c{s * (a - 0.012f), -0.01f};
            cv.paint(ellipse(c, 0.55f * who.ear_size, who.ear_size, s * 0.15f, segs(who.ear_size)), scaled(who.skin, 0.92f));
            cv.paint(ellipse(point{c.x + s * 0.01f, c.y}, 0.3f * who.ear_size, 0.65f * who.ear_size, s * 0.15f,
                             segs(who.ear_size)),
                     scaled(who.skin, 0.75f), 0.6f);
        }
    }

    /// The face outline (the upper half an ellipse to the skull top, the lower half narrowing to
    /// the chin), whose coverage is also the face mask (size * size values).
    void face(float* face_mask) {
        polygon outline;
        const int k = 2 * segs(std::max(a, who.forehead));
        for (int i = 0; i < k; ++i) {
            const float t = 6.28318530717958647692f * static_cast<float>(i) / static_cast<float>(k);
            const float c = std::cos(t), s = std::sin(t);
            if (s >= 0.0f)
                outline.push_back(point{a * c * (1.0f - who.jaw_taper * s * s), who.chin * s});
            else
                outline.push_back(point{a * c, who.forehead * s});
        }
        cv.paint(outline, who.skin);
        cv.coverage_to_mask(face_mask, false);
    }

    /// Hair on top of the head, down to the hairline (or a fringe); thin for the cropped style.
    void hair() {
        const bool cropped = who.hair_style == 3;
        const float top = cropped ? who.forehead + 0.006f : hair_top;
        const float side = cropped ? a + 0.004f : hair_side;
        const float eye_top = face_layout::eye_y + who.eye_dy;
        polygon cap;
        // Outer arc from the right side (y = -0.06) over the top to the left side.
        const float t0 = std::asin(std::clamp(0.06f / top, 0.0f, 1.0f));
        const int k = segs(top);
        for (int i = 0; i <= k; ++i) {
            const float t = t0 + (3.14159265f - 2.0f * t0) * static_cast<float>(i) / static_cast<float>(k);
            cap.push_back(point{side * std::cos(t), -top * std::sin(t)});
        }
        const point tl{-a * 0.98f, -0.09f}, tr{a * 0.98f, -0.09f};
        const int kh = segs(a);
        if (who.hair_style == 2) {
            // Fringe: a jagged edge straight across, above the brows.
            const float edge = eye_top - who.brow_gap - who.brow_arch - who.brow_thickness - 0.015f;
            cap.push_back(tl);
            const int teeth = 14;
            for (int i = 0; i <= teeth; ++i) {
                const float x = -a * 0.95f + 1.9f * a * static_cast<float>(i) / static_cast<float>(teeth);
                const float y = edge - 0.01f * (x / a) * (x / a) - ((i % 2) ? 0.014f : 0.0f);
                cap.push_back(point{x, y});
            }
            cap.push_back(tr);
        } else {
            const float part = who.hair_style == 4 ? (who.id % 2 ? 0.07f : -0.07f) : 0.0f;
            const float hl = who.hairline - (who.hair_style == 4 ? 0.015f : 0.0f);
            polygon line = cubic(tl, point{-a * 0.95f, hl + 0.03f}, point{-a * 0.45f + part, hl}, point{part, hl}, kh);
            append_cubic(line, point{part, hl}, point{a * 0.45f + part, hl}, point{a * 0.95f, hl + 0.03f}, tr, kh);
            cap = join(cap, line);
        }
        cv.paint(cap, who.hair, cropped ? 0.55f : 1.0f);
        if (!cropped) {
            // A sheen along the top.
            polygon sheen;
            const int ks = segs(top);
            for (int i = 0; i <= ks; ++i) {
                const float t = 0.9f + 1.34f * static_cast<float>(i) / static_cast<float>(ks);
                sheen.push_back(point{0.8f * side * std::cos(t), -0.86f * top * std::sin(t)});
            }
            cv.paint(stroke_path(sheen, [](float t) { return 0.01f * std::sin(3.14159265f * t); }),
                     rgb{std::min(1.0f, who.hair.r * 1.5f + 0.1f), std::min(1.0f, who.hair.g * 1.5f + 0.1f),
                         std::min(1.0f, who.hair.b * 1.5f + 0.1f)},
                     0.3f);
        }
    }

    /// Per eye: the brow, the eye white with the iris, pupil and highlight clipped to it, the upper
    /// lid line (all that is left of a closed eye) and the crease above it.
    void eyes_and_brows() {
        const float ew = who.eye_half_width, eh = ew * who.eye_aspect;
        const float ct = std::cos(who.eye_tilt), st = std::sin(who.eye_tilt);
        const rgb brow_color = scaled(who.hair, 0.75f);
        for (float s : {-1.0f, 1.0f}) {
            const point e{s * (face_layout::eye_x + who.eye_dx), face_layout::eye_y + who.eye_dy};
            // Eye-local (x outward, y down), tilted so the outer corner rises for a positive tilt.
            auto at = [&](float x, float y) { return point{e.x + s * (x * ct + y * st), e.y + (-x * st + y * ct)}; };
            const int k = segs(ew);

            // Brow.
            const float g = who.brow_gap, ar = who.brow_arch;
            const polygon brow = cubic(at(-0.85f * ew, -g + 0.006f), at(-0.3f * ew, -g - ar - 0.006f),
                                       at(0.5f * ew, -g - ar - 0.004f), at(1.15f * ew, -g + 0.01f), k);
            const float th = who.brow_thickness;
            cv.paint(stroke_path(brow, [&](float t) { return 0.5f * th * std::min(1.0f, (t + 0.2f) / 0.3f) * (1.0f - 0.7f * t); }),
                     brow_color);

            // Eye white, clipped iris, pupil and highlight.
            const float up = eh * pose.eye_open, lo = 0.75f * eh * pose.eye_open;
            const polygon upper = cubic(at(-ew, 0.0f), at(-0.45f * ew, -1.33f * up), at(0.5f * ew, -1.33f * up), at(ew, 0.0f), k);
            const polygon lower = cubic(at(ew, 0.0f), at(0.45f * ew, 1.33f * lo), at(-0.5f * ew, 1.33f * lo), at(-ew, 0.0f), k);
            if (pose.eye_open > 0.02f) {
                cv.paint(join(upper, lower), rgb{0.93f, 0.91f, 0.88f});
                cv.save_clip();
                const float rad = who.iris_ratio * ew;
                const point ic{e.x + pose.gaze_x * 0.42f * ew, e.y + pose.gaze_y * 0.3f * eh};
                const int ki = segs(rad);
                cv.paint(ellipse(ic, rad, rad, 0.0f, ki), scaled(who.iris, 0.7f), 1.0f, true);
                cv.paint(ellipse(ic, 0.8f * rad, 0.8f * rad, 0.0f, ki), who.iris, 1.0f, true);
                cv.paint(ellipse(ic, 0.42f * rad, 0.42f * rad, 0.0f, ki), rgb{0.03f, 0.02f, 0.02f}, 1.0f, true);
                cv.paint(ellipse(point{ic.x - 0.35f * rad, ic.y - 0.35f * rad}, 0.2f * rad, 0.2f * rad, 0.0f, ki),
                         rgb{1.0f, 1.0f, 1.0f}, 0.85f, true);
            }
            // Upper lid line (the whole closed eye when blinking) and the crease above it.
            cv.paint(stroke_path(upper, [](float t) { return 0.0035f + 0.0025f * std::sin(3.14159265f * t); }),
                     rgb{0.1f, 0.07f, 0.06f});
            const float crease_h = -0.8f * eh - 0.5f * up - 0.004f;  // stays inside the eye region
            const polygon crease = cubic(at(-0.8f * ew, -0.25f * eh - 0.004f), at(-0.4f * ew, crease_h),
                                         at(0.45f * ew, crease_h), at(0.95f * ew, -0.2f * eh - 0.004f), k);
            cv.paint(stroke_path(crease, [](float t) { return 0.0022f * std::sin(3.14159265f * t); }), scaled(who.skin, 0.7f), 0.5f);
        }
    }

    /// Bridge shading, tip highlight, wings and nostrils.
    void nose() {
        const float tip = face_layout::eye_y + who.eye_dy + who.nose_length;
        const float nw = who.nose_width;
        const float ey = face_layout::eye_y + who.eye_dy;
        const int k = segs(nw);
        for (float s : {-1.0f, 1.0f}) {
            const polygon side = cubic(point{s * 0.02f, ey + 0.025f}, point{s * 0.022f, ey + 0.06f},
                                       point{s * 0.5f * nw, tip - 0.04f}, point{s * 0.6f * nw, tip - 0.012f}, k);
            cv.paint(stroke_path(side, [](float t) { return 0.0045f * std::sin(3.14159265f * (0.15f + 0.85f * t)); }),
                     scaled(who.skin, 0.75f), 0.35f);
        }
        cv.paint(ellipse(point{0.0f, tip - 0.006f}, 0.55f * nw, 0.02f), scaled(who.skin, 1.06f), 0.5f);
        for (float s : {-1.0f, 1.0f}) {
            cv.paint(ellipse(point{s * 0.75f * nw, tip + 0.002f}, 0.35f * nw, 0.016f), scaled(who.skin, 0.86f), 0.6f);
            cv.paint(ellipse(point{s * 0.38f * nw, tip + 0.012f}, 0.22f * nw, 0.0065f, s * 0.3f), scaled(who.skin, 0.35f), 0.9f);
        }
    }

    /// Lips, and when open the mouth's inside and the upper teeth.
    void mouth() {
        const float ym = face_layout::mouth_y + who.mouth_dy;
        const float mw = who.mouth_half_width * (1.0f + 0.08f * std::max(0.0f, pose.smile));
        const float lt = who.lip_thickness;
        const float yc = ym - 0.02f * pose.smile;
        const float drop = pose.mouth_open * face_layout::mouth_open_drop;
        const point l{-mw, yc}, r{mw, yc};
        const int k = segs(mw);
        const float mid = ym + 0.006f * pose.smile;
        const polygon upper_inner = cubic(l, point{-mw / 3, mid - 0.006f * pose.mouth_open},
                                          point{mw / 3, mid - 0.006f * pose.mouth_open}, r, k);
        const polygon lower_inner = cubic(l, point{-mw / 3, mid + 1.33f * drop}, point{mw / 3, mid + 1.33f * drop}, r, k);
        polygon upper_outer = cubic(l, point{-0.6f * mw, ym - 1.1f * lt}, point{-0.3f * mw, ym - 1.5f * lt},
                                    point{0.0f, ym - 1.05f * lt}, k);
        append_cubic(upper_outer, point{0.0f, ym - 1.05f * lt}, point{0.3f * mw, ym - 1.5f * lt},
                     point{0.6f * mw, ym - 1.1f * lt}, r, k);
        const polygon lower_outer =
            cubic(r, point{0.55f * mw, ym + drop + 1.9f * lt}, point{-0.55f * mw, ym + drop + 1.9f * lt}, l, k);
        if (pose.mouth_open > 0.02f) {
            cv.paint(join(upper_inner, reversed(lower_inner)), rgb{0.28f, 0.07f, 0.08f});
            cv.save_clip();
            const float teeth = std::min(0.018f, 0.5f * drop);
            polygon shifted = upper_inner;
            for (point& q : shifted) q.y += teeth;
            cv.paint(join(upper_inner, reversed(shifted)), rgb{0.93f, 0.91f, 0.86f}, 1.0f, true);
        }
        cv.paint(join(upper_outer, reversed(upper_inner)), scaled(who.lips, 0.9f));
        cv.paint(join(lower_inner, lower_outer), who.lips);
        cv.paint(stroke_path(upper_inner, [](float t) { return 0.0025f * std::sin(3.14159265f * t); }),
                 scaled(who.lips, 0.45f), pose.mouth_open > 0.02f ? 0.3f : 0.9f);
        cv.paint(ellipse(point{0.0f, ym + drop + 0.9f * lt}, 0.3f * mw, 0.3f * lt), scaled(who.lips, 1.2f), 0.35f);
    }

    /// A Lambert term on a pseudo-normal of the head (an ellipsoid), the pose's brightness and
    /// colour tint; continuous everywhere (outside the head the normal lies in the image plane).
    void lighting() {
        float* img = cv.image();
        const float lx = 0.7f * std::cos(pose.light_angle), ly = 0.7f * std::sin(pose.light_angle), lz = 0.714f;
        const float tr = 1.0f + 0.06f * pose.tint, tb = 1.0f - 0.06f * pose.tint;
        const float ra = 1.1f * a, rb = 1.1f * 0.5f * (who.chin + who.forehead);
        for (std::int64_t y = 0; y < size; ++y)
            for (std::int64_t x = 0; x < size; ++x) {
                const point f = cv.to_face(point{static_cast<float>(x) + 0.5f, static_cast<float>(y) + 0.5f});
                float nx = f.x / ra, ny = f.y / rb;
                const float r2 = nx * nx + ny * ny;
                float nz = 0.0f;
                if (r2 > 1.0f) {
                    const float r = std::sqrt(r2);
                    nx /= r, ny /= r;
                } else {
                    nz = std::sqrt(1.0f - r2);
                }
                const float lambert = std::max(0.0f, nx * lx + ny * ly + nz * lz);
                const float shade = pose.brightness * (1.0f - pose.light_strength + pose.light_strength * lambert / lz);
                float* p = img + 3 * (y * size + x);
                p[0] = std::clamp(p[0] * shade * tr, 0.0f, 1.0f);
                p[1] = std::clamp(p[1] * shade, 0.0f, 1.0f);
                p[2] = std::clamp(p[2] * shade * tb, 0.0f, 1.0f);
            }
    }

    /// Region masks: canonical places, pose only.
    void region_masks(float* eye_mask, float* mouth_mask) {
        for (float s : {-1.0f, 1.0f}) {
            cv.cover(ellipse(point{s * face_layout::eye_x, face_layout::eye_y}, face_layout::eye_region_rx,
                             face_layout::eye_region_ry, 0.0f, segs(face_layout::eye_region_rx)));
            cv.coverage_to_mask(eye_mask, true);
        }
        const float drop = pose.mouth_open * face_layout::mouth_open_drop;
        cv.cover(ellipse(point{0.0f, face_layout::mouth_y + 0.5f * drop}, face_layout::mouth_region_rx,
                         face_layout::mouth_region_ry + face_layout::mouth_region_open_ry * pose.mouth_open, 0.0f,
                         segs(face_layout::mouth_region_rx)));
        cv.coverage_to_mask(mouth_mask, false);
    }
};

}  // namespace face_render_detail

/// Renders `who` in `pose` at size x size pixels. Throws value_error for a size outside
/// [synthetic_face_min_size, synthetic_face_max_size].
inline synthetic_face render_face(const face_identity& who, const face_pose& pose, std::int64_t size) {
    using namespace face_render_detail;
    if (size < synthetic_face_min_size || size > synthetic_face_max_size)
        throw value_error("data::render_face: image size " + std::to_string(size) + " is outside [" +
                          std::to_string(synthetic_face_min_size) + ", " + std::to_string(synthetic_face_max_size) + "]");
    canvas cv(size, pose);
    face_painter paint(cv, who, pose);
    synthetic_face out;
    out.face_mask = tensor::zeros(shape{size, size, 1});
    out.eye_mask = tensor::zeros(shape{size, size, 1});
    out.mouth_mask = tensor::zeros(shape{size, size, 1});
    paint.background();
    paint.hair_behind();
    paint.clothes_and_neck();
    paint.ears();
    paint.face(out.face_mask.data());
    paint.hair();
    paint.eyes_and_brows();
    paint.nose();
    paint.mouth();
    paint.lighting();
    paint.region_masks(out.eye_mask.data(), out.mouth_mask.data());
    out.image = tensor::empty(shape{size, size, 3});
    std::copy(cv.image(), cv.image() + 3 * size * size, out.image.data());
    return out;
}

/// The three masks stacked as channels (face, eye, mouth): one [size, size, 3] tensor, for
/// pipelines that carry all masks of a sample in one tensor.
inline tensor stacked_masks(const synthetic_face& f) {
    const std::int64_t h = f.face_mask.shape()[0], w = f.face_mask.shape()[1];
    tensor out = tensor::empty(shape{h, w, 3});
    for (std::int64_t p = 0; p < h * w; ++p) {
        out[3 * p] = f.face_mask[p];
        out[3 * p + 1] = f.eye_mask[p];
        out[3 * p + 2] = f.mouth_mask[p];
    }
    return out;
}

/// A set of `count` pictures of one identity: sample i is the identity `identity` rendered at
/// `size` px in make_pose(seed, i). Two sets with the same seed share their poses.
struct synthetic_face_set {
    std::uint64_t identity = 0;
    std::int64_t size = 64;
    std::int64_t count = 1000;
    std::uint64_t seed = 0;

    /// Throws value_error naming the setting when the size or the count is invalid.
    void validate() const {
        if (size < synthetic_face_min_size || size > synthetic_face_max_size)
            throw value_error("data::synthetic_face_set: size " + std::to_string(size) + " is outside [" +
                              std::to_string(synthetic_face_min_size) + ", " +
                              std::to_string(synthetic_face_max_size) + "]");
        if (count < 1) throw value_error("data::synthetic_face_set: count " + std::to_string(count) + " is below 1");
    }
    std::int64_t length() const { return count; }
    face_identity person() const { return make_identity(identity); }
    face_pose pose(std::int64_t i) const {
        check_index(i);
        return make_pose(seed, static_cast<std::uint64_t>(i));
    }
    synthetic_face sample(std::int64_t i) const {
        validate();
        return render_face(person(), pose(i), size);
    }

private:
    void check_index(std::int64_t i) const {
        validate();
        if (i < 0 || i >= count)
            throw value_error("data::synthetic_face_set: sample index " + std::to_string(i) + " is outside [0, " +
                              std::to_string(count) + ")");
    }
};

/// The images of faces i in [first, first + count) of a set, stacked: host [count, size, size, 3].
inline tensor synthetic_images(const synthetic_face_set& set, std::int64_t first, std::int64_t count) {
    const std::int64_t px = set.size * set.size * 3;
    auto out = tensor::empty(shape{count, set.size, set.size, 3});
    for (std::int64_t i = 0; i < count; ++i) {
        const auto f = set.sample(first + i);
        std::copy_n(f.image.data(), px, out.data() + i * px);
    }
    return out;
}

/// The face masks of faces i in [first, first + count) of a set, stacked: host [count, size, size, 1].
inline tensor synthetic_face_masks(const synthetic_face_set& set, std::int64_t first, std::int64_t count) {
    const std::int64_t px = set.size * set.size;
    auto out = tensor::empty(shape{count, set.size, set.size, 1});
    for (std::int64_t i = 0; i < count; ++i) {
        const auto f = set.sample(first + i);
        std::copy_n(f.face_mask.data(), px, out.data() + i * px);
    }
    return out;
}

}  // namespace hg::data
