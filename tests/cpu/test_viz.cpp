// The pictures of viz/: tick placement and labels, the moving mean, text on the canvas, the loss
// plot (labels, curves, gaps, log scale, errors) and the labelled preview grid (layout, faces,
// labels, errors).
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hourglass/hourglass.hpp"

namespace {

using hg::viz::rgb;
constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();

bool same(const rgb& a, const rgb& b) { return a[0] == b[0] && a[1] == b[1] && a[2] == b[2]; }

rgb pixel(const hg::tensor& img, std::int64_t x, std::int64_t y) {
    const std::int64_t w = img.shape()[1];
    return {img[(y * w + x) * 3], img[(y * w + x) * 3 + 1], img[(y * w + x) * 3 + 2]};
}

/// Pixels of exactly colour c in [x0, x1) x [y0, y1).
std::int64_t count_colour(const hg::tensor& img, const rgb& c, std::int64_t x0, std::int64_t y0, std::int64_t x1,
                          std::int64_t y1) {
    std::int64_t n = 0;
    for (std::int64_t y = y0; y < y1; ++y)
        for (std::int64_t x = x0; x < x1; ++x) n += same(pixel(img, x, y), c);
    return n;
}
std::int64_t count_colour(const hg::tensor& img, const rgb& c) {
    return count_colour(img, c, 0, 0, img.shape()[1], img.shape()[0]);
}

/// The plot frame of a loss plot: its black columns and rows are the longest black runs.
struct frame {
    std::int64_t left, right, top, bottom;
};
frame find_frame(const hg::tensor& img) {
    const std::int64_t h = img.shape()[0], w = img.shape()[1];
    std::vector<std::int64_t> cols(static_cast<std::size_t>(w)), rows(static_cast<std::size_t>(h));
    for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x)
            if (same(pixel(img, x, y), hg::viz::colours::black)) ++cols[static_cast<std::size_t>(x)], ++rows[static_cast<std::size_t>(y)];
    const std::int64_t best_col = *std::max_element(cols.begin(), cols.end());
    const std::int64_t best_row = *std::max_element(rows.begin(), rows.end());
    frame f{-1, -1, -1, -1};  // the first and last column and row with 90% of the longest run
    for (std::int64_t x = 0; x < w; ++x)
        if (cols[static_cast<std::size_t>(x)] >= best_col * 9 / 10) f.right = x, f.left = f.left < 0 ? x : f.left;
    for (std::int64_t y = 0; y < h; ++y)
        if (rows[static_cast<std::size_t>(y)] >= best_row * 9 / 10) f.bottom = y, f.top = f.top < 0 ? y : f.top;
    return f;
}

/// Ticks cover [lo, hi], are equally spaced by 1, 2 or 5 times a power of ten, 2..max_count of them.
void check_nice(double lo, double hi, int max_count) {
    CAPTURE(lo);
    CAPTURE(hi);
    CAPTURE(max_count);
    const auto t = hg::viz::nice_ticks(lo, hi, max_count);
    REQUIRE(t.size() >= 2);
    CHECK(t.size() <= static_cast<std::size_t>(max_count));
    CHECK(t.front() <= std::min(lo, hi));
    CHECK(t.back() >= std::max(lo, hi));
    const double step = t[1] - t[0];
    for (std::size_t i = 1; i < t.size(); ++i) CHECK(t[i] - t[i - 1] == doctest::Approx(step).epsilon(1e-9));
    const double mantissa = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    CHECK((std::fabs(mantissa - 1) < 1e-9 || std::fabs(mantissa - 2) < 1e-9 || std::fabs(mantissa - 5) < 1e-9));
    std::set<std::string> labels;
    for (double v : t) labels.insert(hg::viz::tick_label(v, step));
    CHECK(labels.size() == t.size());
}

void check_values(const std::vector<double>& got, const std::vector<double>& want) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-12));
}

hg::viz::series line_series(const std::string& label, const std::vector<double>& y, const rgb& colour) {
    hg::viz::series s{label, {}, y, colour};
    for (std::size_t i = 0; i < y.size(); ++i) s.x.push_back(static_cast<double>(i));
    return s;
}

/// [R, S, S, 3] faces with value (r * 7 + y * 3 + x + k) % 11 / 10 plus `offset`.
hg::tensor faces(std::int64_t r, std::int64_t s, float offset = 0) {
    auto t = hg::tensor::empty(hg::shape{r, s, s, 3});
    for (std::int64_t i = 0; i < r; ++i)
        for (std::int64_t y = 0; y < s; ++y)
            for (std::int64_t x = 0; x < s; ++x)
                for (std::int64_t k = 0; k < 3; ++k)
                    t.at(i, y, x, k) = static_cast<float>((i * 7 + y * 3 + x + k) % 11) / 10.f + offset;
    return t;
}

}  // namespace

TEST_CASE("viz: nice_ticks covers the range with 1-2-5 steps") {
    check_values(hg::viz::nice_ticks(0, 1, 6), {0, 0.2, 0.4, 0.6, 0.8, 1.0});
    check_values(hg::viz::nice_ticks(0.013, 0.041, 5), {0.01, 0.02, 0.03, 0.04, 0.05});
    check_values(hg::viz::nice_ticks(1, 1e6, 6), {0, 2e5, 4e5, 6e5, 8e5, 1e6});
    check_values(hg::viz::nice_ticks(-3.7, -0.2, 8), {-4, -3, -2, -1, 0});
    check_values(hg::viz::nice_ticks(-0.1, 0.1, 3), {-0.1, 0, 0.1});
    check_values(hg::viz::nice_ticks(1, 0, 6), {0, 0.2, 0.4, 0.6, 0.8, 1.0});  // order does not matter
    for (int max_count : {3, 4, 5, 7, 10}) {
        check_nice(0, 1, max_count);
        check_nice(0.013, 0.041, max_count);
        check_nice(1, 1e6, max_count);
        check_nice(-250, -3, max_count);
        check_nice(-17.5, 42.25, max_count);
        check_nice(0.3, 0.7, max_count);
        check_nice(1234567, 1234987, max_count);
        check_nice(1e-7, 3e-6, max_count);
    }
    SUBCASE("lo == hi gives at least 2 ticks around the value") {
        for (double v : {5.0, 0.0, -0.02, 1e-8}) {
            const auto t = hg::viz::nice_ticks(v, v, 5);
            REQUIRE(t.size() >= 2);
            CHECK(t.front() < v);
            CHECK(t.back() > v);
        }
    }
    CHECK_THROWS_AS(hg::viz::nice_ticks(0, nan_v, 5), hg::value_error);
    CHECK_THROWS_AS(hg::viz::nice_ticks(0, 1, 2), hg::value_error);
    CHECK_THROWS_AS(hg::viz::nice_ticks(-1e308, 1e308, 5), hg::value_error);
}

TEST_CASE("viz: log_ticks gives powers of ten, with 2 and 5 multiples over short ranges") {
    CHECK(hg::viz::log_ticks(1e-4, 1e-1) == std::vector<double>{1e-4, 1e-3, 1e-2, 1e-1});
    CHECK(hg::viz::log_ticks(2e-5, 0.3) == std::vector<double>{1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1});
    CHECK(hg::viz::log_ticks(0.013, 0.041) == std::vector<double>{0.01, 0.02, 0.05});
    CHECK(hg::viz::log_ticks(0.0068, 0.11) == std::vector<double>{0.005, 0.01, 0.02, 0.05, 0.1, 0.2});
    CHECK(hg::viz::log_ticks(3, 3) == std::vector<double>{2, 5});
    CHECK(hg::viz::log_ticks(1, 1) == std::vector<double>{1, 2});
    CHECK(hg::viz::log_ticks(20, 20) == std::vector<double>{20, 50});
    CHECK_THROWS_AS(hg::viz::log_ticks(0, 1), hg::value_error);
    CHECK_THROWS_AS(hg::viz::log_ticks(1, 0.5), hg::value_error);
    CHECK_THROWS_AS(hg::viz::log_ticks(1, std::numeric_limits<double>::infinity()), hg::value_error);
}

TEST_CASE("viz: tick_label writes the shortest exact text") {
    using hg::viz::tick_label;
    CHECK(tick_label(0, 0.02) == "0");
    CHECK(tick_label(0.02, 0.02) == "0.02");
    CHECK(tick_label(0.1 + 0.2, 0.1) == "0.3");
    CHECK(tick_label(0.1, 0.02) == "0.1");
    CHECK(tick_label(1.5, 0.5) == "1.5");
    CHECK(tick_label(-0.5, 0.5) == "-0.5");
    CHECK(tick_label(2000, 1000) == "2000");
    CHECK(tick_label(7.5, 2.5) == "7.5");
    CHECK(tick_label(10000, 10000) == "10k");
    CHECK(tick_label(250000, 50000) == "250k");
    CHECK(tick_label(1.5e6, 5e5) == "1.5M");
    CHECK(tick_label(1e-5, 1e-5) == "1e-05");
    CHECK(tick_label(2.5e-4, 5e-5) == "2.5e-04");
    CHECK(tick_label(0.1, 1e-5) == "1e-01");
    CHECK(tick_label(0.0004, 1e-4) == "0.0004");
    CHECK(tick_label(1.0005, 5e-4) == "1.0005");
    CHECK(tick_label(1e15, 1e14) == "1e+15");
    CHECK(tick_label(1e-17, 0.1) == "0");
    CHECK(tick_label(nan_v, 1) == "nan");
    CHECK_THROWS_AS(tick_label(1, 0), hg::value_error);
    SUBCASE("labels of one axis are distinct") {
        for (auto [lo, hi] : std::vector<std::pair<double, double>>{{0.0, 1.0}, {0.9995, 1.0005}, {0.0, 25000.0}, {-3e-5, 7e-5}, {1e5, 9.9e6}}) {
            for (int n : {3, 6, 10}) {
                const auto t = hg::viz::nice_ticks(lo, hi, n);
                std::set<std::string> labels;
                for (double v : t) labels.insert(tick_label(v, t[1] - t[0]));
                CHECK(labels.size() == t.size());
            }
        }
        const auto lt = hg::viz::log_ticks(0.0068, 0.11);
        std::set<std::string> labels;
        for (double v : lt) labels.insert(tick_label(v, 1e-3));
        CHECK(labels == std::set<std::string>{"0.005", "0.01", "0.02", "0.05", "0.1", "0.2"});
    }
}

TEST_CASE("viz: moving_mean skips non-finite values") {
    const double inf = std::numeric_limits<double>::infinity();
    const auto m = hg::viz::moving_mean({1, nan_v, 3, inf, 5, 6}, 3);
    REQUIRE(m.size() == 6);
    // i: window values -> finite mean
    CHECK(m[0] == 1);    // {1}
    CHECK(m[1] == 1);    // {1, NaN}
    CHECK(m[2] == 2);    // {1, NaN, 3}
    CHECK(m[3] == 3);    // {NaN, 3, inf}
    CHECK(m[4] == 4);    // {3, inf, 5}
    CHECK(m[5] == 5.5);  // {inf, 5, 6}
    const auto gap = hg::viz::moving_mean({nan_v, nan_v, 2, nan_v, nan_v, nan_v}, 2);
    CHECK(std::isnan(gap[0]));
    CHECK(std::isnan(gap[1]));
    CHECK(gap[2] == 2);
    CHECK(gap[3] == 2);
    CHECK(std::isnan(gap[4]));
    CHECK(std::isnan(gap[5]));
    const auto one = hg::viz::moving_mean({1, inf, 3}, 1);
    CHECK(one[0] == 1);
    CHECK(std::isnan(one[1]));
    CHECK(one[2] == 3);
    CHECK(hg::viz::moving_mean({}, 4).empty());
    SUBCASE("long series against the direct sum") {
        std::vector<double> y;
        for (int i = 0; i < 1000; ++i) y.push_back(i % 13 == 5 ? nan_v : 1e3 * std::sin(i * 0.37) + i);
        for (std::int64_t w : {2, 7, 50, 2000}) {
            const auto got = hg::viz::moving_mean(y, w);
            for (std::int64_t i = 0; i < 1000; ++i) {
                double sum = 0;
                int n = 0;
                for (std::int64_t j = std::max<std::int64_t>(0, i - w + 1); j <= i; ++j)
                    if (std::isfinite(y[static_cast<std::size_t>(j)])) sum += y[static_cast<std::size_t>(j)], ++n;
                REQUIRE(n > 0);
                CHECK(got[static_cast<std::size_t>(i)] == doctest::Approx(sum / n).epsilon(1e-12));
            }
        }
    }
    CHECK_THROWS_AS(hg::viz::moving_mean({1, 2}, 0), hg::value_error);
}

TEST_CASE("viz: canvas text draws the font's pixels in the box text_width x text_height") {
    const rgb red = hg::viz::colours::red;
    CHECK(hg::viz::canvas::text_width("HH", 2) == 22);
    CHECK(hg::viz::canvas::text_width("", 3) == 0);
    CHECK(hg::viz::canvas::text_height(2) == 18);
    hg::viz::canvas cv(60, 40);
    cv.text(10, 10, "HH", red, 2);
    const auto& img = cv.image();
    CHECK(img.shape() == hg::shape{40, 60, 3});
    // 'H' has 17 ink pixels, each a 2 x 2 square
    CHECK(count_colour(img, red) == 2 * 17 * 4);
    CHECK(count_colour(img, red, 10, 10, 10 + 22, 10 + 14) == 2 * 17 * 4);
    CHECK(same(pixel(img, 10, 10), red));   // top-left of the first H
    CHECK(same(pixel(img, 31, 23), red));   // bottom-right of the second H
    CHECK(same(pixel(img, 12, 10), hg::viz::colours::white));  // the gap inside the H
    CHECK(count_colour(img, hg::viz::colours::white) == 60 * 40 - 2 * 17 * 4);

    SUBCASE("characters outside 32..126 are drawn as '?'") {
        hg::viz::canvas a(20, 12), b(20, 12);
        a.text(1, 1, "\x01", red);
        b.text(1, 1, "?", red);
        CHECK(count_colour(a.image(), red) > 0);
        CHECK(a.image().to_vector() == b.image().to_vector());
    }
    SUBCASE("vertical text reads upwards") {
        hg::viz::canvas v(20, 20);
        v.vertical_text(3, 4, "L", red);  // box 9 wide, 5 tall
        // the L's stem becomes the bottom row of the box, its foot the right column of the ink
        for (std::int64_t x = 3; x < 3 + 7; ++x) CHECK(same(pixel(v.image(), x, 4 + 4), red));
        for (std::int64_t y = 4; y < 4 + 5; ++y) CHECK(same(pixel(v.image(), 3 + 6, y), red));
        CHECK(count_colour(v.image(), red) == 11);
        CHECK(count_colour(v.image(), red, 3, 4, 3 + 9, 4 + 5) == 11);
    }
    SUBCASE("lines, thickness, dashes and clipping") {
        hg::viz::canvas l(30, 30);
        l.line(2, 5, 20, 5, red);
        CHECK(count_colour(l.image(), red) == 19);
        l.line(2, 10, 20, 10, red, 3);
        CHECK(count_colour(l.image(), red, 0, 9, 30, 12) == 21 * 3);  // x 1..21, y 9..11
        l.dashed_line(2, 20, 20, 20, hg::viz::colours::blue, 4, 3);  // 19 steps: 4 on, 3 off
        CHECK(count_colour(l.image(), hg::viz::colours::blue) == 4 + 4 + 4);
        l.clip(0, 0, 10, 30);
        l.line(0, 25, 29, 25, red);
        CHECK(count_colour(l.image(), red, 0, 25, 30, 26) == 10);
        CHECK_THROWS_AS(l.get(30, 0), hg::value_error);
        CHECK_THROWS_AS(l.text(0, 0, "x", red, 0), hg::value_error);
    }
    CHECK_THROWS_AS(hg::viz::canvas(0, 10), hg::value_error);
}

TEST_CASE("viz: render_loss_plot draws numbered axes, titles, legend and curves") {
    const rgb red = hg::viz::colours::red, blue = hg::viz::colours::blue;
    std::vector<double> a, b;
    for (int i = 0; i < 500; ++i) {
        a.push_back(0.1 * std::exp(-i / 150.0) + 0.01 * std::sin(i * 1.7) + 0.02);
        b.push_back(0.08 * std::exp(-i / 200.0) + 0.01 * std::cos(i * 2.3) + 0.03);
    }
    hg::viz::loss_plot_options o;
    o.title = "loss";
    const auto img = hg::viz::render_loss_plot({line_series("A", a, red), line_series("B", b, blue)}, o);
    REQUIRE(img.shape() == hg::shape{420, 800, 3});
    const auto values = img.to_vector();
    CHECK(*std::min_element(values.begin(), values.end()) == 0.f);  // black text
    CHECK(*std::max_element(values.begin(), values.end()) == 1.f);  // white background
    const frame f = find_frame(img);
    CHECK(f.left > 20);
    CHECK(f.left < 100);
    CHECK(f.bottom > 340);
    CHECK(f.bottom < 405);
    CHECK(f.right > 740);
    CHECK(f.top > 20);  // the title is above the frame
    const rgb black = hg::viz::colours::black;
    // y tick labels: left of the tick marks, inside the plot's height
    CHECK(count_colour(img, black, f.left - 45, f.top - 5, f.left - 6, f.bottom + 5) > 40);
    // the y title, further left
    CHECK(count_colour(img, black, 0, f.top, 14, f.bottom) > 10);
    // x tick labels and the x title, below the axis
    CHECK(count_colour(img, black, f.left - 5, f.bottom + 6, f.right + 5, f.bottom + 20) > 60);
    CHECK(count_colour(img, black, f.left, f.bottom + 21, f.right, img.shape()[0]) > 20);
    // the title above the frame
    CHECK(count_colour(img, black, 0, 0, 800, f.top - 6) > 40);
    // auto smoothing: window 500 / 50 = 10; the smoothed curve in full colour, the raw one in a tint
    CHECK(count_colour(img, red, f.left + 1, f.top + 1, f.right, f.bottom) > 400);
    CHECK(count_colour(img, blue, f.left + 1, f.top + 1, f.right, f.bottom) > 400);
    CHECK(count_colour(img, hg::viz::tint(red, 0.6f), f.left + 1, f.top + 1, f.right, f.bottom) > 200);
    // grid lines
    CHECK(count_colour(img, rgb{0.9f, 0.9f, 0.9f}) > 1000);

    SUBCASE("without smoothing the raw curve is in full colour and no tint is drawn") {
        o.smooth_window = 1;
        const auto raw = hg::viz::render_loss_plot({line_series("A", a, red)}, o);
        CHECK(count_colour(raw, hg::viz::tint(red, 0.6f)) == 0);
        CHECK(count_colour(raw, red) > 400);
    }
    SUBCASE("a larger picture is drawn at the size asked for") {
        o.width = 1400, o.height = 700;
        CHECK(hg::viz::render_loss_plot({line_series("A", a, red)}, o).shape() == hg::shape{700, 1400, 3});
    }
}

TEST_CASE("viz: render_loss_plot leaves a gap at a non-finite point") {
    const rgb red = hg::viz::colours::red;
    hg::viz::loss_plot_options o;
    o.smooth_window = 1;
    std::vector<double> y(100, 2.0);
    y[0] = 1.0;  // sets the y range to [1, 2]: the curve runs along the top
    const auto lower_half = [&](const std::vector<double>& values) {
        const auto img = hg::viz::render_loss_plot({line_series("A", values, red)}, o);
        const frame f = find_frame(img);
        const std::int64_t mid = (f.top + f.bottom) / 2, w = f.right - f.left;
        return count_colour(img, red, f.left + w * 3 / 10, mid, f.left + w * 7 / 10, f.bottom);
    };
    CHECK(lower_half(y) == 0);
    auto with_nan = y;
    with_nan[50] = nan_v;
    with_nan[60] = std::numeric_limits<double>::infinity();
    CHECK(lower_half(with_nan) == 0);
    auto with_zero = y;  // a finite low value does reach down: the check above can fail
    with_zero[50] = 1.0;
    CHECK(lower_half(with_zero) > 20);
    // and the gap itself: fewer curve pixels with the NaN than without
    const auto full = hg::viz::render_loss_plot({line_series("A", y, red)}, o);
    const auto cut = hg::viz::render_loss_plot({line_series("A", with_nan, red)}, o);
    CHECK(count_colour(cut, red) < count_colour(full, red));
}

TEST_CASE("viz: render_loss_plot on a log scale, with no data, and its errors") {
    const rgb red = hg::viz::colours::red, blue = hg::viz::colours::blue;
    hg::viz::loss_plot_options o;
    o.log_scale = true;
    std::vector<double> y;
    for (int i = 0; i < 200; ++i) y.push_back(std::pow(10.0, -3.0 * i / 199));
    y[10] = 0, y[20] = -1;  // left out on a log axis
    const auto img = hg::viz::render_loss_plot({line_series("A", y, red)}, o);
    CHECK(img.shape() == hg::shape{420, 800, 3});
    const frame f = find_frame(img);
    CHECK(count_colour(img, red, f.left + 1, f.top + 1, f.right, f.bottom) > 300);
    CHECK(count_colour(img, hg::viz::colours::black, f.left - 45, f.top - 5, f.left - 6, f.bottom + 5) > 40);
    // a straight line on the log axis: the smoothed curve passes near the plot's centre
    const std::int64_t cx = (f.left + f.right) / 2, cy = (f.top + f.bottom) / 2;
    CHECK(count_colour(img, red, cx - 3, cy - 12, cx + 4, cy + 13) > 0);

    SUBCASE("no data yet: axes, legend and a note") {
        hg::viz::loss_plot_options lin;
        const auto empty = hg::viz::render_loss_plot({hg::viz::series{"A", {}, {}, red}, line_series("B", {1.0}, blue)}, lin);
        const frame g = find_frame(empty);
        CHECK(g.right - g.left > 500);
        CHECK(count_colour(empty, hg::viz::colours::dark_grey, g.left, g.top, g.right, g.bottom) > 20);  // the note
        CHECK(count_colour(empty, red) == 20 * 2);  // the legend's colour sample only
        CHECK(count_colour(empty, blue) > 20 * 2);  // the sample and the single point
        const auto none = hg::viz::render_loss_plot({}, lin);
        CHECK(count_colour(none, hg::viz::colours::dark_grey) > 20);
        const auto with_data = hg::viz::render_loss_plot({line_series("A", {1, 2, 3}, red)}, lin);
        CHECK(count_colour(with_data, hg::viz::colours::dark_grey) == 0);
        o.log_scale = true;  // a series with no finite point is not an error on a log axis
        CHECK_NOTHROW(hg::viz::render_loss_plot({line_series("A", {nan_v}, red)}, o));
    }
    SUBCASE("errors") {
        auto check_message = [](auto&& call, const std::string& part) {
            try {
                call();
                FAIL("no exception");
            } catch (const hg::value_error& e) {
                CHECK(std::string(e.what()).find(part) != std::string::npos);
            }
        };
        check_message([&] { hg::viz::render_loss_plot({line_series("A", y, red), line_series("side B", {0, -1}, blue)}, o); },
                      "side B");
        hg::viz::series bad{"mismatched", {1, 2, 3}, {1, 2}, red};
        o.log_scale = false;
        check_message([&] { hg::viz::render_loss_plot({bad}, o); }, "mismatched");
        o.width = 199;
        CHECK_THROWS_AS(hg::viz::render_loss_plot({line_series("A", y, red)}, o), hg::value_error);
        o.width = 200, o.height = 149;
        CHECK_THROWS_AS(hg::viz::render_loss_plot({line_series("A", y, red)}, o), hg::value_error);
        o.height = 150;
        CHECK(hg::viz::render_loss_plot({line_series("A", y, red)}, o).shape() == hg::shape{150, 200, 3});
        o.smooth_window = -1;
        CHECK_THROWS_AS(hg::viz::render_loss_plot({line_series("A", y, red)}, o), hg::value_error);
    }
}

TEST_CASE("viz: render_preview_grid lays out labelled columns of faces") {
    const std::int64_t r = 2, s = 16, g = 2;
    std::vector<hg::viz::preview_column> cols{{"A", faces(r, s)}, {"B", faces(r, s, 0.05f)}, {"C", faces(r, s)}};
    cols[1].images.at(1, 3, 5, 0) = 0.25f;
    cols[1].images.at(1, 3, 5, 1) = 2.0f;  // clamped to 1
    cols[1].images.at(1, 3, 5, 2) = std::numeric_limits<float>::quiet_NaN();  // drawn as 0
    const auto img = hg::viz::render_preview_grid(cols, g);
    const std::int64_t header = hg::viz::preview_header_height(1, 1);
    CHECK(header == 2 * 3 + 9);
    REQUIRE(img.shape() == hg::shape{header + r * s + (r + 1) * g, 3 * s + 4 * g, 3});
    // face (row 1, column 1), pixel (y 3, x 5)
    CHECK(same(pixel(img, g + 1 * (s + g) + 5, header + g + 1 * (s + g) + 3), rgb{0.25f, 1.f, 0.f}));
    // another face pixel, as given
    CHECK(same(pixel(img, g + 2 * (s + g) + 7, header + g + 0 * (s + g) + 4),
               rgb{cols[2].images.at(0, 4, 7, 0), cols[2].images.at(0, 4, 7, 1), cols[2].images.at(0, 4, 7, 2)}));
    // gutters are grey
    CHECK(same(pixel(img, 0, header + 5), hg::viz::colours::grey));
    CHECK(same(pixel(img, g + s, header + g + 3), hg::viz::colours::grey));
    CHECK(same(pixel(img, 10, header), hg::viz::colours::grey));
    // labels: black ink in the header over each column, centred on it
    for (std::int64_t c = 0; c < 3; ++c) {
        const std::int64_t x0 = g + c * (s + g);
        CHECK(count_colour(img, hg::viz::colours::black, x0, 0, x0 + s, header) > 10);
        std::int64_t lo = s, hi = -1;
        for (std::int64_t y = 0; y < header; ++y)
            for (std::int64_t x = 0; x < s; ++x)
                if (same(pixel(img, x0 + x, y), hg::viz::colours::black)) lo = std::min(lo, x), hi = std::max(hi, x);
        CHECK(std::abs((lo + hi) - (s - 1)) <= 1);
    }
    CHECK(count_colour(img, hg::viz::colours::black, 0, 0, img.shape()[1], header) +
              count_colour(img, hg::viz::colours::white, 0, 0, img.shape()[1], header) ==
          img.shape()[1] * header);

    SUBCASE("long labels wrap onto two lines or are shortened with ...") {
        CHECK(hg::viz::preview_label_lines("A swapped to B", 64, 1) == std::vector<std::string>{"A swapped", "to B"});
        CHECK(hg::viz::preview_label_lines("A rec", 64, 1) == std::vector<std::string>{"A rec"});
        CHECK(hg::viz::preview_label_lines("abcdefghijklmnop", 64, 1) == std::vector<std::string>{"abcdefg..."});
        CHECK(hg::viz::preview_label_lines("A rec of B swapped", 64, 1) ==
              std::vector<std::string>{"A rec of B", "swapped"});
        // no first line fits ("reconstructed" is 77 px): the whole label is shortened
        CHECK(hg::viz::preview_label_lines("reconstructed face", 64, 1) == std::vector<std::string>{"reconst..."});
        CHECK(hg::viz::preview_label_lines("A swapped to B and back", 64, 1) ==
              std::vector<std::string>{"A swapped", "to B an..."});
        std::vector<hg::viz::preview_column> wide{{"A", faces(1, 64)}, {"A swapped to B", faces(1, 64)}};
        const auto two = hg::viz::render_preview_grid(wide, 2);
        CHECK(two.shape()[0] == hg::viz::preview_header_height(2, 1) + 64 + 2 * 2);
        CHECK(hg::viz::preview_header_height(2, 1) == 6 + 18 + 1);
        CHECK(hg::viz::preview_label_scale(128) == 2);
        CHECK(hg::viz::preview_label_scale(16) == 1);
    }
    SUBCASE("errors") {
        CHECK_THROWS_AS(hg::viz::render_preview_grid({}), hg::value_error);
        CHECK_THROWS_AS(hg::viz::render_preview_grid(cols, -1), hg::value_error);
        auto check_shape = [](const std::vector<hg::viz::preview_column>& c, const std::string& part) {
            try {
                hg::viz::render_preview_grid(c);
                FAIL("no exception");
            } catch (const hg::shape_error& e) {
                CHECK(std::string(e.what()).find(part) != std::string::npos);
            }
        };
        check_shape({{"A", faces(2, 16)}, {"odd size", faces(2, 32)}}, "odd size");
        check_shape({{"A", faces(2, 16)}, {"few rows", faces(1, 16)}}, "few rows");
        check_shape({{"flat", hg::tensor::zeros(hg::shape{16, 16, 3})}}, "flat");
        check_shape({{"grey", hg::tensor::zeros(hg::shape{1, 16, 16, 1})}}, "grey");
        check_shape({{"wide", hg::tensor::zeros(hg::shape{1, 16, 20, 3})}}, "wide");
    }
}

TEST_CASE("viz: write_loss_plot and write_preview_grid save PNG files") {
    const auto dir = std::filesystem::temp_directory_path() / ("hg_test_viz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    hg::viz::write_loss_plot(dir / "loss.png", {line_series("A", {3, 2, 1.5, 1.2}, hg::viz::colours::red)});
    hg::viz::write_preview_grid(dir / "grid.png", {{"A", faces(2, 16)}, {"B", faces(2, 16)}});
    const auto loss = hg::data::load_image(dir / "loss.png");
    const auto grid = hg::data::load_image(dir / "grid.png");
    std::filesystem::remove_all(dir);
    CHECK(loss.rgb.shape() == hg::shape{420, 800, 3});
    CHECK(grid.rgb.shape() == hg::shape{hg::viz::preview_header_height(1, 1) + 2 * 16 + 3 * 2, 2 * 16 + 3 * 2, 3});
    CHECK_THROWS_AS(hg::viz::write_loss_plot(dir / "missing" / "loss.png", {}), hg::io_error);
}
