// Benchmark of face extraction (the media component): frames per second of the whole pipeline
// (hg::media::extract_faces: decode, HOG detection, 68 landmarks, alignment, masks, blur score,
// PNG writing; 96 frames, the models' loading included) at 640x360 and 1280x720 on 1 and 2
// threads, and each stage alone, so the table says where the time goes. The video is built once per size from the astronaut portrait of
// python3-skimage (one face per frame, moving), encoded as H.264. Counter: items/s = frames per
// second. docs/performance.md has the numbers.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "hourglass/data/image_io.hpp"
#include "hourglass/face/alignment.hpp"
#include "hourglass/face/blur_score.hpp"
#include "hourglass/face/landmark_masks.hpp"
#include "hourglass/media/extract.hpp"
#include "hourglass/media/face_detector.hpp"
#include "hourglass/media/landmark_predictor.hpp"
#include "hourglass/media/video.hpp"
#include "media/moving_face.hpp"

namespace {

namespace fs = std::filesystem;
using namespace hg_test_media;

constexpr int video_frames = 96;

fs::path work_dir() {
    static const fs::path p = [] {
        fs::path d = fs::temp_directory_path() / ("hg_bench_extract_" + std::to_string(::getpid()));
        fs::create_directories(d);
        return d;
    }();
    return p;
}

/// A 96-frame H.264 video of the moving astronaut at width x height (made once).
fs::path test_video(std::int64_t width, std::int64_t height) {
    static std::map<std::int64_t, fs::path> made;
    if (auto it = made.find(width); it != made.end()) return it->second;
    const fs::path path = work_dir() / ("moving_" + std::to_string(width) + ".mp4");
    const hg::tensor photo = hg::data::load_image(astronaut_path()).rgb;
    hg::media::video_write_options vo;
    vo.preset = "veryfast";
    hg::media::video_writer out(path, width, height, vo);
    // The face is ~90 px wide at scale 1 in the 512 px photograph: scale it with the frame height.
    auto poses = moving_poses(video_frames, width, height);
    for (auto& p : poses) p.scale *= double(height) / 360.0;
    for (const auto& p : poses) out.write(render(photo, p, width, height));
    out.finish();
    made[width] = path;
    return path;
}

/// Frame 0 of the test video, decoded.
hg::media::video_frame first_frame(std::int64_t width, std::int64_t height) {
    hg::media::video_reader r(test_video(width, height));
    hg::media::video_frame f;
    r.next(f);
    return f;
}

void pipeline(benchmark::State& state) {
    const std::int64_t w = state.range(0), h = state.range(1);
    const fs::path video = test_video(w, h);
    std::int64_t frames = 0;
    for (auto _ : state) {
        state.PauseTiming();
        const fs::path out = work_dir() / "out";
        fs::remove_all(out);
        hg::media::extract_options o;
        o.input = video;
        o.output = out;
        o.threads = static_cast<int>(state.range(2));
        state.ResumeTiming();
        const auto s = hg::media::extract_faces(o);
        frames += s.frames_read;
        if (s.faces_kept != video_frames) state.SkipWithError("the pipeline lost faces");
    }
    state.SetItemsProcessed(frames);
}

/// Loading the landmark model and the HOG detector (once per extraction; included in `pipeline`).
void startup(benchmark::State& state) {
    std::int64_t n = 0;
    for (auto _ : state) {
        const hg::media::landmark_predictor p;
        hg::media::face_detector d;
        benchmark::DoNotOptimize(&p);
        ++n;
    }
    state.SetItemsProcessed(n);
}

void decode(benchmark::State& state) {
    const fs::path video = test_video(state.range(0), state.range(1));
    std::int64_t frames = 0;
    for (auto _ : state) {
        hg::media::video_reader r(video);
        hg::media::video_frame f;
        while (r.next(f)) ++frames;
    }
    state.SetItemsProcessed(frames);
}

void detect(benchmark::State& state) {
    const auto f = first_frame(state.range(0), state.range(1));
    hg::media::detector_options o;
    o.detect_size = state.range(2);
    hg::media::face_detector d(o);
    const hg::media::rgb_view v{f.rgb.data(), f.width, f.height};
    std::int64_t n = 0;
    for (auto _ : state) {
        const auto boxes = d.detect(v);
        benchmark::DoNotOptimize(boxes.data());
        if (boxes.size() != 1) state.SkipWithError("expected one face");
        ++n;
    }
    state.SetItemsProcessed(n);
}

void landmarks(benchmark::State& state) {
    const auto f = first_frame(state.range(0), state.range(1));
    hg::media::face_detector d;
    const hg::media::rgb_view v{f.rgb.data(), f.width, f.height};
    const auto boxes = d.detect(v);
    const hg::media::landmark_predictor p;
    std::int64_t n = 0;
    for (auto _ : state) {
        const auto l = p.predict(v, boxes);
        benchmark::DoNotOptimize(l.data());
        ++n;
    }
    state.SetItemsProcessed(n);
}

void align_and_masks(benchmark::State& state) {
    const auto f = first_frame(state.range(0), state.range(1));
    hg::media::face_detector d;
    const hg::media::rgb_view v{f.rgb.data(), f.width, f.height};
    const hg::media::landmark_predictor p;
    const auto l = p.predict(v, d.detect(v)).at(0);
    const hg::tensor frame = f.to_tensor();
    hg::face::alignment_options ao;
    std::int64_t n = 0;
    for (auto _ : state) {
        const auto m = hg::face::frame_to_crop_matrix(l, ao);
        const auto crop = hg::face::warp_to_crop(frame, m, ao.size);
        const auto in_crop = hg::face::transform_landmarks(l, m);
        const auto components = hg::face::components_mask(in_crop, ao.size);
        benchmark::DoNotOptimize(hg::face::blur_score(crop, components));
        benchmark::DoNotOptimize(hg::face::extended_mask(in_crop, ao.size).data());
        benchmark::DoNotOptimize(hg::face::eye_mask(in_crop, ao.size).data());
        benchmark::DoNotOptimize(hg::face::mouth_mask(in_crop, ao.size).data());
        ++n;
    }
    state.SetItemsProcessed(n);
}

void frame_sizes(benchmark::internal::Benchmark* b, std::vector<std::int64_t> extra) {
    for (const auto& [w, h] : std::vector<std::pair<std::int64_t, std::int64_t>>{{640, 360}, {1280, 720}}) {
        if (extra.empty()) b->Args({w, h});
        for (const auto e : extra) b->Args({w, h, e});
    }
}

BENCHMARK(pipeline)->ArgNames({"width", "height", "threads"})->Apply([](auto* b) { frame_sizes(b, {1, 2}); })
    ->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
BENCHMARK(startup)->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK(decode)->ArgNames({"width", "height"})->Apply([](auto* b) { frame_sizes(b, {}); })->Unit(benchmark::kMillisecond);
BENCHMARK(detect)->ArgNames({"width", "height", "detect_size"})->Apply([](auto* b) { frame_sizes(b, {640, 0}); })
    ->Unit(benchmark::kMillisecond);
BENCHMARK(landmarks)->ArgNames({"width", "height"})->Apply([](auto* b) { frame_sizes(b, {}); })->Unit(benchmark::kMillisecond);
BENCHMARK(align_and_masks)->ArgNames({"width", "height"})->Args({640, 360})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
