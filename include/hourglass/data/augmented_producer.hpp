// Producers for hg::data::batch_loader that deliver augmented faces: the glue between a source of
// faces (a face_dataset folder or a synthetic_face_set) and the augmenter.
//
// For sample (sample_index, sample_seed) a producer takes face sample_index of its source and
// augments it with draw_augment_params(config, h, w, sample_seed, 0): the loader's input view gets
// the warped, colour-jittered face, the target view the unwarped one, the mask view the masks with
// the same geometry. The result depends only on (sample_index, sample_seed), so batches stay
// deterministic whatever the number of loader threads.
//
// Masks: a dataset face gives one mask channel (its mask; a face without one gets a mask of ones,
// i.e. every pixel counts), or three (face, eye, mouth) for a dataset with region masks (extracted
// faces, dataset.hpp); a synthetic face gives three (face, eye, mouth) in that order, which
// is what losses::face_mask needs. The loader's mask_channels must match (or be 0: no masks).
//
// Ramp (augment_ramp): the augmentation of a sample of training step k runs at strength
// min(1, start + (1 - start) k / steps) (scale_augment_params: the same draws, made milder), so a
// model first learns the faces themselves and meets the full augmentation once it can. The step
// comes from the loader (sample_views::step), so batches stay a pure function of (seed, step).
//
// subset_producer maps a loader's indices [0, n) onto chosen indices of a source (the training
// part of a hold-out split, swap/holdout.hpp): the loader never sees the others.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/data/augment.hpp"
#include "hourglass/data/batch_loader.hpp"
#include "hourglass/data/dataset.hpp"
#include "hourglass/data/synthetic_faces.hpp"

namespace hg::data {

/// Augmentation that ramps in: strength min(1, start + (1 - start) step / steps) at training step
/// `step` (0-based); steps = 0 means full strength from the first step.
struct augment_ramp {
    std::int64_t steps = 0;
    double start = 0.0;  ///< the strength at step 0, in [0, 1]

    void validate() const {
        if (steps < 0) throw value_error("augmentation ramp: steps must be >= 0, got " + std::to_string(steps));
        if (!(start >= 0.0 && start <= 1.0))
            throw value_error("augmentation ramp: the start strength must be in [0, 1], got " + std::to_string(start));
    }
    double strength(std::int64_t step) const {
        if (steps <= 0 || step >= steps) return 1.0;
        return start + (1.0 - start) * static_cast<double>(std::max<std::int64_t>(step, 0)) / static_cast<double>(steps);
    }
};

namespace detail {

/// Augmenters hold scratch buffers, so each loader thread needs its own: a pool hands one out per
/// call and takes it back (results do not depend on which augmenter computes them).
class augmenter_pool {
public:
    explicit augmenter_pool(const augment_config& cfg) : cfg_(cfg) { cfg_.validate("data::augmented_producer"); }

    const augment_config& config() const { return cfg_; }

    template <class Fn>
    void with_augmenter(Fn&& fn) {
        std::unique_ptr<augmenter> a;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!free_.empty()) {
                a = std::move(free_.back());
                free_.pop_back();
            }
        }
        if (!a) a = std::make_unique<augmenter>(cfg_);
        fn(*a);
        std::lock_guard<std::mutex> lock(mutex_);
        free_.push_back(std::move(a));
    }

private:
    augment_config cfg_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<augmenter>> free_;
};

/// Checks the loader's views against the face's size and the number of masks the source gives.
inline void check_views(const sample_views& out, std::int64_t h, std::int64_t w, std::int64_t masks,
                        const std::string& source) {
    const shape image{h, w, 3};
    if (out.input.shape() != image || out.target.shape() != image)
        throw shape_error("data::augmented_producer: the loader's batches hold " + out.input.shape().str() +
                          " images, the " + source + " gives " + image.str() +
                          " (set batch_loader_options height, width and channels = 3 to match)");
    if (out.mask.defined() && out.mask.shape() != shape{h, w, masks})
        throw shape_error("data::augmented_producer: the loader's mask buffers are " + out.mask.shape().str() +
                          ", the " + source + " gives " + std::to_string(masks) +
                          " mask channel(s) (set batch_loader_options mask_channels to " + std::to_string(masks) +
                          " or 0)");
}

/// Augments `image` with `masks` (each [h, w, 1]) into the loader's views; the masks land as the
/// channels of out.mask, in order.
inline void augment_into(augmenter& a, const tensor& image, const std::vector<tensor>& masks,
                         std::uint64_t sample_seed, const sample_views& out, double strength) {
    const std::int64_t h = image.shape()[0], w = image.shape()[1];
    const augment_params p = scale_augment_params(draw_augment_params(a.config(), h, w, sample_seed, 0), strength);
    if (!out.mask.defined()) {
        a.apply_into(image, {}, p, out.input, out.target, {});
        return;
    }
    std::vector<tensor> warped;
    warped.reserve(masks.size());
    for (std::size_t k = 0; k < masks.size(); ++k) warped.push_back(tensor::empty(shape{h, w, 1}));
    a.apply_into(image, masks, p, out.input, out.target, warped);
    const auto channels = static_cast<std::int64_t>(masks.size());
    for (std::int64_t q = 0; q < h * w; ++q)
        for (std::int64_t k = 0; k < channels; ++k) out.mask[q * channels + k] = warped[static_cast<std::size_t>(k)][q];
}

}  // namespace detail

/// Augmented faces of a dataset folder (faces.mask_channels() mask channels: the face mask, and
/// with region masks the eye and mouth masks). The dataset must outlive the loader.
inline sample_producer augmented_producer(const face_dataset& faces, const augment_config& cfg = {},
                                          augment_ramp ramp = {}) {
    ramp.validate();
    auto pool = std::make_shared<detail::augmenter_pool>(cfg);
    return [&faces, pool, ramp](std::int64_t index, std::uint64_t sample_seed, const sample_views& out) {
        const auto f = faces.get(index);
        const std::int64_t h = f->rgb.shape()[0], w = f->rgb.shape()[1], channels = faces.mask_channels();
        detail::check_views(out, h, w, channels, "dataset");
        std::vector<tensor> masks;
        if (out.mask.defined()) {
            if (!f->has_mask()) {
                masks.push_back(tensor::full(shape{h, w, 1}, 1.f));
            } else if (channels == 1) {
                masks.push_back(f->mask);
            } else {
                for (std::int64_t k = 0; k < channels; ++k) {
                    tensor plane = tensor::empty(shape{h, w, 1});
                    for (std::int64_t q = 0; q < h * w; ++q) plane.data()[q] = f->mask.data()[q * channels + k];
                    masks.push_back(std::move(plane));
                }
            }
        }
        pool->with_augmenter(
            [&](augmenter& a) { detail::augment_into(a, f->rgb, masks, sample_seed, out, ramp.strength(out.step)); });
    };
}

/// Augmented synthetic faces (three mask channels: face, eye, mouth). The set is copied.
inline sample_producer augmented_producer(const synthetic_face_set& faces, const augment_config& cfg = {},
                                          augment_ramp ramp = {}) {
    faces.validate();
    ramp.validate();
    auto pool = std::make_shared<detail::augmenter_pool>(cfg);
    return [faces, pool, ramp](std::int64_t index, std::uint64_t sample_seed, const sample_views& out) {
        const synthetic_face f = faces.sample(index);
        detail::check_views(out, faces.size, faces.size, 3, "synthetic face set");
        std::vector<tensor> masks;
        if (out.mask.defined()) masks = {f.face_mask, f.eye_mask, f.mouth_mask};
        pool->with_augmenter(
            [&](augmenter& a) { detail::augment_into(a, f.image, masks, sample_seed, out, ramp.strength(out.step)); });
    };
}

/// The producer `source` seen through `indices`: loader index i produces source index indices[i]
/// (every entry must be a valid index of the source; the loader's sample count is indices.size()).
/// value_error for an empty list or a negative index.
inline sample_producer subset_producer(sample_producer source, std::vector<std::int64_t> indices) {
    if (indices.empty()) throw value_error("data::subset_producer: no indices");
    for (auto i : indices)
        if (i < 0) throw value_error("data::subset_producer: negative index " + std::to_string(i));
    auto idx = std::make_shared<const std::vector<std::int64_t>>(std::move(indices));
    return [source = std::move(source), idx](std::int64_t index, std::uint64_t sample_seed, const sample_views& out) {
        if (index < 0 || index >= static_cast<std::int64_t>(idx->size()))
            throw value_error("data::subset_producer: index " + std::to_string(index) + " is outside the subset of " +
                              std::to_string(idx->size()));
        source((*idx)[static_cast<std::size_t>(index)], sample_seed, out);
    };
}

}  // namespace hg::data
