// CUDA device discovery (implemented in cuda/device.cu, linked through hourglass::cuda).
// cuda_device_count() never throws and never aborts: without a driver or a GPU it returns 0, and
// cuda_device_status() says why.
#pragma once

#include <cstddef>
#include <string>

namespace hg {

struct cuda_device_info {
    int index = 0;
    std::string name;
    int major = 0, minor = 0;  // compute capability
    std::size_t total_memory = 0;
    int multiprocessors = 0;
    int driver_version = 0, runtime_version = 0;
};

/// Number of usable CUDA devices; 0 when there is no driver, no device, or any error.
int cuda_device_count() noexcept;

/// One line saying what cuda_device_count() found, e.g. "1 device: NVIDIA H100 (sm_90)" or
/// "no CUDA device: cudaGetDeviceCount failed: CUDA driver version is insufficient... (35)".
std::string cuda_device_status() noexcept;

/// Properties of device `index`; throws cuda_error for an invalid index or a failed query.
cuda_device_info cuda_device_properties(int index);

}  // namespace hg
