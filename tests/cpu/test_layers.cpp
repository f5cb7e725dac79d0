// Every layer spec built through hg::model on the CPU backend (float and double, allocations
// poisoned with NaN) against the naive references of tests/ref/naive.hpp composed by hand: forward
// output, input gradient and parameter gradients, on several shapes and changing batch sizes.
// Also the initialisers (He / Glorot ranges and spread, zero biases, ICNR's identical sub-pixel
// outputs, seeding), gradient accumulation and parameter naming.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <vector>

#include "cpu/helpers.hpp"

namespace {

using hg::shape;
using hg::test::D;
using hg::test::random_tensor;
using dtensor = hg::basic_tensor<double>;
using params_t = std::vector<dtensor>;
namespace ref = hg::ref;

/// What the reference says a layer computes for input x, its parameters and output gradient dy.
struct layer_ref {
    dtensor y, dx;
    std::vector<dtensor> grads;  // one per parameter tensor, in declaration order
};

/// Builds model<B, Spec> for `sample` and gives it random parameters, then for each batch size in
/// turn (so the batch changes between calls) compares forward, the input gradient and every
/// parameter gradient with `reference`, and the parameter gradients again when no input gradient
/// is asked for.
template <class B, class Spec, class Ref>
void check_layer(const shape& sample, std::initializer_list<std::int64_t> batches, std::uint64_t seed,
                 Ref&& reference) {
    using T = typename B::scalar;
    const double tol = hg::test::tolerance<T>;
    B be;
    be.poison_allocations(true);
    hg::model<B, Spec> m(be, sample, seed);
    INFO(Spec::type_name() << " on " << hg::detail::batched(sample));
    // Random parameters, biases included (they start at zero, which would hide bias bugs).
    hg::test::fill_random(m.params().values(), seed + 7, -0.5, 0.5);
    const std::size_t count = m.params().layout().entries().size();
    params_t p;
    for (std::size_t i = 0; i < count; ++i) p.push_back(D(m.params().value(i)));

    for (const std::int64_t batch : batches) {
        INFO("batch " << batch);
        const auto x = random_tensor<T>(hg::detail::with_batch(batch, sample), seed + 10 * batch);
        const auto dy = random_tensor<T>(hg::detail::with_batch(batch, m.output_shape()), seed + 10 * batch + 1);
        const layer_ref r = reference(D(x), p, D(dy));

        const auto& y = m.forward(x);
        CHECK(y.shape() == hg::detail::with_batch(batch, m.output_shape()));
        CHECK(r.y.shape() == y.shape());
        HG_CHECK_CLOSE(y, r.y, tol);

        m.zero_grad();
        const auto& dx = m.backward(dy, true);
        CHECK(dx.shape() == x.shape());
        HG_CHECK_CLOSE(dx, r.dx, tol);
        REQUIRE(r.grads.size() == count);
        for (std::size_t i = 0; i < count; ++i) {
            INFO("parameter " << m.params().entry(i).name);
            HG_CHECK_CLOSE(m.params().grad(i), r.grads[i], tol);
        }

        m.zero_grad();
        m.backward(dy, false);
        for (std::size_t i = 0; i < count; ++i) {
            INFO("parameter " << m.params().entry(i).name << " (no input gradient)");
            HG_CHECK_CLOSE(m.params().grad(i), r.grads[i], tol);
        }
    }
}

layer_ref conv_ref(const dtensor& x, const params_t& p, const dtensor& dy, std::int64_t stride) {
    layer_ref r;
    r.y = ref::conv2d_forward(x, p[0], p[1], stride);
    r.dx = ref::conv2d_backward_data(dy, p[0], x.shape(), stride);
    auto g = ref::conv2d_backward_filter(x, dy, p[0].shape()[1], stride);
    r.grads = {g.dw, g.db};
    return r;
}

layer_ref dense_ref(const dtensor& x, const params_t& p, const dtensor& dy) {
    layer_ref r;
    r.y = ref::dense_forward(x, p[0], p[1]);
    r.dx = ref::dense_backward_data(dy, p[0], x.shape());
    auto g = ref::dense_backward_filter(x, dy);
    r.grads = {g.dw, g.db};
    return r;
}

auto activation_ref(ref::act kind, double slope = 0.0) {
    return [=](const dtensor& x, const params_t&, const dtensor& dy) {
        layer_ref r;
        r.y = ref::activation_forward(kind, x, slope);
        r.dx = ref::activation_backward(kind, x, dy, slope);
        return r;
    };
}

/// A reshape: same values, new shape.
layer_ref reshape_ref(const dtensor& x, const dtensor& dy, const shape& sample_out) {
    layer_ref r;
    r.y = x.clone().view(hg::detail::with_batch(x.shape()[0], sample_out));
    r.dx = dy.clone().view(x.shape());
    return r;
}

/// upscale<F>: a = conv3x3(x) + b, h = lrelu_0.1(a), y = depth_to_space(h).
layer_ref upscale_ref(const dtensor& x, const params_t& p, const dtensor& dy) {
    const double slope = static_cast<double>(0.1f);
    const auto a = ref::conv2d_forward(x, p[0], p[1], 1);
    layer_ref r;
    r.y = ref::depth_to_space(ref::activation_forward(ref::act::leaky_relu, a, slope));
    const auto da = ref::activation_backward(ref::act::leaky_relu, a, ref::space_to_depth(dy), slope);
    r.dx = ref::conv2d_backward_data(da, p[0], x.shape(), 1);
    auto g = ref::conv2d_backward_filter(x, da, 3, 1);
    r.grads = {g.dw, g.db};
    return r;
}

layer_ref residual_ref(const dtensor& x, const params_t& p, const dtensor& dy) {
    const double slope = static_cast<double>(0.2f);
    layer_ref r;
    r.y = ref::residual_forward(x, p[0], p[1], p[2], p[3], slope);
    auto g = ref::residual_backward(x, p[0], p[1], p[2], p[3], slope, dy);
    r.dx = g.dx;
    r.grads = {g.conv1.dw, g.conv1.db, g.conv2.dw, g.conv2.db};
    return r;
}

}  // namespace

TEST_CASE_TEMPLATE("layers: conv2d matches the reference (kernels 1/3/5, strides 1/2, odd sizes)", B, hg::cpu,
                   hg::cpu64) {
    auto s1 = [](const dtensor& x, const params_t& p, const dtensor& dy) { return conv_ref(x, p, dy, 1); };
    auto s2 = [](const dtensor& x, const params_t& p, const dtensor& dy) { return conv_ref(x, p, dy, 2); };
    check_layer<B, hg::conv2d<13, 3, 1>>(shape{5, 7, 3}, {2, 1}, 11, s1);
    check_layer<B, hg::conv2d<7, 5, 2>>(shape{6, 8, 5}, {1, 3}, 12, s2);
    check_layer<B, hg::conv2d<4, 1, 1>>(shape{3, 5, 6}, {3, 1}, 13, s1);
    check_layer<B, hg::conv2d<5, 1, 2>>(shape{4, 6, 3}, {2}, 14, s2);
    check_layer<B, hg::conv2d<3, 5, 1>>(shape{5, 3, 2}, {1, 2}, 15, s1);
    check_layer<B, hg::conv2d<6, 3, 2>>(shape{2, 2, 9}, {2, 1}, 16, s2);
}

TEST_CASE_TEMPLATE("layers: dense matches the reference on vector and image inputs", B, hg::cpu, hg::cpu64) {
    check_layer<B, hg::dense<13>>(shape{5, 7, 3}, {2, 1}, 21, dense_ref);
    check_layer<B, hg::dense<4>>(shape{9}, {1, 4}, 22, dense_ref);
    check_layer<B, hg::dense<1>>(shape{2, 3}, {3}, 23, dense_ref);
}

TEST_CASE_TEMPLATE("layers: activations match the reference", B, hg::cpu, hg::cpu64) {
    const auto slope01 = static_cast<double>(0.1f), slope02 = static_cast<double>(0.2f);
    check_layer<B, hg::leaky_relu<0.1f>>(shape{5, 7, 3}, {2, 1}, 31, activation_ref(ref::act::leaky_relu, slope01));
    check_layer<B, hg::leaky_relu<0.2f>>(shape{11}, {1, 3}, 32, activation_ref(ref::act::leaky_relu, slope02));
    check_layer<B, hg::relu>(shape{5, 7, 3}, {2, 1}, 33, activation_ref(ref::act::relu));
    check_layer<B, hg::sigmoid>(shape{4, 3, 5}, {1, 2}, 34, activation_ref(ref::act::sigmoid));
    check_layer<B, hg::tanh>(shape{13}, {3, 1}, 35, activation_ref(ref::act::tanh));
}

TEST_CASE_TEMPLATE("layers: flatten and reshape keep the values in NHWC order", B, hg::cpu, hg::cpu64) {
    check_layer<B, hg::flatten>(shape{5, 7, 3}, {2, 1}, 41, [](const dtensor& x, const params_t&, const dtensor& dy) {
        return reshape_ref(x, dy, shape{105});
    });
    check_layer<B, hg::reshape<7, 5, 3>>(shape{5, 7, 3}, {1, 2}, 42,
                                         [](const dtensor& x, const params_t&, const dtensor& dy) {
                                             return reshape_ref(x, dy, shape{7, 5, 3});
                                         });
    check_layer<B, hg::reshape<3, 4>>(shape{12}, {3}, 43, [](const dtensor& x, const params_t&, const dtensor& dy) {
        return reshape_ref(x, dy, shape{3, 4});
    });
}

TEST_CASE_TEMPLATE("layers: pixel_shuffle and pixel_unshuffle match the TensorFlow-order reference", B, hg::cpu,
                   hg::cpu64) {
    check_layer<B, hg::pixel_shuffle>(shape{3, 5, 8}, {2, 1}, 51,
                                      [](const dtensor& x, const params_t&, const dtensor& dy) {
                                          return layer_ref{ref::depth_to_space(x), ref::space_to_depth(dy), {}};
                                      });
    check_layer<B, hg::pixel_unshuffle>(shape{6, 4, 3}, {1, 2}, 52,
                                        [](const dtensor& x, const params_t&, const dtensor& dy) {
                                            return layer_ref{ref::space_to_depth(x), ref::depth_to_space(dy), {}};
                                        });
}

TEST_CASE_TEMPLATE("layers: upscale matches conv3x3 + leaky_relu(0.1) + depth_to_space", B, hg::cpu, hg::cpu64) {
    check_layer<B, hg::upscale<3>>(shape{5, 7, 6}, {2, 1}, 61, upscale_ref);
    check_layer<B, hg::upscale<2>>(shape{2, 3, 1}, {1, 3}, 62, upscale_ref);
}

TEST_CASE_TEMPLATE("layers: pixel_norm matches x / sqrt(mean(x^2) + 1e-6) per sample and its full Jacobian", B,
                   hg::cpu, hg::cpu64) {
    auto pn = [](const dtensor& x, const params_t&, const dtensor& dy) {
        return layer_ref{ref::pixel_norm_forward(x, 1e-6), ref::pixel_norm_backward(x, dy, 1e-6), {}};
    };
    check_layer<B, hg::pixel_norm>(shape{37}, {2, 1, 3}, 81, pn);
    check_layer<B, hg::pixel_norm>(shape{3, 4, 5}, {1, 2}, 82, pn);
    // Unit root mean square per sample, whatever the scale of the input.
    B be;
    hg::model<B, hg::pixel_norm> m(be, shape{64}, 1);
    auto x = random_tensor<typename B::scalar>(shape{2, 64}, 83);
    for (std::int64_t i = 64; i < 128; ++i) x[i] *= 1000;
    const auto& y = m.forward(x);
    for (std::int64_t n = 0; n < 2; ++n) {
        double ss = 0;
        for (std::int64_t i = 0; i < 64; ++i) ss += double(y[n * 64 + i]) * double(y[n * 64 + i]);
        CHECK(std::sqrt(ss / 64) == doctest::Approx(1.0).epsilon(1e-5));
    }
}

TEST_CASE("layers: pixel_norm refuses bad arguments with errors naming the op and the argument") {
    hg::cpu be;
    const auto x = random_tensor<float>(shape{2, 5}, 84);
    const auto y = hg::tensor::empty(shape{2, 5});
    CHECK_THROWS_WITH_AS(hg::ops::pixel_norm_forward(be, x, y, hg::tensor::empty(shape{3})),
                         doctest::Contains("pixel_norm_forward: argument 'r' has shape [3], expected [2]"), hg::shape_error);
    CHECK_THROWS_WITH_AS(hg::ops::pixel_norm_forward(be, x, hg::tensor::empty(shape{2, 4}), hg::tensor::empty(shape{2})),
                         doctest::Contains("argument 'y' has shape [2, 4]"), hg::shape_error);
    CHECK_THROWS_WITH_AS(hg::ops::pixel_norm_forward(be, random_tensor<float>(shape{5}, 85), hg::tensor::empty(shape{5}),
                                                     hg::tensor::empty(shape{5})),
                         doctest::Contains("must be [N, ...]"), hg::shape_error);
    CHECK_THROWS_WITH_AS(hg::ops::pixel_norm_backward(be, x, hg::tensor::empty(shape{2}), hg::tensor::empty(shape{2, 6}), y),
                         doctest::Contains("argument 'dy' has shape [2, 6]"), hg::shape_error);
    // The layer: a sample of the wrong size.
    hg::model<hg::cpu, hg::pixel_norm> m(be, shape{5}, 1);
    CHECK_THROWS_WITH_AS(m.forward(random_tensor<float>(shape{2, 6}, 86)), doctest::Contains("[N, 5]"), hg::shape_error);
}

TEST_CASE_TEMPLATE("layers: concat_branches joins two branches on the last axis and sums their input gradients", B,
                   hg::cpu, hg::cpu64) {
    // Two convolutions of the same image (DeepFaceLab's -d output: a 1x1 and a 3x3 conv joined).
    check_layer<B, hg::concat_branches<hg::conv2d<3, 1>, hg::conv2d<5, 3>>>(
        shape{5, 4, 6}, {2, 1}, 91, [](const dtensor& x, const params_t& p, const dtensor& dy) {
            const auto a = conv_ref(x, {p[0], p[1]}, ref::slice_last(dy, 0, 3), 1);
            const auto b = conv_ref(x, {p[2], p[3]}, ref::slice_last(dy, 3, 5), 1);
            layer_ref r;
            r.y = ref::concat_last(a.y, b.y);
            r.dx = ref::add(a.dx, b.dx);
            r.grads = {a.grads[0], a.grads[1], b.grads[0], b.grads[1]};
            return r;
        });
    // Two dense layers of a vector.
    check_layer<B, hg::concat_branches<hg::dense<3>, hg::dense<4>>>(
        shape{7}, {1, 3}, 92, [](const dtensor& x, const params_t& p, const dtensor& dy) {
            const auto a = dense_ref(x, {p[0], p[1]}, ref::slice_last(dy, 0, 3));
            const auto b = dense_ref(x, {p[2], p[3]}, ref::slice_last(dy, 3, 4));
            layer_ref r;
            r.y = ref::concat_last(a.y, b.y);
            r.dx = ref::add(a.dx, b.dx);
            r.grads = {a.grads[0], a.grads[1], b.grads[0], b.grads[1]};
            return r;
        });
}

TEST_CASE("layers: concat_branches refuses branches whose outputs cannot be joined") {
    hg::cpu be;
    // [4, 4, 3] and [2, 2, 3]: the spatial extents differ.
    CHECK_THROWS_WITH_AS((hg::model<hg::cpu, hg::concat_branches<hg::conv2d<3, 3>, hg::conv2d<3, 3, 2>>>(be, shape{4, 4, 2}, 1)),
                         doctest::Contains("differ in the last extent only"), hg::shape_error);
}

TEST_CASE_TEMPLATE("layers: residual matches lrelu(conv(lrelu(conv(x))) + x)", B, hg::cpu, hg::cpu64) {
    check_layer<B, hg::residual<5>>(shape{5, 7, 5}, {2, 1}, 71, residual_ref);
    check_layer<B, hg::residual<3>>(shape{4, 4, 3}, {1, 3}, 72, residual_ref);
}

namespace {

// Convolutions directly followed by activations (a sequential runs each such pair fused).
using conv_sigmoid = hg::sequential<hg::conv2d<5, 3>, hg::sigmoid>;
using conv_chain = hg::sequential<hg::relu, hg::conv2d<3, 3, 2>, hg::tanh,     // [8, 12, 3] -> [4, 6, 3]
                                  hg::conv2d<4, 1>, hg::leaky_relu<0.3f>,      // [4, 6, 4]
                                  hg::conv2d<6, 5, 2>, hg::relu>;              // [2, 3, 6]

layer_ref conv_sigmoid_ref(const dtensor& x, const params_t& p, const dtensor& dy) {
    const auto a = ref::conv2d_forward(x, p[0], p[1], 1);
    layer_ref r;
    r.y = ref::activation_forward(ref::act::sigmoid, a);
    const auto da = ref::activation_backward(ref::act::sigmoid, a, dy);
    r.dx = ref::conv2d_backward_data(da, p[0], x.shape(), 1);
    const auto g = ref::conv2d_backward_filter(x, da, 3, 1);
    r.grads = {g.dw, g.db};
    return r;
}

layer_ref conv_chain_ref(const dtensor& x, const params_t& p, const dtensor& dy) {
    using ref::act;
    const double s03 = static_cast<double>(0.3f);
    const auto h0 = ref::activation_forward(act::relu, x);
    const auto a1 = ref::conv2d_forward(h0, p[0], p[1], 2);
    const auto h1 = ref::activation_forward(act::tanh, a1);
    const auto a2 = ref::conv2d_forward(h1, p[2], p[3], 1);
    const auto h2 = ref::activation_forward(act::leaky_relu, a2, s03);
    const auto a3 = ref::conv2d_forward(h2, p[4], p[5], 2);
    layer_ref r;
    r.y = ref::activation_forward(act::relu, a3);
    const auto da3 = ref::activation_backward(act::relu, a3, dy);
    const auto g3 = ref::conv2d_backward_filter(h2, da3, 5, 2);
    const auto da2 = ref::activation_backward(act::leaky_relu, a2, ref::conv2d_backward_data(da3, p[4], h2.shape(), 2),
                                              s03);
    const auto g2 = ref::conv2d_backward_filter(h1, da2, 1, 1);
    const auto da1 = ref::activation_backward(act::tanh, a1, ref::conv2d_backward_data(da2, p[2], h1.shape(), 1));
    const auto g1 = ref::conv2d_backward_filter(h0, da1, 3, 2);
    r.dx = ref::activation_backward(act::relu, x, ref::conv2d_backward_data(da1, p[0], h0.shape(), 2));
    r.grads = {g1.dw, g1.db, g2.dw, g2.db, g3.dw, g3.db};
    return r;
}

}  // namespace

TEST_CASE_TEMPLATE("layers: convolutions followed by activations (run fused) match the reference", B, hg::cpu,
                   hg::cpu64) {
    check_layer<B, conv_sigmoid>(shape{5, 7, 3}, {2, 1}, 75, conv_sigmoid_ref);
    check_layer<B, conv_chain>(shape{8, 12, 3}, {1, 3, 2}, 76, conv_chain_ref);
}

namespace {

// A small encoder/decoder with nested sequentials: [4, 6, 3] -> [8, 12, 1].
using nested_net = hg::sequential<hg::sequential<hg::conv2d<8, 3, 2>, hg::leaky_relu<0.1f>>,  // [2, 3, 8]
                                  hg::flatten,                                                // [48]
                                  hg::dense<12>, hg::sigmoid,                                 // [12]
                                  hg::reshape<2, 3, 2>,                                       // [2, 3, 2]
                                  hg::upscale<3>,                                             // [4, 6, 3]
                                  hg::sequential<hg::residual<3>, hg::conv2d<4, 1>, hg::tanh>,  // [4, 6, 4]
                                  hg::pixel_shuffle>;                                         // [8, 12, 1]

/// nested_net composed by hand from the references, forward then the chain rule backwards.
layer_ref nested_ref(const dtensor& x, const params_t& p, const dtensor& dy) {
    const double s01 = static_cast<double>(0.1f), s02 = static_cast<double>(0.2f);
    const std::int64_t n = x.shape()[0];
    using ref::act;
    // Forward.
    const auto a0 = ref::conv2d_forward(x, p[0], p[1], 2);
    const auto h0 = ref::activation_forward(act::leaky_relu, a0, s01);
    const auto f = h0.view(shape{n, 48});
    const auto a1 = ref::dense_forward(f, p[2], p[3]);
    const auto r = ref::activation_forward(act::sigmoid, a1).view(shape{n, 2, 3, 2});
    const auto a2 = ref::conv2d_forward(r, p[4], p[5], 1);
    const auto u = ref::depth_to_space(ref::activation_forward(act::leaky_relu, a2, s01));
    const auto v = ref::residual_forward(u, p[6], p[7], p[8], p[9], s02);
    const auto a3 = ref::conv2d_forward(v, p[10], p[11], 1);
    layer_ref out;
    out.y = ref::depth_to_space(ref::activation_forward(act::tanh, a3));
    // Backward.
    const auto da3 = ref::activation_backward(act::tanh, a3, ref::space_to_depth(dy));
    const auto g3 = ref::conv2d_backward_filter(v, da3, 1, 1);
    const auto dv = ref::conv2d_backward_data(da3, p[10], v.shape(), 1);
    const auto gr = ref::residual_backward(u, p[6], p[7], p[8], p[9], s02, dv);
    const auto da2 = ref::activation_backward(act::leaky_relu, a2, ref::space_to_depth(gr.dx), s01);
    const auto g2 = ref::conv2d_backward_filter(r, da2, 3, 1);
    const auto dr = ref::conv2d_backward_data(da2, p[4], r.shape(), 1);
    const auto da1 = ref::activation_backward(act::sigmoid, a1, dr.view(a1.shape()));
    const auto g1 = ref::dense_backward_filter(f, da1);
    const auto df = ref::dense_backward_data(da1, p[2], f.shape());
    const auto da0 = ref::activation_backward(act::leaky_relu, a0, df.view(a0.shape()), s01);
    const auto g0 = ref::conv2d_backward_filter(x, da0, 3, 2);
    out.dx = ref::conv2d_backward_data(da0, p[0], x.shape(), 2);
    out.grads = {g0.dw, g0.db, g1.dw, g1.db, g2.dw, g2.db, gr.conv1.dw, gr.conv1.db, gr.conv2.dw, gr.conv2.db,
                 g3.dw, g3.db};
    return out;
}

}  // namespace

TEST_CASE_TEMPLATE("layers: nested sequential encoder/decoder matches the hand-composed reference", B, hg::cpu,
                   hg::cpu64) {
    check_layer<B, nested_net>(shape{4, 6, 3}, {2, 1, 3}, 81, nested_ref);
}

TEST_CASE("layers: nested sequential shapes and parameter names carry the layer path") {
    hg::cpu be;
    hg::model<hg::cpu, nested_net> m(be, shape{4, 6, 3}, 1);
    CHECK(m.output_shape() == shape{8, 12, 1});
    auto& net = m.network();
    CHECK(net.sample_shape(1) == shape{2, 3, 8});
    CHECK(net.sample_shape(2) == shape{48});
    CHECK(net.sample_shape(5) == shape{2, 3, 2});
    CHECK(net.sample_shape(6) == shape{4, 6, 3});
    CHECK(net.sample_shape(7) == shape{4, 6, 4});
    const auto& e = m.params().layout().entries();
    REQUIRE(e.size() == 12);
    CHECK(e[0].name == "model/0:sequential/0:conv2d<8, 3, 2>.w");
    CHECK(e[1].name == "model/0:sequential/0:conv2d<8, 3, 2>.b");
    CHECK(e[2].name == "model/2:dense<12>.w");
    CHECK(e[4].name == "model/5:upscale<3>/0:conv2d<12, 3, 1>.w");
    CHECK(e[6].name == "model/6:sequential/0:residual<3>/conv1.w");
    CHECK(e[9].name == "model/6:sequential/0:residual<3>/conv2.b");
    CHECK(e[10].name == "model/6:sequential/1:conv2d<4, 1, 1>.w");
    CHECK(e[2].shape == shape{12, 48});
    CHECK(m.parameter_count() == (8 * 27 + 8) + (12 * 48 + 12) + (12 * 18 + 12) + 2 * (3 * 27 + 3) + (4 * 3 + 4));
}

TEST_CASE("layers: forward and backward with the batch size changing between calls") {
    hg::cpu be;
    be.poison_allocations(true);
    hg::model<hg::cpu, nested_net> m(be, shape{4, 6, 3}, 5);
    hg::test::fill_random(m.params().values(), 96, -0.5, 0.5);
    params_t p;
    for (std::size_t i = 0; i < m.params().layout().entries().size(); ++i) p.push_back(D(m.params().value(i)));
    const auto x3 = random_tensor<float>(shape{3, 4, 6, 3}, 90);
    const auto x1 = random_tensor<float>(shape{1, 4, 6, 3}, 91);
    const auto y3 = m.forward(x3).clone();
    const auto y1 = m.forward(x1).clone();
    // Backward belongs to the last forward (batch 1).
    const auto dy1 = random_tensor<float>(shape{1, 8, 12, 1}, 92);
    m.zero_grad();
    const auto dx1 = m.backward(dy1, true).clone();
    const auto r1 = nested_ref(D(x1), p, D(dy1));
    HG_CHECK_CLOSE(y1, r1.y, 1e-5);
    HG_CHECK_CLOSE(dx1, r1.dx, 1e-5);
    HG_CHECK_CLOSE(m.params().grad(2), r1.grads[2], 1e-5);
    // Back to batch 3: the same result as the first call, bit for bit.
    HG_CHECK_EQUAL_TENSORS(m.forward(x3), y3);
    HG_CHECK_CLOSE(y3, nested_ref(D(x3), p, D(random_tensor<float>(shape{3, 8, 12, 1}, 93))).y, 1e-5);
    // And a larger batch than any before.
    const auto x5 = random_tensor<float>(shape{5, 4, 6, 3}, 94);
    const auto dy5 = random_tensor<float>(shape{5, 8, 12, 1}, 95);
    const auto& y5 = m.forward(x5);
    const auto r5 = nested_ref(D(x5), p, D(dy5));
    HG_CHECK_CLOSE(y5, r5.y, 1e-5);
    m.zero_grad();
    HG_CHECK_CLOSE(m.backward(dy5, true), r5.dx, 1e-5);
    HG_CHECK_CLOSE(m.params().grad(0), r5.grads[0], 1e-5);
}

TEST_CASE("layers: backward adds into the parameter gradients") {
    hg::cpu be;
    be.poison_allocations(true);
    hg::model<hg::cpu, hg::sequential<hg::conv2d<4, 3>, hg::tanh, hg::dense<3>>> m(be, shape{3, 5, 2}, 3);
    const auto x = random_tensor<float>(shape{2, 3, 5, 2}, 100);
    const auto dy = random_tensor<float>(shape{2, 3}, 101);
    m.forward(x);
    m.backward(dy);
    const auto once = D(m.params().grads());
    m.backward(dy);
    HG_CHECK_CLOSE(m.params().grads(), ref::map(once, [](double v) { return 2.0 * v; }), 1e-6);
    m.zero_grad();
    for (std::int64_t i = 0; i < m.params().grads().numel(); ++i) REQUIRE(m.params().grads()[i] == 0.f);
}

namespace {

struct spread {
    double max_abs = 0.0, rms = 0.0, mean = 0.0;
};

template <class T>
spread spread_of(const hg::basic_tensor<T>& t) {
    spread s;
    for (std::int64_t i = 0; i < t.numel(); ++i) {
        const double v = static_cast<double>(t[i]);
        s.max_abs = std::max(s.max_abs, std::abs(v));
        s.rms += v * v;
        s.mean += v;
    }
    s.rms = std::sqrt(s.rms / static_cast<double>(t.numel()));
    s.mean /= static_cast<double>(t.numel());
    return s;
}

/// All |w| <= limit (compared in T: rounding is monotonic), the largest close to the limit, the
/// RMS close to limit / sqrt(3) (uniform distribution), the mean close to zero.
template <class T>
void check_uniform(const hg::basic_tensor<T>& w, double limit) {
    INFO("limit " << limit << ", " << w.numel() << " values");
    for (std::int64_t i = 0; i < w.numel(); ++i) REQUIRE(std::abs(w[i]) <= static_cast<T>(limit));
    const spread s = spread_of(w);
    CHECK(s.max_abs > 0.97 * limit);
    CHECK(s.rms == doctest::Approx(limit / std::sqrt(3.0)).epsilon(0.04));
    CHECK(std::abs(s.mean) < 0.05 * limit);
}

}  // namespace

TEST_CASE("layers: He-uniform conv weights, Glorot-uniform dense weights, zero biases") {
    hg::cpu be;
    hg::model<hg::cpu, hg::sequential<hg::conv2d<32, 3>, hg::conv2d<16, 5, 2>, hg::dense<64>>> m(
        be, shape{6, 6, 16}, 7);
    const auto& params = m.params();
    REQUIRE(params.layout().entries().size() == 6);
    check_uniform(params.value(0), std::sqrt(6.0 / (3 * 3 * 16)));
    check_uniform(params.value(2), std::sqrt(6.0 / (5 * 5 * 32)));
    check_uniform(params.value(4), std::sqrt(6.0 / (3 * 3 * 16 + 64)));
    CHECK(params.entry(0).fan_in == 3 * 3 * 16);
    CHECK(params.entry(4).fan_in == 3 * 3 * 16);
    CHECK(params.entry(4).fan_out == 64);
    for (const std::size_t bias : {1, 3, 5}) {
        INFO(params.entry(bias).name);
        const auto b = params.value(bias);
        for (std::int64_t i = 0; i < b.numel(); ++i) CHECK(b[i] == 0.f);
    }
}

TEST_CASE("layers: ICNR makes the 4 sub-pixel outputs of an upscale block identical at init") {
    hg::cpu be;
    be.poison_allocations(true);
    hg::model<hg::cpu, hg::sequential<hg::conv2d<6, 3>, hg::upscale<5>>> m(be, shape{5, 7, 3}, 9);
    // The ICNR filter: He-uniform range, filter k equal to filter k % F.
    const auto w = m.params().value(2);
    REQUIRE(w.shape() == shape{20, 3, 3, 6});
    check_uniform(w.slice(0, shape{5 * 54}), std::sqrt(6.0 / (3 * 3 * 6)));
    for (std::int64_t k = 5; k < 20; ++k)
        for (std::int64_t j = 0; j < 54; ++j) REQUIRE(w[k * 54 + j] == w[(k % 5) * 54 + j]);

    const auto x = random_tensor<float>(shape{2, 5, 7, 3}, 110);
    const auto& y = m.forward(x);
    REQUIRE(y.shape() == shape{2, 10, 14, 5});
    REQUIRE(hg::test::all_finite(y));
    double worst = 0.0, spread_c = 0.0, spread_hw = 0.0;
    for (std::int64_t n = 0; n < 2; ++n)
        for (std::int64_t h = 0; h < 5; ++h)
            for (std::int64_t wi = 0; wi < 7; ++wi)
                for (std::int64_t c = 0; c < 5; ++c) {
                    const double v = y.at(n, 2 * h, 2 * wi, c);
                    for (std::int64_t dy = 0; dy < 2; ++dy)
                        for (std::int64_t dx = 0; dx < 2; ++dx)
                            worst = std::max(worst, std::abs(y.at(n, 2 * h + dy, 2 * wi + dx, c) - v));
                    spread_c = std::max(spread_c, std::abs(v - y.at(n, 2 * h, 2 * wi, 0)));
                    spread_hw = std::max(spread_hw, std::abs(v - y.at(0, 0, 0, c)));
                }
    CHECK(worst <= 1e-6);
    // Not trivially so: the output still varies over channels and positions.
    CHECK(spread_c > 1e-2);
    CHECK(spread_hw > 1e-2);
}

TEST_CASE("layers: same seed gives identical parameters, another seed different ones") {
    using net = hg::sequential<hg::conv2d<8, 3, 2>, hg::leaky_relu<0.1f>, hg::flatten, hg::dense<12>,
                               hg::reshape<2, 2, 3>, hg::upscale<2>>;
    hg::cpu be1(1);
    hg::model<hg::cpu, net> a(be1, shape{6, 4, 3}, 42);
    hg::cpu be2(2);
    hg::model<hg::cpu, net> b(be2, shape{6, 4, 3}, 42);
    hg::model<hg::cpu, net> c(be2, shape{6, 4, 3}, 43);
    hg::cpu64 be64(1);
    hg::model<hg::cpu64, net> d(be64, shape{6, 4, 3}, 42);
    const auto& va = a.params().values();
    const auto& vb = b.params().values();
    const auto& vc = c.params().values();
    const auto& vd = d.params().values();
    REQUIRE(va.numel() == vc.numel());
    REQUIRE(va.numel() == vd.numel());
    HG_CHECK_EQUAL_TENSORS(va, vb);
    std::int64_t nonzero = 0, differ = 0, float_of_double = 0;
    for (std::int64_t i = 0; i < va.numel(); ++i) {
        if (va[i] == 0.f) continue;  // biases and padding
        ++nonzero;
        differ += va[i] != vc[i];
        float_of_double += va[i] == static_cast<float>(vd[i]);
    }
    CHECK(nonzero > 300);
    CHECK(differ == nonzero);
    // The float and double backends draw the same values.
    CHECK(float_of_double == nonzero);
}
