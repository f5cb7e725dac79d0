// CUDA fused optimizer update (the contract is in ops/optim.hpp, the per-element formulas in
// math/optim_rules.hpp): one grid-stride kernel reads w, g and the state buffers once and writes w
// and the state once. float4 groups when every pointer is 16-byte aligned, single floats for the
// tail (and for misaligned views). The weight-decay ranges travel in the kernel's parameters; each
// element finds whether it decays by a binary search over them (neighbouring threads read the same
// entries, so the constant-bank reads are broadcasts).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/cuda/check.hpp"
#include "hourglass/math/optim_rules.hpp"
#include "hourglass/ops/check.hpp"
#include "hourglass/ops/optim.hpp"

namespace hg::cuda_impl {

namespace {

constexpr int optim_threads = 256;

/// The decay ranges of one launch, in global element indices.
struct decay_table {
    int count;
    long long begin[ops::optim_cuda_max_ranges];
    long long end[ops::optim_cuda_max_ranges];
};

bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

}  // namespace

__device__ __forceinline__ bool decays(const decay_table& t, long long i) {
    int lo = 0, hi = t.count;  // first range with begin > i, by bisection
    while (lo < hi) {
        const int mid = (lo + hi) / 2;
        if (t.begin[mid] <= i)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && i < t.end[lo - 1];
}

/// One element: global index i, the rule's delta, the LR-dropout mask.
template <math::optim_rule R, bool Drop>
__device__ __forceinline__ void optim_element(const math::optim_coeffs& k, const math::optim_coeffs& k0,
                                              const decay_table& t, long long i, float& w, float g, float& a,
                                              float& b) {
    const math::optim_coeffs& kc = decays(t, i) ? k : k0;
    const float delta = math::optim_delta<R>(kc, w, g, a, b);
    if constexpr (Drop) {
        if (math::lr_dropout_keep(k, static_cast<std::uint64_t>(i))) w = w + delta;
    } else {
        w = w + delta;
    }
}

/// Elements [first, first + count) of the buffers (pointers already offset to `first`).
template <math::optim_rule R, bool Drop>
__global__ void optim_update_kernel(math::optim_coeffs k, math::optim_coeffs k0, decay_table t, long long first,
                                    long long count, bool vectorized, float* w, const float* g, float* s1,
                                    float* s2) {
    const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
    const long long tid = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    long long head = 0;
    if (vectorized) {
        const long long groups = count / 4;
        head = groups * 4;
        auto* w4 = reinterpret_cast<float4*>(w);
        const auto* g4 = reinterpret_cast<const float4*>(g);
        auto* a4 = reinterpret_cast<float4*>(s1);
        auto* b4 = reinterpret_cast<float4*>(s2);
        for (long long q = tid; q < groups; q += stride) {
            float4 wv = w4[q];
            const float4 gv = g4[q];
            float4 av = s1 ? a4[q] : make_float4(0.f, 0.f, 0.f, 0.f);
            float4 bv = s2 ? b4[q] : make_float4(0.f, 0.f, 0.f, 0.f);
            const long long i = first + 4 * q;
            optim_element<R, Drop>(k, k0, t, i, wv.x, gv.x, av.x, bv.x);
            optim_element<R, Drop>(k, k0, t, i + 1, wv.y, gv.y, av.y, bv.y);
            optim_element<R, Drop>(k, k0, t, i + 2, wv.z, gv.z, av.z, bv.z);
            optim_element<R, Drop>(k, k0, t, i + 3, wv.w, gv.w, av.w, bv.w);
            w4[q] = wv;
            if (s1) a4[q] = av;
            if (s2) b4[q] = bv;
        }
    }
    for (long long j = head + tid; j < count; j += stride) {
        float wv = w[j];
        float av = s1 ? s1[j] : 0.f, bv = s2 ? s2[j] : 0.f;
        optim_element<R, Drop>(k, k0, t, first + j, wv, g[j], av, bv);
        w[j] = wv;
        if (s1) s1[j] = av;
        if (s2) s2[j] = bv;
    }
}

template <math::optim_rule R>
void launch_optim(const cuda& be, const math::optim_coeffs& k, const std::vector<ops::index_range>& decay,
                  std::int64_t n, float* w, const float* g, float* s1, float* s2) {
    const auto stream = static_cast<cudaStream_t>(be.stream());
    math::optim_coeffs k0 = k;
    k0.wd_coupled = 0.f;
    k0.wd_decoupled = 0.f;
    int sms = 0;
    HG_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, be.device_index()));
    const std::int64_t cap = static_cast<std::int64_t>(std::max(sms, 1)) * 8;
    const bool drop = k.keep_prob < 1.f;

    // Windows of at most optim_cuda_max_ranges ranges: window j runs from the first range of its
    // batch (0 for the first window) to the first range of the next batch (n for the last).
    const auto ranges = static_cast<std::int64_t>(decay.size());
    const std::int64_t windows = std::max<std::int64_t>(1, (ranges + ops::optim_cuda_max_ranges - 1) / ops::optim_cuda_max_ranges);
    for (std::int64_t win = 0; win < windows; ++win) {
        const std::int64_t r0 = win * ops::optim_cuda_max_ranges;
        const std::int64_t r1 = std::min(ranges, r0 + ops::optim_cuda_max_ranges);
        const std::int64_t lo = win == 0 ? 0 : decay[static_cast<std::size_t>(r0)].begin;
        const std::int64_t hi = win + 1 == windows ? n : decay[static_cast<std::size_t>(r1)].begin;
        if (hi <= lo) continue;
        decay_table t{};
        t.count = static_cast<int>(r1 - r0);
        for (std::int64_t r = r0; r < r1; ++r) {
            t.begin[r - r0] = decay[static_cast<std::size_t>(r)].begin;
            t.end[r - r0] = decay[static_cast<std::size_t>(r)].end;
        }
        float* pw = w + lo;
        const float* pg = g + lo;
        float* p1 = s1 ? s1 + lo : nullptr;
        float* p2 = s2 ? s2 + lo : nullptr;
        const bool vectorized = aligned16(pw) && aligned16(pg) && aligned16(p1) && aligned16(p2);
        const std::int64_t count = hi - lo;
        const std::int64_t work = vectorized ? (count + 3) / 4 : count;
        const auto blocks =
            static_cast<unsigned>(std::clamp<std::int64_t>((work + optim_threads - 1) / optim_threads, 1, cap));
        if (drop) {
            optim_update_kernel<R, true><<<blocks, optim_threads, 0, stream>>>(k, k0, t, lo, count, vectorized, pw, pg,
                                                                               p1, p2);
        } else {
            optim_update_kernel<R, false><<<blocks, optim_threads, 0, stream>>>(k, k0, t, lo, count, vectorized, pw,
                                                                                pg, p1, p2);
        }
        HG_CUDA_CHECK_LAUNCH("optim_update_kernel");
    }
}

}  // namespace hg::cuda_impl

namespace hg::ops {

void optim_update(const cuda& be, math::optim_rule rule, const math::optim_coeffs& k,
                  const std::vector<index_range>& decay, const tensor& w, const tensor& g, const tensor& s1,
                  const tensor& s2) {
    detail::check_optim_update<cuda>(rule, k, decay, w, g, s1, s2);
    const unsigned used = optim_state_buffers(rule, k.momentum);
    float* p1 = (used & 1u) ? s1.data() : nullptr;
    float* p2 = (used & 2u) ? s2.data() : nullptr;
    const std::int64_t n = w.numel();
    using math::optim_rule;
    switch (rule) {
        case optim_rule::sgd: return cuda_impl::launch_optim<optim_rule::sgd>(be, k, decay, n, w.data(), g.data(), p1, p2);
        case optim_rule::adam: return cuda_impl::launch_optim<optim_rule::adam>(be, k, decay, n, w.data(), g.data(), p1, p2);
        case optim_rule::adamw: return cuda_impl::launch_optim<optim_rule::adamw>(be, k, decay, n, w.data(), g.data(), p1, p2);
        case optim_rule::adabelief:
            return cuda_impl::launch_optim<optim_rule::adabelief>(be, k, decay, n, w.data(), g.data(), p1, p2);
        case optim_rule::rmsprop:
            return cuda_impl::launch_optim<optim_rule::rmsprop>(be, k, decay, n, w.data(), g.data(), p1, p2);
        case optim_rule::lion: return cuda_impl::launch_optim<optim_rule::lion>(be, k, decay, n, w.data(), g.data(), p1, p2);
        case optim_rule::nadam: return cuda_impl::launch_optim<optim_rule::nadam>(be, k, decay, n, w.data(), g.data(), p1, p2);
        case optim_rule::adamax:
            return cuda_impl::launch_optim<optim_rule::adamax>(be, k, decay, n, w.data(), g.data(), p1, p2);
    }
    throw value_error("optim_update: unknown rule " + std::to_string(static_cast<unsigned>(rule)));
}

}  // namespace hg::ops
