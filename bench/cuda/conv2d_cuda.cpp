// CUDA conv2d benchmarks at every convolution of the 64 px face-swap model, batch 16, for each pass
// (forward, backward data, backward filter), in three variants:
//   ours    hg::ops::conv2d_* on hg::cuda, cuDNN engine, TF32 on (as the model runs in benchmarks),
//           bias included (forward: bias_add; backward filter: bias_grad)
//   cudnn   the best cuDNN algorithm called directly: this file's own descriptors, every algorithm
//           cudnnFind*AlgorithmEx reports timed here (L2 flushed, median of 15), the fastest timed
//           by the benchmark loop; the bias by cuDNN's own cudnnAddTensor (forward) and
//           cudnnConvolutionBackwardBias (backward filter), so both variants do the same problem
//   direct  the hand-written implicit-GEMM kernel alone (conv_engine::direct; informational)
// Counters: TFLOP, shown per second (2 * N*OH*OW * K*R*R*C per pass); for ours also vs_best (our
// median time over the cudnn variant's, same tensors, same flushing, measured side by side; target
// <= 1.1) and vs_best_conv (over the best convolution alone, without cuDNN's bias op); for cudnn the
// chosen algorithm, its math type, how many algorithms were timed and the workspace.
// Before timing, each variant's output is checked against the CPU op in double precision on the first
// two images of the batch (backward filter: with the gradient of the other images zeroed); a mismatch
// skips the benchmark with an error. Tolerance: relative 5e-3 with TF32, 1e-4 in float32 (a sanity
// check on larger problems than the tests, which hold 1e-5).
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <iterator>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cuda_bench.hpp"
#include "hourglass/cuda/backend.hpp"
#include "hourglass/hourglass.hpp"

namespace {

struct layer {
    const char* name;
    std::int64_t h, w, c, k, r, stride;
};

constexpr std::int64_t batch = 16;
constexpr std::int64_t check_images = 2;
constexpr double tf32_tolerance = 5e-3;
constexpr double fp32_tolerance = 1e-4;
constexpr std::size_t workspace_cap = std::size_t{1} << 30;

const layer layers[] = {
    {"enc1_64x64x3_to128_k5s2", 64, 64, 3, 128, 5, 2},      {"enc2_32x32x128_to256_k5s2", 32, 32, 128, 256, 5, 2},
    {"enc3_16x16x256_to512_k5s2", 16, 16, 256, 512, 5, 2},  {"enc4_8x8x512_to1024_k5s2", 8, 8, 512, 1024, 5, 2},
    {"up1_4x4x1024_to2048_k3s1", 4, 4, 1024, 2048, 3, 1},   {"up2_8x8x512_to1024_k3s1", 8, 8, 512, 1024, 3, 1},
    {"up3_16x16x256_to512_k3s1", 16, 16, 256, 512, 3, 1},   {"up4_32x32x128_to256_k3s1", 32, 32, 128, 256, 3, 1},
    {"out_64x64x64_to3_k5s1", 64, 64, 64, 3, 5, 1},
};

enum class pass { forward, backward_data, backward_filter };
enum class variant { ours, cudnn, direct };

const char* pass_name(pass p) {
    return p == pass::forward ? "forward" : p == pass::backward_data ? "backward_data" : "backward_filter";
}
const char* variant_name(variant v) { return v == variant::ours ? "ours" : v == variant::cudnn ? "cudnn" : "direct"; }

hg::cuda& backend() {
    static hg::cuda be;
    return be;
}

cudaStream_t stream() { return static_cast<cudaStream_t>(backend().stream()); }

void cudnn_check(cudnnStatus_t status, const char* what) {
    if (status != CUDNN_STATUS_SUCCESS) throw std::runtime_error(std::string(what) + ": " + cudnnGetErrorString(status));
}

hg::math::conv2d_dims dims_of(const layer& l, std::int64_t n) {
    return hg::math::conv2d_dims::make(n, l.h, l.w, l.c, l.k, l.r, l.stride);
}

/// The device tensors of one problem at batch 16, with fixed seeds (identical for every variant).
struct problem {
    hg::math::conv2d_dims d;
    hg::tensor x, w, b, y, dy, dx, dw, db;

    explicit problem(const layer& l) : d(dims_of(l, batch)) {
        const hg::cuda& be = backend();
        x = be.empty(hg::shape{d.n, d.h, d.w, d.c});
        w = be.empty(hg::shape{d.k, d.r, d.r, d.c});
        b = be.empty(hg::shape{d.k});
        y = be.empty(hg::shape{d.n, d.oh, d.ow, d.k});
        dy = be.empty(y.shape());
        dx = be.empty(x.shape());
        dw = be.empty(w.shape());
        db = be.empty(b.shape());
        std::uint64_t seed = 1;
        for (const hg::tensor* t : {&x, &w, &b, &dy, &dw, &db}) hg::ops::fill_uniform(be, *t, seed++, 0, -1.f, 1.f);
    }
};

// ---- the best cuDNN algorithm, called directly ----------------------------------------------------

struct tensor_desc {
    cudnnTensorDescriptor_t d = nullptr;
    tensor_desc(std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c) {
        cudnn_check(cudnnCreateTensorDescriptor(&d), "cudnnCreateTensorDescriptor");
        const cudnnStatus_t s = cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, static_cast<int>(n),
                                                           static_cast<int>(c), static_cast<int>(h), static_cast<int>(w));
        if (s != CUDNN_STATUS_SUCCESS) (void)cudnnDestroyTensorDescriptor(d);
        cudnn_check(s, "cudnnSetTensor4dDescriptor");
    }
    ~tensor_desc() { (void)cudnnDestroyTensorDescriptor(d); }
    tensor_desc(const tensor_desc&) = delete;
    tensor_desc& operator=(const tensor_desc&) = delete;
};

struct filter_desc {
    cudnnFilterDescriptor_t d = nullptr;
    filter_desc(std::int64_t k, std::int64_t r, std::int64_t c) {
        cudnn_check(cudnnCreateFilterDescriptor(&d), "cudnnCreateFilterDescriptor");
        const cudnnStatus_t s = cudnnSetFilter4dDescriptor(d, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, static_cast<int>(k),
                                                           static_cast<int>(c), static_cast<int>(r), static_cast<int>(r));
        if (s != CUDNN_STATUS_SUCCESS) (void)cudnnDestroyFilterDescriptor(d);
        cudnn_check(s, "cudnnSetFilter4dDescriptor");
    }
    ~filter_desc() { (void)cudnnDestroyFilterDescriptor(d); }
    filter_desc(const filter_desc&) = delete;
    filter_desc& operator=(const filter_desc&) = delete;
};

struct conv_desc {
    cudnnConvolutionDescriptor_t d = nullptr;
    conv_desc(std::int64_t pad, std::int64_t stride) {
        cudnn_check(cudnnCreateConvolutionDescriptor(&d), "cudnnCreateConvolutionDescriptor");
        const cudnnStatus_t s = cudnnSetConvolution2dDescriptor(d, static_cast<int>(pad), static_cast<int>(pad),
                                                                static_cast<int>(stride), static_cast<int>(stride), 1,
                                                                1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
        if (s != CUDNN_STATUS_SUCCESS) (void)cudnnDestroyConvolutionDescriptor(d);
        cudnn_check(s, "cudnnSetConvolution2dDescriptor");
    }
    ~conv_desc() { (void)cudnnDestroyConvolutionDescriptor(d); }
    conv_desc(const conv_desc&) = delete;
    conv_desc& operator=(const conv_desc&) = delete;
};

hg::bench::l2_flusher& flusher() {
    static hg::bench::l2_flusher f;
    return f;
}

/// Median time in ms of `body` on the backend's stream, L2 flushed before each of `reps` runs.
template <class Body>
double median_ms(Body&& body, int reps = 15) {
    cudaEvent_t start, stop;
    hg::bench::check(cudaEventCreate(&start), "cudaEventCreate");
    hg::bench::check(cudaEventCreate(&stop), "cudaEventCreate");
    body();
    std::vector<float> times;
    for (int i = 0; i < reps; ++i) {
        flusher().flush(stream());
        hg::bench::check(cudaEventRecord(start, stream()), "cudaEventRecord");
        body();
        hg::bench::check(cudaEventRecord(stop, stream()), "cudaEventRecord");
        hg::bench::check(cudaEventSynchronize(stop), "cudaEventSynchronize");
        float ms = 0.f;
        hg::bench::check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
        times.push_back(ms);
    }
    (void)cudaEventDestroy(start);
    (void)cudaEventDestroy(stop);
    std::sort(times.begin(), times.end());
    return static_cast<double>(times[times.size() / 2]);
}

/// One problem's descriptors, its fastest cuDNN algorithm (TF32 allowed) and a workspace for it.
class cudnn_direct {
public:
    cudnn_direct(const hg::math::conv2d_dims& d, pass p, problem& t)
        : p_(p), x_(d.n, d.h, d.w, d.c), y_(d.n, d.oh, d.ow, d.k), bias_(1, 1, 1, d.k), w_(d.k, d.r, d.c),
          conv_(d.pad, d.stride) {
        const cudnnHandle_t h = handle();
        cudnn_check(cudnnSetConvolutionMathType(conv_.d, CUDNN_DEFAULT_MATH), "cudnnSetConvolutionMathType");
        // A workspace for the largest algorithm within the cap, and a scratch output for the search.
        std::size_t most = 0;
        for (int a = 0; a < 8; ++a) {
            std::size_t bytes = 0;
            cudnnStatus_t s = CUDNN_STATUS_NOT_SUPPORTED;
            if (p == pass::forward && a < CUDNN_CONVOLUTION_FWD_ALGO_COUNT)
                s = cudnnGetConvolutionForwardWorkspaceSize(h, x_.d, w_.d, conv_.d, y_.d,
                                                            static_cast<cudnnConvolutionFwdAlgo_t>(a), &bytes);
            if (p == pass::backward_data && a < CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT)
                s = cudnnGetConvolutionBackwardDataWorkspaceSize(h, w_.d, y_.d, conv_.d, x_.d,
                                                                 static_cast<cudnnConvolutionBwdDataAlgo_t>(a), &bytes);
            if (p == pass::backward_filter && a < CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT)
                s = cudnnGetConvolutionBackwardFilterWorkspaceSize(
                    h, x_.d, y_.d, conv_.d, w_.d, static_cast<cudnnConvolutionBwdFilterAlgo_t>(a), &bytes);
            if (s == CUDNN_STATUS_SUCCESS && bytes <= workspace_cap) most = std::max(most, bytes);
        }
        workspace_ = backend().empty(hg::shape{static_cast<std::int64_t>(most / sizeof(float)) + 1});
        workspace_bytes_ = most;
        const hg::tensor scratch = backend().empty(p == pass::backward_data ? t.dx.shape()
                                                   : p == pass::forward     ? t.y.shape()
                                                                            : t.dw.shape());
        struct found {
            int algo;
            cudnnMathType_t math;
            std::size_t memory;
        };
        std::vector<found> candidates;
        int returned = 0;
        if (p == pass::forward) {
            std::vector<cudnnConvolutionFwdAlgoPerf_t> r(CUDNN_CONVOLUTION_FWD_ALGO_COUNT * 4);
            cudnn_check(cudnnFindConvolutionForwardAlgorithmEx(h, x_.d, t.x.data(), w_.d, t.w.data(), conv_.d, y_.d,
                                                               scratch.data(), static_cast<int>(r.size()), &returned,
                                                               r.data(), workspace_.data(), most),
                        "cudnnFindConvolutionForwardAlgorithmEx");
            for (int i = 0; i < returned; ++i)
                if (r[i].status == CUDNN_STATUS_SUCCESS) candidates.push_back({r[i].algo, r[i].mathType, r[i].memory});
        } else if (p == pass::backward_data) {
            std::vector<cudnnConvolutionBwdDataAlgoPerf_t> r(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT * 4);
            cudnn_check(cudnnFindConvolutionBackwardDataAlgorithmEx(h, w_.d, t.w.data(), y_.d, t.dy.data(), conv_.d,
                                                                    x_.d, scratch.data(), static_cast<int>(r.size()),
                                                                    &returned, r.data(), workspace_.data(), most),
                        "cudnnFindConvolutionBackwardDataAlgorithmEx");
            for (int i = 0; i < returned; ++i)
                if (r[i].status == CUDNN_STATUS_SUCCESS) candidates.push_back({r[i].algo, r[i].mathType, r[i].memory});
        } else {
            std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> r(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT * 4);
            cudnn_check(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, x_.d, t.x.data(), y_.d, t.dy.data(), conv_.d,
                                                                      w_.d, scratch.data(), static_cast<int>(r.size()),
                                                                      &returned, r.data(), workspace_.data(), most),
                        "cudnnFindConvolutionBackwardFilterAlgorithmEx");
            for (int i = 0; i < returned; ++i)
                if (r[i].status == CUDNN_STATUS_SUCCESS) candidates.push_back({r[i].algo, r[i].mathType, r[i].memory});
        }
        // Time every algorithm cuDNN found (tensor-op down-conversion to half excluded: not float32 data).
        double best_ms = std::numeric_limits<double>::infinity();
        for (const found& f : candidates) {
            if (f.math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION || f.memory > most) continue;
            algo_ = f.algo, math_ = f.math;
            cudnn_check(cudnnSetConvolutionMathType(conv_.d, math_), "cudnnSetConvolutionMathType");
            const double ms = median_ms([&] { convolve(t); });
            ++tried_;
            if (ms < best_ms) best_ms = ms, best_algo_ = f.algo, best_math_ = f.math;
        }
        if (tried_ == 0) throw std::runtime_error("cuDNN found no algorithm");
        algo_ = best_algo_, math_ = best_math_;
        cudnn_check(cudnnSetConvolutionMathType(conv_.d, math_), "cudnnSetConvolutionMathType");
    }

    /// The convolution with the fastest algorithm, then cuDNN's bias op for the same problem as ours.
    void run(problem& t) const {
        convolve(t);
        const float one = 1.f;
        if (p_ == pass::forward)
            cudnn_check(cudnnAddTensor(handle(), &one, bias_.d, t.b.data(), &one, y_.d, t.y.data()), "cudnnAddTensor");
        if (p_ == pass::backward_filter)
            cudnn_check(cudnnConvolutionBackwardBias(handle(), &one, y_.d, t.dy.data(), &one, bias_.d, t.db.data()),
                        "cudnnConvolutionBackwardBias");
    }

    int algorithm() const { return best_algo_; }
    int math() const { return static_cast<int>(best_math_); }
    int tried() const { return tried_; }
    double workspace_mib() const { return static_cast<double>(workspace_bytes_) / (1 << 20); }

    /// The convolution alone with the fastest algorithm (no bias op).
    void convolve(problem& t) const {
        const float one = 1.f, zero = 0.f;
        void* ws = workspace_.data();
        if (p_ == pass::forward)
            cudnn_check(cudnnConvolutionForward(handle(), &one, x_.d, t.x.data(), w_.d, t.w.data(), conv_.d,
                                                static_cast<cudnnConvolutionFwdAlgo_t>(algo_), ws, workspace_bytes_,
                                                &zero, y_.d, t.y.data()),
                        "cudnnConvolutionForward");
        else if (p_ == pass::backward_data)
            cudnn_check(cudnnConvolutionBackwardData(handle(), &one, w_.d, t.w.data(), y_.d, t.dy.data(), conv_.d,
                                                     static_cast<cudnnConvolutionBwdDataAlgo_t>(algo_), ws,
                                                     workspace_bytes_, &zero, x_.d, t.dx.data()),
                        "cudnnConvolutionBackwardData");
        else
            cudnn_check(cudnnConvolutionBackwardFilter(handle(), &one, x_.d, t.x.data(), y_.d, t.dy.data(), conv_.d,
                                                       static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo_), ws,
                                                       workspace_bytes_, &one, w_.d, t.dw.data()),
                        "cudnnConvolutionBackwardFilter");
    }

private:
    static cudnnHandle_t handle() { return static_cast<cudnnHandle_t>(backend().cudnn_handle()); }

    pass p_;
    tensor_desc x_, y_, bias_;
    filter_desc w_;
    conv_desc conv_;
    hg::tensor workspace_;
    std::size_t workspace_bytes_ = 0;
    int algo_ = 0, best_algo_ = 0, tried_ = 0;
    cudnnMathType_t math_ = CUDNN_DEFAULT_MATH, best_math_ = CUDNN_DEFAULT_MATH;
};

/// The cuDNN runner of (layer, pass), built (searched and timed) on first use.
cudnn_direct& best_cudnn(std::size_t layer_index, pass p, problem& t) {
    static std::map<std::pair<std::size_t, int>, std::unique_ptr<cudnn_direct>> runners;
    auto& slot = runners[{layer_index, static_cast<int>(p)}];
    if (!slot) slot = std::make_unique<cudnn_direct>(t.d, p, t);
    return *slot;
}

// ---- validation against the CPU -------------------------------------------------------------------

/// The output of one pass on the first `check_images` images (all of dw and db for backward filter),
/// as the CPU computes it in double from the same inputs; cached per (layer, pass).
struct reference {
    std::vector<double> out, bias;
};

hg::basic_tensor<double> host_double(const hg::tensor& device) {
    const hg::tensor h = backend().to_host(device);
    auto r = hg::basic_tensor<double>::empty(h.shape());
    for (std::int64_t i = 0; i < h.numel(); ++i) r[i] = static_cast<double>(h[i]);
    return r;
}

double relative_error(const hg::tensor& got, const std::vector<double>& want) {
    double num = 0.0, den = 0.0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        const double g = static_cast<double>(got.data()[i]);
        if (!(g == g)) return std::numeric_limits<double>::infinity();
        num += (g - want[i]) * (g - want[i]);
        den += want[i] * want[i];
    }
    return std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
}

/// Zeroes dy beyond the first `check_images` images, so dw and db depend on those images only.
void zero_other_images(problem& t) {
    const std::int64_t per_image = t.dy.numel() / batch;
    hg::bench::check(cudaMemsetAsync(t.dy.data() + check_images * per_image, 0,
                                     static_cast<std::size_t>((batch - check_images) * per_image) * sizeof(float),
                                     stream()),
                     "cudaMemsetAsync");
}

const reference& cpu_reference(std::size_t layer_index, pass p, problem& t) {
    static std::map<std::pair<std::size_t, int>, reference> cache;
    const auto key = std::make_pair(layer_index, static_cast<int>(p));
    const auto found = cache.find(key);
    if (found != cache.end()) return found->second;
    hg::cpu64 cpu;
    const auto d = dims_of(layers[layer_index], check_images);
    const auto w = host_double(t.w);
    reference r;
    if (p == pass::forward) {
        auto y = hg::basic_tensor<double>::empty(hg::shape{d.n, d.oh, d.ow, d.k});
        hg::ops::conv2d_forward(cpu, d, host_double(t.x.batch_slice(0, check_images)), w, host_double(t.b), y);
        r.out = std::vector<double>(y.data(), y.data() + y.numel());
    } else if (p == pass::backward_data) {
        auto dx = hg::basic_tensor<double>::empty(hg::shape{d.n, d.h, d.w, d.c});
        hg::ops::conv2d_backward_data(cpu, d, host_double(t.dy.batch_slice(0, check_images)), w, dx);
        r.out = std::vector<double>(dx.data(), dx.data() + dx.numel());
    } else {
        auto dw = host_double(t.dw);
        auto db = host_double(t.db);
        hg::ops::conv2d_backward_filter(cpu, d, host_double(t.x.batch_slice(0, check_images)),
                                        host_double(t.dy.batch_slice(0, check_images)), dw, db);
        r.out = std::vector<double>(dw.data(), dw.data() + dw.numel());
        r.bias = std::vector<double>(db.data(), db.data() + db.numel());
    }
    return cache.emplace(key, std::move(r)).first->second;
}

/// The fixed-seed values of every input (and of dw, db: the values backward filter adds to).
void fill_inputs(problem& t) {
    std::uint64_t seed = 1;
    for (const hg::tensor* x : {&t.x, &t.w, &t.b, &t.dy, &t.dw, &t.db})
        hg::ops::fill_uniform(backend(), *x, seed++, 0, -1.f, 1.f);
}

/// Runs `body` once on the fixed inputs and compares with the CPU; returns an error message or "".
template <class Body>
std::string validate(std::size_t layer_index, pass p, problem& t, double tolerance, Body&& body) {
    fill_inputs(t);  // earlier runs (the algorithm search) may have changed y, dx, dw, db
    if (p == pass::backward_filter) zero_other_images(t);
    const reference& ref = cpu_reference(layer_index, p, t);
    body();
    backend().synchronize();
    double err = 0.0, bias_err = 0.0;
    if (p == pass::forward) {
        err = relative_error(backend().to_host(t.y.batch_slice(0, check_images)), ref.out);
    } else if (p == pass::backward_data) {
        err = relative_error(backend().to_host(t.dx.batch_slice(0, check_images)), ref.out);
    } else {
        err = relative_error(backend().to_host(t.dw), ref.out);
        bias_err = relative_error(backend().to_host(t.db), ref.bias);
    }
    fill_inputs(t);  // the full batch of random dy again for the timed runs
    if (err <= tolerance && bias_err <= tolerance) return "";
    char message[160];
    std::snprintf(message, sizeof message, "mismatch against the CPU: relative error %.3g (bias %.3g), tolerance %.1g",
                  err, bias_err, tolerance);
    return message;
}

/// Enqueues our op for pass p.
void ours(pass p, problem& t) {
    const hg::cuda& be = backend();
    if (p == pass::forward)
        hg::ops::conv2d_forward(be, t.d, t.x, t.w, t.b, t.y);
    else if (p == pass::backward_data)
        hg::ops::conv2d_backward_data(be, t.d, t.dy, t.w, t.dx);
    else
        hg::ops::conv2d_backward_filter(be, t.d, t.x, t.dy, t.dw, t.db);
}

void bm_conv(benchmark::State& state, std::size_t layer_index, pass p, variant v) {
    try {
        hg::cuda& be = backend();
        be.set_tf32(true);
        be.set_conv_engine(v == variant::direct ? hg::conv_engine::direct : hg::conv_engine::cudnn);
        problem t(layers[layer_index]);
        const double tolerance = v == variant::direct ? fp32_tolerance : tf32_tolerance;
        std::string error;
        if (v == variant::cudnn) {
            cudnn_direct& runner = best_cudnn(layer_index, p, t);
            error = validate(layer_index, p, t, tolerance, [&] { runner.run(t); });
            if (error.empty()) {
                hg::bench::time_on_stream(state, be, [&] { runner.run(t); });
                state.counters["algo"] = runner.algorithm();
                state.counters["math"] = runner.math();
                state.counters["algos_timed"] = runner.tried();
                state.counters["workspace_MiB"] = runner.workspace_mib();
            }
        } else {
            error = validate(layer_index, p, t, tolerance, [&] { ours(p, t); });
            if (error.empty()) {
                hg::bench::time_on_stream(state, be, [&] { ours(p, t); });
                if (v == variant::ours) {
                    cudnn_direct& runner = best_cudnn(layer_index, p, t);
                    const double ours_ms = median_ms([&] { ours(p, t); });
                    const double best_ms = median_ms([&] { runner.run(t); });
                    const double best_conv_ms = median_ms([&] { runner.convolve(t); });
                    state.counters["vs_best"] = ours_ms / best_ms;
                    state.counters["vs_best_conv"] = ours_ms / best_conv_ms;
                }
            }
        }
        if (!error.empty()) {
            state.SkipWithError(error.c_str());
            return;
        }
        state.counters["TFLOP"] =
            benchmark::Counter(t.d.flops() * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
        be.set_conv_engine(hg::conv_engine::cudnn);
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
    }
}

void register_all() {
    for (std::size_t i = 0; i < std::size(layers); ++i)
        for (const pass p : {pass::forward, pass::backward_data, pass::backward_filter})
            for (const variant v : {variant::cudnn, variant::ours, variant::direct}) {
                const std::string name =
                    std::string("conv2d/") + layers[i].name + "/" + pass_name(p) + "/" + variant_name(v);
                benchmark::RegisterBenchmark(name.c_str(), bm_conv, i, p, v)
                    ->UseManualTime()
                    ->Unit(benchmark::kMicrosecond);
            }
}

[[maybe_unused]] const bool registered = (register_all(), true);

}  // namespace

HG_CUDA_BENCHMARK_MAIN()
