// DeepFaceLab's SAEHD architectures (iperov/DeepFaceLab, models/Model_SAEHD/Model.py and
// core/leras/archis/DeepFakeArchi.py) as layer specs: 'df' (one shared encoder + inter, a decoder
// per identity, the swap_model topology) and 'liae' (a shared encoder, two inters, one shared
// decoder: liae_model.hpp), with the archi options
//   -u  pixel normalisation of the flattened encoding (nn.pixel_norm, layers/pixel_norm.hpp)
//   -d  "double resolution": the dense code is Res/32 instead of Res/16 and the decoder's last
//       step is four output convolutions joined by a depth-to-space, so a Res px model computes
//       its decoder at Res/2
// and the dims ae (autoencoder), e (encoder), d (decoder) and d_mask (mask decoder) as template
// arguments. The blocks (DeepFakeArchi.py, mod None, no 't' or 'c' option):
//   Downscale(F)      5x5 stride-2 conv to F + leaky ReLU 0.1          = swap::down<F>
//   DownscaleBlock    Downscale(e), (2e), (4e), (8e)                    (ch * min(2^i, 8), 4 steps)
//   Upscale(F)        3x3 conv to 4F + leaky ReLU 0.1 + depth_to_space = hg::upscale<F>
//   ResidualBlock(F)  lrelu_0.2(conv3x3(lrelu_0.2(conv3x3(x))) + x)     = hg::residual<F>
//   Inter(ae, out)    Dense(ae), Dense(L * L * out), reshape [L, L, out], Upscale(out); L = Res/16
//                     (Res/32 with -d)
//   Decoder           face: Upscale(8d) Res(8d) Upscale(4d) Res(4d) Upscale(2d) Res(2d), a 1x1
//                     conv to 3 (with -d: that 1x1 conv and three 3x3 convs to 3, joined and
//                     depth-to-space'd), sigmoid; mask: Upscale(8m) Upscale(4m) Upscale(2m)
//                     [Upscale(m) with -d], a 1x1 conv to 1, sigmoid.
// The -d output's four convolutions read the same features, so the three 3x3 ones are one 3x3
// conv with 9 filters (the same function and parameter count): concat_branches<conv2d<3, 1>,
// conv2d<9, 3>> then pixel_shuffle gives TensorFlow's depth_to_space of DFL's concat((out_conv,
// out_conv1, out_conv2, out_conv3)). The face and mask branches read the same code: decoder<4> is
// concat_branches<face, mask> (channels 0-2 the face, 3 the mask), decoder<3> the face branch alone.
//
// Named architectures derive from a spec and add a name; a program may name its own dims the same
// way: struct my_df : hg::swap::saehd_df<192, 320, 72, 72, 24, true, true> { static constexpr
// const char* name = "my-df"; };
#pragma once

#include "hourglass/layers/activation.hpp"
#include "hourglass/layers/concat_branches.hpp"
#include "hourglass/layers/conv2d.hpp"
#include "hourglass/layers/dense.hpp"
#include "hourglass/layers/pixel_norm.hpp"
#include "hourglass/layers/pixel_shuffle.hpp"
#include "hourglass/layers/reshape.hpp"
#include "hourglass/layers/residual.hpp"
#include "hourglass/layers/sequential.hpp"
#include "hourglass/layers/upscale.hpp"
#include "hourglass/swap/blocks.hpp"

namespace hg::swap {

namespace saehd {

/// DownscaleBlock: four Downscales to e, 2e, 4e, 8e channels (Res -> Res/16).
template <int E>
using downscales = sequential<down<E>, down<2 * E>, down<4 * E>, down<8 * E>>;

/// The flattened encoding, pixel-normalised with -u.
template <bool U>
struct flat_code;
template <>
struct flat_code<false> {
    using type = flatten;
};
template <>
struct flat_code<true> {
    using type = sequential<flatten, pixel_norm>;
};

/// Inter: Dense(ae), Dense(L * L * out), reshape, Upscale(out) -> [2L, 2L, out].
template <int L, int AE, int Out>
using inter = sequential<dense<AE>, dense<L * L * Out>, reshape<L, L, Out>, upscale<Out>>;

/// The face branch's output step: a 1x1 conv to 3, or with -d four convs joined and shuffled.
template <bool Double>
struct face_output;
template <>
struct face_output<false> {
    using type = conv2d<3, 1>;
};
template <>
struct face_output<true> {
    using type = sequential<concat_branches<conv2d<3, 1>, conv2d<9, 3>>, pixel_shuffle>;
};

template <int D, bool Double>
using face = sequential<upscale<8 * D>, residual<8 * D>, upscale<4 * D>, residual<4 * D>, upscale<2 * D>,
                        residual<2 * D>, typename face_output<Double>::type, sigmoid>;

template <int M, bool Double>
struct mask;
template <int M>
struct mask<M, false> {
    using type = sequential<upscale<8 * M>, upscale<4 * M>, upscale<2 * M>, conv2d<1, 1>, sigmoid>;
};
template <int M>
struct mask<M, true> {
    using type = sequential<upscale<8 * M>, upscale<4 * M>, upscale<2 * M>, upscale<M>, conv2d<1, 1>, sigmoid>;
};

/// The decoder with C = 3 (face) or 4 (face and mask) output channels.
template <int D, int M, bool Double, int C>
struct decoder {
    static_assert(C == 3 || C == 4, "SAEHD decoders give 3 (face) or 4 (face + mask) channels");
};
template <int D, int M, bool Double>
struct decoder<D, M, Double, 3> {
    using type = face<D, Double>;
};
template <int D, int M, bool Double>
struct decoder<D, M, Double, 4> {
    using type = concat_branches<face<D, Double>, typename mask<M, Double>::type>;
};

/// Checks shared by both topologies.
template <int Res, int AE, int E, int D, int M, bool Double>
struct checked {
    static_assert(Res % (Double ? 32 : 16) == 0, "SAEHD: the resolution must be a multiple of 16 (32 with -d)");
    static_assert(AE >= 1 && E >= 1 && D >= 1 && M >= 1, "SAEHD: every dim must be at least 1");
    static constexpr int lowest = Res / (Double ? 32 : 16);  ///< DFL's lowest_dense_res
};

}  // namespace saehd

/// SAEHD 'df': encoder = DownscaleBlock + flatten [+ pixel norm] + Inter(ae, ae); one decoder per
/// identity reading the [Res/8, Res/8, ae] code (Res/16 with -d). Res px in and out.
template <int Res, int AE, int E, int D, int M, bool U, bool Double>
struct saehd_df {
    static constexpr int input = Res, output = Res;
    static constexpr int ae_dims = AE, e_dims = E, d_dims = D, d_mask_dims = M;
    static constexpr bool pixel_norm = U, double_res = Double;
    static constexpr int lowest = saehd::checked<Res, AE, E, D, M, Double>::lowest;
    using encoder = sequential<saehd::downscales<E>, typename saehd::flat_code<U>::type, saehd::inter<lowest, AE, AE>>;
    template <int C>
    using decoder = typename saehd::decoder<D, M, Double, C>::type;
};

/// SAEHD 'liae' (trained by liae_model): a shared encoder (DownscaleBlock + flatten [+ pixel
/// norm]), two inters Inter(ae, 2 ae) - inter_AB, which sees both identities, and inter_B, which
/// sees identity B only - and one decoder reading the two inters' codes joined on the channels
/// ([Res/8, Res/8, 4 ae]; Res/16 with -d).
template <int Res, int AE, int E, int D, int M, bool U, bool Double>
struct saehd_liae {
    static constexpr bool liae = true;
    static constexpr int input = Res, output = Res;
    static constexpr int ae_dims = AE, e_dims = E, d_dims = D, d_mask_dims = M;
    static constexpr bool pixel_norm = U, double_res = Double;
    static constexpr int lowest = saehd::checked<Res, AE, E, D, M, Double>::lowest;
    using encoder = sequential<saehd::downscales<E>, typename saehd::flat_code<U>::type>;
    using inter = saehd::inter<lowest, AE, 2 * AE>;
    template <int C>
    using decoder = typename saehd::decoder<D, M, Double, C>::type;
};

/// DeepFaceLab's default dims (ae 256, e 64, d 64, d_mask 22) with -u and -d, at 128 and 256 px.
struct df_ud_128 : saehd_df<128, 256, 64, 64, 22, true, true> {
    static constexpr const char* name = "df-ud-128";
};
struct df_ud_256 : saehd_df<256, 256, 64, 64, 22, true, true> {
    static constexpr const char* name = "df-ud-256";
};
struct liae_ud_128 : saehd_liae<128, 256, 64, 64, 22, true, true> {
    static constexpr const char* name = "liae-ud-128";
};
struct liae_ud_256 : saehd_liae<256, 256, 64, 64, 22, true, true> {
    static constexpr const char* name = "liae-ud-256";
};

/// Whether Arch is a LIAE architecture (trained by liae_model rather than swap_model).
template <class Arch>
inline constexpr bool is_liae = requires { requires Arch::liae; };

}  // namespace hg::swap
