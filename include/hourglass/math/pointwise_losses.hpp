// Per-element terms of the pointwise reconstruction losses, shared by the CPU bodies
// (ops/pointwise_loss.hpp) and the CUDA kernels (cuda/pointwise_loss.cu). Each functor gives, for the
// difference d = pred - target of one element,
//   value(d)  the element's term (the loss is the mean of the terms over all elements)
//   grad(d)   its derivative d value / d d, which is also d value / d pred
// computed in the element type T (float on hg::cpu and hg::cuda, double on hg::cpu64).
#pragma once

#include <cmath>

#include "hourglass/core/config.hpp"
#include "hourglass/math/sign.hpp"

namespace hg::math {

/// MAE (L1): value |d|; grad sign(d) (0 at d == 0, the subgradient of the kink).
struct mae_fn {
    template <class T>
    HG_HOST_DEVICE T value(T d) const {
        using std::abs;
        return abs(d);
    }
    template <class T>
    HG_HOST_DEVICE T grad(T d) const { return sign_of(d); }
};

/// MSE (L2): value d^2; grad 2 d.
struct mse_fn {
    template <class T>
    HG_HOST_DEVICE T value(T d) const { return d * d; }
    template <class T>
    HG_HOST_DEVICE T grad(T d) const { return T(2) * d; }
};

/// LogCosh: value log(cosh(d)); grad tanh(d).
/// Two forms avoid both overflow and cancellation: for |d| <= 1, cosh(d) - 1 = 2 sinh(d/2)^2, so
/// log(cosh d) = log1p(2 sinh(|d|/2)^2), accurate down to tiny d (where the value is ~d^2/2 and the
/// large-|d| form would subtract two numbers near log 2); for |d| > 1,
/// log(cosh d) = |d| + log1p(exp(-2|d|)) - log 2, which never overflows.
struct log_cosh_fn {
    template <class T>
    HG_HOST_DEVICE T value(T d) const {
        using std::abs;
        using std::exp;
        using std::log1p;
        using std::sinh;
        const T a = abs(d);
        if (a <= T(1)) {
            const T s = sinh(T(0.5) * a);
            return log1p(T(2) * s * s);
        }
        return a + log1p(exp(T(-2) * a)) - T(0.693147180559945309417232121458176568);
    }
    template <class T>
    HG_HOST_DEVICE T grad(T d) const {
        using std::tanh;
        return tanh(d);
    }
};

/// Generalized Charbonnier (Barron's general robust loss, as faceswap's GeneralizedLoss computes it,
/// with faceswap's final scaling by beta folded into each term):
///   value(d) = beta * |2 - alpha| / alpha * ((q + 1)^(alpha / 2) - 1),  q = (d / beta)^2 / |2 - alpha|
///   grad(d)  = (d / beta) * (q + 1)^(alpha / 2 - 1)
/// (the chain rule: d/dd (q + 1)^(alpha/2) = alpha/2 (q + 1)^(alpha/2 - 1) * 2 d / (beta^2 |2 - alpha|)).
/// alpha = 1 gives sqrt(d^2 + beta^2) - beta, a smooth L1. The power minus one is evaluated as
/// expm1(alpha/2 * log1p(q)), exact for small q. Valid for finite alpha other than 0 and 2 and
/// finite beta > 0 (losses::charbonnier checks them); make() precomputes the constants in double.
struct charbonnier_fn {
    double scale = 0.0;      ///< beta * |2 - alpha| / alpha
    double inv_beta = 0.0;   ///< 1 / beta
    double inv_width = 0.0;  ///< 1 / |2 - alpha|
    double half_alpha = 0.0; ///< alpha / 2

    static charbonnier_fn make(double alpha, double beta) {
        const double width = alpha > 2.0 ? alpha - 2.0 : 2.0 - alpha;
        return charbonnier_fn{beta * width / alpha, 1.0 / beta, 1.0 / width, 0.5 * alpha};
    }

    template <class T>
    HG_HOST_DEVICE T value(T d) const {
        using std::expm1;
        using std::log1p;
        const T r = d * static_cast<T>(inv_beta);
        const T q = r * r * static_cast<T>(inv_width);
        return static_cast<T>(scale) * expm1(static_cast<T>(half_alpha) * log1p(q));
    }
    template <class T>
    HG_HOST_DEVICE T grad(T d) const {
        using std::exp;
        using std::log1p;
        const T r = d * static_cast<T>(inv_beta);
        const T q = r * r * static_cast<T>(inv_width);
        return r * exp((static_cast<T>(half_alpha) - T(1)) * log1p(q));
    }
};

}  // namespace hg::math
