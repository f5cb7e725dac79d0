// Tests of the synthetic faces (include/hourglass/data/synthetic_faces.hpp) and the rasteriser
// under them (raster.hpp): exact-area coverage, value ranges at any size, masks nested in the face
// mask, identities that differ, poses that differ, identity B rendered in A's pose with A's region
// masks, anti-aliased edges, determinism and the errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include "cpu/helpers.hpp"
#include "hourglass/data/raster.hpp"
#include "hourglass/data/synthetic_faces.hpp"

namespace {

using hg::shape;
using hg::tensor;
using hg::test::contains;
using hg::test::message_of;
namespace data = hg::data;

bool bitwise_equal(const tensor& a, const tensor& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.bytes()) == 0;
}

/// Mean |a - b| over the pixels where `weight` (one channel) is set, over all channels of a and b.
double masked_difference(const tensor& a, const tensor& b, const tensor& weight) {
    const std::int64_t pixels = weight.numel(), c = a.numel() / pixels;
    double s = 0.0, w = 0.0;
    for (std::int64_t p = 0; p < pixels; ++p) {
        for (std::int64_t k = 0; k < c; ++k) s += weight[p] * std::abs(a[p * c + k] - b[p * c + k]);
        w += weight[p] * static_cast<double>(c);
    }
    return s / w;
}

double sum(const tensor& t) {
    double s = 0.0;
    for (std::int64_t i = 0; i < t.numel(); ++i) s += t[i];
    return s;
}

}  // namespace

TEST_CASE("data raster: coverage is the exact area of the polygon in each pixel") {
    data::coverage_raster r(8, 6);
    r.fill(data::polygon{{2.25f, 1.5f}, {5.75f, 1.5f}, {5.75f, 3.5f}, {2.25f, 3.5f}});
    const float* c = r.coverage();
    CHECK(c[1 * 8 + 2] == doctest::Approx(0.75 * 0.5));
    CHECK(c[2 * 8 + 2] == doctest::Approx(0.75));
    CHECK(c[2 * 8 + 3] == doctest::Approx(1.0));
    CHECK(c[3 * 8 + 5] == doctest::Approx(0.75 * 0.5));
    CHECK(c[0 * 8 + 3] == 0.0f);
    CHECK(c[2 * 8 + 6] == 0.0f);
    double area = 0.0;
    for (int i = 0; i < 48; ++i) area += c[i];
    CHECK(area == doctest::Approx(3.5 * 2.0).epsilon(1e-5));

    // A triangle crossing every border: the coverage sums to the area inside the image.
    r.fill(data::polygon{{-4.0f, -2.0f}, {12.0f, 3.0f}, {-4.0f, 8.0f}});
    double inside = 0.0;
    for (int i = 0; i < 48; ++i) inside += c[i];
    // Inside [0, 8] x [0, 6]: the region left of the line from (-4, -2) to (12, 3) and of the line
    // from (12, 3) to (-4, 8), i.e. y > (x + 4) * 5/16 - 2 and y < 8 - (x + 4) * 5/16, integrated.
    double expected = 0.0;
    for (int i = 0; i < 80000; ++i) {
        const double x = (i + 0.5) / 10000.0;
        const double lo = std::max(0.0, (x + 4) * 5.0 / 16.0 - 2.0), hi = std::min(6.0, 8.0 - (x + 4) * 5.0 / 16.0);
        expected += std::max(0.0, hi - lo) / 10000.0;
    }
    CHECK(inside == doctest::Approx(expected).epsilon(1e-4));

    // An ellipse: area pi r1 r2 up to the flattening, edges fractional.
    data::coverage_raster big(64, 64);
    big.fill(data::ellipse({31.3f, 30.8f}, 20.0f, 12.5f, 0.4f));
    double e = 0.0;
    int fractional = 0;
    for (int i = 0; i < 64 * 64; ++i) {
        e += big.coverage()[i];
        fractional += big.coverage()[i] > 0.02f && big.coverage()[i] < 0.98f;
    }
    CHECK(e == doctest::Approx(3.14159265358979 * 20.0 * 12.5).epsilon(2e-3));
    CHECK(fractional > 60);
}

TEST_CASE("data synthetic: images and masks are finite, in [0, 1], of the asked size (16, 64, 97, 128)") {
    for (std::int64_t size : {16, 64, 97, 128}) {
        for (std::uint64_t id = 0; id < 3; ++id) {
            const data::synthetic_face f = data::synthetic_face_set{id, size, 8, 5}.sample(static_cast<std::int64_t>(id));
            CHECK(f.image.shape() == shape{size, size, 3});
            for (const tensor* m : {&f.face_mask, &f.eye_mask, &f.mouth_mask}) CHECK(m->shape() == shape{size, size, 1});
            for (const tensor* t : {&f.image, &f.face_mask, &f.eye_mask, &f.mouth_mask}) {
                REQUIRE(hg::test::all_finite(*t));
                float lo = 1.0f, hi = 0.0f;
                for (std::int64_t i = 0; i < t->numel(); ++i) lo = std::min(lo, (*t)[i]), hi = std::max(hi, (*t)[i]);
                CHECK(lo >= 0.0f);
                CHECK(hi <= 1.0f);
            }
            // The face covers a sensible part of the picture at every size (scale invariance).
            const double face_fraction = sum(f.face_mask) / static_cast<double>(size * size);
            CHECK(face_fraction > 0.25);
            CHECK(face_fraction < 0.5);
        }
    }
    // The same face at 97 and 128 px covers the same fraction of the image.
    const data::synthetic_face a = data::synthetic_face_set{7, 97, 4, 1}.sample(2);
    const data::synthetic_face b = data::synthetic_face_set{7, 128, 4, 1}.sample(2);
    CHECK(sum(a.face_mask) / (97.0 * 97.0) == doctest::Approx(sum(b.face_mask) / (128.0 * 128.0)).epsilon(0.01));
    CHECK(sum(a.eye_mask) / (97.0 * 97.0) == doctest::Approx(sum(b.eye_mask) / (128.0 * 128.0)).epsilon(0.02));
}

TEST_CASE("data synthetic: eye and mouth masks lie inside the face mask and are where the features are") {
    for (std::uint64_t id = 0; id < 24; ++id) {
        const data::synthetic_face f = data::synthetic_face_set{id, 96, 64, 100 + id}.sample(static_cast<std::int64_t>(id));
        float worst = 0.0f;
        for (std::int64_t p = 0; p < 96 * 96; ++p)
            worst = std::max({worst, f.eye_mask[p] - f.face_mask[p], f.mouth_mask[p] - f.face_mask[p]});
        CHECK(worst < 1e-4f);
        CHECK(sum(f.eye_mask) > 0.02 * 96 * 96);
        CHECK(sum(f.mouth_mask) > 0.02 * 96 * 96);
        // No overlap between the eye and mouth regions.
        double overlap = 0.0;
        for (std::int64_t p = 0; p < 96 * 96; ++p) overlap += f.eye_mask[p] * f.mouth_mask[p];
        CHECK(overlap == 0.0);
    }
}

TEST_CASE("data synthetic: eyes and mouth stay inside their region masks whatever they do") {
    // Changing only the eyes (openness, gaze) changes only pixels inside the eye mask; changing only
    // the mouth (opening, smile) only pixels inside the mouth masks of the two poses.
    for (std::uint64_t id = 0; id < 12; ++id) {
        const data::face_identity who = data::make_identity(id);
        data::face_pose p = data::make_pose(50, id);
        p.eye_open = 1.0f;
        p.gaze_x = 1.0f;
        p.mouth_open = 1.0f;
        p.smile = 1.0f;
        data::face_pose q = p;
        q.eye_open = 0.0f;
        q.gaze_x = -1.0f;
        q.gaze_y = 0.6f;
        data::face_pose r = p;
        r.mouth_open = 0.0f;
        r.smile = -0.3f;
        const data::synthetic_face fp = data::render_face(who, p, 96), fq = data::render_face(who, q, 96),
                                   fr = data::render_face(who, r, 96);
        int eye_changes = 0, mouth_changes = 0, eyes_outside = 0, mouth_outside = 0;
        for (std::int64_t px = 0; px < 96 * 96; ++px)
            for (int k = 0; k < 3; ++k) {
                if (fp.image[3 * px + k] != fq.image[3 * px + k]) {
                    ++eye_changes;
                    eyes_outside += fp.eye_mask[px] == 0.0f;
                }
                if (fp.image[3 * px + k] != fr.image[3 * px + k]) {
                    ++mouth_changes;
                    mouth_outside += fp.mouth_mask[px] == 0.0f && fr.mouth_mask[px] == 0.0f;
                }
            }
        INFO("identity " << id);
        CHECK(eye_changes > 30);
        CHECK(mouth_changes > 30);
        CHECK(eyes_outside == 0);
        CHECK(mouth_outside == 0);
    }
}

TEST_CASE("data synthetic: two identities in the same pose differ substantially, inside the face") {
    const std::int64_t size = 64;
    for (std::uint64_t a = 0; a < 6; ++a) {
        const std::uint64_t b = a + 10;
        const data::synthetic_face fa = data::synthetic_face_set{a, size, 4, 3}.sample(1);
        const data::synthetic_face fb = data::synthetic_face_set{b, size, 4, 3}.sample(1);
        const double d = masked_difference(fa.image, fb.image, fa.face_mask);
        INFO("identities " << a << " and " << b << ": mean difference in the face " << d);
        CHECK(d > 0.03);
        CHECK_FALSE(bitwise_equal(fa.face_mask, fb.face_mask));
    }
}

TEST_CASE("data synthetic: one identity in two poses differs, the pose does not depend on the identity") {
    const data::synthetic_face_set set{3, 64, 10, 8};
    for (std::int64_t i = 0; i < 4; ++i) {
        const data::synthetic_face x = set.sample(i), y = set.sample(i + 5);
        double d = 0.0;
        for (std::int64_t k = 0; k < x.image.numel(); ++k) d += std::abs(x.image[k] - y.image[k]);
        CHECK(d / static_cast<double>(x.image.numel()) > 0.03);
    }
    const data::face_pose p = data::synthetic_face_set{1, 64, 10, 8}.pose(4), q = data::synthetic_face_set{2, 32, 10, 8}.pose(4);
    CHECK(std::memcmp(&p, &q, sizeof p) == 0);
    const data::face_identity i1 = data::make_identity(1), i2 = data::make_identity(2);
    CHECK(i1.face_half_width != i2.face_half_width);
}

TEST_CASE("data synthetic: identity B rendered in A's pose has A's eye and mouth masks") {
    for (std::int64_t i = 0; i < 5; ++i) {
        const data::synthetic_face_set a{11, 80, 5, 42}, b{12, 80, 5, 42};
        const data::synthetic_face fa = a.sample(i), fb = b.sample(i);
        CHECK(bitwise_equal(fa.eye_mask, fb.eye_mask));
        CHECK(bitwise_equal(fa.mouth_mask, fb.mouth_mask));
        // ... and the same as rendering B explicitly in A's pose.
        const data::synthetic_face swap = data::render_face(data::make_identity(12), a.pose(i), 80);
        CHECK(bitwise_equal(swap.image, fb.image));
        // The background (outside both faces) is the same picture.
        double outside = 0.0, weight = 0.0;
        for (std::int64_t p = 0; p < 80 * 80; ++p) {
            const float w = (fa.face_mask[p] == 0.0f && fb.face_mask[p] == 0.0f && p / 80 < 8) ? 1.0f : 0.0f;
            for (int k = 0; k < 3; ++k) outside += w * std::abs(fa.image[3 * p + k] - fb.image[3 * p + k]);
            weight += w;
        }
        if (weight > 0) CHECK(outside / weight < 0.3);  // hair may differ up there, the backdrop does not
    }
}

TEST_CASE("data synthetic: edges are anti-aliased (fractional mask and image values at the outline)") {
    const data::synthetic_face f = data::synthetic_face_set{5, 64, 2, 9}.sample(0);
    int fractional = 0;
    for (std::int64_t p = 0; p < 64 * 64; ++p) fractional += f.face_mask[p] > 0.05f && f.face_mask[p] < 0.95f;
    CHECK(fractional > 40);  // the outline is ~150 px long at 64 px
    int eye_fractional = 0;
    for (std::int64_t p = 0; p < 64 * 64; ++p) eye_fractional += f.eye_mask[p] > 0.05f && f.eye_mask[p] < 0.95f;
    CHECK(eye_fractional > 10);
}

TEST_CASE("data synthetic: rendering is deterministic and the set is render(identity, pose)") {
    const data::synthetic_face_set set{9, 72, 3, 13};
    const data::synthetic_face a = set.sample(2), b = set.sample(2);
    CHECK(bitwise_equal(a.image, b.image));
    CHECK(bitwise_equal(a.face_mask, b.face_mask));
    const data::synthetic_face c = data::render_face(data::make_identity(9), data::make_pose(13, 2), 72);
    CHECK(bitwise_equal(a.image, c.image));
    CHECK(bitwise_equal(a.mouth_mask, c.mouth_mask));
    // The stacked masks hold the three masks as channels.
    const tensor stacked = data::stacked_masks(a);
    CHECK(stacked.shape() == shape{72, 72, 3});
    CHECK(stacked[3 * 1000] == a.face_mask[1000]);
    CHECK(stacked[3 * 2000 + 1] == a.eye_mask[2000]);
    CHECK(stacked[3 * 3000 + 2] == a.mouth_mask[3000]);
    // Another seed, other poses.
    const data::synthetic_face d = data::synthetic_face_set{9, 72, 3, 14}.sample(2);
    CHECK_FALSE(bitwise_equal(a.image, d.image));
}

TEST_CASE("data synthetic: bad sizes, counts and indices are refused with the reason") {
    CHECK(contains(message_of<hg::value_error>([] { data::synthetic_face_set{0, 7, 4, 0}.sample(0); }), "size 7"));
    CHECK(contains(message_of<hg::value_error>([] { data::synthetic_face_set{0, 0, 4, 0}.sample(0); }), "size 0"));
    CHECK(contains(message_of<hg::value_error>([] { data::synthetic_face_set{0, 5000, 4, 0}.sample(0); }), "size 5000"));
    CHECK(contains(message_of<hg::value_error>([] { data::synthetic_face_set{0, 32, 0, 0}.sample(0); }), "count 0"));
    CHECK(contains(message_of<hg::value_error>([] { data::synthetic_face_set{0, 32, 4, 0}.sample(4); }), "index 4"));
    CHECK(contains(message_of<hg::value_error>([] { data::synthetic_face_set{0, 32, 4, 0}.pose(-1); }), "index -1"));
    CHECK(contains(message_of<hg::value_error>([] { data::render_face(data::make_identity(0), data::face_pose{}, 3); }),
                   "image size 3"));
}
