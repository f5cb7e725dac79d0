// The SSIM family of reconstruction losses (contract in losses/loss.hpp), for images in [0, 1]:
//   ssim     1 - SSIM            (11x11 Gaussian window, sigma 1.5, k1 0.01, k2 0.03, per channel)
//   dssim    (1 - SSIM) / 2
//   ms_ssim  1 - MS-SSIM         (5 scales, tf.image.ssim_multiscale / faceswap MSSIMLoss conventions)
// SSIM is the mean of the SSIM map over positions, channels and batch; ssim and dssim take the form
// ('valid': positions where the window fits, skimage's number; 'same': a same-size map with
// reflect padding). MS-SSIM per image and channel is
//   prod_{s=1..4} relu(cs_s)^p_s * relu(ssim_5)^p_5,  p = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333),
// with 'valid' statistics at each scale, 2x2 average pooling between scales (odd sizes repeat their
// last row/column), and the window shrunk to min(11, min(H, W) / 16) taps (sigma 1.5) so that it
// fits the smallest scale; it needs images of at least 32x32 (a window of at least 2 taps).
// Errors: shape_error for mismatched or too small images, value_error for values outside [0, 1]
// (the check syncs with the GPU; turn it off with check_range = false) and a non-finite backward
// weight, device_error for a tensor on another device.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "hourglass/losses/loss.hpp"
#include "hourglass/ops/elementwise.hpp"
#include "hourglass/ops/pool.hpp"
#include "hourglass/ops/ssim.hpp"

namespace hg::losses {

namespace detail {

/// 1 - SSIM (times `scale`) with the default window; shared by ssim and dssim.
class single_scale_ssim {
public:
    single_scale_ssim(std::string name, double scale, ops::ssim_form form, bool check_range)
        : name_(std::move(name)), scale_(scale), check_range_(check_range) {
        cfg_.form = form;
    }

    std::string name() const { return name_; }
    ops::ssim_form form() const { return cfg_.form; }
    bool checks_range() const { return check_range_; }

    template <class B>
    void forward(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target, const tensor_of<B>& value) const {
        check(be, pred, target);
        require_value(be, value);
        const shape& s = pred.shape();
        auto stats = be.empty(shape{1, s.n(), s.c(), 2});
        ops::ssim_stats(be, cfg_, pred, target, stats.view(shape{s.n(), s.c(), 2}));
        ops::ssim_combine(be, stats, {1.0}, false, scale_, value, 0.0, tensor_of<B>());
    }

    template <class B>
    void backward(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target, double weight,
                  const tensor_of<B>& dpred) const {
        check(be, pred, target);
        ops::detail::check_arg<B>(dpred, pred.shape(), name_.c_str(), "dpred");
        require(std::isfinite(weight), name_, "the backward weight must be finite, got " + std::to_string(weight));
        const shape& s = pred.shape();
        // d/dpred of -scale * mean_{n,c} mean_q ssim: the same coefficient for every image and channel.
        const double a = -weight * scale_ / static_cast<double>(s.n() * s.c());
        ops::ssim_backward(be, cfg_, pred, target, tensor_of<B>(), a, 0.0, dpred);
    }

private:
    template <class B>
    void check(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target) const {
        check_pair<B>(name_, pred, target);
        const shape& s = pred.shape();
        if (s.h() < cfg_.window || s.w() < cfg_.window)
            throw shape_error(name_ + ": the images " + s.str() + " are smaller than the " +
                              std::to_string(cfg_.window) + "x" + std::to_string(cfg_.window) + " window");
        if (check_range_) {
            require_unit_range(be, pred, name_, "pred");
            require_unit_range(be, target, name_, "target");
        }
    }
    template <class B>
    void require_value(const B&, const tensor_of<B>& value) const {
        ops::detail::check_arg<B>(value, shape{1}, name_.c_str(), "value");
    }

    std::string name_;
    double scale_;
    bool check_range_;
    ops::ssim_config cfg_;
};

}  // namespace detail

/// 1 - SSIM.
class ssim : public detail::single_scale_ssim {
public:
    explicit ssim(ops::ssim_form form = ops::ssim_form::valid, bool check_range = true)
        : single_scale_ssim("ssim", 1.0, form, check_range) {}
};

/// (1 - SSIM) / 2, the structural dissimilarity.
class dssim : public detail::single_scale_ssim {
public:
    explicit dssim(ops::ssim_form form = ops::ssim_form::valid, bool check_range = true)
        : single_scale_ssim("dssim", 0.5, form, check_range) {}
};

/// 1 - MS-SSIM over 5 scales.
class ms_ssim {
public:
    static constexpr int scales = 5;
    static constexpr std::array<double, scales> powers{0.0448, 0.2856, 0.3001, 0.2363, 0.1333};
    /// Smallest image side: the window, min(11, side / 16), must have at least 2 taps (with one tap
    /// every contrast-structure term would be exactly 1).
    static constexpr std::int64_t min_side = 32;

    explicit ms_ssim(bool check_range = true) : check_range_(check_range) {}

    std::string name() const { return "ms_ssim"; }
    bool checks_range() const { return check_range_; }

    /// The window (taps per axis) used for images of shape s.
    static int window_for(const shape& s) {
        return static_cast<int>(std::min<std::int64_t>(11, std::min(s.h(), s.w()) / 16));
    }

    template <class B>
    void forward(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target, const tensor_of<B>& value) const {
        check(be, pred, target);
        ops::detail::check_arg<B>(value, shape{1}, "ms_ssim", "value");
        const auto p = pyramid(be, pred, target);
        const auto stats = scale_stats(be, p);
        ops::ssim_combine(be, stats, power_vector(), true, 1.0, value, 0.0, tensor_of<B>());
    }

    template <class B>
    void backward(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target, double weight,
                  const tensor_of<B>& dpred) const {
        check(be, pred, target);
        ops::detail::check_arg<B>(dpred, pred.shape(), "ms_ssim", "dpred");
        detail::require(std::isfinite(weight), "ms_ssim",
                        "the backward weight must be finite, got " + std::to_string(weight));
        const auto p = pyramid(be, pred, target);
        const auto stats = scale_stats(be, p);
        // coef[s] = weight * d(1 - mean prod)/d stats[s]; the value is not needed here.
        auto coef = be.empty(stats.shape());
        auto unused = be.empty(shape{1});
        ops::ssim_combine(be, stats, power_vector(), true, 1.0, unused, weight, coef);
        const shape& s = pred.shape();
        const std::int64_t per_scale = s.n() * s.c() * 2;
        const ops::ssim_config cfg = config(s);
        // From the coarsest scale down: dx_s = G^T-chain of scale s plus the pooling transpose of dx_{s+1}.
        tensor_of<B> upper;
        for (int k = scales - 1; k >= 0; --k) {
            const auto& x = p.x[static_cast<std::size_t>(k)];
            const auto& y = p.y[static_cast<std::size_t>(k)];
            const tensor_of<B> dx = k == 0 ? dpred : be.empty(x.shape());
            if (k == scales - 1)
                ops::fill(be, dx, typename B::scalar(0));
            else
                ops::avg_pool2_backward(be, upper, dx, k == 0);
            ops::ssim_backward(be, cfg, x, y, coef.slice(k * per_scale, shape{s.n(), s.c(), 2}), 0.0, 0.0, dx);
            upper = dx;
        }
    }

private:
    template <class B>
    struct images {
        std::vector<tensor_of<B>> x, y;
    };

    static std::vector<double> power_vector() { return std::vector<double>(powers.begin(), powers.end()); }

    static ops::ssim_config config(const shape& s) {
        ops::ssim_config cfg;
        cfg.window = window_for(s);
        return cfg;
    }

    template <class B>
    void check(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target) const {
        detail::check_pair<B>("ms_ssim", pred, target);
        const shape& s = pred.shape();
        if (s.h() < min_side || s.w() < min_side)
            throw shape_error("ms_ssim: the images " + s.str() + " are too small for 5 scales: each side needs at least " +
                              std::to_string(min_side) + " pixels (the window, min(11, side / 16), needs 2 taps)");
        if (check_range_) {
            detail::require_unit_range(be, pred, "ms_ssim", "pred");
            detail::require_unit_range(be, target, "ms_ssim", "target");
        }
    }

    template <class B>
    images<B> pyramid(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target) const {
        images<B> p;
        p.x.push_back(pred);
        p.y.push_back(target);
        for (int k = 1; k < scales; ++k) {
            const shape down = ops::detail::pool2_shape(p.x.back().shape());
            auto x = be.empty(down), y = be.empty(down);
            ops::avg_pool2(be, p.x.back(), x);
            ops::avg_pool2(be, p.y.back(), y);
            p.x.push_back(x);
            p.y.push_back(y);
        }
        return p;
    }

    /// [scales, N, C, 2]: per scale, image and channel, the mean SSIM and mean cs.
    template <class B>
    tensor_of<B> scale_stats(const B& be, const images<B>& p) const {
        const shape& s = p.x[0].shape();
        const std::int64_t per_scale = s.n() * s.c() * 2;
        auto stats = be.empty(shape{scales, s.n(), s.c(), 2});
        const ops::ssim_config cfg = config(s);
        for (int k = 0; k < scales; ++k)
            ops::ssim_stats(be, cfg, p.x[static_cast<std::size_t>(k)], p.y[static_cast<std::size_t>(k)],
                            stats.slice(k * per_scale, shape{s.n(), s.c(), 2}));
        return stats;
    }

    bool check_range_;
};

}  // namespace hg::losses
