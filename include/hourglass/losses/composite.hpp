// hg::losses::composite<B>: a weighted sum of losses of any type (type-erased), itself a loss by the
// contract of losses/loss.hpp, so it nests and can be wrapped (e.g. by face_mask).
//   add(loss, weight, label)  appends a term (label defaults to loss.name()); weights finite
//   forward                   each term writes its own value into slot k of a device vector kept by
//                             the composite; then value = sum_k weight_k * value_k (no host sync)
//   backward                  dpred += weight * sum_k weight_k * dL_k/dpred (each term accumulates
//                             with weight * weight_k)
//   values(be)                each term's label, weight and value from the last forward, copied to
//                             the host (the one host sync, meant for logs)
// The per-term values are state of the object: one composite serves one forward at a time.
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/losses/loss.hpp"
#include "hourglass/ops/elementwise.hpp"

namespace hg::losses {

/// One term of a composite (or of face_mask) as reported by values(): its value from the last forward.
struct term_value {
    std::string label;
    double weight = 0.0;
    double value = 0.0;
};

template <class B>
class composite {
public:
    using tensor_type = tensor_of<B>;

    composite() = default;
    // A copy shares the (immutable) terms but not the per-term values of the last forward.
    composite(const composite& other) : terms_(other.terms_) {}
    composite& operator=(const composite& other) {
        if (this != &other) {
            terms_ = other.terms_;
            values_ = tensor_type();
            has_values_ = false;
        }
        return *this;
    }
    composite(composite&&) noexcept = default;
    composite& operator=(composite&&) noexcept = default;
    ~composite() = default;

    /// Appends weight * loss. The loss is copied; label defaults to loss.name().
    template <class L>
    composite& add(L loss, double weight = 1.0, std::string label = {}) {
        detail::require(std::isfinite(weight), name(),
                        "the weight of term '" + (label.empty() ? loss.name() : label) + "' is not finite");
        if (label.empty()) label = loss.name();
        has_values_ = false;
        terms_.push_back(entry{std::make_shared<const model<L>>(std::move(loss)), weight, std::move(label)});
        return *this;
    }

    std::string name() const { return "composite"; }
    std::size_t size() const { return terms_.size(); }

    void forward(const B& be, const tensor_type& pred, const tensor_type& target, const tensor_type& value) const {
        require_terms();
        detail::check_pair<B>(name(), pred, target);
        if (!value.defined() || value.numel() != 1)
            throw shape_error(name() + ": the value output must be a 1-element tensor, has shape " +
                              value.shape().str());
        require_device(value.device(), B::device, "composite", "value");
        const auto k = static_cast<std::int64_t>(terms_.size());
        if (!values_.defined() || values_.numel() != k) values_ = be.empty(shape{k});
        using scalar = typename B::scalar;
        for (std::int64_t i = 0; i < k; ++i)
            terms_[static_cast<std::size_t>(i)].loss->forward(be, pred, target, values_.slice(i, shape{1}));
        ops::fill(be, value, scalar(0));
        for (std::int64_t i = 0; i < k; ++i)
            ops::axpy(be, static_cast<scalar>(terms_[static_cast<std::size_t>(i)].weight), values_.slice(i, shape{1}),
                      value);
        has_values_ = true;
    }

    void backward(const B& be, const tensor_type& pred, const tensor_type& target, double weight,
                  const tensor_type& dpred) const {
        require_terms();
        detail::require(std::isfinite(weight), name(), "the weight is not finite");
        for (const entry& e : terms_) e.loss->backward(be, pred, target, weight * e.weight, dpred);
    }

    /// Each term's label, weight and value from the last forward (waits for the device).
    std::vector<term_value> values(const B& be) const {
        if (!has_values_) throw value_error(name() + ": values() needs a forward() first");
        const auto host = be.to_host(values_);
        std::vector<term_value> out;
        for (std::size_t i = 0; i < terms_.size(); ++i)
            out.push_back({terms_[i].label, terms_[i].weight, static_cast<double>(host[static_cast<std::int64_t>(i)])});
        return out;
    }

private:
    struct concept_t {
        virtual ~concept_t() = default;
        virtual void forward(const B& be, const tensor_type& pred, const tensor_type& target,
                             const tensor_type& value) const = 0;
        virtual void backward(const B& be, const tensor_type& pred, const tensor_type& target, double weight,
                              const tensor_type& dpred) const = 0;
    };
    template <class L>
    struct model final : concept_t {
        explicit model(L l) : loss(std::move(l)) {}
        void forward(const B& be, const tensor_type& pred, const tensor_type& target,
                     const tensor_type& value) const override {
            loss.forward(be, pred, target, value);
        }
        void backward(const B& be, const tensor_type& pred, const tensor_type& target, double weight,
                      const tensor_type& dpred) const override {
            loss.backward(be, pred, target, weight, dpred);
        }
        L loss;
    };
    struct entry {
        std::shared_ptr<const concept_t> loss;
        double weight;
        std::string label;
    };

    void require_terms() const {
        if (terms_.empty()) throw value_error(name() + ": no terms (add at least one loss)");
    }

    std::vector<entry> terms_;
    mutable tensor_type values_;
    mutable bool has_values_ = false;
};

}  // namespace hg::losses
