// The GPU memory estimate (hg::swap::estimate_training_memory, device "cuda") against the CUDA
// backend's own count: training 'lightweight' at batch 16 on synthetic faces, one warm-up step
// (the cuDNN algorithm search and the workspace sizing happen there), then the peak of bytes in use
// over two more steps must be within 15 % of the estimate's device total. The cuDNN workspace is
// the estimate's guess (the largest im2col matrix), so this is the check that tells whether the
// guess holds on a given GPU.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"
#include "hourglass/swap/memory_estimate.hpp"
#include "hourglass/swap/trainer.hpp"

TEST_CASE("memory estimate: lightweight at batch 16 against the pool's peak") {
    using A = hg::swap::lightweight;
    hg::cuda gpu;
    const std::filesystem::path dir = std::filesystem::temp_directory_path() / "hg-cuda-memory-estimate";
    std::filesystem::remove_all(dir);
    hg::swap::memory_estimate_options mo;
    mo.batch = 16;
    const auto e = hg::swap::estimate_training_memory<A, false>(mo, "cuda");
    {
        const hg::data::synthetic_face_set set_a{1, A::output, 64, 1}, set_b{2, A::output, 64, 2};
        hg::swap::side_data sa, sb;
        sa.producer = hg::data::augmented_producer(set_a);
        sb.producer = hg::data::augmented_producer(set_b);
        sa.samples = sb.samples = 64;
        sa.mask_channels = sb.mask_channels = 3;
        hg::swap::train_options t;
        t.architecture = A::name;
        t.batch = mo.batch;
        t.stop.iterations = 10;
        t.save_every = 100;
        t.preview_every = -1;
        hg::swap::trainer<hg::cuda, A, false> tr(gpu, t, sa, sb, dir / "model");
        tr.step();
        gpu.synchronize();
        gpu.reset_peak();
        tr.step();
        tr.step();
        gpu.synchronize();
        const double peak = double(gpu.memory().peak), estimate = double(e.device_total());
        std::printf("GPU: pool peak %.1f MiB, estimate %.1f MiB (%+.1f%%)\n%s", peak / 1048576.0, estimate / 1048576.0,
                    100.0 * (peak - estimate) / estimate, hg::swap::memory_table(e).c_str());
        CHECK(std::abs(peak - estimate) <= 0.15 * estimate);
    }
    std::filesystem::remove_all(dir);
}
