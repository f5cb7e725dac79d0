// The CUDA backend object: device selection, the model's stream, library handles, stream-ordered
// device memory from the device pool (kept cached: release threshold = all), byte accounting,
// pinned host memory and explicit host<->device copies. Destructors never throw.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "backend_impl.cuh"

namespace hg {

cuda::cuda(int device_index) : impl_(std::make_unique<impl>()) {
    const int count = cuda_device_count();
    if (device_index < 0 || device_index >= count)
        throw cuda_error("cuda backend: device " + std::to_string(device_index) + " requested but " +
                         cuda_device_status());
    impl_->device = device_index;
    HG_CUDA_CHECK(cudaSetDevice(device_index));
    HG_CUDA_CHECK(cudaStreamCreateWithFlags(&impl_->stream, cudaStreamNonBlocking));
    // Keep freed blocks in the pool instead of returning them at each synchronisation, so a
    // warmed-up training step allocates nothing from the driver.
    cudaMemPool_t pool = nullptr;
    HG_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device_index));
    std::uint64_t keep_all = std::numeric_limits<std::uint64_t>::max();
    HG_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep_all));
    impl_->alloc = std::make_shared<cuda_impl::allocation_state>();
    impl_->alloc->stream = impl_->stream;
    impl_->alloc->device = device_index;
}

cuda::~cuda() {
    if (!impl_) return;
    if (impl_->cudnn) (void)cudnnDestroy(impl_->cudnn);
    if (impl_->cublas) (void)cublasDestroy(impl_->cublas);
    impl_->workspace = tensor_type();
    impl_->cublas_workspace = tensor_type();
    if (impl_->stream) {
        (void)cudaStreamSynchronize(impl_->stream);
        {
            std::lock_guard<std::mutex> lock(impl_->alloc->mutex);
            impl_->alloc->stream = nullptr;  // later frees of surviving tensors go synchronous
        }
        (void)cudaStreamDestroy(impl_->stream);
    }
}

cuda::cuda(cuda&&) noexcept = default;
cuda& cuda::operator=(cuda&&) noexcept = default;

int cuda::device_index() const { return impl_->device; }
void* cuda::stream() const { return impl_->stream; }

void cuda::synchronize() const { HG_CUDA_CHECK(cudaStreamSynchronize(impl_->stream)); }

cuda::tensor_type cuda::empty(const shape& s) const {
    const std::size_t bytes = std::max<std::size_t>(static_cast<std::size_t>(s.numel()) * sizeof(float), 256);
    void* p = nullptr;
    HG_CUDA_CHECK(cudaMallocAsync(&p, bytes, impl_->stream));
    auto state = impl_->alloc;
    state->add(bytes);
    std::shared_ptr<void> storage(p, [state, bytes](void* q) {
        std::lock_guard<std::mutex> lock(state->mutex);
        if (state->stream)
            (void)cudaFreeAsync(q, state->stream);
        else
            (void)cudaFree(q);
        state->in_use.fetch_sub(bytes);
    });
    if (impl_->poison) HG_CUDA_CHECK(cudaMemsetAsync(p, 0xff, bytes, impl_->stream));
    return tensor_type(s, device_kind::cuda, std::move(storage), static_cast<float*>(p));
}

void cuda::poison_allocations(bool on) { impl_->poison = on; }
bool cuda::poisons_allocations() const { return impl_->poison; }

cuda::tensor_type cuda::to_device(const tensor_type& host) const {
    require_device(host.device(), device_kind::cpu, "cuda::to_device", "host");
    tensor_type t = empty(host.shape());
    HG_CUDA_CHECK(cudaMemcpyAsync(t.data(), host.data(), host.bytes(), cudaMemcpyHostToDevice, impl_->stream));
    // The caller may free or change the host tensor right after return: finish the copy first.
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

cuda::tensor_type cuda::pinned_host(const shape& s) const {
    void* p = nullptr;
    const std::size_t bytes = std::max<std::size_t>(static_cast<std::size_t>(s.numel()) * sizeof(float), 64);
    HG_CUDA_CHECK(cudaMallocHost(&p, bytes));
    std::shared_ptr<void> storage(p, [](void* q) { (void)cudaFreeHost(q); });
    return tensor_type(s, device_kind::cpu, std::move(storage), static_cast<float*>(p));
}

void cuda::copy_to_device_async(const tensor_type& host, const tensor_type& dev) const {
    require_device(host.device(), device_kind::cpu, "cuda::copy_to_device_async", "host");
    require_device(dev.device(), device_kind::cuda, "cuda::copy_to_device_async", "dev");
    if (host.numel() != dev.numel())
        throw shape_error("cuda::copy_to_device_async: host " + host.shape().str() + " and device " +
                          dev.shape().str() + " differ in element count");
    HG_CUDA_CHECK(cudaMemcpyAsync(dev.data(), host.data(), host.bytes(), cudaMemcpyHostToDevice, impl_->stream));
}

bool cuda::tf32() const { return impl_->tf32; }
void cuda::set_tf32(bool on) {
    impl_->tf32 = on;
    if (impl_->cublas)
        HG_CUBLAS_CHECK(cublasSetMathMode(impl_->cublas, on ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
}
hg::conv_engine cuda::conv_engine() const { return impl_->engine; }
void cuda::set_conv_engine(hg::conv_engine engine) { impl_->engine = engine; }

cuda::memory_stats cuda::memory() const {
    memory_stats m;
    m.in_use = impl_->alloc->in_use.load();
    m.peak = impl_->alloc->peak.load();
    cudaMemPool_t pool = nullptr;
    HG_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, impl_->device));
    std::uint64_t reserved = 0;
    HG_CUDA_CHECK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &reserved));
    m.reserved = static_cast<std::size_t>(reserved);
    return m;
}

void cuda::reset_peak() const { impl_->alloc->peak.store(impl_->alloc->in_use.load()); }

void* cuda::cublas_handle() const {
    if (!impl_->cublas) {
        HG_CUBLAS_CHECK(cublasCreate(&impl_->cublas));
        HG_CUBLAS_CHECK(cublasSetStream(impl_->cublas, impl_->stream));
        HG_CUBLAS_CHECK(
            cublasSetMathMode(impl_->cublas, impl_->tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
        // A workspace from our pool, so cuBLAS allocates nothing inside a (graph-captured) step.
        constexpr std::size_t cublas_workspace_bytes = std::size_t{32} << 20;
        impl_->cublas_workspace = empty(shape{static_cast<std::int64_t>(cublas_workspace_bytes / sizeof(float))});
        HG_CUBLAS_CHECK(cublasSetWorkspace(impl_->cublas, impl_->cublas_workspace.data(), cublas_workspace_bytes));
    }
    return impl_->cublas;
}

void* cuda::cudnn_handle() const {
    if (!impl_->cudnn) {
        HG_CUDNN_CHECK(cudnnCreate(&impl_->cudnn));
        HG_CUDNN_CHECK(cudnnSetStream(impl_->cudnn, impl_->stream));
    }
    return impl_->cudnn;
}

void* cuda::workspace(std::size_t bytes) const {
    const auto needed = static_cast<std::int64_t>((bytes + sizeof(float) - 1) / sizeof(float));
    if (!impl_->workspace.defined() || impl_->workspace.numel() < needed)
        impl_->workspace = empty(shape{std::max<std::int64_t>(needed, 1)});
    return impl_->workspace.data();
}

}  // namespace hg
