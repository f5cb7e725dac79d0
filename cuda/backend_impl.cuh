// Internals of hg::cuda shared by the cuda/*.cu translation units (not installed): the stream and
// library handles, the workspace, memory accounting, and the cache of convolution algorithms keyed
// by the full problem.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/check.hpp"

namespace hg::cuda_impl {

/// State that device allocations outlive the backend with: their deleters hold it, so a tensor freed
/// after its backend is gone is still freed correctly (synchronously) and counted.
struct allocation_state {
    std::mutex mutex;
    cudaStream_t stream = nullptr;  // null once the backend is destroyed
    int device = 0;
    std::atomic<std::size_t> in_use{0};
    std::atomic<std::size_t> peak{0};

    void add(std::size_t bytes) {
        const std::size_t now = in_use.fetch_add(bytes) + bytes;
        std::size_t p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
    }
};

/// One convolution problem, complete: every field that changes the best algorithm is in the key.
struct conv_key {
    int pass = 0;  // 0 forward, 1 backward data, 2 backward filter
    std::int64_t n = 0, h = 0, w = 0, c = 0, k = 0, r = 0, stride = 0, pad = 0;
    int dtype = 0;  // 0 = float32
    bool tf32 = false;
    friend bool operator==(const conv_key& a, const conv_key& b) {
        return a.pass == b.pass && a.n == b.n && a.h == b.h && a.w == b.w && a.c == b.c && a.k == b.k && a.r == b.r &&
               a.stride == b.stride && a.pad == b.pad && a.dtype == b.dtype && a.tf32 == b.tf32;
    }
};

struct conv_key_hash {
    std::size_t operator()(const conv_key& key) const noexcept {
        std::size_t h = 0;
        auto mix = [&h](std::int64_t v) {
            h ^= std::hash<std::int64_t>{}(v) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
        };
        mix(key.pass), mix(key.n), mix(key.h), mix(key.w), mix(key.c), mix(key.k), mix(key.r), mix(key.stride);
        mix(key.pad), mix(key.dtype), mix(key.tf32);
        return h;
    }
};

/// The chosen algorithm for a problem: a cuDNN algorithm number and its workspace, or the
/// hand-written kernel when cuDNN had none (use_direct).
struct conv_choice {
    int algorithm = 0;
    std::size_t workspace = 0;
    bool use_direct = false;
};

[[noreturn]] inline void throw_cudnn_error(cudnnStatus_t status, const char* call, const char* file, int line) {
    throw cudnn_error(std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                      cudnnGetErrorString(status) + " (" + std::to_string(static_cast<int>(status)) + ")");
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
    throw cuda_error(std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                     cublasGetStatusString(status) + " (" + std::to_string(static_cast<int>(status)) + ")");
}

}  // namespace hg::cuda_impl

#define HG_CUDNN_CHECK(call)                                                                               \
    do {                                                                                                   \
        const cudnnStatus_t hg_status_ = (call);                                                           \
        if (hg_status_ != CUDNN_STATUS_SUCCESS)                                                            \
            ::hg::cuda_impl::throw_cudnn_error(hg_status_, #call, __FILE__, __LINE__);                    \
    } while (0)

#define HG_CUBLAS_CHECK(call)                                                                              \
    do {                                                                                                   \
        const cublasStatus_t hg_status_ = (call);                                                          \
        if (hg_status_ != CUBLAS_STATUS_SUCCESS)                                                           \
            ::hg::cuda_impl::throw_cublas_error(hg_status_, #call, __FILE__, __LINE__);                   \
    } while (0)

namespace hg {

struct cuda::impl {
    int device = 0;
    cudaStream_t stream = nullptr;
    std::shared_ptr<cuda_impl::allocation_state> alloc;
    cublasHandle_t cublas = nullptr;
    cudnnHandle_t cudnn = nullptr;
    tensor_type workspace;
    tensor_type cublas_workspace;  // given to cuBLAS so it never allocates inside a step
    bool tf32 = false;
    bool poison = false;
    hg::conv_engine engine = hg::conv_engine::cudnn;
    std::mutex conv_mutex;
    std::unordered_map<cuda_impl::conv_key, cuda_impl::conv_choice, cuda_impl::conv_key_hash> conv_cache;
    // cuFFT plans of cuda/focal_frequency.cu, keyed by problem and bound to `stream`; created there on
    // first use, destroyed with the backend (type-erased, so this header needs no cuFFT).
    std::shared_ptr<void> fft_plans;
};

}  // namespace hg
