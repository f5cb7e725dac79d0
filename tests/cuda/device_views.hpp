// Guarded device views for the CUDA tests: a host tensor uploaded at a chosen element offset inside
// a NaN-filled device buffer (offset 0: 16-byte aligned, the vectorised paths; 1 to 3: misaligned),
// with NaN guard elements after it, and the download that checks nothing outside the view was
// written.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "hourglass/cuda/backend.hpp"
#include "hourglass/core/tensor.hpp"

namespace hg::test {

inline constexpr std::int64_t view_guard = 4;  // NaN elements after every device view

struct device_view {
    tensor buffer;
    tensor view;
    std::int64_t offset = 0;
};

/// A device view of `host` at element `offset` inside a NaN-filled device buffer.
inline device_view upload(const cuda& be, const tensor& host, std::int64_t offset) {
    const std::int64_t n = host.numel();
    auto whole = tensor::full(shape{offset + n + view_guard}, std::numeric_limits<float>::quiet_NaN());
    std::copy(host.data(), host.data() + n, whole.data() + offset);
    auto buffer = be.to_device(whole);
    auto view = buffer.slice(offset, host.shape());
    return {buffer, view, offset};
}

/// A NaN-filled device view of shape s at element `offset` (an output that starts poisoned).
inline device_view poisoned(const cuda& be, const shape& s, std::int64_t offset) {
    return upload(be, tensor::full(s, std::numeric_limits<float>::quiet_NaN()), offset);
}

/// The view's elements on the host; CHECKs that every element around the view is still NaN.
inline tensor download(const cuda& be, const device_view& d) {
    const auto whole = be.to_host(d.buffer);
    const std::int64_t n = d.view.numel();
    std::int64_t touched = 0;
    for (std::int64_t i = 0; i < whole.numel(); ++i)
        if ((i < d.offset || i >= d.offset + n) && !std::isnan(whole[i])) ++touched;
    CHECK(touched == 0);
    auto out = tensor::empty(d.view.shape());
    std::copy(whole.data() + d.offset, whole.data() + d.offset + n, out.data());
    return out;
}

}  // namespace hg::test
