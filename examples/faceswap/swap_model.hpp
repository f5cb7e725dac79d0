// swap_model<B, Arch, Mask>: the face-swap autoencoder on backend B - one shared encoder and the
// decoders of identity A and identity B (hg::model each, named "encoder", "decoder_a" and
// "decoder_b", so every parameter name starts with that prefix). A training step runs both sides:
// encoder + decoder A on faces of A, then encoder + decoder B on faces of B; the encoder's gradients
// add up over the two sides. With Mask the decoders have a fourth output channel, the learned mask.
// Also the host <-> backend copies and the channel split/merge the rest of the program uses.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "architectures.hpp"
#include "hourglass/hourglass.hpp"

namespace faceswap {

/// A copy of a host tensor on backend B.
template <class B>
hg::tensor to_backend(const B& be, const hg::tensor& host) {
    if constexpr (B::device == hg::device_kind::cpu) {
        auto t = be.empty(host.shape());
        std::copy_n(host.data(), host.numel(), t.data());
        return t;
    } else {
        return be.to_device(host);
    }
}

/// Channels [first, first + count) of a host [N, H, W, C] tensor, as a new [N, H, W, count] tensor.
inline hg::tensor channels_of(const hg::tensor& x, std::int64_t first, std::int64_t count) {
    const std::int64_t c = x.shape().c(), pixels = x.numel() / c;
    auto s = x.shape();
    auto out = hg::tensor::empty(hg::shape{s[0], s[1], s[2], count});
    for (std::int64_t p = 0; p < pixels; ++p)
        for (std::int64_t k = 0; k < count; ++k) out[p * count + k] = x[p * c + first + k];
    return out;
}

template <class B, class Arch, bool Mask>
class swap_model {
public:
    static constexpr int out_channels = Mask ? 4 : 3;
    using encoder_spec = typename Arch::encoder;
    using decoder_spec = typename Arch::template decoder<out_channels>;
    using encoder_type = hg::model<B, encoder_spec>;
    using decoder_type = hg::model<B, decoder_spec>;

    swap_model(B& be, std::uint64_t seed)
        : be_(be),
          encoder_(be, hg::shape{Arch::input, Arch::input, 3}, seed, "encoder"),
          decoder_a_(be, encoder_.output_shape(), seed + 1, "decoder_a"),
          decoder_b_(be, encoder_.output_shape(), seed + 2, "decoder_b") {
        if (decoder_a_.output_shape() != hg::shape{Arch::output, Arch::output, out_channels})
            throw hg::shape_error(std::string(Arch::name) + ": the decoder gives " + decoder_a_.output_shape().str());
    }

    B& backend() const { return be_; }
    static constexpr const char* architecture() { return Arch::name; }
    static constexpr int input_size() { return Arch::input; }
    static constexpr int output_size() { return Arch::output; }
    static constexpr bool has_mask() { return Mask; }

    encoder_type& encoder() { return encoder_; }
    decoder_type& decoder(int side) { return side == 0 ? decoder_a_ : decoder_b_; }

    std::int64_t parameter_count() const {
        return encoder_.parameter_count() + decoder_a_.parameter_count() + decoder_b_.parameter_count();
    }

    /// FLOPs of one training step with `batch` faces per side: each side runs the encoder and its
    /// decoder forward and backward, counted as 3x the forward FLOPs (hourglass/layers/flops.hpp).
    double training_step_flops(std::int64_t batch) {
        return 2.0 * hg::training_flops(encoder_, batch) + hg::training_flops(decoder_a_, batch) +
               hg::training_flops(decoder_b_, batch);
    }

    /// The three parameter sets, in checkpoint order.
    std::vector<const hg::parameters<B>*> parameter_sets() const {
        return {&encoder_.params(), &decoder_a_.params(), &decoder_b_.params()};
    }

    /// Encodes x ([N, in, in, 3] on the backend) and decodes it with decoder `side` (0: A, 1: B):
    /// [N, out, out, C], valid until the next forward of that decoder.
    const hg::tensor& forward(const hg::tensor& x, int side) { return decoder(side).forward(encoder_.forward(x)); }

    /// Backward of the last forward(x, side): adds into the decoder's and the encoder's gradients.
    void backward(const hg::tensor& dy, int side) {
        const hg::tensor& dz = decoder(side).backward(dy, true);
        encoder_.backward(dz, false);
    }

    void zero_grad() {
        encoder_.zero_grad();
        decoder_a_.zero_grad();
        decoder_b_.zero_grad();
    }

    /// Every named parameter as a host tensor (names "encoder/...", "decoder_a/...", "decoder_b/...").
    std::vector<std::pair<std::string, hg::tensor>> named_parameters() const {
        std::vector<std::pair<std::string, hg::tensor>> out;
        for (const auto* p : parameter_sets())
            for (std::size_t i = 0; i < p->size(); ++i) out.emplace_back(p->entry(i).name, be_.to_host(p->value(i)));
        return out;
    }

    /// Loads every parameter from `find(name)` (a host tensor pointer or nullptr); format_error
    /// naming the tensor when one is missing or has another shape.
    template <class Find>
    void load_parameters(Find&& find) {
        for (const auto* p : parameter_sets())
            for (std::size_t i = 0; i < p->size(); ++i) {
                const auto& e = p->entry(i);
                const hg::tensor* t = find(e.name);
                if (!t) throw hg::format_error("checkpoint: the tensor '" + e.name + "' is missing");
                if (t->shape() != e.shape)
                    throw hg::format_error("checkpoint: the tensor '" + e.name + "' has shape " + t->shape().str() +
                                           ", the model " + e.shape.str());
                hg::ops::copy(be_, to_backend(be_, *t), p->value(i));
            }
    }

private:
    B& be_;
    encoder_type encoder_;
    decoder_type decoder_a_, decoder_b_;
};

}  // namespace faceswap
