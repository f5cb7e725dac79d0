// Head pose from 2-D landmarks: a small Perspective-n-Point solver and faceswap's pose estimate,
// whose only job in the alignment is to tell where the 3-D centre of the face or of the head
// projects, so that 'face' and 'head' crops can be centred there.
//
// Camera: pinhole, no distortion, in the unit square of the legacy alignment (faceswap
// PoseEstimate._get_camera_matrix): K = [[f, 0, 0.5], [0, f, 0.5], [0, 0, 1]] with f = 4.
// A model point X projects as P = R X + t, (u, v) = (f Px / Pz + cx, f Py / Pz + cy).
//
// solve_pnp minimises the reprojection error sum_i ||proj(R X_i + t) - x_i||^2 over the rotation
// and translation, like cv2.solvePnP(SOLVEPNP_ITERATIVE):
//   1. initialisation by the direct linear transform (Hartley & Zisserman, "Multiple View
//      Geometry", 2nd ed., sec. 7.1; points normalised as in sec. 4.4.4): the 3x4 matrix P ~ [R | t]
//      is the null vector of the 2N x 12 system; its sign is chosen so that det P[:, :3] > 0 (as
//      OpenCV does), R is the nearest rotation (U V^T of the SVD) and t is scaled to match;
//   2. Levenberg-Marquardt over a rotation increment (R <- exp([w]x) R) and t, with the analytic
//      Jacobian dP/dw = -[R X]x, dP/dt = I. A second start from the frontal pose (R = I, weak
//      perspective translation) is also refined and the lower cost wins, so rotations well past
//      45 degrees converge even where the linear estimate is poor.
// Like OpenCV there is no cheirality constraint. This matters for faceswap's model: it is mirrored
// with respect to camera coordinates (x towards the picture's left, y up, z towards the viewer), so
// the least-squares pose of a frontal face is R ~ I with t_z < 0 (the model "behind" the camera,
// which projects as the mirror image); faceswap's offsets are computed from exactly that solution,
// and so are ours.
//
// estimate_pose(l) takes the 68 landmarks already mapped into the legacy unit square, solves PnP
// for faceswap's 26-point 3-D mean face (mean_face.hpp) and projects faceswap's centring points
// (head (0, 0, -2.3), face (0, -1.5, 4.2)); offset(c) = proj(point_c) - (0.5, 0.5), zero for
// legacy. pitch/yaw/roll are the Euler angles of cv2.decomposeProjectionMatrix([R | 0]) (the RQ
// decomposition by Givens rotations of cv2.RQDecomp3x3), in degrees, as faceswap reports them.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <Eigen/Core>
#include <Eigen/Geometry>
#include <Eigen/LU>
#include <Eigen/SVD>

#include "hourglass/core/error.hpp"
#include "hourglass/face/centering.hpp"
#include "hourglass/face/landmarks.hpp"
#include "hourglass/face/mean_face.hpp"

namespace hg::face {

/// A pinhole camera without distortion: K = [[focal, 0, cx], [0, focal, cy], [0, 0, 1]].
struct pinhole_camera {
    double focal = 4.0;
    double cx = 0.5, cy = 0.5;
};

using model_points = Eigen::Matrix<double, Eigen::Dynamic, 3>;
using image_points = Eigen::Matrix<double, Eigen::Dynamic, 2>;

/// A rigid pose: P = rotation * X + translation in camera coordinates.
struct rigid_pose {
    Eigen::Matrix3d rotation = Eigen::Matrix3d::Identity();
    Eigen::Vector3d translation = Eigen::Vector3d::Zero();
    double rms_error = 0.0;  // root mean square reprojection error (image units) after the fit
    int iterations = 0;      // Levenberg-Marquardt iterations of the winning start

    /// The Rodrigues rotation vector (axis times angle in radians) of `rotation`.
    Eigen::Vector3d rotation_vector() const {
        const Eigen::AngleAxisd aa(rotation);
        return aa.axis() * aa.angle();
    }
    Eigen::Vector2d project(const Eigen::Vector3d& x, const pinhole_camera& cam) const {
        const Eigen::Vector3d p = rotation * x + translation;
        return Eigen::Vector2d(cam.focal * p.x() / p.z() + cam.cx, cam.focal * p.y() / p.z() + cam.cy);
    }
};

namespace detail {

inline Eigen::Matrix3d skew(const Eigen::Vector3d& v) {
    Eigen::Matrix3d m;
    m << 0, -v.z(), v.y(), v.z(), 0, -v.x(), -v.y(), v.x(), 0;
    return m;
}

inline Eigen::Matrix3d exp_rotation(const Eigen::Vector3d& w) {
    const double angle = w.norm();
    if (angle < 1e-300) return Eigen::Matrix3d::Identity();
    return Eigen::AngleAxisd(angle, w / angle).toRotationMatrix();
}

/// Sum of squared reprojection errors, +inf if a point lands on the camera plane.
inline double pnp_cost(const model_points& x, const image_points& u, const pinhole_camera& cam,
                       const Eigen::Matrix3d& r, const Eigen::Vector3d& t) {
    double cost = 0.0;
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
        const Eigen::Vector3d p = r * x.row(i).transpose() + t;
        if (!(std::abs(p.z()) > 1e-12)) return std::numeric_limits<double>::infinity();
        const double du = cam.focal * p.x() / p.z() + cam.cx - u(i, 0);
        const double dv = cam.focal * p.y() / p.z() + cam.cy - u(i, 1);
        cost += du * du + dv * dv;
    }
    return std::isfinite(cost) ? cost : std::numeric_limits<double>::infinity();
}

/// Levenberg-Marquardt refinement of (r, t) in place; returns the iterations taken.
inline int refine_pnp(const model_points& x, const image_points& u, const pinhole_camera& cam, Eigen::Matrix3d& r,
                      Eigen::Vector3d& t, int max_iterations = 200) {
    const Eigen::Index n = x.rows();
    double cost = pnp_cost(x, u, cam, r, t);
    if (!std::isfinite(cost)) return 0;
    double lambda = 1e-3;
    int it = 0;
    for (; it < max_iterations; ++it) {
        Eigen::Matrix<double, 6, 6> jtj = Eigen::Matrix<double, 6, 6>::Zero();
        Eigen::Matrix<double, 6, 1> jtr = Eigen::Matrix<double, 6, 1>::Zero();
        for (Eigen::Index i = 0; i < n; ++i) {
            const Eigen::Vector3d rx = r * x.row(i).transpose();
            const Eigen::Vector3d p = rx + t;
            const double iz = 1.0 / p.z();
            Eigen::Matrix<double, 2, 3> dproj;
            dproj << cam.focal * iz, 0, -cam.focal * p.x() * iz * iz, 0, cam.focal * iz, -cam.focal * p.y() * iz * iz;
            Eigen::Matrix<double, 2, 6> j;
            j.leftCols<3>() = -dproj * skew(rx);
            j.rightCols<3>() = dproj;
            const Eigen::Vector2d res(cam.focal * p.x() * iz + cam.cx - u(i, 0), cam.focal * p.y() * iz + cam.cy - u(i, 1));
            jtj += j.transpose() * j;
            jtr += j.transpose() * res;
        }
        if (jtr.lpNorm<Eigen::Infinity>() < 1e-15 * std::max(1.0, cost)) break;
        bool improved = false;
        while (lambda < 1e12) {
            Eigen::Matrix<double, 6, 6> a = jtj;
            a.diagonal() += lambda * jtj.diagonal().cwiseMax(1e-12);
            const Eigen::Matrix<double, 6, 1> step = a.ldlt().solve(-jtr);
            if (!step.allFinite()) {
                lambda *= 10.0;
                continue;
            }
            const Eigen::Matrix3d r_new = exp_rotation(step.head<3>()) * r;
            const Eigen::Vector3d t_new = t + step.tail<3>();
            const double c_new = pnp_cost(x, u, cam, r_new, t_new);
            if (c_new < cost) {
                const double rel = (cost - c_new) / std::max(cost, 1e-300);
                r = r_new, t = t_new, cost = c_new;
                lambda = std::max(lambda * 0.1, 1e-12);
                improved = true;
                if (rel < 1e-15 || step.norm() < 1e-14 * (1.0 + t.norm())) return it + 1;
                break;
            }
            lambda *= 10.0;
        }
        if (!improved) break;
    }
    // Re-orthonormalise against drift from the many small products.
    Eigen::JacobiSVD<Eigen::Matrix3d> svd(r, Eigen::ComputeFullU | Eigen::ComputeFullV);
    r = svd.matrixU() * svd.matrixV().transpose();
    return it;
}

/// Direct linear transform estimate of (r, t); false when it fails (non-finite, singular).
inline bool dlt_pnp(const model_points& x, const image_points& u, const pinhole_camera& cam, Eigen::Matrix3d& r,
                    Eigen::Vector3d& t) {
    const Eigen::Index n = x.rows();
    // Normalised camera coordinates, then Hartley normalisation of both point sets.
    image_points xn(n, 2);
    for (Eigen::Index i = 0; i < n; ++i)
        xn.row(i) << (u(i, 0) - cam.cx) / cam.focal, (u(i, 1) - cam.cy) / cam.focal;
    const Eigen::RowVector3d c3 = x.colwise().mean();
    const Eigen::RowVector2d c2 = xn.colwise().mean();
    const double d3 = (x.rowwise() - c3).rowwise().norm().mean();
    const double d2 = (xn.rowwise() - c2).rowwise().norm().mean();
    if (!(d3 > 0) || !(d2 > 0)) return false;
    const double s3 = std::sqrt(3.0) / d3, s2 = std::sqrt(2.0) / d2;
    Eigen::MatrixXd a = Eigen::MatrixXd::Zero(2 * n, 12);
    for (Eigen::Index i = 0; i < n; ++i) {
        Eigen::Matrix<double, 1, 4> xh;
        xh << s3 * (x.row(i) - c3), 1.0;
        const double px = s2 * (xn(i, 0) - c2.x()), py = s2 * (xn(i, 1) - c2.y());
        a.block<1, 4>(2 * i, 0) = xh;
        a.block<1, 4>(2 * i, 8) = -px * xh;
        a.block<1, 4>(2 * i + 1, 4) = xh;
        a.block<1, 4>(2 * i + 1, 8) = -py * xh;
    }
    Eigen::JacobiSVD<Eigen::MatrixXd> svd(a, Eigen::ComputeFullV);
    const Eigen::VectorXd p = svd.matrixV().col(11);
    Eigen::Matrix<double, 3, 4> pn;
    for (int row = 0; row < 3; ++row)
        for (int col = 0; col < 4; ++col) pn(row, col) = p(4 * row + col);
    // Undo the normalisations: P = T2^-1 Pn T3.
    Eigen::Matrix4d t3 = Eigen::Matrix4d::Identity();
    t3.topLeftCorner<3, 3>() *= s3;
    t3.block<3, 1>(0, 3) = -s3 * c3.transpose();
    Eigen::Matrix3d t2inv = Eigen::Matrix3d::Identity();
    t2inv.topLeftCorner<2, 2>() /= s2;
    t2inv.block<2, 1>(0, 2) = c2.transpose();
    Eigen::Matrix<double, 3, 4> pm = t2inv * pn * t3;
    Eigen::Matrix3d m = pm.leftCols<3>();
    if (m.determinant() < 0) pm = -pm, m = -m;
    Eigen::JacobiSVD<Eigen::Matrix3d> msvd(m, Eigen::ComputeFullU | Eigen::ComputeFullV);
    r = msvd.matrixU() * msvd.matrixV().transpose();
    const double fro = m.norm();
    if (!(fro > 0) || !r.allFinite() || r.determinant() < 0) return false;
    t = pm.col(3) * (std::sqrt(3.0) / fro);
    return t.allFinite();
}

/// The frontal start: R = I and a weak-perspective translation (z < 0, faceswap's mirrored model).
inline void frontal_start(const model_points& x, const image_points& u, const pinhole_camera& cam,
                          Eigen::Matrix3d& r, Eigen::Vector3d& t) {
    r = Eigen::Matrix3d::Identity();
    const Eigen::RowVector2d mx = x.leftCols<2>().colwise().mean();
    const Eigen::RowVector2d mu = u.colwise().mean();
    const double spread_x = (x.leftCols<2>().rowwise() - mx).norm();
    const double spread_u = (u.rowwise() - mu).norm();
    const double depth = -cam.focal * spread_x / std::max(spread_u, 1e-300);
    const double mz = x.col(2).mean();
    const double tz = depth - mz;
    t = Eigen::Vector3d((mu.x() - cam.cx) / cam.focal * depth - mx.x(), (mu.y() - cam.cy) / cam.focal * depth - mx.y(), tz);
}

}  // namespace detail

/// The pose (R, t) minimising the reprojection error of `model` (N x 3) onto `image` (N x 2), N >= 6.
/// value_error for mismatched or too few points, non-finite input, or no usable solution.
inline rigid_pose solve_pnp(const model_points& model, const image_points& image, const pinhole_camera& cam = {}) {
    const Eigen::Index n = model.rows();
    if (image.rows() != n)
        throw value_error("face::solve_pnp: " + std::to_string(n) + " model points but " + std::to_string(image.rows()) +
                          " image points");
    if (n < 6) throw value_error("face::solve_pnp: needs at least 6 points, got " + std::to_string(n));
    if (!model.allFinite() || !image.allFinite()) throw value_error("face::solve_pnp: the points are not all finite");
    if (!(cam.focal > 0) || !std::isfinite(cam.focal) || !std::isfinite(cam.cx) || !std::isfinite(cam.cy))
        throw value_error("face::solve_pnp: the camera focal length must be finite and positive");

    rigid_pose best;
    double best_cost = std::numeric_limits<double>::infinity();
    auto attempt = [&](Eigen::Matrix3d r, Eigen::Vector3d t) {
        const int it = detail::refine_pnp(model, image, cam, r, t);
        const double c = detail::pnp_cost(model, image, cam, r, t);
        if (c < best_cost) {
            best_cost = c;
            best.rotation = r, best.translation = t, best.iterations = it;
        }
    };
    Eigen::Matrix3d r;
    Eigen::Vector3d t;
    if (detail::dlt_pnp(model, image, cam, r, t)) attempt(r, t);
    detail::frontal_start(model, image, cam, r, t);
    attempt(r, t);
    if (!std::isfinite(best_cost)) throw value_error("face::solve_pnp: no pose fits the points (degenerate input)");
    best.rms_error = std::sqrt(best_cost / static_cast<double>(n));
    return best;
}

/// Euler angles in degrees (about x, y, z) of cv2.RQDecomp3x3(m) as in OpenCV 4 (calib3d): m =
/// R_upper * Qz^T Qy^T Qx^T with Givens rotations chosen to zero m(2,1), m(2,0), m(1,0) in turn and
/// the 180-degree ambiguity resolved so that the first two diagonal entries of the triangular factor
/// are >= 0. For a pure rotation about one axis by theta (|theta| < 90) that angle is theta.
inline Eigen::Vector3d rq_euler_degrees(const Eigen::Matrix3d& m_in) {
    constexpr double eps = std::numeric_limits<double>::epsilon();
    constexpr double deg = 180.0 / 3.14159265358979323846;
    Eigen::Matrix3d m = m_in;
    double s = m(2, 1), c = m(2, 2), z = 1.0 / std::sqrt(c * c + s * s + eps);
    c *= z, s *= z;
    Eigen::Matrix3d qx;
    qx << 1, 0, 0, 0, c, s, 0, -s, c;
    Eigen::Matrix3d r = m * qx;
    r(2, 1) = 0;
    s = -r(2, 0), c = r(2, 2), z = 1.0 / std::sqrt(c * c + s * s + eps);
    c *= z, s *= z;
    Eigen::Matrix3d qy;
    qy << c, 0, -s, 0, 1, 0, s, 0, c;
    m = r * qy;
    m(2, 0) = 0;
    s = m(1, 0), c = m(1, 1), z = 1.0 / std::sqrt(c * c + s * s + eps);
    c *= z, s *= z;
    Eigen::Matrix3d qz;
    qz << c, s, 0, -s, c, 0, 0, 0, 1;
    r = m * qz;
    r(1, 0) = 0;
    if (r(0, 0) < 0) {
        if (r(1, 1) < 0) {  // turn by 180 degrees about z
            qz(0, 0) *= -1, qz(0, 1) *= -1, qz(1, 0) *= -1, qz(1, 1) *= -1;
        } else {  // about y
            qz.transposeInPlace();
            qy(0, 0) *= -1, qy(0, 2) *= -1, qy(2, 0) *= -1, qy(2, 2) *= -1;
        }
    } else if (r(1, 1) < 0) {  // about x
        qz.transposeInPlace();
        qy.transposeInPlace();
        qx(1, 1) *= -1, qx(1, 2) *= -1, qx(2, 1) *= -1, qx(2, 2) *= -1;
    }
    auto angle = [&](double cosine, double sine_sign) {
        return std::acos(std::clamp(cosine, -1.0, 1.0)) * (sine_sign >= 0 ? 1.0 : -1.0) * deg;
    };
    return Eigen::Vector3d(angle(qx(1, 1), qx(1, 2)), angle(qy(0, 0), qy(2, 0)), angle(qz(0, 0), qz(0, 1)));
}

/// faceswap's 3-D centring points in model units.
inline const Eigen::Vector3d& centring_point(centering c) {
    static const Eigen::Vector3d head(0.0, 0.0, -2.3), face(0.0, -1.5, 4.2), none(0.0, 0.0, 0.0);
    return c == centering::head ? head : c == centering::face ? face : none;
}

/// faceswap's pose estimate of a face whose landmarks are in the legacy unit square.
struct pose_estimate {
    rigid_pose pose;
    pinhole_camera camera;
    Eigen::Vector2d face_offset = Eigen::Vector2d::Zero();
    Eigen::Vector2d head_offset = Eigen::Vector2d::Zero();
    double pitch = 0.0, yaw = 0.0, roll = 0.0;  // degrees, cv2.decomposeProjectionMatrix order (x, y, z)

    /// Where the centre of `c` lies relative to the unit square's centre (0.5, 0.5); zero for legacy.
    Eigen::Vector2d offset(centering c) const {
        switch (c) {
            case centering::face: return face_offset;
            case centering::head: return head_offset;
            case centering::legacy: break;
        }
        return Eigen::Vector2d::Zero();
    }
    /// A model point projected into the unit square.
    Eigen::Vector2d project(const Eigen::Vector3d& x) const { return pose.project(x, camera); }
};

/// The pose of the 26-point 3-D mean face fitted to `unit_landmarks` (68 landmarks mapped by the
/// legacy alignment matrix), with the face and head offsets. value_error for non-finite landmarks
/// (faceswap maps NaN to 0 with np.nan_to_num; here they are refused) or when no pose fits.
inline pose_estimate estimate_pose(const landmarks& unit_landmarks, const pinhole_camera& cam = {}) {
    if (!unit_landmarks.allFinite()) throw value_error("face::estimate_pose: the landmarks are not all finite");
    model_points model(mean_face_3d_count, 3);
    image_points image(mean_face_3d_count, 2);
    for (int i = 0; i < mean_face_3d_count; ++i) {
        const auto& p = mean_face_3d[static_cast<std::size_t>(i)];
        model.row(i) << p[0], p[1], p[2];
        const int k = mean_face_3d_landmarks[static_cast<std::size_t>(i)];
        image.row(i) = unit_landmarks.row(k);
    }
    pose_estimate out;
    out.camera = cam;
    out.pose = solve_pnp(model, image, cam);
    const Eigen::Vector2d centre(0.5, 0.5);
    out.face_offset = out.project(centring_point(centering::face)) - centre;
    out.head_offset = out.project(centring_point(centering::head)) - centre;
    const Eigen::Vector3d e = rq_euler_degrees(out.pose.rotation);
    out.pitch = e.x(), out.yaw = e.y(), out.roll = e.z();
    return out;
}

}  // namespace hg::face
