// CPU body of the channel-range copy (ops/channels.hpp): for every row (pixel) r,
// dst[r * dst_c + dst_first + k] = src[r * src_c + src_first + k], k < count.
#pragma once

#include <algorithm>
#include <cstdint>

#include "hourglass/core/parallel.hpp"
#include "hourglass/cpu/backend.hpp"

namespace hg::cpu_impl {

template <class T>
void copy_channels(const cpu_backend<T>& be, std::int64_t rows, std::int64_t count, const T* src, std::int64_t src_c,
                   std::int64_t src_first, T* dst, std::int64_t dst_c, std::int64_t dst_first) {
    // About 16k elements per thread at least: the copy is memory bound.
    const std::int64_t grain = std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(count, 1));
    parallel_for(rows, be.threads(), grain, [&](std::int64_t r) {
        const T* s = src + r * src_c + src_first;
        T* d = dst + r * dst_c + dst_first;
        for (std::int64_t k = 0; k < count; ++k) d[k] = s[k];
    });
}

}  // namespace hg::cpu_impl
