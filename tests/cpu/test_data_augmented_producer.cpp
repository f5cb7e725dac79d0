// The augmented producers (data/augmented_producer.hpp) through a real batch_loader: every sample
// equals the augmenter applied directly with the loader's sample seed, batches do not depend on the
// number of loader threads, masks arrive as channels in the documented order, and mismatched
// buffers are refused with a message that says what to change.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cpu/test_data_fixtures.hpp"
#include "support/test_support.hpp"
#include "hourglass/data/augmented_producer.hpp"
#include "hourglass/data/image_io.hpp"

namespace {

using hg::shape;
using hg::tensor;
using namespace hg::data;
using hg_test_data::numbered;
using hg_test_data::temp_dir;

batch_loader_options synthetic_options(int threads, std::int64_t mask_channels) {
    batch_loader_options o;
    o.samples = 10;
    o.batch_size = 4;
    o.height = o.width = 32;
    o.channels = 3;
    o.mask_channels = mask_channels;
    o.seed = 77;
    o.threads = threads;
    o.prefetch = 2;
    return o;
}

bool same_bits(const tensor& a, const tensor& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.bytes()) == 0;
}

}  // namespace

TEST_CASE("data augmented producer: each synthetic sample is the augmenter applied with the loader's seed") {
    const synthetic_face_set set{.identity = 3, .size = 32, .count = 10, .seed = 5};
    const augment_config cfg;
    batch_loader loader(synthetic_options(2, 3), augmented_producer(set, cfg));
    augmenter direct(cfg);
    for (int step = 0; step < 3; ++step) {
        const batch b = loader.next();
        REQUIRE(b.mask.defined());
        CHECK(b.mask.shape() == shape{4, 32, 32, 3});
        for (std::int64_t j = 0; j < 4; ++j) {
            CAPTURE(step);
            CAPTURE(j);
            const synthetic_face f = set.sample(b.indices[static_cast<std::size_t>(j)]);
            const augment_params p = draw_augment_params(cfg, 32, 32, b.seeds[static_cast<std::size_t>(j)], 0);
            const std::vector<tensor> masks{f.face_mask, f.eye_mask, f.mouth_mask};
            const auto want = direct.apply(f.image, masks, p);
            const auto per = 32 * 32 * 3;
            CHECK(same_bits(b.input.slice(j * per, shape{32, 32, 3}), want.input));
            CHECK(same_bits(b.target.slice(j * per, shape{32, 32, 3}), want.target));
            // Mask channels: face, eye, mouth.
            std::int64_t wrong = 0;
            for (std::int64_t q = 0; q < 32 * 32; ++q)
                for (std::int64_t k = 0; k < 3; ++k)
                    wrong += b.mask[j * per + q * 3 + k] != want.masks[static_cast<std::size_t>(k)][q];
            CHECK(wrong == 0);
        }
    }
}

TEST_CASE("data augmented producer: batches do not depend on the number of loader threads") {
    const synthetic_face_set set{.identity = 1, .size = 32, .count = 10, .seed = 9};
    batch_loader one(synthetic_options(1, 3), augmented_producer(set));
    batch_loader three(synthetic_options(3, 3), augmented_producer(set));
    for (int step = 0; step < 4; ++step) {
        CAPTURE(step);
        const batch a = one.next();
        const batch b = three.next();
        CHECK(same_bits(a.input, b.input));
        CHECK(same_bits(a.target, b.target));
        CHECK(same_bits(a.mask, b.mask));
        // The warp makes the input differ from the target (faceswap's default: always warped).
        CHECK_FALSE(same_bits(a.input, a.target));
    }
}

TEST_CASE("data augmented producer: without mask buffers, and with the wrong mask or image size") {
    const synthetic_face_set set{.identity = 2, .size = 32, .count = 10, .seed = 1};
    {
        batch_loader loader(synthetic_options(1, 0), augmented_producer(set));
        const batch b = loader.next();
        CHECK_FALSE(b.mask.defined());
        CHECK(hg::test::all_finite(b.input));
    }
    {
        batch_loader loader(synthetic_options(1, 1), augmented_producer(set));
        CHECK_THROWS_WITH_AS(loader.next(), doctest::Contains("mask_channels to 3"), hg::shape_error);
    }
    {
        auto o = synthetic_options(1, 3);
        o.height = o.width = 48;
        batch_loader loader(o, augmented_producer(set));
        CHECK_THROWS_WITH_AS(loader.next(), doctest::Contains("synthetic face set gives [32, 32, 3]"), hg::shape_error);
    }
}

TEST_CASE("data augmented producer: dataset faces without masks get a mask of ones") {
    temp_dir dir;
    const synthetic_face_set set{.identity = 4, .size = 24, .count = 3, .seed = 2};
    for (std::int64_t i = 0; i < 3; ++i) save_png(dir / numbered("face", i, ".png"), set.sample(i).image);
    dataset_options d;
    d.size = 24;
    d.masks = mask_source::none;
    const face_dataset faces(dir.path(), d);
    REQUIRE(faces.size() == 3);
    batch_loader_options o;
    o.samples = faces.size();
    o.batch_size = 2;
    o.height = o.width = 24;
    o.mask_channels = 1;
    o.seed = 3;
    o.threads = 2;
    batch_loader loader(o, augmented_producer(faces));
    for (int step = 0; step < 3; ++step) {
        const batch b = loader.next();
        std::int64_t not_one = 0, outside = 0;
        for (std::int64_t i = 0; i < b.mask.numel(); ++i) not_one += b.mask[i] != 1.f;
        for (std::int64_t i = 0; i < b.input.numel(); ++i) outside += !(b.input[i] >= 0.f && b.input[i] <= 1.f);
        CHECK(not_one == 0);  // border replicate: a constant mask stays constant under any transform
        CHECK(outside == 0);
    }
}

TEST_CASE("data augmented producer: a dataset with eye and mouth region masks gives three mask channels in order") {
    temp_dir dir;
    const synthetic_face_set set{.identity = 5, .size = 24, .count = 3, .seed = 4};
    for (const char* sub : {"masks", "masks-eye", "masks-mouth"}) std::filesystem::create_directories(dir / sub);
    for (std::int64_t i = 0; i < 3; ++i) {
        const auto f = set.sample(i);
        const auto name = numbered("face", i, ".png");
        save_png(dir / name, f.image);
        save_png(dir / "masks" / name, hg::tensor::full(hg::shape{24, 24, 1}, 1.f));
        save_png(dir / "masks-eye" / name, f.eye_mask);
        save_png(dir / "masks-mouth" / name, f.mouth_mask);
    }
    dataset_options d;
    d.size = 24;
    const face_dataset faces(dir.path(), d);
    REQUIRE(faces.size() == 3);  // masks-eye/ and masks-mouth/ are not searched for faces
    REQUIRE(faces.mask_channels() == 3);
    batch_loader_options o;
    o.samples = faces.size();
    o.batch_size = 3;
    o.height = o.width = 24;
    o.mask_channels = 3;
    o.seed = 5;
    o.threads = 1;
    augment_config none;  // no geometry or colour change: the masks come through as written
    none.rotation_range = none.zoom_range = none.shift_range = none.flip_chance = 0.f;
    none.color_lightness = none.color_ab = none.warp_sigma = 0.f;
    batch_loader loader(o, augmented_producer(faces, none));
    const batch b = loader.next();
    REQUIRE(b.mask.shape() == hg::shape{3, 24, 24, 3});
    // Each sample's channels 1 and 2 are its eye and mouth masks (PNG rounds to 1/255).
    for (std::int64_t n = 0; n < 3; ++n) {
        const std::int64_t index = b.indices[static_cast<std::size_t>(n)];
        const auto f = set.sample(index);
        double eye_err = 0, mouth_err = 0, face_err = 0;
        for (std::int64_t q = 0; q < 24 * 24; ++q) {
            face_err = std::max(face_err, double(std::abs(b.mask[(n * 24 * 24 + q) * 3] - 1.f)));
            eye_err = std::max(eye_err, double(std::abs(b.mask[(n * 24 * 24 + q) * 3 + 1] - f.eye_mask[q])));
            mouth_err = std::max(mouth_err, double(std::abs(b.mask[(n * 24 * 24 + q) * 3 + 2] - f.mouth_mask[q])));
        }
        CHECK(face_err < 1e-6);
        CHECK(eye_err <= 0.5 / 255 + 1e-6);
        CHECK(mouth_err <= 0.5 / 255 + 1e-6);
    }
    // Without the mouth masks of one face the region masks are ignored, with a warning.
    std::filesystem::remove(dir / "masks-mouth" / numbered("face", 1, ".png"));
    const face_dataset partial(dir.path(), d);
    CHECK(partial.mask_channels() == 1);
    REQUIRE(partial.warnings().size() == 1);
    CHECK(partial.warnings()[0].find("region masks ignored, 1 of 3 faces") != std::string::npos);
}
