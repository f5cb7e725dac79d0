// Benchmark of the CPU face augmentation (hg::data::augmenter, single thread): the full pipeline
// (colour jitter, transform and flip of the image and three masks, warped input) at 64, 128 and
// 256 px with faceswap's defaults, and each stage alone. Counter: items/s = augmented faces per
// second. Also the synthetic face renderer (faces rendered per second). docs/data.md has the numbers.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "hourglass/core/rng.hpp"
#include "hourglass/data/augment.hpp"
#include "hourglass/data/synthetic_faces.hpp"

namespace {

using hg::tensor;
namespace data = hg::data;

struct face_input {
    tensor image;
    std::vector<tensor> masks;
};

face_input make_input(std::int64_t size) {
    const data::synthetic_face_set set{3, size, 1, 11};
    data::synthetic_face f = set.sample(0);
    return face_input{f.image, {f.face_mask, f.eye_mask, f.mouth_mask}};
}

void run(benchmark::State& state, const data::augment_config& cfg) {
    const std::int64_t size = state.range(0);
    const face_input in = make_input(size);
    data::augmenter aug(cfg, 1234);
    tensor input = tensor::empty(in.image.shape()), target = tensor::empty(in.image.shape());
    std::vector<tensor> masks;
    for (const tensor& m : in.masks) masks.push_back(tensor::empty(m.shape()));
    std::uint64_t index = 0;
    for (auto _ : state) {
        aug.run_into(in.image, in.masks, index++, input, target, masks);
        benchmark::DoNotOptimize(input.data());
        benchmark::DoNotOptimize(target.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_augment_full(benchmark::State& state) { run(state, data::augment_config{}); }

void BM_augment_color_only(benchmark::State& state) {
    data::augment_config cfg;
    cfg.rotation_range = cfg.zoom_range = cfg.shift_range = cfg.flip_chance = cfg.warp_sigma = 0.0f;
    run(state, cfg);
}

void BM_augment_transform_only(benchmark::State& state) {
    data::augment_config cfg;
    cfg.color_lightness = cfg.color_ab = cfg.warp_sigma = 0.0f;
    run(state, cfg);
}

void BM_augment_transform_and_warp(benchmark::State& state) {
    data::augment_config cfg;
    cfg.color_lightness = cfg.color_ab = 0.0f;
    run(state, cfg);
}

void BM_render_synthetic_face(benchmark::State& state) {
    const std::int64_t size = state.range(0);
    const data::synthetic_face_set set{5, size, 1 << 20, 3};
    std::int64_t i = 0;
    for (auto _ : state) {
        data::synthetic_face f = set.sample(i++);
        benchmark::DoNotOptimize(f.image.data());
    }
    state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(BM_augment_full)->Arg(64)->Arg(128)->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_augment_color_only)->Arg(64)->Arg(128)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_augment_transform_only)->Arg(64)->Arg(128)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_augment_transform_and_warp)->Arg(64)->Arg(128)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_render_synthetic_face)->Arg(64)->Arg(128)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
