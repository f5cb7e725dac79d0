// The loss plot: one or more curves (a loss per iteration, per side of the model) on numbered
// axes, as an RGB picture [H, W, 3] in [0, 1] or a PNG file.
//
// What is drawn: an optional title at the top; a white plot area framed in black with light grey
// grid lines at every tick; numbered ticks on both axes (nice_ticks on x and on a linear y,
// log_ticks on a logarithmic y; labels by tick_label); the x-axis title centred below the numbers
// and the y-axis title turned to read upwards at the left; for each series its raw curve in a
// light tint of its colour with the smoothed curve (moving_mean) on top in the full colour, or,
// without smoothing, the raw curve alone in the full colour; a legend box (a sample of the colour,
// the label, and "(smoothed over N)" when smoothing is on and the plot is wide enough for it) in
// the corner of the plot area that hides the fewest curve points (top-right on a tie), cut at the
// frame when larger than the plot; a "no data yet" note while no series has 2 points to draw.
//
// Contract:
// - A point (x[i], y[i]) is drawn when both are finite (and y > 0 on a log axis); other points
//   leave a gap: the curve is cut there, never drawn to 0. A point with no drawable neighbour is
//   drawn as a dot. The axes span the ticks that cover the drawable points of all series
//   ([0, 1] on both axes, [1, 10] on a log y, when there are none).
// - Smoothing: window N = smooth_window, or when it is 0, max(1, P / 50) where P is the number of
//   drawable points of the series; N = 1 means no smoothing. The smoothed value at sample i is
//   moving_mean over the series' drawable y values (undrawable ones count as missing), see
//   smoothing.hpp; on a log axis the mean is taken of the values, then drawn on the log scale.
// - Text is drawn at scale 1, or 2 when width >= 1200 and height >= 640 (the title one size up when
//   it fits).
// - Errors (hg::value_error): width < 200, height < 150 or either above 16384; smooth_window < 0;
//   a series whose x and y sizes differ (the message names the series); with log_scale, a series
//   that has finite points but no positive one (named). An empty series, or one with no finite
//   point, is "no data yet" and not an error. write_loss_plot saves atomically (hg::io_error when
//   the file cannot be written).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/data/image_io.hpp"
#include "hourglass/viz/canvas.hpp"
#include "hourglass/viz/smoothing.hpp"
#include "hourglass/viz/ticks.hpp"

namespace hg::viz {

/// One curve: y[i] against x[i], drawn in `colour` and named `label` in the legend.
struct series {
    std::string label;
    std::vector<double> x, y;
    rgb colour = colours::blue;
};

struct loss_plot_options {
    std::int64_t width = 800, height = 420;
    bool log_scale = false;          ///< y axis logarithmic (non-positive values are left out of the curve)
    std::int64_t smooth_window = 0;  ///< 0: automatic (about 1/50 of the points, at least 1); 1: no smoothing
    std::string x_title = "iteration", y_title = "loss", title;
};

namespace loss_plot_detail {

struct prepared {
    std::vector<bool> drawable;
    std::vector<double> smoothed;  // empty without smoothing
    std::int64_t window = 1;
    std::int64_t points = 0;
};

inline std::string quoted(const series& s) { return "'" + s.label + "'"; }

}  // namespace loss_plot_detail

/// Draws the loss plot of `s` (rules above) as a CPU tensor [height, width, 3] in [0, 1].
inline tensor render_loss_plot(const std::vector<series>& s, const loss_plot_options& o = {}) {
    using namespace loss_plot_detail;
    if (o.width < 200 || o.height < 150 || o.width > 16384 || o.height > 16384)
        throw value_error("viz::render_loss_plot: size " + std::to_string(o.width) + " x " + std::to_string(o.height) +
                          " is outside 200 x 150 .. 16384 x 16384");
    if (o.smooth_window < 0)
        throw value_error("viz::render_loss_plot: smooth_window " + std::to_string(o.smooth_window) + " is negative");

    // Which points can be drawn, the smoothing window and the data range.
    std::vector<prepared> prep(s.size());
    double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
    bool any_curve = false;
    for (std::size_t k = 0; k < s.size(); ++k) {
        const series& c = s[k];
        if (c.x.size() != c.y.size())
            throw value_error("viz::render_loss_plot: series " + quoted(c) + " has " + std::to_string(c.x.size()) +
                              " x values but " + std::to_string(c.y.size()) + " y values");
        prepared& p = prep[k];
        p.drawable.assign(c.y.size(), false);
        bool any_finite = false;
        for (std::size_t i = 0; i < c.y.size(); ++i) {
            const bool finite = std::isfinite(c.x[i]) && std::isfinite(c.y[i]);
            any_finite = any_finite || finite;
            if (!finite || (o.log_scale && !(c.y[i] > 0))) continue;
            p.drawable[i] = true;
            ++p.points;
            xlo = std::min(xlo, c.x[i]), xhi = std::max(xhi, c.x[i]);
            ylo = std::min(ylo, c.y[i]), yhi = std::max(yhi, c.y[i]);
        }
        if (o.log_scale && any_finite && p.points == 0)
            throw value_error("viz::render_loss_plot: series " + quoted(c) +
                              " has no positive value to draw on a logarithmic axis");
        any_curve = any_curve || p.points >= 2;
        p.window = o.smooth_window == 0 ? std::max<std::int64_t>(1, p.points / 50) : o.smooth_window;
        if (p.window > 1) {
            std::vector<double> y(c.y.size(), std::numeric_limits<double>::quiet_NaN());
            for (std::size_t i = 0; i < y.size(); ++i)
                if (p.drawable[i]) y[i] = c.y[i];
            p.smoothed = moving_mean(y, p.window);
        }
    }
    if (!(xlo <= xhi)) xlo = 0, xhi = 1, ylo = o.log_scale ? 1 : 0, yhi = o.log_scale ? 10 : 1;

    // Sizes of text and margins.
    const std::int64_t ts = (o.width >= 1200 && o.height >= 640) ? 2 : 1;
    const std::int64_t th = canvas::text_height(ts), cap = font::glyph_ascent * ts;
    const std::int64_t pad = 8 * ts, tick = 4 * ts, gap = 4 * ts;
    std::int64_t title_scale = ts + 1;
    if (canvas::text_width(o.title, title_scale) > o.width - 2 * pad) title_scale = ts;
    const std::int64_t title_h = o.title.empty() ? 0 : canvas::text_height(title_scale) + pad;
    const std::int64_t top = pad + title_h + th / 2;
    const std::int64_t bottom = tick + gap + th + (o.x_title.empty() ? 0 : 2 * gap + th) + pad;
    const std::int64_t plot_h = o.height - top - bottom;

    // y ticks: as many as fit with 3 text heights between them (log: every tick drawn, labels thinned).
    std::vector<double> yt;
    double ystep = 1;
    if (o.log_scale) {
        yt = log_ticks(ylo, yhi);
        ystep = ticks_detail::pow10(ticks_detail::decade(yt.front()));
    } else {
        yt = nice_ticks(ylo, yhi, static_cast<int>(std::clamp<std::int64_t>(plot_h / (3 * th), 3, 10)));
        ystep = yt[1] - yt[0];
    }
    std::vector<std::string> ylabels;
    std::int64_t ylabel_w = 0;
    for (double v : yt) {
        ylabels.push_back(tick_label(v, ystep));
        ylabel_w = std::max(ylabel_w, canvas::text_width(ylabels.back(), ts));
    }
    const std::int64_t left = pad + (o.y_title.empty() ? 0 : th + 2 * gap) + ylabel_w + gap + tick;

    // x ticks: the most (up to 10) whose labels keep two text heights apart.
    std::int64_t right = pad + canvas::text_width("00000", ts) / 2;
    std::int64_t plot_w = o.width - left - right;
    if (plot_w < 40 || plot_h < 40)
        throw value_error("viz::render_loss_plot: size " + std::to_string(o.width) + " x " + std::to_string(o.height) +
                          " leaves no room for the plot inside the axes and their labels");
    std::vector<double> xt;
    std::vector<std::string> xlabels;
    for (int count = 10; count >= 3; --count) {
        xt = nice_ticks(xlo, xhi, count);
        xlabels.clear();
        std::int64_t widest = 0;
        for (double v : xt) {
            xlabels.push_back(tick_label(v, xt[1] - xt[0]));
            widest = std::max(widest, canvas::text_width(xlabels.back(), ts));
        }
        if (widest + 2 * th <= (plot_w - 8 * ts) / static_cast<std::int64_t>(xt.size() - 1)) break;
    }
    right = std::max(pad, canvas::text_width(xlabels.back(), ts) / 2 + ts - 4 * ts);
    plot_w = o.width - left - right;

    // Pixel mapping: the plot area is [x0, x1] x [y0, y1], the frame on its border; the first and
    // last ticks sit `inset` pixels inside the frame so curves at the ends stay visible.
    const std::int64_t x0 = left, x1 = left + plot_w - 1, y0 = top, y1 = top + plot_h - 1, inset = 4 * ts;
    const double xa = xt.front(), xb = xt.back();
    const auto ymap = [&](double v) { return o.log_scale ? std::log10(v) : v; };
    const double ya = ymap(yt.front()), yb = ymap(yt.back());
    const auto px = [&](double v) {
        return x0 + inset +
               static_cast<std::int64_t>(std::lround((v - xa) / (xb - xa) * static_cast<double>(x1 - x0 - 2 * inset)));
    };
    const auto py = [&](double v) {
        return y1 - inset -
               static_cast<std::int64_t>(std::lround((ymap(v) - ya) / (yb - ya) * static_cast<double>(y1 - y0 - 2 * inset)));
    };

    canvas cv(o.width, o.height);
    const rgb text_colour = colours::black, grid = {0.9f, 0.9f, 0.9f};

    // Grid, frame, ticks and their labels.
    for (double v : xt) cv.line(px(v), y0, px(v), y1, grid);
    for (double v : yt) cv.line(x0, py(v), x1, py(v), grid);
    if (o.log_scale && yt.size() < 12)  // minor grid: 2..9 times each power of ten
        for (int d = ticks_detail::decade(yt.front()); ticks_detail::pow10(d) < yt.back(); ++d)
            for (int m = 2; m <= 9; ++m) {
                const double v = m * ticks_detail::pow10(d);
                if (v > yt.front() && v < yt.back()) cv.dashed_line(x0, py(v), x1, py(v), grid, 2, 4);
            }
    cv.rect(x0, y0, x1 - x0 + 1, y1 - y0 + 1, colours::black);
    for (std::size_t i = 0; i < xt.size(); ++i) {
        const std::int64_t x = px(xt[i]);
        cv.fill_rect(x - (ts - 1) / 2, y1 + 1, ts, tick, colours::black);
        cv.text(x - canvas::text_width(xlabels[i], ts) / 2, y1 + 1 + tick + gap, xlabels[i], text_colour, ts);
    }
    std::size_t every = 1;  // label every n-th y tick so labels do not touch
    if (yt.size() > 1) {
        const double spacing = static_cast<double>(y1 - y0) / static_cast<double>(yt.size() - 1);
        every = static_cast<std::size_t>(std::max(1.0, std::ceil(static_cast<double>(th + 2 * ts) / spacing)));
    }
    for (std::size_t i = 0; i < yt.size(); ++i) {
        const std::int64_t y = py(yt[i]);
        cv.fill_rect(x0 - tick, y - (ts - 1) / 2, tick, ts, colours::black);
        if ((yt.size() - 1 - i) % every != 0) continue;  // keep the top label
        cv.text(x0 - tick - gap - canvas::text_width(ylabels[i], ts), y - cap / 2, ylabels[i], text_colour, ts);
    }

    // Titles.
    if (!o.title.empty())
        cv.text((o.width - canvas::text_width(o.title, title_scale)) / 2, pad, o.title, text_colour, title_scale);
    if (!o.x_title.empty())
        cv.text(x0 + (x1 - x0 + 1 - canvas::text_width(o.x_title, ts)) / 2, y1 + 1 + tick + gap + th + 2 * gap,
                o.x_title, text_colour, ts);
    if (!o.y_title.empty())
        cv.vertical_text(pad, y0 + (y1 - y0 + 1 - canvas::text_width(o.y_title, ts)) / 2, o.y_title, text_colour, ts);

    // Curves, clipped to the inside of the frame: all raw curves, then the smoothed ones on top.
    cv.clip(x0 + 1, y0 + 1, x1 - x0 - 1, y1 - y0 - 1);
    const auto draw = [&](const series& c, const std::vector<bool>& ok, const std::vector<double>& y, const rgb& colour,
                          int thickness) {
        for (std::size_t i = 0; i < y.size(); ++i) {
            if (!ok[i] || !std::isfinite(y[i])) continue;
            const bool prev = i > 0 && ok[i - 1] && std::isfinite(y[i - 1]);
            const bool next = i + 1 < y.size() && ok[i + 1] && std::isfinite(y[i + 1]);
            if (prev) cv.line(px(c.x[i - 1]), py(y[i - 1]), px(c.x[i]), py(y[i]), colour, thickness);
            else if (!next) cv.line(px(c.x[i]), py(y[i]), px(c.x[i]), py(y[i]), colour, thickness + 1);
        }
    };
    for (std::size_t k = 0; k < s.size(); ++k) {
        const bool smooth = prep[k].window > 1;
        draw(s[k], prep[k].drawable, s[k].y, smooth ? tint(s[k].colour, 0.6f) : s[k].colour,
             static_cast<int>(smooth ? ts : ts + 1));
    }
    for (std::size_t k = 0; k < s.size(); ++k)
        if (prep[k].window > 1) draw(s[k], prep[k].drawable, prep[k].smoothed, s[k].colour, static_cast<int>(2 * ts));
    cv.unclip();

    if (!any_curve) {
        const std::string note = "no data yet";
        cv.text(x0 + (x1 - x0 + 1 - canvas::text_width(note, ts)) / 2, y0 + (y1 - y0 + 1 - th) / 2, note,
                colours::dark_grey, ts);
    }

    // Legend, in the corner of the plot area with the fewest curve points under it.
    if (!s.empty()) {
        const std::int64_t inner = 6 * ts, sample = 20 * ts, row = th + 4 * ts, margin = 6 * ts;
        std::vector<std::string> entries;
        std::int64_t widest = 0;
        for (bool with_window : {true, false}) {  // without "(smoothed over N)" when too wide for the plot
            entries.clear(), widest = 0;
            for (std::size_t k = 0; k < s.size(); ++k) {
                const bool note = with_window && prep[k].window > 1;
                entries.push_back(s[k].label + (note ? " (smoothed over " + std::to_string(prep[k].window) + ")" : ""));
                widest = std::max(widest, canvas::text_width(entries.back(), ts));
            }
            if (3 * inner + sample + widest <= x1 - x0 - 2 * margin) break;
        }
        const std::int64_t lw = inner + sample + inner + widest + inner;
        const std::int64_t lh = inner + static_cast<std::int64_t>(s.size()) * row - 4 * ts + inner;
        const std::array<std::array<std::int64_t, 2>, 4> corners = {{{x1 - margin - lw + 1, y0 + margin},
                                                                    {x0 + margin, y0 + margin},
                                                                    {x1 - margin - lw + 1, y1 - margin - lh + 1},
                                                                    {x0 + margin, y1 - margin - lh + 1}}};
        std::size_t best = 0;
        std::int64_t best_hidden = std::numeric_limits<std::int64_t>::max();
        for (std::size_t c = 0; c < corners.size(); ++c) {
            std::int64_t hidden = 0;
            for (std::size_t k = 0; k < s.size(); ++k)
                for (std::size_t i = 0; i < s[k].y.size(); ++i) {
                    if (!prep[k].drawable[i]) continue;
                    const std::int64_t x = px(s[k].x[i]), y = py(s[k].y[i]);
                    hidden += x >= corners[c][0] && x < corners[c][0] + lw && y >= corners[c][1] && y < corners[c][1] + lh;
                }
            if (hidden < best_hidden) best = c, best_hidden = hidden;
        }
        const std::int64_t lx = corners[best][0], ly = corners[best][1];
        cv.clip(x0 + 1, y0 + 1, x1 - x0 - 1, y1 - y0 - 1);  // a legend larger than the plot is cut
        cv.fill_rect(lx, ly, lw, lh, colours::white);
        cv.rect(lx, ly, lw, lh, colours::grey);
        for (std::size_t k = 0; k < s.size(); ++k) {
            const std::int64_t ry = ly + inner + static_cast<std::int64_t>(k) * row;
            cv.fill_rect(lx + inner, ry + (cap - 2 * ts) / 2, sample, 2 * ts, s[k].colour);
            cv.text(lx + inner + sample + inner, ry, entries[k], text_colour, ts);
        }
        cv.unclip();
    }
    return cv.image();
}

/// render_loss_plot saved as a PNG file (atomically).
inline void write_loss_plot(const std::filesystem::path& png, const std::vector<series>& s,
                            const loss_plot_options& o = {}) {
    data::save_png(png, render_loss_plot(s, o));
}

}  // namespace hg::viz
