// The CPU conv2d's Winograd path (cpu/conv2d_winograd.hpp) for 3x3 stride-1 problems: every pass,
// F(2x2, 3x3) and F(4x4, 3x3) forced through cpu_backend::set_conv_algorithm, against the naive
// double-precision references of tests/ref/naive.hpp, on image sizes that are and are not multiples
// of the tile (edge tiles hang over), single pixels, one and two threads, and a batch large enough
// to be split into several tile chunks. Also: which problems automatic selection sends where, and
// the transform matrices' defining property (a Winograd tile equals the direct 3x3 correlation).
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "cpu/helpers.hpp"
#include "hourglass/core/rng.hpp"
#include "hourglass/cpu/conv2d_winograd.hpp"
#include "hourglass/math/winograd.hpp"
#include "hourglass/ops/conv2d.hpp"

namespace {

using hg::shape;
using hg::test::D;
using hg::test::poisoned;
using hg::test::random_tensor;

struct case3x3 {
    std::int64_t n, h, w, c, k;
    std::string str() const {
        std::ostringstream os;
        os << "x [" << n << ", " << h << ", " << w << ", " << c << "], " << k << " filters 3x3";
        return os.str();
    }
};

// Sizes below, at and above the tiles (2 and 4), odd and even; channel counts across the transforms'
// 64-channel blocks (1, 63, 64, 65, 130).
const std::vector<case3x3> cases = {
    {1, 1, 1, 3, 2},   {2, 2, 2, 4, 5},  {1, 3, 5, 7, 3},   {2, 4, 4, 65, 9},  {1, 5, 7, 8, 64},
    {3, 8, 8, 16, 16}, {1, 9, 6, 130, 7}, {2, 6, 10, 63, 1}, {1, 7, 7, 1, 65},
};

// Tolerance: the same norm-wise relative error as every other CPU op (1e-5 float, 1e-12 double).
// Measured on these cases: float 2.5e-7 (F(2x2)) and 1.3e-6 (F(4x4), whose transform entries up
// to 8 and 1/24 amplify rounding), double 1e-15 and 3e-15 (docs/numerics.md).

hg::cpu_conv_algorithm algorithm_of(int m) {
    return m == 2 ? hg::cpu_conv_algorithm::winograd_2x2 : hg::cpu_conv_algorithm::winograd_4x4;
}

template <class T>
void check_all_passes(const case3x3& cc, int m, int threads, std::uint64_t seed) {
    INFO(cc.str() << ", F(" << m << "x" << m << ", 3x3), threads " << threads);
    hg::cpu_backend<T> be(threads);
    be.set_conv_algorithm(algorithm_of(m));
    const auto d = hg::math::conv2d_dims::make(cc.n, cc.h, cc.w, cc.c, cc.k, 3, 1);
    REQUIRE(hg::cpu_impl::conv_winograd_tile(be, d) == m);
    const auto x = random_tensor<T>(shape{cc.n, cc.h, cc.w, cc.c}, seed);
    const auto w = random_tensor<T>(shape{cc.k, 3, 3, cc.c}, seed + 1);
    const auto b = random_tensor<T>(shape{cc.k}, seed + 2);
    const auto dy = random_tensor<T>(shape{cc.n, cc.h, cc.w, cc.k}, seed + 3);
    const double tol = hg::test::tolerance<T>;

    auto y = poisoned<T>(dy.shape());
    hg::ops::conv2d_forward(be, d, x, w, b, y);
    HG_CHECK_CLOSE(y, hg::ref::conv2d_forward(D(x), D(w), D(b), 1), tol);
    hg::test::poison(y);
    hg::ops::conv2d_forward(be, d, x, w, hg::basic_tensor<T>(), y);
    HG_CHECK_CLOSE(y, hg::ref::conv2d_forward(D(x), D(w), hg::basic_tensor<double>(), 1), tol);

    auto dx = poisoned<T>(x.shape());
    hg::ops::conv2d_backward_data(be, d, dy, w, dx);
    HG_CHECK_CLOSE(dx, hg::ref::conv2d_backward_data(D(dy), D(w), x.shape(), 1), tol);

    const auto g = hg::ref::conv2d_backward_filter(D(x), D(dy), 3, 1);
    const auto dw = random_tensor<T>(w.shape(), seed + 4);
    const auto db = random_tensor<T>(b.shape(), seed + 5);
    const auto dw_old = D(dw), db_old = D(db);
    hg::ops::conv2d_backward_filter(be, d, x, dy, dw, db);
    // dw is compared on the part the call added (the random start values would hide its error).
    HG_CHECK_CLOSE(hg::ref::add(D(dw), hg::ref::map(dw_old, [](double v) { return -v; })), g.dw, tol);
    HG_CHECK_CLOSE(db, hg::ref::add(db_old, g.db), tol);
}

}  // namespace

TEST_CASE_TEMPLATE("conv2d winograd: every pass matches the reference for F(2x2) and F(4x4)", T, float, double) {
    std::uint64_t seed = 7000;
    for (const auto& cc : cases) {
        for (const int m : {2, 4}) {
            for (const int threads : {1, 2}) {
                check_all_passes<T>(cc, m, threads, seed);
                seed += 10;
            }
        }
    }
}

TEST_CASE("conv2d winograd: a batch split into several tile chunks matches the reference") {
    // 48 MB of scratch per chunk: F(2x2) on 20 x 20 images of 256 + 256 channels keeps 32 KB per
    // tile, so 100 tiles per image and 20 images (2000 tiles) take two chunks.
    const case3x3 cc{20, 20, 20, 256, 256};
    const auto d = hg::math::conv2d_dims::make(cc.n, cc.h, cc.w, cc.c, cc.k, 3, 1);
    const std::int64_t tiles = hg::cpu_impl::winograd_tiling::make(d, 2).tiles;
    REQUIRE(hg::cpu_impl::winograd_tiles_per_chunk<float>(d, 4, tiles) < tiles);
    check_all_passes<float>(cc, 2, 2, 7900);
}

TEST_CASE("conv2d winograd: automatic selection sends large 3x3 stride-1 problems to Winograd only") {
    const hg::cpu be;
    auto tile = [&](std::int64_t n, std::int64_t hw, std::int64_t c, std::int64_t k, std::int64_t r, std::int64_t s) {
        return hg::cpu_impl::conv_winograd_tile(be, hg::math::conv2d_dims::make(n, hw, hw, c, k, r, s));
    };
    CHECK(tile(16, 32, 128, 256, 3, 1) == 4);   // the 64 px decoder's last upscale: 1024 tiles of 4x4
    CHECK(tile(16, 16, 256, 512, 3, 1) == 4);   // 256 tiles of 4x4
    CHECK(tile(16, 8, 512, 1024, 3, 1) == 2);   // 64 tiles of 4x4 are too few: 256 of 2x2
    CHECK(tile(16, 4, 1024, 2048, 3, 1) == 2);  // 64 tiles of 2x2 (16 of 4x4)
    CHECK(tile(64, 4, 1024, 2048, 3, 1) == 2);
    CHECK(tile(8, 4, 1024, 2048, 3, 1) == 0);   // 32 tiles of 2x2: im2col
    CHECK(tile(16, 6, 256, 256, 3, 1) == 2);    // 4x4 tiles would cover 8x8 for 6x6 (44 % overhang)
    CHECK(tile(16, 32, 8, 256, 3, 1) == 0);     // too few input channels
    CHECK(tile(16, 32, 128, 3, 3, 1) == 0);     // too few filters
    CHECK(tile(16, 32, 128, 256, 3, 2) == 0);   // stride 2
    CHECK(tile(16, 32, 128, 256, 5, 1) == 0);   // 5x5

    hg::cpu forced;
    forced.set_conv_algorithm(hg::cpu_conv_algorithm::im2col);
    CHECK(hg::cpu_impl::conv_winograd_tile(forced, hg::math::conv2d_dims::make(16, 32, 32, 128, 256, 3, 1)) == 0);
    forced.set_conv_algorithm(hg::cpu_conv_algorithm::winograd_4x4);
    CHECK(hg::cpu_impl::conv_winograd_tile(forced, hg::math::conv2d_dims::make(1, 2, 2, 1, 1, 3, 1)) == 4);
    CHECK(hg::cpu_impl::conv_winograd_tile(forced, hg::math::conv2d_dims::make(1, 8, 8, 4, 4, 5, 1)) == 0);
    CHECK(hg::cpu_impl::conv_winograd_tile(forced, hg::math::conv2d_dims::make(1, 8, 8, 4, 4, 3, 2)) == 0);
}

namespace {
/// A^T [ (G g G^T) (.) (B^T d B) ] A for one channel, in double, straight from the matrices.
template <int M>
void check_tile_identity() {
    using F = hg::math::winograd_f3<M>;
    constexpr int a = F::alpha;
    hg::rng gen(40 + M);
    double d[a][a], g[3][3];
    for (auto& row : d)
        for (double& v : row) v = 2 * gen.uniform_double() - 1;
    for (auto& row : g)
        for (double& v : row) v = 2 * gen.uniform_double() - 1;
    double u[a][a] = {}, v[a][a] = {}, y[M][M] = {};
    for (int p = 0; p < a; ++p)
        for (int q = 0; q < a; ++q)
            for (int i = 0; i < 3; ++i)
                for (int j = 0; j < 3; ++j) u[p][q] += F::g[p][i] * g[i][j] * F::g[q][j];
    for (int p = 0; p < a; ++p)
        for (int q = 0; q < a; ++q)
            for (int i = 0; i < a; ++i)
                for (int j = 0; j < a; ++j) v[p][q] += F::bt[p][i] * d[i][j] * F::bt[q][j];
    for (int r = 0; r < M; ++r)
        for (int s = 0; s < M; ++s)
            for (int p = 0; p < a; ++p)
                for (int q = 0; q < a; ++q) y[r][s] += F::at[r][p] * u[p][q] * v[p][q] * F::at[s][q];
    for (int r = 0; r < M; ++r) {
        for (int s = 0; s < M; ++s) {
            double direct = 0;
            for (int i = 0; i < 3; ++i)
                for (int j = 0; j < 3; ++j) direct += d[r + i][s + j] * g[i][j];
            INFO("F(" << M << "x" << M << ") output (" << r << ", " << s << ")");
            CHECK(y[r][s] == doctest::Approx(direct).epsilon(1e-12));
        }
    }
}
}  // namespace

TEST_CASE("conv2d winograd: the transform matrices compute the direct 3x3 correlation of a tile") {
    check_tile_identity<2>();
    check_tile_identity<4>();
}
