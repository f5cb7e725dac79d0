// CUDA focal frequency loss (contracts and the gradient's derivation in ops/focal_frequency.hpp).
// Per call, on the backend's stream and without a host sync:
//   1. difference kernel: d = pred - target, NHWC -> planar complex planes (plane p = n * C + c, H x W)
//   2. cuFFT: one batched 2-D complex-to-complex forward transform of all planes (unnormalised; the
//      orthonormal factor 1/sqrt(H W) is applied where the values are used)
//   3. peak kernel: one block per plane reduces max |D| (the weight normalisation)
//   4. forward: the weighted distance w |D|^2 summed per block in float64, one block finishes the
//      sum into the 1-element output;
//      backward: G = w .* D in place, a cuFFT inverse transform, then dpred += factor * Re(.) back
//      in NHWC order.
// cuFFT plans are cached per (planes, H, W) in the backend (created on first use, bound to its
// stream, destroyed with it) and run with auto-allocation off on a work area carved from the
// backend's workspace, together with the spectra, the peaks and the partial sums.
#include <cuda_runtime.h>
#include <cufft.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "backend_impl.cuh"
#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/check.hpp"
#include "hourglass/ops/check.hpp"
#include "hourglass/ops/focal_frequency.hpp"

namespace hg::cuda_impl {

namespace {

constexpr int focal_threads = 256;  // a multiple of 32, at most 1024 (block reductions' limits)
constexpr int focal_max_partials = 1024;

const char* cufft_result_name(cufftResult r) {
    switch (r) {
        case CUFFT_SUCCESS: return "CUFFT_SUCCESS";
        case CUFFT_INVALID_PLAN: return "CUFFT_INVALID_PLAN";
        case CUFFT_ALLOC_FAILED: return "CUFFT_ALLOC_FAILED";
        case CUFFT_INVALID_TYPE: return "CUFFT_INVALID_TYPE";
        case CUFFT_INVALID_VALUE: return "CUFFT_INVALID_VALUE";
        case CUFFT_INTERNAL_ERROR: return "CUFFT_INTERNAL_ERROR";
        case CUFFT_EXEC_FAILED: return "CUFFT_EXEC_FAILED";
        case CUFFT_SETUP_FAILED: return "CUFFT_SETUP_FAILED";
        case CUFFT_INVALID_SIZE: return "CUFFT_INVALID_SIZE";
        case CUFFT_UNALIGNED_DATA: return "CUFFT_UNALIGNED_DATA";
        case CUFFT_INVALID_DEVICE: return "CUFFT_INVALID_DEVICE";
        case CUFFT_NO_WORKSPACE: return "CUFFT_NO_WORKSPACE";
        case CUFFT_NOT_IMPLEMENTED: return "CUFFT_NOT_IMPLEMENTED";
        case CUFFT_NOT_SUPPORTED: return "CUFFT_NOT_SUPPORTED";
        default: return "unknown cuFFT status";
    }
}

[[noreturn]] void throw_cufft_error(cufftResult status, const char* call, const char* file, int line) {
    (void)cudaGetLastError();  // as throw_cuda_error: do not let a later launch check report this again
    throw cuda_error(std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                     cufft_result_name(status) + " (" + std::to_string(static_cast<int>(status)) + ")");
}

}  // namespace

}  // namespace hg::cuda_impl

#define HG_CUFFT_CHECK(call)                                                                               \
    do {                                                                                                   \
        const cufftResult hg_status_ = (call);                                                             \
        if (hg_status_ != CUFFT_SUCCESS) ::hg::cuda_impl::throw_cufft_error(hg_status_, #call, __FILE__, __LINE__); \
    } while (0)

namespace hg::cuda_impl {

namespace {

/// The cuFFT plans of one backend: batched 2-D C2C transforms keyed by (planes, H, W) - everything
/// that defines the plan - each with the work-area size it needs. Destroyed with the backend.
struct fft_plan_cache {
    struct entry {
        cufftHandle plan = 0;
        std::size_t work_bytes = 0;
    };
    std::mutex mutex;
    std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t>, entry> plans;

    fft_plan_cache() = default;
    fft_plan_cache(const fft_plan_cache&) = delete;
    fft_plan_cache& operator=(const fft_plan_cache&) = delete;
    ~fft_plan_cache() {
        for (auto& kv : plans) (void)cufftDestroy(kv.second.plan);
    }
};

/// The plan for `planes` transforms of H x W, created on first use: no automatic work-area
/// allocation (callers pass a work area from the backend's workspace), bound to the backend's stream.
fft_plan_cache::entry plan_for(const cuda& be, std::int64_t planes, std::int64_t h, std::int64_t w) {
    auto& internals = be.internals();
    if (!internals.fft_plans) internals.fft_plans = std::make_shared<fft_plan_cache>();
    auto& cache = *static_cast<fft_plan_cache*>(internals.fft_plans.get());
    std::lock_guard<std::mutex> lock(cache.mutex);
    const auto key = std::make_tuple(planes, h, w);
    const auto found = cache.plans.find(key);
    if (found != cache.plans.end()) return found->second;

    fft_plan_cache::entry e;
    HG_CUFFT_CHECK(cufftCreate(&e.plan));
    try {
        HG_CUFFT_CHECK(cufftSetAutoAllocation(e.plan, 0));
        long long dims[2] = {static_cast<long long>(h), static_cast<long long>(w)};
        const long long dist = static_cast<long long>(h * w);
        HG_CUFFT_CHECK(cufftMakePlanMany64(e.plan, 2, dims, nullptr, 1, dist, nullptr, 1, dist, CUFFT_C2C,
                                           static_cast<long long>(planes), &e.work_bytes));
        HG_CUFFT_CHECK(cufftSetStream(e.plan, static_cast<cudaStream_t>(be.stream())));
    } catch (...) {
        (void)cufftDestroy(e.plan);
        throw;
    }
    cache.plans.emplace(key, e);
    return e;
}

/// Scratch for one call, carved from one workspace() call (each part 256-byte aligned).
struct focal_scratch {
    cufftComplex* spectrum = nullptr;  // planes * H * W
    double* peak = nullptr;            // planes
    double* partial = nullptr;         // focal_max_partials
    void* fft_work = nullptr;          // the plan's work area
};

std::size_t align256(std::size_t bytes) { return (bytes + 255) / 256 * 256; }

focal_scratch carve(const cuda& be, std::int64_t planes, std::int64_t hw, std::size_t work_bytes) {
    const std::size_t spectrum_bytes = align256(static_cast<std::size_t>(planes * hw) * sizeof(cufftComplex));
    const std::size_t peak_bytes = align256(static_cast<std::size_t>(planes) * sizeof(double));
    const std::size_t partial_bytes = align256(focal_max_partials * sizeof(double));
    const std::size_t work = align256(std::max<std::size_t>(work_bytes, 1));
    const std::size_t total = spectrum_bytes + peak_bytes + partial_bytes + work;
    auto* base = static_cast<char*>(be.workspace(total));
    focal_scratch s;
    s.spectrum = reinterpret_cast<cufftComplex*>(base);
    s.peak = reinterpret_cast<double*>(base + spectrum_bytes);
    s.partial = reinterpret_cast<double*>(base + spectrum_bytes + peak_bytes);
    s.fft_work = base + spectrum_bytes + peak_bytes + partial_bytes;
    return s;
}

/// The geometry of a call: NHWC extents and the derived plane counts.
struct focal_dims {
    std::int64_t n = 0, h = 0, w = 0, c = 0;
    std::int64_t planes() const { return n * c; }
    std::int64_t area() const { return h * w; }
    std::int64_t count() const { return n * h * w * c; }
};

focal_dims dims_of(const tensor& pred) {
    return {pred.shape().n(), pred.shape().h(), pred.shape().w(), pred.shape().c()};
}

/// NHWC index of element k = y * W + x of plane p = n * C + c.
__device__ __forceinline__ std::int64_t nhwc_index(std::int64_t p, std::int64_t k, std::int64_t hw, std::int64_t c) {
    return ((p / c) * hw + k) * c + p % c;
}

struct sum_op {
    __device__ double operator()(double a, double b) const { return a + b; }
};
struct max_op {
    __device__ double operator()(double a, double b) const { return b > a ? b : a; }
};

/// Reduces v over the block with Op (identity `init`); valid in thread 0. blockDim.x: a multiple of 32.
template <class Op>
__device__ double block_reduce(double v, double init) {
    const Op op;
    __shared__ double warp_results[32];
    const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    for (int offset = 16; offset > 0; offset /= 2) v = op(v, __shfl_down_sync(0xffffffffu, v, offset));
    if (lane == 0) warp_results[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < blockDim.x / 32 ? warp_results[lane] : init;
        for (int offset = 16; offset > 0; offset /= 2) v = op(v, __shfl_down_sync(0xffffffffu, v, offset));
    }
    return v;
}

/// spectrum[p][k] = (pred - target, 0) for every NHWC element (NHWC -> planar layout).
__global__ void focal_difference_kernel(const float* pred, const float* target, std::int64_t total, std::int64_t hw,
                                        std::int64_t c, cufftComplex* spectrum) {
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
        const std::int64_t ch = i % c, pixel = (i / c) % hw, image = i / (c * hw);
        spectrum[(image * c + ch) * hw + pixel] = make_float2(pred[i] - target[i], 0.0f);
    }
}

/// peak[p] = max_k |D_k| * ortho for plane p = blockIdx.x (one block per plane).
__global__ void focal_peak_kernel(const cufftComplex* spectrum, std::int64_t hw, double ortho, double* peak) {
    const cufftComplex* plane = spectrum + static_cast<std::int64_t>(blockIdx.x) * hw;
    double m = 0.0;
    for (std::int64_t k = threadIdx.x; k < hw; k += blockDim.x)
        m = max_op{}(m, ops::focal::magnitude(plane[k].x, plane[k].y) * ortho);
    m = block_reduce<max_op>(m, 0.0);
    if (threadIdx.x == 0) peak[blockIdx.x] = m;
}

/// The weight of element j = p * hw + k: from the spectrum and the plane's peak, or from `given`
/// (NHWC) when it is not null.
__device__ __forceinline__ double focal_weight_of(const cufftComplex& v, std::int64_t p, std::int64_t k,
                                                  std::int64_t hw, std::int64_t c, const double* peak, double alpha,
                                                  double ortho, const float* given) {
    if (given) return static_cast<double>(given[nhwc_index(p, k, hw, c)]);
    return ops::focal::weight(ops::focal::magnitude(v.x, v.y) * ortho, peak[p], alpha);
}

/// partial[block] = this block's share of sum_j w_j |D_j|^2 (orthonormal D), in float64.
__global__ void focal_value_partials_kernel(const cufftComplex* spectrum, std::int64_t total, std::int64_t hw,
                                            std::int64_t c, const double* peak, double alpha, double ortho,
                                            const float* given, double* partial) {
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    double acc = 0.0;
    for (std::int64_t j = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < total; j += stride) {
        const cufftComplex v = spectrum[j];
        const double re = static_cast<double>(v.x) * ortho, im = static_cast<double>(v.y) * ortho;
        acc += focal_weight_of(v, j / hw, j % hw, hw, c, peak, alpha, ortho, given) * (re * re + im * im);
    }
    acc = block_reduce<sum_op>(acc, 0.0);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

/// out[0] = sum(partial) / count (one block).
__global__ void focal_value_finish_kernel(const double* partial, int parts, double count, float* out) {
    double acc = 0.0;
    for (int i = static_cast<int>(threadIdx.x); i < parts; i += static_cast<int>(blockDim.x)) acc += partial[i];
    acc = block_reduce<sum_op>(acc, 0.0);
    if (threadIdx.x == 0) out[0] = static_cast<float>(acc / count);
}

/// weights[NHWC] = w of every frequency.
__global__ void focal_weights_kernel(const cufftComplex* spectrum, std::int64_t total, std::int64_t hw, std::int64_t c,
                                     const double* peak, double alpha, double ortho, float* weights) {
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t j = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < total; j += stride) {
        const std::int64_t p = j / hw, k = j % hw;
        weights[nhwc_index(p, k, hw, c)] =
            static_cast<float>(focal_weight_of(spectrum[j], p, k, hw, c, peak, alpha, ortho, nullptr));
    }
}

/// spectrum <- w .* spectrum (G of the gradient formula, still unnormalised).
__global__ void focal_weight_multiply_kernel(cufftComplex* spectrum, std::int64_t total, std::int64_t hw,
                                             std::int64_t c, const double* peak, double alpha, double ortho,
                                             const float* given) {
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t j = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < total; j += stride) {
        const cufftComplex v = spectrum[j];
        const auto w = static_cast<float>(focal_weight_of(v, j / hw, j % hw, hw, c, peak, alpha, ortho, given));
        spectrum[j] = make_float2(w * v.x, w * v.y);
    }
}

/// dpred[NHWC] += factor * Re(spectrum[p][k]) (planar -> NHWC, accumulating).
__global__ void focal_gradient_kernel(const cufftComplex* spectrum, std::int64_t total, std::int64_t hw,
                                      std::int64_t c, double factor, float* dpred) {
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
        const std::int64_t ch = i % c, pixel = (i / c) % hw, image = i / (c * hw);
        const double g = static_cast<double>(spectrum[(image * c + ch) * hw + pixel].x);
        dpred[i] = static_cast<float>(static_cast<double>(dpred[i]) + factor * g);
    }
}

/// Blocks for a grid-stride loop over `total` elements: one full wave at most (8 blocks of 256
/// threads per SM), at least one, never more than the partial sums hold.
int grid_for(const cuda& be, std::int64_t total) {
    int sms = 0;
    HG_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, be.device_index()));
    const std::int64_t needed = (total + focal_threads - 1) / focal_threads;
    return static_cast<int>(std::clamp<std::int64_t>(
        needed, 1, std::min<std::int64_t>(focal_max_partials, std::int64_t{std::max(sms, 1)} * 8)));
}

/// Steps 1-3: the spectra of pred - target (unnormalised) and the peak |D| (orthonormal) per plane.
focal_scratch focal_spectrum(const cuda& be, const tensor& pred, const tensor& target, const focal_dims& d) {
    const auto stream = static_cast<cudaStream_t>(be.stream());
    const auto plan = plan_for(be, d.planes(), d.h, d.w);
    const focal_scratch s = carve(be, d.planes(), d.area(), plan.work_bytes);
    const double ortho = 1.0 / std::sqrt(static_cast<double>(d.area()));
    const int blocks = grid_for(be, d.count());

    focal_difference_kernel<<<blocks, focal_threads, 0, stream>>>(pred.data(), target.data(), d.count(), d.area(),
                                                                   d.c, s.spectrum);
    HG_CUDA_CHECK_LAUNCH("focal_difference_kernel");
    HG_CUFFT_CHECK(cufftSetWorkArea(plan.plan, s.fft_work));
    HG_CUFFT_CHECK(cufftExecC2C(plan.plan, s.spectrum, s.spectrum, CUFFT_FORWARD));
    focal_peak_kernel<<<static_cast<unsigned>(d.planes()), focal_threads, 0, stream>>>(s.spectrum, d.area(), ortho,
                                                                                       s.peak);
    HG_CUDA_CHECK_LAUNCH("focal_peak_kernel");
    return s;
}

void focal_value(const cuda& be, const tensor& pred, const tensor& target, double alpha, const float* given,
                 const tensor& value) {
    const auto stream = static_cast<cudaStream_t>(be.stream());
    const focal_dims d = dims_of(pred);
    const focal_scratch s = focal_spectrum(be, pred, target, d);
    const double ortho = 1.0 / std::sqrt(static_cast<double>(d.area()));
    const int blocks = grid_for(be, d.count());
    focal_value_partials_kernel<<<blocks, focal_threads, 0, stream>>>(s.spectrum, d.count(), d.area(), d.c, s.peak,
                                                                      alpha, ortho, given, s.partial);
    HG_CUDA_CHECK_LAUNCH("focal_value_partials_kernel");
    focal_value_finish_kernel<<<1, focal_threads, 0, stream>>>(s.partial, blocks, static_cast<double>(d.count()),
                                                               value.data());
    HG_CUDA_CHECK_LAUNCH("focal_value_finish_kernel");
}

void focal_gradient(const cuda& be, const tensor& pred, const tensor& target, double alpha, const float* given,
                    double scale, const tensor& dpred) {
    const auto stream = static_cast<cudaStream_t>(be.stream());
    const focal_dims d = dims_of(pred);
    const focal_scratch s = focal_spectrum(be, pred, target, d);
    const double ortho = 1.0 / std::sqrt(static_cast<double>(d.area()));
    const int blocks = grid_for(be, d.count());
    focal_weight_multiply_kernel<<<blocks, focal_threads, 0, stream>>>(s.spectrum, d.count(), d.area(), d.c, s.peak,
                                                                       alpha, ortho, given);
    HG_CUDA_CHECK_LAUNCH("focal_weight_multiply_kernel");
    // The plan is cached, so this is the same one focal_spectrum ran; its work area is still set.
    const auto plan = plan_for(be, d.planes(), d.h, d.w);
    HG_CUFFT_CHECK(cufftExecC2C(plan.plan, s.spectrum, s.spectrum, CUFFT_INVERSE));
    // The spectrum holds G = w .* D with D unnormalised, and the inverse is unnormalised:
    //   (2 / count) Re(F^H (w .* D_ortho)) = (2 / count) * inverse(w .* D) / (H W).
    const double factor = scale * 2.0 / (static_cast<double>(d.count()) * static_cast<double>(d.area()));
    focal_gradient_kernel<<<blocks, focal_threads, 0, stream>>>(s.spectrum, d.count(), d.area(), d.c, factor,
                                                                dpred.data());
    HG_CUDA_CHECK_LAUNCH("focal_gradient_kernel");
}

/// The peak kernel runs one block per plane, and a grid has at most 2^31 - 1 blocks.
void check_cuda_limits(const focal_dims& d, const char* op) {
    if (d.planes() > 2147483647ll)
        throw shape_error(std::string(op) + ": N * C = " + std::to_string(d.planes()) + " exceeds 2^31 - 1 planes");
}

}  // namespace

}  // namespace hg::cuda_impl

namespace hg::ops {

void focal_frequency_weights(const cuda& be, const tensor& pred, const tensor& target, double alpha,
                             const tensor& weights) {
    const char* op = "focal_frequency_weights";
    detail::check_focal_pair<cuda>(pred, target, op);
    detail::check_focal_alpha(alpha, op);
    detail::check_same<cuda>(weights, pred, op, "weights");
    const auto d = cuda_impl::dims_of(pred);
    cuda_impl::check_cuda_limits(d, op);
    const auto s = cuda_impl::focal_spectrum(be, pred, target, d);
    const double ortho = 1.0 / std::sqrt(static_cast<double>(d.area()));
    cuda_impl::focal_weights_kernel<<<cuda_impl::grid_for(be, d.count()), cuda_impl::focal_threads, 0,
                                      static_cast<cudaStream_t>(be.stream())>>>(
        s.spectrum, d.count(), d.area(), d.c, s.peak, alpha, ortho, weights.data());
    HG_CUDA_CHECK_LAUNCH("focal_weights_kernel");
}

void focal_frequency_forward(const cuda& be, const tensor& pred, const tensor& target, double alpha,
                             const tensor& value) {
    const char* op = "focal_frequency_forward";
    detail::check_focal_pair<cuda>(pred, target, op);
    detail::check_focal_alpha(alpha, op);
    detail::check_focal_value<cuda>(value, op);
    cuda_impl::check_cuda_limits(cuda_impl::dims_of(pred), op);
    cuda_impl::focal_value(be, pred, target, alpha, nullptr, value);
}

void focal_frequency_backward(const cuda& be, const tensor& pred, const tensor& target, double alpha, double scale,
                              const tensor& dpred) {
    const char* op = "focal_frequency_backward";
    detail::check_focal_pair<cuda>(pred, target, op);
    detail::check_focal_alpha(alpha, op);
    detail::check_same<cuda>(dpred, pred, op, "dpred");
    cuda_impl::check_cuda_limits(cuda_impl::dims_of(pred), op);
    cuda_impl::focal_gradient(be, pred, target, alpha, nullptr, scale, dpred);
}

void focal_frequency_weighted_forward(const cuda& be, const tensor& pred, const tensor& target,
                                      const tensor& weights, const tensor& value) {
    const char* op = "focal_frequency_weighted_forward";
    detail::check_focal_pair<cuda>(pred, target, op);
    detail::check_same<cuda>(weights, pred, op, "weights");
    detail::check_focal_value<cuda>(value, op);
    cuda_impl::check_cuda_limits(cuda_impl::dims_of(pred), op);
    cuda_impl::focal_value(be, pred, target, 1.0, weights.data(), value);
}

void focal_frequency_weighted_backward(const cuda& be, const tensor& pred, const tensor& target,
                                       const tensor& weights, double scale, const tensor& dpred) {
    const char* op = "focal_frequency_weighted_backward";
    detail::check_focal_pair<cuda>(pred, target, op);
    detail::check_same<cuda>(weights, pred, op, "weights");
    detail::check_same<cuda>(dpred, pred, op, "dpred");
    cuda_impl::check_cuda_limits(cuda_impl::dims_of(pred), op);
    cuda_impl::focal_gradient(be, pred, target, 1.0, weights.data(), scale, dpred);
}

}  // namespace hg::ops
