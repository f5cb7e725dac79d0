// Consumer of an installed hourglass: builds a small autoencoder, runs forward and backward on the
// CPU, trains it for a few iterations with the library's training cycle (hg::train::cycle, into a
// temporary folder), (when the install has the CUDA backend) asks how many CUDA devices there
// are, and (when it has the media component) aligns a face and loads the landmark model.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "hourglass/hourglass.hpp"
#if defined(HG_WITH_CUDA)
#include "hourglass/cuda/device.hpp"
#endif
#if defined(HG_WITH_MEDIA)
#include "hourglass/face/alignment.hpp"
#include "hourglass/media/extract.hpp"
#include "hourglass/media/landmark_predictor.hpp"
#endif

using net = hg::sequential<hg::conv2d<8, 3, 2>, hg::leaky_relu<0.1f>, hg::upscale<4>, hg::conv2d<3, 3>, hg::sigmoid>;

int main() {
    hg::cpu be;
    hg::model<hg::cpu, net> m(be, hg::shape{16, 16, 3}, 42);
    auto x = hg::tensor::full(hg::shape{2, 16, 16, 3}, 0.25f);
    const auto& y = m.forward(x);
    m.backward(y);
    const double g = m.params().grads()[0];
    if (y.shape() != hg::shape{2, 16, 16, 3} || !std::isfinite(g)) {
        std::printf("consumer: unexpected result\n");
        return 1;
    }
    std::printf("consumer: %lld parameters, output %s\n", static_cast<long long>(m.parameter_count()),
                y.shape().str().c_str());

    // Four iterations of the training cycle on constant images, stopped by the iteration limit.
    const auto folder = std::filesystem::temp_directory_path() / ("hg_consumer_" + std::to_string(::getpid()));
    hg::train::cycle_options o;
    o.folder = folder;
    o.batch = 2;
    o.stop.iterations = 4;
    o.loader_threads = 1;
    o.optimizer.rule = hg::optim::adam(1e-3);
    std::vector<hg::train::side<hg::cpu>> sides(1);
    sides[0].source.name = "x";
    sides[0].source.samples = 4;
    sides[0].source.height = sides[0].source.width = 16;
    sides[0].source.producer = [](std::int64_t i, std::uint64_t, const hg::data::sample_views& v) {
        for (std::int64_t k = 0; k < v.input.numel(); ++k) v.input[k] = v.target[k] = 0.2f + 0.1f * float(i);
    };
    sides[0].task = std::make_unique<hg::train::autoencoder_task<hg::cpu, decltype(m), hg::losses::mse>>(m, hg::losses::mse());
    hg::train::stop_info why;
    {
        hg::train::cycle<hg::cpu> cycle(be, o, {{"model", &m.params()}}, std::move(sides));
        why = cycle.run();
    }
    std::error_code ec;
    std::filesystem::remove_all(folder, ec);
    if (why.reason != hg::train::stop_reason::iterations || why.iteration != 4) {
        std::printf("consumer: the training cycle stopped unexpectedly: %s\n", why.message.c_str());
        return 1;
    }
    std::printf("consumer: %s\n", why.message.c_str());
#if defined(HG_WITH_CUDA)
    std::printf("consumer: cuda backend linked, %s\n", hg::cuda_device_status().c_str());
#endif
#if defined(HG_WITH_MEDIA)
    // The header-only alignment of the mean face placed in a frame, and the compiled component.
    hg::face::landmarks l = hg::face::landmarks::Zero();
    for (int i = 0; i < hg::face::landmark_count; ++i) l.row(i) << 100 + 3 * (i % 9), 80 + 4 * (i / 9) + (i % 3);
    for (int i = 17; i < 68; ++i)
        l.row(i) << 200 + 120 * hg::face::mean_face_2d[std::size_t(i - 17)][0], 150 + 120 * hg::face::mean_face_2d[std::size_t(i - 17)][1];
    const auto crop = hg::face::frame_to_crop_matrix(l, {});
    std::printf("consumer: media component linked (detector on %s), mean face aligned with scale %.3f, landmark model %s\n",
                hg::media::detector_has_cuda() ? "cuda" : "the cpu", std::sqrt(crop.a * crop.e - crop.b * crop.d),
                hg::media::find_landmark_model().string().c_str());
#endif
    return 0;
}
