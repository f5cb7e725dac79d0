// The check the CUDA benchmarks run once before timing: a device result against the CPU op's result
// for the same inputs, in double precision, as a norm-wise relative error ||got - want|| / ||want||
// (NaN or Inf in the device result counts as an infinite error). On a mismatch the benchmark is
// skipped with an error naming the output, the error and the tolerance.
#pragma once

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

#include "hourglass/core/tensor.hpp"
#include "hourglass/cuda/backend.hpp"

namespace hg::bench {

/// ||got - want||_2 / ||want||_2 over host tensors of equal size (infinite for a non-finite got,
/// and |got - want| alone when want is all zeros).
inline double relative_error(const hg::tensor& got, const hg::tensor& want) {
    double num = 0.0, den = 0.0;
    for (std::int64_t i = 0; i < want.numel(); ++i) {
        const double g = static_cast<double>(got[i]), w = static_cast<double>(want[i]);
        if (!std::isfinite(g)) return std::numeric_limits<double>::infinity();
        num += (g - w) * (g - w);
        den += w * w;
    }
    return den > 0.0 ? std::sqrt(num / den) : std::sqrt(num);
}

/// Compares the device tensor `got` with the host tensor `want`; true when the relative error is
/// within `tolerance`, otherwise SkipWithError("<what> differs from the CPU ...") and false.
inline bool matches_cpu(benchmark::State& state, const hg::cuda& be, const hg::tensor& got, const hg::tensor& want,
                        double tolerance, const char* what) {
    const hg::tensor host = be.to_host(got);
    if (host.numel() != want.numel()) {
        state.SkipWithError((std::string(what) + ": device and CPU results differ in size").c_str());
        return false;
    }
    const double err = relative_error(host, want);
    if (err <= tolerance) return true;
    char message[200];
    std::snprintf(message, sizeof message, "%s differs from the CPU: relative error %.3g, tolerance %.1g", what, err,
                  tolerance);
    state.SkipWithError(message);
    return false;
}

}  // namespace hg::bench
