// CUDA device discovery: counts devices without ever throwing (0 without a driver) and reports why.
#include <cuda_runtime.h>

#include <string>

#include "hourglass/cuda/check.hpp"
#include "hourglass/cuda/device.hpp"

namespace hg {

int cuda_device_count() noexcept {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
        (void)cudaGetLastError();  // clear the sticky-free error so later calls start clean
        return 0;
    }
    return count < 0 ? 0 : count;
}

std::string cuda_device_status() noexcept {
    try {
        int count = 0;
        const cudaError_t status = cudaGetDeviceCount(&count);
        if (status != cudaSuccess) {
            (void)cudaGetLastError();
            return "no CUDA device: cudaGetDeviceCount failed: " + cuda_impl::cuda_error_text(status);
        }
        if (count <= 0) return "no CUDA device: cudaGetDeviceCount reports 0 devices";
        const cuda_device_info info = cuda_device_properties(0);
        return std::to_string(count) + (count == 1 ? " device" : " devices") + ", device 0: " + info.name + " (sm_" +
               std::to_string(info.major) + std::to_string(info.minor) + ", " +
               std::to_string(info.total_memory >> 20) + " MiB, driver " + std::to_string(info.driver_version) +
               ", runtime " + std::to_string(info.runtime_version) + ")";
    } catch (...) {
        return "no CUDA device: the device query failed";
    }
}

cuda_device_info cuda_device_properties(int index) {
    cudaDeviceProp prop{};
    HG_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
    cuda_device_info info;
    info.index = index;
    info.name = prop.name;
    info.major = prop.major;
    info.minor = prop.minor;
    info.total_memory = prop.totalGlobalMem;
    info.multiprocessors = prop.multiProcessorCount;
    HG_CUDA_CHECK(cudaDriverGetVersion(&info.driver_version));
    HG_CUDA_CHECK(cudaRuntimeGetVersion(&info.runtime_version));
    return info;
}

}  // namespace hg
