// hg::swap::swap_model<B, Arch, Mask, K>: the face-swap autoencoder on backend B - one shared
// encoder and K >= 2 decoders, one per identity (hg::model each, named "encoder", "decoder_a",
// "decoder_b", "decoder_c", ...; every parameter name starts with that prefix). Side s of a
// training step runs encoder + decoder s on faces of identity s; the encoder's gradients add up
// over the sides. Swapping = encode a face of identity s, decode it with decoder t != s. With Mask
// the decoders have a fourth output channel, the learned mask. Named parameters, loading and
// decode_host come from model_access.hpp.
#pragma once

#include <array>
#include <memory>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "hourglass/data/host_batch.hpp"
#include "hourglass/layers/flops.hpp"
#include "hourglass/layers/model.hpp"
#include "hourglass/ops/elementwise.hpp"
#include "hourglass/swap/architectures.hpp"
#include "hourglass/swap/model_access.hpp"
#include "hourglass/train/named_parameters.hpp"

namespace hg::swap {

/// "a", "b", ... "z": the name of identity (side) s.
inline std::string side_name(int side) {
    if (side < 0 || side >= 26) throw value_error("side_name: side " + std::to_string(side) + " is out of a..z");
    return std::string(1, static_cast<char>('a' + side));
}

template <class B, class Arch, bool Mask, int K = 2>
class swap_model : public model_access<swap_model<B, Arch, Mask, K>> {
    static_assert(K >= 2 && K <= 26, "swap_model: K (the number of identities) must be in [2, 26]");

public:
    static constexpr int out_channels = Mask ? 4 : 3;
    static constexpr int identities = K;
    using encoder_spec = typename Arch::encoder;
    using decoder_spec = typename Arch::template decoder<out_channels>;
    using encoder_type = hg::model<B, encoder_spec>;
    using decoder_type = hg::model<B, decoder_spec>;

    /// Encoder initialised with `seed`, decoder s with seed + 1 + s.
    swap_model(B& be, std::uint64_t seed)
        : be_(be), encoder_(be, hg::shape{Arch::input, Arch::input, 3}, seed, "encoder") {
        for (int s = 0; s < K; ++s)
            decoders_[static_cast<std::size_t>(s)] = std::make_unique<decoder_type>(
                be, encoder_.output_shape(), seed + 1 + static_cast<std::uint64_t>(s), "decoder_" + side_name(s));
        if (decoder(0).output_shape() != hg::shape{Arch::output, Arch::output, out_channels})
            throw hg::shape_error(std::string(Arch::name) + ": the decoder gives " + decoder(0).output_shape().str());
    }

    B& backend() const { return be_; }
    static constexpr const char* architecture() { return Arch::name; }
    static constexpr int input_size() { return Arch::input; }
    static constexpr int output_size() { return Arch::output; }
    static constexpr bool has_mask() { return Mask; }

    encoder_type& encoder() { return encoder_; }
    decoder_type& decoder(int side) {
        if (side < 0 || side >= K)
            throw value_error("swap_model: side " + std::to_string(side) + " is out of [0, " + std::to_string(K) + ")");
        return *decoders_[static_cast<std::size_t>(side)];
    }

    std::int64_t parameter_count() const {
        std::int64_t n = encoder_.parameter_count();
        for (const auto& d : decoders_) n += d->parameter_count();
        return n;
    }

    /// FLOPs of one training step with `batch` faces per side: each side runs the encoder and its
    /// decoder forward and backward, counted as 3x the forward FLOPs (hourglass/layers/flops.hpp).
    double training_step_flops(std::int64_t batch) {
        double f = double(K) * hg::training_flops(encoder_, batch);
        for (auto& d : decoders_) f += hg::training_flops(*d, batch);
        return f;
    }

    /// The parameter sets, in checkpoint order: encoder, decoder a, decoder b, ...
    std::vector<const hg::parameters<B>*> parameter_sets() const {
        std::vector<const hg::parameters<B>*> out{&encoder_.params()};
        for (const auto& d : decoders_) out.push_back(&d->params());
        return out;
    }
    /// The network names in the order of parameter_sets().
    /// The networks that decode as identity `side`: "encoder + decoder_b".
    static std::string swap_path(int side) { return "encoder + decoder_" + side_name(side); }
    static std::vector<std::string> network_names() {
        std::vector<std::string> out{"encoder"};
        for (int s = 0; s < K; ++s) out.push_back("decoder_" + side_name(s));
        return out;
    }

    /// Encodes x ([N, in, in, 3] on the backend) and decodes it with decoder `side`:
    /// [N, out, out, C], valid until the next forward of that decoder.
    const hg::tensor& forward(const hg::tensor& x, int side) { return decoder(side).forward(encoder_.forward(x)); }

    /// Backward of the last forward(x, side): adds into the decoder's and the encoder's gradients.
    void backward(const hg::tensor& dy, int side) {
        const hg::tensor& dz = decoder(side).backward(dy, true);
        encoder_.backward(dz, false);
    }

    void zero_grad() {
        encoder_.zero_grad();
        for (auto& d : decoders_) d->zero_grad();
    }

private:
    B& be_;
    encoder_type encoder_;
    std::array<std::unique_ptr<decoder_type>, K> decoders_;
};

}  // namespace hg::swap
