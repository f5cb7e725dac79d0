// The Laplacian pyramid loss (Bojanowski et al. 2018, built as faceswap's LaplacianPyramidLoss):
// the L1 distance between the band-pass levels of pred and target (and their low-pass remainder),
// level l weighted 4^-l. The kernels are ops::laplacian_pyramid_forward / backward
// (ops/laplacian_pyramid.hpp); this class holds the number of levels and the Gaussian sigma and
// follows the contract of losses/loss.hpp.
#pragma once

#include <cmath>
#include <string>

#include "hourglass/losses/loss.hpp"
#include "hourglass/ops/laplacian_pyramid.hpp"

namespace hg::losses {

class laplacian_pyramid {
public:
    /// levels: band-pass levels before the low-pass remainder, in [1, 16]; images need H, W >=
    /// 2^levels. sigma: of the 5x5 Gaussian blur, positive.
    explicit laplacian_pyramid(int levels = ops::laplacian_default_levels, double sigma = ops::laplacian_default_sigma)
        : levels_(levels), sigma_(sigma) {
        detail::require(levels >= 1 && levels <= ops::laplacian_max_levels, name(),
                        "the number of levels must be in [1, " + std::to_string(ops::laplacian_max_levels) + "], got " +
                            std::to_string(levels));
        detail::require(sigma > 0.0 && std::isfinite(sigma), name(),
                        "the Gaussian sigma must be positive and finite, got " + std::to_string(sigma));
    }

    std::string name() const { return "laplacian_pyramid"; }
    int levels() const { return levels_; }
    double sigma() const { return sigma_; }

    template <class B>
    void forward(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target, const tensor_of<B>& value) const {
        detail::check_pair<B>(name(), pred, target);
        ops::laplacian_pyramid_forward(be, pred, target, value, levels_, sigma_);
    }

    template <class B>
    void backward(const B& be, const tensor_of<B>& pred, const tensor_of<B>& target, double weight,
                  const tensor_of<B>& dpred) const {
        detail::require(std::isfinite(weight), name(), "the weight must be finite, got " + std::to_string(weight));
        detail::check_pair<B>(name(), pred, target);
        ops::laplacian_pyramid_backward(be, pred, target, weight, dpred, levels_, sigma_);
    }

private:
    int levels_;
    double sigma_;
};

}  // namespace hg::losses
