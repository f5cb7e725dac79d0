// Training-time augmentation of one face on the CPU, with faceswap's defaults
// (lib/training/augmentation.py and the order of lib/training/generator.py):
//   1. colour jitter in L*a*b* (lightness +-30 %, a and b +-8 %) of the image only (color.hpp);
//   2. random transform: rotation +-10 degrees, zoom +-5 %, shift +-5 % of the size, bilinear,
//      replicated border; then a horizontal flip with probability 0.5 (transform.hpp); the image
//      and its masks get the same geometry -> the TARGET and the output masks;
//   3. random warp of the target (warp.hpp): 5 x 5 control grid, noise sigma 5/256 of the size
//      -> the INPUT. The masks are not warped.
// Here the warp is composed with step 2 and the input is sampled once from the colour-jittered
// source at transform(x + displacement(x)); faceswap resamples the target a second time (an extra
// bilinear blur on the input, and black where the warp leaves the image).
//
// Shapes: the image is [H, W, 3], each mask [H, W, Cm] (any Cm >= 1: one mask per tensor, or
// several stacked as channels), float CPU tensors with values in [0, 1]; the outputs have the same
// shapes. H and W must be at least 4.
//
// Randomness: the parameters of sample `index` are a pure function of (seed, index) through the
// counter-based Philox generator (stream = index), read at fixed positions, so a sample is the same
// whichever thread augments it, in whatever order, and disabling one augmentation does not change
// the draws of the others.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/rng.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/data/color.hpp"
#include "hourglass/data/transform.hpp"
#include "hourglass/data/warp.hpp"

namespace hg::data {

/// The augmentation settings; the defaults are faceswap's (config/train.ini defaults).
struct augment_config {
    float rotation_range = 10.0f;         ///< degrees, uniform in [-r, r] (faceswap rotation_range 10)
    float zoom_range = 0.05f;             ///< scale uniform in [1 - z, 1 + z] (zoom_amount 5 %)
    float shift_range = 0.05f;            ///< shift uniform in [-s, s] times the width/height (shift_range 5 %)
    float flip_chance = 0.5f;             ///< probability of a horizontal flip (random_flip 50 %)
    float color_lightness = 0.30f;        ///< L* amount range (color_lightness 30 %)
    float color_ab = 0.08f;               ///< a* and b* amount range (color_ab 8 %)
    float warp_sigma = 5.0f / 256.0f;     ///< control-point noise sigma, a fraction of the size (5/256)

    /// Throws value_error naming the setting when a value is non-finite or out of range.
    void validate(const std::string& who = "data::augment_config") const {
        auto check = [&](float v, const char* name, float lo, float hi) {
            if (!std::isfinite(v) || v < lo || v > hi)
                throw value_error(who + ": " + name + " = " + std::to_string(v) + " is outside [" + std::to_string(lo) +
                                  ", " + std::to_string(hi) + "]");
        };
        check(rotation_range, "rotation_range (degrees)", 0.0f, 180.0f);
        check(zoom_range, "zoom_range", 0.0f, 0.9f);
        check(shift_range, "shift_range", 0.0f, 1.0f);
        check(flip_chance, "flip_chance", 0.0f, 1.0f);
        check(color_lightness, "color_lightness", 0.0f, 1.0f);
        check(color_ab, "color_ab", 0.0f, 1.0f);
        check(warp_sigma, "warp_sigma", 0.0f, 0.5f);
    }
};

/// Everything drawn for one sample.
struct augment_params {
    transform_params transform;
    float lab[3] = {0.0f, 0.0f, 0.0f};  ///< L*, a*, b* amounts (lab_shift)
    bool color = false;                  ///< whether the colour jitter runs
    warp_params warp;                    ///< control-point displacements in pixels
    bool warped = false;                 ///< whether the input is warped
};

/// Positions in the Philox stream of a sample (fixed, so each draw is independent of the others).
namespace augment_stream {
inline constexpr std::uint64_t rotation = 0, zoom = 1, shift_x = 2, shift_y = 3, flip = 4, lab = 5;  // lab: 5, 6, 7
inline constexpr std::uint64_t warp = 16;  // 2 * 25 normals, 4 words per pair of normals
}  // namespace augment_stream

/// Two independent standard normal numbers from 4 words of `gen` (Box-Muller on 53-bit uniforms).
inline void normal_pair(rng& gen, double& z0, double& z1) {
    constexpr double two_pi = 6.28318530717958647692;
    const double u1 = 1.0 - gen.uniform_double();  // (0, 1]: the log is finite
    const double u2 = gen.uniform_double();
    const double r = std::sqrt(-2.0 * std::log(u1));
    z0 = r * std::cos(two_pi * u2);
    z1 = r * std::sin(two_pi * u2);
}

/// The parameters of sample `index` for an h x w image.
inline augment_params draw_augment_params(const augment_config& cfg, std::int64_t h, std::int64_t w,
                                          std::uint64_t seed, std::uint64_t index) {
    cfg.validate("data::draw_augment_params");
    rng gen(seed, index);
    augment_params p;
    auto uniform_at = [&](std::uint64_t pos, float lo, float hi) {
        gen.seek(pos);
        return gen.uniform(lo, hi);
    };
    p.transform.rotation_deg = uniform_at(augment_stream::rotation, -cfg.rotation_range, cfg.rotation_range);
    p.transform.scale = uniform_at(augment_stream::zoom, 1.0f - cfg.zoom_range, 1.0f + cfg.zoom_range);
    p.transform.shift_x = uniform_at(augment_stream::shift_x, -cfg.shift_range, cfg.shift_range) * static_cast<float>(w);
    p.transform.shift_y = uniform_at(augment_stream::shift_y, -cfg.shift_range, cfg.shift_range) * static_cast<float>(h);
    p.transform.flip = uniform_at(augment_stream::flip, 0.0f, 1.0f) < cfg.flip_chance;
    p.lab[0] = uniform_at(augment_stream::lab, -cfg.color_lightness, cfg.color_lightness);
    p.lab[1] = uniform_at(augment_stream::lab + 1, -cfg.color_ab, cfg.color_ab);
    p.lab[2] = uniform_at(augment_stream::lab + 2, -cfg.color_ab, cfg.color_ab);
    p.color = cfg.color_lightness > 0.0f || cfg.color_ab > 0.0f;
    p.warped = cfg.warp_sigma > 0.0f;
    if (p.warped) {
        gen.seek(augment_stream::warp);
        const double sx = static_cast<double>(cfg.warp_sigma) * static_cast<double>(w);
        const double sy = static_cast<double>(cfg.warp_sigma) * static_cast<double>(h);
        for (int i = 0; i < warp_grid; ++i)
            for (int j = 0; j < warp_grid; ++j) {
                double z0, z1;
                normal_pair(gen, z0, z1);
                p.warp.dx[i][j] = static_cast<float>(z0 * sx);
                p.warp.dy[i][j] = static_cast<float>(z1 * sy);
            }
    }
    return p;
}

/// The parameters p at strength s in [0, 1]: rotation, zoom (scale - 1), shift, the L*a*b* amounts
/// and the warp displacements multiplied by s; the flip stays. s = 1 returns p, s = 0 the identity
/// geometry (flip aside), no colour change and no warp. Scaling the drawn values (rather than the
/// ranges before drawing) keeps each sample's draws the same at every strength, so a ramp only
/// makes the same augmentation milder. value_error for s outside [0, 1].
inline augment_params scale_augment_params(augment_params p, double s) {
    if (!(s >= 0.0 && s <= 1.0)) throw value_error("data::scale_augment_params: strength " + std::to_string(s) + " is outside [0, 1]");
    if (s == 1.0) return p;
    const auto f = static_cast<float>(s);
    p.transform.rotation_deg *= f;
    p.transform.scale = 1.0f + (p.transform.scale - 1.0f) * f;
    p.transform.shift_x *= f;
    p.transform.shift_y *= f;
    for (float& v : p.lab) v *= f;
    for (auto& row : p.warp.dx)
        for (float& v : row) v *= f;
    for (auto& row : p.warp.dy)
        for (float& v : row) v *= f;
    p.color = p.color && f > 0.0f;
    p.warped = p.warped && f > 0.0f;
    return p;
}

/// One augmented sample: the warped input, the unwarped target and the masks (same geometry as
/// the target, no colour change).
struct augmented_sample {
    tensor input;
    tensor target;
    std::vector<tensor> masks;
};

/// Augments samples with one configuration and seed. Holds scratch buffers: use one per thread
/// (results do not depend on which object or thread computes them).
class augmenter {
public:
    explicit augmenter(const augment_config& cfg = {}, std::uint64_t seed = 0) : cfg_(cfg), seed_(seed) {
        cfg_.validate("data::augmenter");
    }

    const augment_config& config() const { return cfg_; }
    std::uint64_t seed() const { return seed_; }

    /// Sample `index`: the parameters come from (seed, index).
    augmented_sample operator()(const tensor& image, std::span<const tensor> masks, std::uint64_t index) {
        check_image(image, masks);
        return apply(image, masks, draw_augment_params(cfg_, image.shape()[0], image.shape()[1], seed_, index));
    }
    augmented_sample operator()(const tensor& image, std::initializer_list<tensor> masks, std::uint64_t index) {
        return (*this)(image, std::span<const tensor>(masks.begin(), masks.size()), index);
    }
    augmented_sample operator()(const tensor& image, std::uint64_t index) {
        return (*this)(image, std::span<const tensor>{}, index);
    }

    /// Augments with given parameters, into new tensors.
    augmented_sample apply(const tensor& image, std::span<const tensor> masks, const augment_params& p) {
        check_image(image, masks);
        augmented_sample out;
        out.input = tensor::empty(image.shape());
        out.target = tensor::empty(image.shape());
        for (const tensor& m : masks) out.masks.push_back(tensor::empty(m.shape()));
        apply_into(image, masks, p, out.input, out.target, out.masks);
        return out;
    }

    /// Augments sample `index` into existing tensors of the input shapes (no allocation once warm).
    void run_into(const tensor& image, std::span<const tensor> masks, std::uint64_t index, const tensor& input,
                  const tensor& target, std::span<const tensor> masks_out) {
        check_image(image, masks);
        apply_into(image, masks, draw_augment_params(cfg_, image.shape()[0], image.shape()[1], seed_, index), input,
                   target, masks_out);
    }

    /// Augments with given parameters into existing tensors (which must not overlap the inputs).
    /// With a per-sample seed from elsewhere (a batch loader's), pass
    /// draw_augment_params(config(), h, w, sample_seed, 0).
    void apply_into(const tensor& image, std::span<const tensor> masks, const augment_params& p, const tensor& input,
                    const tensor& target, std::span<const tensor> masks_out) {
        check_image(image, masks);
        const std::int64_t h = image.shape()[0], w = image.shape()[1];
        detail::require_image(input, "data::augmenter", "the input output tensor", 3);
        detail::require_image(target, "data::augmenter", "the target output tensor", 3);
        if (input.shape() != image.shape() || target.shape() != image.shape())
            throw shape_error("data::augmenter: the outputs " + input.shape().str() + " and " + target.shape().str() +
                              " must have the image's shape " + image.shape().str());
        if (masks_out.size() != masks.size())
            throw shape_error("data::augmenter: " + std::to_string(masks.size()) + " masks but " +
                              std::to_string(masks_out.size()) + " mask outputs");
        for (std::size_t k = 0; k < masks_out.size(); ++k) {
            detail::require_image(masks_out[k], "data::augmenter", "a mask output", -1);
            if (masks_out[k].shape() != masks[k].shape())
                throw shape_error("data::augmenter: mask output " + std::to_string(k) + " has shape " +
                                  masks_out[k].shape().str() + ", its mask " + masks[k].shape().str());
        }
        // Outputs are written while the inputs are read: no output may share memory with anything.
        auto overlaps = [](const tensor& x, const tensor& y) {
            const std::less<const float*> before;
            return before(x.data(), y.data() + y.numel()) && before(y.data(), x.data() + x.numel());
        };
        bool alias = overlaps(input, image) || overlaps(target, image) || overlaps(input, target);
        for (std::size_t k = 0; k < masks_out.size(); ++k) {
            const tensor& o = masks_out[k];
            alias = alias || overlaps(o, image) || overlaps(o, input) || overlaps(o, target);
            for (const tensor& m : masks) alias = alias || overlaps(o, m);
            for (std::size_t j = 0; j < k; ++j) alias = alias || overlaps(o, masks_out[j]);
        }
        if (alias) throw value_error("data::augmenter: the outputs must not overlap the inputs or each other");
        const std::int64_t n = h * w;

        // 1. colour (image only), on a copy of the source.
        const float* src = image.data();
        if (p.color) {
            color_.assign(src, src + 3 * n);
            lab_jitter(color_.data(), n, p.lab[0], p.lab[1], p.lab[2]);
            src = color_.data();
        }

        // 2. target and masks through the transform (and flip).
        const affine2 m = destination_to_source(p.transform, h, w);
        const map_coefficients mc{static_cast<float>(m.a), static_cast<float>(m.b), static_cast<float>(m.c),
                                  static_cast<float>(m.d), static_cast<float>(m.e), static_cast<float>(m.f)};
        float* tgt = target.data();
        for (std::int64_t y = 0; y < h; ++y)
            for (std::int64_t x = 0; x < w; ++x) {
                const float fx = static_cast<float>(x), fy = static_cast<float>(y);
                const bilinear_tap tap = bilinear_tap::at(mc.sx(fx, fy), mc.sy(fx, fy), h, w, 1);
                sample_rgb(tap, src, tgt + 3 * (y * w + x));
                for (std::size_t k = 0; k < masks.size(); ++k) {
                    const std::int64_t cm = masks[k].shape()[2];
                    for (std::int64_t ch = 0; ch < cm; ++ch)
                        masks_out[k].data()[(y * w + x) * cm + ch] = sample_channel(tap, masks[k].data(), cm, ch);
                }
            }

        // 3. input: the warp composed with the transform, one resampling of the source.
        float* in = input.data();
        if (!p.warped) {
            std::copy(tgt, tgt + 3 * n, in);
            return;
        }
        if (axis_x_.index.size() != static_cast<std::size_t>(w)) axis_x_ = warp_axis(w);
        if (axis_y_.index.size() != static_cast<std::size_t>(h)) axis_y_ = warp_axis(h);
        dx_.resize(static_cast<std::size_t>(n));
        dy_.resize(static_cast<std::size_t>(n));
        warp_displacement(p.warp, h, w, axis_x_, axis_y_, dx_.data(), dy_.data());
        for (std::int64_t y = 0; y < h; ++y)
            for (std::int64_t x = 0; x < w; ++x) {
                const std::int64_t i = y * w + x;
                // Same expressions as the target's, so zero displacement reproduces the target exactly.
                const float fx = static_cast<float>(x) + dx_[static_cast<std::size_t>(i)];
                const float fy = static_cast<float>(y) + dy_[static_cast<std::size_t>(i)];
                const bilinear_tap tap = bilinear_tap::at(mc.sx(fx, fy), mc.sy(fx, fy), h, w, 1);
                sample_rgb(tap, src, in + 3 * i);
            }
    }

private:
    struct map_coefficients {
        float a, b, c, d, e, f;
        float sx(float x, float y) const { return a * x + b * y + c; }
        float sy(float x, float y) const { return d * x + e * y + f; }
    };

    /// Channel ch of a `channels`-channel image at a tap computed for a 1-channel layout (the same
    /// expression as bilinear_tap::sample and sample_rgb, so equal inputs give equal outputs).
    static float sample_channel(const bilinear_tap& t, const float* img, std::int64_t channels, std::int64_t ch) {
        const float top = (1.0f - t.fx) * img[t.o00 * channels + ch] + t.fx * img[t.o01 * channels + ch];
        const float bottom = (1.0f - t.fx) * img[t.o10 * channels + ch] + t.fx * img[t.o11 * channels + ch];
        return (1.0f - t.fy) * top + t.fy * bottom;
    }

    /// Three channels at a tap computed for a 1-channel layout (offsets are pixel indices).
    static void sample_rgb(const bilinear_tap& t, const float* img, float* out) {
        const float* p00 = img + 3 * t.o00;
        const float* p01 = img + 3 * t.o01;
        const float* p10 = img + 3 * t.o10;
        const float* p11 = img + 3 * t.o11;
        for (int ch = 0; ch < 3; ++ch) {
            const float top = (1.0f - t.fx) * p00[ch] + t.fx * p01[ch];
            const float bottom = (1.0f - t.fx) * p10[ch] + t.fx * p11[ch];
            out[ch] = (1.0f - t.fy) * top + t.fy * bottom;
        }
    }

    static void check_image(const tensor& image, std::span<const tensor> masks) {
        detail::require_image(image, "data::augmenter", "the image", 3);
        const std::int64_t h = image.shape()[0], w = image.shape()[1];
        if (h < 4 || w < 4)
            throw value_error("data::augmenter: the image size " + image.shape().str() + " is below the minimum of 4 x 4");
        for (const tensor& m : masks) {
            detail::require_image(m, "data::augmenter", "a mask", -1);
            if (m.shape()[0] != h || m.shape()[1] != w)
                throw shape_error("data::augmenter: a mask has shape " + m.shape().str() + ", the image " +
                                  image.shape().str() + " needs [" + std::to_string(h) + ", " + std::to_string(w) +
                                  ", Cm]");
        }
    }

    augment_config cfg_;
    std::uint64_t seed_;
    std::vector<float> color_;
    std::vector<float> dx_, dy_;
    warp_axis axis_x_{0}, axis_y_{0};
};

}  // namespace hg::data
