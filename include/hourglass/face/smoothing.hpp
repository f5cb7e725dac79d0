// Temporal smoothing of one face's landmarks along a video, and a jitter measure.
//
// smooth_at fits, for every landmark coordinate separately, a polynomial of degree p (default 2)
// in time to the samples of a window of frames by least squares and returns its value at frame t:
//     minimise sum_k (y_k - sum_{j<=p} c_j u_k^j)^2,  u_k = (f_k - t) / h,  h = max_k |f_k - t|,
//     smoothed y(t) = c_0.
// With equally spaced frames and a window centred on t this is the Savitzky-Golay filter
// (A. Savitzky, M. J. E. Golay, Analytical Chemistry 36(8), 1964); because the fit uses the real
// frame numbers f_k it also handles windows cut short at the ends of a track (asymmetric windows)
// and frames where the face was missed (gaps). A polynomial motion of degree <= p passes through
// unchanged (up to rounding). The degree is lowered to (number of distinct frames - 1) when the
// window holds fewer frames than p + 1. Time is scaled by h so the system stays well conditioned.
//
// smooth_track applies smooth_at to a whole track with the window |f - t| <= half_window.
// jitter(track) is the mean over consecutive frame pairs and over the 68 landmarks of the
// Euclidean displacement ||l_{k+1,i} - l_{k,i}|| in pixels.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <Eigen/QR>

#include "hourglass/core/error.hpp"
#include "hourglass/face/landmarks.hpp"

namespace hg::face {

/// The least-squares polynomial (degree `order`) through the window's landmarks, evaluated at frame t.
/// window[k] are the landmarks at frame frame_indices[k] (any order; t need not be among them).
/// value_error for empty or mismatched spans, repeated frames, non-finite landmarks or order outside [0, 6].
inline landmarks smooth_at(std::span<const landmarks> window, std::span<const std::int64_t> frame_indices, std::int64_t t,
                           int order = 2) {
    if (window.empty()) throw value_error("face::smooth_at: the window is empty");
    if (window.size() != frame_indices.size())
        throw value_error("face::smooth_at: " + std::to_string(window.size()) + " landmark sets but " +
                          std::to_string(frame_indices.size()) + " frame indices");
    if (order < 0 || order > 6) throw value_error("face::smooth_at: the order " + std::to_string(order) + " is outside [0, 6]");
    const std::set<std::int64_t> distinct(frame_indices.begin(), frame_indices.end());
    if (distinct.size() != frame_indices.size()) throw value_error("face::smooth_at: a frame index appears twice in the window");
    for (std::size_t k = 0; k < window.size(); ++k)
        if (!window[k].allFinite())
            throw value_error("face::smooth_at: the landmarks of frame " + std::to_string(frame_indices[k]) + " are not all finite");

    const Eigen::Index n = static_cast<Eigen::Index>(window.size());
    const int degree = std::min<int>(order, static_cast<int>(n) - 1);
    double h = 0.0;
    for (const std::int64_t f : frame_indices) h = std::max(h, std::abs(static_cast<double>(f - t)));
    if (h == 0.0) h = 1.0;  // a single frame at t
    Eigen::MatrixXd v(n, degree + 1);
    Eigen::MatrixXd y(n, 2 * landmark_count);
    for (Eigen::Index k = 0; k < n; ++k) {
        const double u = static_cast<double>(frame_indices[static_cast<std::size_t>(k)] - t) / h;
        double p = 1.0;
        for (int j = 0; j <= degree; ++j, p *= u) v(k, j) = p;
        y.row(k) = Eigen::Map<const Eigen::RowVectorXd>(window[static_cast<std::size_t>(k)].data(), 2 * landmark_count);
    }
    const Eigen::MatrixXd c = v.colPivHouseholderQr().solve(y);
    landmarks out;
    Eigen::Map<Eigen::RowVectorXd>(out.data(), 2 * landmark_count) = c.row(0);
    return out;
}

/// smooth_at for every frame of a track, each with the frames within `half_window` of it.
/// frames must be strictly increasing; value_error otherwise, or for half_window < 0.
inline std::vector<landmarks> smooth_track(std::span<const landmarks> track, std::span<const std::int64_t> frames,
                                           std::int64_t half_window, int order = 2) {
    if (track.size() != frames.size())
        throw value_error("face::smooth_track: " + std::to_string(track.size()) + " landmark sets but " +
                          std::to_string(frames.size()) + " frame indices");
    if (half_window < 0) throw value_error("face::smooth_track: the half window " + std::to_string(half_window) + " is negative");
    for (std::size_t k = 1; k < frames.size(); ++k)
        if (frames[k] <= frames[k - 1]) throw value_error("face::smooth_track: the frame indices are not strictly increasing");
    std::vector<landmarks> out;
    out.reserve(track.size());
    std::size_t first = 0, last = 0;  // window [first, last)
    for (std::size_t k = 0; k < track.size(); ++k) {
        while (frames[first] < frames[k] - half_window) ++first;
        while (last < frames.size() && frames[last] <= frames[k] + half_window) ++last;
        out.push_back(smooth_at(track.subspan(first, last - first), frames.subspan(first, last - first), frames[k], order));
    }
    return out;
}

/// Mean frame-to-frame landmark displacement in pixels (0 for fewer than two frames).
inline double jitter(std::span<const landmarks> track) {
    if (track.size() < 2) return 0.0;
    double sum = 0.0;
    for (std::size_t k = 1; k < track.size(); ++k) sum += (track[k] - track[k - 1]).rowwise().norm().sum();
    return sum / (static_cast<double>(track.size() - 1) * landmark_count);
}

}  // namespace hg::face
