// faceswap_memory_rss: the CPU memory estimate (hg::swap::estimate_training_memory) against the
// measured peak resident set of a real training run in this process.
//   faceswap_memory_rss ARCH BATCH ITERATIONS TOLERANCE SCRATCH_DIR
// Resets the kernel's peak-RSS counter (writing 5 to /proc/self/clear_refs), reads VmRSS as the
// baseline, builds the trainer of ARCH (synthetic faces with face/eye/mouth masks, 2 loader
// threads) and runs ITERATIONS training steps; the growth of VmHWM over the baseline must be within
// TOLERANCE (relative) of the estimate's total. Then writes one checkpoint and compares the new
// peak with the total plus the estimate's checkpoint-save transient, with the same tolerance.
// Prints every number; exit 1 when a comparison fails.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "hourglass/hourglass.hpp"
#include "hourglass/swap/memory_estimate.hpp"
#include "hourglass/swap/trainer.hpp"

namespace {

/// A field of /proc/self/status in bytes ("VmRSS", "VmHWM").
std::int64_t status_bytes(const std::string& field) {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1)) * 1024;
    throw hg::io_error("/proc/self/status has no " + field);
}

void reset_peak() {
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
    if (!out) throw hg::io_error("cannot reset the peak RSS (/proc/self/clear_refs)");
}

double mib(std::int64_t b) { return double(b) / 1048576.0; }

bool compare(const char* what, std::int64_t measured, std::int64_t estimate, double tolerance) {
    const double rel = double(measured - estimate) / double(estimate);
    std::printf("%s: measured peak growth %.1f MiB, estimate %.1f MiB, difference %+.1f%% (tolerance %.0f%%)\n", what,
                mib(measured), mib(estimate), 100.0 * rel, 100.0 * tolerance);
    return std::abs(rel) <= tolerance;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: faceswap_memory_rss ARCH BATCH ITERATIONS TOLERANCE SCRATCH_DIR\n");
        return 2;
    }
    try {
        const std::string arch = argv[1];
        const std::int64_t batch = std::atoll(argv[2]), iterations = std::atoll(argv[3]);
        const double tolerance = std::atof(argv[4]);
        const std::filesystem::path dir = argv[5];
        std::filesystem::remove_all(dir);
        bool ok = true;
        hg::swap::with_architecture(arch, [&](auto a) {
            using A = decltype(a);
            hg::cpu be(0);
            reset_peak();
            const std::int64_t base = status_bytes("VmRSS");
            hg::swap::memory_estimate_options mo;
            mo.batch = batch;
            mo.cpu_threads = be.threads();
            const auto e = hg::swap::estimate_training_memory<A, false>(mo, "cpu");
            std::printf("%s", hg::swap::memory_table(e).c_str());

            const hg::data::synthetic_face_set set_a{1, A::output, 64, 1}, set_b{2, A::output, 64, 2};
            hg::swap::side_data sa, sb;
            sa.producer = hg::data::augmented_producer(set_a);
            sb.producer = hg::data::augmented_producer(set_b);
            sa.samples = sb.samples = 64;
            sa.mask_channels = sb.mask_channels = 3;
            hg::swap::train_options t;
            t.architecture = A::name;
            t.batch = batch;
            t.stop.iterations = iterations;
            t.save_every = iterations + 1;
            t.preview_every = -1;
            hg::swap::trainer<hg::cpu, A, false> tr(be, t, sa, sb, dir / "model");
            for (std::int64_t i = 0; i < iterations; ++i) tr.step();
            const std::int64_t trained = status_bytes("VmHWM") - base;
            std::printf("'%s', batch %lld, %lld steps on %d threads: baseline RSS %.1f MiB\n", A::name,
                        static_cast<long long>(batch), static_cast<long long>(iterations), be.threads(), mib(base));
            ok = compare("training", trained, e.total(), tolerance) && ok;
            tr.save();
            const std::int64_t saved = status_bytes("VmHWM") - base;
            ok = compare("training + checkpoint save", saved, e.total() + e.checkpoint_save, tolerance) && ok;
        });
        std::filesystem::remove_all(dir);
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "faceswap_memory_rss: %s\n", e.what());
        return 1;
    }
}
