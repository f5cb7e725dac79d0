// CUDA conv2d ops (contract in ops/conv2d.hpp): cuDNN's convolution API on NHWC float32 tensors (the
// KRSC filter is cuDNN's NHWC filter layout), with the hand-written kernels of cuda/conv2d_direct.cu
// as the fallback.
//
// Algorithm choice: once per full problem (pass, shape, stride, padding, dtype, TF32), under the
// backend's conv_mutex, cudnnFind*AlgorithmEx times every algorithm on the caller's real inputs with
// a scratch output (the caller's tensors are never written during the search) and a scratch workspace
// of up to 1 GiB; the fastest algorithm that succeeded, fits that workspace and uses the requested
// math is cached in the backend's conv_cache. Requested math: CUDNN_FMA_MATH with TF32 off (results
// are float32 FMA arithmetic; results reporting any other math type are rejected), CUDNN_DEFAULT_MATH
// with TF32 on (TF32 tensor cores allowed; results needing down-conversion are rejected). When no
// algorithm qualifies, or the problem exceeds cuDNN's int descriptors, the choice is the direct kernel.
// conv_choice.algorithm packs the cuDNN algorithm (bits 0-7) with the math type it was timed with
// (bits 8 and up), which is set on the convolution descriptor again for every call.
//
// Per call: descriptors are created and destroyed (cheap host calls, RAII), the workspace comes from
// be.workspace(), and everything runs on be.stream() (the cuDNN handle is bound to it).
//   forward          y = conv(x, w) (beta = 0), then bias_add(y, b) in one pass over y.
//   backward data    dx = dL/dx (beta = 0: written, not accumulated).
//   backward filter  dw += dL/dw (alpha = 1, beta = 1: cuDNN accumulates), then db += dL/db (bias_grad).
// With be.conv_engine() == conv_engine::direct the cache is bypassed and the direct kernels run.
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "backend_impl.cuh"
#include "conv2d_direct.cuh"
#include "hourglass/ops/bias.hpp"
#include "hourglass/ops/conv2d.hpp"

namespace hg::cuda_impl {

namespace {

/// Largest workspace an algorithm may need to be considered.
constexpr std::size_t workspace_cap = std::size_t{1} << 30;

enum conv_pass : int { pass_forward = 0, pass_backward_data = 1, pass_backward_filter = 2 };

class tensor_descriptor {
public:
    tensor_descriptor() { HG_CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc_)); }
    ~tensor_descriptor() { (void)cudnnDestroyTensorDescriptor(desc_); }
    tensor_descriptor(const tensor_descriptor&) = delete;
    tensor_descriptor& operator=(const tensor_descriptor&) = delete;
    /// An NHWC float32 tensor of extents n, h, w, c.
    void set_nhwc(std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c) {
        HG_CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc_, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, static_cast<int>(n),
                                                  static_cast<int>(c), static_cast<int>(h), static_cast<int>(w)));
    }
    cudnnTensorDescriptor_t get() const { return desc_; }

private:
    cudnnTensorDescriptor_t desc_ = nullptr;
};

class filter_descriptor {
public:
    filter_descriptor() { HG_CUDNN_CHECK(cudnnCreateFilterDescriptor(&desc_)); }
    ~filter_descriptor() { (void)cudnnDestroyFilterDescriptor(desc_); }
    filter_descriptor(const filter_descriptor&) = delete;
    filter_descriptor& operator=(const filter_descriptor&) = delete;
    /// A float32 KRSC filter (cuDNN's NHWC filter format) of k filters, r x r taps, c channels.
    void set_krsc(std::int64_t k, std::int64_t r, std::int64_t c) {
        HG_CUDNN_CHECK(cudnnSetFilter4dDescriptor(desc_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, static_cast<int>(k),
                                                  static_cast<int>(c), static_cast<int>(r), static_cast<int>(r)));
    }
    cudnnFilterDescriptor_t get() const { return desc_; }

private:
    cudnnFilterDescriptor_t desc_ = nullptr;
};

class convolution_descriptor {
public:
    convolution_descriptor() { HG_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&desc_)); }
    ~convolution_descriptor() { (void)cudnnDestroyConvolutionDescriptor(desc_); }
    convolution_descriptor(const convolution_descriptor&) = delete;
    convolution_descriptor& operator=(const convolution_descriptor&) = delete;
    void set(std::int64_t pad, std::int64_t stride, cudnnMathType_t math) {
        HG_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(desc_, static_cast<int>(pad), static_cast<int>(pad),
                                                       static_cast<int>(stride), static_cast<int>(stride), 1, 1,
                                                       CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
        HG_CUDNN_CHECK(cudnnSetConvolutionMathType(desc_, math));
    }
    cudnnConvolutionDescriptor_t get() const { return desc_; }

private:
    cudnnConvolutionDescriptor_t desc_ = nullptr;
};

/// Every descriptor of one problem: x [N, H, W, C], w [K, R, R, C], y [N, OH, OW, K].
struct problem_descriptors {
    tensor_descriptor x, y;
    filter_descriptor w;
    convolution_descriptor conv;

    problem_descriptors(const math::conv2d_dims& d, cudnnMathType_t math) {
        x.set_nhwc(d.n, d.h, d.w, d.c);
        y.set_nhwc(d.n, d.oh, d.ow, d.k);
        w.set_krsc(d.k, d.r, d.c);
        conv.set(d.pad, d.stride, math);
    }
};

/// True when cuDNN's int descriptors can hold the problem.
bool fits_cudnn(const math::conv2d_dims& d) {
    const std::int64_t limit = INT_MAX;
    return d.n * d.h * d.w * d.c <= limit && d.n * d.oh * d.ow * d.k <= limit && d.k * d.r * d.r * d.c <= limit;
}

cudnnMathType_t requested_math(bool tf32) { return tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH; }

/// Whether a result timed with math type `found` may serve a problem with TF32 on or off.
bool math_allowed(cudnnMathType_t found, bool tf32) {
    if (!tf32) return found == CUDNN_FMA_MATH;
    return found != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

int pack_algorithm(int algorithm, cudnnMathType_t math) { return algorithm | (static_cast<int>(math) << 8); }
int unpack_algorithm(int packed) { return packed & 0xff; }
cudnnMathType_t unpack_math(int packed) { return static_cast<cudnnMathType_t>(packed >> 8); }

conv_choice direct_choice() {
    conv_choice c;
    c.use_direct = true;
    return c;
}

/// The fastest usable result of a Find call, or the direct choice when none is usable.
template <class Perf>
conv_choice pick_fastest(const std::vector<Perf>& results, int returned, bool tf32, std::size_t workspace_given) {
    conv_choice best = direct_choice();
    float best_time = std::numeric_limits<float>::infinity();
    for (int i = 0; i < returned && i < static_cast<int>(results.size()); ++i) {
        const Perf& r = results[static_cast<std::size_t>(i)];
        if (r.status != CUDNN_STATUS_SUCCESS || r.memory > workspace_given || !math_allowed(r.mathType, tf32) ||
            !(r.time >= 0.f) || !(r.time < best_time))
            continue;
        best_time = r.time;
        best.algorithm = pack_algorithm(static_cast<int>(r.algo), r.mathType);
        best.workspace = r.memory;
        best.use_direct = false;
    }
    return best;
}

/// Throws for a failed Find call unless cuDNN merely does not support the problem (returns false).
bool find_succeeded(cudnnStatus_t status, const char* call) {
    if (status == CUDNN_STATUS_SUCCESS) return true;
    if (CUDNN_STATUS_CATEGORY(static_cast<int>(status)) == static_cast<int>(CUDNN_STATUS_NOT_SUPPORTED)) return false;
    throw_cudnn_error(status, call, __FILE__, __LINE__);
}

/// A scratch device buffer of at least `bytes` (at least one element), freed in stream order.
tensor scratch_buffer(const cuda& be, std::size_t bytes) {
    const auto count = static_cast<std::int64_t>((bytes + sizeof(float) - 1) / sizeof(float));
    return be.empty(shape{std::max<std::int64_t>(count, 1)});
}

cudnnHandle_t handle_of(const cuda& be) { return static_cast<cudnnHandle_t>(be.cudnn_handle()); }

/// The cached choice for `d` in `pass`, searching with `search` on a miss; the direct kernel when the
/// backend's engine is conv_engine::direct.
template <class Search>
conv_choice choose(const cuda& be, const math::conv2d_dims& d, conv_pass pass, Search&& search) {
    if (be.conv_engine() == hg::conv_engine::direct) return direct_choice();
    conv_key key;
    key.pass = pass;
    key.n = d.n, key.h = d.h, key.w = d.w, key.c = d.c, key.k = d.k, key.r = d.r;
    key.stride = d.stride, key.pad = d.pad;
    key.dtype = 0;
    key.tf32 = be.tf32();
    cuda::impl& state = be.internals();
    std::lock_guard<std::mutex> lock(state.conv_mutex);
    const auto found = state.conv_cache.find(key);
    if (found != state.conv_cache.end()) return found->second;
    const conv_choice choice = fits_cudnn(d) ? search(key.tf32) : direct_choice();
    state.conv_cache.emplace(key, choice);
    return choice;
}

conv_choice search_forward(const cuda& be, const math::conv2d_dims& d, const tensor& x, const tensor& w, bool tf32) {
    const cudnnHandle_t handle = handle_of(be);
    const problem_descriptors desc(d, requested_math(tf32));
    std::size_t workspace = 0;
    for (int a = 0; a < CUDNN_CONVOLUTION_FWD_ALGO_COUNT; ++a) {
        std::size_t bytes = 0;
        if (cudnnGetConvolutionForwardWorkspaceSize(handle, desc.x.get(), desc.w.get(), desc.conv.get(), desc.y.get(),
                                                    static_cast<cudnnConvolutionFwdAlgo_t>(a),
                                                    &bytes) == CUDNN_STATUS_SUCCESS &&
            bytes <= workspace_cap)
            workspace = std::max(workspace, bytes);
    }
    int count = 0;
    HG_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(handle, &count));
    std::vector<cudnnConvolutionFwdAlgoPerf_t> results(static_cast<std::size_t>(std::max(count, 1)));
    const tensor out = be.empty(shape{d.n, d.oh, d.ow, d.k});
    const tensor scratch = scratch_buffer(be, workspace);
    int returned = 0;
    if (!find_succeeded(cudnnFindConvolutionForwardAlgorithmEx(handle, desc.x.get(), x.data(), desc.w.get(), w.data(),
                                                               desc.conv.get(), desc.y.get(), out.data(),
                                                               static_cast<int>(results.size()), &returned,
                                                               results.data(), scratch.data(), workspace),
                        "cudnnFindConvolutionForwardAlgorithmEx"))
        return direct_choice();
    conv_choice choice = pick_fastest(results, returned, tf32, workspace);
    if (!choice.use_direct) {
        const problem_descriptors chosen(d, unpack_math(choice.algorithm));
        std::size_t bytes = 0;
        if (cudnnGetConvolutionForwardWorkspaceSize(
                handle, chosen.x.get(), chosen.w.get(), chosen.conv.get(), chosen.y.get(),
                static_cast<cudnnConvolutionFwdAlgo_t>(unpack_algorithm(choice.algorithm)), &bytes) ==
            CUDNN_STATUS_SUCCESS)
            choice.workspace = std::max(choice.workspace, bytes);
    }
    return choice;
}

conv_choice search_backward_data(const cuda& be, const math::conv2d_dims& d, const tensor& dy, const tensor& w,
                                 bool tf32) {
    const cudnnHandle_t handle = handle_of(be);
    const problem_descriptors desc(d, requested_math(tf32));
    std::size_t workspace = 0;
    for (int a = 0; a < CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT; ++a) {
        std::size_t bytes = 0;
        if (cudnnGetConvolutionBackwardDataWorkspaceSize(handle, desc.w.get(), desc.y.get(), desc.conv.get(),
                                                         desc.x.get(), static_cast<cudnnConvolutionBwdDataAlgo_t>(a),
                                                         &bytes) == CUDNN_STATUS_SUCCESS &&
            bytes <= workspace_cap)
            workspace = std::max(workspace, bytes);
    }
    int count = 0;
    HG_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle, &count));
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> results(static_cast<std::size_t>(std::max(count, 1)));
    const tensor out = be.empty(shape{d.n, d.h, d.w, d.c});
    const tensor scratch = scratch_buffer(be, workspace);
    int returned = 0;
    if (!find_succeeded(cudnnFindConvolutionBackwardDataAlgorithmEx(
                            handle, desc.w.get(), w.data(), desc.y.get(), dy.data(), desc.conv.get(), desc.x.get(),
                            out.data(), static_cast<int>(results.size()), &returned, results.data(), scratch.data(),
                            workspace),
                        "cudnnFindConvolutionBackwardDataAlgorithmEx"))
        return direct_choice();
    conv_choice choice = pick_fastest(results, returned, tf32, workspace);
    if (!choice.use_direct) {
        const problem_descriptors chosen(d, unpack_math(choice.algorithm));
        std::size_t bytes = 0;
        if (cudnnGetConvolutionBackwardDataWorkspaceSize(
                handle, chosen.w.get(), chosen.y.get(), chosen.conv.get(), chosen.x.get(),
                static_cast<cudnnConvolutionBwdDataAlgo_t>(unpack_algorithm(choice.algorithm)), &bytes) ==
            CUDNN_STATUS_SUCCESS)
            choice.workspace = std::max(choice.workspace, bytes);
    }
    return choice;
}

conv_choice search_backward_filter(const cuda& be, const math::conv2d_dims& d, const tensor& x, const tensor& dy,
                                   bool tf32) {
    const cudnnHandle_t handle = handle_of(be);
    const problem_descriptors desc(d, requested_math(tf32));
    std::size_t workspace = 0;
    for (int a = 0; a < CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT; ++a) {
        std::size_t bytes = 0;
        if (cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, desc.x.get(), desc.y.get(), desc.conv.get(),
                                                           desc.w.get(),
                                                           static_cast<cudnnConvolutionBwdFilterAlgo_t>(a),
                                                           &bytes) == CUDNN_STATUS_SUCCESS &&
            bytes <= workspace_cap)
            workspace = std::max(workspace, bytes);
    }
    int count = 0;
    HG_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle, &count));
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> results(static_cast<std::size_t>(std::max(count, 1)));
    // The search writes this scratch filter gradient, never the caller's accumulating dw.
    const tensor out = be.empty(shape{d.k, d.r, d.r, d.c});
    const tensor scratch = scratch_buffer(be, workspace);
    int returned = 0;
    if (!find_succeeded(cudnnFindConvolutionBackwardFilterAlgorithmEx(
                            handle, desc.x.get(), x.data(), desc.y.get(), dy.data(), desc.conv.get(), desc.w.get(),
                            out.data(), static_cast<int>(results.size()), &returned, results.data(), scratch.data(),
                            workspace),
                        "cudnnFindConvolutionBackwardFilterAlgorithmEx"))
        return direct_choice();
    conv_choice choice = pick_fastest(results, returned, tf32, workspace);
    if (!choice.use_direct) {
        const problem_descriptors chosen(d, unpack_math(choice.algorithm));
        std::size_t bytes = 0;
        if (cudnnGetConvolutionBackwardFilterWorkspaceSize(
                handle, chosen.x.get(), chosen.y.get(), chosen.conv.get(), chosen.w.get(),
                static_cast<cudnnConvolutionBwdFilterAlgo_t>(unpack_algorithm(choice.algorithm)), &bytes) ==
            CUDNN_STATUS_SUCCESS)
            choice.workspace = std::max(choice.workspace, bytes);
    }
    return choice;
}

void* workspace_for(const cuda& be, const conv_choice& choice) {
    return choice.workspace > 0 ? be.workspace(choice.workspace) : nullptr;
}

void require_direct_support(const math::conv2d_dims& d, const char* op) {
    if (!conv2d_direct_supports(d))
        throw shape_error(std::string(op) + ": problem too large for the direct convolution kernels");
}

}  // namespace

}  // namespace hg::cuda_impl

namespace hg::ops {

void conv2d_forward(const cuda& be, const math::conv2d_dims& d, const tensor& x, const tensor& w, const tensor& b,
                    const tensor& y) {
    constexpr const char* op = "conv2d_forward";
    detail::check_conv2d<cuda>(d, x, w, &b, y, op, "x", "y");
    cuda_impl::check_conv2d_geometry(d, op);
    if (d.n == 0) return;
    const cuda_impl::conv_choice choice = cuda_impl::choose(be, d, cuda_impl::pass_forward, [&](bool tf32) {
        return cuda_impl::search_forward(be, d, x, w, tf32);
    });
    if (choice.use_direct) {
        cuda_impl::require_direct_support(d, op);
        cuda_impl::conv2d_direct_forward(be, d, x.data(), w.data(), b.defined() ? b.data() : nullptr, y.data());
        return;
    }
    const cuda_impl::problem_descriptors desc(d, cuda_impl::unpack_math(choice.algorithm));
    void* workspace = cuda_impl::workspace_for(be, choice);
    const float one = 1.f, zero = 0.f;
    HG_CUDNN_CHECK(cudnnConvolutionForward(
        cuda_impl::handle_of(be), &one, desc.x.get(), x.data(), desc.w.get(), w.data(), desc.conv.get(),
        static_cast<cudnnConvolutionFwdAlgo_t>(cuda_impl::unpack_algorithm(choice.algorithm)), workspace,
        choice.workspace, &zero, desc.y.get(), y.data()));
    if (b.defined()) bias_add(be, y, b);
}

void conv2d_backward_data(const cuda& be, const math::conv2d_dims& d, const tensor& dy, const tensor& w,
                          const tensor& dx) {
    constexpr const char* op = "conv2d_backward_data";
    detail::check_conv2d<cuda>(d, dx, w, nullptr, dy, op, "dx", "dy");
    cuda_impl::check_conv2d_geometry(d, op);
    if (d.n == 0) return;
    const cuda_impl::conv_choice choice = cuda_impl::choose(be, d, cuda_impl::pass_backward_data, [&](bool tf32) {
        return cuda_impl::search_backward_data(be, d, dy, w, tf32);
    });
    if (choice.use_direct) {
        cuda_impl::require_direct_support(d, op);
        cuda_impl::conv2d_direct_backward_data(be, d, dy.data(), w.data(), dx.data());
        return;
    }
    const cuda_impl::problem_descriptors desc(d, cuda_impl::unpack_math(choice.algorithm));
    void* workspace = cuda_impl::workspace_for(be, choice);
    const float one = 1.f, zero = 0.f;
    HG_CUDNN_CHECK(cudnnConvolutionBackwardData(
        cuda_impl::handle_of(be), &one, desc.w.get(), w.data(), desc.y.get(), dy.data(), desc.conv.get(),
        static_cast<cudnnConvolutionBwdDataAlgo_t>(cuda_impl::unpack_algorithm(choice.algorithm)), workspace,
        choice.workspace, &zero, desc.x.get(), dx.data()));
}

void conv2d_backward_filter(const cuda& be, const math::conv2d_dims& d, const tensor& x, const tensor& dy,
                            const tensor& dw, const tensor& db) {
    constexpr const char* op = "conv2d_backward_filter";
    detail::check_conv2d<cuda>(d, x, dw, &db, dy, op, "x", "dy");
    cuda_impl::check_conv2d_geometry(d, op);
    if (d.n == 0) return;
    const cuda_impl::conv_choice choice = cuda_impl::choose(be, d, cuda_impl::pass_backward_filter, [&](bool tf32) {
        return cuda_impl::search_backward_filter(be, d, x, dy, tf32);
    });
    if (choice.use_direct) {
        cuda_impl::require_direct_support(d, op);
        cuda_impl::conv2d_direct_backward_filter(be, d, x.data(), dy.data(), dw.data());
    } else {
        const cuda_impl::problem_descriptors desc(d, cuda_impl::unpack_math(choice.algorithm));
        void* workspace = cuda_impl::workspace_for(be, choice);
        const float one = 1.f;  // alpha = beta = 1: dw = dL/dw + dw
        HG_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
            cuda_impl::handle_of(be), &one, desc.x.get(), x.data(), desc.y.get(), dy.data(), desc.conv.get(),
            static_cast<cudnnConvolutionBwdFilterAlgo_t>(cuda_impl::unpack_algorithm(choice.algorithm)), workspace,
            choice.workspace, &one, desc.w.get(), dw.data()));
    }
    if (db.defined()) bias_grad(be, dy, db);
}

}  // namespace hg::ops
