// The SSIM family on the CPU: the ops (ssim_map, ssim_stats, avg_pool2) against naive references
// written here in plain loops (full 2-D window, direct border reflection), the losses against
// scikit-image's values stored in tests/data/ssim_reference.txt (made by make_ssim_reference.py),
// self-similarity exactly 1, dssim = ssim / 2, backward accumulation, and the errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cpu/helpers.hpp"
#include "hourglass/losses/ssim.hpp"

namespace {

using hg::shape;
using hg::ops::ssim_form;
using hg::test::contains;
using hg::test::message_of;
using hg::test::random_tensor;

// ---- naive references (double precision, no separable filtering, no index tables) ----

/// scipy 'reflect' by its definition: mirror about the outer edge of the first/last pixel.
std::int64_t naive_reflect(std::int64_t j, std::int64_t n) {
    while (j < 0 || j >= n) j = j < 0 ? -1 - j : 2 * n - 1 - j;
    return j;
}

struct naive_ssim_result {
    std::vector<double> map;        // [N, Ho, Wo, C]
    std::vector<double> mean_ssim;  // [N, C]
    std::vector<double> mean_cs;    // [N, C]
    std::int64_t ho = 0, wo = 0;
};

template <class T>
naive_ssim_result naive_ssim(const hg::basic_tensor<T>& x, const hg::basic_tensor<T>& y, int size, bool same,
                             double sigma = 1.5) {
    const shape& s = x.shape();
    const std::int64_t r = (size - 1) / 2;
    std::vector<double> g(static_cast<std::size_t>(size));
    double gs = 0.0;
    for (int k = 0; k < size; ++k) {
        const double d = k - (size - 1) / 2.0;
        g[static_cast<std::size_t>(k)] = std::exp(-d * d / (2 * sigma * sigma));
        gs += g[static_cast<std::size_t>(k)];
    }
    naive_ssim_result out;
    out.ho = same ? s.h() : s.h() - size + 1;
    out.wo = same ? s.w() : s.w() - size + 1;
    out.map.assign(static_cast<std::size_t>(s.n() * out.ho * out.wo * s.c()), 0.0);
    out.mean_ssim.assign(static_cast<std::size_t>(s.n() * s.c()), 0.0);
    out.mean_cs.assign(static_cast<std::size_t>(s.n() * s.c()), 0.0);
    const double c1 = 1e-4, c2 = 9e-4;
    for (std::int64_t n = 0; n < s.n(); ++n)
        for (std::int64_t c = 0; c < s.c(); ++c)
            for (std::int64_t i = 0; i < out.ho; ++i)
                for (std::int64_t j = 0; j < out.wo; ++j) {
                    double mx = 0, my = 0, exx = 0, eyy = 0, exy = 0;
                    for (int u = 0; u < size; ++u)
                        for (int v = 0; v < size; ++v) {
                            const std::int64_t a = same ? naive_reflect(i + u - r, s.h()) : i + u;
                            const std::int64_t b = same ? naive_reflect(j + v - r, s.w()) : j + v;
                            const double w = g[static_cast<std::size_t>(u)] * g[static_cast<std::size_t>(v)] / (gs * gs);
                            const double xv = static_cast<double>(x.at(n, a, b, c)), yv = static_cast<double>(y.at(n, a, b, c));
                            mx += w * xv;
                            my += w * yv;
                            exx += w * xv * xv;
                            eyy += w * yv * yv;
                            exy += w * xv * yv;
                        }
                    const double vx = exx - mx * mx, vy = eyy - my * my, cxy = exy - mx * my;
                    const double cs = (2 * cxy + c2) / (vx + vy + c2);
                    const double ssim = (2 * mx * my + c1) / (mx * mx + my * my + c1) * cs;
                    out.map[static_cast<std::size_t>(((n * out.ho + i) * out.wo + j) * s.c() + c)] = ssim;
                    out.mean_ssim[static_cast<std::size_t>(n * s.c() + c)] += ssim / static_cast<double>(out.ho * out.wo);
                    out.mean_cs[static_cast<std::size_t>(n * s.c() + c)] += cs / static_cast<double>(out.ho * out.wo);
                }
    return out;
}

/// 2x2 average pooling with the last row/column repeated for odd sizes.
template <class T>
hg::basic_tensor<double> naive_pool(const hg::basic_tensor<T>& x) {
    const shape& s = x.shape();
    const std::int64_t ho = (s.h() + 1) / 2, wo = (s.w() + 1) / 2;
    auto out = hg::basic_tensor<double>::empty(shape{s.n(), ho, wo, s.c()});
    for (std::int64_t n = 0; n < s.n(); ++n)
        for (std::int64_t i = 0; i < ho; ++i)
            for (std::int64_t j = 0; j < wo; ++j)
                for (std::int64_t c = 0; c < s.c(); ++c) {
                    double sum = 0;
                    for (std::int64_t a : {2 * i, std::min(2 * i + 1, s.h() - 1)})
                        for (std::int64_t b : {2 * j, std::min(2 * j + 1, s.w() - 1)})
                            sum += static_cast<double>(x.at(n, a, b, c));
                    out.at(n, i, j, c) = sum / 4;
                }
    return out;
}

/// Naive MS-SSIM (double): the naive SSIM at each scale of a naive pooling pyramid.
template <class T>
double naive_ms_ssim(const hg::basic_tensor<T>& x0, const hg::basic_tensor<T>& y0) {
    const double p[5] = {0.0448, 0.2856, 0.3001, 0.2363, 0.1333};
    const int size = static_cast<int>(std::min<std::int64_t>(11, std::min(x0.shape().h(), x0.shape().w()) / 16));
    auto x = hg::test::D(x0), y = hg::test::D(y0);
    const std::int64_t nc = x.shape().n() * x.shape().c();
    std::vector<double> prod(static_cast<std::size_t>(nc), 1.0);
    for (int k = 0; k < 5; ++k) {
        if (k > 0) {
            x = naive_pool(x);
            y = naive_pool(y);
        }
        const auto r = naive_ssim(x, y, size, false);
        for (std::int64_t i = 0; i < nc; ++i) {
            const double t = k == 4 ? r.mean_ssim[static_cast<std::size_t>(i)] : r.mean_cs[static_cast<std::size_t>(i)];
            prod[static_cast<std::size_t>(i)] *= std::pow(std::max(t, 0.0), p[k]);
        }
    }
    double sum = 0;
    for (double v : prod) sum += v;
    return sum / static_cast<double>(nc);
}

// ---- the reference file ----

struct reference_pair {
    std::string name;
    shape s;
    std::vector<double> x, y;
    std::map<std::string, double> values;
};

std::vector<reference_pair> load_reference() {
    const auto path = std::filesystem::path(__FILE__).parent_path().parent_path() / "data" / "ssim_reference.txt";
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "cannot open " << path.string());
    std::vector<reference_pair> pairs;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream is(line);
        std::string key;
        is >> key;
        if (key == "pair") {
            reference_pair p;
            std::int64_t n, h, w, c;
            is >> p.name >> n >> h >> w >> c;
            p.s = shape{n, h, w, c};
            pairs.push_back(p);
        } else if (key == "x" || key == "y") {
            REQUIRE(!pairs.empty());
            auto& v = key == "x" ? pairs.back().x : pairs.back().y;
            double d;
            while (is >> d) v.push_back(d);
            REQUIRE(static_cast<std::int64_t>(v.size()) == pairs.back().s.numel());
        } else {
            REQUIRE(!pairs.empty());
            double d;
            is >> d;
            pairs.back().values[key] = d;
        }
    }
    REQUIRE(pairs.size() >= 3);
    return pairs;
}

template <class T>
hg::basic_tensor<T> tensor_of_values(const shape& s, const std::vector<double>& v) {
    auto t = hg::basic_tensor<T>::empty(s);
    for (std::int64_t i = 0; i < s.numel(); ++i) t[i] = static_cast<T>(v[static_cast<std::size_t>(i)]);
    return t;
}

template <class T, class Loss>
double loss_value(const Loss& loss, const hg::basic_tensor<T>& x, const hg::basic_tensor<T>& y) {
    hg::cpu_backend<T> be(2);
    auto value = hg::test::poisoned<T>(shape{1});
    loss.forward(be, x, y, value);
    return static_cast<double>(value[0]);
}

/// Images in [0, 1]: y is x plus noise, clipped (similar but not equal).
template <class T>
std::pair<hg::basic_tensor<T>, hg::basic_tensor<T>> image_pair(const shape& s, std::uint64_t seed) {
    auto x = random_tensor<T>(s, seed, 0.0, 1.0);
    auto noise = random_tensor<T>(s, seed + 1, -0.3, 0.3);
    auto y = hg::basic_tensor<T>::empty(s);
    for (std::int64_t i = 0; i < s.numel(); ++i) y[i] = std::min(T(1), std::max(T(0), x[i] + noise[i]));
    return {x, y};
}

const shape op_shapes[] = {shape{1, 11, 11, 1}, shape{2, 13, 17, 3}, shape{1, 24, 19, 2}, shape{3, 12, 14, 5}};

}  // namespace

TEST_CASE_TEMPLATE("ssim ops: map and statistics match the naive reference in both forms", T, float, double) {
    hg::cpu_backend<T> be(2);
    const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
    std::uint64_t seed = 300;
    for (const shape& s : op_shapes)
        for (const ssim_form form : {ssim_form::valid, ssim_form::same})
            for (const int window : {11, 4, 1}) {
                CAPTURE(s);
                CAPTURE(std::string(hg::ops::to_string(form)));
                CAPTURE(window);
                const auto [x, y] = image_pair<T>(s, seed += 2);
                hg::ops::ssim_config cfg;
                cfg.form = form;
                cfg.window = window;
                const auto want = naive_ssim(x, y, window, form == ssim_form::same);
                auto map = hg::test::poisoned<T>(cfg.map_shape(s));
                hg::ops::ssim_map(be, cfg, x, y, map);
                auto want_map = hg::basic_tensor<double>::from_vector(map.shape(), want.map);
                CHECK(hg::test::max_abs_difference(map, want_map) <= tol);
                auto stats = hg::test::poisoned<T>(shape{s.n(), s.c(), 2});
                hg::ops::ssim_stats(be, cfg, x, y, stats);
                for (std::int64_t i = 0; i < s.n() * s.c(); ++i) {
                    CHECK(std::abs(static_cast<double>(stats[2 * i]) - want.mean_ssim[static_cast<std::size_t>(i)]) <= tol);
                    CHECK(std::abs(static_cast<double>(stats[2 * i + 1]) - want.mean_cs[static_cast<std::size_t>(i)]) <= tol);
                }
            }
}

TEST_CASE_TEMPLATE("ssim ops: 2x2 average pooling and its transpose match the naive reference", T, float, double) {
    hg::cpu_backend<T> be(2);
    std::uint64_t seed = 400;
    for (const shape& s : {shape{1, 4, 6, 1}, shape{2, 5, 7, 3}, shape{1, 1, 1, 2}, shape{3, 9, 4, 5}}) {
        CAPTURE(s);
        const auto x = random_tensor<T>(s, ++seed, 0.0, 1.0);
        auto out = hg::test::poisoned<T>(hg::ops::detail::pool2_shape(s));
        hg::ops::avg_pool2(be, x, out);
        HG_CHECK_CLOSE(out, naive_pool(x), hg::test::tolerance<T>);
        // <pool(x), dy> == <x, pool^T(dy)> for random dy, and accumulate adds to what was there.
        const auto dy = random_tensor<T>(out.shape(), ++seed);
        auto dx = hg::test::poisoned<T>(s);
        hg::ops::avg_pool2_backward(be, dy, dx, false);
        double lhs = 0, rhs = 0;
        for (std::int64_t i = 0; i < out.numel(); ++i) lhs += static_cast<double>(out[i]) * static_cast<double>(dy[i]);
        for (std::int64_t i = 0; i < x.numel(); ++i) rhs += static_cast<double>(x[i]) * static_cast<double>(dx[i]);
        CHECK(std::abs(lhs - rhs) <= 1e-5 * (1 + std::abs(lhs)));
        auto acc = random_tensor<T>(s, ++seed);
        const auto before = acc.clone();
        hg::ops::avg_pool2_backward(be, dy, acc, true);
        for (std::int64_t i = 0; i < acc.numel(); ++i) CHECK(acc[i] == doctest::Approx(before[i] + dx[i]).epsilon(1e-6));
    }
}

TEST_CASE_TEMPLATE("ssim losses: values match scikit-image's structural_similarity", T, float, double) {
    const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-10;
    for (const auto& p : load_reference()) {
        CAPTURE(p.name);
        const auto x = tensor_of_values<T>(p.s, p.x);
        const auto y = tensor_of_values<T>(p.s, p.y);
        const double valid = p.values.at("ssim_valid"), same = p.values.at("ssim_same");
        CHECK(std::abs(loss_value(hg::losses::ssim(ssim_form::valid), x, y) - (1 - valid)) <= tol);
        CHECK(std::abs(loss_value(hg::losses::ssim(ssim_form::same), x, y) - (1 - same)) <= tol);
        CHECK(std::abs(loss_value(hg::losses::dssim(ssim_form::valid), x, y) - (1 - valid) / 2) <= tol);
        CHECK(std::abs(loss_value(hg::losses::dssim(ssim_form::same), x, y) - (1 - same) / 2) <= tol);
        // The valid value is symmetric in the arguments.
        CHECK(std::abs(loss_value(hg::losses::ssim(), y, x) - (1 - valid)) <= tol);
    }
}

TEST_CASE_TEMPLATE("ms_ssim loss: values match the numpy reference and the naive pyramid", T, float, double) {
    const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-10;
    int checked = 0;
    for (const auto& p : load_reference()) {
        if (!p.values.count("ms_ssim")) continue;
        CAPTURE(p.name);
        const auto x = tensor_of_values<T>(p.s, p.x);
        const auto y = tensor_of_values<T>(p.s, p.y);
        const double got = loss_value(hg::losses::ms_ssim(), x, y);
        CHECK(std::abs(got - (1 - p.values.at("ms_ssim"))) <= tol);
        CHECK(std::abs(got - (1 - naive_ms_ssim(x, y))) <= tol);
        ++checked;
    }
    CHECK(checked >= 2);
    // A batch of 2, odd sizes, 3 channels: against the naive pyramid only.
    const auto [x, y] = image_pair<T>(shape{2, 35, 50, 3}, 77);
    CHECK(std::abs(loss_value(hg::losses::ms_ssim(), x, y) - (1 - naive_ms_ssim(x, y))) <= tol);
}

TEST_CASE_TEMPLATE("ssim losses: an image against itself gives exactly SSIM 1", T, float, double) {
    hg::cpu_backend<T> be(2);
    for (const shape& s : {shape{1, 11, 11, 1}, shape{2, 23, 17, 3}, shape{1, 64, 64, 3}}) {
        CAPTURE(s);
        const auto x = random_tensor<T>(s, 500 + static_cast<std::uint64_t>(s.h()), 0.0, 1.0);
        const auto copy = x.clone();
        for (const ssim_form form : {ssim_form::valid, ssim_form::same}) {
            CHECK(loss_value(hg::losses::ssim(form), x, copy) == 0.0);
            CHECK(loss_value(hg::losses::dssim(form), x, copy) == 0.0);
            hg::ops::ssim_config cfg;
            cfg.form = form;
            auto map = hg::test::poisoned<T>(cfg.map_shape(s));
            hg::ops::ssim_map(be, cfg, x, copy, map);
            for (std::int64_t i = 0; i < map.numel(); ++i) REQUIRE(map[i] == T(1));
        }
        if (s.h() >= 32) CHECK(loss_value(hg::losses::ms_ssim(), x, copy) == 0.0);
    }
}

TEST_CASE_TEMPLATE("ssim losses: backward accumulates into dpred", T, float, double) {
    hg::cpu_backend<T> be(2);
    const auto [x, y] = image_pair<T>(shape{2, 33, 36, 3}, 600);
    auto check_accumulates = [&](const auto& loss) {
        CAPTURE(loss.name());
        auto fresh = hg::basic_tensor<T>::zeros(x.shape());
        loss.backward(be, x, y, 1.5, fresh);
        CHECK(hg::test::max_abs_difference(fresh, hg::basic_tensor<T>::zeros(x.shape())) > 0.0);
        auto dpred = random_tensor<T>(x.shape(), 601);
        const auto start = dpred.clone();
        loss.backward(be, x, y, 1.5, dpred);
        for (std::int64_t i = 0; i < dpred.numel(); ++i)
            REQUIRE(dpred[i] == doctest::Approx(start[i] + fresh[i]).epsilon(1e-5));
    };
    check_accumulates(hg::losses::ssim());
    check_accumulates(hg::losses::ssim(ssim_form::same));
    check_accumulates(hg::losses::dssim());
    check_accumulates(hg::losses::ms_ssim());
    // dssim's gradient is half of ssim's.
    auto g1 = hg::basic_tensor<T>::zeros(x.shape()), g2 = hg::basic_tensor<T>::zeros(x.shape());
    hg::losses::ssim().backward(be, x, y, 1.0, g1);
    hg::losses::dssim().backward(be, x, y, 2.0, g2);
    HG_CHECK_CLOSE(g2, g1, hg::test::tolerance<T>);
}

TEST_CASE("ssim losses: float32 gradients are within rounding of float64 when as large as the start") {
    // The float32 path (separable filters, E[x^2] - mu^2 variances) against the same algorithm in
    // float64 on the very same inputs, accumulated into a random start: measured 4e-7 relative. The
    // weight makes the per-element gradient (~1/numel of the mean) as large as the start; at weight 1
    // the float rounding of start + gradient would dominate (2e-4 at 64x64), which is what a
    // comparison of two backends must avoid too (tests/cuda/test_losses_ssim.cpp).
    hg::cpu be(2);
    hg::cpu64 be64(2);
    for (const shape& s : {shape{2, 13, 17, 3}, shape{2, 64, 64, 3}, shape{1, 37, 70, 5}}) {
        CAPTURE(s);
        const auto [x, y] = image_pair<float>(s, 800);
        const auto x64 = hg::test::D(x), y64 = hg::test::D(y);
        const auto start = random_tensor<float>(s, 801);
        const double weight = 0.75 * static_cast<double>(s.numel());
        auto check = [&](const auto& loss) {
            CAPTURE(loss.name());
            auto g32 = start.clone();
            loss.backward(be, x, y, weight, g32);
            auto g64 = hg::test::D(start);
            loss.backward(be64, x64, y64, weight, g64);
            CHECK(hg::test::relative_error_of_added(g32, g64, start) <= 1e-6);
        };
        check(hg::losses::ssim());
        check(hg::losses::ssim(ssim_form::same));
        check(hg::losses::dssim());
    }
}

TEST_CASE("ssim losses: errors name the loss and the reason") {
    hg::cpu be(1);
    const auto [x, y] = image_pair<float>(shape{1, 40, 40, 3}, 700);
    auto value = hg::tensor::empty(shape{1});
    const auto other = random_tensor<float>(shape{1, 40, 41, 3}, 701, 0.0, 1.0);
    CHECK(contains(message_of<hg::shape_error>([&] { hg::losses::ssim().forward(be, x, other, value); }),
                   "ssim: the target has shape"));
    CHECK(contains(message_of<hg::shape_error>([&] { hg::losses::ms_ssim().forward(be, x, other, value); }),
                   "ms_ssim: the target"));
    const auto small = random_tensor<float>(shape{1, 10, 12, 3}, 702, 0.0, 1.0);
    CHECK(contains(message_of<hg::shape_error>([&] { hg::losses::dssim().forward(be, small, small, value); }),
                   "dssim: the images [1, 10, 12, 3] are smaller than the 11x11 window"));
    auto dsmall = hg::tensor::zeros(small.shape());
    CHECK(contains(message_of<hg::shape_error>([&] { hg::losses::ssim().backward(be, small, small, 1.0, dsmall); }),
                   "ssim: the images"));
    const auto x31 = random_tensor<float>(shape{1, 31, 64, 3}, 703, 0.0, 1.0);
    CHECK(contains(message_of<hg::shape_error>([&] { hg::losses::ms_ssim().forward(be, x31, x31, value); }),
                   "ms_ssim: the images [1, 31, 64, 3] are too small for 5 scales"));
    // Values outside [0, 1], and NaN, unless the check is off.
    auto bad = x.clone();
    bad[17] = 1.25f;
    CHECK(contains(message_of<hg::value_error>([&] { hg::losses::ssim().forward(be, bad, y, value); }),
                   "ssim: pred has values in"));
    CHECK(contains(message_of<hg::value_error>([&] { hg::losses::ms_ssim().forward(be, x, bad, value); }),
                   "ms_ssim: target has values in"));
    bad[17] = std::nanf("");
    CHECK(contains(message_of<hg::value_error>([&] { hg::losses::dssim().forward(be, bad, y, value); }), "outside [0, 1]"));
    bad[17] = 1.25f;
    CHECK_NOTHROW(hg::losses::ssim(ssim_form::valid, false).forward(be, bad, y, value));
    CHECK(std::isfinite(value[0]));
    // Wrong value / dpred tensors.
    auto two = hg::tensor::empty(shape{2});
    CHECK(contains(message_of<hg::shape_error>([&] { hg::losses::ssim().forward(be, x, y, two); }), "ssim: argument 'value'"));
    auto wrong = hg::tensor::zeros(shape{1, 40, 40, 1});
    CHECK(contains(message_of<hg::shape_error>([&] { hg::losses::ms_ssim().backward(be, x, y, 1.0, wrong); }),
                   "ms_ssim: argument 'dpred'"));
    auto dx = hg::tensor::zeros(x.shape());
    CHECK(contains(message_of<hg::value_error>([&] { hg::losses::ssim().backward(be, x, y, NAN, dx); }),
                   "ssim: the backward weight must be finite"));
    CHECK(contains(message_of<hg::value_error>([&] { hg::losses::ms_ssim().backward(be, x, y, INFINITY, dx); }),
                   "ms_ssim: the backward weight must be finite"));
    // The ops' own checks.
    hg::ops::ssim_config cfg;
    auto stats = hg::tensor::empty(shape{1, 3, 2});
    cfg.window = 12;
    CHECK(contains(message_of<hg::value_error>([&] { hg::ops::ssim_stats(be, cfg, x, y, stats); }), "ssim_stats: the window"));
    cfg.window = 11;
    cfg.sigma = 0.0;
    CHECK(contains(message_of<hg::value_error>([&] { hg::ops::ssim_stats(be, cfg, x, y, stats); }), "sigma"));
    cfg.sigma = 1.5;
    auto bad_stats = hg::tensor::empty(shape{1, 2, 2});
    CHECK(contains(message_of<hg::shape_error>([&] { hg::ops::ssim_stats(be, cfg, x, y, bad_stats); }), "'stats'"));
    auto pooled = hg::tensor::empty(shape{1, 21, 20, 3});
    CHECK(contains(message_of<hg::shape_error>([&] { hg::ops::avg_pool2(be, x, pooled); }), "avg_pool2: argument 'out'"));
}
