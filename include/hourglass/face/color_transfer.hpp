// Colour matching of a swapped face (SOURCE) to the face it replaces (TARGET) for the convert step:
// match_colors(source, target, mask, mode) on [H, W, C] float CPU images in [0, 1] and an
// [H, W, 1] mask in [0, 1].
//
// Contract: the statistics of both images are taken INSIDE the mask, each pixel weighted by its
// mask value m in [0, 1] (weighted mean E[x] = sum m x / sum m, and so on); the transform they
// define is a per-pixel function of the colour and is applied to the WHOLE source image, so a pixel
// outside the mask is mapped exactly as a pixel of the same colour inside it. Results are clamped
// to [0, 1]. Pixels outside the mask never influence the statistics.
//
//   none  the source, copied.
//   avg   x' = x + (mu_t - mu_s), per RGB channel (faceswap's "avg-color" adjustment).
//   rct   Reinhard, Ashikhmin, Gooch, Shirley, "Color transfer between images", IEEE CG&A 21(5),
//         2001, in CIE L*a*b* (D65; data/color.hpp's exact conversion), per channel:
//             x' = (x - mu_s) * (sigma_t / sigma_s) + mu_t,
//         then L clipped to [0, 100] and a, b to [-127, 127] as DeepFaceLab's
//         reinhard_color_transfer does, back to sRGB and clamped. Where sigma_s < 1e-6 (a flat
//         source channel) the ratio is taken as 1: only the mean moves. DeepFaceLab (and the paper)
//         use l*alpha*beta or OpenCV's L*a*b*; DeepFaceLab computes masked statistics by zeroing
//         the pixels outside a thresholded mask and averaging over the whole image, which biases
//         them towards 0; here they are proper weighted statistics.
//   lct   DeepFaceLab's linear_color_transfer in its default 'pca' mode, in RGB:
//             x' = T (x - mu_s) + mu_t,   T = Ct^{1/2} Cs^{-1/2},
//         with Cs, Ct the weighted 3x3 covariances regularised by eps I (eps = 1e-5, DeepFaceLab's
//         value) and the symmetric square roots built from eigen-decompositions C = V L V^T,
//         C^{+-1/2} = V L^{+-1/2} V^T. Then T Cs T^T = Ct up to the eps terms: the result has the
//         target's covariance (before clamping).
//   hist  per-channel histogram (CDF) matching by exact weighted quantiles: each image's masked
//         values are sorted, equal values merged, and the k-th distinct value v_k gets the
//         mid-point CDF c_k = (W_{<k} + w_k / 2) / W (W the total weight). A colour x maps to
//         x' = F_t^{-1}(F_s(x)), with F_s and F_t^{-1} the piecewise-linear interpolants of (v_k, c_k)
//         and (c_k, v_k), held constant beyond the ends (numpy.interp's rule, which DeepFaceLab's
//         channel_hist_match uses). The result's masked CDF is the target's up to one sample step.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/data/color.hpp"
#include "hourglass/data/transform.hpp"

namespace hg::face {

enum class color_mode { none, avg, rct, lct, hist };

inline std::string_view to_string(color_mode m) {
    switch (m) {
        case color_mode::none: return "none";
        case color_mode::avg: return "avg";
        case color_mode::rct: return "rct";
        case color_mode::lct: return "lct";
        case color_mode::hist: return "hist";
    }
    return "unknown";
}

/// "none", "avg", "rct", "lct" or "hist"; value_error otherwise.
inline color_mode parse_color_mode(std::string_view s) {
    if (s == "none") return color_mode::none;
    if (s == "avg") return color_mode::avg;
    if (s == "rct") return color_mode::rct;
    if (s == "lct") return color_mode::lct;
    if (s == "hist") return color_mode::hist;
    throw value_error("face::parse_color_mode: unknown colour mode '" + std::string(s) +
                      "' (expected none, avg, rct, lct or hist)");
}

namespace color_detail {

/// The regulariser of lct's covariances (DeepFaceLab's eps).
inline constexpr double lct_eps = 1e-5;
/// Below this standard deviation (L*a*b* units) rct keeps the source's spread.
inline constexpr double rct_min_std = 1e-6;

inline void require_finite(const tensor& t, const char* who, const char* what) {
    const float* p = t.data();
    for (std::int64_t i = 0; i < t.numel(); ++i)
        if (!std::isfinite(p[i]))
            throw value_error(std::string(who) + ": the " + what + " has a non-finite value at element " + std::to_string(i));
}

/// Checks a mask [H, W, 1] matching `image`'s H and W, finite, in [0, 1], with a positive sum; returns the sum.
inline double check_mask(const tensor& mask, const tensor& image, const char* who) {
    data::detail::require_image(mask, who, "mask", 1);
    if (mask.shape()[0] != image.shape()[0] || mask.shape()[1] != image.shape()[1])
        throw shape_error(std::string(who) + ": the mask " + mask.shape().str() + " does not cover the image " +
                          image.shape().str());
    const float* m = mask.data();
    double sum = 0.0;
    for (std::int64_t i = 0; i < mask.numel(); ++i) {
        if (!(m[i] >= 0.0f && m[i] <= 1.0f))
            throw value_error(std::string(who) + ": the mask value at pixel " + std::to_string(i) + " is not in [0, 1]");
        sum += static_cast<double>(m[i]);
    }
    if (!(sum > 1e-6)) throw value_error(std::string(who) + ": the mask is empty (its values sum to ~0)");
    return sum;
}

/// Weighted per-channel mean and covariance of `pixels` x `c` values (rows of `x`) with weights m.
struct weighted_stats {
    Eigen::VectorXd mean;
    Eigen::MatrixXd cov;
};

inline weighted_stats stats(const double* x, const float* m, std::int64_t pixels, std::int64_t c, double total) {
    weighted_stats s{Eigen::VectorXd::Zero(c), Eigen::MatrixXd::Zero(c, c)};
    for (std::int64_t p = 0; p < pixels; ++p) {
        const double w = static_cast<double>(m[p]);
        if (w == 0.0) continue;
        for (std::int64_t i = 0; i < c; ++i) s.mean[i] += w * x[p * c + i];
    }
    s.mean /= total;
    // Two passes (centred products), so a large mean does not cancel the spread.
    for (std::int64_t p = 0; p < pixels; ++p) {
        const double w = static_cast<double>(m[p]);
        if (w == 0.0) continue;
        for (std::int64_t i = 0; i < c; ++i)
            for (std::int64_t j = 0; j <= i; ++j)
                s.cov(i, j) += w * (x[p * c + i] - s.mean[i]) * (x[p * c + j] - s.mean[j]);
    }
    s.cov /= total;
    s.cov = s.cov.selfadjointView<Eigen::Lower>();
    return s;
}

inline std::vector<double> to_double(const tensor& t) {
    std::vector<double> v(static_cast<std::size_t>(t.numel()));
    for (std::int64_t i = 0; i < t.numel(); ++i) v[static_cast<std::size_t>(i)] = static_cast<double>(t.data()[i]);
    return v;
}

inline std::vector<double> to_lab(const tensor& rgb) {
    const std::int64_t pixels = rgb.numel() / 3;
    std::vector<double> lab(static_cast<std::size_t>(rgb.numel()));
    const float* p = rgb.data();
    for (std::int64_t i = 0; i < pixels; ++i) {
        const data::color3 v = data::srgb_to_lab(
            data::color3{{static_cast<double>(p[3 * i]), static_cast<double>(p[3 * i + 1]), static_cast<double>(p[3 * i + 2])}});
        for (int k = 0; k < 3; ++k) lab[static_cast<std::size_t>(3 * i + k)] = v.c[k];
    }
    return lab;
}

inline float clamp01(double v) { return static_cast<float>(std::clamp(v, 0.0, 1.0)); }

/// A weighted empirical CDF: distinct values ascending and their mid-point cumulative weights.
class weighted_cdf {
public:
    weighted_cdf(const float* x, const float* m, std::int64_t pixels, std::int64_t c, std::int64_t ch) {
        std::vector<std::pair<float, double>> s;
        s.reserve(static_cast<std::size_t>(pixels));
        for (std::int64_t p = 0; p < pixels; ++p)
            if (m[p] > 0.0f) s.emplace_back(x[p * c + ch], static_cast<double>(m[p]));
        std::sort(s.begin(), s.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        double total = 0.0;
        for (const auto& [v, w] : s) {
            if (!value_.empty() && static_cast<double>(v) == value_.back()) {
                weight_.back() += w;
            } else {
                value_.push_back(static_cast<double>(v));
                weight_.push_back(w);
            }
            total += w;
        }
        mid_.resize(value_.size());
        double before = 0.0;
        for (std::size_t k = 0; k < value_.size(); ++k) {
            mid_[k] = (before + 0.5 * weight_[k]) / total;
            before += weight_[k];
        }
    }
    /// F(x): piecewise linear through (value_k, mid_k), constant beyond the ends.
    double cdf(double x) const { return interp(value_, mid_, x); }
    /// F^{-1}(c): piecewise linear through (mid_k, value_k), constant beyond the ends.
    double quantile(double c) const { return interp(mid_, value_, c); }

private:
    static double interp(const std::vector<double>& xs, const std::vector<double>& ys, double x) {
        if (x <= xs.front()) return ys.front();
        if (x >= xs.back()) return ys.back();
        const std::size_t k = static_cast<std::size_t>(std::upper_bound(xs.begin(), xs.end(), x) - xs.begin());  // xs[k-1] <= x < xs[k]
        const double t = (x - xs[k - 1]) / (xs[k] - xs[k - 1]);
        return ys[k - 1] + t * (ys[k] - ys[k - 1]);
    }

    std::vector<double> value_, weight_, mid_;
};

}  // namespace color_detail

/// The source image with its colours matched to the target's inside the mask (see the file
/// comment for each mode). source and target [H, W, C] of equal shape (C = 3 for rct and lct),
/// mask [H, W, 1] in [0, 1] with a positive sum; all finite. Returns a new [H, W, C] image in [0, 1].
/// shape_error for mismatched shapes, value_error for an empty mask, values outside [0, 1] in the
/// mask or non-finite values.
inline tensor match_colors(const tensor& source, const tensor& target, const tensor& mask, color_mode mode) {
    constexpr const char* who = "face::match_colors";
    data::detail::require_image(source, who, "source", -1);
    data::detail::require_image(target, who, "target", -1);
    if (source.shape() != target.shape())
        throw shape_error(std::string(who) + ": the source " + source.shape().str() + " and the target " +
                          target.shape().str() + " differ in shape");
    const std::int64_t c = source.shape()[2], pixels = source.shape()[0] * source.shape()[1];
    if ((mode == color_mode::rct || mode == color_mode::lct) && c != 3)
        throw shape_error(std::string(who) + ": mode " + std::string(to_string(mode)) + " needs RGB images [H, W, 3], got " +
                          source.shape().str());
    const double total = color_detail::check_mask(mask, source, who);
    color_detail::require_finite(source, who, "source");
    color_detail::require_finite(target, who, "target");
    const float* m = mask.data();

    tensor out = tensor::empty(source.shape());
    float* dst = out.data();
    const float* src = source.data();
    switch (mode) {
        case color_mode::none: std::copy_n(src, source.numel(), dst); break;
        case color_mode::avg: {
            const auto xs = color_detail::to_double(source), xt = color_detail::to_double(target);
            const auto ss = color_detail::stats(xs.data(), m, pixels, c, total);
            const auto st = color_detail::stats(xt.data(), m, pixels, c, total);
            const Eigen::VectorXd shift = st.mean - ss.mean;
            for (std::int64_t p = 0; p < pixels; ++p)
                for (std::int64_t i = 0; i < c; ++i) dst[p * c + i] = color_detail::clamp01(xs[static_cast<std::size_t>(p * c + i)] + shift[i]);
            break;
        }
        case color_mode::rct: {
            const auto ls = color_detail::to_lab(source), lt = color_detail::to_lab(target);
            const auto ss = color_detail::stats(ls.data(), m, pixels, 3, total);
            const auto st = color_detail::stats(lt.data(), m, pixels, 3, total);
            double scale[3];
            for (int i = 0; i < 3; ++i) {
                const double sd_s = std::sqrt(ss.cov(i, i)), sd_t = std::sqrt(st.cov(i, i));
                scale[i] = sd_s < color_detail::rct_min_std ? 1.0 : sd_t / sd_s;
            }
            static constexpr double lo[3] = {0.0, -127.0, -127.0}, hi[3] = {100.0, 127.0, 127.0};
            for (std::int64_t p = 0; p < pixels; ++p) {
                data::color3 lab;
                for (int i = 0; i < 3; ++i)
                    lab.c[i] = std::clamp((ls[static_cast<std::size_t>(3 * p + i)] - ss.mean[i]) * scale[i] + st.mean[i], lo[i], hi[i]);
                const data::color3 rgb = data::lab_to_srgb(lab);
                for (int i = 0; i < 3; ++i) dst[3 * p + i] = color_detail::clamp01(rgb.c[i]);
            }
            break;
        }
        case color_mode::lct: {
            const auto xs = color_detail::to_double(source), xt = color_detail::to_double(target);
            const auto ss = color_detail::stats(xs.data(), m, pixels, 3, total);
            const auto st = color_detail::stats(xt.data(), m, pixels, 3, total);
            const Eigen::Matrix3d eps = color_detail::lct_eps * Eigen::Matrix3d::Identity();
            Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> es(Eigen::Matrix3d(ss.cov) + eps), et(Eigen::Matrix3d(st.cov) + eps);
            // Eigenvalues are >= eps in exact arithmetic; the floor only guards rounding.
            const Eigen::Vector3d ls = es.eigenvalues().cwiseMax(color_detail::lct_eps);
            const Eigen::Vector3d lt = et.eigenvalues().cwiseMax(color_detail::lct_eps);
            const Eigen::Matrix3d cs_inv_sqrt = es.eigenvectors() * ls.cwiseSqrt().cwiseInverse().asDiagonal() * es.eigenvectors().transpose();
            const Eigen::Matrix3d ct_sqrt = et.eigenvectors() * lt.cwiseSqrt().asDiagonal() * et.eigenvectors().transpose();
            const Eigen::Matrix3d t = ct_sqrt * cs_inv_sqrt;
            const Eigen::Vector3d mu_s = ss.mean, mu_t = st.mean;
            for (std::int64_t p = 0; p < pixels; ++p) {
                const Eigen::Vector3d x(xs[static_cast<std::size_t>(3 * p)], xs[static_cast<std::size_t>(3 * p + 1)],
                                        xs[static_cast<std::size_t>(3 * p + 2)]);
                const Eigen::Vector3d y = t * (x - mu_s) + mu_t;
                for (int i = 0; i < 3; ++i) dst[3 * p + i] = color_detail::clamp01(y[i]);
            }
            break;
        }
        case color_mode::hist: {
            for (std::int64_t ch = 0; ch < c; ++ch) {
                const color_detail::weighted_cdf fs(src, m, pixels, c, ch), ft(target.data(), m, pixels, c, ch);
                for (std::int64_t p = 0; p < pixels; ++p)
                    dst[p * c + ch] = color_detail::clamp01(ft.quantile(fs.cdf(static_cast<double>(src[p * c + ch]))));
            }
            break;
        }
        default: throw value_error(std::string(who) + ": invalid colour mode value");
    }
    return out;
}

}  // namespace hg::face
