// sign(x), the derivative of |x| that every L1-type loss uses, shared by the CPU code and the CUDA
// kernels.
#pragma once

#include "hourglass/core/config.hpp"

namespace hg::math {

/// sign(d): 1 for d > 0, -1 for d < 0, d itself for d == +-0 (so 0, the subgradient of the kink)
/// and for NaN (so a NaN input gives a NaN gradient instead of a silent 0).
template <class T>
HG_HOST_DEVICE inline T sign_of(T d) {
    return d > T(0) ? T(1) : (d < T(0) ? T(-1) : d);
}

}  // namespace hg::math
