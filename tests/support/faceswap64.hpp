// The 64 px face-swap encoder and decoder (faceswap's 'original'), as layer specs shared by the CPU
// and CUDA model tests.
#pragma once

#include "hourglass/hourglass.hpp"

namespace hg::test {

using encoder64 = hg::sequential<hg::conv2d<128, 5, 2>, hg::leaky_relu<0.1f>,   //
                                 hg::conv2d<256, 5, 2>, hg::leaky_relu<0.1f>,   //
                                 hg::conv2d<512, 5, 2>, hg::leaky_relu<0.1f>,   //
                                 hg::conv2d<1024, 5, 2>, hg::leaky_relu<0.1f>,  //
                                 hg::flatten, hg::dense<1024>, hg::dense<4 * 4 * 1024>, hg::reshape<4, 4, 1024>,
                                 hg::upscale<512>>;
using decoder64 = hg::sequential<hg::upscale<256>, hg::upscale<128>, hg::upscale<64>, hg::conv2d<3, 5>, hg::sigmoid>;

}  // namespace hg::test
