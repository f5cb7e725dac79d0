// The normalised 1-D Gaussian window shared by the SSIM family and the Laplacian pyramid (host side;
// the kernels receive the taps as arguments).
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

namespace hg::math {

/// The normalised 1-D Gaussian taps w_k = exp(-(k - (size-1)/2)^2 / (2 sigma^2)) / sum, k < size.
/// For size 11 and sigma 1.5 these are scipy's gaussian_filter weights (truncate 3.5, radius 5) and
/// tf.image.ssim's; a 2-D window is the outer product of the taps with themselves.
inline std::vector<double> gaussian_taps(int size, double sigma) {
    std::vector<double> g(static_cast<std::size_t>(size));
    double sum = 0.0;
    for (int k = 0; k < size; ++k) {
        const double d = k - (size - 1) / 2.0;
        g[static_cast<std::size_t>(k)] = std::exp(-d * d / (2.0 * sigma * sigma));
        sum += g[static_cast<std::size_t>(k)];
    }
    for (double& v : g) v /= sum;
    return g;
}

}  // namespace hg::math
