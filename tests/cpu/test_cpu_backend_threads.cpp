// The CPU backend's thread count governs its Eigen matrix products even when another backend with a
// different count was made after it (Eigen keeps its product thread count in one process-wide
// setting, which each backend's constructor sets): dense and conv2d set it back to the count of the
// backend they run on, and their results still match the double-precision references.
#include <doctest/doctest.h>

#include <Eigen/Core>

#include "cpu/helpers.hpp"
#include "hourglass/math/conv_geometry.hpp"
#include "hourglass/ops/conv2d.hpp"
#include "hourglass/ops/dense.hpp"

using hg::test::D;
using hg::test::poisoned;

TEST_CASE("cpu backend: dense products run on the backend's own thread count after a 1-thread backend is made") {
    const hg::cpu be(2);
    const std::int64_t n = 4, in = 96, out = 80;
    const auto x = hg::test::random_tensor<float>(hg::shape{n, in}, 11);
    const auto w = hg::test::random_tensor<float>(hg::shape{out, in}, 12);
    const auto b = hg::test::random_tensor<float>(hg::shape{out}, 13);
    const auto dy = hg::test::random_tensor<float>(hg::shape{n, out}, 14);

    const hg::cpu helper(1);  // sets Eigen's process-wide count to 1
    REQUIRE(Eigen::nbThreads() == 1);
    auto y = poisoned<float>(hg::shape{n, out});
    hg::ops::dense_forward(be, n, in, out, x, w, b, y);
    CHECK(Eigen::nbThreads() == 2);
    HG_CHECK_CLOSE(y, hg::ref::dense_forward(D(x), D(w), D(b)), hg::test::tolerance<float>);

    const hg::cpu helper2(1);
    auto dx = poisoned<float>(hg::shape{n, in});
    hg::ops::dense_backward_data(be, n, in, out, dy, w, dx);
    CHECK(Eigen::nbThreads() == 2);
    HG_CHECK_CLOSE(dx, hg::ref::dense_backward_data(D(dy), D(w), x.shape()), hg::test::tolerance<float>);

    const hg::cpu helper3(1);
    auto dw = hg::test::random_tensor<float>(w.shape(), 15);
    auto db = hg::test::random_tensor<float>(b.shape(), 16);
    const auto dw_old = D(dw), db_old = D(db);
    hg::ops::dense_backward_filter(be, n, in, out, x, dy, dw, db);
    CHECK(Eigen::nbThreads() == 2);
    const auto g = hg::ref::dense_backward_filter(D(x), D(dy));
    HG_CHECK_CLOSE(dw, hg::ref::add(dw_old, g.dw), hg::test::tolerance<float>);
    HG_CHECK_CLOSE(db, hg::ref::add(db_old, g.db), hg::test::tolerance<float>);

    // A 1-thread backend's products run on one thread in turn.
    hg::ops::dense_forward(helper, n, in, out, x, w, b, y);
    CHECK(Eigen::nbThreads() == 1);
}

TEST_CASE("cpu backend: conv2d products run on the backend's own thread count after a 1-thread backend is made") {
    const hg::cpu be(2);
    // A 3x3 conv with 64 -> 64 channels: past the tiled schedule's size, so the chunked schedule
    // runs Eigen's own (multi-threaded) GEMM.
    const auto d = hg::math::conv2d_dims::make(2, 8, 8, 64, 256, 3, 1);
    REQUIRE_FALSE(hg::cpu_impl::conv_is_tiled<float>(d));
    const auto x = hg::test::random_tensor<float>(hg::shape{d.n, d.h, d.w, d.c}, 21);
    const auto w = hg::test::random_tensor<float>(hg::shape{d.k, d.r, d.r, d.c}, 22);
    const auto b = hg::test::random_tensor<float>(hg::shape{d.k}, 23);
    const auto dy = hg::test::random_tensor<float>(hg::shape{d.n, d.oh, d.ow, d.k}, 24);

    const hg::cpu helper(1);
    auto y = poisoned<float>(dy.shape());
    hg::ops::conv2d_forward(be, d, x, w, b, y);
    CHECK(Eigen::nbThreads() == 2);
    HG_CHECK_CLOSE(y, hg::ref::conv2d_forward(D(x), D(w), D(b), 1), hg::test::tolerance<float>);

    const hg::cpu helper2(1);
    auto dx = poisoned<float>(x.shape());
    hg::ops::conv2d_backward_data(be, d, dy, w, dx);
    CHECK(Eigen::nbThreads() == 2);
    HG_CHECK_CLOSE(dx, hg::ref::conv2d_backward_data(D(dy), D(w), x.shape(), 1), hg::test::tolerance<float>);

    const hg::cpu helper3(1);
    auto dw = hg::test::random_tensor<float>(w.shape(), 25);
    auto db = hg::test::random_tensor<float>(b.shape(), 26);
    const auto dw_old = D(dw), db_old = D(db);
    hg::ops::conv2d_backward_filter(be, d, x, dy, dw, db);
    CHECK(Eigen::nbThreads() == 2);
    const auto g = hg::ref::conv2d_backward_filter(D(x), D(dy), d.r, 1);
    HG_CHECK_CLOSE(dw, hg::ref::add(dw_old, g.dw), hg::test::tolerance<float>);
    HG_CHECK_CLOSE(db, hg::ref::add(db_old, g.db), hg::test::tolerance<float>);
}
