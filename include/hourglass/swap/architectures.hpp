// The face-swap autoencoder architectures (hg::swap), as layer specs: one shared encoder and
// a decoder per identity. Layer sizes follow faceswap's plugins/train/model/{original, lightweight,
// dfaker, dfl_h128}.py (github.com/deepfakes/faceswap; Conv2DBlock = 5x5 stride-2 conv + leaky ReLU
// 0.1; UpscaleBlock = 3x3 conv to 4F filters + leaky ReLU 0.1 + pixel shuffle; ResidualBlock = two
// 3x3 convs with leaky ReLU 0.2 and a skip, lib/model/nn_blocks.py). 'slim' and 'micro' are
// narrower variants of 'original' for the CPU: 'slim' is the CPU demo's model and 'micro' (32 px)
// is for tests. DeepFaceLab's SAEHD 'df' and 'liae' (-ud, default dims, 128 and 256 px) come from
// swap/saehd.hpp.
//
// Each architecture has decoder<C>: the last layer is a 5x5 conv to C channels with a sigmoid. C = 3
// is the face; C = 4 adds the learned mask head as a fourth channel. A 4-filter output conv with a
// per-channel sigmoid is the same function as faceswap's two output convs (3 face filters and 1 mask
// filter, each 5x5 with a sigmoid) over the same decoder features, so no branching layer is needed.
#pragma once

#include <string>
#include <vector>

#include "hourglass/layers/activation.hpp"
#include "hourglass/layers/conv2d.hpp"
#include "hourglass/layers/dense.hpp"
#include "hourglass/layers/pixel_shuffle.hpp"
#include "hourglass/layers/reshape.hpp"
#include "hourglass/layers/residual.hpp"
#include "hourglass/layers/sequential.hpp"
#include "hourglass/layers/upscale.hpp"
#include "hourglass/swap/blocks.hpp"
#include "hourglass/swap/saehd.hpp"

namespace hg::swap {

/// faceswap 'original': 64 px in and out.
struct original {
    static constexpr const char* name = "original";
    static constexpr int input = 64, output = 64;
    using encoder = sequential<down<128>, down<256>, down<512>, down<1024>, flatten, dense<1024>, dense<4 * 4 * 1024>,
                               reshape<4, 4, 1024>, upscale<512>>;
    template <int C>
    using decoder = sequential<upscale<256>, upscale<128>, upscale<64>, conv2d<C, 5>, sigmoid>;
};

/// faceswap 'lightweight': 'original' with one encoder block less and narrower dense layers.
struct lightweight {
    static constexpr const char* name = "lightweight";
    static constexpr int input = 64, output = 64;
    using encoder = sequential<down<128>, down<256>, down<512>, flatten, dense<512>, dense<4 * 4 * 512>,
                               reshape<4, 4, 512>, upscale<256>>;
    template <int C>
    using decoder = sequential<upscale<512>, upscale<256>, upscale<128>, conv2d<C, 5>, sigmoid>;
};

/// dfaker's upscale before a residual block: faceswap's UpscaleBlock(F, activation=None) followed by
/// LeakyReLU(alpha=0.2), i.e. hg::upscale with slope 0.2 instead of 0.1 (the slope commutes with the
/// pixel shuffle, which only moves values).
template <int F>
using upscale_lrelu02 = sequential<conv2d<4 * F, 3, 1, hg::initializer::icnr>, leaky_relu<0.2f>, hg::pixel_shuffle>;

/// faceswap 'dfaker' at output_size 128 (deepfakes/faceswap, plugins/train/model/dfaker.py): the
/// 'original' encoder (encoder_dim 1024) on 64 px input (output_size / 2); decoder from 8x8x512:
/// Upscale 512 + LReLU 0.2 + Res 512, Upscale 256 + LReLU 0.2 + Res 256, Upscale 128 + LReLU 0.2 +
/// Res 128, Upscale 64 (LReLU 0.1), 5x5 output conv: 128 px out.
struct dfaker {
    static constexpr const char* name = "dfaker";
    static constexpr int input = 64, output = 128;
    using encoder = original::encoder;
    template <int C>
    using decoder = sequential<upscale_lrelu02<512>, residual<512>, upscale_lrelu02<256>, residual<256>,
                               upscale_lrelu02<128>, residual<128>, upscale<64>, conv2d<C, 5>, sigmoid>;
};

/// faceswap 'dfl_h128' (deepfakes/faceswap, plugins/train/model/dfl_h128.py, encoder_dim 512, not
/// lowmem): 128 px in and out; Conv 128, 256, 512, 1024, Dense 512, Dense 8x8x512, Reshape, Upscale
/// 512 (16x16x512); decoder Upscale 512, 256, 128 and a 5x5 output conv.
struct dfl_h128 {
    static constexpr const char* name = "dfl-h128";
    static constexpr int input = 128, output = 128;
    using encoder = sequential<down<128>, down<256>, down<512>, down<1024>, flatten, dense<512>, dense<8 * 8 * 512>,
                               reshape<8, 8, 512>, upscale<512>>;
    template <int C>
    using decoder = sequential<upscale<512>, upscale<256>, upscale<128>, conv2d<C, 5>, sigmoid>;
};

/// 'original' at an eighth of the width (dense 256): the CPU demo's model, 64 px.
struct slim {
    static constexpr const char* name = "slim";
    static constexpr int input = 64, output = 64;
    using encoder = sequential<down<32>, down<64>, down<128>, down<256>, flatten, dense<256>, dense<4 * 4 * 256>,
                               reshape<4, 4, 256>, upscale<128>>;
    template <int C>
    using decoder = sequential<upscale<64>, upscale<32>, upscale<16>, conv2d<C, 5>, sigmoid>;
};

/// A 32 px toy with the same structure, for tests.
struct micro {
    static constexpr const char* name = "micro";
    static constexpr int input = 32, output = 32;
    using encoder = sequential<down<8>, down<16>, down<32>, flatten, dense<32>, dense<4 * 4 * 32>, reshape<4, 4, 32>,
                               upscale<16>>;
    template <int C>
    using decoder = sequential<upscale<8>, upscale<8>, conv2d<C, 5>, sigmoid>;
};

inline std::vector<std::string> architecture_names() {
    return {"original", "lightweight", "dfaker",  "dfl-h128",    "slim",       "micro",
            "df-ud-128", "df-ud-256",  "liae-ud-128", "liae-ud-256"};
}

/// Calls fn(Arch{}) for the architecture called `name`; value_error for an unknown name.
template <class Fn>
decltype(auto) with_architecture(const std::string& name, Fn&& fn) {
    if (name == original::name) return fn(original{});
    if (name == lightweight::name) return fn(lightweight{});
    if (name == dfaker::name) return fn(dfaker{});
    if (name == dfl_h128::name) return fn(dfl_h128{});
    if (name == slim::name) return fn(slim{});
    if (name == micro::name) return fn(micro{});
    if (name == df_ud_128::name) return fn(df_ud_128{});
    if (name == df_ud_256::name) return fn(df_ud_256{});
    if (name == liae_ud_128::name) return fn(liae_ud_128{});
    if (name == liae_ud_256::name) return fn(liae_ud_256{});
    std::string known;
    for (const auto& n : architecture_names()) known += (known.empty() ? "" : ", ") + n;
    throw hg::value_error("unknown architecture '" + name + "' (" + known + ")");
}

}  // namespace hg::swap
