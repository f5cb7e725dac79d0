// Least-squares similarity transform between two 2-D point sets (Umeyama 1991), in double precision.
//
// Given N >= 2 source points s_i and destination points d_i, find scale c > 0, a proper rotation R
// (det R = +1, never a reflection) and translation t minimising
//     E(c, R, t) = (1/N) sum_i || d_i - (c R s_i + t) ||^2.
// S. Umeyama, "Least-squares estimation of transformation parameters between two point patterns",
// IEEE PAMI 13(4), 1991, eqs. (34)-(43):
//     mu_s, mu_d                  the means; sigma_s^2 = (1/N) sum ||s_i - mu_s||^2
//     Sigma = (1/N) sum (d_i - mu_d)(s_i - mu_s)^T = U D V^T   (SVD, D = diag(D1 >= D2 >= 0))
//     S = diag(1, -1) if det(Sigma) < 0 else I                 (the reflection fix)
//     when rank(Sigma) = 1 (collinear points): S = diag(1, det(U) det(V))
//     R = U S V^T,   c = tr(D S) / sigma_s^2,   t = mu_d - c R mu_s
// This is the estimate faceswap and DeepFaceLab use (scikit-image's `_umeyama`), so the legacy
// alignment matrix is the same to rounding.
//
// The result maps source to destination: data::affine2 with (a, b, c; d, e, f) = (c R | t), so in
// pixel coordinates (y down) a positive `angle` turns clockwise on screen.
// value_error for N < 2, mismatched sizes, non-finite points, coincident source points or
// coincident destination points.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <Eigen/Core>
#include <Eigen/SVD>

#include "hourglass/core/error.hpp"
#include "hourglass/data/transform.hpp"

namespace hg::face {

/// Points as rows (x, y).
using point_set = Eigen::Matrix<double, Eigen::Dynamic, 2>;

/// x' = scale * R(angle) x + translation, R(angle) = [cos -sin; sin cos].
struct similarity2 {
    double scale = 1.0;
    double angle = 0.0;  // radians
    Eigen::Vector2d translation = Eigen::Vector2d::Zero();

    Eigen::Matrix2d linear() const {
        const double cs = scale * std::cos(angle), sn = scale * std::sin(angle);
        Eigen::Matrix2d m;
        m << cs, -sn, sn, cs;
        return m;
    }
    data::affine2 matrix() const {
        const Eigen::Matrix2d m = linear();
        return data::affine2{m(0, 0), m(0, 1), translation.x(), m(1, 0), m(1, 1), translation.y()};
    }
};

/// The least-squares similarity from `source` to `destination` (same number of rows, at least 2).
inline similarity2 umeyama_similarity(const Eigen::Ref<const point_set>& source,
                                      const Eigen::Ref<const point_set>& destination) {
    const Eigen::Index n = source.rows();
    if (destination.rows() != n)
        throw value_error("face::umeyama: " + std::to_string(n) + " source points but " +
                          std::to_string(destination.rows()) + " destination points");
    if (n < 2) throw value_error("face::umeyama: needs at least 2 point pairs, got " + std::to_string(n));
    if (!source.allFinite()) throw value_error("face::umeyama: the source points are not all finite");
    if (!destination.allFinite()) throw value_error("face::umeyama: the destination points are not all finite");

    const Eigen::RowVector2d mu_s = source.colwise().mean(), mu_d = destination.colwise().mean();
    const point_set s = source.rowwise() - mu_s, d = destination.rowwise() - mu_d;
    const double inv_n = 1.0 / static_cast<double>(n);
    const double var_s = s.squaredNorm() * inv_n, var_d = d.squaredNorm() * inv_n;
    // Relative to the spread of the coordinates, so that far-away point sets are judged alike.
    const double tiny_s = 1e-24 * std::max(1.0, mu_s.squaredNorm());
    const double tiny_d = 1e-24 * std::max(1.0, mu_d.squaredNorm());
    if (!(var_s > tiny_s)) throw value_error("face::umeyama: the source points all coincide (degenerate)");
    if (!(var_d > tiny_d)) throw value_error("face::umeyama: the destination points all coincide (degenerate)");

    const Eigen::Matrix2d sigma = d.transpose() * s * inv_n;
    Eigen::JacobiSVD<Eigen::Matrix2d> svd(sigma, Eigen::ComputeFullU | Eigen::ComputeFullV);
    // By reference: a copy of the fixed-size vector draws a false "may be used uninitialized" from
    // GCC 12 at -O2.
    const Eigen::Vector2d& dv = svd.singularValues();
    const Eigen::Matrix2d& u = svd.matrixU();
    const Eigen::Matrix2d& v = svd.matrixV();
    // Rank test as numpy's matrix_rank: singular values above D1 * 2 * eps count.
    const bool rank_one = dv(1) <= dv(0) * 2.0 * std::numeric_limits<double>::epsilon();
    double sign = 1.0;
    if (rank_one)
        sign = u.determinant() * v.determinant() > 0 ? 1.0 : -1.0;
    else if (sigma.determinant() < 0)
        sign = -1.0;
    const Eigen::Matrix2d r = u * Eigen::Vector2d(1.0, sign).asDiagonal() * v.transpose();
    const double scale = (dv(0) + sign * dv(1)) / var_s;
    if (!(scale > 0.0) || !std::isfinite(scale))
        throw value_error("face::umeyama: degenerate configuration (estimated scale " + std::to_string(scale) + ")");

    similarity2 out;
    out.scale = scale;
    out.angle = std::atan2(r(1, 0), r(0, 0));
    out.translation = mu_d.transpose() - scale * r * mu_s.transpose();
    return out;
}

/// The 2x3 matrix of umeyama_similarity(source, destination).
inline data::affine2 umeyama(const Eigen::Ref<const point_set>& source, const Eigen::Ref<const point_set>& destination) {
    return umeyama_similarity(source, destination).matrix();
}

/// The uniform scale and rotation angle (radians) of a similarity matrix (a = s cos, d = s sin).
inline double matrix_scale(const data::affine2& m) { return std::sqrt(m.a * m.a + m.d * m.d); }
inline double matrix_angle(const data::affine2& m) { return std::atan2(m.d, m.a); }

/// The composition "first q, then p": (p * q)(x) = p(q(x)).
inline data::affine2 compose(const data::affine2& p, const data::affine2& q) {
    return data::affine2{p.a * q.a + p.b * q.d, p.a * q.b + p.b * q.e, p.a * q.c + p.b * q.f + p.c,
                         p.d * q.a + p.e * q.d, p.d * q.b + p.e * q.e, p.d * q.c + p.e * q.f + p.f};
}

}  // namespace hg::face
