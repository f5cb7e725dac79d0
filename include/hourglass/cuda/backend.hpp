// The CUDA backend type hg::cuda (float32): one device and one non-default stream on which every op
// of a model runs. Host-side declaration only; implemented in cuda/backend.cu (hourglass::cuda).
// Tensors move between host and device only through to_device()/to_host(), never implicitly.
//
// Memory: device tensors come from the device's stream-ordered memory pool (cudaMallocAsync) with
// its release threshold raised to "keep everything", so once a training step has run, later steps
// reuse cached blocks and perform no cudaMalloc/cudaFree (and stay capturable in a CUDA graph).
// memory() reports bytes in use and the peak, counted by this backend.
#pragma once

#include <cstddef>
#include <memory>

#include "hourglass/core/device.hpp"
#include "hourglass/core/shape.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/cuda/device.hpp"

namespace hg {

/// Which convolution implementation the CUDA backend uses.
enum class conv_engine {
    cudnn,   ///< cuDNN, falling back to the hand-written kernel when cuDNN offers no algorithm
    direct,  ///< always the hand-written implicit-GEMM kernel (cross-checks, debugging)
};

class cuda {
public:
    using scalar = float;
    using tensor_type = basic_tensor<float>;
    static constexpr device_kind device = device_kind::cuda;
    static constexpr const char* name = "cuda";

    struct memory_stats {
        std::size_t in_use = 0;    ///< bytes held by live device tensors and workspaces of this backend
        std::size_t peak = 0;      ///< the largest in_use since construction or reset_peak()
        std::size_t reserved = 0;  ///< bytes the device pool holds (cached and in use)
    };

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

    /// A new device tensor with uninitialised contents (allocation is stream-ordered; NaN-filled
    /// when poisoning is on).
    tensor_type empty(const shape& s) const;
    /// Testing aid: fill every tensor this backend allocates with NaN (all bits set), so an op that
    /// leaves an element unwritten shows up as a NaN in its output.
    void poison_allocations(bool on);
    bool poisons_allocations() const;
    /// Copies a host tensor to a new device tensor.
    tensor_type to_device(const tensor_type& host) const;
    /// Copies a device tensor to a new host tensor (waits for the copy).
    tensor_type to_host(const tensor_type& t) const;
    /// A host (CPU) tensor in page-locked memory, for fast asynchronous uploads.
    tensor_type pinned_host(const shape& s) const;
    /// Queues an asynchronous copy host -> device on the stream; `host` should be pinned and must
    /// stay alive and unchanged until the stream reaches the copy.
    void copy_to_device_async(const tensor_type& host, const tensor_type& dev) const;

    /// TF32 tensor-core math for convolutions and matrix products (off by default: float32-exact).
    bool tf32() const;
    void set_tf32(bool on);
    /// Convolution implementation (default conv_engine::cudnn).
    hg::conv_engine conv_engine() const;
    void set_conv_engine(hg::conv_engine engine);

    memory_stats memory() const;
    void reset_peak() const;

    /// Library handles, created on first use: cublasHandle_t and cudnnHandle_t bound to stream().
    void* cublas_handle() const;
    void* cudnn_handle() const;
    /// Scratch device memory of at least `bytes`, valid until the next call (reused, grows).
    void* workspace(std::size_t bytes) const;

    /// Implementation details shared by cuda/*.cu (defined in cuda/backend_impl.cuh).
    struct impl;
    impl& internals() const { return *impl_; }

private:
    std::unique_ptr<impl> impl_;
};

}  // namespace hg
