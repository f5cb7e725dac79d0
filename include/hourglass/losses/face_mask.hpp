// hg::losses::face_mask<B, L>: the penalized mask loss as faceswap applies it (LossWrapper and
// _apply_mask of lib/model/losses, with the eye and mouth terms its model base adds), around any loss L
// that follows losses/loss.hpp. With the face mask F, the eye mask E and the mouth mask M (each
// [N, H, W, 1], broadcast over the channels) and m = F * mask_prop + (1 - mask_prop):
//   value = L(pred * m, target * m)
//         + eye_multiplier   * L(pred * E, target * E)    only when eye_multiplier > 1
//         + mouth_multiplier * L(pred * M, target * M)    only when mouth_multiplier > 1
// (faceswap adds a section term only for a multiplier above 1, and the eye and mouth masks enter as
// they are). Defaults: eye_multiplier 3, mouth_multiplier 2, mask_prop 1 (m = F).
// backward, by the chain rule through x -> x * w:  dpred += weight * sum_k c_k * w_k * L'(pred * w_k,
// target * w_k), each term's L' accumulated into a zeroed scratch gradient, then added through
// ops::mask_multiply_backward. The masks are passed with each call (face_masks); a mask whose term is
// inactive may be left empty. values(be) reports each active term ("face", "eye", "mouth") like
// composite. The per-term values are state of the object: one forward at a time.
#pragma once

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/losses/composite.hpp"
#include "hourglass/losses/loss.hpp"
#include "hourglass/ops/elementwise.hpp"
#include "hourglass/ops/mask.hpp"

namespace hg::losses {

struct face_mask_options {
    double eye_multiplier = 3.0;    ///< weight of the eye-region term; the term exists only when > 1
    double mouth_multiplier = 2.0;  ///< weight of the mouth-region term; the term exists only when > 1
    double mask_prop = 1.0;         ///< in [0, 1]: 1 masks fully, 0 ignores the face mask
};

/// The masks of one batch: each [N, H, W, 1] on the backend's device, values normally in [0, 1].
template <class T>
struct face_masks {
    basic_tensor<T> face;
    basic_tensor<T> eye;    ///< needed only when eye_multiplier > 1
    basic_tensor<T> mouth;  ///< needed only when mouth_multiplier > 1
};

template <class B, class L>
class face_mask {
public:
    using tensor_type = tensor_of<B>;
    using masks_type = face_masks<typename B::scalar>;

    explicit face_mask(L loss, face_mask_options options = {}) : loss_(std::move(loss)), options_(options) {
        const std::string n = name();
        detail::require(std::isfinite(options.eye_multiplier) && options.eye_multiplier >= 0.0, n,
                        "eye_multiplier must be finite and >= 0, got " + std::to_string(options.eye_multiplier));
        detail::require(std::isfinite(options.mouth_multiplier) && options.mouth_multiplier >= 0.0, n,
                        "mouth_multiplier must be finite and >= 0, got " + std::to_string(options.mouth_multiplier));
        detail::require(options.mask_prop >= 0.0 && options.mask_prop <= 1.0, n,
                        "mask_prop must be in [0, 1], got " + std::to_string(options.mask_prop));
    }

    std::string name() const { return "face_mask(" + loss_.name() + ")"; }
    const face_mask_options& options() const { return options_; }
    bool has_eye_term() const { return options_.eye_multiplier > 1.0; }
    bool has_mouth_term() const { return options_.mouth_multiplier > 1.0; }

    void forward(const B& be, const tensor_type& pred, const tensor_type& target, const masks_type& masks,
                 const tensor_type& value) const {
        detail::check_pair<B>(name(), pred, target);
        if (!value.defined() || value.numel() != 1)
            throw shape_error(name() + ": the value output must be a 1-element tensor, has shape " +
                              value.shape().str());
        require_device(value.device(), B::device, name().c_str(), "value");
        const auto terms = active_terms(pred, masks);
        const auto k = static_cast<std::int64_t>(terms.size());
        if (!values_.defined() || values_.numel() != k) values_ = be.empty(shape{k});
        const tensor_type xm = be.empty(pred.shape()), tm = be.empty(pred.shape());
        using scalar = typename B::scalar;
        for (std::int64_t i = 0; i < k; ++i) {
            const term& t = terms[static_cast<std::size_t>(i)];
            ops::mask_multiply(be, pred, t.mask, xm, t.scale, t.offset);
            ops::mask_multiply(be, target, t.mask, tm, t.scale, t.offset);
            loss_.forward(be, xm, tm, values_.slice(i, shape{1}));
        }
        ops::fill(be, value, scalar(0));
        for (std::int64_t i = 0; i < k; ++i)
            ops::axpy(be, static_cast<scalar>(terms[static_cast<std::size_t>(i)].weight), values_.slice(i, shape{1}),
                      value);
        labels_.clear();
        weights_.clear();
        for (const term& t : terms) {
            labels_.push_back(t.label);
            weights_.push_back(t.weight);
        }
    }

    void backward(const B& be, const tensor_type& pred, const tensor_type& target, const masks_type& masks,
                  double weight, const tensor_type& dpred) const {
        detail::check_pair<B>(name(), pred, target);
        detail::require(std::isfinite(weight), name(), "the weight is not finite");
        if (!dpred.defined() || dpred.shape() != pred.shape())
            throw shape_error(name() + ": the gradient output has shape " + dpred.shape().str() + ", the prediction " +
                              pred.shape().str() + " (they must be equal)");
        require_device(dpred.device(), B::device, name().c_str(), "dpred");
        const auto terms = active_terms(pred, masks);
        const tensor_type xm = be.empty(pred.shape()), tm = be.empty(pred.shape()), g = be.empty(pred.shape());
        using scalar = typename B::scalar;
        for (const term& t : terms) {
            ops::mask_multiply(be, pred, t.mask, xm, t.scale, t.offset);
            ops::mask_multiply(be, target, t.mask, tm, t.scale, t.offset);
            ops::fill(be, g, scalar(0));
            loss_.backward(be, xm, tm, weight * t.weight, g);
            ops::mask_multiply_backward(be, g, t.mask, dpred, t.scale, t.offset);  // dpred += g * w
        }
    }

    /// Each active term's label, multiplier and value from the last forward (waits for the device).
    std::vector<term_value> values(const B& be) const {
        if (labels_.empty()) throw value_error(name() + ": values() needs a forward() first");
        const auto host = be.to_host(values_);
        std::vector<term_value> out;
        for (std::size_t i = 0; i < labels_.size(); ++i)
            out.push_back({labels_[i], weights_[i], static_cast<double>(host[static_cast<std::int64_t>(i)])});
        return out;
    }

private:
    struct term {
        tensor_type mask;
        float scale, offset;
        double weight;
        const char* label;
    };

    /// Checks the masks the options need and lists the active terms.
    std::vector<term> active_terms(const tensor_type& pred, const masks_type& masks) const {
        const shape& s = pred.shape();
        const shape expected{s.n(), s.h(), s.w(), 1};
        auto check = [&](const tensor_type& m, const char* which) {
            if (!m.defined())
                throw shape_error(name() + ": the " + which + " mask is an empty tensor (expected " + expected.str() +
                                  ")");
            require_device(m.device(), B::device, name().c_str(), which);
            if (m.shape() != expected)
                throw shape_error(name() + ": the " + which + " mask has shape " + m.shape().str() + ", expected " +
                                  expected.str() + " for a prediction of shape " + s.str());
        };
        std::vector<term> terms;
        check(masks.face, "face");
        const auto p = static_cast<float>(options_.mask_prop);
        terms.push_back(term{masks.face, p, 1.f - p, 1.0, "face"});
        if (has_eye_term()) {
            check(masks.eye, "eye");
            terms.push_back(term{masks.eye, 1.f, 0.f, options_.eye_multiplier, "eye"});
        }
        if (has_mouth_term()) {
            check(masks.mouth, "mouth");
            terms.push_back(term{masks.mouth, 1.f, 0.f, options_.mouth_multiplier, "mouth"});
        }
        return terms;
    }

    L loss_;
    face_mask_options options_;
    mutable tensor_type values_;
    mutable std::vector<std::string> labels_;
    mutable std::vector<double> weights_;
};

/// face_mask<B, L> with L deduced: make_face_mask<hg::cuda>(hg::losses::mae{}).
template <class B, class L>
face_mask<B, L> make_face_mask(L loss, face_mask_options options = {}) {
    return face_mask<B, L>(std::move(loss), options);
}

}  // namespace hg::losses
