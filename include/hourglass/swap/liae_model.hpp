// hg::swap::liae_model<B, Arch, Mask>: DeepFaceLab's LIAE topology (Model_SAEHD, archi 'liae') for a
// saehd_liae architecture, with the interface of swap_model (named parameters, loading and
// decode_host from model_access.hpp) so the trainer, the swap and convert commands use either. Four networks, in checkpoint order: "encoder" (shared), "inter_ab" (sees
// both identities), "inter_a" (sees identity A only; DeepFaceLab's inter_B of the dst faces),
// "decoder" (one, shared). Each inter gives [L2, L2, 2 ae]; the decoder reads two of them joined on
// the channels:
//   decode as A:  code = [ inter_a(e) | inter_ab(e) ]      (DeepFaceLab's dst: [inter_B, inter_AB])
//   decode as B:  code = [ inter_ab(e) | inter_ab(e) ]     (DeepFaceLab's src: [inter_AB, inter_AB])
// with e = encoder(x). Identity A is the face being replaced (DeepFaceLab's dst, the video) and B
// the face put in (its src): the A-to-B swap of a face of A is DeepFaceLab's [inter_AB, inter_AB]
// code of a dst face, the direction LIAE is built for. Backward joins the gradients the same way:
// for B both halves of d(code) flow into inter_ab (their sum); for A the first half into inter_a and
// the second into inter_ab, and the encoder gets the sum of the inters' input gradients.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "hourglass/data/host_batch.hpp"
#include "hourglass/layers/flops.hpp"
#include "hourglass/layers/model.hpp"
#include "hourglass/ops/channels.hpp"
#include "hourglass/ops/elementwise.hpp"
#include "hourglass/swap/model_access.hpp"
#include "hourglass/swap/saehd.hpp"
#include "hourglass/swap/swap_model.hpp"
#include "hourglass/train/named_parameters.hpp"

namespace hg::swap {

template <class B, class Arch, bool Mask, int K = 2>
class liae_model : public model_access<liae_model<B, Arch, Mask, K>> {
    static_assert(K == 2, "liae_model: LIAE has two identities (A: its own inter and the shared one, B: the shared one)");
    static_assert(is_liae<Arch>, "liae_model: Arch must be a saehd_liae architecture");

public:
    using T = typename B::scalar;
    using tensor_type = basic_tensor<T>;
    static constexpr int out_channels = Mask ? 4 : 3;
    static constexpr int identities = 2;
    using encoder_type = hg::model<B, typename Arch::encoder>;
    using inter_type = hg::model<B, typename Arch::inter>;
    using decoder_type = hg::model<B, typename Arch::template decoder<out_channels>>;

    /// Encoder initialised with `seed`, inter_ab with seed + 1, inter_a seed + 2, decoder seed + 3.
    liae_model(B& be, std::uint64_t seed)
        : be_(be),
          encoder_(be, hg::shape{Arch::input, Arch::input, 3}, seed, "encoder"),
          inter_ab_(be, encoder_.output_shape(), seed + 1, "inter_ab"),
          inter_a_(be, encoder_.output_shape(), seed + 2, "inter_a"),
          decoder_(be, joined_shape(inter_ab_.output_shape()), seed + 3, "decoder") {
        if (decoder_.output_shape() != hg::shape{Arch::output, Arch::output, out_channels})
            throw hg::shape_error(std::string(Arch::name) + ": the decoder gives " + decoder_.output_shape().str());
    }

    B& backend() const { return be_; }
    static constexpr const char* architecture() { return Arch::name; }
    static constexpr int input_size() { return Arch::input; }
    static constexpr int output_size() { return Arch::output; }
    static constexpr bool has_mask() { return Mask; }

    encoder_type& encoder() { return encoder_; }
    inter_type& inter_ab() { return inter_ab_; }
    inter_type& inter_a() { return inter_a_; }
    decoder_type& decoder() { return decoder_; }

    std::int64_t parameter_count() const {
        return encoder_.parameter_count() + inter_ab_.parameter_count() + inter_a_.parameter_count() +
               decoder_.parameter_count();
    }

    /// FLOPs of one training step with `batch` faces per side (3x forward, layers/flops.hpp): both
    /// sides run the encoder, inter_ab and the decoder; side A also inter_a.
    double training_step_flops(std::int64_t batch) {
        return 2.0 * (hg::training_flops(encoder_, batch) + hg::training_flops(inter_ab_, batch) +
                      hg::training_flops(decoder_, batch)) +
               hg::training_flops(inter_a_, batch);
    }

    std::vector<const hg::parameters<B>*> parameter_sets() const {
        return {&encoder_.params(), &inter_ab_.params(), &inter_a_.params(), &decoder_.params()};
    }
    static std::vector<std::string> network_names() { return {"encoder", "inter_ab", "inter_a", "decoder"}; }
    /// The networks that decode as identity `side`: "encoder + inter_a|inter_ab + decoder" (A) or
    /// "encoder + inter_ab|inter_ab + decoder" (B).
    static std::string swap_path(int side) {
        return std::string("encoder + ") + (side == 0 ? "inter_a|inter_ab" : "inter_ab|inter_ab") + " + decoder";
    }

    /// Encodes x ([N, in, in, 3] on the backend) and decodes it as identity `side` (0 = A, 1 = B):
    /// [N, out, out, C], valid until the next forward.
    const tensor_type& forward(const tensor_type& x, int side) {
        check_side(side);
        const tensor_type& e = encoder_.forward(x);
        const tensor_type& ab = inter_ab_.forward(e);
        const tensor_type& first = side == 0 ? inter_a_.forward(e) : ab;
        const std::int64_t half = ab.shape().c();
        if (!code_.defined() || code_.shape().n() != ab.shape().n()) {
            code_ = be_.empty(hg::shape{ab.shape().n(), ab.shape().h(), ab.shape().w(), 2 * half});
            dhalf_ = be_.empty(ab.shape());
            dsecond_ = be_.empty(ab.shape());
            de_ = be_.empty(e.shape());
        }
        ops::copy_channels(be_, first, 0, code_, 0, half);
        ops::copy_channels(be_, ab, 0, code_, half, half);
        last_side_ = side;
        return decoder_.forward(code_);
    }

    /// Backward of the last forward(x, side): adds into the gradients of the networks it used.
    void backward(const tensor_type& dy, int side) {
        check_side(side);
        if (side != last_side_)
            throw value_error("liae_model: backward for side " + side_name(side) + " after a forward of side " +
                              (last_side_ < 0 ? std::string("(none)") : side_name(last_side_)));
        const tensor_type& dcode = decoder_.backward(dy, true);
        const std::int64_t half = dhalf_.shape().c();
        if (side == 0) {
            ops::copy_channels(be_, dcode, 0, dhalf_, 0, half);  // inter_a's half
            ops::copy(be_, inter_a_.backward(dhalf_, true), de_);
            ops::copy_channels(be_, dcode, half, dhalf_, 0, half);  // inter_ab's half
            ops::axpy(be_, T(1), inter_ab_.backward(dhalf_, true), de_);
        } else {
            // Both halves are inter_ab's output: its gradient is their sum.
            ops::copy_channels(be_, dcode, 0, dhalf_, 0, half);
            ops::copy_channels(be_, dcode, half, dsecond_, 0, half);
            ops::axpy(be_, T(1), dsecond_, dhalf_);
            ops::copy(be_, inter_ab_.backward(dhalf_, true), de_);
        }
        encoder_.backward(de_, false);
    }

    void zero_grad() {
        encoder_.zero_grad();
        inter_ab_.zero_grad();
        inter_a_.zero_grad();
        decoder_.zero_grad();
    }

private:
    static hg::shape joined_shape(const hg::shape& inter) { return hg::shape{inter[0], inter[1], 2 * inter[2]}; }
    static void check_side(int side) {
        if (side < 0 || side >= 2)
            throw value_error("liae_model: side " + std::to_string(side) + " is out of [0, 2)");
    }

    B& be_;
    encoder_type encoder_;
    inter_type inter_ab_, inter_a_;
    decoder_type decoder_;
    tensor_type code_, dhalf_, dsecond_, de_;  ///< the joined code and the backward's buffers
    int last_side_ = -1;
};

/// The model class that trains architecture Arch: liae_model for saehd_liae, swap_model otherwise.
template <class B, class Arch, bool Mask, int K = 2>
using model_for = std::conditional_t<is_liae<Arch>, liae_model<B, Arch, Mask, K>, swap_model<B, Arch, Mask, K>>;

}  // namespace hg::swap
