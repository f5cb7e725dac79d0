// CUDA face-swap training step (bench/train_step.hpp): whole iterations of hourglass-swap's trainer
// for 'original' (64 px) and 'dfl-h128' (128 px) at batch 16 and 64 per side on GPU 0, each step
// followed by a device synchronization (the trainer's own host reads happen inside the step as in
// training). Without a GPU it prints why and exits 0.
//   hg_bench_train_step_cuda --benchmark_out=cuda.json --benchmark_filter=original
#include "cuda_bench.hpp"
#include "train_step.hpp"

int main(int argc, char** argv) {
    if (hg::cuda_device_count() == 0) {
        std::printf("skipped: %s\n", hg::cuda_device_status().c_str());
        return 0;
    }
    // The trainer needs a mutable backend, so this program has its own rather than bench::backend().
    static hg::cuda be(0);
    benchmark::AddCustomContext("backend", "cuda");
    benchmark::AddCustomContext("flop_count", "training step = 3x forward of encoder + decoder per side");
    const std::string defaults = hg::bench::register_train_steps(
        "train_step_cuda", be,
        {{"original", 16, true}, {"original", 64, true}, {"dfl-h128", 16, true}, {"dfl-h128", 64, true}}, 0,
        [] { be.synchronize(); });
    return hg::bench::run_benchmarks(argc, argv, defaults);
}
