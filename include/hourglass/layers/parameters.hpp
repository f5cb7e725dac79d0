// Parameters of a model in one flat buffer: layers declare named tensors (shape and initialiser)
// into a param_layout while the model is built; hg::parameters<B> then allocates one values buffer
// and one gradients buffer on backend B, initialises the values on the host (seeded, so identical
// for every backend) and hands each layer views into both buffers.
// Initialisers (Keras conventions): He-uniform U(+-sqrt(6 / fan_in)) for convolutions,
// Glorot-uniform U(+-sqrt(6 / (fan_in + fan_out))) for dense layers, ICNR for convolutions that
// feed a pixel shuffle (the 4 sub-pixel groups of filters start identical, which avoids
// checkerboard artefacts), zeros for biases.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/parallel.hpp"
#include "hourglass/core/rng.hpp"
#include "hourglass/core/shape.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/ops/check.hpp"
#include "hourglass/ops/elementwise.hpp"

namespace hg {

enum class initializer { zeros, he_uniform, glorot_uniform, icnr };

struct param_entry {
    std::string name;
    hg::shape shape;
    initializer init = initializer::zeros;
    std::int64_t fan_in = 0;
    std::int64_t fan_out = 0;
    std::int64_t offset = 0;  // in elements, into the flat buffers (multiple of param_layout::alignment)

    /// Whether weight decay applies to this tensor by default: not to 1-D tensors (biases), by the
    /// usual convention (decaying a bias only shifts activations). Optimizers group by this flag.
    bool decays_by_default() const { return shape.rank() > 1; }
    /// Elements of the flat buffers this entry occupies, its alignment padding included.
    std::int64_t padded_size() const {
        return (shape.numel() + 15) / 16 * 16;  // param_layout::alignment = 16
    }
};

class param_layout {
public:
    /// Entries start on 16-element (64-byte) boundaries so vectorised kernels can load them whole.
    static constexpr std::int64_t alignment = 16;

    std::size_t add(std::string name, const shape& s, initializer init, std::int64_t fan_in = 0,
                    std::int64_t fan_out = 0) {
        if (s.numel() <= 0) throw shape_error("parameter '" + name + "' has no elements: shape " + s.str());
        param_entry e{std::move(name), s, init, fan_in, fan_out, total_};
        total_ += (s.numel() + alignment - 1) / alignment * alignment;
        count_ += s.numel();
        entries_.push_back(std::move(e));
        return entries_.size() - 1;
    }
    const std::vector<param_entry>& entries() const { return entries_; }
    /// Elements of the flat buffers, alignment padding included.
    std::int64_t buffer_size() const { return total_; }
    /// Number of trainable values (no padding).
    std::int64_t count() const { return count_; }

private:
    std::vector<param_entry> entries_;
    std::int64_t total_ = 0;
    std::int64_t count_ = 0;
};

/// The i-th uniform number in [0, 1) with 53 random bits of stream (seed, stream_id): two words
/// of one Philox block, so values can be drawn independently (and in parallel) by index.
inline double random_unit_double(std::uint64_t seed, std::uint64_t stream_id, std::uint64_t i) {
    const std::uint64_t a = random_bits(seed, stream_id, 2 * i) >> 5;
    const std::uint64_t b = random_bits(seed, stream_id, 2 * i + 1) >> 6;
    return (static_cast<double>(a) * 67108864.0 + static_cast<double>(b)) * (1.0 / 9007199254740992.0);
}

/// Fills `dst` (entry.shape.numel() values) with the entry's initial values, drawn from stream
/// `stream_id` of `seed`. Value i depends only on (seed, stream_id, i), whatever the thread count.
template <class T>
void initialize_parameter(const param_entry& e, std::uint64_t seed, std::uint64_t stream_id, T* dst,
                          int threads = 1) {
    const std::int64_t count = e.shape.numel();
    auto fill_uniform = [&](std::int64_t n, double limit) {
        parallel_for(n, threads, 65536, [&](std::int64_t i) {
            dst[i] = static_cast<T>((2.0 * random_unit_double(seed, stream_id, static_cast<std::uint64_t>(i)) - 1.0) *
                                    limit);
        });
    };
    switch (e.init) {
        case initializer::zeros:
            std::fill(dst, dst + count, T(0));
            break;
        case initializer::he_uniform:
            fill_uniform(count, std::sqrt(6.0 / static_cast<double>(e.fan_in)));
            break;
        case initializer::glorot_uniform:
            fill_uniform(count, std::sqrt(6.0 / static_cast<double>(e.fan_in + e.fan_out)));
            break;
        case initializer::icnr: {
            // KRSC filter with K = 4f: draw f filters He-uniform, then filter k copies filter k % f, so
            // each sub-pixel group (dy * 2 + dx) * f + c of the following depth-to-space is identical.
            const std::int64_t k = e.shape[0];
            if (k % 4) throw shape_error("parameter '" + e.name + "': ICNR needs a filter count divisible by 4");
            const std::int64_t f = k / 4, per_filter = count / k;
            fill_uniform(f * per_filter, std::sqrt(6.0 / static_cast<double>(e.fan_in)));
            for (std::int64_t filter = f; filter < k; ++filter)
                std::copy(dst + (filter % f) * per_filter, dst + (filter % f + 1) * per_filter,
                          dst + filter * per_filter);
            break;
        }
    }
}

/// The values and gradients of one model on backend B, each one flat buffer.
template <class B>
class parameters {
public:
    using T = typename B::scalar;
    using tensor_type = basic_tensor<T>;

    parameters() = default;
    parameters(const B& be, param_layout layout, std::uint64_t seed) : layout_(std::move(layout)) {
        const shape flat{std::max<std::int64_t>(layout_.buffer_size(), 1)};
        auto host = basic_tensor<T>::zeros(flat);
        for (std::size_t i = 0; i < layout_.entries().size(); ++i) {
            const param_entry& e = layout_.entries()[i];
            initialize_parameter(e, seed, i, host.data() + e.offset, hardware_threads());
        }
        values_ = be.to_device(std::move(host));
        grads_ = be.empty(flat);
        zero_grad(be);
    }

    const param_layout& layout() const { return layout_; }
    /// Trainable values (no padding).
    std::int64_t count() const { return layout_.count(); }
    const tensor_type& values() const { return values_; }
    const tensor_type& grads() const { return grads_; }
    tensor_type value(std::size_t i) const { return values_.slice(entry(i).offset, entry(i).shape); }
    tensor_type grad(std::size_t i) const { return grads_.slice(entry(i).offset, entry(i).shape); }
    /// Number of named parameter tensors.
    std::size_t size() const { return layout_.entries().size(); }
    /// The index of the tensor called `name` (e.g. "model/0:conv2d<16, 3, 2>.w"); throws hg::error
    /// when there is none.
    std::size_t index_of(const std::string& name) const {
        for (std::size_t i = 0; i < layout_.entries().size(); ++i)
            if (layout_.entries()[i].name == name) return i;
        throw error("parameters: no tensor named '" + name + "'");
    }
    const param_entry& entry(std::size_t i) const {
        if (i >= layout_.entries().size()) throw error("parameters: index " + std::to_string(i) + " out of range");
        return layout_.entries()[i];
    }
    /// Sets every gradient to zero (backward passes add into them).
    void zero_grad(const B& be) const { ops::fill(be, grads_, T(0)); }

private:
    param_layout layout_;
    tensor_type values_;
    tensor_type grads_;
};

}  // namespace hg
