// The CUDA backend type hg::cuda (float32): one device and one non-default stream on which every op
// of a model runs. Host-side declaration only; implemented in cuda/backend.cu (hourglass::cuda).
// Tensors move between host and device only through to_device()/to_host(), never implicitly.
#pragma once

#include <memory>

#include "hourglass/core/device.hpp"
#include "hourglass/core/shape.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/cuda/device.hpp"

namespace hg {

class cuda {
public:
    using scalar = float;
    using tensor_type = basic_tensor<float>;
    static constexpr device_kind device = device_kind::cuda;
    static constexpr const char* name = "cuda";

    /// Selects device `device_index` and creates a stream for it; throws cuda_error without one.
    explicit cuda(int device_index = 0);
    ~cuda();
    cuda(const cuda&) = delete;
    cuda& operator=(const cuda&) = delete;
    cuda(cuda&&) noexcept;
    cuda& operator=(cuda&&) noexcept;

    int device_index() const;
    /// The backend's stream as a cudaStream_t (void* here so this header needs no CUDA headers).
    void* stream() const;
    /// Waits for all work queued on the stream; throws cuda_error for an asynchronous failure.
    void synchronize() const;

    /// A new device tensor with uninitialised contents (allocation is stream-ordered).
    tensor_type empty(const shape& s) const;
    /// Copies a host tensor to a new device tensor.
    tensor_type to_device(const tensor_type& host) const;
    /// Copies a device tensor to a new host tensor (waits for the copy).
    tensor_type to_host(const tensor_type& t) const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace hg
