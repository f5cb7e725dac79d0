// Per-element activation formulas shared by the CPU backend and the CUDA kernels.
// Each functor gives f(x) and the derivative expressed through the input x and output y = f(x),
// whichever is cheaper and more accurate: dx = dy * grad(x, y).
#pragma once

#include <cmath>

#include "hourglass/core/config.hpp"

namespace hg::math {

/// LeakyReLU: f(x) = x for x > 0, slope * x otherwise; f'(x) = 1 or slope.
struct leaky_relu_fn {
    float slope;
    template <class T>
    HG_HOST_DEVICE T forward(T x) const { return x > T(0) ? x : static_cast<T>(slope) * x; }
    template <class T>
    HG_HOST_DEVICE T grad(T x, T /*y*/) const { return x > T(0) ? T(1) : static_cast<T>(slope); }
};

/// ReLU: f(x) = max(x, 0); f'(x) = 1 for x > 0, else 0.
struct relu_fn {
    template <class T>
    HG_HOST_DEVICE T forward(T x) const { return x > T(0) ? x : T(0); }
    template <class T>
    HG_HOST_DEVICE T grad(T x, T /*y*/) const { return x > T(0) ? T(1) : T(0); }
};

/// Sigmoid: f(x) = 1 / (1 + e^-x), evaluated without overflow for large |x|; f'(x) = y (1 - y).
struct sigmoid_fn {
    template <class T>
    HG_HOST_DEVICE T forward(T x) const {
        using std::exp;
        if (x >= T(0)) return T(1) / (T(1) + exp(-x));
        const T e = exp(x);
        return e / (T(1) + e);
    }
    template <class T>
    HG_HOST_DEVICE T grad(T /*x*/, T y) const { return y * (T(1) - y); }
};

/// Tanh: f(x) = tanh(x); f'(x) = 1 - y^2.
struct tanh_fn {
    template <class T>
    HG_HOST_DEVICE T forward(T x) const {
        using std::tanh;
        return tanh(x);
    }
    template <class T>
    HG_HOST_DEVICE T grad(T /*x*/, T y) const { return T(1) - y * y; }
};

}  // namespace hg::math
