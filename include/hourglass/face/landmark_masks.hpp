// Masks drawn from landmarks in CROP pixels (the aligned face's landmarks, OpenCV's pixel-centre
// convention): [size, size, 1] float tensors in [0, 1], anti-aliased by the exact-area polygon fill
// of data/raster.hpp (a landmark at (x, y) is the point (x + 0.5, y + 0.5) of the raster, whose
// pixel (x, y) covers [x, x + 1) x [y, y + 1)).
//
// Each mask is a union of filled convex hulls of groups of landmarks, the
// groups of faceswap's landmark-based masks (plugins/extract/mask/components.py, extended.py and
// DetectedFace.get_landmark_mask):
//   components  8 hulls: right jaw (0-8 + 17), left jaw (8-16 + 26), right cheek (17-19 + 8),
//               left cheek (24-26 + 8), nose ridge (19-24 + 8), right eye region (17-21, 27, 31-35,
//               8), left eye region (22-26, 27, 31-35, 8), nose (27-35): the face from the brows
//               down to the chin.
//   extended    the same hulls after raising the brows by half their distance to the eye line:
//               with ml = (l36 + l0) / 2, mr = (l16 + l45) / 2, ql = (l36 + ml) / 2,
//               qr = (l45 + mr) / 2, the eye lines are (ql, l36, l37, l38, l39) and
//               (l42, l43, l44, l45, qr), and each brow point b_i += (b_i - e_i) / 2 for the eye-line
//               point e_i below it. (faceswap floors these halves to whole pixels; here they are exact.)
//   eye         the hulls of each eye (36-41, 42-47), dilated and feathered;
//   mouth       the hull of the outer lips (48-59), dilated and feathered.
// The eye and mouth masks are the loss-multiplier masks of faceswap's training cache
// (get_landmark_mask(area, blur_kernel = size // 16, dilation = 2.5 %)): a dilation by
// faceswap_dilation_radius(size, 2.5) and a Gaussian blur with ksize = size / 16 made odd
// (morphology.hpp). faceswap rounds the landmarks to whole pixels and draws with cv2.LINE_AA;
// the exact-area fill here differs from it along the edges by a fraction of a pixel.
//
// The union adds the hulls' pixel coverages and clamps at 1: the exact area of the union except in
// the few pixels where the outlines of two hulls cross, and hulls that share an edge (the right jaw
// and right eye region share 8-17) join without a seam, which a pixel-wise maximum would leave.
//
// convex_hull is Andrew's monotone chain (A. M. Andrew, Information Processing Letters 9(5), 1979):
// the points sorted by (x, y), lower and upper chains built with a cross-product turn test.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/data/raster.hpp"
#include "hourglass/face/landmarks.hpp"
#include "hourglass/face/morphology.hpp"

namespace hg::face {

/// The convex hull of `points`, counter-clockwise in a y-up frame (clockwise on screen), without
/// collinear points; fewer than 3 points for degenerate input (all equal or collinear).
inline std::vector<Eigen::Vector2d> convex_hull(std::vector<Eigen::Vector2d> points) {
    std::sort(points.begin(), points.end(), [](const Eigen::Vector2d& p, const Eigen::Vector2d& q) {
        return p.x() < q.x() || (p.x() == q.x() && p.y() < q.y());
    });
    points.erase(std::unique(points.begin(), points.end()), points.end());
    const std::size_t n = points.size();
    if (n < 3) return points;
    auto cross = [](const Eigen::Vector2d& o, const Eigen::Vector2d& a, const Eigen::Vector2d& b) {
        return (a.x() - o.x()) * (b.y() - o.y()) - (a.y() - o.y()) * (b.x() - o.x());
    };
    std::vector<Eigen::Vector2d> hull(2 * n);
    std::size_t k = 0;
    for (std::size_t i = 0; i < n; ++i) {  // lower chain
        while (k >= 2 && cross(hull[k - 2], hull[k - 1], points[i]) <= 0) --k;
        hull[k++] = points[i];
    }
    for (std::size_t i = n - 1, t = k + 1; i-- > 0;) {  // upper chain
        while (k >= t && cross(hull[k - 2], hull[k - 1], points[i]) <= 0) --k;
        hull[k++] = points[i];
    }
    hull.resize(k - 1);  // the last point repeats the first
    return hull;
}

/// One group of landmark indices whose hull is filled.
using landmark_group = std::vector<int>;

namespace detail {

inline landmark_group indices(std::initializer_list<landmark_part> parts, std::initializer_list<int> extra = {}) {
    landmark_group g;
    for (const landmark_part& p : parts)
        for (int i = p.first; i < p.last; ++i) g.push_back(i);
    g.insert(g.end(), extra.begin(), extra.end());
    return g;
}

inline void check_mask_input(const landmarks& l, std::int64_t size, const char* who) {
    if (size < 1) throw value_error(std::string(who) + ": the mask size " + std::to_string(size) + " is below 1");
    if (!l.allFinite()) throw value_error(std::string(who) + ": the landmarks are not all finite");
}

}  // namespace detail

/// faceswap's component groups (components.py / extended.py parse_parts).
inline std::vector<landmark_group> component_groups() {
    using detail::indices;
    return {
        indices({{0, 9}}, {17}),                       // right jaw
        indices({{8, 17}}, {26}),                      // left jaw
        indices({{17, 20}}, {8}),                      // right cheek
        indices({{24, 27}}, {8}),                      // left cheek
        indices({{19, 25}}, {8}),                      // nose ridge
        indices({{17, 22}, {27, 28}, {31, 36}}, {8}),  // right eye region
        indices({{22, 27}, {27, 28}, {31, 36}}, {8}),  // left eye region
        indices({{27, 31}, {31, 36}}),                 // nose
    };
}

/// [size, size, 1]: the union of the filled convex hulls of the groups (values in [0, 1]; coverages
/// added and clamped to 1).
inline tensor hull_mask(const landmarks& crop_landmarks, std::int64_t size, const std::vector<landmark_group>& groups) {
    detail::check_mask_input(crop_landmarks, size, "face::hull_mask");
    tensor out = tensor::zeros(shape{size, size, 1});
    float* dst = out.data();
    data::coverage_raster raster(size, size);
    for (const landmark_group& g : groups) {
        std::vector<Eigen::Vector2d> pts;
        for (const int i : g) {
            if (i < 0 || i >= landmark_count) throw value_error("face::hull_mask: landmark index " + std::to_string(i) + " is outside [0, 68)");
            pts.emplace_back(crop_landmarks(i, 0) + 0.5, crop_landmarks(i, 1) + 0.5);
        }
        const std::vector<Eigen::Vector2d> hull = convex_hull(std::move(pts));
        if (hull.size() < 3) continue;  // no area
        data::polygon poly;
        for (const Eigen::Vector2d& p : hull) poly.push_back(data::point{static_cast<float>(p.x()), static_cast<float>(p.y())});
        raster.fill(poly);
        const data::pixel_box& b = raster.box();
        const float* cov = raster.coverage();
        for (std::int64_t y = b.y0; y < b.y1; ++y)
            for (std::int64_t x = b.x0; x < b.x1; ++x)
                dst[y * size + x] = data::coverage_raster::snap(std::min(1.0f, dst[y * size + x] + cov[y * size + x]));
    }
    return out;
}

/// faceswap's 'components' mask: the face from the brows to the chin.
inline tensor components_mask(const landmarks& crop_landmarks, std::int64_t size) {
    detail::check_mask_input(crop_landmarks, size, "face::components_mask");
    return hull_mask(crop_landmarks, size, component_groups());
}

/// The landmarks with the brows raised by half their distance to the eye line (faceswap's
/// Extended mask `_adjust_mask_top`, without its rounding to whole pixels).
inline landmarks raise_brows(const landmarks& l) {
    landmarks out = l;
    const Eigen::RowVector2d ml = 0.5 * (l.row(36) + l.row(0)), mr = 0.5 * (l.row(16) + l.row(45));
    const Eigen::RowVector2d ql = 0.5 * (l.row(36) + ml), qr = 0.5 * (l.row(45) + mr);
    const Eigen::RowVector2d bottom_right[5] = {ql, l.row(36), l.row(37), l.row(38), l.row(39)};
    const Eigen::RowVector2d bottom_left[5] = {l.row(42), l.row(43), l.row(44), l.row(45), qr};
    for (int i = 0; i < 5; ++i) {
        out.row(17 + i) = l.row(17 + i) + 0.5 * (l.row(17 + i) - bottom_right[i]);
        out.row(22 + i) = l.row(22 + i) + 0.5 * (l.row(22 + i) - bottom_left[i]);
    }
    return out;
}

/// faceswap's 'extended' mask: components with the brows raised (covers part of the forehead).
inline tensor extended_mask(const landmarks& crop_landmarks, std::int64_t size) {
    detail::check_mask_input(crop_landmarks, size, "face::extended_mask");
    return hull_mask(raise_brows(crop_landmarks), size, component_groups());
}

/// Dilation and feathering of the eye and mouth masks. Defaults: faceswap's training masks.
struct region_mask_options {
    double dilation_percent = 2.5;  // disk radius faceswap_dilation_radius(size, percent); 0: none
    std::int64_t blur_kernel = -1;  // Gaussian ksize (made odd); -1: size / 16 as faceswap; 0: no blur
};

namespace detail {

inline tensor feathered(tensor mask, std::int64_t size, const region_mask_options& o, const char* who) {
    if (!std::isfinite(o.dilation_percent) || o.dilation_percent < 0.0)
        throw value_error(std::string(who) + ": the dilation " + std::to_string(o.dilation_percent) + " % is not finite and >= 0");
    if (o.blur_kernel < -1) throw value_error(std::string(who) + ": the blur kernel " + std::to_string(o.blur_kernel) + " is below -1");
    const double radius = faceswap_dilation_radius(size, o.dilation_percent);
    if (radius > 0.0) mask = dilate(mask, radius);
    std::int64_t k = o.blur_kernel == -1 ? size / 16 : o.blur_kernel;
    if (k > 0) {
        if (k % 2 == 0) ++k;  // faceswap's _get_kernel_tuple
        mask = gaussian_blur(mask, k, 0.0);
    }
    return mask;
}

}  // namespace detail

/// Both eyes: the hull of each eye, dilated and feathered (faceswap's 'eye' landmark mask).
inline tensor eye_mask(const landmarks& crop_landmarks, std::int64_t size, const region_mask_options& o = {}) {
    detail::check_mask_input(crop_landmarks, size, "face::eye_mask");
    const tensor m = hull_mask(crop_landmarks, size, {detail::indices({parts::right_eye}), detail::indices({parts::left_eye})});
    return detail::feathered(m, size, o, "face::eye_mask");
}

/// The mouth: the hull of the outer lips, dilated and feathered (faceswap's 'mouth' landmark mask).
inline tensor mouth_mask(const landmarks& crop_landmarks, std::int64_t size, const region_mask_options& o = {}) {
    detail::check_mask_input(crop_landmarks, size, "face::mouth_mask");
    const tensor m = hull_mask(crop_landmarks, size, {detail::indices({parts::outer_lips})});
    return detail::feathered(m, size, o, "face::mouth_mask");
}

}  // namespace hg::face
