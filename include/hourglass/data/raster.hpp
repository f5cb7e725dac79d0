// A small 2-D rasteriser with exact-area anti-aliasing, for drawing synthetic images.
//
// Shapes are closed polygons in pixel coordinates (pixel (x, y) covers [x, x+1) x [y, y+1));
// curves (ellipses, cubic Beziers, stroked polylines) are flattened to polygons finely enough that
// the chord error stays below ~0.03 px. The coverage of a pixel is the exact area of the polygon
// inside it (signed-area accumulation, as in font rasterisers: each edge deposits its signed area
// and cover into a per-row accumulation buffer, a prefix sum along the row gives the winding area),
// clamped to [0, 1] - exact for simple polygons (up to float rounding, with values within 1e-5 of
// 0 or 1 snapped to them), so edges come out anti-aliased without supersampling. Edges outside the
// image are clipped: a piece left of x = 0 becomes a vertical edge at x = 0 (same cover for every
// pixel to its right), a piece right of x = W is dropped.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace hg::data {

struct point {
    float x = 0.0f, y = 0.0f;
};

using polygon = std::vector<point>;

/// Pixel bounds [x0, x1) x [y0, y1) touched by the last filled shape.
struct pixel_box {
    std::int64_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    bool empty() const { return x1 <= x0 || y1 <= y0; }
};

/// Segments for a curve of radius `radius` (in pixels) so that the chord error r (1 - cos(pi/n))
/// stays near 0.03 px.
inline int curve_segments(float radius) {
    const float r = std::max(radius, 0.0f);
    return std::clamp(static_cast<int>(std::ceil(12.0f * std::sqrt(r))) + 8, 12, 512);
}

/// An ellipse centred at c with radii (rx, ry), rotated by `angle` radians.
inline polygon ellipse(point c, float rx, float ry, float angle = 0.0f, int segments = 0) {
    if (segments <= 0) segments = curve_segments(std::max(rx, ry));
    polygon p(static_cast<std::size_t>(segments));
    const float ca = std::cos(angle), sa = std::sin(angle);
    for (int i = 0; i < segments; ++i) {
        const float t = 6.28318530717958647692f * static_cast<float>(i) / static_cast<float>(segments);
        const float ex = rx * std::cos(t), ey = ry * std::sin(t);
        p[static_cast<std::size_t>(i)] = point{c.x + ca * ex - sa * ey, c.y + sa * ex + ca * ey};
    }
    return p;
}

/// Appends the cubic Bezier from p.back() (or p0 when `p` is empty) through controls c1, c2 to p3,
/// flattened into `segments` pieces (the start point is not repeated).
inline void append_cubic(polygon& p, point p0, point c1, point c2, point p3, int segments) {
    if (p.empty()) p.push_back(p0);
    for (int i = 1; i <= segments; ++i) {
        const float t = static_cast<float>(i) / static_cast<float>(segments), s = 1.0f - t;
        const float b0 = s * s * s, b1 = 3 * s * s * t, b2 = 3 * s * t * t, b3 = t * t * t;
        p.push_back(point{b0 * p0.x + b1 * c1.x + b2 * c2.x + b3 * p3.x, b0 * p0.y + b1 * c1.y + b2 * c2.y + b3 * p3.y});
    }
}

/// The outline of an open polyline drawn with half-width half_widths[i] at point i (tapering to
/// zero makes pointed ends). Normals are those of the neighbouring chord, so smooth curves give
/// smooth outlines.
inline polygon stroke(const polygon& path, const std::vector<float>& half_widths) {
    const std::size_t n = path.size();
    polygon out;
    if (n < 2 || half_widths.size() != n) return out;
    std::vector<point> normal(n);
    for (std::size_t i = 0; i < n; ++i) {
        const point a = path[i == 0 ? 0 : i - 1], b = path[i + 1 < n ? i + 1 : n - 1];
        float dx = b.x - a.x, dy = b.y - a.y;
        const float len = std::sqrt(dx * dx + dy * dy);
        if (len > 0) dx /= len, dy /= len;
        normal[i] = point{-dy, dx};
    }
    out.reserve(2 * n);
    for (std::size_t i = 0; i < n; ++i)
        out.push_back(point{path[i].x + normal[i].x * half_widths[i], path[i].y + normal[i].y * half_widths[i]});
    for (std::size_t i = n; i-- > 0;)
        out.push_back(point{path[i].x - normal[i].x * half_widths[i], path[i].y - normal[i].y * half_widths[i]});
    return out;
}

/// Computes anti-aliased coverage of polygons on a w x h pixel grid.
class coverage_raster {
public:
    coverage_raster(std::int64_t w, std::int64_t h)
        : w_(w), h_(h), stride_(w + 2), acc_(static_cast<std::size_t>((w + 2) * h), 0.0f),
          cov_(static_cast<std::size_t>(w * h), 0.0f) {}

    std::int64_t width() const { return w_; }
    std::int64_t height() const { return h_; }

    /// Rasterises the closed polygon `p` (non-zero winding, coverage clamped to 1). The result is
    /// coverage() (w * h, row-major): the shape's coverage inside box(), zero everywhere else.
    void fill(const polygon& p) {
        // Clear the previous shape's area of the coverage buffer.
        for (std::int64_t y = box_.y0; y < box_.y1; ++y)
            std::fill(cov_.begin() + y * w_ + box_.x0, cov_.begin() + y * w_ + box_.x1, 0.0f);
        box_ = pixel_box{};
        if (p.size() < 3) return;
        float minx = p[0].x, maxx = p[0].x, miny = p[0].y, maxy = p[0].y;
        for (const point& q : p) {
            minx = std::min(minx, q.x), maxx = std::max(maxx, q.x);
            miny = std::min(miny, q.y), maxy = std::max(maxy, q.y);
        }
        if (!(maxx > 0.0f) || !(maxy > 0.0f) || !(minx < static_cast<float>(w_)) || !(miny < static_cast<float>(h_)))
            return;  // entirely outside (or not finite)
        for (std::size_t i = 0; i < p.size(); ++i) add_edge(p[i], p[(i + 1) % p.size()]);
        pixel_box b;
        b.x0 = std::clamp<std::int64_t>(static_cast<std::int64_t>(std::floor(minx)), 0, w_);
        b.y0 = std::clamp<std::int64_t>(static_cast<std::int64_t>(std::floor(miny)), 0, h_);
        b.y1 = std::clamp<std::int64_t>(static_cast<std::int64_t>(std::ceil(maxy)), 0, h_);
        // Deposits reach column ceil(maxx) + 1 at most (or w + 1 after clipping).
        const std::int64_t acc_x1 = std::clamp<std::int64_t>(static_cast<std::int64_t>(std::ceil(maxx)) + 2, 0, w_ + 2);
        b.x1 = std::min(acc_x1, w_);
        for (std::int64_t y = b.y0; y < b.y1; ++y) {
            float* a = acc_.data() + y * stride_;
            float* c = cov_.data() + y * w_;
            float s = 0.0f;
            for (std::int64_t x = b.x0; x < acc_x1; ++x) {
                s += a[x];
                a[x] = 0.0f;
                if (x < w_) c[x] = snap(std::abs(s));
            }
        }
        box_ = b;
    }

    /// Coverage from the accumulated area: the prefix sums leave float residue (~1e-7) where the
    /// true value is 0 or 1, so values within 1e-5 of 0 or 1 are snapped (a pixel outside a shape
    /// then stays bitwise untouched by it).
    static float snap(float c) {
        if (c < 1e-5f) return 0.0f;
        if (c > 1.0f - 1e-5f) return 1.0f;
        return c;
    }

    const float* coverage() const { return cov_.data(); }
    const pixel_box& box() const { return box_; }

private:
    // Splits the edge where it crosses x = 0 and x = w; pieces left of 0 become vertical at 0,
    // pieces right of w are dropped (they only affect columns >= w).
    void add_edge(point p0, point p1) {
        if (p0.y == p1.y) return;
        const float w = static_cast<float>(w_);
        float ts[4] = {0.0f, 0.0f, 0.0f, 1.0f};
        int nt = 1;
        const float dx = p1.x - p0.x;
        if (dx != 0.0f) {
            for (float edge : {0.0f, w}) {
                const float t = (edge - p0.x) / dx;
                if (t > 0.0f && t < 1.0f) ts[nt++] = t;
            }
        }
        ts[nt++] = 1.0f;
        if (nt == 4 && ts[1] > ts[2]) std::swap(ts[1], ts[2]);  // the two crossings in order
        const float dy = p1.y - p0.y;
        point a = p0;
        for (int i = 1; i < nt; ++i) {
            const float t = ts[i];
            point b = i == nt - 1 ? p1 : point{p0.x + dx * t, p0.y + dy * t};
            const float mid = 0.5f * (a.x + b.x);
            if (mid < w) {
                point ca = a, cb = b;
                if (mid <= 0.0f) ca.x = cb.x = 0.0f;
                ca.x = std::clamp(ca.x, 0.0f, w);
                cb.x = std::clamp(cb.x, 0.0f, w);
                add_line(ca, cb);
            }
            a = b;
        }
    }

    // Signed-area accumulation of one edge with 0 <= x <= w.
    void add_line(point p0, point p1) {
        if (p0.y == p1.y) return;
        float dir = 1.0f;
        if (p0.y > p1.y) {
            std::swap(p0, p1);
            dir = -1.0f;
        }
        const float dxdy = (p1.x - p0.x) / (p1.y - p0.y);
        const float ystart = std::max(p0.y, 0.0f);
        float x = p0.x + (ystart - p0.y) * dxdy;
        const std::int64_t yend = std::min<std::int64_t>(h_, static_cast<std::int64_t>(std::ceil(p1.y)));
        for (std::int64_t y = static_cast<std::int64_t>(ystart); y < yend; ++y) {
            float* row = acc_.data() + y * stride_;
            const float dy = std::min(static_cast<float>(y + 1), p1.y) - std::max(static_cast<float>(y), p0.y);
            const float xnext = std::clamp(x + dxdy * dy, 0.0f, static_cast<float>(w_));
            const float d = dy * dir;
            const float x0 = std::min(x, xnext), x1 = std::max(x, xnext);
            const float x0floor = std::floor(x0);
            const std::int64_t x0i = static_cast<std::int64_t>(x0floor);
            const float x1ceil = std::ceil(x1);
            const std::int64_t x1i = static_cast<std::int64_t>(x1ceil);
            if (x1i <= x0i + 1) {
                // Within one pixel column: the area right of the edge's midpoint goes to the next cell.
                const float xmf = 0.5f * (x + xnext) - x0floor;
                row[x0i] += d - d * xmf;
                row[x0i + 1] += d * xmf;
            } else {
                const float s = 1.0f / (x1 - x0);
                const float x0f = x0 - x0floor;
                const float a0 = 0.5f * s * (1.0f - x0f) * (1.0f - x0f);
                const float x1f = x1 - x1ceil + 1.0f;
                const float am = 0.5f * s * x1f * x1f;
                row[x0i] += d * a0;
                if (x1i == x0i + 2) {
                    row[x0i + 1] += d * (1.0f - a0 - am);
                } else {
                    const float a1 = s * (1.5f - x0f);
                    row[x0i + 1] += d * (a1 - a0);
                    for (std::int64_t xi = x0i + 2; xi < x1i - 1; ++xi) row[xi] += d * s;
                    const float a2 = a1 + static_cast<float>(x1i - x0i - 3) * s;
                    row[x1i - 1] += d * (1.0f - a2 - am);
                }
                row[x1i] += d * am;
            }
            x = xnext;
        }
    }

    std::int64_t w_, h_, stride_;
    std::vector<float> acc_;
    std::vector<float> cov_;
    pixel_box box_;
};

}  // namespace hg::data
