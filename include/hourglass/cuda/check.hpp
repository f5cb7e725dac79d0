// Error checking for CUDA runtime calls and kernel launches, for use inside cuda/*.cu only.
// HG_CUDA_CHECK(call) throws hg::cuda_error naming the call, file:line and CUDA's message;
// HG_CUDA_CHECK_LAUNCH() checks the last kernel launch the same way.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "hourglass/core/error.hpp"

namespace hg::cuda_impl {

inline std::string cuda_error_text(cudaError_t status) {
    return std::string(cudaGetErrorString(status)) + " (" + cudaGetErrorName(status) + " = " +
           std::to_string(static_cast<int>(status)) + ")";
}

[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
    // Reset the thread's last-error state (for non-sticky errors), so a later launch check does not
    // report this failure again.
    (void)cudaGetLastError();
    throw cuda_error(std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                     cuda_error_text(status));
}

}  // namespace hg::cuda_impl

#define HG_CUDA_CHECK(call)                                                                     \
    do {                                                                                        \
        const cudaError_t hg_status_ = (call);                                                  \
        if (hg_status_ != cudaSuccess) ::hg::cuda_impl::throw_cuda_error(hg_status_, #call, __FILE__, __LINE__); \
    } while (0)

#define HG_CUDA_CHECK_LAUNCH(kernel_name)                                                       \
    do {                                                                                        \
        const cudaError_t hg_status_ = cudaGetLastError();                                      \
        if (hg_status_ != cudaSuccess)                                                          \
            ::hg::cuda_impl::throw_cuda_error(hg_status_, "launch of " kernel_name, __FILE__, __LINE__); \
    } while (0)
