// Op contract: fill a tensor with uniform random numbers in [lo, hi) from the counter-based stream
// (seed, stream_id): element i gets random_uniform(seed, stream_id, i, lo, hi) (core/rng.hpp), so the
// CPU and CUDA backends write identical values. Writes every element.
#pragma once

#include "hourglass/core/config.hpp"

#include <cstdint>

#include "hourglass/core/rng.hpp"
#if HG_CPU_OPS
#include "hourglass/cpu/backend.hpp"
#endif
#include "hourglass/ops/check.hpp"

namespace hg {
class cuda;
}

namespace hg::ops {

#if HG_CPU_OPS
template <class T>
void fill_uniform(const cpu_backend<T>& be, const basic_tensor<T>& x, std::uint64_t seed, std::uint64_t stream_id,
                  float lo, float hi) {
    detail::check_arg<cpu_backend<T>>(x, x.shape(), "fill_uniform", "x");
    T* p = x.data();
    parallel_for(x.numel(), be.threads(), 16384, [&](std::int64_t i) {
        p[i] = static_cast<T>(random_uniform(seed, stream_id, static_cast<std::uint64_t>(i), lo, hi));
    });
}

#endif  // HG_CPU_OPS

/// CUDA overload (cuda/random.cu).
void fill_uniform(const cuda& be, const basic_tensor<float>& x, std::uint64_t seed, std::uint64_t stream_id,
                  float lo, float hi);

}  // namespace hg::ops
