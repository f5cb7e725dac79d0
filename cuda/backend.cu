// The CUDA backend object: device selection, the model's stream, stream-ordered device memory and
// explicit host<->device copies. Destructors never throw (errors at teardown are ignored).
#include <cuda_runtime.h>

#include <string>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/check.hpp"

namespace hg {

struct cuda::impl {
    int device = 0;
    cudaStream_t stream = nullptr;
};

cuda::cuda(int device_index) : impl_(std::make_unique<impl>()) {
    const int count = cuda_device_count();
    if (device_index < 0 || device_index >= count)
        throw cuda_error("cuda backend: device " + std::to_string(device_index) + " requested but " +
                         cuda_device_status());
    impl_->device = device_index;
    HG_CUDA_CHECK(cudaSetDevice(device_index));
    HG_CUDA_CHECK(cudaStreamCreateWithFlags(&impl_->stream, cudaStreamNonBlocking));
}

cuda::~cuda() {
    if (impl_ && impl_->stream) {
        (void)cudaStreamSynchronize(impl_->stream);
        (void)cudaStreamDestroy(impl_->stream);
    }
}

cuda::cuda(cuda&&) noexcept = default;
cuda& cuda::operator=(cuda&&) noexcept = default;

int cuda::device_index() const { return impl_->device; }
void* cuda::stream() const { return impl_->stream; }

void cuda::synchronize() const { HG_CUDA_CHECK(cudaStreamSynchronize(impl_->stream)); }

cuda::tensor_type cuda::empty(const shape& s) const {
    const std::size_t bytes = static_cast<std::size_t>(s.numel()) * sizeof(float);
    void* p = nullptr;
    HG_CUDA_CHECK(cudaSetDevice(impl_->device));
    HG_CUDA_CHECK(cudaMallocAsync(&p, bytes ? bytes : sizeof(float), impl_->stream));
    cudaStream_t stream = impl_->stream;
    // Stream-ordered free: the memory returns to the pool once queued work on the stream is done.
    std::shared_ptr<void> storage(p, [stream](void* q) { (void)cudaFreeAsync(q, stream); });
    return tensor_type(s, device_kind::cuda, std::move(storage), static_cast<float*>(p));
}

cuda::tensor_type cuda::to_device(const tensor_type& host) const {
    require_device(host.device(), device_kind::cpu, "cuda::to_device", "host");
    tensor_type t = empty(host.shape());
    HG_CUDA_CHECK(cudaMemcpyAsync(t.data(), host.data(), host.bytes(), cudaMemcpyHostToDevice, impl_->stream));
    // The host tensor may be freed by the caller right after return: finish the copy first.
    HG_CUDA_CHECK(cudaStreamSynchronize(impl_->stream));
    return t;
}

cuda::tensor_type cuda::to_host(const tensor_type& t) const {
    require_device(t.device(), device_kind::cuda, "cuda::to_host", "t");
    tensor_type host = tensor_type::empty(t.shape());
    HG_CUDA_CHECK(cudaMemcpyAsync(host.data(), t.data(), t.bytes(), cudaMemcpyDeviceToHost, impl_->stream));
    HG_CUDA_CHECK(cudaStreamSynchronize(impl_->stream));
    return host;
}

}  // namespace hg
