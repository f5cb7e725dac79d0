// faceswap_photo_renditions: many pictures of one real photograph, for the real-face quality
// benchmark (bench/swap_quality_real.sh), where each identity has a single photo.
//
//   faceswap_photo_renditions PHOTO OUT_DIR COUNT SEED
//
// Writes OUT_DIR/<k>.jpg for k = 0 .. COUNT-1: the photo rotated (-15..15 degrees: dlib's HOG
// detector misses faces turned further), zoomed (0.8..1.25) and shifted (up to 8 % of its size)
// about its centre, with a replicated border (the training augmentation's warp,
// data::random_transform), then its exposure, contrast, gamma and
// colour balance jittered (+-12 %, +-15 %, 0.8..1.25, +-5 % per channel) and saved as JPEG at a
// quality of 75..95. Deterministic for a seed. The real extraction (`hourglass-swap extract`) then
// finds, aligns and cuts out the faces: its alignment undoes most of the warp, so the aligned faces
// differ by what a second photo of the same pose would: the detected landmarks (and so the crop),
// the resampling, the lighting and the compression. With one photo per identity there are no other
// poses or expressions to hold out.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

#include "hourglass/core/rng.hpp"
#include "hourglass/data/image_io.hpp"
#include "hourglass/data/transform.hpp"

namespace {

/// One rendition: the warp, then the photometric jitter, values clamped to [0, 1].
hg::tensor rendition(const hg::tensor& photo, hg::rng& r) {
    hg::data::transform_params warp;
    warp.rotation_deg = r.uniform(-15.0f, 15.0f);
    warp.scale = r.uniform(0.8f, 1.25f);
    const auto h = static_cast<float>(photo.shape()[0]), w = static_cast<float>(photo.shape()[1]);
    warp.shift_x = r.uniform(-0.08f, 0.08f) * w;
    warp.shift_y = r.uniform(-0.08f, 0.08f) * h;
    hg::tensor out = hg::data::random_transform(photo, warp);
    const float exposure = r.uniform(0.88f, 1.12f), contrast = r.uniform(0.85f, 1.15f), gamma = r.uniform(0.8f, 1.25f);
    float balance[3];
    for (float& b : balance) b = r.uniform(0.95f, 1.05f);
    float* p = out.data();
    const std::int64_t pixels = out.numel() / 3;
    for (std::int64_t i = 0; i < pixels; ++i)
        for (int c = 0; c < 3; ++c) {
            float v = std::pow(std::clamp(p[i * 3 + c], 0.0f, 1.0f), gamma);
            v = ((v - 0.5f) * contrast + 0.5f) * exposure * balance[c];
            p[i * 3 + c] = std::clamp(v, 0.0f, 1.0f);
        }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: %s PHOTO OUT_DIR COUNT SEED\n", argv[0]);
        return 2;
    }
    try {
        namespace fs = std::filesystem;
        const fs::path out = argv[2];
        const long count = std::stol(argv[3]);
        const auto seed = static_cast<std::uint64_t>(std::stoull(argv[4]));
        if (count < 1) {
            std::fprintf(stderr, "photo_renditions: COUNT must be at least 1 (got %ld)\n", count);
            return 2;
        }
        const hg::tensor photo = hg::data::load_image(argv[1]).rgb;
        fs::create_directories(out);
        hg::rng r(seed, 23);
        for (long k = 0; k < count; ++k) {
            const int quality = 75 + static_cast<int>(r.uniform(0.0f, 20.999f));
            hg::data::save_jpeg(out / (std::to_string(k) + ".jpg"), rendition(photo, r), quality);
        }
        std::printf("photo_renditions: %ld pictures of %s in %s\n", count, argv[1], out.string().c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "photo_renditions: %s\n", e.what());
        return 1;
    }
}
