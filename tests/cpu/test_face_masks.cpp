// Tests of the landmark masks (include/hourglass/face/landmark_masks.hpp), the mask morphology
// (morphology.hpp: disk dilation/erosion against a naive reference, OpenCV's Gaussian kernels) and
// the Laplacian-variance blur score (blur_score.hpp, with values worked out by hand).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "hourglass/face/blur_score.hpp"
#include "hourglass/face/landmark_masks.hpp"
#include "hourglass/face/mean_face.hpp"
#include "hourglass/face/morphology.hpp"

#include "cpu/face_test_support.hpp"

namespace {

using hg::shape;
using hg::tensor;
using hg::value_error;
namespace face = hg::face;
constexpr double pi = 3.14159265358979323846;

using hg_test_face::contains;
using hg_test_face::value_error_message;

double sum(const tensor& t) {
    double s = 0.0;
    for (std::int64_t i = 0; i < t.numel(); ++i) s += static_cast<double>(t.data()[i]);
    return s;
}

/// A 68-point face in the crop of a 256 px legacy alignment (160 * unit square + 48).
face::landmarks crop_face() {
    face::landmarks l;
    for (int i = 0; i < face::mean_face_2d_count; ++i)
        l.row(17 + i) << face::mean_face_2d[static_cast<std::size_t>(i)][0], face::mean_face_2d[static_cast<std::size_t>(i)][1];
    for (int i = 0; i < 17; ++i) {
        const double t = pi * static_cast<double>(i) / 16.0;
        l.row(i) << 0.5 - 0.5 * std::cos(t), 0.2 + 0.9 * std::sin(t);
    }
    return (l.array() * 160.0 + 48.0).matrix();
}

/// The mask value at the pixel holding point (x, y) (OpenCV pixel centres).
float at(const tensor& m, double x, double y) {
    const std::int64_t size = m.shape()[1];
    return m.data()[std::llround(y) * size + std::llround(x)];
}

/// Naive grey dilation by the integer disk dx^2 + dy^2 <= r^2, outside pixels ignored.
tensor naive_dilate(const tensor& m, double r, bool erode) {
    const std::int64_t h = m.shape()[0], w = m.shape()[1];
    const std::int64_t ri = static_cast<std::int64_t>(std::floor(r));
    tensor out = tensor::empty(m.shape());
    for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x) {
            float best = erode ? INFINITY : -INFINITY;
            for (std::int64_t dy = -ri; dy <= ri; ++dy)
                for (std::int64_t dx = -ri; dx <= ri; ++dx) {
                    if (static_cast<double>(dx * dx + dy * dy) > r * r) continue;
                    const std::int64_t yy = y + dy, xx = x + dx;
                    if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                    const float v = m.data()[yy * w + xx];
                    best = erode ? std::min(best, v) : std::max(best, v);
                }
            out.data()[y * w + x] = best;
        }
    return out;
}

}  // namespace

TEST_SUITE("face.masks") {
    TEST_CASE("convex hull by monotone chain") {
        std::vector<Eigen::Vector2d> pts = {{0, 0}, {2, 0}, {2, 2}, {0, 2}, {1, 1}, {1, 0}, {0.5, 1.5}, {2, 1}};
        const std::vector<Eigen::Vector2d> hull = face::convex_hull(pts);
        REQUIRE(hull.size() == 4);  // the square's corners; interior and edge points dropped
        double area = 0.0;
        for (std::size_t i = 0; i < hull.size(); ++i) {
            const Eigen::Vector2d& p = hull[i];
            const Eigen::Vector2d& q = hull[(i + 1) % hull.size()];
            area += p.x() * q.y() - q.x() * p.y();
        }
        CHECK(area / 2 == doctest::Approx(4.0));
        CHECK(face::convex_hull({{1, 1}, {2, 2}, {3, 3}}).size() == 2);  // collinear: no area
    }

    TEST_CASE("a filled hull has the exact area, anti-aliased edges and the pixel-centre convention") {
        face::landmarks l = crop_face();
        // A triangle through landmarks 36, 37, 38 with known area.
        l.row(36) << 10.0, 10.0;
        l.row(37) << 30.0, 10.0;
        l.row(38) << 10.0, 25.3;
        const tensor m = face::hull_mask(l, 64, {{36, 37, 38}});
        CHECK(sum(m) == doctest::Approx(0.5 * 20.0 * 15.3).epsilon(1e-5));
        int fractional = 0;
        for (std::int64_t i = 0; i < m.numel(); ++i) {
            REQUIRE(m.data()[i] >= 0.0f);
            REQUIRE(m.data()[i] <= 1.0f);
            fractional += m.data()[i] > 0.05f && m.data()[i] < 0.95f;
        }
        CHECK(fractional > 10);
        // The vertex (10, 10) is the centre of pixel (10, 10): a quarter of it is inside.
        CHECK(at(m, 10, 10) == doctest::Approx(0.25).epsilon(1e-5));
        CHECK(at(m, 15, 15) == 1.0f);
        CHECK(at(m, 9, 15) == 0.0f);
    }

    TEST_CASE("components covers the inner face and not the corners") {
        const face::landmarks l = crop_face();
        const tensor m = face::components_mask(l, 256);
        CHECK(m.shape() == shape{256, 256, 1});
        for (int i = 27; i < 68; ++i) CHECK(at(m, l(i, 0), l(i, 1)) == 1.0f);  // eyes, nose, mouth
        for (int i = 17; i < 27; ++i) CHECK(at(m, l(i, 0), l(i, 1)) > 0.2f);    // the brows are on the outline
        CHECK(at(m, 0, 0) == 0.0f);
        CHECK(at(m, 255, 0) == 0.0f);
        CHECK(at(m, 0, 255) == 0.0f);
        CHECK(at(m, 255, 255) == 0.0f);
        CHECK(at(m, 128, 20) == 0.0f);  // forehead above the brows
        // No seam where the right jaw and right eye region hulls meet (the chord 8-17).
        for (double t = 0.2; t < 0.8; t += 0.1) {
            const double x = l(8, 0) + t * (l(17, 0) - l(8, 0)), y = l(8, 1) + t * (l(17, 1) - l(8, 1));
            CHECK(at(m, x + 3.0, y) == 1.0f);  // a point inside the face next to the chord
        }
        int fractional = 0;
        for (std::int64_t i = 0; i < m.numel(); ++i) {
            REQUIRE(m.data()[i] >= 0.0f);
            REQUIRE(m.data()[i] <= 1.0f);
            fractional += m.data()[i] > 0.05f && m.data()[i] < 0.95f;
        }
        CHECK(fractional > 100);  // anti-aliased outline
    }

    TEST_CASE("extended is a superset of components, larger above the brows") {
        const face::landmarks l = crop_face();
        const tensor c = face::components_mask(l, 256), e = face::extended_mask(l, 256);
        for (std::int64_t i = 0; i < c.numel(); ++i) REQUIRE(e.data()[i] >= c.data()[i] - 1e-6f);
        double top = 1e9;
        for (int i = 17; i < 27; ++i) top = std::min(top, l(i, 1));
        double above_c = 0.0, above_e = 0.0;  // mask area above the highest brow point
        for (std::int64_t y = 0; y < static_cast<std::int64_t>(top) - 1; ++y)
            for (std::int64_t x = 0; x < 256; ++x) above_c += c.data()[y * 256 + x], above_e += e.data()[y * 256 + x];
        CHECK(above_c < 1.0);
        CHECK(above_e > 500.0);
        // The raised brows: half the brow-to-eye distance higher (brow 19 over eye point 37).
        const face::landmarks raised = face::raise_brows(l);
        CHECK(raised(19, 1) == doctest::Approx(l(19, 1) + 0.5 * (l(19, 1) - l(37, 1))));
        CHECK(raised(24, 0) == doctest::Approx(l(24, 0) + 0.5 * (l(24, 0) - l(44, 0))));
    }

    TEST_CASE("eye and mouth masks cover their landmarks and nothing far away") {
        const face::landmarks l = crop_face();
        const tensor eyes = face::eye_mask(l, 256), mouth = face::mouth_mask(l, 256);
        for (int i = 36; i < 48; ++i) CHECK(at(eyes, l(i, 0), l(i, 1)) > 0.5f);
        for (int i = 48; i < 60; ++i) CHECK(at(mouth, l(i, 0), l(i, 1)) > 0.5f);
        const Eigen::RowVector2d right_eye = l.middleRows(36, 6).colwise().mean();
        const Eigen::RowVector2d mouth_centre = l.middleRows(48, 12).colwise().mean();
        // The eye is only ~10 px tall: after the 3 px dilation the 17-tap blur (sigma 2.9) still
        // reaches its middle from outside, so the centre is just below 1.
        CHECK(at(eyes, right_eye.x(), right_eye.y()) > 0.95f);
        CHECK(at(mouth, mouth_centre.x(), mouth_centre.y()) == doctest::Approx(1.0f));
        CHECK(at(eyes, mouth_centre.x(), mouth_centre.y()) == 0.0f);
        CHECK(at(mouth, right_eye.x(), right_eye.y()) == 0.0f);
        CHECK(at(eyes, l(30, 0), l(30, 1)) < 1e-3f);  // nose tip
        // Dilation and feathering make the masks larger and softer than the bare hulls.
        const tensor bare = face::eye_mask(l, 256, {0.0, 0});
        CHECK(sum(eyes) > 1.3 * sum(bare));
        for (std::int64_t i = 0; i < eyes.numel(); ++i) {
            REQUIRE(eyes.data()[i] >= 0.0f);
            REQUIRE(eyes.data()[i] <= 1.0f + 1e-6f);
        }
    }

    TEST_CASE("bad input") {
        face::landmarks l = crop_face();
        CHECK(contains(value_error_message([&] { face::components_mask(l, 0); }), "mask size 0 is below 1"));
        CHECK(contains(value_error_message([&] { face::eye_mask(l, 64, {-1.0, -1}); }), "dilation"));
        CHECK(contains(value_error_message([&] { face::hull_mask(l, 64, {{1, 2, 70}}); }), "landmark index 70"));
        l(50, 0) = std::nan("");
        CHECK(contains(value_error_message([&] { face::mouth_mask(l, 64); }), "not all finite"));
        CHECK(contains(value_error_message([&] { face::extended_mask(l, 64); }), "not all finite"));
    }
}

TEST_SUITE("face.morphology") {
    TEST_CASE("dilate and erode match a naive disk reference") {
        std::mt19937 gen(9);
        std::uniform_real_distribution<float> u(0.0f, 1.0f);
        tensor m = tensor::empty(shape{23, 31, 1});
        for (std::int64_t i = 0; i < m.numel(); ++i) m.data()[i] = u(gen);
        for (double r : {0.0, 1.0, 1.5, 2.0, 3.7, 6.0}) {
            const tensor d = face::dilate(m, r), e = face::erode(m, r);
            const tensor dn = naive_dilate(m, r, false), en = naive_dilate(m, r, true);
            for (std::int64_t i = 0; i < m.numel(); ++i) {
                REQUIRE(d.data()[i] == dn.data()[i]);
                REQUIRE(e.data()[i] == en.data()[i]);
            }
        }
    }

    TEST_CASE("dilation grows a mask, erosion shrinks it, image edges are not eroded") {
        tensor m = tensor::zeros(shape{40, 40, 1});
        for (std::int64_t y = 10; y < 30; ++y)
            for (std::int64_t x = 12; x < 28; ++x) m.data()[y * 40 + x] = 1.0f;
        const double area = sum(m);
        const tensor d = face::dilate(m, 3.0), e = face::erode(m, 3.0);
        // A 20 x 16 box grown by the radius-3 disk: 26 x 22 minus the cut corners (3 + 3 + ... per corner).
        CHECK(sum(d) > area + 150.0);
        CHECK(sum(e) == doctest::Approx(14.0 * 10.0));  // erosion of a box by a disk is the inner box
        const tensor ones = tensor::full(shape{8, 8, 1}, 1.0f);
        CHECK(sum(face::erode(ones, 2.0)) == 64.0);
        CHECK(contains(value_error_message([&] { face::dilate(m, -1.0); }), "radius"));
        CHECK(face::faceswap_dilation_radius(256, 2.5) == 3.0);  // round(6.4) = 6 px kernel
    }

    TEST_CASE("Gaussian blur keeps the mass and uses OpenCV's kernels") {
        const std::vector<double> k5 = face::gaussian_kernel(5, 0.0);
        CHECK(k5 == std::vector<double>{0.0625, 0.25, 0.375, 0.25, 0.0625});
        CHECK(face::gaussian_kernel(9, 0.0)[4] == 60.0 / 256.0);  // OpenCV's table, not the formula
        const std::vector<double> k17 = face::gaussian_kernel(17, 0.0);  // sigma = 0.3 * 7 + 0.8 = 2.9
        double s = 0.0;
        for (double v : k17) s += v;
        CHECK(s == doctest::Approx(1.0).epsilon(1e-15));
        CHECK(k17[8] / k17[9] == doctest::Approx(std::exp(1.0 / (2.0 * 2.9 * 2.9))).epsilon(1e-12));
        tensor m = tensor::zeros(shape{48, 48, 1});
        for (std::int64_t y = 18; y < 30; ++y)
            for (std::int64_t x = 16; x < 31; ++x) m.data()[y * 48 + x] = 1.0f;
        const tensor b = face::gaussian_blur(m, 9);
        CHECK(sum(b) == doctest::Approx(sum(m)).epsilon(1e-6));
        CHECK(b.data()[18 * 48 + 16] < 0.5f);   // the corner softened
        CHECK(b.data()[24 * 48 + 23] > 0.99f);  // the middle kept
        CHECK(contains(value_error_message([&] { face::gaussian_blur(m, 4); }), "not odd"));
        CHECK(contains(value_error_message([&] { face::gaussian_blur(m, 0, 0.0); }), "positive sigma"));
    }
}

TEST_SUITE("face.blur_score") {
    TEST_CASE("a one-pixel checkerboard has Laplacian +-1020 everywhere") {
        tensor img = tensor::empty(shape{16, 16, 1});
        for (std::int64_t y = 0; y < 16; ++y)
            for (std::int64_t x = 0; x < 16; ++x) img.data()[y * 16 + x] = static_cast<float>((x + y) % 2);
        // Interior and (reflected) border alike: 4 * 255 with alternating sign, mean 0.
        CHECK(face::blur_score(img) == doctest::Approx(1020.0 * 1020.0).epsilon(1e-12));
        const double blurred = face::blur_score(face::gaussian_blur(img, 5));
        CHECK(blurred < 0.05 * face::blur_score(img));
    }

    TEST_CASE("constant images score 0; a hand-computed 3x3 case") {
        CHECK(face::blur_score(tensor::full(shape{7, 9, 3}, 0.4f)) == 0.0);
        tensor img = tensor::zeros(shape{3, 3, 1});
        img.data()[4] = 1.0f;
        // Laplacian (reflect-101 borders): centre -1020, edge centres +510 (two reflected or real
        // neighbours at 255), corners 0: mean 1020 / 9, variance 2 * 1020^2 / 9 - (1020 / 9)^2.
        const double expected = 2.0 * 1020.0 * 1020.0 / 9.0 - (1020.0 / 9.0) * (1020.0 / 9.0);
        CHECK(face::blur_score(img) == doctest::Approx(expected).epsilon(1e-12));
    }

    TEST_CASE("RGB uses the BT.601 luma weights; a mask weights the pixels") {
        tensor grey = tensor::zeros(shape{3, 3, 1}), rgb = tensor::zeros(shape{3, 3, 3});
        grey.data()[4] = 0.587f;
        rgb.data()[4 * 3 + 1] = 1.0f;  // pure green
        CHECK(face::blur_score(rgb) == doctest::Approx(face::blur_score(grey)).epsilon(1e-6));
        tensor mask = tensor::zeros(shape{3, 3, 1});
        mask.data()[4] = 1.0f;
        CHECK(face::blur_score(grey, mask) == 0.0);  // one pixel: no variance
        mask.data()[1] = 1.0f;                       // centre (-1020 * 0.587) and top edge (+510 * 0.587)
        const double d = 1530.0 * 0.587 * 0.5;
        CHECK(face::blur_score(grey, mask) == doctest::Approx(d * d).epsilon(1e-6));
        CHECK(contains(value_error_message([&] { face::blur_score(grey, tensor::zeros(shape{3, 3, 1})); }), "no weight"));
    }
}
