// Benchmark of the convert step's image math on one thread (hg::face, single-threaded code):
//   BM_poisson_blend/<size>/<region>: a swapped synthetic face pasted into a 1.5x larger frame
//     holding another synthetic face; region 0 = the face mask of the swapped face (> 0.5),
//     region 1 = the whole size x size square (size^2 unknowns, the worst case for that box).
//     Counters: unknowns, CG iterations, multigrid levels. The requirement is < 50 ms at 256/1 on
//     one core (docs/blending.md has the numbers; run it under taskset -c 0).
//   BM_match_colors/<size>/<mode>: colour matching of a face to another under its face mask.
//   BM_match_colors_patch/<mode>/<region>: the convert step's case: a size x size face warped into
//     a region 1.5 times larger (as face::warp_to_frame gives it: the rotated crop's bounding
//     rectangle), matched under its face mask; region 0 maps every pixel of the region
//     (color_region::whole), region 1 only the mask's bounding box (color_region::mask_box, what
//     convert uses). Size 256: a 384 x 384 region, about the 1280x720 video of docs/convert.md.
//   BM_unsharp_mask/<size>: unsharp mask with sigma 2.
// HG_BENCH_QUICK registers the 256 px problems only.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "bench_common.hpp"
#include "hourglass/data/synthetic_faces.hpp"
#include "hourglass/face/color_transfer.hpp"
#include "hourglass/face/poisson_blend.hpp"
#include "hourglass/face/sharpen.hpp"

namespace {

using hg::shape;
using hg::tensor;
namespace face = hg::face;
namespace data = hg::data;

struct blend_problem {
    tensor source, destination, mask;
};

/// A size x size face crop of identity `identity`, its face mask.
data::synthetic_face make_face(std::uint64_t identity, std::int64_t size) {
    const data::synthetic_face_set set{identity, size, 16, 7};
    return set.sample(3);
}

/// Frame of 1.5 size with the destination face at (size / 4, size / 4) on a smooth background; the
/// source is a frame of the same size with the swapped face warped into the same place (as the
/// convert step has it) on another background, so the boundary values differ all around.
blend_problem make_blend(std::int64_t size, bool square) {
    const std::int64_t frame = size * 3 / 2, off = size / 4;
    const data::synthetic_face a = make_face(1, size), b = make_face(2, size);
    blend_problem p{tensor::empty(shape{frame, frame, 3}), tensor::empty(shape{frame, frame, 3}), tensor::zeros(shape{frame, frame, 1})};
    for (std::int64_t y = 0; y < frame; ++y)
        for (std::int64_t x = 0; x < frame; ++x)
            for (std::int64_t c = 0; c < 3; ++c) {
                const float ramp = static_cast<float>(x + y * (c + 1)) / static_cast<float>(frame * (c + 2));
                p.source.data()[(y * frame + x) * 3 + c] = 0.6f - 0.3f * ramp;  // the swapped side's own surroundings
                p.destination.data()[(y * frame + x) * 3 + c] = 0.3f + 0.4f * ramp;
            }
    for (std::int64_t y = 0; y < size; ++y)
        for (std::int64_t x = 0; x < size; ++x) {
            const std::int64_t q = (y + off) * frame + x + off, s = y * size + x;
            for (std::int64_t c = 0; c < 3; ++c) {
                p.source.data()[q * 3 + c] = a.image.data()[s * 3 + c];
                p.destination.data()[q * 3 + c] = b.image.data()[s * 3 + c];
            }
            p.mask.data()[q] = square ? 1.0f : a.face_mask.data()[s];
        }
    return p;
}

void BM_poisson_blend(benchmark::State& state) {
    const blend_problem p = make_blend(state.range(0), state.range(1) == 1);
    face::poisson_stats st;
    for (auto _ : state) {
        tensor out = face::poisson_blend(p.source, p.destination, p.mask, {}, &st);
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["unknowns"] = static_cast<double>(st.unknowns);
    state.counters["iterations"] = st.iterations;
    state.counters["levels"] = st.levels;
}

void BM_match_colors(benchmark::State& state) {
    const std::int64_t size = state.range(0);
    const data::synthetic_face a = make_face(1, size), b = make_face(2, size);
    const auto mode = static_cast<face::color_mode>(state.range(1));
    for (auto _ : state) {
        tensor out = face::match_colors(a.image, b.image, a.face_mask, mode);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetLabel(std::string(face::to_string(mode)));
}

void BM_match_colors_patch(benchmark::State& state) {
    const blend_problem p = make_blend(256, false);
    const auto mode = static_cast<face::color_mode>(state.range(0));
    const bool box = state.range(1) == 1;
    for (auto _ : state) {
        tensor out = box ? face::match_colors(p.source, p.destination, p.mask, mode, face::color_region::mask_box)
                         : face::match_colors(p.source, p.destination, p.mask, mode);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetLabel(std::string(face::to_string(mode)) + (box ? " mask_box" : " whole"));
}

void BM_unsharp_mask(benchmark::State& state) {
    const data::synthetic_face a = make_face(1, state.range(0));
    for (auto _ : state) {
        tensor out = face::unsharp_mask(a.image, 0.5, 2.0, a.face_mask);
        benchmark::DoNotOptimize(out.data());
    }
}

void blend_sizes(benchmark::internal::Benchmark* b) {
    for (const std::int64_t size : {128, 256, 384}) {
        if (size != 256 && hg::bench::quick()) continue;
        b->Args({size, 0})->Args({size, 1});
    }
}

void color_sizes(benchmark::internal::Benchmark* b) {
    for (const std::int64_t size : {128, 256}) {
        if (size != 256 && hg::bench::quick()) continue;
        for (const face::color_mode m : {face::color_mode::avg, face::color_mode::rct, face::color_mode::lct, face::color_mode::hist})
            b->Args({size, static_cast<std::int64_t>(m)});
    }
}

}  // namespace

BENCHMARK(BM_poisson_blend)->Apply(blend_sizes)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_match_colors)->Apply(color_sizes)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_match_colors_patch)
    ->ArgsProduct({{static_cast<std::int64_t>(face::color_mode::avg), static_cast<std::int64_t>(face::color_mode::rct),
                    static_cast<std::int64_t>(face::color_mode::lct), static_cast<std::int64_t>(face::color_mode::hist)},
                   {0, 1}})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_unsharp_mask)->Arg(256)->Unit(benchmark::kMillisecond);

HG_CPU_BENCHMARK_MAIN();
