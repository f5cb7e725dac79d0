// The block every face-swap encoder starts from (hg::swap): faceswap's Conv2DBlock, DeepFaceLab's
// Downscale - a 5x5 stride-2 convolution to F filters and a leaky ReLU of slope 0.1.
#pragma once

#include "hourglass/layers/activation.hpp"
#include "hourglass/layers/conv2d.hpp"
#include "hourglass/layers/sequential.hpp"

namespace hg::swap {

template <int F>
using down = sequential<conv2d<F, 5, 2>, leaky_relu<0.1f>>;

}  // namespace hg::swap
