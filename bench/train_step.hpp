// The face-swap training-step benchmark shared by bench/train_step_cpu.cpp and
// bench/cuda/train_step_cuda.cpp: one whole iteration of the face-swap trainer (hg::swap::trainer, what hourglass-swap train runs) (both sides A and
// B: upload, forward, SSIM + MSE face-masked loss, backward, the three Adam steps) timed on batches
// of random images in [0, 1] made once (the batch loaders are not involved: their cost is what
// `hourglass-swap train --profile` reports as data wait). The step is hg::swap::trainer::step(a, b)
// itself, so the benchmark measures the program's own code path.
//
// Benchmarks are named "<prefix>/<architecture>/batch:<per side>" (e.g. train_step_cpu/original/
// batch:16, train_step_cuda/dfl-h128/batch:64) and select with --benchmark_filter. Time is wall
// clock around one step plus a backend synchronization (manual time), after one untimed warm-up
// step (buffer allocation, algorithm selection). Counters (also in --benchmark_out JSON):
//   ms_per_iter     mean milliseconds per iteration
//   examples_per_s  2 * batch / time (both sides' faces)
//   tflops, gflops  achieved rate against step_gflop
//   step_gflop      FLOPs of one iteration / 1e9: swap_model::training_step_flops, i.e. 3x the
//                   forward FLOPs of encoder + decoder per side (conv 2*N*OH*OW*K*C*R*S, dense
//                   2*N*in*out; elementwise ops not counted; hourglass/layers/flops.hpp)
//   batch           faces per side
#pragma once

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hourglass/hourglass.hpp"
#include "hourglass/swap/trainer.hpp"

namespace hg::bench {

/// A host batch as the loaders make it: input and target [N, S, S, 3] and a face mask
/// [N, S, S, 1], uniform random in [0, 1], in memory from `allocate` (pinned for hg::cuda).
inline hg::data::batch random_batch(std::int64_t n, std::int64_t size, std::uint64_t seed,
                                    const hg::data::host_allocator& allocate) {
    hg::data::batch b;
    b.input = allocate(hg::shape{n, size, size, 3});
    b.target = allocate(hg::shape{n, size, size, 3});
    b.mask = allocate(hg::shape{n, size, size, 1});
    const hg::cpu host(1);
    hg::ops::fill_uniform(host, b.input, seed, 0, 0.f, 1.f);
    hg::ops::fill_uniform(host, b.target, seed, 1, 0.f, 1.f);
    hg::ops::fill_uniform(host, b.mask, seed, 2, 0.f, 1.f);
    return b;
}

/// A trainer of Arch on backend B with fixed random batches for both sides. The trainer's own
/// loaders exist (the trainer owns them) but are never asked for a batch: their producer writes
/// constants, so after filling their first few prefetch slots they sit idle.
template <class B, class Arch>
class train_step_fixture {
public:
    using trainer_type = hg::swap::trainer<B, Arch, false>;

    train_step_fixture(B& be, std::int64_t batch)
        : dir_(std::filesystem::temp_directory_path() /
               ("hg_bench_train_step_" + std::to_string(::getpid()) + "_" + Arch::name + "_" + std::to_string(batch))) {
        std::filesystem::remove_all(dir_);
        hg::swap::train_options o;
        o.architecture = Arch::name;
        o.batch = batch;
        o.loader_threads = 1;
        auto side = [&] {
            hg::swap::side_data s;
            s.producer = [](std::int64_t, std::uint64_t, const hg::data::sample_views& v) {
                for (const auto* t : {&v.input, &v.target, &v.mask})
                    for (std::int64_t i = 0; i < t->numel(); ++i) (*t)[i] = 0.5f;
            };
            s.samples = batch;
            s.mask_channels = 1;
            return s;
        };
        trainer_ = std::make_unique<trainer_type>(be, o, side(), side(), dir_);
        const auto allocate = hg::data::pinned_allocator(be);
        a_ = random_batch(batch, Arch::output, 11, allocate);
        b_ = random_batch(batch, Arch::output, 12, allocate);
    }
    ~train_step_fixture() {
        trainer_.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    train_step_fixture(const train_step_fixture&) = delete;
    train_step_fixture& operator=(const train_step_fixture&) = delete;

    /// One training step on the fixed batches; false when the trainer skipped it (non-finite).
    bool step() { return trainer_->step(a_, b_); }
    double step_flops() { return trainer_->model().training_step_flops(trainer_->options().batch); }

private:
    std::filesystem::path dir_;
    std::unique_ptr<trainer_type> trainer_;
    hg::data::batch a_, b_;
};

/// Times trainer steps of Arch at `batch` per side on `be`; `sync` waits for the backend.
template <class B, class Arch>
void train_step(benchmark::State& state, B& be, std::int64_t batch, const std::function<void()>& sync) {
    train_step_fixture<B, Arch> f(be, batch);
    const double flops = f.step_flops();
    if (!f.step()) {  // warm-up
        state.SkipWithError("the warm-up step was skipped: non-finite loss or gradient");
        return;
    }
    sync();
    double total = 0;
    std::int64_t steps = 0;
    for (auto _ : state) {
        const auto start = std::chrono::steady_clock::now();
        const bool applied = f.step();
        sync();
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        state.SetIterationTime(s);
        if (!applied) {
            state.SkipWithError("a step was skipped: non-finite loss or gradient");
            break;
        }
        total += s;
        ++steps;
    }
    if (steps == 0 || total <= 0) return;
    const double per_iter = total / static_cast<double>(steps);
    state.counters["ms_per_iter"] = per_iter * 1e3;
    state.counters["examples_per_s"] = 2.0 * static_cast<double>(batch) / per_iter;
    state.counters["tflops"] = flops / per_iter * 1e-12;
    state.counters["gflops"] = flops / per_iter * 1e-9;
    state.counters["step_gflop"] = flops * 1e-9;
    state.counters["batch"] = static_cast<double>(batch);
}

/// One benchmark to register: architecture, batch per side, and whether it runs without a filter.
struct train_step_case {
    std::string architecture;
    std::int64_t batch = 16;
    bool by_default = true;
};

/// Registers "<prefix>/<arch>/batch:<n>" for every case, each run `iterations` times (0: Google
/// Benchmark's own choice), and returns the regular expression of the default cases.
template <class B>
std::string register_train_steps(const std::string& prefix, B& be, const std::vector<train_step_case>& cases,
                                 std::int64_t iterations, std::function<void()> sync) {
    std::string defaults;
    for (const auto& c : cases) {
        const std::string name = prefix + "/" + c.architecture + "/batch:" + std::to_string(c.batch);
        auto add = [&](auto arch) {
            using A = decltype(arch);
            const std::int64_t n = c.batch;
            auto* b = benchmark::RegisterBenchmark(name.c_str(), [&be, n, sync](benchmark::State& st) {
                train_step<B, A>(st, be, n, sync);
            });
            b->UseManualTime()->Unit(benchmark::kMillisecond);
            if (iterations > 0) b->Iterations(iterations);
        };
        // Only the two compared architectures are instantiated (each trainer is a large template).
        if (c.architecture == hg::swap::original::name) add(hg::swap::original{});
        else if (c.architecture == hg::swap::dfl_h128::name) add(hg::swap::dfl_h128{});
        else throw hg::value_error("train_step benchmark: unknown architecture '" + c.architecture + "' (original, dfl-h128)");
        if (c.by_default) defaults += (defaults.empty() ? "^(" : "|") + name;
    }
    return defaults.empty() ? std::string() : defaults + ")(/|$)";
}

/// Runs Google Benchmark with `default_filter` when the command line names no --benchmark_filter.
inline int run_benchmarks(int argc, char** argv, const std::string& default_filter) {
    std::vector<char*> args(argv, argv + argc);
    bool filtered = false;
    for (int i = 1; i < argc; ++i) filtered = filtered || std::string(argv[i]).rfind("--benchmark_filter", 0) == 0;
    std::string flag = "--benchmark_filter=";
    flag += default_filter;
    if (!filtered && !default_filter.empty()) args.push_back(flag.data());
    int n = static_cast<int>(args.size());
    benchmark::Initialize(&n, args.data());
    if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

}  // namespace hg::bench
