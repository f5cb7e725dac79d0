// hg::optim::optimizer<B>: the training step over a model's flat parameter buffer on backend B.
// It owns the rule's state buffers (one or two flat buffers laid out like the parameters) and runs,
// per update:
//   1. gradient accumulation: step() is called after every micro-batch's backward; the update
//      happens on every `accumulation`-th call, with the summed gradient divided by that count;
//   2. the gradient norm (ops::reduce l2_norm) when clipping by norm or the non-finite guard needs
//      it - on CUDA this is the step's one 4-byte device-to-host read;
//   3. the guard: a non-finite norm skips the update (counted, see skipped_steps()); parameters and
//      state are untouched;
//   4. clipping (optim/clipping.hpp), the scheduled learning rate (optim/schedule.hpp) and the
//      step's coefficients (optim/coefficients.hpp);
//   5. one fused pass over the buffer (ops::optim_update), weight decay only inside the decay
//      ranges (by default every tensor but the 1-D ones: biases);
//   6. the gradients are set to zero for the next accumulation (callers need no zero_grad).
// save()/load() write and read the whole state (docs/optimizers.md, "State format"); parameters
// themselves are not part of it (checkpoints store them).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <istream>
#include <limits>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/layers/model.hpp"
#include "hourglass/layers/parameters.hpp"
#include "hourglass/ops/elementwise.hpp"
#include "hourglass/ops/optim.hpp"
#include "hourglass/ops/reduce.hpp"
#include "hourglass/optim/clipping.hpp"
#include "hourglass/optim/coefficients.hpp"
#include "hourglass/optim/config.hpp"
#include "hourglass/optim/schedule.hpp"
#include "hourglass/optim/state_io.hpp"

namespace hg::optim {

/// What one call of optimizer::step() did.
enum class step_result {
    accumulating,        ///< a micro-batch was counted; no update yet
    applied,             ///< the update was applied
    skipped_non_finite,  ///< the gradient norm was NaN or infinite: nothing applied, gradients cleared
};

/// Everything that shapes an optimizer's steps besides its rule.
struct settings {
    config rule = adam();
    clip_config clip;
    lr_schedule schedule;
    std::int64_t accumulation = 1;  ///< micro-batches per update
    bool skip_non_finite = true;    ///< the NaN/Inf guard

    void validate() const {
        rule.validate();
        clip.validate();
        schedule.validate();
        if (accumulation < 1)
            throw value_error(std::string(rule.name()) + ": accumulation must be >= 1, got " + std::to_string(accumulation));
    }
};

/// Which parameter tensors get weight decay.
using decay_predicate = std::function<bool(const param_entry&)>;

/// The decay ranges of a layout: each entry for which `decays` holds, padding included, adjacent
/// ones merged.
inline std::vector<ops::index_range> decay_ranges(const param_layout& layout, const decay_predicate& decays) {
    std::vector<ops::index_range> ranges;
    for (const param_entry& e : layout.entries()) {
        if (!decays(e)) continue;
        const std::int64_t end = e.offset + e.padded_size();
        if (!ranges.empty() && ranges.back().end == e.offset)
            ranges.back().end = end;
        else
            ranges.push_back({e.offset, end});
    }
    return ranges;
}

template <class B>
class optimizer {
public:
    using T = typename B::scalar;
    static_assert(std::is_same_v<T, float>, "hg::optim::optimizer works on float32 parameters");

    /// `decays` picks the tensors that get weight decay (default: all but 1-D tensors, i.e. biases).
    optimizer(const B& be, const parameters<B>& params, settings s,
              decay_predicate decays = [](const param_entry& e) { return e.decays_by_default(); })
        : be_(&be), settings_(std::move(s)), layout_(params.layout()), values_(params.values()),
          grads_(params.grads()), history_(settings_.clip.history) {
        settings_.validate();
        decay_ = decay_ranges(layout_, decays);
        const unsigned used = ops::optim_state_buffers(settings_.rule.rule, static_cast<float>(settings_.rule.momentum));
        if (used & 1u) s1_ = zeros(values_.shape());
        if (used & 2u) s2_ = zeros(values_.shape());
        norm_ = be.empty(shape{1});
        if (settings_.clip.mode == clip_mode::per_tensor_norm)
            tensor_norms_ = be.empty(shape{static_cast<std::int64_t>(std::max<std::size_t>(1, layout_.entries().size()))});
    }

    template <class Spec>
    optimizer(model<B, Spec>& m, settings s) : optimizer(m.backend(), m.params(), std::move(s)) {}

    optimizer(const optimizer&) = delete;
    optimizer& operator=(const optimizer&) = delete;

    /// Counts one micro-batch whose gradients backward() has added; updates on every
    /// `accumulation`-th call (see the file comment).
    step_result step() {
        if (++micro_ < settings_.accumulation) return step_result::accumulating;
        micro_ = 0;
        const double inv = 1.0 / static_cast<double>(settings_.accumulation);
        const clip_config& clip = settings_.clip;
        double norm = std::numeric_limits<double>::quiet_NaN();
        std::vector<double> per_tensor;
        if (clip.mode == clip_mode::per_tensor_norm) {
            const auto& entries = layout_.entries();
            for (std::size_t i = 0; i < entries.size(); ++i)
                ops::reduce(*be_, ops::reduction::l2_norm, grads_.slice(entries[i].offset, entries[i].shape),
                            tensor_norms_.slice(static_cast<std::int64_t>(i), shape{1}));
            const tensor host = be_->to_host(tensor_norms_);
            double sum = 0.0;
            for (std::size_t i = 0; i < entries.size(); ++i) {
                per_tensor.push_back(static_cast<double>(host[static_cast<std::int64_t>(i)]) * inv);
                sum += per_tensor.back() * per_tensor.back();
            }
            norm = std::sqrt(sum);
        } else if (settings_.skip_non_finite || clip.mode == clip_mode::global_norm || clip.mode == clip_mode::autoclip) {
            ops::reduce(*be_, ops::reduction::l2_norm, grads_, norm_);
            norm = static_cast<double>(be_->to_host(norm_)[0]) * inv;
        }
        last_norm_ = norm;
        if (settings_.skip_non_finite && !std::isfinite(norm)) {
            ++skipped_;
            ops::fill(*be_, grads_, 0.f);
            return step_result::skipped_non_finite;
        }

        double factor = 1.0;
        if (clip.mode == clip_mode::global_norm) factor = clip_factor(norm, clip.max_norm);
        if (clip.mode == clip_mode::autoclip && std::isfinite(norm)) {
            history_.push(norm);
            factor = clip_factor(norm, history_.percentile(clip.percentile));
        }
        if (clip.mode == clip_mode::per_tensor_norm) {
            const auto& entries = layout_.entries();
            for (std::size_t i = 0; i < entries.size(); ++i) {
                const double f = clip_factor(per_tensor[i], clip.max_norm);
                if (f < 1.0) ops::scale(*be_, static_cast<float>(f), grads_.slice(entries[i].offset, entries[i].shape));
            }
        }

        const std::int64_t t = step_ + 1;
        const double lr_t = settings_.rule.lr * settings_.schedule.factor(t);
        double mu_product = mu_product_;
        math::optim_coeffs k = step_coefficients(settings_.rule, t, lr_t, mu_product);
        k.grad_scale = static_cast<float>(inv * factor);
        if (clip.mode == clip_mode::value) k.clip_value = static_cast<float>(clip.value);
        ops::optim_update(*be_, settings_.rule.rule, k, decay_, values_, grads_, s1_, s2_);
        step_ = t;
        mu_product_ = mu_product;
        last_lr_ = lr_t;
        last_clip_factor_ = factor;
        ops::fill(*be_, grads_, 0.f);
        return step_result::applied;
    }

    /// Updates applied so far (the t of the bias corrections and schedules).
    std::int64_t steps() const { return step_; }
    /// Updates skipped by the non-finite guard.
    std::int64_t skipped_steps() const { return skipped_; }
    /// Micro-batches counted towards the next update.
    std::int64_t pending_micro_batches() const { return micro_; }
    /// The gradient norm of the last update attempt (NaN when it was not needed).
    double last_grad_norm() const { return last_norm_; }
    /// The learning rate and the global clipping factor of the last applied update.
    double last_lr() const { return last_lr_; }
    double last_clip_factor() const { return last_clip_factor_; }
    const settings& current_settings() const { return settings_; }
    const std::vector<ops::index_range>& decay() const { return decay_; }
    const norm_history& autoclip_history() const { return history_; }
    /// State buffer 0 (s1) or 1 (s2); undefined when the rule does not use it.
    const tensor& state(int i) const { return i == 0 ? s1_ : s2_; }

    /// Changes the base learning rate (the schedule still scales it) and keeps the whole state
    /// (moments, step count): lowering the rate after a divergence does not restart the optimizer.
    /// A later save() records the new rate, so only an optimizer built with it load()s that state.
    /// value_error (nothing changed) unless lr is positive and finite.
    void set_learning_rate(double lr) {
        config c = settings_.rule;
        c.lr = lr;
        c.validate();
        settings_.rule.lr = lr;
    }

    /// Writes the state (docs/optimizers.md, "State format"); throws io_error if the stream fails.
    void save(std::ostream& out) const {
        detail::state_writer w(out);
        w.bytes(magic, 8);
        w.u32(format_version);
        w.u32(endian_mark);
        w.u32(static_cast<std::uint32_t>(settings_.rule.rule));
        const auto hp = hyperparameters();
        w.u32(static_cast<std::uint32_t>(hp.size()));
        for (const auto& [name, value] : hp) w.f64(value);
        w.u64(settings_.rule.seed);
        w.i64(values_.numel());
        w.u64(layout_.entries().size());
        w.i64(step_);
        w.i64(skipped_);
        w.i64(micro_);
        w.f64(mu_product_);
        w.i64(history_.capacity());
        w.i64(history_.next());
        w.u64(history_.values().size());
        for (double v : history_.values()) w.f64(v);
        const unsigned used = used_buffers();
        w.u32(used);
        for (int i = 0; i < 2; ++i) {
            if (!(used & (1u << i))) continue;
            const tensor host = be_->to_host(state(i));
            w.floats(host.data(), host.numel());
        }
        w.bytes(end_magic, 8);
        w.finish(settings_.rule.name());
    }

    /// Reads a state written by save() of an optimizer with the same rule, hyperparameters and
    /// parameter layout. Throws format_error naming the reason for a truncated, foreign or
    /// mismatched stream; on any error this optimizer is left unchanged.
    void load(std::istream& in) {
        detail::state_reader r(in);
        const std::string who = std::string(settings_.rule.name()) + " state";
        char m[8] = {};
        r.bytes(m, 8, "the magic");
        if (std::memcmp(m, magic, 8) != 0) throw format_error(who + ": not an hourglass optimizer state (bad magic)");
        const std::uint32_t version = r.u32("the version");
        if (version != format_version)
            throw format_error(who + ": unsupported format version " + std::to_string(version) + " (this build reads " +
                               std::to_string(format_version) + ")");
        if (r.u32("the byte-order mark") != endian_mark) throw format_error(who + ": written with another byte order");
        const std::uint32_t rule = r.u32("the rule");
        if (rule != static_cast<std::uint32_t>(settings_.rule.rule))
            throw format_error(who + ": the stream holds the state of " +
                               config::rule_name(static_cast<optim_rule>(rule)) + ", not " + settings_.rule.name());
        const auto hp = hyperparameters();
        const std::uint32_t count = r.u32("the hyperparameter count");
        if (count != hp.size())
            throw format_error(who + ": the stream has " + std::to_string(count) + " hyperparameters, expected " +
                               std::to_string(hp.size()));
        for (const auto& [name, value] : hp) {
            const double stored = r.f64(name);
            if (!detail::same_bits(stored, value))
                throw format_error(who + ": hyperparameter '" + name + "' differs (stream " + std::to_string(stored) +
                                   ", optimizer " + std::to_string(value) + ")");
        }
        if (r.u64("the seed") != settings_.rule.seed) throw format_error(who + ": hyperparameter 'seed' differs");
        const std::int64_t size = r.i64("the buffer size");
        if (size != values_.numel())
            throw format_error(who + ": the stream's buffer holds " + std::to_string(size) + " elements, the parameters " +
                               std::to_string(values_.numel()));
        if (r.u64("the tensor count") != layout_.entries().size())
            throw format_error(who + ": the stream was written for a different number of parameter tensors");
        const std::int64_t step = r.i64("the step count");
        const std::int64_t skipped = r.i64("the skipped count");
        const std::int64_t micro = r.i64("the micro-batch count");
        const double mu_product = r.f64("the NAdam momentum product");
        if (step < 0 || skipped < 0 || micro < 0 || micro >= settings_.accumulation)
            throw format_error(who + ": corrupt counters (step " + std::to_string(step) + ", skipped " +
                               std::to_string(skipped) + ", micro-batch " + std::to_string(micro) + ")");
        const std::int64_t capacity = r.i64("the AutoClip capacity");
        const std::int64_t next = r.i64("the AutoClip position");
        const std::uint64_t stored = r.u64("the AutoClip length");
        if (capacity != history_.capacity() || next < 0 || next >= capacity ||
            stored > static_cast<std::uint64_t>(capacity) || (stored < static_cast<std::uint64_t>(capacity) &&
                                                              static_cast<std::uint64_t>(next) != stored % static_cast<std::uint64_t>(capacity)))
            throw format_error(who + ": corrupt AutoClip history (capacity " + std::to_string(capacity) + ", position " +
                               std::to_string(next) + ", length " + std::to_string(stored) + ")");
        std::vector<double> history(static_cast<std::size_t>(stored));
        for (double& v : history) v = r.f64("the AutoClip history");
        const std::uint32_t used = r.u32("the state buffer mask");
        if (used != used_buffers())
            throw format_error(who + ": the stream has state buffers " + std::to_string(used) + ", expected " +
                               std::to_string(used_buffers()));
        tensor host[2];
        for (int i = 0; i < 2; ++i) {
            if (!(used & (1u << i))) continue;
            host[i] = tensor::empty(values_.shape());
            r.floats(host[i].data(), host[i].numel(), i == 0 ? "state buffer 1" : "state buffer 2");
        }
        char e[8] = {};
        r.bytes(e, 8, "the end marker");
        if (std::memcmp(e, end_magic, 8) != 0) throw format_error(who + ": bad end marker (corrupt stream)");

        if (host[0].defined()) s1_ = be_->to_device(host[0]);
        if (host[1].defined()) s2_ = be_->to_device(host[1]);
        step_ = step;
        skipped_ = skipped;
        micro_ = micro;
        mu_product_ = mu_product;
        history_.restore(std::move(history), next);
    }

private:
    static constexpr char magic[9] = "HGOPTIM\0";
    static constexpr char end_magic[9] = "HGOPTEND";
    static constexpr std::uint32_t format_version = 1;
    static constexpr std::uint32_t endian_mark = 0x01020304u;

    tensor zeros(const shape& s) const {
        tensor t = be_->empty(s);
        ops::fill(*be_, t, 0.f);
        return t;
    }

    unsigned used_buffers() const { return (s1_.defined() ? 1u : 0u) | (s2_.defined() ? 2u : 0u); }

    /// Every setting that shapes the steps, in the order the format stores them.
    std::vector<std::pair<const char*, double>> hyperparameters() const {
        const config& c = settings_.rule;
        const clip_config& k = settings_.clip;
        const lr_schedule& s = settings_.schedule;
        return {{"lr", c.lr},
                {"beta1", c.beta1},
                {"beta2", c.beta2},
                {"eps", c.eps},
                {"weight_decay", c.weight_decay},
                {"momentum", c.momentum},
                {"nesterov", c.nesterov ? 1.0 : 0.0},
                {"epsilon_hat", c.epsilon_hat ? 1.0 : 0.0},
                {"rectify", c.rectify ? 1.0 : 0.0},
                {"bias_correction", c.bias_correction ? 1.0 : 0.0},
                {"lr_dropout", c.lr_dropout},
                {"clip.mode", static_cast<double>(k.mode)},
                {"clip.max_norm", k.max_norm},
                {"clip.value", k.value},
                {"clip.percentile", k.percentile},
                {"clip.history", static_cast<double>(k.history)},
                {"schedule.kind", static_cast<double>(s.kind)},
                {"schedule.warmup", static_cast<double>(s.warmup)},
                {"schedule.total", static_cast<double>(s.total)},
                {"schedule.min_factor", s.min_factor},
                {"schedule.every", static_cast<double>(s.every)},
                {"schedule.gamma", s.gamma},
                {"accumulation", static_cast<double>(settings_.accumulation)},
                {"skip_non_finite", settings_.skip_non_finite ? 1.0 : 0.0}};
    }

    const B* be_;
    settings settings_;
    param_layout layout_;
    tensor values_, grads_;
    std::vector<ops::index_range> decay_;
    tensor s1_, s2_, norm_, tensor_norms_;
    norm_history history_;
    std::int64_t step_ = 0, skipped_ = 0, micro_ = 0;
    double mu_product_ = 1.0;
    double last_norm_ = std::numeric_limits<double>::quiet_NaN();
    double last_lr_ = 0.0, last_clip_factor_ = 1.0;
};

}  // namespace hg::optim
