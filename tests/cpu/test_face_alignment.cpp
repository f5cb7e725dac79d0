// Tests of the face geometry for extraction (include/hourglass/face/): Umeyama similarities, the
// PnP pose and faceswap's centring offsets, the frame-to-crop alignment matrix (checked against
// numbers worked out by hand from faceswap's formulas), the crop warp, the blur score and the
// temporal landmark smoothing, and their errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "hourglass/face/alignment.hpp"
#include "hourglass/face/mean_face.hpp"
#include "hourglass/face/pose.hpp"
#include "hourglass/face/smoothing.hpp"
#include "hourglass/face/umeyama.hpp"

#include "cpu/face_test_support.hpp"

namespace {

using hg::shape;
using hg::tensor;
using hg::value_error;
namespace face = hg::face;
namespace data = hg::data;
constexpr double pi = 3.14159265358979323846;

using hg_test_face::contains;
using hg_test_face::value_error_message;

double max_abs_diff(const data::affine2& p, const data::affine2& q) {
    return std::max({std::abs(p.a - q.a), std::abs(p.b - q.b), std::abs(p.c - q.c), std::abs(p.d - q.d),
                     std::abs(p.e - q.e), std::abs(p.f - q.f)});
}

data::affine2 similarity(double scale, double angle, double tx, double ty) {
    return data::affine2{scale * std::cos(angle), -scale * std::sin(angle), tx, scale * std::sin(angle),
                         scale * std::cos(angle), ty};
}

face::point_set apply(const data::affine2& m, const face::point_set& p) {
    face::point_set out(p.rows(), 2);
    for (Eigen::Index i = 0; i < p.rows(); ++i)
        out.row(i) << m.a * p(i, 0) + m.b * p(i, 1) + m.c, m.d * p(i, 0) + m.e * p(i, 1) + m.f;
    return out;
}

double mean_squared_error(const data::affine2& m, const face::point_set& src, const face::point_set& dst) {
    return (apply(m, src) - dst).squaredNorm() / static_cast<double>(src.rows());
}

/// A plausible 68-point face in the unit square: the mean face for 17..67 and a jaw outline below it.
face::landmarks unit_face() {
    face::landmarks l;
    for (int i = 0; i < face::mean_face_2d_count; ++i)
        l.row(17 + i) << face::mean_face_2d[static_cast<std::size_t>(i)][0], face::mean_face_2d[static_cast<std::size_t>(i)][1];
    for (int i = 0; i < 17; ++i) {  // half ellipse from the left temple round the chin to the right
        const double t = pi * static_cast<double>(i) / 16.0;
        l.row(i) << 0.5 - 0.5 * std::cos(t), 0.2 + 0.95 * std::sin(t);
    }
    return l;
}

/// Rotation about x, then y, then z (angles in radians): R = Rz * Ry * Rx.
Eigen::Matrix3d rotation_xyz(double ax, double ay, double az) {
    return (Eigen::AngleAxisd(az, Eigen::Vector3d::UnitZ()) * Eigen::AngleAxisd(ay, Eigen::Vector3d::UnitY()) *
            Eigen::AngleAxisd(ax, Eigen::Vector3d::UnitX()))
        .toRotationMatrix();
}

/// Unit-square landmarks whose 26 pose points are the 3-D mean face seen at (r, t) through
/// faceswap's camera; the other landmarks come from unit_face().
face::landmarks projected_face(const Eigen::Matrix3d& r, const Eigen::Vector3d& t) {
    face::landmarks l = unit_face();
    face::rigid_pose pose;
    pose.rotation = r, pose.translation = t;
    for (int i = 0; i < face::mean_face_3d_count; ++i) {
        const auto& p = face::mean_face_3d[static_cast<std::size_t>(i)];
        l.row(face::mean_face_3d_landmarks[static_cast<std::size_t>(i)]) =
            pose.project(Eigen::Vector3d(p[0], p[1], p[2]), face::pinhole_camera{}).transpose();
    }
    return l;
}

}  // namespace

TEST_SUITE("face.umeyama") {
    TEST_CASE("recovers known similarities exactly") {
        std::mt19937_64 gen(11);
        std::uniform_real_distribution<double> coord(-50.0, 50.0), angle(-pi / 4, pi / 4), scale(0.2, 5.0), shift(-300, 300);
        for (int trial = 0; trial < 50; ++trial) {
            const int n = 2 + trial % 20;
            face::point_set src(n, 2);
            for (int i = 0; i < n; ++i) src.row(i) << coord(gen), coord(gen);
            const double s = scale(gen), a = angle(gen), tx = shift(gen), ty = shift(gen);
            const face::similarity2 est = face::umeyama_similarity(src, apply(similarity(s, a, tx, ty), src));
            CHECK(est.scale == doctest::Approx(s).epsilon(1e-12));
            CHECK(est.angle == doctest::Approx(a).epsilon(1e-12));
            CHECK(est.translation.x() == doctest::Approx(tx).epsilon(1e-11));
            CHECK(est.translation.y() == doctest::Approx(ty).epsilon(1e-11));
            CHECK(max_abs_diff(est.matrix(), similarity(s, a, tx, ty)) < 1e-10);
        }
    }

    TEST_CASE("collinear points (rank one) are recovered too") {
        face::point_set src(5, 2);
        for (int i = 0; i < 5; ++i) src.row(i) << 3.0 * i - 2.0, 1.5 * i + 4.0;
        const data::affine2 truth = similarity(2.5, -0.6, 10.0, -7.0);
        CHECK(max_abs_diff(face::umeyama(src, apply(truth, src)), truth) < 1e-12);
    }

    TEST_CASE("never returns a reflection") {
        face::point_set src(6, 2);
        src << 0, 0, 4, 0, 4, 3, 0, 3, 1, 1, 2, 2.5;
        face::point_set mirrored = src;
        mirrored.col(0) *= -1.0;
        const data::affine2 m = face::umeyama(src, mirrored);
        CHECK(m.a * m.e - m.b * m.d > 0.0);
        CHECK(std::abs(m.a - m.e) < 1e-12);  // a similarity: [s c, -s s; s s, s c]
        CHECK(std::abs(m.b + m.d) < 1e-12);
    }

    TEST_CASE("with noise the estimate is the least-squares optimum") {
        std::mt19937_64 gen(5);
        std::normal_distribution<double> noise(0.0, 0.5);
        std::uniform_real_distribution<double> coord(-40.0, 40.0);
        face::point_set src(30, 2);
        for (int i = 0; i < 30; ++i) src.row(i) << coord(gen), coord(gen);
        face::point_set dst = apply(similarity(1.7, 0.5, 20, -10), src);
        for (int i = 0; i < 30; ++i) dst.row(i) += Eigen::RowVector2d(noise(gen), noise(gen));
        const face::similarity2 est = face::umeyama_similarity(src, dst);
        const double best = mean_squared_error(est.matrix(), src, dst);
        CHECK(best > 0.01);  // the noise is really there
        for (double h : {1e-3, -1e-3, 1e-2, -1e-2}) {
            face::similarity2 p = est;
            p.scale *= 1.0 + h;
            CHECK(mean_squared_error(p.matrix(), src, dst) > best);
            p = est, p.angle += h;
            CHECK(mean_squared_error(p.matrix(), src, dst) > best);
            p = est, p.translation.x() += h;
            CHECK(mean_squared_error(p.matrix(), src, dst) > best);
            p = est, p.translation.y() += h;
            CHECK(mean_squared_error(p.matrix(), src, dst) > best);
        }
    }

    TEST_CASE("refuses degenerate input") {
        face::point_set one(1, 2), two(2, 2), same(3, 2), other(3, 2);
        one << 1, 2;
        two << 1, 2, 3, 4;
        same << 1, 1, 1, 1, 1, 1;
        other << 0, 0, 1, 0, 0, 1;
        CHECK(contains(value_error_message([&] { face::umeyama(one, one); }), "at least 2"));
        CHECK(contains(value_error_message([&] { face::umeyama(two, other); }), "2 source points but 3"));
        CHECK(contains(value_error_message([&] { face::umeyama(same, other); }), "source points all coincide"));
        CHECK(contains(value_error_message([&] { face::umeyama(other, same); }), "destination points all coincide"));
        face::point_set bad = other;
        bad(1, 1) = std::nan("");
        CHECK(contains(value_error_message([&] { face::umeyama(bad, other); }), "not all finite"));
        bad(1, 1) = INFINITY;
        CHECK(contains(value_error_message([&] { face::umeyama(other, bad); }), "not all finite"));
    }
}

TEST_SUITE("face.pose") {
    TEST_CASE("solve_pnp recovers a known rotation and translation") {
        // Both sides of the camera: faceswap's mirrored model fits frontal faces with t_z < 0.
        for (double tz : {-60.0, -35.0, 45.0}) {
            for (const Eigen::Vector3d& angles : {Eigen::Vector3d(0.1, -0.2, 0.05), Eigen::Vector3d(pi / 4, 0.0, 0.0),
                                                 Eigen::Vector3d(0.0, -pi / 4, 0.0), Eigen::Vector3d(0.0, 0.0, pi / 4),
                                                 Eigen::Vector3d(0.3, 0.4, -0.35)}) {
                const Eigen::Matrix3d r = rotation_xyz(angles.x(), angles.y(), angles.z());
                const Eigen::Vector3d t(0.4, -0.7, tz);
                const face::pose_estimate est = face::estimate_pose(projected_face(r, t));
                CHECK((est.pose.rotation - r).norm() < 1e-8);
                CHECK((est.pose.translation - t).norm() < 1e-7 * std::abs(tz));
                CHECK(est.pose.rms_error < 1e-10);
                // The offsets are the projections of faceswap's centring points minus the centre.
                face::rigid_pose truth;
                truth.rotation = r, truth.translation = t;
                const Eigen::Vector2d head = truth.project(Eigen::Vector3d(0, 0, -2.3), {}) - Eigen::Vector2d(0.5, 0.5);
                const Eigen::Vector2d fc = truth.project(Eigen::Vector3d(0, -1.5, 4.2), {}) - Eigen::Vector2d(0.5, 0.5);
                CHECK((est.offset(face::centering::head) - head).norm() < 1e-9);
                CHECK((est.offset(face::centering::face) - fc).norm() < 1e-9);
                CHECK(est.offset(face::centering::legacy).norm() == 0.0);
            }
        }
    }

    TEST_CASE("with noisy landmarks the pose is a least-squares minimum") {
        std::mt19937_64 gen(3);
        std::normal_distribution<double> noise(0.0, 0.004);
        const Eigen::Matrix3d r = rotation_xyz(0.2, 0.3, -0.1);
        face::landmarks l = projected_face(r, Eigen::Vector3d(0.1, 0.2, -55.0));
        for (int i = 0; i < face::landmark_count; ++i) l.row(i) += Eigen::RowVector2d(noise(gen), noise(gen));
        const face::pose_estimate est = face::estimate_pose(l);
        CHECK(est.pose.rms_error > 1e-3);
        CHECK((est.pose.rotation - r).norm() < 0.1);
        face::model_points model(face::mean_face_3d_count, 3);
        face::image_points image(face::mean_face_3d_count, 2);
        for (int i = 0; i < face::mean_face_3d_count; ++i) {
            const auto& p = face::mean_face_3d[static_cast<std::size_t>(i)];
            model.row(i) << p[0], p[1], p[2];
            image.row(i) = l.row(face::mean_face_3d_landmarks[static_cast<std::size_t>(i)]);
        }
        const double best = face::detail::pnp_cost(model, image, {}, est.pose.rotation, est.pose.translation);
        for (int k = 0; k < 6; ++k)
            for (double h : {1e-4, -1e-4}) {
                Eigen::Matrix3d rr = est.pose.rotation;
                Eigen::Vector3d tt = est.pose.translation;
                if (k < 3)
                    rr = face::detail::exp_rotation(Eigen::Vector3d::Unit(k) * h) * rr;
                else
                    tt(k - 3) += h * 100.0;
                CHECK(face::detail::pnp_cost(model, image, {}, rr, tt) > best);
            }
    }

    TEST_CASE("Euler angles follow cv2.RQDecomp3x3") {
        // OpenCV normalises each Givens rotation by 1 / sqrt(c^2 + s^2 + DBL_EPSILON), so a zero
        // angle comes out as acos(1 - 1.1e-16) = 8.5e-7 degrees: compare to 1e-5 degrees.
        auto near = [](const Eigen::Vector3d& e, const Eigen::Vector3d& expected_rad) {
            return (e - expected_rad * (180.0 / pi)).cwiseAbs().maxCoeff() < 1e-5;
        };
        const double a = 0.3;
        CHECK(near(face::rq_euler_degrees(rotation_xyz(a, 0, 0)), Eigen::Vector3d(a, 0, 0)));
        CHECK(near(face::rq_euler_degrees(rotation_xyz(0, a, 0)), Eigen::Vector3d(0, a, 0)));
        CHECK(near(face::rq_euler_degrees(rotation_xyz(0, -a, 0)), Eigen::Vector3d(0, -a, 0)));
        CHECK(near(face::rq_euler_degrees(rotation_xyz(0, 0, -a)), Eigen::Vector3d(0, 0, -a)));
        // The composition order: M = Rz Ry Rx decomposes into the three angles.
        CHECK(near(face::rq_euler_degrees(rotation_xyz(0.2, -0.3, 0.4)), Eigen::Vector3d(0.2, -0.3, 0.4)));
        CHECK(near(face::rq_euler_degrees(rotation_xyz(-0.7, 0.6, -0.5)), Eigen::Vector3d(-0.7, 0.6, -0.5)));
    }

    TEST_CASE("refuses bad input") {
        face::landmarks l = unit_face();
        l(40, 0) = std::nan("");
        CHECK(contains(value_error_message([&] { face::estimate_pose(l); }), "not all finite"));
        face::model_points m(5, 3);
        m.setRandom();
        face::image_points p(5, 2);
        p.setRandom();
        CHECK(contains(value_error_message([&] { face::solve_pnp(m, p); }), "at least 6"));
    }
}

TEST_SUITE("face.alignment") {
    TEST_CASE("centring names and ratios") {
        CHECK(face::parse_centering("legacy") == face::centering::legacy);
        CHECK(face::parse_centering("face") == face::centering::face);
        CHECK(face::parse_centering("head") == face::centering::head);
        CHECK(face::to_string(face::centering::head) == "head");
        CHECK(contains(value_error_message([] { face::parse_centering("nose"); }), "unknown centering 'nose'"));
        CHECK(face::extract_ratio(face::centering::legacy) == 0.375);
        CHECK(face::extract_ratio(face::centering::face) == 0.5);
        CHECK(face::extract_ratio(face::centering::head) == 0.625);
    }

    TEST_CASE("padding is faceswap's, with Python's round half to even") {
        CHECK(face::crop_padding(256, face::centering::legacy, 1.0) == 48);
        CHECK(face::crop_padding(256, face::centering::face, 1.0) == 64);
        CHECK(face::crop_padding(256, face::centering::head, 1.0) == 80);
        CHECK(face::crop_padding(100, face::centering::legacy, 1.0) == 19);  // 18.75
        CHECK(face::crop_padding(6, face::centering::face, 1.0) == 2);       // 1.5 -> 2
        CHECK(face::crop_padding(10, face::centering::face, 1.0) == 2);      // 2.5 -> 2
        CHECK(face::crop_padding(256, face::centering::face, 0.75) == 32);
        CHECK(face::crop_padding(256, face::centering::face, 0.25) == -32);  // zooms in
        CHECK(face::round_half_even(-2.5) == -2);
        CHECK(face::round_half_even(-3.5) == -4);
    }

    TEST_CASE("legacy matrix of the mean face seen through a similarity is that similarity's inverse") {
        const data::affine2 to_frame = similarity(230.0, 0.35, 412.0, 187.0);  // unit square -> frame
        const face::landmarks frame = face::transform_landmarks(unit_face(), to_frame);
        const data::affine2 legacy = face::legacy_matrix(frame);
        CHECK(max_abs_diff(legacy, data::inverse(to_frame)) < 1e-12);
    }

    TEST_CASE("hand-computed legacy crop matrix") {
        // The mean face scaled by 200 and moved by (100, 50): umeyama gives L = [1/200, 0, -0.5;
        // 0, 1/200, -0.25]. faceswap at size 256, legacy, coverage 1: padding = round(256 * (1 -
        // 0.625) / 2) = 48, so adjusted = 160 * L + [0 | 48] = [0.8, 0, -32; 0, 0.8, 8].
        const face::landmarks frame = face::transform_landmarks(unit_face(), data::affine2{200, 0, 100, 0, 200, 50});
        const face::face_alignment al = face::align_face(frame, {256, face::centering::legacy, 1.0});
        CHECK(al.padding == 48);
        CHECK(!al.pose.has_value());
        CHECK(max_abs_diff(al.frame_to_crop, data::affine2{0.8, 0, -32, 0, 0.8, 8}) < 1e-12);
        CHECK(al.average_distance < 1e-14);
        // Coverage 0.75 at 128 px: padding = round(128 * (0.75 - 0.625) / 2) = 8 -> 112 * L + 8.
        const face::face_alignment al2 = face::align_face(frame, {128, face::centering::legacy, 0.75});
        CHECK(max_abs_diff(al2.frame_to_crop, data::affine2{0.56, 0, -48, 0, 0.56, -20}) < 1e-12);
    }

    TEST_CASE("matches faceswap's AlignedFace.adjusted_matrix on a fixed face") {
        // Reference numbers from faceswap's formulas (lib/align/aligned_face.py, pose.py) run with
        // numpy and OpenCV 4 on the same landmarks: _umeyama, cv2.solvePnP(SOLVEPNP_ITERATIVE)
        // repeated from its own result until it stops moving (a single call ends after 20
        // Levenberg-Marquardt steps, ~1e-3 px short of the optimum: face c = -201.516120 there),
        // cv2.projectPoints of the centring points, padding 64 / 80 at 256 px, coverage 1. OpenCV
        // stops once a step changes the parameters by less than FLT_EPSILON relative, which leaves
        // its optimum uncertain by ~1e-7 px: the matrices are compared to 1e-6.
        face::landmarks l = unit_face();
        for (int i = 0; i < face::landmark_count; ++i) l(i, 0) = 0.5 + (l(i, 0) - 0.5) * 0.9 + 0.2 * (l(i, 0) - 0.5) * (l(i, 0) - 0.5);
        const face::landmarks frame = face::transform_landmarks(l, similarity(180.0, 0.15, 320.0, 240.0));
        const face::face_alignment fa = face::align_face(frame, {256, face::centering::face, 1.0});
        CHECK(max_abs_diff(fa.legacy, data::affine2{0.005642632417839086, 0.00094383971650622, -2.0640632867684086,
                                                   -0.0009438397165062203, 0.005642632417839087, -1.0577248078962316}) < 1e-14);
        CHECK(max_abs_diff(fa.frame_to_crop, data::affine2{0.722256949483, 0.120811483713, -201.517518936727, -0.120811483713,
                                                          0.722256949483, -51.081281511704}) < 1e-6);
        const face::face_alignment ha = face::align_face(frame, {256, face::centering::head, 1.0});
        CHECK(max_abs_diff(ha.frame_to_crop, data::affine2{0.541692712113, 0.090608612785, -123.729393612595, -0.090608612785,
                                                          0.541692712113, -0.302971994259}) < 1e-6);
        REQUIRE(ha.pose.has_value());
        CHECK((ha.pose->pose.translation - Eigen::Vector3d(-0.626206, 3.47942336, -58.80729814)).norm() < 1e-6);
        CHECK(ha.pose->pitch == doctest::Approx(-2.50241772).epsilon(1e-7));
        CHECK(ha.pose->yaw == doctest::Approx(6.53386564).epsilon(1e-7));
        CHECK(ha.pose->roll == doctest::Approx(0.03778923).epsilon(1e-6));
    }

    TEST_CASE("face and head crops put the projected centring point at the crop centre") {
        const Eigen::Matrix3d r = rotation_xyz(0.15, 0.35, -0.1);
        const face::landmarks unit = projected_face(r, Eigen::Vector3d(0.3, -0.4, -62.0));
        const data::affine2 to_frame = similarity(180.0, -0.2, 640.0, 360.0);
        const face::landmarks frame = face::transform_landmarks(unit, to_frame);
        for (const face::centering c : {face::centering::face, face::centering::head}) {
            for (const std::int64_t size : {256, 97}) {
                const face::face_alignment al = face::align_face(frame, {size, c, 1.0});
                REQUIRE(al.pose.has_value());
                // The 3-D centring point, projected into the legacy unit square, back to the frame, to the crop.
                const Eigen::Vector2d u = al.pose->project(face::centring_point(c));
                const data::affine2 back = data::inverse(al.legacy);
                const double fx = back.a * u.x() + back.b * u.y() + back.c, fy = back.d * u.x() + back.e * u.y() + back.f;
                const data::affine2& m = al.frame_to_crop;
                CHECK(m.a * fx + m.b * fy + m.c == doctest::Approx(0.5 * static_cast<double>(size)).epsilon(1e-9));
                CHECK(m.d * fx + m.e * fy + m.f == doctest::Approx(0.5 * static_cast<double>(size)).epsilon(1e-9));
                // The face occupies size - 2 * padding pixels per unit-square side.
                CHECK(face::matrix_scale(m) ==
                      doctest::Approx(static_cast<double>(size - 2 * al.padding) * face::matrix_scale(al.legacy)).epsilon(1e-12));
                CHECK(face::matrix_angle(m) == doctest::Approx(face::matrix_angle(al.legacy)).epsilon(1e-12));
            }
        }
    }

    TEST_CASE("a turned head moves the head centre sideways, and the crop follows it") {
        // Turning the head (rotation about the model's vertical axis) moves the skull centre,
        // which lies behind the landmarks, sideways against the legacy centre in the image.
        const Eigen::Vector3d t(0.0, 0.0, -60.0);
        const face::pose_estimate straight = face::estimate_pose(projected_face(Eigen::Matrix3d::Identity(), t));
        const face::pose_estimate left = face::estimate_pose(projected_face(rotation_xyz(0, 0.5, 0), t));
        const face::pose_estimate right = face::estimate_pose(projected_face(rotation_xyz(0, -0.5, 0), t));
        CHECK(std::abs(straight.head_offset.x()) < 1e-3);
        CHECK(left.head_offset.x() * right.head_offset.x() < 0.0);
        CHECK(std::abs(left.head_offset.x()) > 0.05);
        CHECK(std::abs(left.head_offset.x() + right.head_offset.x()) < 1e-3);
        CHECK(straight.yaw == doctest::Approx(0.0).epsilon(1e-6));
        CHECK(left.yaw == doctest::Approx(0.5 * 180 / pi).epsilon(1e-6));
    }

    TEST_CASE("moving the frame moves the matrix: M(T(l)) == M(l) * T^-1") {
        const face::landmarks base = face::transform_landmarks(
            projected_face(rotation_xyz(-0.1, 0.25, 0.05), Eigen::Vector3d(0.2, 0.1, -58.0)), similarity(150.0, 0.1, 300.0, 200.0));
        for (const face::centering c : {face::centering::legacy, face::centering::face, face::centering::head}) {
            const face::alignment_options o{192, c, 0.9};
            const data::affine2 m = face::frame_to_crop_matrix(base, o);
            for (const data::affine2& t : {similarity(1.0, 0.0, 37.5, -12.25), similarity(1.0, 0.6, 0.0, 0.0),
                                           similarity(0.4, 0.0, 0.0, 0.0), similarity(2.2, -0.7, -90.0, 45.0)}) {
                const data::affine2 moved = face::frame_to_crop_matrix(face::transform_landmarks(base, t), o);
                CHECK(max_abs_diff(moved, face::compose(m, data::inverse(t))) < 1e-9 * std::max(1.0, std::abs(moved.c)));
            }
        }
    }

    TEST_CASE("crop box in the frame") {
        const data::affine2 m{0.5, 0, -10, 0, 0.5, 20};  // crop = 0.5 * frame + (-10, 20)
        const face::crop_box box = face::crop_in_frame(m, 100);
        CHECK(box.pixel_size == doctest::Approx(2.0));
        CHECK(box.side == doctest::Approx(200.0));
        CHECK(box.corners[0].isApprox(Eigen::Vector2d(20, -40)));
        CHECK(box.corners[2].isApprox(Eigen::Vector2d(218, 158)));
        CHECK(box.centre.isApprox(Eigen::Vector2d(119, 59)));
    }

    TEST_CASE("bad options and landmarks are refused") {
        const face::landmarks frame = face::transform_landmarks(unit_face(), similarity(100, 0, 50, 50));
        CHECK(contains(value_error_message([&] { face::align_face(frame, {0, face::centering::face, 1.0}); }), "crop size 0 is below 1"));
        CHECK(contains(value_error_message([&] { face::align_face(frame, {64, face::centering::face, 0.0}); }), "outside (0, 1.5]"));
        CHECK(contains(value_error_message([&] { face::align_face(frame, {64, face::centering::face, 1.6}); }), "outside (0, 1.5]"));
        CHECK(contains(value_error_message([&] { face::align_face(frame, {64, face::centering::face, NAN}); }), "coverage"));
        CHECK(contains(value_error_message([&] { face::align_face(frame, {64, face::centering::head, 1.4}); }), "leaves no room"));
        face::landmarks bad = frame;
        bad(30, 1) = INFINITY;
        CHECK(contains(value_error_message([&] { face::align_face(bad); }), "not all finite"));
        face::landmarks flat = frame;
        flat.setConstant(3.0);
        CHECK(contains(value_error_message([&] { face::align_face(flat); }), "coincide"));
    }
}

TEST_SUITE("face.warp") {
    TEST_CASE("warp_to_crop samples the frame through the inverse matrix, black outside") {
        const std::int64_t h = 20, w = 30;
        tensor frame = tensor::empty(shape{h, w, 2});
        for (std::int64_t y = 0; y < h; ++y)
            for (std::int64_t x = 0; x < w; ++x) {
                frame.data()[(y * w + x) * 2] = static_cast<float>(0.01 * x + 0.02 * y);  // linear: bilinear is exact
                frame.data()[(y * w + x) * 2 + 1] = 1.0f;
            }
        const data::affine2 m = similarity(2.0, 0.0, -4.0, -6.0);  // crop = 2 frame - (4, 6)
        const tensor crop = face::warp_to_crop(frame, m, 16);
        CHECK(crop.shape() == shape{16, 16, 2});
        for (std::int64_t y = 0; y < 16; ++y)
            for (std::int64_t x = 0; x < 16; ++x) {
                const double fx = (x + 4.0) / 2.0, fy = (y + 6.0) / 2.0;
                CHECK(crop.data()[(y * 16 + x) * 2] == doctest::Approx(0.01 * fx + 0.02 * fy).epsilon(1e-6));
            }
        // Crop pixels from outside the frame are black; the edge blends towards black.
        const data::affine2 shifted = similarity(1.0, 0.0, 5.5, 0.0);  // frame x = crop x - 5.5
        const tensor edge = face::warp_to_crop(frame, shifted, 10);
        CHECK(edge.data()[(3 * 10 + 0) * 2 + 1] == 0.0f);   // x = -5.5: outside
        CHECK(edge.data()[(3 * 10 + 5) * 2 + 1] == 0.5f);   // x = -0.5: half a tap inside
        CHECK(edge.data()[(3 * 10 + 6) * 2 + 1] == 1.0f);   // x = 0.5: inside
        const tensor inside = face::inside_mask(h, w, shifted, 10);
        CHECK(inside.data()[3 * 10 + 5] == 0.5f);
        CHECK(face::inside_fraction(h, w, shifted, 10) == doctest::Approx(0.45));  // per row: 0.5 + 4 of 10
    }

    TEST_CASE("the crop of a synthetic face centres its landmarks as the alignment says") {
        const face::landmarks frame = face::transform_landmarks(unit_face(), similarity(120.0, 0.2, 150.0, 90.0));
        const face::face_alignment al = face::align_face(frame, {64, face::centering::legacy, 1.0});
        const face::landmarks crop = al.crop_landmarks(frame);
        // The mean face lands on 40 * mean + 12 in a 64 px legacy crop (padding 12).
        for (int i = 0; i < face::mean_face_2d_count; ++i) {
            CHECK(crop(17 + i, 0) == doctest::Approx(40.0 * face::mean_face_2d[static_cast<std::size_t>(i)][0] + 12.0));
            CHECK(crop(17 + i, 1) == doctest::Approx(40.0 * face::mean_face_2d[static_cast<std::size_t>(i)][1] + 12.0));
        }
    }

    TEST_CASE("errors") {
        const tensor frame = tensor::full(shape{4, 4, 3}, 0.5f);
        CHECK(contains(value_error_message([&] { face::warp_to_crop(frame, data::affine2{}, 0); }), "below 1"));
        CHECK(contains(value_error_message([&] { face::warp_to_crop(frame, data::affine2{0, 0, 0, 0, 0, 0}, 4); }), "not invertible"));
        CHECK(contains(value_error_message([&] { face::warp_to_crop(frame, data::affine2{NAN, 0, 0, 0, 1, 0}, 4); }), "not finite"));
        CHECK_THROWS_AS(face::warp_to_crop(tensor::full(shape{4, 4}, 0.5f), data::affine2{}, 4), hg::shape_error);
    }
}

TEST_SUITE("face.smoothing") {
    TEST_CASE("a static face with random jitter is steadied") {
        std::mt19937_64 gen(21);
        std::normal_distribution<double> noise(0.0, 1.0);
        const face::landmarks still = face::transform_landmarks(unit_face(), similarity(200, 0.1, 300, 200));
        std::vector<face::landmarks> track;
        std::vector<std::int64_t> frames;
        for (int k = 0; k < 80; ++k) {
            face::landmarks l = still;
            for (int i = 0; i < face::landmark_count; ++i) l.row(i) += Eigen::RowVector2d(noise(gen), noise(gen));
            track.push_back(l);
            frames.push_back(k);
        }
        const std::vector<face::landmarks> smooth = face::smooth_track(track, frames, 6);
        const double raw = face::jitter(track), steadied = face::jitter(smooth);
        CHECK(raw > 1.5);  // E||N(0, I_2) - N(0, I_2)|| = sqrt(pi) ~ 1.77
        CHECK(steadied < raw / 4.0);
        // The smoothed positions are closer to the truth than the raw ones.
        double err_raw = 0.0, err_smooth = 0.0;
        for (std::size_t k = 0; k < track.size(); ++k)
            err_raw += (track[k] - still).squaredNorm(), err_smooth += (smooth[k] - still).squaredNorm();
        CHECK(err_smooth < err_raw / 2.0);
    }

    TEST_CASE("linear and quadratic motion pass through unchanged, with gaps and at the ends") {
        const face::landmarks base = face::transform_landmarks(unit_face(), similarity(150, -0.2, 400, 250));
        Eigen::Matrix<double, face::landmark_count, 2> v, acc;
        for (int i = 0; i < face::landmark_count; ++i) {
            v.row(i) << 1.5 + 0.01 * i, -0.7 + 0.02 * i;
            acc.row(i) << 0.03 - 0.001 * i, 0.05;
        }
        const std::vector<std::int64_t> frames = {3, 4, 5, 7, 8, 12, 13, 14, 15, 16, 20, 21};  // gaps
        for (const bool quadratic : {false, true}) {
            std::vector<face::landmarks> track;
            auto truth = [&](std::int64_t f) {
                const double t = static_cast<double>(f);
                face::landmarks l = base + t * v;
                if (quadratic) l += t * t * acc;
                return l;
            };
            for (const std::int64_t f : frames) track.push_back(truth(f));
            const std::vector<face::landmarks> smooth = face::smooth_track(track, frames, 4);
            for (std::size_t k = 0; k < frames.size(); ++k) CHECK((smooth[k] - track[k]).cwiseAbs().maxCoeff() < 1e-9);
            // An asymmetric window at the start of the track, and a frame inside a gap.
            CHECK((face::smooth_at(std::span(track).first(4), std::span(frames).first(4), 3) - truth(3)).cwiseAbs().maxCoeff() < 1e-9);
            CHECK((face::smooth_at(std::span(track).subspan(2, 4), std::span(frames).subspan(2, 4), 10) - truth(10)).cwiseAbs().maxCoeff() <
                  1e-9);
        }
    }

    TEST_CASE("the order decides what passes unchanged") {
        const face::landmarks base = face::transform_landmarks(unit_face(), similarity(100, 0, 100, 100));
        std::vector<face::landmarks> track;
        const std::vector<std::int64_t> frames = {0, 1, 2, 3, 4};
        for (const std::int64_t f : frames) track.push_back(base.array() + static_cast<double>(f * f));
        // A linear fit of t^2 over 0..4 at t = 2 gives the mean 6 instead of 4.
        const face::landmarks lin = face::smooth_at(track, frames, 2, 1);
        CHECK((lin - (base.array() + 6.0).matrix()).cwiseAbs().maxCoeff() < 1e-9);
        const face::landmarks quad = face::smooth_at(track, frames, 2, 2);
        CHECK((quad - (base.array() + 4.0).matrix()).cwiseAbs().maxCoeff() < 1e-9);
        // Fewer frames than order + 1: the degree drops (one frame: returned as it is).
        CHECK((face::smooth_at(std::span(track).first(1), std::span(frames).first(1), 0) - track[0]).cwiseAbs().maxCoeff() == 0.0);
        CHECK(face::jitter(std::span(track).first(1)) == 0.0);
        CHECK(face::jitter(std::span(track).first(2)) == doctest::Approx(std::sqrt(2.0)));
    }

    TEST_CASE("bad input") {
        const face::landmarks l = unit_face();
        std::vector<face::landmarks> track = {l, l, l};
        const std::vector<std::int64_t> frames = {0, 1, 2}, dup = {0, 1, 1}, two = {0, 1};
        CHECK(contains(value_error_message([&] { face::smooth_at({}, {}, 0); }), "window is empty"));
        CHECK(contains(value_error_message([&] { face::smooth_at(track, two, 0); }), "3 landmark sets but 2"));
        CHECK(contains(value_error_message([&] { face::smooth_at(track, dup, 0); }), "appears twice"));
        CHECK(contains(value_error_message([&] { face::smooth_at(track, frames, 0, 7); }), "order 7"));
        CHECK(contains(value_error_message([&] { face::smooth_track(track, dup, 2); }), "strictly increasing"));
        CHECK(contains(value_error_message([&] { face::smooth_track(track, frames, -1); }), "negative"));
        track[1](5, 0) = std::nan("");
        CHECK(contains(value_error_message([&] { face::smooth_at(track, frames, 0); }), "frame 1 are not all finite"));
    }
}
