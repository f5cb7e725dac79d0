// The 64 px face-swap encoder and decoder (faceswap's 'original', hg::swap::original), as the
// layer specs the CPU and CUDA model tests build.
#pragma once

#include "hourglass/hourglass.hpp"
#include "hourglass/swap/architectures.hpp"

namespace hg::test {

using encoder64 = hg::swap::original::encoder;
using decoder64 = hg::swap::original::decoder<3>;

}  // namespace hg::test
