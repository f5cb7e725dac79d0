// Thread-parallel loops for the CPU backend (OpenMP when the build has it, serial otherwise).
// Work below `min_per_thread` iterations per thread runs on the calling thread.
#pragma once

#include <cstdint>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace hg {

/// Threads the CPU backend uses by default: OpenMP's maximum, or 1 without OpenMP.
inline int hardware_threads() {
#if defined(_OPENMP)
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/// Sets the calling thread's OpenMP thread count (what omp_get_max_threads returns, which Eigen's
/// products and an OpenMP BLAS read) for the scope's life and restores the previous count. The
/// setting is per thread in OpenMP, so scopes on different threads do not interfere.
class product_thread_scope {
public:
    explicit product_thread_scope(int threads) {
#if defined(_OPENMP)
        previous_ = omp_get_max_threads();
        if (previous_ != threads) omp_set_num_threads(threads);
#else
        (void)threads;
#endif
    }
    ~product_thread_scope() {
#if defined(_OPENMP)
        if (omp_get_max_threads() != previous_) omp_set_num_threads(previous_);
#endif
    }
    product_thread_scope(const product_thread_scope&) = delete;
    product_thread_scope& operator=(const product_thread_scope&) = delete;

private:
    int previous_ = 1;
};

/// Calls f(i) for i in [0, n), split statically across up to `threads` threads.
template <class F>
void parallel_for(std::int64_t n, int threads, std::int64_t min_per_thread, F&& f) {
#if defined(_OPENMP)
    const bool parallel = threads > 1 && n >= 2 * min_per_thread;
#pragma omp parallel for num_threads(threads) schedule(static) if (parallel)
    for (std::int64_t i = 0; i < n; ++i) f(i);
#else
    (void)threads;
    (void)min_per_thread;
    for (std::int64_t i = 0; i < n; ++i) f(i);
#endif
}

}  // namespace hg
