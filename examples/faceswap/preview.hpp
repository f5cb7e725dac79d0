// The pictures hourglass-swap writes: the preview grid (one row per face; columns A, A
// reconstructed, A swapped to B, B, B reconstructed, B swapped to A) and the loss curve (both sides'
// losses against the iteration, drawn with a small line rasteriser on a white canvas with axes).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "hourglass/hourglass.hpp"

namespace faceswap {

/// Six host batches [R, S, S, 3] side by side, R rows, with a 2 px grey gutter; saved as PNG.
inline void write_preview_grid(const std::filesystem::path& path, const hg::tensor& a, const hg::tensor& a_rec,
                               const hg::tensor& a2b, const hg::tensor& b, const hg::tensor& b_rec,
                               const hg::tensor& b2a) {
    const hg::tensor* cols[6] = {&a, &a_rec, &a2b, &b, &b_rec, &b2a};
    const std::int64_t rows = std::min(a.shape()[0], b.shape()[0]), s = a.shape()[1], gap = 2;
    const std::int64_t w = 6 * s + 7 * gap, h = rows * s + (rows + 1) * gap;
    auto img = hg::tensor::full(hg::shape{h, w, 3}, 0.5f);
    for (std::int64_t r = 0; r < rows; ++r)
        for (int c = 0; c < 6; ++c) {
            const float* src = cols[c]->data() + r * s * s * 3;
            const std::int64_t y0 = gap + r * (s + gap), x0 = gap + c * (s + gap);
            for (std::int64_t y = 0; y < s; ++y)
                for (std::int64_t x = 0; x < s; ++x)
                    for (int k = 0; k < 3; ++k)
                        img[((y0 + y) * w + x0 + x) * 3 + k] = std::clamp(src[(y * s + x) * 3 + k], 0.f, 1.f);
        }
    hg::data::save_png(path, img);
}

/// A tiny RGB canvas with Bresenham lines.
class canvas {
public:
    canvas(std::int64_t w, std::int64_t h) : w_(w), h_(h), img_(hg::tensor::full(hg::shape{h, w, 3}, 1.f)) {}
    void set(std::int64_t x, std::int64_t y, const float (&c)[3]) {
        if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
        for (int k = 0; k < 3; ++k) img_[(y * w_ + x) * 3 + k] = c[k];
    }
    void line(std::int64_t x0, std::int64_t y0, std::int64_t x1, std::int64_t y1, const float (&c)[3]) {
        const std::int64_t dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
        std::int64_t err = dx + dy;
        for (;;) {
            set(x0, y0, c);
            if (x0 == x1 && y0 == y1) return;
            const std::int64_t e2 = 2 * err;
            if (e2 >= dy) err += dy, x0 += sx;
            if (e2 <= dx) err += dx, y0 += sy;
        }
    }
    const hg::tensor& image() const { return img_; }

private:
    std::int64_t w_, h_;
    hg::tensor img_;
};

/// The loss curves of both sides (red: A, blue: B) against the iteration, 640x320, y from 0 to the
/// largest loss, with axes and tick marks (10 per axis). Nothing is drawn for fewer than 2 points.
inline void write_loss_plot(const std::filesystem::path& path, const std::vector<double>& iterations,
                            const std::vector<double>& loss_a, const std::vector<double>& loss_b) {
    const std::int64_t w = 640, h = 320, left = 40, right = 10, top = 10, bottom = 30;
    canvas cv(w, h);
    const float black[3] = {0, 0, 0}, grey[3] = {0.85f, 0.85f, 0.85f}, red[3] = {0.85f, 0.1f, 0.1f},
                blue[3] = {0.1f, 0.2f, 0.9f};
    const std::int64_t pw = w - left - right, ph = h - top - bottom;
    for (int t = 1; t <= 10; ++t) {  // grid and ticks
        const std::int64_t x = left + pw * t / 10, y = top + ph - ph * t / 10;
        cv.line(x, top, x, top + ph, grey);
        cv.line(left, y, left + pw, y, grey);
        cv.line(x, top + ph, x, top + ph + 4, black);
        cv.line(left - 4, y, left, y, black);
    }
    cv.line(left, top, left, top + ph, black);
    cv.line(left, top + ph, left + pw, top + ph, black);
    const std::size_t n = std::min({iterations.size(), loss_a.size(), loss_b.size()});
    if (n >= 2) {
        double ymax = 0;
        for (std::size_t i = 0; i < n; ++i) {
            if (std::isfinite(loss_a[i])) ymax = std::max(ymax, loss_a[i]);
            if (std::isfinite(loss_b[i])) ymax = std::max(ymax, loss_b[i]);
        }
        if (!(ymax > 0)) ymax = 1;
        const double x0 = iterations.front(), x1 = std::max(iterations.back(), x0 + 1);
        auto px = [&](double it) { return left + static_cast<std::int64_t>(std::lround((it - x0) / (x1 - x0) * pw)); };
        auto py = [&](double v) {
            return top + ph - static_cast<std::int64_t>(std::lround(std::clamp(v / ymax, 0.0, 1.0) * ph));
        };
        for (std::size_t i = 1; i < n; ++i) {
            cv.line(px(iterations[i - 1]), py(loss_a[i - 1]), px(iterations[i]), py(loss_a[i]), red);
            cv.line(px(iterations[i - 1]), py(loss_b[i - 1]), px(iterations[i]), py(loss_b[i]), blue);
        }
    }
    hg::data::save_png(path, cv.image());
}

}  // namespace faceswap
