// The focal frequency loss on the CPU (float and double) against a naive reference written here:
// a plain O((H W)^2) 2-D DFT of pred and of target per image and channel, the weights from their
// difference, the mean, and the gradient summed term by term. Also: the weight matrix op, a known
// value (flat weights reduce the loss to a mean square by Parseval), zero for identical images,
// averaging over the batch, the given-weights ops against the computed ones, independence from
// the thread count, and the errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "cpu/helpers.hpp"
#include "hourglass/losses/focal_frequency.hpp"
#include "hourglass/ops/focal_frequency.hpp"

namespace {

using hg::shape;
using hg::test::D;
using hg::test::random_tensor;
using cd = std::complex<double>;
constexpr double pi = 3.14159265358979323846;

struct naive_result {
    hg::basic_tensor<double> weights;
    double value = 0.0;
    hg::basic_tensor<double> grad;  // dL/dpred with the weights held constant
};

/// The reference: per (n, c) the orthonormal DFTs F_p and F_t by the definition, D = F_p - F_t,
/// w = min(1, (|D| / max |D|)^alpha) (0 when max |D| = 0), L = mean of w |D|^2 over all N H W C
/// terms, dL/dp_x = (2 / count) sum_k w_k Re(D_k conj(e_kx)) with e_kx = exp(-2 pi i (ky y / H +
/// kx x / W)) / sqrt(H W). With `given`, w is read from it instead.
naive_result naive_focal(const hg::basic_tensor<double>& pred, const hg::basic_tensor<double>& target, double alpha,
                         const hg::basic_tensor<double>* given = nullptr) {
    const std::int64_t n = pred.shape().n(), h = pred.shape().h(), w = pred.shape().w(), c = pred.shape().c();
    const std::int64_t hw = h * w;
    const double count = static_cast<double>(n * hw * c), norm = 1.0 / std::sqrt(static_cast<double>(hw));
    naive_result r;
    r.weights = hg::basic_tensor<double>::zeros(pred.shape());
    r.grad = hg::basic_tensor<double>::zeros(pred.shape());
    auto at = [&](std::int64_t img, std::int64_t y, std::int64_t x, std::int64_t ch) {
        return ((img * h + y) * w + x) * c + ch;
    };
    auto basis = [&](std::int64_t ky, std::int64_t kx, std::int64_t y, std::int64_t x) {
        const double angle = -2.0 * pi *
                             (static_cast<double>((ky * y) % h) / static_cast<double>(h) +
                              static_cast<double>((kx * x) % w) / static_cast<double>(w));
        return cd(std::cos(angle), std::sin(angle)) * norm;
    };
    double sum = 0.0;
    for (std::int64_t img = 0; img < n; ++img)
        for (std::int64_t ch = 0; ch < c; ++ch) {
            std::vector<cd> d(static_cast<std::size_t>(hw));
            for (std::int64_t ky = 0; ky < h; ++ky)
                for (std::int64_t kx = 0; kx < w; ++kx) {
                    cd fp(0.0, 0.0), ft(0.0, 0.0);
                    for (std::int64_t y = 0; y < h; ++y)
                        for (std::int64_t x = 0; x < w; ++x) {
                            const cd e = basis(ky, kx, y, x);
                            fp += pred[at(img, y, x, ch)] * e;
                            ft += target[at(img, y, x, ch)] * e;
                        }
                    d[static_cast<std::size_t>(ky * w + kx)] = fp - ft;
                }
            double peak = 0.0;
            for (const cd& v : d) peak = std::max(peak, std::abs(v));
            std::vector<double> wk(static_cast<std::size_t>(hw));
            for (std::int64_t k = 0; k < hw; ++k) {
                const std::int64_t idx = at(img, k / w, k % w, ch);
                double weight = 0.0;
                if (given) {
                    weight = (*given)[idx];
                } else if (peak > 0.0) {
                    weight = std::min(1.0, std::pow(std::abs(d[static_cast<std::size_t>(k)]) / peak, alpha));
                }
                wk[static_cast<std::size_t>(k)] = weight;
                r.weights[idx] = weight;
                sum += weight * std::norm(d[static_cast<std::size_t>(k)]);
            }
            for (std::int64_t y = 0; y < h; ++y)
                for (std::int64_t x = 0; x < w; ++x) {
                    double g = 0.0;
                    for (std::int64_t k = 0; k < hw; ++k)
                        g += wk[static_cast<std::size_t>(k)] *
                             (d[static_cast<std::size_t>(k)] * std::conj(basis(k / w, k % w, y, x))).real();
                    r.grad[at(img, y, x, ch)] = 2.0 * g / count;
                }
        }
    r.value = sum / count;
    return r;
}

/// Per-type tolerance against the reference: the CPU transforms in double whatever T, so for float
/// only the final rounding of each output remains.
template <class T>
constexpr double focal_tolerance = std::is_same_v<T, float> ? 1e-6 : 1e-12;

const shape test_shapes[] = {shape{1, 8, 8, 1}, shape{2, 7, 5, 3}, shape{3, 6, 10, 2}, shape{1, 12, 9, 4},
                             shape{2, 16, 16, 3}, shape{1, 1, 1, 1}, shape{1, 1, 6, 2}};

template <class T>
hg::basic_tensor<T> add_scaled(const hg::basic_tensor<T>& a, double s, const hg::basic_tensor<double>& b) {
    auto out = a.clone();
    for (std::int64_t i = 0; i < a.numel(); ++i) out[i] = static_cast<T>(static_cast<double>(a[i]) + s * b[i]);
    return out;
}

}  // namespace

TEST_CASE_TEMPLATE("focal_frequency: value and gradient match the naive DFT reference", T, float, double) {
    hg::cpu_backend<T> be;
    be.poison_allocations(true);
    std::uint64_t seed = 40;
    for (const shape& s : test_shapes) {
        for (const double alpha : {1.0, 0.5, 2.0}) {
            CAPTURE(s);
            CAPTURE(alpha);
            const auto pred = random_tensor<T>(s, ++seed, 0.0, 1.0);
            const auto target = random_tensor<T>(s, ++seed, 0.0, 1.0);
            const auto ref = naive_focal(D(pred), D(target), alpha);
            const hg::losses::focal_frequency loss(alpha);
            CHECK(loss.name() == "focal_frequency");
            CHECK(loss.alpha() == alpha);

            auto value = be.empty(shape{1});
            loss.forward(be, pred, target, value);
            INFO("value " << value[0] << ", reference " << ref.value);
            CHECK(std::isfinite(static_cast<double>(value[0])));
            CHECK(std::abs(static_cast<double>(value[0]) - ref.value) <= focal_tolerance<T> * ref.value);

            // From zero: the gradient alone.
            auto grad = hg::basic_tensor<T>::zeros(s);
            loss.backward(be, pred, target, 1.0, grad);
            HG_CHECK_CLOSE(grad, ref.grad, focal_tolerance<T>);

            // From random contents with a weight: dpred += weight * dL/dpred.
            const auto before = random_tensor<T>(s, ++seed);
            auto dpred = before.clone();
            loss.backward(be, pred, target, 0.7, dpred);
            HG_CHECK_CLOSE(dpred, D(add_scaled(before, 0.7, ref.grad)), focal_tolerance<T>);

            auto weights = be.empty(s);
            hg::ops::focal_frequency_weights(be, pred, target, alpha, weights);
            HG_CHECK_CLOSE(weights, ref.weights, focal_tolerance<T>);
        }
    }
}

TEST_CASE("focal_frequency: the weight matrix is the normalised spectrum distance, 1 at each plane's peak") {
    hg::cpu64 be;
    be.poison_allocations(true);
    const shape s{2, 9, 6, 3};
    const auto pred = random_tensor<double>(s, 71, 0.0, 1.0);
    const auto target = random_tensor<double>(s, 72, 0.0, 1.0);
    auto weights = be.empty(s);
    hg::ops::focal_frequency_weights(be, pred, target, 1.0, weights);
    HG_CHECK_CLOSE(weights, naive_focal(pred, target, 1.0).weights, 1e-12);
    for (std::int64_t n = 0; n < s.n(); ++n)
        for (std::int64_t c = 0; c < s.c(); ++c) {
            double lo = 1.0, hi = 0.0;
            for (std::int64_t k = 0; k < s.h() * s.w(); ++k) {
                const double v = weights[(n * s.h() * s.w() + k) * s.c() + c];
                lo = std::min(lo, v);
                hi = std::max(hi, v);
            }
            CHECK(hi == 1.0);
            CHECK(lo >= 0.0);
            CHECK(lo < 1.0);
        }
}

TEST_CASE_TEMPLATE("focal_frequency: flat weights make it a mean square (Parseval)", T, float, double) {
    // One impulse per plane: |D_k| is the same at every frequency, so w = 1 and, F being unitary,
    // L = sum |D_k|^2 / count = sum (pred - target)^2 / count, dL/dpred = 2 (pred - target) / count.
    hg::cpu_backend<T> be;
    be.poison_allocations(true);
    const shape s{2, 6, 5, 2};
    auto pred = hg::basic_tensor<T>::zeros(s);
    auto target = hg::basic_tensor<T>::zeros(s);
    const double amplitude[] = {0.8, 0.25, 0.5, 0.125};
    double sum_sq = 0.0;
    for (std::int64_t n = 0; n < 2; ++n)
        for (std::int64_t c = 0; c < 2; ++c) {
            const double a = amplitude[n * 2 + c];
            pred[((n * 6 + 2) * 5 + 3) * 2 + c] = static_cast<T>(a);
            sum_sq += a * a;
        }
    const double count = static_cast<double>(s.numel());
    const hg::losses::focal_frequency loss;
    auto value = be.empty(shape{1});
    loss.forward(be, pred, target, value);
    CHECK(std::abs(static_cast<double>(value[0]) - sum_sq / count) <= focal_tolerance<T> * sum_sq / count);
    auto grad = hg::basic_tensor<T>::zeros(s);
    loss.backward(be, pred, target, 1.0, grad);
    auto want = hg::basic_tensor<double>::zeros(s);
    for (std::int64_t i = 0; i < s.numel(); ++i) want[i] = 2.0 * static_cast<double>(pred[i]) / count;
    HG_CHECK_CLOSE(grad, want, focal_tolerance<T>);
    auto weights = be.empty(s);
    hg::ops::focal_frequency_weights(be, pred, target, 1.0, weights);
    for (std::int64_t i = 0; i < s.numel(); ++i) CHECK(std::abs(static_cast<double>(weights[i]) - 1.0) < 1e-6);
}

TEST_CASE_TEMPLATE("focal_frequency: identical images give 0, a zero gradient and zero weights", T, float, double) {
    hg::cpu_backend<T> be;
    be.poison_allocations(true);
    const shape s{2, 7, 8, 3};
    const auto x = random_tensor<T>(s, 81, 0.0, 1.0);
    const hg::losses::focal_frequency loss;
    auto value = be.empty(shape{1});
    loss.forward(be, x, x.clone(), value);
    CHECK(value[0] == T(0));
    const auto before = random_tensor<T>(s, 82);
    auto dpred = before.clone();
    loss.backward(be, x, x.clone(), 1.0, dpred);
    HG_CHECK_EQUAL_TENSORS(dpred, before);
    auto weights = be.empty(s);
    hg::ops::focal_frequency_weights(be, x, x.clone(), 1.0, weights);
    for (std::int64_t i = 0; i < s.numel(); ++i) CHECK(weights[i] == T(0));
}

TEST_CASE("focal_frequency: the value is averaged over the batch") {
    hg::cpu64 be;
    const shape one{1, 10, 7, 3}, two{2, 10, 7, 3};
    const auto pred = random_tensor<double>(two, 91, 0.0, 1.0);
    const auto target = random_tensor<double>(two, 92, 0.0, 1.0);
    const hg::losses::focal_frequency loss;
    auto value = be.empty(shape{1});
    loss.forward(be, pred, target, value);
    const double both = value[0];
    double parts = 0.0;
    for (std::int64_t n = 0; n < 2; ++n) {
        loss.forward(be, pred.batch_slice(n, 1), target.batch_slice(n, 1), value);
        parts += value[0];
    }
    CHECK(std::abs(both - parts / 2.0) <= 1e-14 * both);
}

TEST_CASE("focal_frequency: the given-weights ops with the computed weights are the loss itself") {
    hg::cpu64 be;
    be.poison_allocations(true);
    const shape s{2, 12, 10, 3};
    const auto pred = random_tensor<double>(s, 101, 0.0, 1.0);
    const auto target = random_tensor<double>(s, 102, 0.0, 1.0);
    auto weights = be.empty(s);
    hg::ops::focal_frequency_weights(be, pred, target, 1.0, weights);
    auto value = be.empty(shape{1}), weighted_value = be.empty(shape{1});
    hg::ops::focal_frequency_forward(be, pred, target, 1.0, value);
    hg::ops::focal_frequency_weighted_forward(be, pred, target, weights, weighted_value);
    CHECK(std::abs(value[0] - weighted_value[0]) <= 1e-14 * value[0]);
    const auto before = random_tensor<double>(s, 103);
    auto a = before.clone(), b = before.clone();
    hg::ops::focal_frequency_backward(be, pred, target, 1.0, 0.3, a);
    hg::ops::focal_frequency_weighted_backward(be, pred, target, weights, 0.3, b);
    HG_CHECK_CLOSE(a, b, 1e-14);
    // And arbitrary given weights against the reference with those weights.
    const auto given = random_tensor<double>(s, 104, 0.0, 1.0);
    const auto ref = naive_focal(pred, target, 1.0, &given);
    hg::ops::focal_frequency_weighted_forward(be, pred, target, given, weighted_value);
    CHECK(std::abs(weighted_value[0] - ref.value) <= 1e-12 * ref.value);
    auto g = hg::basic_tensor<double>::zeros(s);
    hg::ops::focal_frequency_weighted_backward(be, pred, target, given, 1.0, g);
    HG_CHECK_CLOSE(g, ref.grad, 1e-12);
}

TEST_CASE("focal_frequency: one thread and two give the same value and gradient") {
    const shape s{4, 16, 12, 3};
    const auto pred = random_tensor<float>(s, 111, 0.0, 1.0);
    const auto target = random_tensor<float>(s, 112, 0.0, 1.0);
    const hg::losses::focal_frequency loss;
    hg::cpu one(1), two(2);
    auto v1 = one.empty(shape{1}), v2 = two.empty(shape{1});
    loss.forward(one, pred, target, v1);
    loss.forward(two, pred, target, v2);
    CHECK(v1[0] == v2[0]);
    auto g1 = hg::tensor::zeros(s), g2 = hg::tensor::zeros(s);
    loss.backward(one, pred, target, 1.0, g1);
    loss.backward(two, pred, target, 1.0, g2);
    HG_CHECK_EQUAL_TENSORS(g1, g2);
}

TEST_CASE("focal_frequency: errors name the loss and the reason") {
    using hg::test::contains;
    using hg::test::message_of;
    hg::cpu be;
    const auto pred = random_tensor<float>(shape{2, 8, 8, 3}, 121, 0.0, 1.0);
    const auto target = random_tensor<float>(shape{2, 8, 8, 3}, 122, 0.0, 1.0);
    auto value = be.empty(shape{1});

    for (const double alpha : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(),
                               std::numeric_limits<double>::infinity()}) {
        CAPTURE(alpha);
        const auto msg = message_of<hg::value_error>([&] { hg::losses::focal_frequency bad(alpha); });
        CHECK(contains(msg, "focal_frequency"));
        CHECK(contains(msg, "alpha"));
        const auto op_msg =
            message_of<hg::value_error>([&] { hg::ops::focal_frequency_forward(be, pred, target, alpha, value); });
        CHECK(contains(op_msg, "focal_frequency_forward"));
        CHECK(contains(op_msg, "alpha"));
    }

    const hg::losses::focal_frequency loss;
    const auto other = random_tensor<float>(shape{2, 8, 7, 3}, 123, 0.0, 1.0);
    auto msg = message_of<hg::shape_error>([&] { loss.forward(be, pred, other, value); });
    CHECK(contains(msg, "focal_frequency"));
    CHECK(contains(msg, "[2, 8, 7, 3]"));
    msg = message_of<hg::shape_error>([&] { loss.backward(be, pred, other, 1.0, hg::tensor::zeros(pred.shape())); });
    CHECK(contains(msg, "focal_frequency"));

    const auto flat = random_tensor<float>(shape{2, 8, 8}, 124, 0.0, 1.0);
    msg = message_of<hg::shape_error>([&] { loss.forward(be, flat, flat, value); });
    CHECK(contains(msg, "focal_frequency"));
    CHECK(contains(msg, "NHWC"));

    msg = message_of<hg::shape_error>([&] { loss.forward(be, pred, target, hg::tensor::zeros(shape{2})); });
    CHECK(contains(msg, "focal_frequency"));
    CHECK(contains(msg, "1 element"));
    msg = message_of<hg::shape_error>(
        [&] { loss.backward(be, pred, target, 1.0, hg::tensor::zeros(shape{2, 8, 8, 1})); });
    CHECK(contains(msg, "focal_frequency"));
    CHECK(contains(msg, "gradient"));

    msg = message_of<hg::shape_error>([&] { loss.forward(be, hg::tensor(), target, value); });
    CHECK(contains(msg, "focal_frequency"));

    msg = message_of<hg::shape_error>([&] {
        hg::ops::focal_frequency_weighted_forward(be, pred, target, hg::tensor::zeros(shape{2, 8, 8, 1}), value);
    });
    CHECK(contains(msg, "focal_frequency_weighted_forward"));
    CHECK(contains(msg, "weights"));
    msg = message_of<hg::shape_error>([&] {
        hg::ops::focal_frequency_weights(be, pred, target, 1.0, hg::tensor::zeros(shape{1, 8, 8, 3}));
    });
    CHECK(contains(msg, "focal_frequency_weights"));
}
