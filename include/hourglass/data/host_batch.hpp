// Host-side batch helpers shared by training programs: a host tensor's copy on a backend
// (to_backend), a channel range of a host [N, H, W, C] batch (channels_of), and a batch resized per
// sample with the area filter (resize_batch).
#pragma once

#include <algorithm>
#include <cstdint>

#include "hourglass/core/device.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/data/resize.hpp"

namespace hg::data {

/// A copy of a host tensor on backend B (a fresh CPU tensor for the CPU backends).
template <class B>
tensor to_backend(const B& be, const tensor& host) {
    if constexpr (B::device == device_kind::cpu) {
        auto t = be.empty(host.shape());
        std::copy_n(host.data(), host.numel(), t.data());
        return t;
    } else {
        return be.to_device(host);
    }
}

/// Channels [first, first + count) of a host [N, H, W, C] tensor, as a new [N, H, W, count] tensor.
inline tensor channels_of(const tensor& x, std::int64_t first, std::int64_t count) {
    const std::int64_t c = x.shape().c(), pixels = x.numel() / c;
    if (first < 0 || count < 1 || first + count > c)
        throw shape_error("channels_of: channels [" + std::to_string(first) + ", " + std::to_string(first + count) +
                          ") of " + x.shape().str());
    auto s = x.shape();
    auto out = tensor::empty(shape{s[0], s[1], s[2], count});
    for (std::int64_t p = 0; p < pixels; ++p)
        for (std::int64_t k = 0; k < count; ++k) out[p * count + k] = x[p * c + first + k];
    return out;
}

/// An [N, H, W, C] host batch resized to size x size (resize_area per sample); x itself when it
/// already has that size.
inline tensor resize_batch(const tensor& x, std::int64_t size) {
    const auto s = x.shape();
    if (s[1] == size && s[2] == size) return x;
    auto out = tensor::empty(shape{s[0], size, size, s[3]});
    const std::int64_t in_px = s[1] * s[2] * s[3], out_px = size * size * s[3];
    for (std::int64_t i = 0; i < s[0]; ++i) {
        const auto r = resize_area(x.slice(i * in_px, shape{s[1], s[2], s[3]}), size, size);
        std::copy_n(r.data(), out_px, out.data() + i * out_px);
    }
    return out;
}

}  // namespace hg::data
