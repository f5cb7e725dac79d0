// CUDA per-element ops: activation forward/backward (formulas from math/activations.hpp), add,
// axpy, scale, fill and copy. One generic grid-stride "map" kernel applies a small functor to up to
// three inputs; when every pointer is 16-byte aligned it moves float4 groups (plus a scalar tail),
// otherwise (e.g. views at odd offsets) it moves single floats.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/check.hpp"
#include "hourglass/math/activations.hpp"
#include "hourglass/ops/check.hpp"
#include "hourglass/ops/elementwise.hpp"

namespace hg::cuda_impl {

namespace {

constexpr int map_threads = 256;

/// Blocks for `work` items: one item per thread, capped at one full wave of the device (8 blocks of
/// 256 threads fill an SM's 2048 thread slots); the kernels grid-stride over the rest.
unsigned map_grid(const cuda& be, std::int64_t work) {
    int sms = 0;
    HG_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, be.device_index()));
    const std::int64_t cap = static_cast<std::int64_t>(std::max(sms, 1)) * 8;
    const std::int64_t needed = (work + map_threads - 1) / map_threads;
    return static_cast<unsigned>(std::clamp<std::int64_t>(needed, 1, cap));
}

bool aligned16(const float* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

}  // namespace

/// Calls op with the first `Inputs` of (a, b, c).
template <int Inputs, class Op>
__device__ __forceinline__ float apply(const Op& op, [[maybe_unused]] float a, [[maybe_unused]] float b,
                                       [[maybe_unused]] float c) {
    if constexpr (Inputs == 0)
        return op();
    else if constexpr (Inputs == 1)
        return op(a);
    else if constexpr (Inputs == 2)
        return op(a, b);
    else
        return op(a, b, c);
}

/// out[i] = op(a[i], b[i], c[i]) for i < count, one float at a time (any alignment). Inputs that
/// the op does not take are not read. `out` may equal an input (each element is read before it is
/// written, by the same thread).
template <int Inputs, class Op>
__global__ void map_scalar_kernel(Op op, std::int64_t count, const float* a, const float* b, const float* c,
                                  float* out) {
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
        float va = 0.f, vb = 0.f, vc = 0.f;
        if constexpr (Inputs >= 1) va = a[i];
        if constexpr (Inputs >= 2) vb = b[i];
        if constexpr (Inputs >= 3) vc = c[i];
        out[i] = apply<Inputs>(op, va, vb, vc);
    }
}

/// The same map with 16-byte loads and stores; every pointer must be 16-byte aligned. Groups of 4
/// cover [0, count / 4 * 4); the remaining count % 4 elements go to the first threads of the grid.
template <int Inputs, class Op>
__global__ void map_vec4_kernel(Op op, std::int64_t count, const float* a, const float* b, const float* c,
                                float* out) {
    const std::int64_t groups = count / 4;
    const std::int64_t first = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t g = first; g < groups; g += stride) {
        float4 va = make_float4(0.f, 0.f, 0.f, 0.f), vb = va, vc = va;
        if constexpr (Inputs >= 1) va = reinterpret_cast<const float4*>(a)[g];
        if constexpr (Inputs >= 2) vb = reinterpret_cast<const float4*>(b)[g];
        if constexpr (Inputs >= 3) vc = reinterpret_cast<const float4*>(c)[g];
        float4 r;
        r.x = apply<Inputs>(op, va.x, vb.x, vc.x);
        r.y = apply<Inputs>(op, va.y, vb.y, vc.y);
        r.z = apply<Inputs>(op, va.z, vb.z, vc.z);
        r.w = apply<Inputs>(op, va.w, vb.w, vc.w);
        reinterpret_cast<float4*>(out)[g] = r;
    }
    const std::int64_t i = groups * 4 + first;
    if (i < count) {
        float va = 0.f, vb = 0.f, vc = 0.f;
        if constexpr (Inputs >= 1) va = a[i];
        if constexpr (Inputs >= 2) vb = b[i];
        if constexpr (Inputs >= 3) vc = c[i];
        out[i] = apply<Inputs>(op, va, vb, vc);
    }
}

/// Launches the map on the backend's stream: the float4 kernel when all pointers are 16-byte
/// aligned, the scalar one otherwise. Pass nullptr for inputs the op does not take.
template <int Inputs, class Op>
void map(const cuda& be, const Op& op, std::int64_t count, const float* a, const float* b, const float* c,
         float* out) {
    if (count == 0) return;
    const auto stream = static_cast<cudaStream_t>(be.stream());
    const bool vector = aligned16(out) && (Inputs < 1 || aligned16(a)) && (Inputs < 2 || aligned16(b)) &&
                        (Inputs < 3 || aligned16(c));
    if (vector) {
        // At least as many threads as tail elements (up to 3), which one block always has.
        map_vec4_kernel<Inputs><<<map_grid(be, count / 4), map_threads, 0, stream>>>(op, count, a, b, c, out);
        HG_CUDA_CHECK_LAUNCH("map_vec4_kernel");
    } else {
        map_scalar_kernel<Inputs><<<map_grid(be, count), map_threads, 0, stream>>>(op, count, a, b, c, out);
        HG_CUDA_CHECK_LAUNCH("map_scalar_kernel");
    }
}

template <class Fn>
struct forward_op {
    Fn fn;
    __device__ float operator()(float x) const { return fn.forward(x); }
};

/// dx = dy * f'(x), in the CPU's order of operations.
template <class Fn>
struct backward_op {
    Fn fn;
    __device__ float operator()(float x, float y, float dy) const { return dy * fn.grad(x, y); }
};

struct add_op {
    __device__ float operator()(float a, float b) const { return a + b; }
};

/// y + alpha * x with the product rounded before the sum (no FMA contraction), as the CPU computes
/// it, so both backends give identical bits.
struct axpy_op {
    float alpha;
    __device__ float operator()(float x, float y) const { return __fadd_rn(y, __fmul_rn(alpha, x)); }
};

struct scale_op {
    float alpha;
    __device__ float operator()(float x) const { return x * alpha; }
};

struct fill_op {
    float value;
    __device__ float operator()() const { return value; }
};

}  // namespace hg::cuda_impl

namespace hg::ops {

template <class Fn>
void activation_forward(const cuda& be, const Fn& fn, const tensor& x, const tensor& y) {
    detail::check_arg<cuda>(x, x.shape(), "activation_forward", "x");
    detail::check_same<cuda>(y, x, "activation_forward", "y");
    cuda_impl::map<1>(be, cuda_impl::forward_op<Fn>{fn}, x.numel(), x.data(), nullptr, nullptr, y.data());
}

template <class Fn>
void activation_backward(const cuda& be, const Fn& fn, const tensor& x, const tensor& y, const tensor& dy,
                         const tensor& dx) {
    detail::check_arg<cuda>(x, x.shape(), "activation_backward", "x");
    detail::check_same<cuda>(y, x, "activation_backward", "y");
    detail::check_same<cuda>(dy, x, "activation_backward", "dy");
    detail::check_same<cuda>(dx, x, "activation_backward", "dx");
    cuda_impl::map<3>(be, cuda_impl::backward_op<Fn>{fn}, x.numel(), x.data(), y.data(), dy.data(), dx.data());
}

template void activation_forward<math::leaky_relu_fn>(const cuda&, const math::leaky_relu_fn&, const tensor&,
                                                      const tensor&);
template void activation_forward<math::relu_fn>(const cuda&, const math::relu_fn&, const tensor&, const tensor&);
template void activation_forward<math::sigmoid_fn>(const cuda&, const math::sigmoid_fn&, const tensor&,
                                                   const tensor&);
template void activation_forward<math::tanh_fn>(const cuda&, const math::tanh_fn&, const tensor&, const tensor&);
template void activation_backward<math::leaky_relu_fn>(const cuda&, const math::leaky_relu_fn&, const tensor&,
                                                       const tensor&, const tensor&, const tensor&);
template void activation_backward<math::relu_fn>(const cuda&, const math::relu_fn&, const tensor&, const tensor&,
                                                 const tensor&, const tensor&);
template void activation_backward<math::sigmoid_fn>(const cuda&, const math::sigmoid_fn&, const tensor&,
                                                    const tensor&, const tensor&, const tensor&);
template void activation_backward<math::tanh_fn>(const cuda&, const math::tanh_fn&, const tensor&, const tensor&,
                                                 const tensor&, const tensor&);

void add(const cuda& be, const tensor& a, const tensor& b, const tensor& out) {
    detail::check_arg<cuda>(a, a.shape(), "add", "a");
    detail::check_same<cuda>(b, a, "add", "b");
    detail::check_same<cuda>(out, a, "add", "out");
    cuda_impl::map<2>(be, cuda_impl::add_op{}, a.numel(), a.data(), b.data(), nullptr, out.data());
}

void axpy(const cuda& be, float alpha, const tensor& x, const tensor& y) {
    detail::check_arg<cuda>(x, x.shape(), "axpy", "x");
    detail::check_same<cuda>(y, x, "axpy", "y");
    cuda_impl::map<2>(be, cuda_impl::axpy_op{alpha}, x.numel(), x.data(), y.data(), nullptr, y.data());
}

void scale(const cuda& be, float alpha, const tensor& x) {
    detail::check_arg<cuda>(x, x.shape(), "scale", "x");
    cuda_impl::map<1>(be, cuda_impl::scale_op{alpha}, x.numel(), x.data(), nullptr, nullptr, x.data());
}

void fill(const cuda& be, const tensor& x, float value) {
    detail::check_arg<cuda>(x, x.shape(), "fill", "x");
    cuda_impl::map<0>(be, cuda_impl::fill_op{value}, x.numel(), nullptr, nullptr, nullptr, x.data());
}

void copy(const cuda& be, const tensor& src, const tensor& dst) {
    detail::check_arg<cuda>(src, src.shape(), "copy", "src");
    detail::check_arg<cuda>(dst, dst.shape(), "copy", "dst");
    if (src.numel() != dst.numel())
        throw shape_error("copy: source " + src.shape().str() + " and destination " + dst.shape().str() +
                          " differ in element count");
    if (src.numel() == 0 || src.data() == dst.data()) return;
    // The copy engine's device-to-device copy is the bandwidth ceiling itself and handles any
    // alignment; it is stream-ordered like a kernel.
    HG_CUDA_CHECK(cudaMemcpyAsync(dst.data(), src.data(), src.bytes(), cudaMemcpyDeviceToDevice,
                                  static_cast<cudaStream_t>(be.stream())));
}

}  // namespace hg::ops
