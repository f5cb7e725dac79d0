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
//
// Region: with color_region::whole (the default) every source pixel is mapped; with
// color_region::mask_box only the pixels of the bounding box of the mask's non-zero pixels are,
// and the others are copied from the source unchanged. Inside that box both give the same values
// bit for bit (the statistics never look outside it); mask_box is what a paste through the mask
// needs, and its cost follows the face instead of the region around it.
//
// Precision: statistics are accumulated in double. rct converts to and from L*a*b* in float with
// the exact formulas of data/color.hpp (std::pow and std::cbrt in float: at most 8.4e-5 L*a*b*
// units from the double conversion over 2 million random colours, below the 1e-4 the tests hold
// rct's statistics to), about twice as fast as double.
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

/// Which source pixels match_colors maps (see the file comment).
enum class color_region { whole, mask_box };

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

template <class T>
weighted_stats stats(const T* x, const float* m, std::int64_t pixels, std::int64_t c, double total) {
    weighted_stats s{Eigen::VectorXd::Zero(c), Eigen::MatrixXd::Zero(c, c)};
    for (std::int64_t p = 0; p < pixels; ++p) {
        const double w = static_cast<double>(m[p]);
        if (w == 0.0) continue;
        for (std::int64_t i = 0; i < c; ++i) s.mean[i] += w * static_cast<double>(x[p * c + i]);
    }
    s.mean /= total;
    // Two passes (centred products), so a large mean does not cancel the spread.
    for (std::int64_t p = 0; p < pixels; ++p) {
        const double w = static_cast<double>(m[p]);
        if (w == 0.0) continue;
        for (std::int64_t i = 0; i < c; ++i)
            for (std::int64_t j = 0; j <= i; ++j)
                s.cov(i, j) += w * (static_cast<double>(x[p * c + i]) - s.mean[i]) * (static_cast<double>(x[p * c + j]) - s.mean[j]);
    }
    s.cov /= total;
    s.cov = s.cov.selfadjointView<Eigen::Lower>();
    return s;
}

/// sRGB in [0, 1] to L*a*b* (D65), in float: data::srgb_to_lab's formulas term by term.
inline void srgb_to_lab_f(const float* rgb, float* lab) {
    namespace dc = data::color_detail;
    float lin[3];
    for (int i = 0; i < 3; ++i)
        lin[i] = rgb[i] <= 0.04045f ? rgb[i] * (1.0f / 12.92f) : std::pow((rgb[i] + 0.055f) * (1.0f / 1.055f), 2.4f);
    float f[3];
    for (int r = 0; r < 3; ++r) {
        const float t = (static_cast<float>(dc::rgb_to_xyz[r][0]) * lin[0] + static_cast<float>(dc::rgb_to_xyz[r][1]) * lin[1] +
                         static_cast<float>(dc::rgb_to_xyz[r][2]) * lin[2]) *
                        static_cast<float>(1.0 / dc::white[r]);
        f[r] = t > static_cast<float>(dc::delta3) ? std::cbrt(t) : t * static_cast<float>(dc::slope) + static_cast<float>(4.0 / 29.0);
    }
    lab[0] = 116.0f * f[1] - 16.0f;
    lab[1] = 500.0f * (f[0] - f[1]);
    lab[2] = 200.0f * (f[1] - f[2]);
}

/// L*a*b* to sRGB, in float (data::lab_to_srgb's formulas), clamped to [0, 1].
inline void lab_to_srgb_f(const float* lab, float* rgb) {
    namespace dc = data::color_detail;
    const float fy = (lab[0] + 16.0f) * (1.0f / 116.0f);
    const float f[3] = {fy + lab[1] * (1.0f / 500.0f), fy, fy - lab[2] * (1.0f / 200.0f)};
    float xyz[3];
    for (int i = 0; i < 3; ++i) {
        const float t = f[i] > static_cast<float>(dc::delta) ? f[i] * f[i] * f[i]
                                                            : (f[i] - static_cast<float>(4.0 / 29.0)) * static_cast<float>(1.0 / dc::slope);
        xyz[i] = t * static_cast<float>(dc::white[i]);
    }
    for (int i = 0; i < 3; ++i) {
        const float lin = static_cast<float>(dc::xyz_to_rgb.m[i][0]) * xyz[0] + static_cast<float>(dc::xyz_to_rgb.m[i][1]) * xyz[1] +
                          static_cast<float>(dc::xyz_to_rgb.m[i][2]) * xyz[2];
        const float v = lin <= 0.0031308f ? lin * 12.92f : 1.055f * std::pow(lin, 1.0f / 2.4f) - 0.055f;
        rgb[i] = std::clamp(v, 0.0f, 1.0f);
    }
}

/// The bounding box [y0, y1) x [x0, x1) of the mask's non-zero pixels (the mask is not empty).
struct pixel_box {
    std::int64_t y0 = 0, y1 = 0, x0 = 0, x1 = 0;
    std::int64_t height() const { return y1 - y0; }
    std::int64_t width() const { return x1 - x0; }
};

inline pixel_box mask_bounds(const tensor& mask) {
    const std::int64_t h = mask.shape()[0], w = mask.shape()[1];
    pixel_box b{h, 0, w, 0};
    const float* m = mask.data();
    for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x)
            if (m[y * w + x] > 0.0f) {
                b.y0 = std::min(b.y0, y);
                b.y1 = std::max(b.y1, y + 1);
                b.x0 = std::min(b.x0, x);
                b.x1 = std::max(b.x1, x + 1);
            }
    return b;
}

/// The box's pixels of an [H, W, C] image, as a new [h, w, C] image.
inline tensor crop(const tensor& t, const pixel_box& b) {
    const std::int64_t w = t.shape()[1], c = t.shape()[2];
    if (b.y0 == 0 && b.x0 == 0 && b.y1 == t.shape()[0] && b.x1 == w) return t;
    tensor out = tensor::empty(shape{b.height(), b.width(), c});
    for (std::int64_t y = 0; y < b.height(); ++y)
        std::copy_n(t.data() + ((b.y0 + y) * w + b.x0) * c, b.width() * c, out.data() + y * b.width() * c);
    return out;
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
/// comment for each mode and for `region`). source and target [H, W, C] of equal shape (C = 3 for
/// rct and lct), mask [H, W, 1] in [0, 1] with a positive sum; all finite. Returns a new [H, W, C]
/// image in [0, 1]. shape_error for mismatched shapes, value_error for an empty mask, values outside
/// [0, 1] in the mask or non-finite values.
inline tensor match_colors(const tensor& source, const tensor& target, const tensor& mask, color_mode mode,
                           color_region region = color_region::whole) {
    constexpr const char* who = "face::match_colors";
    data::detail::require_image(source, who, "source", -1);
    data::detail::require_image(target, who, "target", -1);
    if (source.shape() != target.shape())
        throw shape_error(std::string(who) + ": the source " + source.shape().str() + " and the target " +
                          target.shape().str() + " differ in shape");
    const std::int64_t c = source.shape()[2];
    if ((mode == color_mode::rct || mode == color_mode::lct) && c != 3)
        throw shape_error(std::string(who) + ": mode " + std::string(to_string(mode)) + " needs RGB images [H, W, 3], got " +
                          source.shape().str());
    const double total = color_detail::check_mask(mask, source, who);
    color_detail::require_finite(source, who, "source");
    color_detail::require_finite(target, who, "target");
    if (mode == color_mode::none) return source.clone();

    // Statistics from the mask's bounding box (every pixel with weight > 0 is in it, in the same
    // order, so the sums are those over the whole image); the transform is applied to `in`.
    const color_detail::pixel_box box = color_detail::mask_bounds(mask);
    const tensor src_box = color_detail::crop(source, box), tgt_box = color_detail::crop(target, box), m_box = color_detail::crop(mask, box);
    const std::int64_t box_pixels = box.height() * box.width();
    const float* m = m_box.data();
    const bool boxed = region == color_region::mask_box;
    const tensor& in = boxed ? src_box : source;
    const std::int64_t pixels = in.shape()[0] * in.shape()[1];
    tensor mapped = tensor::empty(in.shape());
    float* dst = mapped.data();
    const float* src = in.data();
    switch (mode) {
        case color_mode::avg: {
            const auto ss = color_detail::stats(src_box.data(), m, box_pixels, c, total);
            const auto st = color_detail::stats(tgt_box.data(), m, box_pixels, c, total);
            const Eigen::VectorXd shift = st.mean - ss.mean;
            for (std::int64_t p = 0; p < pixels; ++p)
                for (std::int64_t i = 0; i < c; ++i) dst[p * c + i] = color_detail::clamp01(static_cast<double>(src[p * c + i]) + shift[i]);
            break;
        }
        case color_mode::rct: {
            // L*a*b* of the source over the box (reused below when only the box is mapped), of the
            // target only where the mask is non-zero (nothing else is looked at).
            std::vector<float> ls(static_cast<std::size_t>(box_pixels * 3)), lt(static_cast<std::size_t>(box_pixels * 3), 0.0f);
            for (std::int64_t p = 0; p < box_pixels; ++p) {
                color_detail::srgb_to_lab_f(src_box.data() + 3 * p, ls.data() + 3 * p);
                if (m[p] > 0.0f) color_detail::srgb_to_lab_f(tgt_box.data() + 3 * p, lt.data() + 3 * p);
            }
            const auto ss = color_detail::stats(ls.data(), m, box_pixels, 3, total);
            const auto st = color_detail::stats(lt.data(), m, box_pixels, 3, total);
            float scale[3], shift[3];
            for (int i = 0; i < 3; ++i) {
                const double sd_s = std::sqrt(ss.cov(i, i)), sd_t = std::sqrt(st.cov(i, i));
                const double k = sd_s < color_detail::rct_min_std ? 1.0 : sd_t / sd_s;
                scale[i] = static_cast<float>(k);
                shift[i] = static_cast<float>(st.mean[i] - k * ss.mean[i]);  // x' = k x + (mu_t - k mu_s)
            }
            static constexpr float lo[3] = {0.0f, -127.0f, -127.0f}, hi[3] = {100.0f, 127.0f, 127.0f};
            for (std::int64_t p = 0; p < pixels; ++p) {
                float lab[3];
                if (boxed)
                    std::copy_n(ls.data() + 3 * p, 3, lab);
                else
                    color_detail::srgb_to_lab_f(src + 3 * p, lab);
                for (int i = 0; i < 3; ++i) lab[i] = std::clamp(lab[i] * scale[i] + shift[i], lo[i], hi[i]);
                color_detail::lab_to_srgb_f(lab, dst + 3 * p);
            }
            break;
        }
        case color_mode::lct: {
            const auto ss = color_detail::stats(src_box.data(), m, box_pixels, 3, total);
            const auto st = color_detail::stats(tgt_box.data(), m, box_pixels, 3, total);
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
                const Eigen::Vector3d x(src[3 * p], src[3 * p + 1], src[3 * p + 2]);
                const Eigen::Vector3d y = t * (x - mu_s) + mu_t;
                for (int i = 0; i < 3; ++i) dst[3 * p + i] = color_detail::clamp01(y[i]);
            }
            break;
        }
        case color_mode::hist: {
            for (std::int64_t ch = 0; ch < c; ++ch) {
                const color_detail::weighted_cdf fs(src_box.data(), m, box_pixels, c, ch), ft(tgt_box.data(), m, box_pixels, c, ch);
                for (std::int64_t p = 0; p < pixels; ++p)
                    dst[p * c + ch] = color_detail::clamp01(ft.quantile(fs.cdf(static_cast<double>(src[p * c + ch]))));
            }
            break;
        }
        default: throw value_error(std::string(who) + ": invalid colour mode value");
    }
    if (!boxed) return mapped;
    // Only the box was mapped: put it into a copy of the source.
    tensor out = source.clone();
    const std::int64_t w = source.shape()[1];
    for (std::int64_t y = 0; y < box.height(); ++y)
        std::copy_n(dst + y * box.width() * c, box.width() * c, out.data() + ((box.y0 + y) * w + box.x0) * c);
    return out;
}

}  // namespace hg::face
