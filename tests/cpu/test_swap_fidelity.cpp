// The demo's swap fidelity score (hourglass/swap/fidelity.hpp) on synthetic faces: 1 for the
// ground truth against itself, lower for a blurred, shifted, noisier (monotone in the noise level) or
// flat copy and for the other identity, blind to the prediction's background, and the gap-closed
// normalisation; plus its argument errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "hourglass/core/rng.hpp"
#include "hourglass/data/synthetic_faces.hpp"
#include "hourglass/swap/fidelity.hpp"

namespace {

constexpr std::int64_t size = 64, count = 6, first = 100;

/// Faces i in [first, first + count) of a synthetic set: images [count, 64, 64, 3] and face masks.
struct faces {
    hg::tensor image, mask;
};

faces render(std::uint64_t identity, std::uint64_t seed) {
    const hg::data::synthetic_face_set set{identity, size, first + count, seed};
    faces f{hg::tensor::empty(hg::shape{count, size, size, 3}), hg::tensor::empty(hg::shape{count, size, size, 1})};
    for (std::int64_t i = 0; i < count; ++i) {
        const auto s = set.sample(first + i);
        std::copy_n(s.image.data(), size * size * 3, f.image.data() + i * size * size * 3);
        std::copy_n(s.face_mask.data(), size * size, f.mask.data() + i * size * size);
    }
    return f;
}

/// Box blur of the given radius (clamped at the borders), per image and channel.
hg::tensor blurred(const hg::tensor& x, int radius) {
    auto out = hg::tensor::empty(x.shape());
    for (std::int64_t n = 0; n < count; ++n)
        for (std::int64_t y = 0; y < size; ++y)
            for (std::int64_t xx = 0; xx < size; ++xx)
                for (std::int64_t c = 0; c < 3; ++c) {
                    double s = 0;
                    int k = 0;
                    for (int dy = -radius; dy <= radius; ++dy)
                        for (int dx = -radius; dx <= radius; ++dx) {
                            const std::int64_t yy = std::clamp<std::int64_t>(y + dy, 0, size - 1);
                            const std::int64_t xs = std::clamp<std::int64_t>(xx + dx, 0, size - 1);
                            s += x[((n * size + yy) * size + xs) * 3 + c];
                            ++k;
                        }
                    out[((n * size + y) * size + xx) * 3 + c] = static_cast<float>(s / k);
                }
    return out;
}

/// The images moved right and down by d pixels (edge pixels repeated).
hg::tensor shifted(const hg::tensor& x, int d) {
    auto out = hg::tensor::empty(x.shape());
    for (std::int64_t n = 0; n < count; ++n)
        for (std::int64_t y = 0; y < size; ++y)
            for (std::int64_t xx = 0; xx < size; ++xx)
                for (std::int64_t c = 0; c < 3; ++c) {
                    const std::int64_t ys = std::max<std::int64_t>(0, y - d), xs = std::max<std::int64_t>(0, xx - d);
                    out[((n * size + y) * size + xx) * 3 + c] = x[((n * size + ys) * size + xs) * 3 + c];
                }
    return out;
}

/// x plus uniform noise of amplitude a (clamped to [0, 1]), the same noise pattern for every a.
hg::tensor noisy(const hg::tensor& x, double a) {
    hg::rng gen(77, 3);
    auto out = hg::tensor::empty(x.shape());
    for (std::int64_t i = 0; i < x.numel(); ++i)
        out[i] = static_cast<float>(std::clamp(x[i] + a * (2.0 * gen.uniform_double() - 1.0), 0.0, 1.0));
    return out;
}

/// Every face pixel replaced by the mean colour of its image's face (an untrained model's blur).
hg::tensor flat(const hg::tensor& x, const hg::tensor& m) {
    auto out = hg::tensor::empty(x.shape());
    const std::int64_t px = size * size;
    for (std::int64_t n = 0; n < count; ++n) {
        double s[3] = {0, 0, 0}, w = 0;
        for (std::int64_t p = 0; p < px; ++p) {
            w += m[n * px + p];
            for (int c = 0; c < 3; ++c) s[c] += m[n * px + p] * x[(n * px + p) * 3 + c];
        }
        for (std::int64_t p = 0; p < px; ++p)
            for (int c = 0; c < 3; ++c) out[(n * px + p) * 3 + c] = static_cast<float>(s[c] / w);
    }
    return out;
}

}  // namespace

TEST_CASE("face_ssim is 1 for the truth and lower for blurred, shifted, flat and other-identity faces") {
    const auto truth = render(2, 5);  // identity B in A's poses
    const auto a = render(1, 5);      // identity A in the same poses
    const double self = hg::swap::face_ssim(truth.image, truth.image, truth.mask);
    CHECK(self == doctest::Approx(1.0).epsilon(1e-12));

    const double blur1 = hg::swap::face_ssim(blurred(truth.image, 1), truth.image, truth.mask);
    const double blur3 = hg::swap::face_ssim(blurred(truth.image, 3), truth.image, truth.mask);
    const double shift = hg::swap::face_ssim(shifted(truth.image, 2), truth.image, truth.mask);
    const double other = hg::swap::face_ssim(a.image, truth.image, truth.mask);
    const double grey = hg::swap::face_ssim(flat(truth.image, truth.mask), truth.image, truth.mask);
    MESSAGE("face_ssim: blur r1 " << blur1 << ", blur r3 " << blur3 << ", shift 2 px " << shift << ", identity A "
                                  << other << ", flat face " << grey);
    CHECK(blur1 < 0.99);
    CHECK(blur3 < blur1);
    CHECK(shift < 0.95);
    CHECK(other < 0.9);
    // A flat face (what an untrained model outputs) must score far below any face with the truth's
    // structure: the score measures the face, not the area around it.
    CHECK(grey < blur3);
    CHECK(grey < 0.5 * blur1);
}

TEST_CASE("face_ssim falls monotonically with the noise level") {
    const auto truth = render(2, 6);
    double previous = 1.0;
    for (double a : {0.01, 0.03, 0.1, 0.3}) {
        const double s = hg::swap::face_ssim(noisy(truth.image, a), truth.image, truth.mask);
        CAPTURE(a);
        CHECK(s < previous);
        previous = s;
    }
    CHECK(previous < 0.5);
}

TEST_CASE("face_ssim ignores the prediction outside the face mask") {
    const auto truth = render(2, 7);
    auto pred = blurred(truth.image, 1);
    const double before = hg::swap::face_ssim(pred, truth.image, truth.mask);
    // Overwrite everything the mask does not cover at all.
    const std::int64_t px = size * size;
    for (std::int64_t i = 0; i < count * px; ++i)
        if (truth.mask[i] == 0.f)
            for (int c = 0; c < 3; ++c) pred[i * 3 + c] = (i % 2) ? 1.f : 0.f;
    CHECK(hg::swap::face_ssim(pred, truth.image, truth.mask) == doctest::Approx(before).epsilon(1e-12));
    // ... but not inside it.
    const auto per = hg::swap::face_ssim_per_image(pred, truth.image, truth.mask);
    REQUIRE(per.numel() == count);
    for (std::int64_t i = 0; i < count; ++i) CHECK(per[i] < 1.0);
}

TEST_CASE("gap_closed is 0 at the baseline and 1 for a perfect swap") {
    CHECK(hg::swap::gap_closed(0.6, 0.6) == doctest::Approx(0.0));
    CHECK(hg::swap::gap_closed(1.0, 0.6) == doctest::Approx(1.0));
    CHECK(hg::swap::gap_closed(0.8, 0.6) == doctest::Approx(0.5));
    CHECK(hg::swap::gap_closed(0.5, 0.6) < 0.0);
    CHECK_THROWS_AS(hg::swap::gap_closed(1.0, 1.0), hg::value_error);
}

TEST_CASE("face_ssim rejects mismatched shapes, empty masks and tiny images") {
    const auto truth = render(2, 8);
    CHECK_THROWS_AS(hg::swap::face_ssim(truth.image.batch_slice(0, 2), truth.image, truth.mask), hg::shape_error);
    CHECK_THROWS_AS(hg::swap::face_ssim(truth.image, truth.image, truth.image), hg::shape_error);
    CHECK_THROWS_AS(hg::swap::face_ssim(truth.image, truth.image, hg::tensor::zeros(truth.mask.shape())), hg::value_error);
    const auto tiny = hg::tensor::zeros(hg::shape{1, 8, 8, 3});
    CHECK_THROWS_AS(hg::swap::face_ssim(tiny, tiny, hg::tensor::full(hg::shape{1, 8, 8, 1}, 1.f)), hg::value_error);
}
