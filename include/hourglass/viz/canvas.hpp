// hg::viz::canvas: an RGB float picture [H, W, 3] (values in [0, 1]) to draw plots on: pixels,
// Bresenham lines (any thickness, solid or dashed), rectangles, pasted images and text in the
// built-in bitmap font (font.hpp), horizontal or turned 90 degrees counter-clockwise.
//
// Contract:
// - Coordinates are pixels, x to the right and y down, (0, 0) the top-left pixel. Whatever falls
//   outside the canvas, or outside the clip rectangle when one is set, is silently left out; only
//   get() throws (value_error) for a pixel outside the canvas.
// - text(x, y, ...) puts the top-left corner of the text's box (text_width x text_height) at
//   (x, y). vertical_text(x, y, ...) draws the same text turned 90 degrees counter-clockwise (it
//   reads from bottom to top) in a box text_height wide and text_width tall whose top-left corner
//   is (x, y).
// - The canvas owns its tensor; image() returns it (a CPU tensor [H, W, 3]); draw calls after
//   image() change the same storage.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/viz/font.hpp"

namespace hg::viz {

/// A colour: red, green, blue in [0, 1].
using rgb = std::array<float, 3>;

namespace colours {
inline constexpr rgb black{0.f, 0.f, 0.f};
inline constexpr rgb white{1.f, 1.f, 1.f};
inline constexpr rgb grey{0.5f, 0.5f, 0.5f};
inline constexpr rgb light_grey{0.88f, 0.88f, 0.88f};
inline constexpr rgb dark_grey{0.25f, 0.25f, 0.25f};
inline constexpr rgb red{0.84f, 0.15f, 0.16f};
inline constexpr rgb blue{0.12f, 0.35f, 0.80f};
inline constexpr rgb green{0.17f, 0.60f, 0.17f};
inline constexpr rgb orange{0.95f, 0.50f, 0.05f};
inline constexpr rgb purple{0.55f, 0.30f, 0.70f};
}  // namespace colours

/// `c` mixed with white: amount 0 gives `c`, amount 1 gives white (a light tint in between).
constexpr rgb tint(const rgb& c, float amount) {
    return {c[0] + (1.f - c[0]) * amount, c[1] + (1.f - c[1]) * amount, c[2] + (1.f - c[2]) * amount};
}

class canvas {
public:
    /// A width x height canvas filled with `background`; value_error unless both are in [1, 65535].
    canvas(std::int64_t width, std::int64_t height, const rgb& background = colours::white)
        : w_(width), h_(height) {
        if (width < 1 || height < 1 || width > 65535 || height > 65535)
            throw value_error("viz::canvas: size " + std::to_string(width) + " x " + std::to_string(height) +
                              " is not between 1 and 65535 pixels per side");
        img_ = tensor::empty(hg::shape{h_, w_, 3});
        float* p = img_.data();
        for (std::int64_t i = 0; i < w_ * h_; ++i)
            for (int k = 0; k < 3; ++k) p[i * 3 + k] = background[static_cast<std::size_t>(k)];
        unclip();
    }

    std::int64_t width() const { return w_; }
    std::int64_t height() const { return h_; }
    const tensor& image() const { return img_; }

    /// Restricts drawing to the rectangle [x, x + w) x [y, y + h) (intersected with the canvas).
    void clip(std::int64_t x, std::int64_t y, std::int64_t w, std::int64_t h) {
        cx0_ = std::max<std::int64_t>(0, x);
        cy0_ = std::max<std::int64_t>(0, y);
        cx1_ = std::min(w_, x + std::max<std::int64_t>(0, w));
        cy1_ = std::min(h_, y + std::max<std::int64_t>(0, h));
    }
    /// Drawing may reach the whole canvas again.
    void unclip() { cx0_ = 0, cy0_ = 0, cx1_ = w_, cy1_ = h_; }

    /// Sets one pixel (left out when outside the canvas or the clip rectangle).
    void set(std::int64_t x, std::int64_t y, const rgb& c) {
        if (x < cx0_ || y < cy0_ || x >= cx1_ || y >= cy1_) return;
        float* p = img_.data() + (y * w_ + x) * 3;
        p[0] = c[0], p[1] = c[1], p[2] = c[2];
    }
    /// The colour of one pixel; value_error outside the canvas.
    rgb get(std::int64_t x, std::int64_t y) const {
        if (x < 0 || y < 0 || x >= w_ || y >= h_)
            throw value_error("viz::canvas::get: pixel (" + std::to_string(x) + ", " + std::to_string(y) +
                              ") is outside the " + std::to_string(w_) + " x " + std::to_string(h_) + " canvas");
        const float* p = img_.data() + (y * w_ + x) * 3;
        return {p[0], p[1], p[2]};
    }

    /// Fills [x, x + w) x [y, y + h).
    void fill_rect(std::int64_t x, std::int64_t y, std::int64_t w, std::int64_t h, const rgb& c) {
        const std::int64_t x0 = std::max(x, cx0_), y0 = std::max(y, cy0_);
        const std::int64_t x1 = std::min(x + w, cx1_), y1 = std::min(y + h, cy1_);
        for (std::int64_t yy = y0; yy < y1; ++yy)
            for (std::int64_t xx = x0; xx < x1; ++xx) set(xx, yy, c);
    }
    /// The 1-pixel outline of [x, x + w) x [y, y + h).
    void rect(std::int64_t x, std::int64_t y, std::int64_t w, std::int64_t h, const rgb& c) {
        if (w < 1 || h < 1) return;
        fill_rect(x, y, w, 1, c);
        fill_rect(x, y + h - 1, w, 1, c);
        fill_rect(x, y, 1, h, c);
        fill_rect(x + w - 1, y, 1, h, c);
    }

    /// A Bresenham line from (x0, y0) to (x1, y1), both ends included. With thickness t > 1 every
    /// point of the line becomes a t x t square centred on it (offset (t - 1) / 2 up and left).
    void line(std::int64_t x0, std::int64_t y0, std::int64_t x1, std::int64_t y1, const rgb& c, int thickness = 1) {
        walk(x0, y0, x1, y1, [&](std::int64_t x, std::int64_t y, std::int64_t) { dot(x, y, c, thickness); });
    }
    /// A dashed line: `dash` pixels drawn, `gap` pixels skipped, counted along the Bresenham steps.
    void dashed_line(std::int64_t x0, std::int64_t y0, std::int64_t x1, std::int64_t y1, const rgb& c, int dash = 4,
                     int gap = 3, int thickness = 1) {
        const std::int64_t period = std::max(1, dash) + std::max(0, gap);
        walk(x0, y0, x1, y1, [&](std::int64_t x, std::int64_t y, std::int64_t i) {
            if (i % period < std::max(1, dash)) dot(x, y, c, thickness);
        });
    }

    /// Pastes a CPU image [h, w, 3] or [1, h, w, 3] with its top-left pixel at (x, y); values are
    /// clamped to [0, 1] and NaN is drawn as 0. shape_error for any other shape.
    void paste(std::int64_t x, std::int64_t y, const tensor& picture) {
        const hg::shape& s = picture.shape();
        const bool rank3 = s.rank() == 3 && s[2] == 3, rank4 = s.rank() == 4 && s[0] == 1 && s[3] == 3;
        if (!picture.defined() || !(rank3 || rank4))
            throw shape_error("viz::canvas::paste: expected an image [h, w, 3] or [1, h, w, 3], got " +
                              (picture.defined() ? s.str() : std::string("an undefined tensor")));
        if (!picture.on_cpu()) throw device_error("viz::canvas::paste: the image must be a CPU tensor");
        const std::int64_t ph = rank3 ? s[0] : s[1], pw = rank3 ? s[1] : s[2];
        const float* src = picture.data();
        for (std::int64_t yy = 0; yy < ph; ++yy)
            for (std::int64_t xx = 0; xx < pw; ++xx) {
                const float* q = src + (yy * pw + xx) * 3;
                set(x + xx, y + yy, {unit(q[0]), unit(q[1]), unit(q[2])});
            }
    }

    /// Width in pixels of `text` at `scale` (see font.hpp).
    static std::int64_t text_width(std::string_view text, std::int64_t scale = 1) { return font::text_width(text, scale); }
    /// Height in pixels of a line of text at `scale`, descenders included.
    static std::int64_t text_height(std::int64_t scale = 1) { return font::text_height(scale); }

    /// Draws `text` with the top-left corner of its box at (x, y); each font pixel becomes a
    /// scale x scale square. value_error for scale < 1.
    void text(std::int64_t x, std::int64_t y, std::string_view text, const rgb& c, std::int64_t scale = 1) {
        check_scale(scale, "text");
        for (std::size_t i = 0; i < text.size(); ++i) {
            const std::int64_t gx = x + static_cast<std::int64_t>(i) * font::glyph_advance * scale;
            for (int row = 0; row < font::glyph_height; ++row)
                for (int col = 0; col < font::glyph_width; ++col)
                    if (font::ink(text[i], col, row)) fill_rect(gx + col * scale, y + row * scale, scale, scale, c);
        }
    }
    /// Draws `text` turned 90 degrees counter-clockwise (reading upwards) in the box of width
    /// text_height(scale) and height text_width(text, scale) whose top-left corner is (x, y).
    void vertical_text(std::int64_t x, std::int64_t y, std::string_view text, const rgb& c, std::int64_t scale = 1) {
        check_scale(scale, "vertical_text");
        const std::int64_t len = text_width(text, scale);
        // A font pixel at (u, v) of the horizontal text (u along the text, v down) lands at
        // (x + v, y + len - 1 - u): the text's top edge becomes the box's left edge.
        for (std::size_t i = 0; i < text.size(); ++i) {
            const std::int64_t gu = static_cast<std::int64_t>(i) * font::glyph_advance * scale;
            for (int row = 0; row < font::glyph_height; ++row)
                for (int col = 0; col < font::glyph_width; ++col)
                    if (font::ink(text[i], col, row))
                        fill_rect(x + row * scale, y + len - gu - (col + 1) * scale, scale, scale, c);
        }
    }

private:
    static float unit(float v) { return std::isnan(v) ? 0.f : std::clamp(v, 0.f, 1.f); }
    static void check_scale(std::int64_t scale, const char* what) {
        if (scale < 1 || scale > 64)
            throw value_error(std::string("viz::canvas::") + what + ": text scale " + std::to_string(scale) +
                              " is not between 1 and 64");
    }
    void dot(std::int64_t x, std::int64_t y, const rgb& c, int thickness) {
        if (thickness <= 1) return set(x, y, c);
        const std::int64_t off = (thickness - 1) / 2;
        fill_rect(x - off, y - off, thickness, thickness, c);
    }
    /// Calls f(x, y, step) for every point of the Bresenham line, step = 0, 1, ...
    template <class F>
    static void walk(std::int64_t x0, std::int64_t y0, std::int64_t x1, std::int64_t y1, F&& f) {
        const std::int64_t dx = std::llabs(x1 - x0), dy = -std::llabs(y1 - y0);
        const std::int64_t sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
        std::int64_t err = dx + dy;
        for (std::int64_t i = 0;; ++i) {
            f(x0, y0, i);
            if (x0 == x1 && y0 == y1) return;
            const std::int64_t e2 = 2 * err;
            if (e2 >= dy) err += dy, x0 += sx;
            if (e2 <= dx) err += dx, y0 += sy;
        }
    }

    std::int64_t w_, h_;
    tensor img_;
    std::int64_t cx0_ = 0, cy0_ = 0, cx1_ = 0, cy1_ = 0;
};

}  // namespace hg::viz
