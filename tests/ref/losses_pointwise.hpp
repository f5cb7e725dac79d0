// Naive references for the pointwise losses, the mask multiply and the face-mask weighting, written
// from the definitions with plain loops in double (independent of the library's formulas: log(cosh d)
// and pow() directly, L-inf by a full scan per (sample, channel)). Values are means over all elements
// (L-inf: over samples and channels); gradients are dL/dpred of those means.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>

#include "hourglass/core/shape.hpp"
#include "hourglass/core/tensor.hpp"

namespace hg::ref {

using tensor64 = basic_tensor<double>;

/// A pointwise loss: the per-element term and its derivative in d = pred - target.
struct pointwise_ref {
    std::function<double(double)> value;
    std::function<double(double)> grad;
};

inline pointwise_ref mae_ref() {
    return {[](double d) { return std::fabs(d); }, [](double d) { return d > 0 ? 1.0 : (d < 0 ? -1.0 : 0.0); }};
}

inline pointwise_ref mse_ref() {
    return {[](double d) { return d * d; }, [](double d) { return 2.0 * d; }};
}

/// log(cosh(d)) straight from the definition (fine in double for |d| < 700).
inline pointwise_ref log_cosh_ref() {
    return {[](double d) { return std::log(std::cosh(d)); }, [](double d) { return std::sinh(d) / std::cosh(d); }};
}

/// faceswap's GeneralizedLoss as written there: beta * |2-a|/a * (pow((d/beta)^2 / |2-a| + 1, a/2) - 1),
/// and its derivative by the power rule.
inline pointwise_ref charbonnier_ref(double alpha, double beta) {
    const double w = std::fabs(2.0 - alpha);
    return {[=](double d) {
                return beta * (w / alpha) * (std::pow((d / beta) * (d / beta) / w + 1.0, alpha / 2.0) - 1.0);
            },
            [=](double d) {
                const double base = (d / beta) * (d / beta) / w + 1.0;
                return beta * (w / alpha) * (alpha / 2.0) * std::pow(base, alpha / 2.0 - 1.0) * 2.0 * d /
                       (beta * beta * w);
            }};
}

template <class T>
double pointwise_value(const pointwise_ref& f, const basic_tensor<T>& pred, const basic_tensor<T>& target) {
    double s = 0.0;
    for (std::int64_t i = 0; i < pred.numel(); ++i)
        s += f.value(static_cast<double>(pred[i]) - static_cast<double>(target[i]));
    return s / static_cast<double>(pred.numel());
}

/// dL/dpred of the mean.
template <class T>
tensor64 pointwise_grad(const pointwise_ref& f, const basic_tensor<T>& pred, const basic_tensor<T>& target) {
    auto g = tensor64::empty(pred.shape());
    for (std::int64_t i = 0; i < pred.numel(); ++i)
        g[i] = f.grad(static_cast<double>(pred[i]) - static_cast<double>(target[i])) / static_cast<double>(pred.numel());
    return g;
}

/// L-inf: for each (n, c) the max over (h, w) of |d|, first position on ties; value = mean of the maxima.
template <class T>
double linf_value(const basic_tensor<T>& pred, const basic_tensor<T>& target) {
    const shape& s = pred.shape();
    double sum = 0.0;
    for (std::int64_t n = 0; n < s.n(); ++n)
        for (std::int64_t c = 0; c < s.c(); ++c) {
            double best = -1.0;
            for (std::int64_t h = 0; h < s.h(); ++h)
                for (std::int64_t w = 0; w < s.w(); ++w)
                    best = std::max(best, std::fabs(static_cast<double>(pred.at(n, h, w, c)) -
                                                    static_cast<double>(target.at(n, h, w, c))));
            sum += best;
        }
    return sum / static_cast<double>(s.n() * s.c());
}

template <class T>
tensor64 linf_grad(const basic_tensor<T>& pred, const basic_tensor<T>& target) {
    const shape& s = pred.shape();
    auto g = tensor64::zeros(s);
    for (std::int64_t n = 0; n < s.n(); ++n)
        for (std::int64_t c = 0; c < s.c(); ++c) {
            double best = -1.0;
            std::int64_t bh = 0, bw = 0;
            for (std::int64_t h = 0; h < s.h(); ++h)
                for (std::int64_t w = 0; w < s.w(); ++w) {
                    const double a = std::fabs(static_cast<double>(pred.at(n, h, w, c)) -
                                               static_cast<double>(target.at(n, h, w, c)));
                    if (a > best) {
                        best = a;
                        bh = h;
                        bw = w;
                    }
                }
            const double d = static_cast<double>(pred.at(n, bh, bw, c)) - static_cast<double>(target.at(n, bh, bw, c));
            g.at(n, bh, bw, c) = (d > 0 ? 1.0 : (d < 0 ? -1.0 : 0.0)) / static_cast<double>(s.n() * s.c());
        }
    return g;
}

/// x * (m * scale + offset), m [N,H,W,1] (broadcast over channels) or x's shape.
template <class T>
tensor64 mask_multiply(const basic_tensor<T>& x, const basic_tensor<T>& m, double scale = 1.0, double offset = 0.0) {
    const shape& s = x.shape();
    const bool broadcast = m.shape().c() == 1 && s.c() != 1;
    auto out = tensor64::empty(s);
    for (std::int64_t n = 0; n < s.n(); ++n)
        for (std::int64_t h = 0; h < s.h(); ++h)
            for (std::int64_t w = 0; w < s.w(); ++w)
                for (std::int64_t c = 0; c < s.c(); ++c) {
                    const double mv = static_cast<double>(m.at(n, h, w, broadcast ? 0 : c));
                    out.at(n, h, w, c) = static_cast<double>(x.at(n, h, w, c)) * (mv * scale + offset);
                }
    return out;
}

}  // namespace hg::ref
