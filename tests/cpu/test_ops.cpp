// Every op of include/hourglass/ops/ on the CPU backend (float and double) against the naive
// references of tests/ref/naive.hpp: conv2d forward / backward-data / backward-filter (every
// schedule), dense, activations, add / axpy / scale / fill / copy, depth_to_space / space_to_depth,
// the bias ops, the reductions and fill_uniform. Outputs are poisoned with NaN before each call;
// accumulating ops start from random contents. Also checks that two threads give the
// single-threaded result.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "cpu/helpers.hpp"
#include "hourglass/math/activations.hpp"
#include "hourglass/math/conv_geometry.hpp"
#include "hourglass/ops/bias.hpp"
#include "hourglass/ops/random.hpp"
#include "hourglass/ops/reduce.hpp"

namespace {

using hg::shape;
using hg::test::D;
using hg::test::poisoned;
using hg::test::random_tensor;

struct conv_case {
    std::int64_t n, h, w, c, k, r, stride;
    std::string str() const {
        std::ostringstream os;
        os << "x [" << n << ", " << h << ", " << w << ", " << c << "], " << k << " filters " << r << "x" << r
           << " stride " << stride;
        return os.str();
    }
};

// Odd and even sizes, batch 1, kernels 1 / 3 / 5, strides 1 / 2, channel counts not multiples of 4,
// images smaller than the kernel. The CPU backend picks a schedule by filter-bank size: banks of at
// most 4 filters run the direct small-K path (cpu/conv2d_small_k.hpp; the cases with k <= 4, the
// last two of the first row with more output rows than one 256-row block), the other small banks
// the tiled schedule, the last four have banks over 512 KB (chunked schedule, one Eigen GEMM per
// chunk of images); pointwise (1x1, stride 1) has its own path.
const std::vector<conv_case> conv_cases = {
    {1, 5, 7, 3, 13, 3, 1},     {2, 5, 7, 3, 13, 3, 2},   {1, 5, 7, 3, 13, 1, 1},    {2, 6, 8, 5, 7, 1, 2},
    {3, 7, 5, 6, 4, 5, 1},      {1, 8, 6, 7, 9, 5, 2},    {2, 4, 4, 1, 1, 3, 1},     {1, 1, 1, 3, 2, 3, 1},
    {1, 2, 3, 3, 5, 5, 2},      {2, 9, 9, 4, 8, 3, 2},    {1, 3, 2, 2, 3, 5, 1},     {2, 6, 6, 9, 6, 3, 1},
    {3, 20, 19, 8, 3, 5, 1},    {2, 27, 25, 7, 4, 3, 2},
    {2, 6, 5, 129, 130, 3, 1},  {1, 7, 6, 101, 170, 3, 2}, {3, 5, 7, 30, 200, 5, 1}, {2, 4, 6, 203, 700, 1, 2},
};

// Thread counts the ops run with: the schedules split work differently for each (the tiled
// backward-data only runs when there are at least as many images as threads).
constexpr int thread_counts[] = {1, 2};

hg::math::conv2d_dims dims_of(const conv_case& cc) {
    return hg::math::conv2d_dims::make(cc.n, cc.h, cc.w, cc.c, cc.k, cc.r, cc.stride);
}

}  // namespace

TEST_CASE("ops: conv2d output extent is (H + 2 * (R / 2) - R) / stride + 1") {
    for (const auto& cc : conv_cases) {
        INFO(cc.str());
        const auto d = dims_of(cc);
        CHECK(d.oh == (cc.h + 2 * (cc.r / 2) - cc.r) / cc.stride + 1);
        CHECK(d.ow == (cc.w + 2 * (cc.r / 2) - cc.r) / cc.stride + 1);
        CHECK(d.oh == hg::ref::conv_out(cc.h, cc.r, cc.stride));
        CHECK(d.pad == cc.r / 2);
    }
    CHECK(hg::math::conv_output_extent(64, 5, 2) == 32);
    CHECK(hg::math::conv_output_extent(7, 3, 1) == 7);
    CHECK(hg::math::conv_output_extent(5, 3, 2) == 3);
}

TEST_CASE_TEMPLATE("ops: conv2d_forward matches the reference, with and without bias", T, float, double) {
    std::uint64_t seed = 100;
    for (const auto& cc : conv_cases) {
        INFO(cc.str());
        const auto d = dims_of(cc);
        const auto x = random_tensor<T>(shape{cc.n, cc.h, cc.w, cc.c}, seed++);
        const auto w = random_tensor<T>(shape{cc.k, cc.r, cc.r, cc.c}, seed++);
        const auto b = random_tensor<T>(shape{cc.k}, seed++);
        const auto expected = hg::ref::conv2d_forward(D(x), D(w), D(b), cc.stride);
        const auto expected_nobias = hg::ref::conv2d_forward(D(x), D(w), hg::basic_tensor<double>(), cc.stride);
        for (const int threads : thread_counts) {
            INFO("threads " << threads);
            hg::cpu_backend<T> be(threads);
            auto y = poisoned<T>(shape{cc.n, d.oh, d.ow, cc.k});
            hg::ops::conv2d_forward(be, d, x, w, b, y);
            CHECK(expected.shape() == y.shape());
            HG_CHECK_CLOSE(y, expected, hg::test::tolerance<T>);

            hg::test::poison(y);
            hg::ops::conv2d_forward(be, d, x, w, hg::basic_tensor<T>(), y);
            HG_CHECK_CLOSE(y, expected_nobias, hg::test::tolerance<T>);
        }
    }
}

TEST_CASE_TEMPLATE("ops: conv2d_backward_data matches the reference", T, float, double) {
    std::uint64_t seed = 200;
    for (const auto& cc : conv_cases) {
        INFO(cc.str());
        const auto d = dims_of(cc);
        const auto dy = random_tensor<T>(shape{cc.n, d.oh, d.ow, cc.k}, seed++);
        const auto w = random_tensor<T>(shape{cc.k, cc.r, cc.r, cc.c}, seed++);
        const auto expected = hg::ref::conv2d_backward_data(D(dy), D(w), shape{cc.n, cc.h, cc.w, cc.c}, cc.stride);
        for (const int threads : thread_counts) {
            INFO("threads " << threads);
            hg::cpu_backend<T> be(threads);
            auto dx = poisoned<T>(shape{cc.n, cc.h, cc.w, cc.c});
            hg::ops::conv2d_backward_data(be, d, dy, w, dx);
            HG_CHECK_CLOSE(dx, expected, hg::test::tolerance<T>);
        }
    }
}

TEST_CASE_TEMPLATE("ops: conv2d_backward_filter adds the reference gradients to dw and db", T, float, double) {
    std::uint64_t seed = 300;
    for (const auto& cc : conv_cases) {
        INFO(cc.str());
        const auto d = dims_of(cc);
        const auto x = random_tensor<T>(shape{cc.n, cc.h, cc.w, cc.c}, seed++);
        const auto dy = random_tensor<T>(shape{cc.n, d.oh, d.ow, cc.k}, seed++);
        const auto g = hg::ref::conv2d_backward_filter(D(x), D(dy), cc.r, cc.stride);
        for (const int threads : thread_counts) {
            INFO("threads " << threads);
            hg::cpu_backend<T> be(threads);
            const auto dw = random_tensor<T>(shape{cc.k, cc.r, cc.r, cc.c}, seed++);
            const auto db = random_tensor<T>(shape{cc.k}, seed++);
            const auto dw_old = D(dw), db_old = D(db);
            hg::ops::conv2d_backward_filter(be, d, x, dy, dw, db);
            HG_CHECK_CLOSE(dw, hg::ref::add(dw_old, g.dw), hg::test::tolerance<T>);
            HG_CHECK_CLOSE(db, hg::ref::add(db_old, g.db), hg::test::tolerance<T>);

            // Without a bias gradient only dw changes.
            const auto dw2 = random_tensor<T>(dw.shape(), seed++);
            const auto dw2_old = D(dw2);
            hg::ops::conv2d_backward_filter(be, d, x, dy, dw2, hg::basic_tensor<T>());
            HG_CHECK_CLOSE(dw2, hg::ref::add(dw2_old, g.dw), hg::test::tolerance<T>);
        }
    }
}

TEST_CASE_TEMPLATE("ops: conv2d over several scratch chunks (large patch matrix) matches the reference", T, float,
                   double) {
    // A 2 x 3 x 3 x 8000 filter bank (over 512 KB: chunked schedule) on 10 x 10 images: 29 MB
    // (float) / 58 MB (double) of patches per image, beyond half the 48 MB scratch budget, so each
    // image is a chunk of its own and the three images take three GEMMs. The backend is held to
    // im2col: with 2 filters the automatic choice would be the direct small-K path.
    const conv_case cc{3, 10, 10, 8000, 2, 3, 1};
    const auto d = dims_of(cc);
    const auto x = random_tensor<T>(shape{cc.n, cc.h, cc.w, cc.c}, 401);
    const auto w = random_tensor<T>(shape{cc.k, cc.r, cc.r, cc.c}, 402);
    const auto b = random_tensor<T>(shape{cc.k}, 403);
    const auto dy = random_tensor<T>(shape{cc.n, d.oh, d.ow, cc.k}, 404);
    const auto expected_y = hg::ref::conv2d_forward(D(x), D(w), D(b), 1);
    const auto expected_dx = hg::ref::conv2d_backward_data(D(dy), D(w), x.shape(), 1);
    const auto g = hg::ref::conv2d_backward_filter(D(x), D(dy), cc.r, 1);
    for (const int threads : {1, 2}) {
        INFO("threads " << threads);
        hg::cpu_backend<T> be(threads);
        be.set_conv_algorithm(hg::cpu_conv_algorithm::im2col);
        REQUIRE_FALSE(hg::cpu_impl::conv_runs_small_k(be, d));
        auto y = poisoned<T>(dy.shape());
        hg::ops::conv2d_forward(be, d, x, w, b, y);
        HG_CHECK_CLOSE(y, expected_y, hg::test::tolerance<T>);

        auto dx = poisoned<T>(x.shape());
        hg::ops::conv2d_backward_data(be, d, dy, w, dx);
        HG_CHECK_CLOSE(dx, expected_dx, hg::test::tolerance<T>);

        const auto dw = random_tensor<T>(w.shape(), 405);
        const auto db = random_tensor<T>(b.shape(), 406);
        const auto dw_old = D(dw), db_old = D(db);
        hg::ops::conv2d_backward_filter(be, d, x, dy, dw, db);
        HG_CHECK_CLOSE(dw, hg::ref::add(dw_old, g.dw), hg::test::tolerance<T>);
        HG_CHECK_CLOSE(db, hg::ref::add(db_old, g.db), hg::test::tolerance<T>);
    }
}

namespace {
struct dense_case {
    shape x;  // [N, ...]: any per-sample shape is read as a feature vector
    std::int64_t out;
};
const std::vector<dense_case> dense_cases = {
    {shape{1, 7}, 13}, {shape{3, 5, 7, 3}, 4}, {shape{2, 1}, 1}, {shape{4, 33}, 17}, {shape{1, 2, 3, 5}, 6},
    {shape{5, 3, 2}, 9},
};
}  // namespace

TEST_CASE("ops: conv2d with at most 4 filters runs the direct path and agrees with the im2col GEMM") {
    // The decoders' last layer in small: 5x5, 16 channels -> 3 colours (and 4 with the mask).
    for (const std::int64_t k : {3, 4}) {
        INFO("k " << k);
        const conv_case cc{2, 23, 21, 16, k, 5, 1};
        const auto d = dims_of(cc);
        hg::cpu direct(2), gemm(2);
        gemm.set_conv_algorithm(hg::cpu_conv_algorithm::im2col);
        REQUIRE(hg::cpu_impl::conv_runs_small_k(direct, d));
        REQUIRE_FALSE(hg::cpu_impl::conv_runs_small_k(gemm, d));
        const auto x = random_tensor<float>(shape{cc.n, cc.h, cc.w, cc.c}, 900 + k);
        const auto w = random_tensor<float>(shape{cc.k, cc.r, cc.r, cc.c}, 910 + k);
        const auto b = random_tensor<float>(shape{cc.k}, 920 + k);
        const auto dy = random_tensor<float>(shape{cc.n, d.oh, d.ow, cc.k}, 930 + k);
        const auto ref_y = hg::ref::conv2d_forward(D(x), D(w), D(b), 1);
        const auto ref_dx = hg::ref::conv2d_backward_data(D(dy), D(w), x.shape(), 1);
        const auto g = hg::ref::conv2d_backward_filter(D(x), D(dy), cc.r, 1);
        for (hg::cpu* be : {&direct, &gemm}) {
            auto y = poisoned<float>(dy.shape());
            hg::ops::conv2d_forward(*be, d, x, w, b, y);
            HG_CHECK_CLOSE(y, ref_y, hg::test::tolerance<float>);
            auto dx = poisoned<float>(x.shape());
            hg::ops::conv2d_backward_data(*be, d, dy, w, dx);
            HG_CHECK_CLOSE(dx, ref_dx, hg::test::tolerance<float>);
            auto dw = hg::tensor::zeros(w.shape());
            auto db = hg::tensor::zeros(b.shape());
            hg::ops::conv2d_backward_filter(*be, d, x, dy, dw, db);
            HG_CHECK_CLOSE(dw, g.dw, hg::test::tolerance<float>);
            HG_CHECK_CLOSE(db, g.db, hg::test::tolerance<float>);
        }
    }
    // More filters, a 1x1 stride-1 conv or a forced im2col keep the GEMM paths.
    CHECK_FALSE(hg::cpu_impl::conv_is_small_k(hg::math::conv2d_dims::make(1, 8, 8, 16, 5, 5, 1)));
    CHECK_FALSE(hg::cpu_impl::conv_is_small_k(hg::math::conv2d_dims::make(1, 8, 8, 16, 3, 1, 1)));
    CHECK(hg::cpu_impl::conv_is_small_k(hg::math::conv2d_dims::make(1, 8, 8, 16, 3, 1, 2)));
}

TEST_CASE_TEMPLATE("ops: dense forward / backward-data / backward-filter match the reference", T, float, double) {
    hg::cpu_backend<T> be;
    std::uint64_t seed = 500;
    for (const auto& dc : dense_cases) {
        INFO("x " << dc.x.str() << ", " << dc.out << " units");
        const std::int64_t n = dc.x[0], in = dc.x.per_sample(), out = dc.out;
        const auto x = random_tensor<T>(dc.x, seed++);
        const auto w = random_tensor<T>(shape{out, in}, seed++);
        const auto b = random_tensor<T>(shape{out}, seed++);
        const auto dy = random_tensor<T>(shape{n, out}, seed++);

        auto y = poisoned<T>(shape{n, out});
        hg::ops::dense_forward(be, n, in, out, x, w, b, y);
        HG_CHECK_CLOSE(y, hg::ref::dense_forward(D(x), D(w), D(b)), hg::test::tolerance<T>);
        hg::test::poison(y);
        hg::ops::dense_forward(be, n, in, out, x, w, hg::basic_tensor<T>(), y);
        HG_CHECK_CLOSE(y, hg::ref::dense_forward(D(x), D(w), hg::basic_tensor<double>()), hg::test::tolerance<T>);

        auto dx = poisoned<T>(dc.x);
        hg::ops::dense_backward_data(be, n, in, out, dy, w, dx);
        HG_CHECK_CLOSE(dx, hg::ref::dense_backward_data(D(dy), D(w), dc.x), hg::test::tolerance<T>);

        const auto dw = random_tensor<T>(w.shape(), seed++);
        const auto db = random_tensor<T>(b.shape(), seed++);
        const auto dw_old = D(dw), db_old = D(db);
        hg::ops::dense_backward_filter(be, n, in, out, x, dy, dw, db);
        const auto g = hg::ref::dense_backward_filter(D(x), D(dy));
        HG_CHECK_CLOSE(dw, hg::ref::add(dw_old, g.dw), hg::test::tolerance<T>);
        HG_CHECK_CLOSE(db, hg::ref::add(db_old, g.db), hg::test::tolerance<T>);

        const auto dw2 = random_tensor<T>(w.shape(), seed++);
        const auto dw2_old = D(dw2);
        hg::ops::dense_backward_filter(be, n, in, out, x, dy, dw2, hg::basic_tensor<T>());
        HG_CHECK_CLOSE(dw2, hg::ref::add(dw2_old, g.dw), hg::test::tolerance<T>);
    }
}

namespace {

const std::vector<shape> elementwise_shapes = {shape{1}, shape{3, 5, 7, 3}, shape{1, 13}, shape{2, 4, 1, 5},
                                               shape{2, 101, 103, 3}};

/// Forward (out of place and in place) and backward (out of place and dx aliasing dy) of one
/// activation functor against the reference formula, on inputs in [lo, hi). With `absolute_grad`
/// the gradient is compared by absolute error (for saturated inputs, where f'(x) = y (1 - y) is
/// exact only to a unit roundoff of y and the true value can be far below that).
template <class T, class Fn>
void check_activation(const Fn& fn, hg::ref::act kind, double slope, double lo, double hi, std::uint64_t seed,
                      bool absolute_grad = false) {
    hg::cpu_backend<T> be;
    for (const auto& s : elementwise_shapes) {
        INFO("shape " << s.str());
        const auto x = random_tensor<T>(s, seed++, lo, hi);
        const auto dy = random_tensor<T>(s, seed++);
        const auto expected_y = hg::ref::activation_forward(kind, D(x), slope);
        const auto expected_dx = hg::ref::activation_backward(kind, D(x), D(dy), slope);

        auto y = poisoned<T>(s);
        hg::ops::activation_forward(be, fn, x, y);
        HG_CHECK_CLOSE(y, expected_y, hg::test::tolerance<T>);

        auto dx = poisoned<T>(s);
        hg::ops::activation_backward(be, fn, x, y, dy, dx);
        auto inplace_dx = dy.clone();
        hg::ops::activation_backward(be, fn, x, y, inplace_dx, inplace_dx);
        if (absolute_grad) {
            CHECK(hg::test::max_abs_difference(dx, expected_dx) <= hg::test::tolerance<T>);
            CHECK(hg::test::max_abs_difference(inplace_dx, expected_dx) <= hg::test::tolerance<T>);
        } else {
            HG_CHECK_CLOSE(dx, expected_dx, hg::test::tolerance<T>);
            HG_CHECK_CLOSE(inplace_dx, expected_dx, hg::test::tolerance<T>);
        }

        auto inplace_y = x.clone();
        hg::ops::activation_forward(be, fn, inplace_y, inplace_y);
        HG_CHECK_CLOSE(inplace_y, expected_y, hg::test::tolerance<T>);
    }
}

}  // namespace

TEST_CASE_TEMPLATE("ops: leaky_relu forward and backward match the reference (slopes 0.1, 0.2, 0.3)", T, float,
                   double) {
    for (const float slope : {0.1f, 0.2f, 0.3f}) {
        INFO("slope " << slope);
        check_activation<T>(hg::math::leaky_relu_fn{slope}, hg::ref::act::leaky_relu, static_cast<double>(slope),
                            -3.0, 3.0, 600);
    }
}

TEST_CASE_TEMPLATE("ops: relu forward and backward match the reference", T, float, double) {
    check_activation<T>(hg::math::relu_fn{}, hg::ref::act::relu, 0.0, -3.0, 3.0, 700);
}

TEST_CASE_TEMPLATE("ops: sigmoid forward and backward match the reference, including large |x|", T, float, double) {
    check_activation<T>(hg::math::sigmoid_fn{}, hg::ref::act::sigmoid, 0.0, -4.0, 4.0, 800);
    check_activation<T>(hg::math::sigmoid_fn{}, hg::ref::act::sigmoid, 0.0, -60.0, 60.0, 850, true);
}

TEST_CASE_TEMPLATE("ops: tanh forward and backward match the reference", T, float, double) {
    check_activation<T>(hg::math::tanh_fn{}, hg::ref::act::tanh, 0.0, -3.0, 3.0, 900);
}

TEST_CASE_TEMPLATE("ops: add, axpy, scale, fill and copy", T, float, double) {
    hg::cpu_backend<T> be;
    std::uint64_t seed = 1000;
    const double tol = hg::test::tolerance<T>;
    for (const auto& s : elementwise_shapes) {
        INFO("shape " << s.str());
        const auto a = random_tensor<T>(s, seed++);
        const auto b = random_tensor<T>(s, seed++);

        auto out = poisoned<T>(s);
        hg::ops::add(be, a, b, out);
        HG_CHECK_CLOSE(out, hg::ref::add(D(a), D(b)), tol);
        auto in_place = a.clone();
        hg::ops::add(be, in_place, b, in_place);
        HG_CHECK_CLOSE(in_place, hg::ref::add(D(a), D(b)), tol);

        const T alpha = T(-0.37);
        auto y = b.clone();
        hg::ops::axpy(be, alpha, a, y);
        HG_CHECK_CLOSE(y, hg::ref::add(D(b), hg::ref::map(D(a), [&](double v) { return double(alpha) * v; })), tol);

        auto scaled = a.clone();
        hg::ops::scale(be, T(2.5), scaled);
        HG_CHECK_CLOSE(scaled, hg::ref::map(D(a), [](double v) { return 2.5 * v; }), tol);

        auto filled = poisoned<T>(s);
        hg::ops::fill(be, filled, T(0.75));
        HG_CHECK_EQUAL_TENSORS(filled, hg::basic_tensor<T>::full(s, T(0.75)));

        auto copied = poisoned<T>(s);
        hg::ops::copy(be, a, copied);
        HG_CHECK_EQUAL_TENSORS(copied, a);
        // Any destination shape with the same element count.
        auto flat = poisoned<T>(shape{s.numel()});
        hg::ops::copy(be, a, flat);
        HG_CHECK_EQUAL_TENSORS(flat, a);
    }
}

namespace {
// [N, H, W, C] of the space (large) side.
const std::vector<shape> shuffle_shapes = {shape{1, 2, 2, 1},  shape{1, 2, 6, 3},    shape{2, 6, 10, 1},
                                           shape{3, 4, 2, 5},  shape{1, 10, 14, 7},  shape{2, 100, 104, 4}};
}  // namespace

TEST_CASE_TEMPLATE("ops: depth_to_space and space_to_depth match the TensorFlow-order reference", T, float, double) {
    hg::cpu_backend<T> be;
    std::uint64_t seed = 1100;
    for (const auto& big : shuffle_shapes) {
        INFO("space side " << big.str());
        const shape small{big.n(), big.h() / 2, big.w() / 2, big.c() * 4};
        const auto depth = random_tensor<T>(small, seed++);
        const auto space = random_tensor<T>(big, seed++);

        auto d2s = poisoned<T>(big);
        hg::ops::depth_to_space(be, depth, d2s);
        HG_CHECK_EQUAL_TENSORS(d2s, hg::ref::depth_to_space(depth));

        auto s2d = poisoned<T>(small);
        hg::ops::space_to_depth(be, space, s2d);
        HG_CHECK_EQUAL_TENSORS(s2d, hg::ref::space_to_depth(space));

        // The two are inverse permutations.
        auto round_trip = poisoned<T>(small);
        hg::ops::space_to_depth(be, d2s, round_trip);
        HG_CHECK_EQUAL_TENSORS(round_trip, depth);
    }
}

TEST_CASE("ops: depth_to_space puts channel group (dy * 2 + dx) at sub-pixel (dy, dx)") {
    // One pixel with 4 groups of 2 channels: values 10 * group + channel.
    hg::cpu be(1);
    auto in = hg::tensor::from_vector(shape{1, 1, 1, 8}, {0, 1, 10, 11, 20, 21, 30, 31});
    auto out = poisoned<float>(shape{1, 2, 2, 2});
    hg::ops::depth_to_space(be, in, out);
    CHECK(out.at(0, 0, 0, 0) == 0.f);
    CHECK(out.at(0, 0, 0, 1) == 1.f);
    CHECK(out.at(0, 0, 1, 0) == 10.f);
    CHECK(out.at(0, 1, 0, 0) == 20.f);
    CHECK(out.at(0, 1, 1, 1) == 31.f);
}

namespace {

// [..., K]: the channel is the last extent; the last shape is large enough for the threaded paths.
const std::vector<shape> bias_shapes = {shape{5}, shape{1, 13}, shape{2, 5, 7, 3}, shape{3, 4, 4, 13},
                                        shape{2, 60, 70, 9}};

/// bias_activation_forward with one activation functor: pre gets the bias, y = f(pre).
template <class T, class Fn>
void check_bias_activation(const Fn& fn, hg::ref::act kind, double slope, std::uint64_t seed) {
    for (const auto& s : bias_shapes) {
        INFO("shape " << s.str());
        const std::int64_t k = s[s.rank() - 1];
        const auto b = random_tensor<T>(shape{k}, seed++);
        const auto pre0 = random_tensor<T>(s, seed++, -3.0, 3.0);
        const auto expected_pre = hg::ref::bias_add(D(pre0), D(b));
        const auto expected_y = hg::ref::activation_forward(kind, expected_pre, slope);
        for (const int threads : thread_counts) {
            INFO("threads " << threads);
            hg::cpu_backend<T> be(threads);
            auto pre = pre0.clone();
            auto y = poisoned<T>(s);
            hg::ops::bias_activation_forward(be, fn, b, pre, y);
            HG_CHECK_CLOSE(pre, expected_pre, hg::test::tolerance<T>);
            HG_CHECK_CLOSE(y, expected_y, hg::test::tolerance<T>);
        }
    }
}

}  // namespace

TEST_CASE_TEMPLATE("ops: bias_add adds b[k] to channel k, bias_grad adds the channel sums to db", T, float, double) {
    std::uint64_t seed = 1500;
    for (const auto& s : bias_shapes) {
        INFO("shape " << s.str());
        const std::int64_t k = s[s.rank() - 1];
        const auto b = random_tensor<T>(shape{k}, seed++);
        const auto y0 = random_tensor<T>(s, seed++);
        const auto dy = random_tensor<T>(s, seed++);
        for (const int threads : thread_counts) {
            INFO("threads " << threads);
            hg::cpu_backend<T> be(threads);
            auto y = y0.clone();
            hg::ops::bias_add(be, y, b);
            HG_CHECK_CLOSE(y, hg::ref::bias_add(D(y0), D(b)), hg::test::tolerance<T>);

            const auto db = random_tensor<T>(shape{k}, seed++);
            const auto db_old = D(db);
            hg::ops::bias_grad(be, dy, db);
            HG_CHECK_CLOSE(db, hg::ref::add(db_old, hg::ref::bias_grad(D(dy), k)), hg::test::tolerance<T>);
        }
    }
}

TEST_CASE_TEMPLATE("ops: bias_activation_forward matches bias_add then the activation", T, float, double) {
    check_bias_activation<T>(hg::math::leaky_relu_fn{0.1f}, hg::ref::act::leaky_relu, static_cast<double>(0.1f),
                             1600);
    check_bias_activation<T>(hg::math::relu_fn{}, hg::ref::act::relu, 0.0, 1650);
    check_bias_activation<T>(hg::math::sigmoid_fn{}, hg::ref::act::sigmoid, 0.0, 1700);
    check_bias_activation<T>(hg::math::tanh_fn{}, hg::ref::act::tanh, 0.0, 1750);
}

TEST_CASE_TEMPLATE("ops: reduce sum / mean / max_abs / l2_norm / min / max match the reference", T, float, double) {
    using hg::ops::reduction;
    std::uint64_t seed = 1800;
    // The last shape has over 65536 elements (the threaded path).
    for (const shape& s : {shape{1}, shape{3, 5, 7, 3}, shape{1, 13}, shape{3, 101, 103, 3}}) {
        INFO("shape " << s.str());
        const auto x = random_tensor<T>(s, seed++);
        const auto xd = D(x);
        const double n = static_cast<double>(x.numel());
        // A sum's rounding error scales with sum |x|, not with |sum x|.
        const double sum_tol = hg::test::tolerance<T> * hg::ref::sum_abs(xd);
        for (const int threads : thread_counts) {
            INFO("threads " << threads);
            hg::cpu_backend<T> be(threads);
            auto out = poisoned<T>(shape{1});
            hg::ops::reduce(be, reduction::sum, x, out);
            CHECK(std::abs(double(out[0]) - hg::ref::sum(xd)) <= sum_tol);
            hg::test::poison(out);
            hg::ops::reduce(be, reduction::mean, x, out);
            CHECK(std::abs(double(out[0]) - hg::ref::sum(xd) / n) <= sum_tol / n);
            hg::test::poison(out);
            hg::ops::reduce(be, reduction::max_abs, x, out);
            CHECK(double(out[0]) == hg::ref::max_abs(xd));
            hg::test::poison(out);
            hg::ops::reduce(be, reduction::l2_norm, x, out);
            CHECK(double(out[0]) == doctest::Approx(hg::ref::l2_norm(xd)).epsilon(hg::test::tolerance<T>));
            hg::test::poison(out);
            hg::ops::reduce(be, reduction::min, x, out);
            CHECK(double(out[0]) == *std::min_element(xd.data(), xd.data() + xd.numel()));
            hg::test::poison(out);
            hg::ops::reduce(be, reduction::max, x, out);
            CHECK(double(out[0]) == *std::max_element(xd.data(), xd.data() + xd.numel()));
            // Any one-element output shape.
            auto out4 = poisoned<T>(shape{1, 1, 1, 1});
            hg::ops::reduce(be, reduction::max_abs, x, out4);
            CHECK(double(out4[0]) == hg::ref::max_abs(xd));
        }
        // max_abs propagates a NaN from anywhere.
        auto with_nan = x.clone();
        with_nan[x.numel() / 2] = std::numeric_limits<T>::quiet_NaN();
        for (const int threads : thread_counts) {
            hg::cpu_backend<T> be(threads);
            auto out = hg::basic_tensor<T>::zeros(shape{1});
            hg::ops::reduce(be, reduction::max_abs, with_nan, out);
            CHECK(std::isnan(out[0]));
            out.fill(T(0));
            hg::ops::reduce(be, reduction::min, with_nan, out);
            CHECK(std::isnan(out[0]));
            out.fill(T(0));
            hg::ops::reduce(be, reduction::max, with_nan, out);
            CHECK(std::isnan(out[0]));
        }
    }
}

TEST_CASE_TEMPLATE("ops: fill_uniform writes element i of the Philox stream (seed, stream_id)", T, float, double) {
    const shape s{2, 100, 101, 3};  // over 32768 elements: the threaded path
    const std::uint64_t seed = 0x123456789abcdefull, stream = 0x5000000007ull;
    const float lo = -0.5f, hi = 2.0f;
    for (const int threads : thread_counts) {
        INFO("threads " << threads);
        hg::cpu_backend<T> be(threads);
        auto x = poisoned<T>(s);
        hg::ops::fill_uniform(be, x, seed, stream, lo, hi);
        std::int64_t wrong = 0;
        for (std::int64_t i = 0; i < x.numel(); ++i) {
            // Block i / 4 of the counter, word i % 4; 24 high bits scaled to [0, 1).
            const auto block = static_cast<std::uint64_t>(i) / 4;
            const hg::philox_block r = hg::philox4x32(
                static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
                static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32),
                static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
            const float unit = static_cast<float>(r.v[i % 4] >> 8) / 16777216.0f;
            const float expected = lo + (hi - lo) * unit;
            wrong += x[i] != static_cast<T>(expected);
            wrong += !(x[i] >= T(lo) && x[i] < T(hi));
        }
        CHECK(wrong == 0);
    }
}

namespace {

template <class T>
struct op_outputs {
    std::vector<hg::basic_tensor<T>> approx;  // results of reductions (summation order may differ)
    std::vector<hg::basic_tensor<T>> exact;   // per-element results (must be identical)
};

/// Runs every op on inputs large enough for the threaded paths, on a backend with `threads`.
template <class T>
op_outputs<T> run_ops(int threads) {
    hg::cpu_backend<T> be(threads);
    REQUIRE(be.threads() == threads);
    op_outputs<T> r;
    for (const conv_case& cc : {conv_case{3, 17, 19, 5, 6, 3, 1}, conv_case{3, 18, 20, 5, 6, 5, 2},
                                conv_case{2, 20, 21, 7, 9, 1, 1}}) {
        const auto d = dims_of(cc);
        const auto x = random_tensor<T>(shape{cc.n, cc.h, cc.w, cc.c}, 1200);
        const auto w = random_tensor<T>(shape{cc.k, cc.r, cc.r, cc.c}, 1201);
        const auto b = random_tensor<T>(shape{cc.k}, 1202);
        const auto dy = random_tensor<T>(shape{cc.n, d.oh, d.ow, cc.k}, 1203);
        auto y = poisoned<T>(dy.shape());
        hg::ops::conv2d_forward(be, d, x, w, b, y);
        auto dx = poisoned<T>(x.shape());
        hg::ops::conv2d_backward_data(be, d, dy, w, dx);
        auto dw = random_tensor<T>(w.shape(), 1204);
        auto db = random_tensor<T>(b.shape(), 1205);
        hg::ops::conv2d_backward_filter(be, d, x, dy, dw, db);
        r.approx.insert(r.approx.end(), {y, dx, dw, db});
    }
    {
        const std::int64_t n = 37, in = 300, out = 129;
        const auto x = random_tensor<T>(shape{n, in}, 1210);
        const auto w = random_tensor<T>(shape{out, in}, 1211);
        const auto b = random_tensor<T>(shape{out}, 1212);
        const auto dy = random_tensor<T>(shape{n, out}, 1213);
        auto y = poisoned<T>(dy.shape());
        hg::ops::dense_forward(be, n, in, out, x, w, b, y);
        auto dx = poisoned<T>(x.shape());
        hg::ops::dense_backward_data(be, n, in, out, dy, w, dx);
        auto dw = random_tensor<T>(w.shape(), 1214);
        auto db = random_tensor<T>(b.shape(), 1215);
        hg::ops::dense_backward_filter(be, n, in, out, x, dy, dw, db);
        r.approx.insert(r.approx.end(), {y, dx, dw, db});
    }
    {
        const shape s{2, 101, 103, 3};
        const auto x = random_tensor<T>(s, 1220, -3.0, 3.0);
        const auto a = random_tensor<T>(s, 1221);
        auto y = poisoned<T>(s);
        hg::ops::activation_forward(be, hg::math::leaky_relu_fn{0.1f}, x, y);
        auto dx = poisoned<T>(s);
        hg::ops::activation_backward(be, hg::math::leaky_relu_fn{0.1f}, x, y, a, dx);
        auto ys = poisoned<T>(s);
        hg::ops::activation_forward(be, hg::math::sigmoid_fn{}, x, ys);
        auto dxs = poisoned<T>(s);
        hg::ops::activation_backward(be, hg::math::sigmoid_fn{}, x, ys, a, dxs);
        auto sum = poisoned<T>(s);
        hg::ops::add(be, x, a, sum);
        auto acc = a.clone();
        hg::ops::axpy(be, T(0.5), x, acc);
        hg::ops::scale(be, T(3), acc);
        auto filled = poisoned<T>(s);
        hg::ops::fill(be, filled, T(-2));
        auto copied = poisoned<T>(s);
        hg::ops::copy(be, x, copied);
        r.exact.insert(r.exact.end(), {y, dx, ys, dxs, sum, acc, filled, copied});
    }
    {
        const auto depth = random_tensor<T>(shape{2, 50, 52, 16}, 1230);
        auto space = poisoned<T>(shape{2, 100, 104, 4});
        hg::ops::depth_to_space(be, depth, space);
        auto back = poisoned<T>(depth.shape());
        hg::ops::space_to_depth(be, space, back);
        r.exact.insert(r.exact.end(), {space, back});
    }
    {
        const shape s{2, 60, 70, 9};
        const auto b = random_tensor<T>(shape{9}, 1240);
        auto y = random_tensor<T>(s, 1241);
        hg::ops::bias_add(be, y, b);
        auto db = random_tensor<T>(shape{9}, 1242);
        hg::ops::bias_grad(be, y, db);
        auto pre = random_tensor<T>(s, 1243);
        auto act = poisoned<T>(s);
        hg::ops::bias_activation_forward(be, hg::math::tanh_fn{}, b, pre, act);
        r.exact.insert(r.exact.end(), {y, db, pre, act});
        for (const auto kind : {hg::ops::reduction::sum, hg::ops::reduction::mean, hg::ops::reduction::max_abs,
                                hg::ops::reduction::l2_norm}) {
            auto out = poisoned<T>(shape{1});
            hg::ops::reduce(be, kind, y, out);
            r.approx.push_back(out);
        }
    }
    return r;
}

}  // namespace

TEST_CASE_TEMPLATE("ops: two threads give the single-threaded result", T, float, double) {
    // Each backend is constructed right before its ops run (it sets Eigen's thread count).
    const auto one = run_ops<T>(1);
    const auto two = run_ops<T>(2);
    REQUIRE(one.approx.size() == two.approx.size());
    REQUIRE(one.exact.size() == two.exact.size());
    for (std::size_t i = 0; i < one.approx.size(); ++i) {
        INFO("reduction result " << i);
        REQUIRE(hg::test::all_finite(one.approx[i]));
        HG_CHECK_CLOSE(two.approx[i], one.approx[i], hg::test::tolerance<T>);
    }
    for (std::size_t i = 0; i < one.exact.size(); ++i) {
        INFO("per-element result " << i);
        REQUIRE(hg::test::all_finite(one.exact[i]));
        HG_CHECK_EQUAL_TENSORS(two.exact[i], one.exact[i]);
    }
}

TEST_CASE_TEMPLATE("ops: the threaded large-size results match the reference", T, float, double) {
    // The shapes of the threading check, against the naive reference on two threads.
    hg::cpu_backend<T> be(2);
    const conv_case cc{3, 18, 20, 5, 6, 5, 2};
    const auto d = dims_of(cc);
    const auto x = random_tensor<T>(shape{cc.n, cc.h, cc.w, cc.c}, 1300);
    const auto w = random_tensor<T>(shape{cc.k, cc.r, cc.r, cc.c}, 1301);
    const auto b = random_tensor<T>(shape{cc.k}, 1302);
    const auto dy = random_tensor<T>(shape{cc.n, d.oh, d.ow, cc.k}, 1303);
    auto y = poisoned<T>(dy.shape());
    hg::ops::conv2d_forward(be, d, x, w, b, y);
    HG_CHECK_CLOSE(y, hg::ref::conv2d_forward(D(x), D(w), D(b), 2), hg::test::tolerance<T>);
    auto dx = poisoned<T>(x.shape());
    hg::ops::conv2d_backward_data(be, d, dy, w, dx);
    HG_CHECK_CLOSE(dx, hg::ref::conv2d_backward_data(D(dy), D(w), x.shape(), 2), hg::test::tolerance<T>);

    const shape s{2, 101, 103, 3};
    const auto xa = random_tensor<T>(s, 1304, -3.0, 3.0);
    auto ya = poisoned<T>(s);
    hg::ops::activation_forward(be, hg::math::tanh_fn{}, xa, ya);
    HG_CHECK_CLOSE(ya, hg::ref::activation_forward(hg::ref::act::tanh, D(xa)), hg::test::tolerance<T>);
}

// A backend's products run on its own thread count: tests/cpu/test_cpu_backend_threads.cpp.
TEST_CASE("ops: a 1-thread backend's dense product beside a 2-thread backend matches the reference") {
    hg::cpu one(1);
    hg::cpu two(2);
    const auto x = random_tensor<float>(shape{4, 8}, 1400);
    const auto w = random_tensor<float>(shape{3, 8}, 1401);
    auto y = poisoned<float>(shape{4, 3});
    hg::ops::dense_forward(one, 4, 8, 3, x, w, hg::tensor(), y);
    HG_CHECK_CLOSE(y, hg::ref::dense_forward(D(x), D(w), hg::basic_tensor<double>()), 1e-5);
    {
        const auto s = one.product_threads();
        CHECK(Eigen::nbThreads() == one.threads());
    }
}
