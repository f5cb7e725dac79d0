// Benchmark of the CPU conv2d passes (forward, backward-data, backward-filter through hg::ops on
// hg::cpu) at every conv layer shape of the 64 px face-swap model at batch 16. Each pass is followed
// by a plain Eigen GEMM (row-major float maps) of the same M, N, K as that pass's im2col GEMM, run in
// the same process with the same thread count, as the reference. Where the backend computes a layer
// by Winograd (3x3 stride-1 layers large enough, cpu/conv2d_winograd.hpp) its im2col + GEMM path also
// runs, forced, as "im2col/<layer>/<pass>". GFLOP/s count the direct convolution's FLOPs for every
// algorithm (2 N OH OW K R R C), so Winograd shows as an effective rate. Counters: GFLOP/s, and others%
// (the machine's CPU taken by other processes meanwhile). A table of conv GFLOP/s (and im2col
// GFLOP/s), GEMM GFLOP/s and their ratio (fastest repetition of each) closes the run;
// docs/performance.md has the numbers.
// Extra flag: --hg_threads=N (default: every OpenMP thread).
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "hourglass/core/parallel.hpp"
#include "hourglass/core/rng.hpp"
#include "hourglass/cpu/backend.hpp"
#include "hourglass/math/conv_geometry.hpp"
#include "hourglass/ops/conv2d.hpp"

namespace {

using tensor = hg::basic_tensor<float>;
using row_matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using matrix_map = Eigen::Map<row_matrix>;
using const_matrix_map = Eigen::Map<const row_matrix>;

constexpr std::int64_t batch = 16;

struct layer {
    const char* name;
    std::int64_t h, w, c, k, r, stride;
    hg::math::conv2d_dims dims() const { return hg::math::conv2d_dims::make(batch, h, w, c, k, r, stride); }
};

// Every conv of the 64 px model: four 5x5 stride-2 encoder convs, the encoder's upscale conv, the
// decoder's three upscale convs and its final 5x5 conv to RGB.
constexpr std::array<layer, 9> layers{{
    {"enc1_64x64x3_k128_5x5s2", 64, 64, 3, 128, 5, 2},
    {"enc2_32x32x128_k256_5x5s2", 32, 32, 128, 256, 5, 2},
    {"enc3_16x16x256_k512_5x5s2", 16, 16, 256, 512, 5, 2},
    {"enc4_8x8x512_k1024_5x5s2", 8, 8, 512, 1024, 5, 2},
    {"encup_4x4x1024_k2048_3x3", 4, 4, 1024, 2048, 3, 1},
    {"decup1_8x8x512_k1024_3x3", 8, 8, 512, 1024, 3, 1},
    {"decup2_16x16x256_k512_3x3", 16, 16, 256, 512, 3, 1},
    {"decup3_32x32x128_k256_3x3", 32, 32, 128, 256, 3, 1},
    {"decout_64x64x64_k3_5x5", 64, 64, 64, 3, 5, 1},
}};

enum class pass { forward, backward_data, backward_filter };
constexpr std::array<pass, 3> passes{pass::forward, pass::backward_data, pass::backward_filter};

const char* pass_name(pass p) {
    switch (p) {
        case pass::forward: return "fwd";
        case pass::backward_data: return "bwd_data";
        case pass::backward_filter: return "bwd_filter";
    }
    return "?";
}

/// The im2col GEMM of one pass: result m x n, inner dimension depth.
struct gemm_shape {
    std::int64_t m, n, depth;
};

gemm_shape im2col_gemm(const hg::math::conv2d_dims& d, pass p) {
    const std::int64_t rows = d.n * d.rows_per_image();
    switch (p) {
        case pass::forward: return {rows, d.k, d.patch()};          // Y = Col W^T
        case pass::backward_data: return {rows, d.patch(), d.k};    // dCol = dY W
        case pass::backward_filter: return {d.k, d.patch(), rows};  // dW += dY^T Col
    }
    return {0, 0, 0};
}

/// A tensor of uniform values in [-1, 1) (counter-based, so filling is parallel and reproducible).
tensor random_tensor(const hg::shape& s, std::uint64_t seed, int threads) {
    tensor t = tensor::empty(s);
    float* p = t.data();
    hg::parallel_for(t.numel(), threads, 1 << 16, [&](std::int64_t i) {
        p[i] = 2.0f * hg::bits_to_unit_float(hg::random_bits(seed, 0, static_cast<std::uint64_t>(i))) - 1.0f;
    });
    return t;
}

/// Thread count from --hg_threads (0: every OpenMP thread); read when the backend is first made.
int requested_threads = 0;

/// The process-wide backend (its scratch buffer is reused across benchmarks, as in training).
hg::cpu& backend() {
    static hg::cpu be(requested_threads);
    return be;
}

/// Operands of the conv passes of one layer, kept while that layer's benchmarks run.
struct conv_data {
    int layer = -1;
    tensor x, w, b, y, dy, dx, dw, db;
};

conv_data& conv_operands(int index) {
    static conv_data cache;
    if (cache.layer != index) {
        cache = conv_data{};
        const hg::math::conv2d_dims d = layers[static_cast<std::size_t>(index)].dims();
        const int t = backend().threads();
        cache.x = random_tensor(hg::shape{d.n, d.h, d.w, d.c}, 1, t);
        cache.w = random_tensor(hg::shape{d.k, d.r, d.r, d.c}, 2, t);
        cache.b = random_tensor(hg::shape{d.k}, 3, t);
        cache.y = random_tensor(hg::shape{d.n, d.oh, d.ow, d.k}, 4, t);
        cache.dy = random_tensor(hg::shape{d.n, d.oh, d.ow, d.k}, 5, t);
        cache.dx = random_tensor(hg::shape{d.n, d.h, d.w, d.c}, 6, t);
        cache.dw = random_tensor(hg::shape{d.k, d.r, d.r, d.c}, 7, t);
        cache.db = random_tensor(hg::shape{d.k}, 8, t);
        cache.layer = index;
    }
    return cache;
}

/// Operands of the reference GEMM of one (layer, pass): a and b stored as the conv stores them.
struct gemm_data {
    int key = -1;
    tensor a, b, c;
};

gemm_data& gemm_operands(int index, pass p) {
    static gemm_data cache;
    const int key = index * 3 + static_cast<int>(p);
    if (cache.key != key) {
        cache = gemm_data{};
        const gemm_shape g = im2col_gemm(layers[static_cast<std::size_t>(index)].dims(), p);
        const int t = backend().threads();
        switch (p) {
            case pass::forward:  // a = Col [m, depth], b = W [n, depth]
                cache.a = random_tensor(hg::shape{g.m, g.depth}, 11, t);
                cache.b = random_tensor(hg::shape{g.n, g.depth}, 12, t);
                break;
            case pass::backward_data:  // a = dY [m, depth], b = W [depth, n]
                cache.a = random_tensor(hg::shape{g.m, g.depth}, 11, t);
                cache.b = random_tensor(hg::shape{g.depth, g.n}, 12, t);
                break;
            case pass::backward_filter:  // a = dY [depth, m], b = Col [depth, n]
                cache.a = random_tensor(hg::shape{g.depth, g.m}, 11, t);
                cache.b = random_tensor(hg::shape{g.depth, g.n}, 12, t);
                break;
        }
        cache.c = random_tensor(hg::shape{g.m, g.n}, 13, t);
        cache.key = key;
    }
    return cache;
}

/// The algorithm the backend picks for a layer on its own: "im2col" or "winograd F(mxm)".
std::string automatic_algorithm(int index) {
    backend().set_conv_algorithm(hg::cpu_conv_algorithm::automatic);
    const int m = hg::cpu_impl::conv_winograd_tile(backend(), layers[static_cast<std::size_t>(index)].dims());
    return m == 0 ? std::string("im2col") : "winograd F(" + std::to_string(m) + "x" + std::to_string(m) + ")";
}

void run_conv(int index, pass p, hg::cpu_conv_algorithm algorithm) {
    const hg::math::conv2d_dims d = layers[static_cast<std::size_t>(index)].dims();
    conv_data& o = conv_operands(index);
    hg::cpu& be = backend();
    be.set_conv_algorithm(algorithm);
    switch (p) {
        case pass::forward: hg::ops::conv2d_forward(be, d, o.x, o.w, o.b, o.y); break;
        case pass::backward_data: hg::ops::conv2d_backward_data(be, d, o.dy, o.w, o.dx); break;
        case pass::backward_filter: hg::ops::conv2d_backward_filter(be, d, o.x, o.dy, o.dw, o.db); break;
    }
}

void run_gemm(int index, pass p) {
    const gemm_shape g = im2col_gemm(layers[static_cast<std::size_t>(index)].dims(), p);
    gemm_data& o = gemm_operands(index, p);
    matrix_map c(o.c.data(), g.m, g.n);
    switch (p) {
        case pass::forward:
            c.noalias() = const_matrix_map(o.a.data(), g.m, g.depth) * const_matrix_map(o.b.data(), g.n, g.depth).transpose();
            break;
        case pass::backward_data:
            c.noalias() = const_matrix_map(o.a.data(), g.m, g.depth) * const_matrix_map(o.b.data(), g.depth, g.n);
            break;
        case pass::backward_filter:
            c.noalias() += const_matrix_map(o.a.data(), g.depth, g.m).transpose() * const_matrix_map(o.b.data(), g.depth, g.n);
            break;
    }
}

std::string bench_name(const char* kind, int index, pass p) {
    return std::string(kind) + "/" + layers[static_cast<std::size_t>(index)].name + "/" + pass_name(p);
}

/// CPU time of the whole machine and of this process (Linux /proc, in clock ticks), to tell how
/// much of the machine other processes (or the hypervisor, as steal time) took during a benchmark.
struct cpu_ticks {
    long long machine_busy = -1, self = -1;
    std::chrono::steady_clock::time_point when = std::chrono::steady_clock::now();
};

cpu_ticks read_cpu_ticks() {
    cpu_ticks t;
    std::ifstream stat("/proc/stat");
    std::string label;
    long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    if (stat >> label >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal && label == "cpu")
        t.machine_busy = user + nice + system + irq + softirq + steal;
    // /proc/self/stat: "pid (comm) state ..." with utime and stime the 12th and 13th fields after comm.
    std::ifstream self("/proc/self/stat");
    const std::string line((std::istreambuf_iterator<char>(self)), std::istreambuf_iterator<char>());
    if (const auto close = line.rfind(')'); close != std::string::npos) {
        std::istringstream fields(line.substr(close + 1));
        std::string field;
        long long utime = 0, stime = 0;
        for (int i = 1; i <= 13 && fields >> field; ++i) {
            if (i == 12) utime = std::atoll(field.c_str());
            if (i == 13) stime = std::atoll(field.c_str());
        }
        if (fields) t.self = utime + stime;
    }
    return t;
}

/// Percent of the machine's CPU capacity used by everything but this process between a and b.
double others_percent(const cpu_ticks& a, const cpu_ticks& b) {
    if (a.machine_busy < 0 || a.self < 0 || b.machine_busy < 0 || b.self < 0) return -1.0;
    const double seconds = std::chrono::duration<double>(b.when - a.when).count();
    const double capacity = seconds * static_cast<double>(sysconf(_SC_CLK_TCK)) *
                            static_cast<double>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
    if (capacity <= 0.0) return -1.0;
    const double others = static_cast<double>((b.machine_busy - a.machine_busy) - (b.self - a.self));
    return std::clamp(100.0 * others / capacity, 0.0, 100.0);
}

/// One benchmark body: a warm-up call (scratch allocation, operand setup), then timed calls.
/// Counters: GFLOP/s, and others% (the machine's CPU taken by other processes meanwhile).
template <class F>
void timed(benchmark::State& state, double flops, F&& f) {
    f();
    const cpu_ticks before = read_cpu_ticks();
    for (auto _ : state) {
        f();
        benchmark::ClobberMemory();
    }
    const double others = others_percent(before, read_cpu_ticks());
    state.counters["GFLOP/s"] =
        benchmark::Counter(flops * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    if (others >= 0.0) state.counters["others%"] = others;
}

/// The SIMD instruction sets Eigen's kernels were compiled for (the build's -m flags decide).
std::string eigen_simd() {
    std::string s = "SSE2";
#if defined(EIGEN_VECTORIZE_AVX)
    s += " AVX";
#endif
#if defined(EIGEN_VECTORIZE_AVX2)
    s += " AVX2";
#endif
#if defined(EIGEN_VECTORIZE_FMA)
    s += " FMA";
#endif
#if defined(EIGEN_VECTORIZE_AVX512)
    s += " AVX512";
#endif
    return s;
}

/// One benchmark's result for the closing table: seconds per iteration, and others% meanwhile.
struct timing {
    double seconds = -1.0, others = -1.0;
};

/// Console output plus a record of each benchmark's fastest repetition for the closing conv/GEMM
/// table: the machine may be shared, and slower repetitions then measure the other load rather
/// than the code. Without per-repetition runs (aggregates only) it uses the medians.
class recording_reporter : public benchmark::ConsoleReporter {
public:
    explicit recording_reporter(bool color) : ConsoleReporter(color ? OO_ColorTabular : OO_Tabular) {}

    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& run : runs) {
            if (run.error_occurred || run.iterations == 0) continue;
            timing t;
            t.seconds = run.real_accumulated_time / static_cast<double>(run.iterations);
            if (auto it = run.counters.find("others%"); it != run.counters.end()) t.others = it->second.value;
            const std::string& name = run.run_name.function_name;
            if (run.run_type == Run::RT_Aggregate) {
                if (run.aggregate_name == "median") medians_[name] = t;
            } else if (auto it = fastest_.find(name); it == fastest_.end() || t.seconds < it->second.seconds) {
                fastest_[name] = t;
            }
        }
        ConsoleReporter::ReportRuns(runs);
    }

    /// A benchmark's result (seconds negative when it did not run).
    timing result(const std::string& name) const {
        if (auto it = fastest_.find(name); it != fastest_.end()) return it->second;
        if (auto it = medians_.find(name); it != medians_.end()) return it->second;
        return {};
    }

private:
    std::map<std::string, timing> fastest_, medians_;
};

void print_summary(const recording_reporter& rep) {
    std::printf("\nconv vs plain Eigen GEMM of the same im2col size (%d threads, Eigen SIMD: %s, batch %lld)\n",
                backend().threads(), eigen_simd().c_str(), static_cast<long long>(batch));
    std::printf("fastest repetition of each; others%%: CPU taken by other processes during that repetition\n\n");
    std::printf("| layer | pass | algorithm | GEMM M x N x K | conv GFLOP/s | im2col GFLOP/s | GEMM GFLOP/s | conv/GEMM | >= 70%% | others%% conv / GEMM |\n");
    std::printf("|---|---|---|---|---:|---:|---:|---:|:---:|---:|\n");
    for (int i = 0; i < static_cast<int>(layers.size()); ++i) {
        const hg::math::conv2d_dims d = layers[static_cast<std::size_t>(i)].dims();
        for (pass p : passes) {
            const timing conv = rep.result(bench_name("conv", i, p)), gemm = rep.result(bench_name("gemm", i, p));
            if (conv.seconds <= 0.0 || gemm.seconds <= 0.0) continue;
            const gemm_shape g = im2col_gemm(d, p);
            const double conv_gf = d.flops() * 1e-9 / conv.seconds, gemm_gf = d.flops() * 1e-9 / gemm.seconds;
            const double ratio = conv_gf / gemm_gf;
            const timing im2col = rep.result(bench_name("im2col", i, p));
            char im2col_gf[32] = "-";
            if (im2col.seconds > 0.0) std::snprintf(im2col_gf, sizeof im2col_gf, "%.1f", d.flops() * 1e-9 / im2col.seconds);
            std::printf("| %s | %s | %s | %lld x %lld x %lld | %.1f | %s | %.1f | %.2f | %s | %.0f / %.0f |\n",
                        layers[static_cast<std::size_t>(i)].name, pass_name(p), automatic_algorithm(i).c_str(),
                        static_cast<long long>(g.m), static_cast<long long>(g.n), static_cast<long long>(g.depth),
                        conv_gf, im2col_gf, gemm_gf, ratio, ratio >= 0.70 ? "yes" : "no", conv.others,
                        gemm.others);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    // --hg_threads=N sets the backend's (and Eigen's) thread count; it is not a Google Benchmark flag.
    // The console reporter is ours, so --benchmark_color is read here too (auto: colour on a terminal).
    std::vector<char*> args;
    bool color = isatty(STDOUT_FILENO) != 0;
    for (int i = 0; i < argc; ++i) {
        constexpr std::string_view threads_flag = "--hg_threads=", color_flag = "--benchmark_color=";
        const std::string_view arg = argv[i];
        if (i > 0 && arg.starts_with(threads_flag)) {
            requested_threads = std::atoi(argv[i] + threads_flag.size());
            continue;
        }
        if (arg.starts_with(color_flag)) {
            const std::string_view value = arg.substr(color_flag.size());
            if (value == "false" || value == "no" || value == "0") color = false;
            if (value == "true" || value == "yes" || value == "1") color = true;
        }
        args.push_back(argv[i]);
    }
    int bench_argc = static_cast<int>(args.size());
    benchmark::Initialize(&bench_argc, args.data());
    if (benchmark::ReportUnrecognizedArguments(bench_argc, args.data())) return 1;

    benchmark::AddCustomContext("hg_threads", std::to_string(backend().threads()));
    benchmark::AddCustomContext("eigen_simd", eigen_simd());
    for (int i = 0; i < static_cast<int>(layers.size()); ++i) {
        const double flops = layers[static_cast<std::size_t>(i)].dims().flops();
        for (pass p : passes) {
            benchmark::RegisterBenchmark(bench_name("conv", i, p).c_str(), [i, p, flops](benchmark::State& s) {
                timed(s, flops, [&] { run_conv(i, p, hg::cpu_conv_algorithm::automatic); });
            })->UseRealTime()->Unit(benchmark::kMillisecond);
            if (automatic_algorithm(i) != "im2col") {
                benchmark::RegisterBenchmark(bench_name("im2col", i, p).c_str(), [i, p, flops](benchmark::State& s) {
                    timed(s, flops, [&] { run_conv(i, p, hg::cpu_conv_algorithm::im2col); });
                })->UseRealTime()->Unit(benchmark::kMillisecond);
            }
            benchmark::RegisterBenchmark(bench_name("gemm", i, p).c_str(),
                                         [i, p, flops](benchmark::State& s) { timed(s, flops, [&] { run_gemm(i, p); }); })
                ->UseRealTime()
                ->Unit(benchmark::kMillisecond);
        }
    }
    recording_reporter reporter(color);
    benchmark::RunSpecifiedBenchmarks(&reporter);
    print_summary(reporter);
    benchmark::Shutdown();
    return 0;
}
