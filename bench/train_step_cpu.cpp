// CPU face-swap training step (bench/train_step.hpp): whole iterations of hourglass-swap's trainer
// for 'original' (64 px) and 'dfl-h128' (128 px) with all CPU threads (--threads in the JSON
// context). Seconds per iteration on a laptop-class CPU, so each case runs 3 timed iterations after
// one warm-up. Without --benchmark_filter it runs original at batch 16 and 64 and dfl-h128 at 16;
// dfl-h128 at 64 runs on request:
//   hg_bench_train_step_cpu --benchmark_filter=dfl-h128/batch:64 --benchmark_out=cpu.json
#include "train_step.hpp"

int main(int argc, char** argv) {
    static hg::cpu be;
    benchmark::AddCustomContext("backend", "cpu");
    benchmark::AddCustomContext("threads", std::to_string(be.threads()));
    benchmark::AddCustomContext("flop_count", "training step = 3x forward of encoder + decoder per side");
    const std::string defaults = hg::bench::register_train_steps(
        "train_step_cpu", be,
        {{"original", 16, true}, {"original", 64, true}, {"dfl-h128", 16, true}, {"dfl-h128", 64, false}}, 3,
        [] {});
    return hg::bench::run_benchmarks(argc, argv, defaults);
}
