// Tests of the convert step's image math: colour matching (face/color_transfer.hpp: each mode's
// statistics against the target's, the whole-image transform with statistics from inside the mask,
// errors), Poisson blending (face/poisson_blend.hpp: an exactly known solution, agreement with a
// double-precision sparse direct solve of the same equations, no seam where a naive paste has one,
// untouched pixels outside the region, mixed gradients, errors) and unsharp masking
// (face/sharpen.hpp).
#include <doctest/doctest.h>

#include <Eigen/Sparse>
#include <Eigen/SparseCholesky>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "hourglass/data/color.hpp"
#include "hourglass/face/color_transfer.hpp"
#include "hourglass/face/poisson_blend.hpp"
#include "hourglass/face/sharpen.hpp"

#include "cpu/face_test_support.hpp"

namespace {

using hg::shape;
using hg::tensor;
namespace face = hg::face;

using hg_test_face::contains;
using hg_test_face::value_error_message;

/// A face-like RGB test picture: a smooth shaded oval on a smooth background, fine noise, mild
/// per-channel chroma, then a colour cast: v = mid + contrast * (pattern - 0.5) + cast[ch]. Stays inside (0, 1) for the
/// parameters used here (checked by the callers that need it).
tensor picture(std::int64_t h, std::int64_t w, std::uint32_t seed, const std::array<float, 3>& cast, float contrast,
               float mid = 0.5f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    const float phase = u(rng) * 6.0f;
    tensor t = tensor::empty(shape{h, w, 3});
    for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x) {
            const float fx = static_cast<float>(x) / static_cast<float>(w), fy = static_cast<float>(y) / static_cast<float>(h);
            const float ex = (fx - 0.5f) / 0.35f, ey = (fy - 0.5f) / 0.45f;
            const float face = std::exp(-(ex * ex + ey * ey));  // the oval
            // Mostly shading shared by the channels, a little chroma of its own per channel.
            const float common = 0.35f * face + 0.2f * std::sin(7.0f * fx + phase) * std::cos(5.0f * fy) + 0.1f * u(rng) + 0.3f;
            for (std::int64_t c = 0; c < 3; ++c) {
                const float pattern = common + 0.05f * std::sin(3.0f * fx + 2.0f * static_cast<float>(c) + phase) * std::cos(4.0f * fy) +
                                      0.03f * u(rng);
                t.data()[(y * w + x) * 3 + c] = mid + contrast * (pattern - 0.5f) + cast[static_cast<std::size_t>(c)];
            }
        }
    return t;
}

/// A feathered elliptical [h, w, 1] mask: 1 well inside the ellipse, falling linearly to 0 at its rim
/// over the last `feather` of the radius.
tensor oval_mask(std::int64_t h, std::int64_t w, double feather = 0.15) {
    tensor m = tensor::empty(shape{h, w, 1});
    for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x) {
            const double ex = (static_cast<double>(x) + 0.5 - 0.5 * static_cast<double>(w)) / (0.38 * static_cast<double>(w));
            const double ey = (static_cast<double>(y) + 0.5 - 0.5 * static_cast<double>(h)) / (0.45 * static_cast<double>(h));
            m.data()[y * w + x] = static_cast<float>(std::clamp((1.0 - std::sqrt(ex * ex + ey * ey)) / feather, 0.0, 1.0));
        }
    return m;
}

/// Weighted mean and covariance (3 x 3, population) of per-pixel triples under the mask.
struct stats3 {
    Eigen::Vector3d mean = Eigen::Vector3d::Zero();
    Eigen::Matrix3d cov = Eigen::Matrix3d::Zero();
};
stats3 weighted(const std::vector<Eigen::Vector3d>& px, const tensor& mask) {
    stats3 s;
    double total = 0.0;
    for (std::size_t i = 0; i < px.size(); ++i) {
        const double w = mask.data()[i];
        s.mean += w * px[i];
        total += w;
    }
    s.mean /= total;
    for (std::size_t i = 0; i < px.size(); ++i) {
        const Eigen::Vector3d d = px[i] - s.mean;
        s.cov += static_cast<double>(mask.data()[i]) * d * d.transpose();
    }
    s.cov /= total;
    return s;
}
std::vector<Eigen::Vector3d> rgb_pixels(const tensor& t) {
    std::vector<Eigen::Vector3d> v(static_cast<std::size_t>(t.numel() / 3));
    for (std::size_t i = 0; i < v.size(); ++i)
        v[i] = Eigen::Vector3d(t.data()[3 * i], t.data()[3 * i + 1], t.data()[3 * i + 2]);
    return v;
}
std::vector<Eigen::Vector3d> lab_pixels(const tensor& t) {
    std::vector<Eigen::Vector3d> v(static_cast<std::size_t>(t.numel() / 3));
    for (std::size_t i = 0; i < v.size(); ++i) {
        const auto lab = hg::data::srgb_to_lab(hg::data::color3{{t.data()[3 * i], t.data()[3 * i + 1], t.data()[3 * i + 2]}});
        v[i] = Eigen::Vector3d(lab.c[0], lab.c[1], lab.c[2]);
    }
    return v;
}

/// True when every value lies strictly inside (0, 1): nothing was clamped.
bool strictly_inside(const tensor& t) {
    for (std::int64_t i = 0; i < t.numel(); ++i)
        if (!(t.data()[i] > 0.0f && t.data()[i] < 1.0f)) return false;
    return true;
}

/// Largest difference of the mask-weighted empirical CDFs of channel ch of a and b (Kolmogorov-Smirnov).
double weighted_ks(const tensor& a, const tensor& b, const tensor& mask, std::int64_t ch) {
    struct item {
        float v;
        double wa, wb;
    };
    std::vector<item> all;
    double ta = 0.0, tb = 0.0;
    for (std::int64_t p = 0; p < mask.numel(); ++p) {
        const double w = mask.data()[p];
        if (w == 0.0) continue;
        all.push_back({a.data()[p * 3 + ch], w, 0.0});
        all.push_back({b.data()[p * 3 + ch], 0.0, w});
        ta += w;
        tb += w;
    }
    std::sort(all.begin(), all.end(), [](const item& x, const item& y) { return x.v < y.v; });
    double ca = 0.0, cb = 0.0, worst = 0.0;
    for (std::size_t i = 0; i < all.size(); ++i) {
        ca += all[i].wa;
        cb += all[i].wb;
        if (i + 1 < all.size() && all[i + 1].v == all[i].v) continue;  // compare after a run of equal values
        worst = std::max(worst, std::abs(ca / ta - cb / tb));
    }
    return worst;
}

double max_abs_diff(const tensor& a, const tensor& b) {
    double d = 0.0;
    for (std::int64_t i = 0; i < a.numel(); ++i) d = std::max(d, std::abs(static_cast<double>(a.data()[i]) - b.data()[i]));
    return d;
}

bool bit_equal(const float* a, const float* b, std::int64_t n) { return std::memcmp(a, b, static_cast<std::size_t>(n) * sizeof(float)) == 0; }

constexpr face::color_mode all_modes[] = {face::color_mode::none, face::color_mode::avg, face::color_mode::rct,
                                          face::color_mode::lct, face::color_mode::hist};

}  // namespace

TEST_SUITE("face.color_transfer") {
    // A warm, flat swapped face (source) matched to a cool, contrasty original (target).
    const std::int64_t H = 96, W = 80;
    const tensor source = picture(H, W, 11, {0.08f, 0.0f, -0.07f}, 0.55f, 0.5f);
    const tensor target = picture(H, W, 22, {-0.06f, 0.01f, 0.09f}, 0.85f, 0.47f);
    const tensor mask = oval_mask(H, W);

    TEST_CASE("the test pictures differ in colour and stay inside (0, 1)") {
        REQUIRE(strictly_inside(source));
        REQUIRE(strictly_inside(target));
        const stats3 s = weighted(lab_pixels(source), mask), t = weighted(lab_pixels(target), mask);
        CHECK(std::abs(s.mean[2] - t.mean[2]) > 5.0);              // b* differs: the casts
        CHECK(std::sqrt(t.cov(0, 0)) > 1.3 * std::sqrt(s.cov(0, 0)));  // contrast differs
    }

    TEST_CASE("parse and to_string round trip; unknown names are refused") {
        for (const face::color_mode m : all_modes) CHECK(face::parse_color_mode(face::to_string(m)) == m);
        CHECK(contains(value_error_message([] { (void)face::parse_color_mode("mkl"); }), "unknown colour mode 'mkl'"));
    }

    TEST_CASE("none returns the source") {
        const tensor out = face::match_colors(source, target, mask, face::color_mode::none);
        CHECK(bit_equal(out.data(), source.data(), source.numel()));
        CHECK(out.data() != source.data());
    }

    TEST_CASE("avg: the masked RGB mean becomes the target's") {
        const tensor out = face::match_colors(source, target, mask, face::color_mode::avg);
        REQUIRE(strictly_inside(out));
        const stats3 r = weighted(rgb_pixels(out), mask), t = weighted(rgb_pixels(target), mask), s = weighted(rgb_pixels(source), mask);
        CHECK((s.mean - t.mean).cwiseAbs().maxCoeff() > 0.05);
        CHECK((r.mean - t.mean).cwiseAbs().maxCoeff() < 1e-6);  // float rounding of the stored result
        // A shift: the covariance is the source's.
        CHECK((r.cov - s.cov).cwiseAbs().maxCoeff() < 1e-6);
    }

    TEST_CASE("rct: the masked L*a*b* mean and standard deviation become the target's") {
        const tensor out = face::match_colors(source, target, mask, face::color_mode::rct);
        REQUIRE(strictly_inside(out));  // nothing clamped, so the statistics must match up to rounding
        const stats3 r = weighted(lab_pixels(out), mask), t = weighted(lab_pixels(target), mask);
        for (int c = 0; c < 3; ++c) {
            CAPTURE(c);
            CHECK(std::abs(r.mean[c] - t.mean[c]) < 1e-4);  // L*a*b* units (L in [0, 100])
            CHECK(std::abs(std::sqrt(r.cov(c, c)) / std::sqrt(t.cov(c, c)) - 1.0) < 1e-5);
        }
    }

    TEST_CASE("rct with a flat source only moves the mean (no division by a zero spread)") {
        const tensor grey = tensor::full(shape{H, W, 3}, 0.4f);
        const tensor out = face::match_colors(grey, target, mask, face::color_mode::rct);
        const stats3 r = weighted(lab_pixels(out), mask), t = weighted(lab_pixels(target), mask);
        CHECK(std::isfinite(r.mean.sum()));
        CHECK((r.mean - t.mean).cwiseAbs().maxCoeff() < 1e-3);
        bool one_colour = true;  // still one colour
        for (std::int64_t p = 0; p < H * W; ++p) one_colour = one_colour && bit_equal(out.data() + p * 3, out.data(), 3);
        CHECK(one_colour);
    }

    TEST_CASE("lct: the masked RGB mean and covariance become the target's") {
        const tensor out = face::match_colors(source, target, mask, face::color_mode::lct);
        REQUIRE(strictly_inside(out));
        const stats3 r = weighted(rgb_pixels(out), mask), t = weighted(rgb_pixels(target), mask), s = weighted(rgb_pixels(source), mask);
        CHECK((s.cov - t.cov).cwiseAbs().maxCoeff() > 5e-3);
        CHECK((r.mean - t.mean).cwiseAbs().maxCoeff() < 1e-6);
        // T Cs T^T = Ct - eps Ct'^{1/2} Cs'^{-1} Ct'^{1/2} + eps I: off by a few eps = 1e-5 at most.
        CHECK((r.cov - t.cov).cwiseAbs().maxCoeff() < 3e-5);
    }

    TEST_CASE("hist: the masked CDF of each channel becomes the target's") {
        const tensor out = face::match_colors(source, target, mask, face::color_mode::hist);
        double total = 0.0, largest = 0.0;
        for (std::int64_t p = 0; p < mask.numel(); ++p) {
            total += mask.data()[p];
            largest = std::max(largest, static_cast<double>(mask.data()[p]));
        }
        const double step = largest / total;  // the CDF's largest single step
        for (std::int64_t c = 0; c < 3; ++c) {
            CAPTURE(c);
            CHECK(weighted_ks(source, target, mask, c) > 0.1);
            CHECK(weighted_ks(out, target, mask, c) <= 3.0 * step);
        }
    }

    TEST_CASE("the transform applies to the whole source with statistics from inside the mask only") {
        // Pixel (2, 2) lies outside the mask; give it the colour of a pixel inside.
        REQUIRE(mask.data()[2 * W + 2] == 0.0f);
        const std::int64_t inner = (H / 2) * W + W / 2;
        REQUIRE(mask.data()[inner] == 1.0f);
        tensor src = source.clone();
        std::copy_n(src.data() + inner * 3, 3, src.data() + (2 * W + 2) * 3);
        // Change everything else outside the mask, in both images.
        tensor tgt = target.clone();
        tensor src2 = src.clone();
        for (std::int64_t p = 0; p < H * W; ++p)
            if (mask.data()[p] == 0.0f && p != 2 * W + 2)
                for (std::int64_t c = 0; c < 3; ++c) {
                    src2.data()[p * 3 + c] = 0.9f;
                    tgt.data()[p * 3 + c] = 0.1f;
                }
        for (const face::color_mode m : all_modes) {
            CAPTURE(face::to_string(m));
            const tensor a = face::match_colors(src, target, mask, m), b = face::match_colors(src2, tgt, mask, m);
            CHECK(bit_equal(a.data() + inner * 3, a.data() + (2 * W + 2) * 3, 3));  // same colour, same result
            bool inside_same = true;
            for (std::int64_t p = 0; p < H * W; ++p)
                if (mask.data()[p] > 0.0f) inside_same = inside_same && bit_equal(a.data() + p * 3, b.data() + p * 3, 3);
            CHECK(inside_same);  // pixels outside the mask take no part in the statistics
            if (m != face::color_mode::none) CHECK(max_abs_diff(a, src) > 0.01);  // and pixels outside are transformed too
        }
    }

    TEST_CASE("mask_box maps the mask's bounding box exactly as the whole-image transform and copies the rest") {
        // The oval mask inside a larger picture whose border holds other colours.
        const std::int64_t pad = 13;
        const tensor big_s = picture(H + 2 * pad, W + 2 * pad, 31, {0.05f, -0.02f, 0.0f}, 0.6f, 0.5f);
        const tensor big_t = picture(H + 2 * pad, W + 2 * pad, 32, {-0.04f, 0.03f, 0.05f}, 0.8f, 0.45f);
        tensor big_m = tensor::zeros(shape{H + 2 * pad, W + 2 * pad, 1});
        for (std::int64_t y = 0; y < H; ++y)
            for (std::int64_t x = 0; x < W; ++x) big_m.data()[(y + pad) * (W + 2 * pad) + x + pad] = mask.data()[y * W + x];
        std::int64_t y0 = H + 2 * pad, y1 = 0, x0 = W + 2 * pad, x1 = 0;  // the box, found here independently
        for (std::int64_t y = 0; y < H + 2 * pad; ++y)
            for (std::int64_t x = 0; x < W + 2 * pad; ++x)
                if (big_m.data()[y * (W + 2 * pad) + x] > 0.0f) {
                    y0 = std::min(y0, y), y1 = std::max(y1, y + 1), x0 = std::min(x0, x), x1 = std::max(x1, x + 1);
                }
        REQUIRE(y0 > 0);
        REQUIRE(x0 > 0);
        for (const face::color_mode m : all_modes) {
            CAPTURE(face::to_string(m));
            const tensor whole = face::match_colors(big_s, big_t, big_m, m);
            const tensor boxed = face::match_colors(big_s, big_t, big_m, m, face::color_region::mask_box);
            bool in_box_equal = true, outside_is_source = true, whole_changes_outside = false;
            for (std::int64_t y = 0; y < H + 2 * pad; ++y)
                for (std::int64_t x = 0; x < W + 2 * pad; ++x) {
                    const std::int64_t q = (y * (W + 2 * pad) + x) * 3;
                    if (y >= y0 && y < y1 && x >= x0 && x < x1) {
                        in_box_equal = in_box_equal && bit_equal(whole.data() + q, boxed.data() + q, 3);
                    } else {
                        outside_is_source = outside_is_source && bit_equal(boxed.data() + q, big_s.data() + q, 3);
                        whole_changes_outside = whole_changes_outside || !bit_equal(whole.data() + q, big_s.data() + q, 3);
                    }
                }
            CHECK(in_box_equal);
            CHECK(outside_is_source);
            CHECK(whole_changes_outside == (m != face::color_mode::none));
        }
    }

    TEST_CASE("avg and hist work on any channel count; rct and lct need RGB") {
        const tensor one_s = tensor::full(shape{4, 4, 1}, 0.2f), one_t = tensor::full(shape{4, 4, 1}, 0.7f);
        const tensor m = tensor::full(shape{4, 4, 1}, 1.0f);
        CHECK(max_abs_diff(face::match_colors(one_s, one_t, m, face::color_mode::avg), one_t) < 1e-6);
        CHECK(max_abs_diff(face::match_colors(one_s, one_t, m, face::color_mode::hist), one_t) == 0.0);
        CHECK_THROWS_AS((void)face::match_colors(one_s, one_t, m, face::color_mode::rct), hg::shape_error);
        CHECK_THROWS_AS((void)face::match_colors(one_s, one_t, m, face::color_mode::lct), hg::shape_error);
    }

    TEST_CASE("errors") {
        const auto rct = face::color_mode::rct;
        CHECK_THROWS_AS((void)face::match_colors(source, tensor::full(shape{H, W + 1, 3}, 0.5f), mask, rct), hg::shape_error);
        CHECK_THROWS_AS((void)face::match_colors(source, target, tensor::full(shape{H, W - 1, 1}, 1.0f), rct), hg::shape_error);
        CHECK_THROWS_AS((void)face::match_colors(source, target, tensor::full(shape{H, W, 3}, 1.0f), rct), hg::shape_error);
        CHECK(contains(value_error_message([&] { (void)face::match_colors(source, target, tensor::zeros(shape{H, W, 1}), rct); }),
                       "the mask is empty"));
        CHECK(contains(value_error_message([&] { (void)face::match_colors(source, target, tensor::full(shape{H, W, 1}, 1.5f), rct); }),
                       "not in [0, 1]"));
        tensor bad = source.clone();
        bad.data()[7] = std::numeric_limits<float>::quiet_NaN();
        CHECK(contains(value_error_message([&] { (void)face::match_colors(bad, target, mask, rct); }), "source has a non-finite value"));
        CHECK(contains(value_error_message([&] { (void)face::match_colors(source, bad, mask, rct); }), "target has a non-finite value"));
    }
}

namespace {

/// The same discrete Poisson equations solved in double by a sparse direct factorisation (the oracle).
tensor poisson_reference(const tensor& src, const tensor& dst, const tensor& mask, bool mixed) {
    const std::int64_t h = src.shape()[0], w = src.shape()[1], c = src.shape()[2];
    std::vector<int> index(static_cast<std::size_t>(h * w), -1);
    int n = 0;
    for (std::int64_t i = 0; i < h * w; ++i)
        if (mask.data()[i] > 0.5f) index[static_cast<std::size_t>(i)] = n++;
    std::vector<Eigen::Triplet<double>> entries;
    Eigen::MatrixXd b = Eigen::MatrixXd::Zero(n, c);
    const int dy[4] = {-1, 1, 0, 0}, dx[4] = {0, 0, -1, 1};
    auto at = [&](const tensor& t, std::int64_t y, std::int64_t x, std::int64_t l) { return static_cast<double>(t.data()[(y * w + x) * c + l]); };
    for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x) {
            const int p = index[static_cast<std::size_t>(y * w + x)];
            if (p < 0) continue;
            int neighbours = 0;
            for (int e = 0; e < 4; ++e) {
                const std::int64_t yy = y + dy[e], xx = x + dx[e];
                if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                ++neighbours;
                const int q = index[static_cast<std::size_t>(yy * w + xx)];
                for (std::int64_t l = 0; l < c; ++l) {
                    double v = at(src, y, x, l) - at(src, yy, xx, l);
                    const double vd = at(dst, y, x, l) - at(dst, yy, xx, l);
                    if (mixed && std::abs(vd) > std::abs(v)) v = vd;
                    b(p, l) += v + (q < 0 ? at(dst, yy, xx, l) : 0.0);
                }
                if (q >= 0) entries.emplace_back(p, q, -1.0);
            }
            entries.emplace_back(p, p, neighbours);
        }
    Eigen::SparseMatrix<double> a(n, n);
    a.setFromTriplets(entries.begin(), entries.end());
    const Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>> solver(a);
    const Eigen::MatrixXd u = solver.solve(b);
    tensor out = dst.clone();
    for (std::int64_t i = 0; i < h * w; ++i)
        if (index[static_cast<std::size_t>(i)] >= 0)
            for (std::int64_t l = 0; l < c; ++l)
                out.data()[i * c + l] = static_cast<float>(std::clamp(u(index[static_cast<std::size_t>(i)], l), 0.0, 1.0));
    return out;
}

/// Binary [h, w, 1] mask of an ellipse centred at (cx, cy) with semi-axes (ax, ay), values 0 / 1.
tensor ellipse(std::int64_t h, std::int64_t w, double cx, double cy, double ax, double ay) {
    tensor m = tensor::zeros(shape{h, w, 1});
    for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x) {
            const double ex = (static_cast<double>(x) - cx) / ax, ey = (static_cast<double>(y) - cy) / ay;
            if (ex * ex + ey * ey <= 1.0) m.data()[y * w + x] = 1.0f;
        }
    return m;
}

}  // namespace

TEST_SUITE("face.poisson_blend") {
    TEST_CASE("a known solution: destination and source quadratics whose difference is discretely harmonic") {
        // With f* = q and g = q + s, s discretely harmonic (constant, linear, x y and x^2 - y^2 terms:
        // the 5-point Laplacian of a quadratic is exact), the solution inside Omega is q itself.
        const std::int64_t h = 120, w = 140;
        tensor q = tensor::empty(shape{h, w, 3}), g = tensor::empty(shape{h, w, 3});
        for (std::int64_t y = 0; y < h; ++y)
            for (std::int64_t x = 0; x < w; ++x)
                for (std::int64_t c = 0; c < 3; ++c) {
                    const double X = (static_cast<double>(x) - 70.0) / 65.0, Y = (static_cast<double>(y) - 60.0) / 65.0;
                    const double k = 1.0 + 0.3 * static_cast<double>(c);
                    const double qv = 0.45 + 0.2 * k * X * X + 0.15 * Y * Y - 0.1 * X * Y + 0.05 * Y;
                    const double sv = 0.2 - 0.1 * k + 0.3 * (X * X - Y * Y) + 0.25 * X * Y - 0.2 * X + 0.1 * k * Y;
                    q.data()[(y * w + x) * 3 + c] = static_cast<float>(qv);
                    g.data()[(y * w + x) * 3 + c] = static_cast<float>(qv + sv);
                }
        tensor m = ellipse(h, w, 66.3, 58.1, 55.0, 47.0);
        for (std::int64_t y = 50; y < 66; ++y)  // a notch: not a convex region
            for (std::int64_t x = 100; x < w; ++x) m.data()[y * w + x] = 0.0f;
        face::poisson_stats st;
        const tensor out = face::poisson_blend(g, q, m, {}, &st);
        CHECK(st.iterations >= 3);
        CHECK(st.relative_residual <= 1e-5);
        CHECK(max_abs_diff(g, q) > 0.3);  // the warm start is far away
        double err = 0.0;
        for (std::int64_t i = 0; i < h * w; ++i)
            if (m.data()[i] > 0.5f)
                for (std::int64_t c = 0; c < 3; ++c) err = std::max(err, std::abs(static_cast<double>(out.data()[i * 3 + c]) - q.data()[i * 3 + c]));
        CHECK(err < 1e-4);  // 0.026 of an 8-bit level
    }

    TEST_CASE("agrees with a double-precision sparse direct solve (region touching the image edge, both guidances)") {
        const std::int64_t h = 90, w = 110;
        const tensor src = picture(h, w, 5, {0.05f, 0.0f, -0.05f}, 0.7f);
        const tensor dst = picture(h, w, 6, {-0.05f, 0.02f, 0.05f}, 0.6f, 0.45f);
        tensor m = ellipse(h, w, 20.0, 45.0, 35.0, 30.0);  // cut by the left edge of the image
        for (std::int64_t y = 0; y < h; ++y) m.data()[y * w + 80] = 0.9f;  // and a detached column
        for (const bool mixed : {false, true}) {
            CAPTURE(mixed);
            face::poisson_options o;
            o.mixed_gradients = mixed;
            const tensor out = face::poisson_blend(src, dst, m, o);
            CHECK(max_abs_diff(out, poisson_reference(src, dst, m, mixed)) < 1e-4);
        }
    }

    TEST_CASE("a face pasted into a flat background leaves no seam; a naive paste leaves one") {
        const std::int64_t h = 128, w = 128;
        const tensor background = tensor::full(shape{h, w, 3}, 0.5f);
        // The swapped face: a bright flat surround, a shaded face oval with darker eyes and mouth.
        tensor face_img = tensor::full(shape{h, w, 3}, 0.7f);
        const tensor oval = ellipse(h, w, 64, 64, 34, 42), eye_l = ellipse(h, w, 50, 52, 6, 3), eye_r = ellipse(h, w, 78, 52, 6, 3),
                     mouth = ellipse(h, w, 64, 86, 12, 3);
        for (std::int64_t p = 0; p < h * w; ++p)
            for (std::int64_t c = 0; c < 3; ++c) {
                float v = 0.7f;
                if (oval.data()[p] > 0.5f) v = 0.6f + 0.05f * static_cast<float>(c) + 0.1f * static_cast<float>(p % w) / static_cast<float>(w);
                if (eye_l.data()[p] > 0.5f || eye_r.data()[p] > 0.5f) v = 0.3f;
                if (mouth.data()[p] > 0.5f) v = 0.35f;
                face_img.data()[p * 3 + c] = v;
            }
        const tensor m = ellipse(h, w, 64, 64, 46, 54);  // the face plus a margin of flat surround
        const tensor out = face::poisson_blend(face_img, background, m);
        // The largest step between a pixel of the region and its neighbour outside it.
        auto seam = [&](const tensor& img) {
            double worst = 0.0;
            for (std::int64_t y = 1; y + 1 < h; ++y)
                for (std::int64_t x = 1; x + 1 < w; ++x) {
                    if (m.data()[y * w + x] <= 0.5f) continue;
                    for (const std::int64_t q : {(y - 1) * w + x, (y + 1) * w + x, y * w + x - 1, y * w + x + 1})
                        if (m.data()[q] <= 0.5f)
                            for (std::int64_t c = 0; c < 3; ++c)
                                worst = std::max(worst, std::abs(static_cast<double>(img.data()[(y * w + x) * 3 + c]) - img.data()[q * 3 + c]));
                }
            return worst;
        };
        tensor naive = background.clone();
        for (std::int64_t p = 0; p < h * w; ++p)
            for (std::int64_t c = 0; c < 3; ++c)
                naive.data()[p * 3 + c] = m.data()[p] * face_img.data()[p * 3 + c] + (1.0f - m.data()[p]) * background.data()[p * 3 + c];
        CHECK(seam(naive) > 0.19);
        CHECK(seam(out) < 1e-4);
        // The surround is flat and the boundary constant, so the solution is the face shifted by the
        // boundary's offset 0.5 - 0.7: every feature keeps its contrast.
        double shift_err = 0.0;
        for (std::int64_t p = 0; p < h * w; ++p)
            if (m.data()[p] > 0.5f)
                for (std::int64_t c = 0; c < 3; ++c)
                    shift_err = std::max(shift_err, std::abs(static_cast<double>(out.data()[p * 3 + c]) - (face_img.data()[p * 3 + c] - 0.2)));
        CHECK(shift_err < 1e-4);
    }

    TEST_CASE("pixels outside the region are the destination's, bit for bit") {
        const std::int64_t h = 70, w = 60;
        const tensor src = picture(h, w, 7, {0.0f, 0.0f, 0.0f}, 0.7f), dst = picture(h, w, 8, {0.0f, 0.0f, 0.0f}, 0.7f);
        tensor m = oval_mask(h, w);  // soft: Omega = { m > 0.5 }
        const tensor out = face::poisson_blend(src, dst, m);
        std::int64_t outside = 0, changed = 0;
        for (std::int64_t p = 0; p < h * w; ++p) {
            if (m.data()[p] > 0.5f) {
                changed += !bit_equal(out.data() + p * 3, dst.data() + p * 3, 3);
                continue;
            }
            ++outside;
            CHECK(bit_equal(out.data() + p * 3, dst.data() + p * 3, 3));
        }
        CHECK(outside > 0);
        CHECK(changed > 0);
    }

    TEST_CASE("mixed gradients keep the destination's texture where the source is flat") {
        const std::int64_t h = 64, w = 64;
        const tensor flat = tensor::full(shape{h, w, 3}, 0.5f);
        const tensor textured = picture(h, w, 9, {0.0f, 0.0f, 0.0f}, 0.8f);
        const tensor m = ellipse(h, w, 32, 32, 20, 24);
        face::poisson_options mixed;
        mixed.mixed_gradients = true;
        CHECK(max_abs_diff(face::poisson_blend(flat, textured, m, mixed), textured) < 1e-4);
        // Imported (flat) gradients give the smooth membrane instead, which loses the texture.
        CHECK(max_abs_diff(face::poisson_blend(flat, textured, m), textured) > 0.05);
    }

    TEST_CASE("more than four channels and a single channel") {
        const std::int64_t h = 40, w = 50;
        tensor src = tensor::empty(shape{h, w, 5}), dst = tensor::empty(shape{h, w, 5});
        std::mt19937 rng(3);
        std::uniform_real_distribution<float> u(0.2f, 0.8f);
        for (std::int64_t i = 0; i < src.numel(); ++i) {
            src.data()[i] = u(rng);
            dst.data()[i] = u(rng);
        }
        const tensor m = ellipse(h, w, 25, 20, 15, 12);
        CHECK(max_abs_diff(face::poisson_blend(src, dst, m), poisson_reference(src, dst, m, false)) < 1e-4);
        const tensor s1 = tensor::full(shape{h, w, 1}, 0.3f), d1 = tensor::full(shape{h, w, 1}, 0.6f);
        CHECK(max_abs_diff(face::poisson_blend(s1, d1, m), d1) < 1e-5);  // flat source: the membrane is the flat boundary
    }

    TEST_CASE("errors") {
        const tensor a = tensor::full(shape{20, 20, 3}, 0.5f), m = ellipse(20, 20, 10, 10, 5, 5);
        CHECK_THROWS_AS((void)face::poisson_blend(a, tensor::full(shape{20, 21, 3}, 0.5f), m), hg::shape_error);
        CHECK_THROWS_AS((void)face::poisson_blend(a, a, tensor::full(shape{20, 19, 1}, 1.0f)), hg::shape_error);
        CHECK_THROWS_AS((void)face::poisson_blend(a, a, tensor::full(shape{20, 20, 3}, 1.0f)), hg::shape_error);
        CHECK(contains(value_error_message([&] { (void)face::poisson_blend(a, a, tensor::full(shape{20, 20, 1}, 0.5f)); }),
                       "the mask is empty"));
        CHECK(contains(value_error_message([&] { (void)face::poisson_blend(a, a, tensor::full(shape{20, 20, 1}, 1.0f)); }),
                       "covers the whole image"));
        tensor bad = a.clone();
        bad.data()[5] = std::numeric_limits<float>::infinity();
        CHECK(contains(value_error_message([&] { (void)face::poisson_blend(bad, a, m); }), "source has a non-finite value"));
        face::poisson_options o;
        o.tolerance = 0.0;
        CHECK(contains(value_error_message([&] { (void)face::poisson_blend(a, a, m, o); }), "tolerance"));
        // An iteration limit that cannot be met is reported, not returned silently.
        const tensor src = picture(40, 40, 1, {0.0f, 0.0f, 0.0f}, 0.7f), dst = picture(40, 40, 2, {0.0f, 0.0f, 0.0f}, 0.7f);
        o.tolerance = 1e-12;
        o.max_iterations = 1;
        const tensor big = ellipse(40, 40, 20, 20, 15, 15);
        CHECK_THROWS_AS((void)face::poisson_blend(src, dst, big, o), hg::error);
    }
}

TEST_SUITE("face.sharpen") {
    const tensor image = picture(48, 40, 4, {0.0f, 0.0f, 0.0f}, 0.6f);

    TEST_CASE("amount 0 is the identity; constant images are unchanged") {
        const tensor out = face::unsharp_mask(image, 0.0, 2.0);
        CHECK(bit_equal(out.data(), image.data(), image.numel()));
        const tensor flat = tensor::full(shape{30, 30, 3}, 0.37f);
        CHECK(max_abs_diff(face::unsharp_mask(flat, 1.5, 3.0), flat) == 0.0);
    }

    TEST_CASE("a step edge overshoots by an amount proportional to amount") {
        const std::int64_t h = 6, w = 64;
        tensor step = tensor::empty(shape{h, w, 1});
        for (std::int64_t y = 0; y < h; ++y)
            for (std::int64_t x = 0; x < w; ++x) step.data()[y * w + x] = x < 32 ? 0.3f : 0.6f;
        auto overshoot = [&](const tensor& t) {
            double hi = 0.0, lo = 0.0;
            for (std::int64_t i = 0; i < t.numel(); ++i) {
                hi = std::max(hi, static_cast<double>(t.data()[i]) - 0.6);
                lo = std::max(lo, 0.3 - static_cast<double>(t.data()[i]));
            }
            return std::pair{hi, lo};
        };
        const auto [hi1, lo1] = overshoot(face::unsharp_mask(step, 1.0, 2.0));
        const auto [hi2, lo2] = overshoot(face::unsharp_mask(step, 2.0, 2.0));
        CHECK(hi1 > 0.05);
        CHECK(std::abs(hi2 / hi1 - 2.0) < 1e-5);
        CHECK(std::abs(lo1 - hi1) < 1e-6);  // symmetric about the step
        CHECK(std::abs(lo2 / lo1 - 2.0) < 1e-5);
        // Far from the edge nothing changes.
        const tensor s1 = face::unsharp_mask(step, 1.0, 2.0);
        CHECK(s1.data()[2 * w + 5] == 0.3f);
        CHECK(s1.data()[2 * w + 60] == 0.6f);
        // A mask scales the effect pixel by pixel: half the mask, half the overshoot.
        const auto [hih, loh] = overshoot(face::unsharp_mask(step, 1.0, 2.0, tensor::full(shape{h, w, 1}, 0.5f)));
        CHECK(std::abs(hih / hi1 - 0.5) < 1e-5);
        CHECK(max_abs_diff(face::unsharp_mask(step, 3.0, 2.0, tensor::zeros(shape{h, w, 1})), step) == 0.0);
        (void)loh;
    }

    TEST_CASE("results are clamped to [0, 1]") {
        const tensor out = face::unsharp_mask(image, 50.0, 1.0);
        double lo = 1.0, hi = 0.0;
        for (std::int64_t i = 0; i < out.numel(); ++i) {
            lo = std::min(lo, static_cast<double>(out.data()[i]));
            hi = std::max(hi, static_cast<double>(out.data()[i]));
        }
        CHECK(lo == 0.0);
        CHECK(hi == 1.0);
    }

    TEST_CASE("errors") {
        CHECK(contains(value_error_message([&] { (void)face::unsharp_mask(image, -0.5, 2.0); }), "amount"));
        CHECK(contains(value_error_message([&] { (void)face::unsharp_mask(image, 1.0, 0.0); }), "sigma"));
        CHECK_THROWS_AS((void)face::unsharp_mask(image, 1.0, 2.0, tensor::full(shape{48, 41, 1}, 1.0f)), hg::shape_error);
        CHECK(contains(value_error_message([&] { (void)face::unsharp_mask(image, 1.0, 2.0, tensor::full(shape{48, 40, 1}, 2.0f)); }),
                       "not in [0, 1]"));
    }
}
