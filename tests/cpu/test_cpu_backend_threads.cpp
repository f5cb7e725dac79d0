// The CPU backend's thread count governs its matrix products (Eigen's, and the BLAS's when the
// build uses one: both read OpenMP's per-thread count): each product sets that count for its own
// duration and restores the caller's, so a backend made or used with another count - a 1-thread
// helper for host-side work, or another backend on another thread at the same time - never changes
// it, and the products still match the double-precision references.
#include <doctest/doctest.h>

#include <Eigen/Core>
#include <atomic>
#include <thread>
#include <vector>

#include "cpu/helpers.hpp"
#include "hourglass/math/conv_geometry.hpp"
#include "hourglass/ops/conv2d.hpp"
#include "hourglass/ops/dense.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

using hg::test::D;
using hg::test::poisoned;

TEST_CASE("cpu backend: a product scope sets the backend's thread count and restores the caller's") {
#if defined(_OPENMP)
    const int caller = omp_get_max_threads();
    const hg::cpu one(1), three(3);
    {
        const auto s = one.product_threads();
        CHECK(omp_get_max_threads() == 1);
        CHECK(Eigen::nbThreads() == 1);
        {
            const auto inner = three.product_threads();
            CHECK(Eigen::nbThreads() == 3);
        }
        CHECK(Eigen::nbThreads() == 1);
    }
    CHECK(omp_get_max_threads() == caller);
    CHECK(Eigen::nbThreads() == caller);
#else
    MESSAGE("built without OpenMP: every product runs on one thread");
    CHECK(Eigen::nbThreads() == 1);
#endif
}

TEST_CASE("cpu backend: backends on two threads at once keep their own product thread counts") {
#if defined(_OPENMP)
    std::atomic<int> wrong{0};
    std::atomic<bool> go{false};
    auto worker = [&](int threads) {
        const hg::cpu be(threads);
        while (!go.load()) std::this_thread::yield();
        for (int i = 0; i < 20000; ++i) {
            const auto s = be.product_threads();
            if (Eigen::nbThreads() != threads) ++wrong;
        }
    };
    std::thread a(worker, 1), b(worker, 2);
    go = true;
    a.join();
    b.join();
    CHECK(wrong.load() == 0);
#else
    MESSAGE("built without OpenMP: nothing to race");
    CHECK(Eigen::nbThreads() == 1);
#endif
}

TEST_CASE("cpu backend: dense products on the backend's count after a 1-thread backend is made match the reference") {
    const hg::cpu be(2);
    const std::int64_t n = 4, in = 96, out = 80;
    const auto x = hg::test::random_tensor<float>(hg::shape{n, in}, 11);
    const auto w = hg::test::random_tensor<float>(hg::shape{out, in}, 12);
    const auto b = hg::test::random_tensor<float>(hg::shape{out}, 13);
    const auto dy = hg::test::random_tensor<float>(hg::shape{n, out}, 14);
    const int caller = Eigen::nbThreads();

    const hg::cpu helper(1);
    auto y = poisoned<float>(hg::shape{n, out});
    hg::ops::dense_forward(be, n, in, out, x, w, b, y);
    HG_CHECK_CLOSE(y, hg::ref::dense_forward(D(x), D(w), D(b)), hg::test::tolerance<float>);

    auto dx = poisoned<float>(hg::shape{n, in});
    hg::ops::dense_backward_data(be, n, in, out, dy, w, dx);
    HG_CHECK_CLOSE(dx, hg::ref::dense_backward_data(D(dy), D(w), x.shape()), hg::test::tolerance<float>);

    auto dw = hg::test::random_tensor<float>(w.shape(), 15);
    auto db = hg::test::random_tensor<float>(b.shape(), 16);
    const auto dw_old = D(dw), db_old = D(db);
    hg::ops::dense_backward_filter(helper, n, in, out, x, dy, dw, db);
    const auto g = hg::ref::dense_backward_filter(D(x), D(dy));
    HG_CHECK_CLOSE(dw, hg::ref::add(dw_old, g.dw), hg::test::tolerance<float>);
    HG_CHECK_CLOSE(db, hg::ref::add(db_old, g.db), hg::test::tolerance<float>);
    CHECK(Eigen::nbThreads() == caller);  // the caller's count is back after every product
}

TEST_CASE("cpu backend: conv2d products on the backend's count after a 1-thread backend is made match the reference") {
    const hg::cpu be(2);
    // A 3x3 conv with 64 -> 64 channels: past the tiled schedule's size, so the chunked schedule
    // runs a multi-threaded GEMM.
    const auto d = hg::math::conv2d_dims::make(2, 8, 8, 64, 256, 3, 1);
    REQUIRE_FALSE(hg::cpu_impl::conv_is_tiled<float>(d));
    const auto x = hg::test::random_tensor<float>(hg::shape{d.n, d.h, d.w, d.c}, 21);
    const auto w = hg::test::random_tensor<float>(hg::shape{d.k, d.r, d.r, d.c}, 22);
    const auto b = hg::test::random_tensor<float>(hg::shape{d.k}, 23);
    const auto dy = hg::test::random_tensor<float>(hg::shape{d.n, d.oh, d.ow, d.k}, 24);
    const int caller = Eigen::nbThreads();

    const hg::cpu helper(1);
    auto y = poisoned<float>(dy.shape());
    hg::ops::conv2d_forward(be, d, x, w, b, y);
    HG_CHECK_CLOSE(y, hg::ref::conv2d_forward(D(x), D(w), D(b), 1), hg::test::tolerance<float>);

    auto dx = poisoned<float>(x.shape());
    hg::ops::conv2d_backward_data(be, d, dy, w, dx);
    HG_CHECK_CLOSE(dx, hg::ref::conv2d_backward_data(D(dy), D(w), x.shape(), 1), hg::test::tolerance<float>);

    auto dw = hg::test::random_tensor<float>(w.shape(), 25);
    auto db = hg::test::random_tensor<float>(b.shape(), 26);
    const auto dw_old = D(dw), db_old = D(db);
    hg::ops::conv2d_backward_filter(be, d, x, dy, dw, db);
    const auto g = hg::ref::conv2d_backward_filter(D(x), D(dy), d.r, 1);
    HG_CHECK_CLOSE(dw, hg::ref::add(dw_old, g.dw), hg::test::tolerance<float>);
    HG_CHECK_CLOSE(db, hg::ref::add(db_old, g.db), hg::test::tolerance<float>);
    CHECK(Eigen::nbThreads() == caller);
}
