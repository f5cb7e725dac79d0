// The face-swap autoencoder architectures of hourglass-swap, as layer specs: one shared encoder and
// a decoder per identity. Layer sizes follow faceswap's plugins/train/model/{original, lightweight,
// dfaker, dfl_h128}.py (Conv2DBlock = 5x5 stride-2 conv + leaky ReLU 0.1; UpscaleBlock = 3x3 conv
// to 4F filters + leaky ReLU 0.1 + pixel shuffle; ResidualBlock = two 3x3 convs with a skip). 'slim'
// and 'micro' are narrower variants of 'original' for the CPU: 'slim' is the CPU demo's model and
// 'micro' (32 px) is for tests.
//
// Each architecture has decoder<C>: the last layer is a 5x5 conv to C channels with a sigmoid. C = 3
// is the face; C = 4 adds the learned mask head as a fourth channel. A 4-filter output conv with a
// per-channel sigmoid is the same function as faceswap's two output convs (3 face filters and 1 mask
// filter, each 5x5 with a sigmoid) over the same decoder features, so no branching layer is needed.
#pragma once

#include <string>
#include <vector>

#include "hourglass/hourglass.hpp"

namespace faceswap {

using hg::conv2d;
using hg::dense;
using hg::flatten;
using hg::leaky_relu;
using hg::reshape;
using hg::residual;
using hg::sequential;
using hg::sigmoid;
using hg::upscale;

template <int F>
using down = sequential<conv2d<F, 5, 2>, leaky_relu<0.1f>>;  // faceswap's Conv2DBlock

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

/// faceswap 'dfaker': the 'original' encoder (64 px in), a decoder with residual blocks, 128 px out.
struct dfaker {
    static constexpr const char* name = "dfaker";
    static constexpr int input = 64, output = 128;
    using encoder = original::encoder;
    template <int C>
    using decoder = sequential<upscale<512>, residual<512>, upscale<256>, residual<256>, upscale<128>, residual<128>,
                               upscale<64>, conv2d<C, 5>, sigmoid>;
};

/// faceswap 'dfl_h128': 128 px in and out, a 512-wide bottleneck reshaped to 8x8x512.
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
    return {"original", "lightweight", "dfaker", "dfl-h128", "slim", "micro"};
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
    throw hg::value_error("unknown architecture '" + name + "' (original, lightweight, dfaker, dfl-h128, slim, micro)");
}

}  // namespace faceswap
