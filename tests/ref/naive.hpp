// Naive scalar references for the tests, written straight from the definitions with one loop per
// index (slow, obviously correct, independent of the library's kernels): conv2d forward,
// backward-data and backward-filter, dense forward/backward, the activations and their
// derivatives, depth_to_space / space_to_depth x2 in TensorFlow order, the residual block, the
// per-channel bias ops, the full reductions, and a few tensor helpers (element-type conversion,
// add, map). Only hg's tensor and shape types are used.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "hourglass/core/shape.hpp"
#include "hourglass/core/tensor.hpp"

namespace hg::ref {

/// A copy of `t` with elements converted to U (to run a reference in double on float data).
template <class U, class T>
basic_tensor<U> convert(const basic_tensor<T>& t) {
    auto out = basic_tensor<U>::empty(t.shape());
    for (std::int64_t i = 0; i < t.numel(); ++i) out[i] = static_cast<U>(t[i]);
    return out;
}

/// out[i] = a[i] + b[i].
template <class T>
basic_tensor<T> add(const basic_tensor<T>& a, const basic_tensor<T>& b) {
    if (a.numel() != b.numel()) throw std::invalid_argument("ref::add: element counts differ");
    auto out = basic_tensor<T>::empty(a.shape());
    for (std::int64_t i = 0; i < a.numel(); ++i) out[i] = a[i] + b[i];
    return out;
}

/// out[i] = f(a[i]).
template <class T, class F>
basic_tensor<T> map(const basic_tensor<T>& a, F f) {
    auto out = basic_tensor<T>::empty(a.shape());
    for (std::int64_t i = 0; i < a.numel(); ++i) out[i] = f(a[i]);
    return out;
}

// ---- conv2d: NHWC x [N, H, W, C], KRSC w [K, R, R, C], bias b [K] (undefined: no bias) ----------

/// Element (i0, i1, i2, i3) of a rank-4 tensor t (row-major), without per-access checks.
template <class T>
struct at4 {
    T* p;
    std::int64_t d1, d2, d3;
    explicit at4(const basic_tensor<T>& t) : p(t.data()), d1(t.shape()[1]), d2(t.shape()[2]), d3(t.shape()[3]) {}
    T& operator()(std::int64_t i0, std::int64_t i1, std::int64_t i2, std::int64_t i3) const {
        return p[((i0 * d1 + i1) * d2 + i2) * d3 + i3];
    }
};

/// Output extent for input extent `in`, square odd kernel r, zero padding r / 2 on each side.
inline std::int64_t conv_out(std::int64_t in, std::int64_t r, std::int64_t stride) {
    return (in + 2 * (r / 2) - r) / stride + 1;
}

/// y[n, oy, ox, k] = b[k] + sum_{ky, kx, c} x[n, oy*s - p + ky, ox*s - p + kx, c] * w[k, ky, kx, c],
/// where input positions outside the image are zero.
template <class T>
basic_tensor<T> conv2d_forward(const basic_tensor<T>& x, const basic_tensor<T>& w, const basic_tensor<T>& b,
                               std::int64_t stride) {
    const shape& xs = x.shape();
    const std::int64_t n_ = xs[0], h = xs[1], wd = xs[2], c_ = xs[3];
    const std::int64_t k_ = w.shape()[0], r = w.shape()[1], pad = r / 2;
    const std::int64_t oh = conv_out(h, r, stride), ow = conv_out(wd, r, stride);
    auto y = basic_tensor<T>::empty(shape{n_, oh, ow, k_});
    const at4<T> X(x), Wt(w), Y(y);
    for (std::int64_t n = 0; n < n_; ++n)
        for (std::int64_t oy = 0; oy < oh; ++oy)
            for (std::int64_t ox = 0; ox < ow; ++ox)
                for (std::int64_t k = 0; k < k_; ++k) {
                    T acc = b.defined() ? b[k] : T(0);
                    for (std::int64_t ky = 0; ky < r; ++ky)
                        for (std::int64_t kx = 0; kx < r; ++kx) {
                            const std::int64_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                            for (std::int64_t c = 0; c < c_; ++c) acc += X(n, iy, ix, c) * Wt(k, ky, kx, c);
                        }
                    Y(n, oy, ox, k) = acc;
                }
    return y;
}

/// dx[n, iy, ix, c] = sum over every (oy, ox, k, ky, kx) with oy*s - p + ky = iy and
/// ox*s - p + kx = ix of dy[n, oy, ox, k] * w[k, ky, kx, c] (gathered per input pixel).
template <class T>
basic_tensor<T> conv2d_backward_data(const basic_tensor<T>& dy, const basic_tensor<T>& w, const shape& x_shape,
                                     std::int64_t stride) {
    const std::int64_t n_ = x_shape[0], h = x_shape[1], wd = x_shape[2], c_ = x_shape[3];
    const std::int64_t k_ = w.shape()[0], r = w.shape()[1], pad = r / 2;
    const std::int64_t oh = dy.shape()[1], ow = dy.shape()[2];
    auto dx = basic_tensor<T>::zeros(x_shape);
    const at4<T> DY(dy), Wt(w), DX(dx);
    for (std::int64_t n = 0; n < n_; ++n)
        for (std::int64_t iy = 0; iy < h; ++iy)
            for (std::int64_t ix = 0; ix < wd; ++ix)
                for (std::int64_t ky = 0; ky < r; ++ky) {
                    const std::int64_t ty = iy + pad - ky;  // = oy * stride
                    if (ty < 0 || ty % stride != 0 || ty / stride >= oh) continue;
                    for (std::int64_t kx = 0; kx < r; ++kx) {
                        const std::int64_t tx = ix + pad - kx;  // = ox * stride
                        if (tx < 0 || tx % stride != 0 || tx / stride >= ow) continue;
                        for (std::int64_t k = 0; k < k_; ++k) {
                            const T g = DY(n, ty / stride, tx / stride, k);
                            for (std::int64_t c = 0; c < c_; ++c) DX(n, iy, ix, c) += g * Wt(k, ky, kx, c);
                        }
                    }
                }
    return dx;
}

template <class T>
struct param_grads {
    basic_tensor<T> dw, db;
};

/// dw[k, ky, kx, c] = sum_{n, oy, ox} dy[n, oy, ox, k] * x[n, oy*s - p + ky, ox*s - p + kx, c];
/// db[k] = sum_{n, oy, ox} dy[n, oy, ox, k] (both summed over output pixels in order).
template <class T>
param_grads<T> conv2d_backward_filter(const basic_tensor<T>& x, const basic_tensor<T>& dy, std::int64_t r,
                                      std::int64_t stride) {
    const shape& xs = x.shape();
    const std::int64_t n_ = xs[0], h = xs[1], wd = xs[2], c_ = xs[3];
    const std::int64_t oh = dy.shape()[1], ow = dy.shape()[2], k_ = dy.shape()[3], pad = r / 2;
    param_grads<T> g{basic_tensor<T>::zeros(shape{k_, r, r, c_}), basic_tensor<T>::zeros(shape{k_})};
    const at4<T> X(x), DY(dy), DW(g.dw);
    for (std::int64_t n = 0; n < n_; ++n)
        for (std::int64_t oy = 0; oy < oh; ++oy)
            for (std::int64_t ox = 0; ox < ow; ++ox)
                for (std::int64_t k = 0; k < k_; ++k) {
                    const T gy = DY(n, oy, ox, k);
                    g.db[k] += gy;
                    for (std::int64_t ky = 0; ky < r; ++ky)
                        for (std::int64_t kx = 0; kx < r; ++kx) {
                            const std::int64_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                            for (std::int64_t c = 0; c < c_; ++c) DW(k, ky, kx, c) += gy * X(n, iy, ix, c);
                        }
                }
    return g;
}

// ---- dense: x [N, ...] read as [N, in], w [out, in], b [out] (undefined: no bias), y [N, out] ---

/// y[n, o] = b[o] + sum_i x[n, i] * w[o, i].
template <class T>
basic_tensor<T> dense_forward(const basic_tensor<T>& x, const basic_tensor<T>& w, const basic_tensor<T>& b) {
    const std::int64_t n_ = x.shape()[0], in = x.numel() / n_, out = w.shape()[0];
    auto y = basic_tensor<T>::empty(shape{n_, out});
    for (std::int64_t n = 0; n < n_; ++n)
        for (std::int64_t o = 0; o < out; ++o) {
            T acc = b.defined() ? b[o] : T(0);
            for (std::int64_t i = 0; i < in; ++i) acc += x[n * in + i] * w[o * in + i];
            y[n * out + o] = acc;
        }
    return y;
}

/// dx[n, i] = sum_o dy[n, o] * w[o, i], shaped like x.
template <class T>
basic_tensor<T> dense_backward_data(const basic_tensor<T>& dy, const basic_tensor<T>& w, const shape& x_shape) {
    const std::int64_t n_ = x_shape[0], in = x_shape.numel() / n_, out = w.shape()[0];
    auto dx = basic_tensor<T>::empty(x_shape);
    for (std::int64_t n = 0; n < n_; ++n)
        for (std::int64_t i = 0; i < in; ++i) {
            T acc = T(0);
            for (std::int64_t o = 0; o < out; ++o) acc += dy[n * out + o] * w[o * in + i];
            dx[n * in + i] = acc;
        }
    return dx;
}

/// dw[o, i] = sum_n dy[n, o] * x[n, i];  db[o] = sum_n dy[n, o].
template <class T>
param_grads<T> dense_backward_filter(const basic_tensor<T>& x, const basic_tensor<T>& dy) {
    const std::int64_t n_ = x.shape()[0], in = x.numel() / n_, out = dy.numel() / n_;
    param_grads<T> g{basic_tensor<T>::empty(shape{out, in}), basic_tensor<T>::empty(shape{out})};
    for (std::int64_t o = 0; o < out; ++o) {
        for (std::int64_t i = 0; i < in; ++i) {
            T acc = T(0);
            for (std::int64_t n = 0; n < n_; ++n) acc += dy[n * out + o] * x[n * in + i];
            g.dw[o * in + i] = acc;
        }
        T acc = T(0);
        for (std::int64_t n = 0; n < n_; ++n) acc += dy[n * out + o];
        g.db[o] = acc;
    }
    return g;
}

// ---- activations ----------------------------------------------------------------------------

enum class act { leaky_relu, relu, sigmoid, tanh };

/// f(x): LeakyReLU x or slope * x; ReLU max(x, 0); sigmoid 1 / (1 + e^-x); tanh.
template <class T>
T activation(act a, T x, T slope = T(0)) {
    switch (a) {
        case act::leaky_relu: return x > T(0) ? x : slope * x;
        case act::relu: return x > T(0) ? x : T(0);
        case act::sigmoid: return T(1) / (T(1) + std::exp(-x));
        case act::tanh: return std::tanh(x);
    }
    return T(0);
}

/// f'(x): LeakyReLU 1 or slope; ReLU 1 or 0; sigmoid e^-|x| / (1 + e^-|x|)^2 (even in x);
/// tanh 1 / cosh(x)^2.
template <class T>
T activation_grad(act a, T x, T slope = T(0)) {
    switch (a) {
        case act::leaky_relu: return x > T(0) ? T(1) : slope;
        case act::relu: return x > T(0) ? T(1) : T(0);
        case act::sigmoid: {
            const T e = std::exp(-std::abs(x));
            return e / ((T(1) + e) * (T(1) + e));
        }
        case act::tanh: {
            const T ch = std::cosh(x);
            return T(1) / (ch * ch);
        }
    }
    return T(0);
}

template <class T>
basic_tensor<T> activation_forward(act a, const basic_tensor<T>& x, T slope = T(0)) {
    return map(x, [&](T v) { return activation(a, v, slope); });
}

/// dx[i] = dy[i] * f'(x[i]).
template <class T>
basic_tensor<T> activation_backward(act a, const basic_tensor<T>& x, const basic_tensor<T>& dy, T slope = T(0)) {
    auto dx = basic_tensor<T>::empty(x.shape());
    for (std::int64_t i = 0; i < x.numel(); ++i) dx[i] = dy[i] * activation_grad(a, x[i], slope);
    return dx;
}

// ---- pixel shuffle x2, TensorFlow depth-to-space order ----------------------------------------

/// in [N, H, W, 4C] -> out [N, 2H, 2W, C], out[n, 2h + dy, 2w + dx, c] = in[n, h, w, (dy*2 + dx)*C + c].
template <class T>
basic_tensor<T> depth_to_space(const basic_tensor<T>& in) {
    const shape& s = in.shape();
    const std::int64_t n_ = s[0], h_ = s[1], w_ = s[2], c_ = s[3] / 4;
    auto out = basic_tensor<T>::empty(shape{n_, 2 * h_, 2 * w_, c_});
    for (std::int64_t n = 0; n < n_; ++n)
        for (std::int64_t h = 0; h < h_; ++h)
            for (std::int64_t w = 0; w < w_; ++w)
                for (std::int64_t dy = 0; dy < 2; ++dy)
                    for (std::int64_t dx = 0; dx < 2; ++dx)
                        for (std::int64_t c = 0; c < c_; ++c)
                            out.at(n, 2 * h + dy, 2 * w + dx, c) = in.at(n, h, w, (dy * 2 + dx) * c_ + c);
    return out;
}

/// in [N, 2H, 2W, C] -> out [N, H, W, 4C], out[n, h, w, (dy*2 + dx)*C + c] = in[n, 2h + dy, 2w + dx, c].
template <class T>
basic_tensor<T> space_to_depth(const basic_tensor<T>& in) {
    const shape& s = in.shape();
    const std::int64_t n_ = s[0], h_ = s[1] / 2, w_ = s[2] / 2, c_ = s[3];
    auto out = basic_tensor<T>::empty(shape{n_, h_, w_, 4 * c_});
    for (std::int64_t n = 0; n < n_; ++n)
        for (std::int64_t h = 0; h < h_; ++h)
            for (std::int64_t w = 0; w < w_; ++w)
                for (std::int64_t dy = 0; dy < 2; ++dy)
                    for (std::int64_t dx = 0; dx < 2; ++dx)
                        for (std::int64_t c = 0; c < c_; ++c)
                            out.at(n, h, w, (dy * 2 + dx) * c_ + c) = in.at(n, 2 * h + dy, 2 * w + dx, c);
    return out;
}

// ---- per-channel bias on NHWC (channel = last extent) and full reductions ---------------------

/// out[..., k] = y[..., k] + b[k].
template <class T>
basic_tensor<T> bias_add(const basic_tensor<T>& y, const basic_tensor<T>& b) {
    auto out = basic_tensor<T>::empty(y.shape());
    const std::int64_t k_ = b.numel();
    for (std::int64_t i = 0; i < y.numel(); ++i) out[i] = y[i] + b[i % k_];
    return out;
}

/// g[k] = sum over every other index of dy[..., k], for `channels` channels.
template <class T>
basic_tensor<T> bias_grad(const basic_tensor<T>& dy, std::int64_t channels) {
    auto g = basic_tensor<T>::empty(shape{channels});
    for (std::int64_t k = 0; k < channels; ++k) {
        T acc = T(0);
        for (std::int64_t r = 0; r < dy.numel() / channels; ++r) acc += dy[r * channels + k];
        g[k] = acc;
    }
    return g;
}

/// sum_i x[i].
template <class T>
T sum(const basic_tensor<T>& x) {
    T acc = T(0);
    for (std::int64_t i = 0; i < x.numel(); ++i) acc += x[i];
    return acc;
}

/// sum_i |x[i]| (the scale of a sum's rounding error).
template <class T>
T sum_abs(const basic_tensor<T>& x) {
    T acc = T(0);
    for (std::int64_t i = 0; i < x.numel(); ++i) acc += std::abs(x[i]);
    return acc;
}

/// max_i |x[i]|, NaN when any element is NaN.
template <class T>
T max_abs(const basic_tensor<T>& x) {
    T m = T(0);
    for (std::int64_t i = 0; i < x.numel(); ++i) {
        if (std::isnan(x[i])) return std::numeric_limits<T>::quiet_NaN();
        m = std::abs(x[i]) > m ? std::abs(x[i]) : m;
    }
    return m;
}

/// sqrt(sum_i x[i]^2).
template <class T>
T l2_norm(const basic_tensor<T>& x) {
    T acc = T(0);
    for (std::int64_t i = 0; i < x.numel(); ++i) acc += x[i] * x[i];
    return std::sqrt(acc);
}

// ---- residual block: y = lrelu_0.2(conv3x3_2(lrelu_0.2(conv3x3_1(x))) + x) ----------------------

template <class T>
basic_tensor<T> residual_forward(const basic_tensor<T>& x, const basic_tensor<T>& w1, const basic_tensor<T>& b1,
                                 const basic_tensor<T>& w2, const basic_tensor<T>& b2, T slope) {
    const auto h = activation_forward(act::leaky_relu, conv2d_forward(x, w1, b1, 1), slope);
    return activation_forward(act::leaky_relu, add(conv2d_forward(h, w2, b2, 1), x), slope);
}

template <class T>
struct residual_grads {
    basic_tensor<T> dx;
    param_grads<T> conv1, conv2;
};

/// The chain rule through residual_forward, one step per line of the forward formula.
template <class T>
residual_grads<T> residual_backward(const basic_tensor<T>& x, const basic_tensor<T>& w1, const basic_tensor<T>& b1,
                                    const basic_tensor<T>& w2, const basic_tensor<T>& b2, T slope,
                                    const basic_tensor<T>& dy) {
    const auto a = conv2d_forward(x, w1, b1, 1);
    const auto h = activation_forward(act::leaky_relu, a, slope);
    const auto s = add(conv2d_forward(h, w2, b2, 1), x);
    const auto ds = activation_backward(act::leaky_relu, s, dy, slope);
    const auto dh = conv2d_backward_data(ds, w2, h.shape(), 1);
    const auto da = activation_backward(act::leaky_relu, a, dh, slope);
    residual_grads<T> g;
    g.conv2 = conv2d_backward_filter(h, ds, w2.shape()[1], 1);
    g.conv1 = conv2d_backward_filter(x, da, w1.shape()[1], 1);
    g.dx = add(conv2d_backward_data(da, w1, x.shape(), 1), ds);
    return g;
}

// ---- pixel norm: y[n, :] = x[n, :] / sqrt(mean(x[n, :]^2) + eps) ----------------------------------

template <class T>
basic_tensor<T> pixel_norm_forward(const basic_tensor<T>& x, T eps) {
    auto y = basic_tensor<T>::empty(x.shape());
    const std::int64_t n = x.shape()[0], f = x.numel() / n;
    for (std::int64_t r = 0; r < n; ++r) {
        T ss = T(0);
        for (std::int64_t i = 0; i < f; ++i) ss += x[r * f + i] * x[r * f + i];
        for (std::int64_t i = 0; i < f; ++i) y[r * f + i] = x[r * f + i] / std::sqrt(ss / T(f) + eps);
    }
    return y;
}

/// dx_j = sum_i dy_i dy_i/dx_j with the full Jacobian of one row,
/// dy_i/dx_j = [i == j] s^(-1/2) - x_i x_j s^(-3/2) / F   (s = mean(x^2) + eps).
template <class T>
basic_tensor<T> pixel_norm_backward(const basic_tensor<T>& x, const basic_tensor<T>& dy, T eps) {
    auto dx = basic_tensor<T>::empty(x.shape());
    const std::int64_t n = x.shape()[0], f = x.numel() / n;
    for (std::int64_t r = 0; r < n; ++r) {
        T ss = T(0);
        for (std::int64_t i = 0; i < f; ++i) ss += x[r * f + i] * x[r * f + i];
        const T s = ss / T(f) + eps;
        for (std::int64_t j = 0; j < f; ++j) {
            T acc = T(0);
            for (std::int64_t i = 0; i < f; ++i) {
                const T jac = (i == j ? T(1) / std::sqrt(s) : T(0)) - x[r * f + i] * x[r * f + j] / (s * std::sqrt(s) * T(f));
                acc += dy[r * f + i] * jac;
            }
            dx[r * f + j] = acc;
        }
    }
    return dx;
}

// ---- joining and slicing the last axis ----------------------------------------------------------

/// [..., Ca] and [..., Cb] with the same leading extents -> [..., Ca + Cb].
template <class T>
basic_tensor<T> concat_last(const basic_tensor<T>& a, const basic_tensor<T>& b) {
    const int r = a.shape().rank();
    const std::int64_t ca = a.shape()[r - 1], cb = b.shape()[r - 1], rows = a.numel() / ca;
    shape s = r == 2 ? shape{a.shape()[0], ca + cb} : shape{a.shape()[0], a.shape()[1], a.shape()[2], ca + cb};
    auto out = basic_tensor<T>::empty(s);
    for (std::int64_t p = 0; p < rows; ++p) {
        for (std::int64_t c = 0; c < ca; ++c) out[p * (ca + cb) + c] = a[p * ca + c];
        for (std::int64_t c = 0; c < cb; ++c) out[p * (ca + cb) + ca + c] = b[p * cb + c];
    }
    return out;
}

/// Channels [first, first + count) of the last axis of x.
template <class T>
basic_tensor<T> slice_last(const basic_tensor<T>& x, std::int64_t first, std::int64_t count) {
    const int r = x.shape().rank();
    const std::int64_t c = x.shape()[r - 1], rows = x.numel() / c;
    shape s = r == 2 ? shape{x.shape()[0], count} : shape{x.shape()[0], x.shape()[1], x.shape()[2], count};
    auto out = basic_tensor<T>::empty(s);
    for (std::int64_t p = 0; p < rows; ++p)
        for (std::int64_t k = 0; k < count; ++k) out[p * count + k] = x[p * c + first + k];
    return out;
}

}  // namespace hg::ref
