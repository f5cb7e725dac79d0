// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11). The value at position i of
// the stream (seed, stream_id) is a pure function of those three numbers, so the CPU and a CUDA
// kernel produce the same sequence, in any order and from any number of threads.
#pragma once

#include <cstdint>

#include "hourglass/core/config.hpp"

namespace hg {

struct philox_block {
    std::uint32_t v[4];
};

/// Philox4x32 with 10 rounds: four 32-bit outputs for a 128-bit counter and a 64-bit key.
HG_HOST_DEVICE inline philox_block philox4x32(std::uint32_t c0, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3,
                                              std::uint32_t k0, std::uint32_t k1) {
    constexpr std::uint32_t m0 = 0xD2511F53u, m1 = 0xCD9E8D57u;
    constexpr std::uint32_t w0 = 0x9E3779B9u, w1 = 0xBB67AE85u;
    for (int round = 0; round < 10; ++round) {
        const std::uint64_t p0 = static_cast<std::uint64_t>(m0) * c0;
        const std::uint64_t p1 = static_cast<std::uint64_t>(m1) * c2;
        const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
        const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
        const std::uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
        k0 += w0;
        k1 += w1;
    }
    return philox_block{{c0, c1, c2, c3}};
}

/// The i-th 32-bit word of stream (seed, stream_id).
HG_HOST_DEVICE inline std::uint32_t random_bits(std::uint64_t seed, std::uint64_t stream_id, std::uint64_t i) {
    const std::uint64_t block = i >> 2;
    const philox_block r = philox4x32(static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
                                      static_cast<std::uint32_t>(stream_id), static_cast<std::uint32_t>(stream_id >> 32),
                                      static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
    return r.v[i & 3u];
}

/// Uniform in [0, 1) with 24 random bits (exactly representable in float).
HG_HOST_DEVICE inline float bits_to_unit_float(std::uint32_t bits) {
    return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}

/// Maps 32 random bits to [lo, hi) as lo + (hi - lo) * u, with the product and the sum each rounded
/// separately on host and device alike: nvcc would otherwise contract them into one fused
/// multiply-add (one rounding), and the two backends would differ in the last bit.
HG_HOST_DEVICE inline float bits_to_uniform(std::uint32_t bits, float lo, float hi) {
    const float u = bits_to_unit_float(bits);
#if defined(__CUDA_ARCH__)
    return __fadd_rn(lo, __fmul_rn(hi - lo, u));
#else
    volatile float product = (hi - lo) * u;  // volatile: never contracted into an FMA by the host compiler
    return lo + product;
#endif
}

/// The i-th uniform number in [lo, hi) of stream (seed, stream_id); identical on host and device.
HG_HOST_DEVICE inline float random_uniform(std::uint64_t seed, std::uint64_t stream_id, std::uint64_t i, float lo,
                                           float hi) {
    return bits_to_uniform(random_bits(seed, stream_id, i), lo, hi);
}

/// A small sequential generator over one stream, for host-side code (initialisers, data).
class rng {
public:
    explicit rng(std::uint64_t seed, std::uint64_t stream_id = 0) : seed_(seed), stream_(stream_id) {}
    std::uint32_t next_bits() { return random_bits(seed_, stream_, counter_++); }
    /// Uniform in [0, 1).
    float uniform() { return bits_to_unit_float(next_bits()); }
    float uniform(float lo, float hi) { return bits_to_uniform(next_bits(), lo, hi); }
    /// Uniform in [0, 1) with 53 random bits.
    double uniform_double() {
        const std::uint64_t a = next_bits() >> 5, b = next_bits() >> 6;
        return (static_cast<double>(a) * 67108864.0 + static_cast<double>(b)) * (1.0 / 9007199254740992.0);
    }
    std::uint64_t seed() const { return seed_; }
    std::uint64_t stream() const { return stream_; }
    std::uint64_t position() const { return counter_; }
    void seek(std::uint64_t position) { counter_ = position; }

private:
    std::uint64_t seed_;
    std::uint64_t stream_;
    std::uint64_t counter_ = 0;
};

}  // namespace hg
