// Error reporting of the CPU layers, models and ops: wrong input shapes (messages name the layer
// path and both shapes), wrong per-sample shapes at model construction, zero-size batches,
// CUDA-tagged tensors given to the CPU backend, backward before forward, wrong output-gradient
// shapes, bad op arguments and a negative thread count.
#include <doctest/doctest.h>

#include <string>

#include "cpu/helpers.hpp"

namespace {

using hg::shape;
using hg::test::contains;
using hg::test::message_of;
using hg::test::random_tensor;

// [18, 18, 3] -> [9, 9, 3] -> [9, 9, 8]: layer 2 expects [N, 9, 9, 3].
using small_net = hg::sequential<hg::conv2d<3, 3, 2>, hg::leaky_relu<0.1f>, hg::conv2d<8, 3, 1>, hg::tanh>;

// One of every layer type; the comments give each layer's per-sample input.
using every_layer = hg::sequential<hg::conv2d<8, 3, 2>,                    // 0: [8, 10, 3]
                                   hg::leaky_relu<0.1f>,                   // 1: [4, 5, 8]
                                   hg::residual<8>,                        // 2: [4, 5, 8]
                                   hg::upscale<4>,                         // 3: [4, 5, 8]
                                   hg::pixel_unshuffle,                    // 4: [8, 10, 4]
                                   hg::sequential<hg::relu, hg::flatten>,  // 5: [4, 5, 16]
                                   hg::dense<8>,                           // 6: [320]
                                   hg::sigmoid,                            // 7: [8]
                                   hg::reshape<1, 2, 4>,                   // 8: [8]
                                   hg::pixel_shuffle>;                     // 9: [1, 2, 4] -> [2, 4, 1]

}  // namespace

TEST_CASE("errors: a layer given the wrong input shape names its path and both shapes") {
    hg::cpu be;
    hg::model<hg::cpu, small_net> m(be, shape{18, 18, 3}, 1);
    auto& conv = m.network().layer<2>();
    const auto x = random_tensor<float>(shape{2, 9, 9, 4}, 1);
    auto y = be.empty(shape{2, 9, 9, 8});
    const std::string msg = message_of<hg::shape_error>([&] { conv.forward(be, x, y); });
    INFO(msg);
    CHECK(contains(msg, "model/2:conv2d<8, 3, 1>"));
    CHECK(contains(msg, "[2, 9, 9, 4]"));
    CHECK(contains(msg, "[N, 9, 9, 3]"));
    // Backward checks its input too.
    const auto dy = random_tensor<float>(shape{2, 9, 9, 8}, 2);
    auto dx = be.empty(x.shape());
    const std::string back = message_of<hg::shape_error>([&] { conv.backward(be, x, y, dy, &dx); });
    INFO(back);
    CHECK(contains(back, "model/2:conv2d<8, 3, 1>"));
    CHECK(contains(back, "[2, 9, 9, 4]"));
    CHECK(contains(back, "[N, 9, 9, 3]"));
}

TEST_CASE("errors: a model given the wrong input shape names itself and both shapes") {
    hg::cpu be;
    hg::model<hg::cpu, small_net> m(be, shape{18, 18, 3}, 1, "encoder");
    const std::string msg =
        message_of<hg::shape_error>([&] { m.forward(random_tensor<float>(shape{2, 18, 18, 4}, 1)); });
    INFO(msg);
    CHECK(contains(msg, "encoder"));
    CHECK(contains(msg, "[2, 18, 18, 4]"));
    CHECK(contains(msg, "[N, 18, 18, 3]"));
    // A missing batch dimension.
    const std::string rank = message_of<hg::shape_error>([&] { m.forward(random_tensor<float>(shape{18, 18, 3}, 2)); });
    INFO(rank);
    CHECK(contains(rank, "[18, 18, 3]"));
    CHECK(contains(rank, "[N, 18, 18, 3]"));
    // An undefined tensor.
    CHECK_THROWS_AS(m.forward(hg::tensor()), hg::shape_error);
}

TEST_CASE("errors: every layer type names its path when called with a wrong input") {
    hg::cpu be;
    hg::model<hg::cpu, every_layer> m(be, shape{8, 10, 3}, 1);
    auto& net = m.network();
    // Calls layer I with an input of the right rank but an extra channel (or feature) and checks
    // that the message has the layer's path, the wrong shape and the expected batched shape.
    auto check = [&](auto& layer, const std::string& path, std::size_t index) {
        const shape good = net.sample_shape(index);
        const shape bad = good.rank() == 3 ? shape{2, good[0], good[1], good[2] + 1} : shape{2, good[0] + 1};
        const auto x = random_tensor<float>(bad, 3);
        auto y = be.empty(hg::detail::with_batch(2, net.sample_shape(index + 1)));
        const std::string msg = message_of<hg::shape_error>([&] { layer.forward(be, x, y); });
        INFO(msg);
        CHECK(contains(msg, path));
        CHECK(contains(msg, bad.str()));
        CHECK(contains(msg, hg::detail::batched(good)));
    };
    check(net.layer<0>(), "model/0:conv2d<8, 3, 2>", 0);
    check(net.layer<1>(), "model/1:leaky_relu<0.1>", 1);
    check(net.layer<2>(), "model/2:residual<8>", 2);
    check(net.layer<3>(), "model/3:upscale<4>", 3);
    check(net.layer<4>(), "model/4:pixel_unshuffle", 4);
    check(net.layer<5>(), "model/5:sequential", 5);
    check(net.layer<6>(), "model/6:dense<8>", 6);
    check(net.layer<7>(), "model/7:sigmoid", 7);
    check(net.layer<8>(), "model/8:reshape<1, 2, 4>", 8);
    check(net.layer<9>(), "model/9:pixel_shuffle", 9);
    // Layers inside blocks carry the full path.
    {
        auto& inner = net.layer<3>().layer<0>();
        const auto x = random_tensor<float>(shape{1, 4, 5, 7}, 4);
        auto y = be.empty(shape{1, 4, 5, 16});
        const std::string msg = message_of<hg::shape_error>([&] { inner.forward(be, x, y); });
        INFO(msg);
        CHECK(contains(msg, "model/3:upscale<4>/0:conv2d<16, 3, 1>"));
        CHECK(contains(msg, "[1, 4, 5, 7]"));
        CHECK(contains(msg, "[N, 4, 5, 8]"));
    }
    {
        auto& inner = net.layer<5>().layer<1>();
        const auto x = random_tensor<float>(shape{1, 4, 5, 15}, 5);
        auto y = be.empty(shape{1, 300});
        const std::string msg = message_of<hg::shape_error>([&] { inner.forward(be, x, y); });
        INFO(msg);
        CHECK(contains(msg, "model/5:sequential/1:flatten"));
        CHECK(contains(msg, "[N, 4, 5, 16]"));
    }
}

TEST_CASE("errors: a wrong per-sample shape at model construction names the layer") {
    hg::cpu be;
    auto construction_error = [&](auto spec, const shape& sample) {
        using S = decltype(spec);
        return message_of<hg::shape_error>([&] { hg::model<hg::cpu, S> m(be, sample, 1); });
    };
    {  // reshape to the wrong element count
        const auto msg = construction_error(hg::sequential<hg::conv2d<4, 3>, hg::reshape<5, 5>>{}, shape{4, 4, 2});
        INFO(msg);
        CHECK(contains(msg, "model/1:reshape<5, 5>"));
        CHECK(contains(msg, "[N, 4, 4, 4]"));
        CHECK(contains(msg, "[N, 5, 5]"));
    }
    {  // pixel_shuffle on channels not divisible by 4
        const auto msg = construction_error(hg::sequential<hg::conv2d<6, 3>, hg::pixel_shuffle>{}, shape{4, 4, 3});
        INFO(msg);
        CHECK(contains(msg, "model/1:pixel_shuffle"));
        CHECK(contains(msg, "[N, 4, 4, 6]"));
    }
    {  // pixel_unshuffle on an odd size
        const auto msg = construction_error(hg::pixel_unshuffle{}, shape{5, 4, 3});
        INFO(msg);
        CHECK(contains(msg, "model"));
        CHECK(contains(msg, "[N, 5, 4, 3]"));
    }
    {  // stride 2 on an odd size
        const auto msg = construction_error(hg::sequential<hg::relu, hg::conv2d<4, 3, 2>>{}, shape{7, 8, 3});
        INFO(msg);
        CHECK(contains(msg, "model/1:conv2d<4, 3, 2>"));
        CHECK(contains(msg, "[N, 7, 8, 3]"));
    }
    {  // residual<8> on 4 channels
        const auto msg = construction_error(hg::sequential<hg::conv2d<4, 3>, hg::residual<8>>{}, shape{6, 6, 3});
        INFO(msg);
        CHECK(contains(msg, "model/1:residual<8>"));
        CHECK(contains(msg, "[N, 6, 6, 4]"));
        CHECK(contains(msg, "expected [N, H, W, 8]"));
    }
    {  // a convolution after a flatten, nested two levels deep
        const auto msg = construction_error(
            hg::sequential<hg::conv2d<4, 3>, hg::sequential<hg::relu, hg::sequential<hg::flatten, hg::conv2d<2, 3>>>>{},
            shape{4, 4, 3});
        INFO(msg);
        CHECK(contains(msg, "model/1:sequential/1:sequential/1:conv2d<2, 3, 1>"));
        CHECK(contains(msg, "[N, 64]"));
    }
    {  // an upscale block on a vector: its inner convolution reports
        const auto msg = construction_error(hg::sequential<hg::flatten, hg::upscale<2>>{}, shape{2, 2, 3});
        INFO(msg);
        CHECK(contains(msg, "model/1:upscale<2>/0:conv2d<8, 3, 1>"));
        CHECK(contains(msg, "[N, 12]"));
    }
    {  // a conv2d on a vector input, with the model's own name
        const std::string msg = message_of<hg::shape_error>(
            [&] { hg::model<hg::cpu, hg::sequential<hg::dense<4>, hg::conv2d<2, 1>>> m(be, shape{3}, 1, "enc"); });
        INFO(msg);
        CHECK(contains(msg, "enc/1:conv2d<2, 1, 1>"));
        CHECK(contains(msg, "[N, 4]"));
    }
}

TEST_CASE("errors: a zero-size batch is refused") {
    hg::cpu be;
    hg::model<hg::cpu, small_net> m(be, shape{18, 18, 3}, 1);
    const auto empty_batch = hg::tensor::empty(shape{0, 18, 18, 3});
    const std::string msg = message_of<hg::shape_error>([&] { m.forward(empty_batch); });
    INFO(msg);
    CHECK(contains(msg, "zero-size batch"));
    CHECK(contains(msg, "[0, 18, 18, 3]"));
    // Also when a layer is called directly.
    auto& conv = m.network().layer<2>();
    auto y = hg::tensor::empty(shape{0, 9, 9, 8});
    CHECK_THROWS_AS(conv.forward(be, hg::tensor::empty(shape{0, 9, 9, 3}), y), hg::shape_error);
    hg::model<hg::cpu, hg::dense<3>> d(be, shape{5}, 1);
    CHECK_THROWS_AS(d.forward(hg::tensor::empty(shape{0, 5})), hg::shape_error);
}

namespace {

/// A tensor tagged as living on a CUDA device (its storage is host memory, but the tag is what
/// every device check reads); `host` keeps the storage alive.
struct fake_cuda {
    hg::tensor host;
    hg::tensor t;
    explicit fake_cuda(const shape& s, std::uint64_t seed)
        : host(random_tensor<float>(s, seed)), t(s, hg::device_kind::cuda, nullptr, host.data()) {}
};

/// model<cpu, Spec>: forward with a CUDA-tagged input, and backward with a CUDA-tagged output
/// gradient after a good forward, both throw device_error.
template <class Spec>
void check_device_refused(const shape& sample) {
    INFO(Spec::type_name() << " on " << hg::detail::batched(sample));
    hg::cpu be;
    hg::model<hg::cpu, Spec> m(be, sample, 1);
    const fake_cuda x(hg::detail::with_batch(2, sample), 1);
    CHECK_THROWS_AS(m.forward(x.t), hg::device_error);
    m.forward(x.host);
    const fake_cuda dy(hg::detail::with_batch(2, m.output_shape()), 2);
    CHECK_THROWS_AS(m.backward(dy.t, true), hg::device_error);
}

}  // namespace

TEST_CASE("errors: a CUDA tensor given to a CPU layer throws device_error") {
    check_device_refused<hg::conv2d<4, 3>>(shape{4, 4, 3});
    check_device_refused<hg::dense<4>>(shape{4, 4, 3});
    check_device_refused<hg::leaky_relu<0.1f>>(shape{4, 4, 3});
    check_device_refused<hg::relu>(shape{4, 4, 3});
    check_device_refused<hg::sigmoid>(shape{7});
    check_device_refused<hg::tanh>(shape{7});
    check_device_refused<hg::flatten>(shape{4, 4, 3});
    check_device_refused<hg::reshape<3, 16>>(shape{4, 4, 3});
    check_device_refused<hg::pixel_shuffle>(shape{2, 3, 8});
    check_device_refused<hg::pixel_unshuffle>(shape{4, 6, 3});
    check_device_refused<hg::upscale<2>>(shape{2, 3, 4});
    check_device_refused<hg::residual<3>>(shape{4, 4, 3});
    check_device_refused<small_net>(shape{18, 18, 3});
}

TEST_CASE("errors: a CUDA tensor given to a CPU op throws device_error naming the op and argument") {
    hg::cpu be;
    const auto d = hg::math::conv2d_dims::make(1, 4, 4, 3, 2, 3, 1);
    const auto x = random_tensor<float>(shape{1, 4, 4, 3}, 1);
    const auto w = random_tensor<float>(shape{2, 3, 3, 3}, 2);
    const auto b = random_tensor<float>(shape{2}, 3);
    auto y = be.empty(shape{1, 4, 4, 2});
    const fake_cuda fx(x.shape(), 4), fw(w.shape(), 5), fb(b.shape(), 6), fy(y.shape(), 7);

    const std::string msg = message_of<hg::device_error>([&] { hg::ops::conv2d_forward(be, d, x, fw.t, b, y); });
    INFO(msg);
    CHECK(contains(msg, "conv2d_forward"));
    CHECK(contains(msg, "'w'"));
    CHECK(contains(msg, "cuda"));
    CHECK_THROWS_AS(hg::ops::conv2d_forward(be, d, fx.t, w, b, y), hg::device_error);
    CHECK_THROWS_AS(hg::ops::conv2d_forward(be, d, x, w, fb.t, y), hg::device_error);
    CHECK_THROWS_AS(hg::ops::conv2d_forward(be, d, x, w, b, fy.t), hg::device_error);
    CHECK_THROWS_AS(hg::ops::conv2d_backward_data(be, d, fy.t, w, x), hg::device_error);
    CHECK_THROWS_AS(hg::ops::conv2d_backward_data(be, d, y, w, fx.t), hg::device_error);
    CHECK_THROWS_AS(hg::ops::conv2d_backward_filter(be, d, x, y, fw.t, b), hg::device_error);
    CHECK_THROWS_AS(hg::ops::conv2d_backward_filter(be, d, x, fy.t, w, b), hg::device_error);

    const auto xd = random_tensor<float>(shape{2, 5}, 8);
    const auto wd = random_tensor<float>(shape{3, 5}, 9);
    const auto bd = random_tensor<float>(shape{3}, 10);
    auto yd = be.empty(shape{2, 3});
    const fake_cuda fxd(xd.shape(), 11), fwd(wd.shape(), 12), fyd(yd.shape(), 13);
    CHECK_THROWS_AS(hg::ops::dense_forward(be, 2, 5, 3, fxd.t, wd, bd, yd), hg::device_error);
    CHECK_THROWS_AS(hg::ops::dense_forward(be, 2, 5, 3, xd, wd, bd, fyd.t), hg::device_error);
    CHECK_THROWS_AS(hg::ops::dense_backward_data(be, 2, 5, 3, yd, fwd.t, xd), hg::device_error);
    CHECK_THROWS_AS(hg::ops::dense_backward_filter(be, 2, 5, 3, xd, fyd.t, wd, bd), hg::device_error);

    const auto e = random_tensor<float>(shape{2, 4, 4, 4}, 14);
    const fake_cuda fe(e.shape(), 15);
    auto out = be.empty(e.shape());
    CHECK_THROWS_AS(hg::ops::activation_forward(be, hg::math::tanh_fn{}, fe.t, out), hg::device_error);
    CHECK_THROWS_AS(hg::ops::activation_backward(be, hg::math::tanh_fn{}, e, e, fe.t, out), hg::device_error);
    CHECK_THROWS_AS(hg::ops::axpy(be, 1.f, fe.t, out), hg::device_error);
    CHECK_THROWS_AS(hg::ops::scale(be, 2.f, fe.t), hg::device_error);
    CHECK_THROWS_AS(hg::ops::copy(be, e, fe.t), hg::device_error);
    auto space = be.empty(shape{2, 8, 8, 1});
    CHECK_THROWS_AS(hg::ops::depth_to_space(be, fe.t, space), hg::device_error);
    CHECK_THROWS_AS(hg::ops::space_to_depth(be, space, fe.t), hg::device_error);
    CHECK_THROWS_AS(be.to_host(fe.t), hg::device_error);
}

TEST_CASE("errors: backward before forward throws hg::error") {
    hg::cpu be;
    hg::model<hg::cpu, small_net> m(be, shape{18, 18, 3}, 1);
    const auto dy = random_tensor<float>(shape{2, 9, 9, 8}, 1);
    const std::string msg = message_of<hg::error>([&] { m.backward(dy); });
    INFO(msg);
    CHECK(contains(msg, "model"));
    CHECK(contains(msg, "before forward"));
    CHECK_THROWS_AS(m.backward(dy, true), hg::error);
    // A sequential or residual block called directly, also before any forward.
    auto& net = m.network();
    const auto x = random_tensor<float>(shape{2, 18, 18, 3}, 2);
    auto dx = be.empty(x.shape());
    CHECK_THROWS_AS(net.backward(be, x, dy, dy, &dx), hg::error);
    hg::model<hg::cpu, hg::residual<3>> r(be, shape{4, 4, 3}, 1);
    const auto xr = random_tensor<float>(shape{1, 4, 4, 3}, 3);
    auto dxr = be.empty(xr.shape());
    CHECK_THROWS_AS(r.network().backward(be, xr, xr, xr, &dxr), hg::error);
}

TEST_CASE("errors: an output gradient of the wrong shape throws shape_error") {
    hg::cpu be;
    hg::model<hg::cpu, small_net> m(be, shape{18, 18, 3}, 1);
    m.forward(random_tensor<float>(shape{2, 18, 18, 3}, 1));
    {  // wrong per-sample shape
        const std::string msg =
            message_of<hg::shape_error>([&] { m.backward(random_tensor<float>(shape{2, 9, 9, 7}, 2)); });
        INFO(msg);
        CHECK(contains(msg, "output gradient"));
        CHECK(contains(msg, "[2, 9, 9, 7]"));
        CHECK(contains(msg, "[N, 9, 9, 8]"));
    }
    {  // right per-sample shape, but not the batch of the last forward
        const std::string msg =
            message_of<hg::shape_error>([&] { m.backward(random_tensor<float>(shape{3, 9, 9, 8}, 3)); });
        INFO(msg);
        CHECK(contains(msg, "[3, 9, 9, 8]"));
        CHECK(contains(msg, "[2, 9, 9, 8]"));
    }
    CHECK_THROWS_AS(m.backward(random_tensor<float>(shape{2, 648}, 4)), hg::shape_error);
    CHECK_THROWS_AS(m.backward(hg::tensor()), hg::shape_error);
    // A good one still works afterwards.
    CHECK_NOTHROW(m.backward(random_tensor<float>(shape{2, 9, 9, 8}, 5), true));
}

TEST_CASE("errors: ops reject wrong shapes and empty tensors, naming the op and argument") {
    hg::cpu be;
    const auto d = hg::math::conv2d_dims::make(1, 4, 4, 3, 2, 3, 1);
    const auto x = random_tensor<float>(shape{1, 4, 4, 3}, 1);
    const auto w = random_tensor<float>(shape{2, 3, 3, 3}, 2);
    const auto b = random_tensor<float>(shape{2}, 3);
    auto bad_y = be.empty(shape{1, 4, 4, 3});
    const std::string msg = message_of<hg::shape_error>([&] { hg::ops::conv2d_forward(be, d, x, w, b, bad_y); });
    INFO(msg);
    CHECK(contains(msg, "conv2d_forward"));
    CHECK(contains(msg, "'y'"));
    CHECK(contains(msg, "[1, 4, 4, 3]"));
    CHECK(contains(msg, "[1, 4, 4, 2]"));
    auto y = be.empty(shape{1, 4, 4, 2});
    CHECK_THROWS_AS(hg::ops::conv2d_forward(be, d, x, random_tensor<float>(shape{2, 3, 3, 4}, 4), b, y),
                    hg::shape_error);
    CHECK_THROWS_AS(hg::ops::conv2d_forward(be, d, x, w, random_tensor<float>(shape{3}, 5), y), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::conv2d_forward(be, d, hg::tensor(), w, b, y), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::conv2d_backward_filter(be, d, x, y, random_tensor<float>(shape{2, 1, 1, 3}, 6), b),
                    hg::shape_error);

    auto yd = be.empty(shape{2, 3});
    CHECK_THROWS_AS(hg::ops::dense_forward(be, 2, 5, 3, random_tensor<float>(shape{2, 6}, 7),
                                           random_tensor<float>(shape{3, 5}, 8), hg::tensor(), yd),
                    hg::shape_error);
    CHECK_THROWS_AS(hg::ops::dense_forward(be, 2, 5, 3, random_tensor<float>(shape{2, 5}, 9),
                                           random_tensor<float>(shape{5, 3}, 10), hg::tensor(), yd),
                    hg::shape_error);

    const auto a = random_tensor<float>(shape{2, 3}, 11);
    auto out = be.empty(shape{3, 2});
    CHECK_THROWS_AS(hg::ops::add(be, a, a, out), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::copy(be, a, be.empty(shape{5})), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::activation_forward(be, hg::math::relu_fn{}, a, out), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::fill(be, hg::tensor(), 1.f), hg::shape_error);
    // depth_to_space: odd output size, and channel counts that do not match.
    const auto depth4 = random_tensor<float>(shape{1, 1, 1, 4}, 12);
    const auto depth8 = random_tensor<float>(shape{1, 1, 1, 8}, 13);
    const auto space = random_tensor<float>(shape{1, 2, 2, 1}, 14);
    CHECK_THROWS_AS(hg::ops::depth_to_space(be, depth4, be.empty(shape{1, 3, 2, 1})), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::depth_to_space(be, depth8, be.empty(shape{1, 2, 2, 1})), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::space_to_depth(be, space, be.empty(shape{1, 1, 1, 8})), hg::shape_error);
}

TEST_CASE("errors: bias and reduction ops reject wrong shapes and CUDA tensors") {
    hg::cpu be;
    const auto y = random_tensor<float>(shape{2, 3, 4, 5}, 1);
    const auto b = random_tensor<float>(shape{5}, 2);
    {  // the last extent is not the channel count
        const std::string msg = message_of<hg::shape_error>(
            [&] { hg::ops::bias_add(be, y, random_tensor<float>(shape{4}, 3)); });
        INFO(msg);
        CHECK(contains(msg, "bias_add"));
        CHECK(contains(msg, "[2, 3, 4, 5]"));
        CHECK(contains(msg, "[4]"));
    }
    CHECK_THROWS_AS(hg::ops::bias_add(be, y, random_tensor<float>(shape{1, 5}, 4)), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::bias_grad(be, y, random_tensor<float>(shape{3}, 5)), hg::shape_error);
    const auto wrong_y = be.empty(shape{2, 3, 4, 6});
    CHECK_THROWS_AS(hg::ops::bias_activation_forward(be, hg::math::relu_fn{}, b, y.clone(), wrong_y), hg::shape_error);
    const fake_cuda fy(y.shape(), 6), fb(b.shape(), 7);
    CHECK_THROWS_AS(hg::ops::bias_add(be, fy.t, b), hg::device_error);
    CHECK_THROWS_AS(hg::ops::bias_grad(be, y, fb.t), hg::device_error);
    CHECK_THROWS_AS(hg::ops::bias_activation_forward(be, hg::math::relu_fn{}, fb.t, y.clone(), be.empty(y.shape())),
                    hg::device_error);

    auto out = be.empty(shape{1});
    CHECK_THROWS_AS(hg::ops::reduce(be, hg::ops::reduction::sum, y, be.empty(shape{2})), hg::shape_error);
    CHECK_THROWS_AS(hg::ops::reduce(be, hg::ops::reduction::sum, hg::tensor::empty(shape{0, 3}), out),
                    hg::shape_error);
    CHECK_THROWS_AS(hg::ops::reduce(be, hg::ops::reduction::l2_norm, fy.t, out), hg::device_error);
}

TEST_CASE("errors: a negative thread count throws value_error") {
    const std::string msg = message_of<hg::value_error>([] { hg::cpu be(-1); });
    INFO(msg);
    CHECK(contains(msg, "-1"));
    CHECK_THROWS_AS(hg::cpu64(-4), hg::value_error);
    // 0 means every core; positive counts are taken as given.
    CHECK(hg::cpu(0).threads() == hg::hardware_threads());
    CHECK(hg::cpu(3).threads() == 3);
}
