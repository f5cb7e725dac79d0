// Op contract of the channel-range copy, the slice and concatenation of channels of NHWC tensors
// (the channel is the last extent):
//   copy_channels(be, src, src_first, dst, dst_first, count)
//       dst[..., dst_first + k] = src[..., src_first + k] for k < count, at every position of the
//       leading extents (written; dst's other channels are left as they are).
// src [..., Cs] and dst [..., Cd] have the same rank and the same leading extents; the ranges
// [src_first, src_first + count) and [dst_first, dst_first + count) must lie inside Cs and Cd, and
// the two tensors must not share memory (no in-place use).
//
// Slicing channels [f, f + n) of y into a tensor of n channels is copy_channels(y, f, out, 0, n);
// joining a and b into one tensor is copy_channels(a, 0, out, 0, Ca) then copy_channels(b, 0, out,
// Ca, Cb). The op is linear and its adjoint is itself with the roles swapped, so the backward of a
// slice is the join of the gradients (zero for the channels the slice left out) and the backward of
// a join is the slice of the gradient: the same op serves both directions.
#pragma once

#include "hourglass/core/config.hpp"

#include <cstdint>
#include <string>

#if HG_CPU_OPS
#include "hourglass/cpu/channels.hpp"
#endif
#include "hourglass/ops/check.hpp"

namespace hg {
class cuda;
}

namespace hg::ops {

namespace detail {

/// Checks the arguments of copy_channels (B: the backend, for the device check).
template <class B, class T>
void check_copy_channels(const basic_tensor<T>& src, std::int64_t src_first, const basic_tensor<T>& dst,
                         std::int64_t dst_first, std::int64_t count) {
    const char* op = "copy_channels";
    check_arg<B>(src, src.shape(), op, "src");
    check_arg<B>(dst, dst.shape(), op, "dst");
    const shape& s = src.shape();
    const shape& d = dst.shape();
    bool leading_equal = s.rank() == d.rank() && s.rank() >= 1;
    for (int i = 0; leading_equal && i + 1 < s.rank(); ++i) leading_equal = s[i] == d[i];
    if (!leading_equal)
        throw shape_error(std::string(op) + ": 'src' " + s.str() + " and 'dst' " + d.str() +
                          " must have the same rank and the same extents except the last (channels)");
    const std::int64_t cs = s[s.rank() - 1], cd = d[d.rank() - 1];
    if (count < 0 || src_first < 0 || src_first + count > cs)
        throw shape_error(std::string(op) + ": channels [" + std::to_string(src_first) + ", " +
                          std::to_string(src_first + count) + ") are outside the " + std::to_string(cs) +
                          " channels of 'src' " + s.str());
    if (dst_first < 0 || dst_first + count > cd)
        throw shape_error(std::string(op) + ": channels [" + std::to_string(dst_first) + ", " +
                          std::to_string(dst_first + count) + ") are outside the " + std::to_string(cd) +
                          " channels of 'dst' " + d.str());
    // Byte ranges as integers: comparing pointers into different allocations is unspecified.
    const auto sb = reinterpret_cast<std::uintptr_t>(src.data()), db = reinterpret_cast<std::uintptr_t>(dst.data());
    const auto se = sb + sizeof(T) * static_cast<std::uintptr_t>(src.numel());
    const auto de = db + sizeof(T) * static_cast<std::uintptr_t>(dst.numel());
    if (sb < de && db < se)
        throw value_error(std::string(op) + ": 'src' and 'dst' share memory (the copy is not in place)");
}

}  // namespace detail

#if HG_CPU_OPS
template <class T>
void copy_channels(const cpu_backend<T>& be, const basic_tensor<T>& src, std::int64_t src_first,
                   const basic_tensor<T>& dst, std::int64_t dst_first, std::int64_t count) {
    detail::check_copy_channels<cpu_backend<T>>(src, src_first, dst, dst_first, count);
    const std::int64_t cs = src.shape()[src.shape().rank() - 1], cd = dst.shape()[dst.shape().rank() - 1];
    if (count == 0 || cs == 0) return;
    cpu_impl::copy_channels(be, src.numel() / cs, count, src.data(), cs, src_first, dst.data(), cd, dst_first);
}
#endif  // HG_CPU_OPS

// CUDA overload (cuda/channels.cu). Same contract.
void copy_channels(const cuda& be, const tensor& src, std::int64_t src_first, const tensor& dst,
                   std::int64_t dst_first, std::int64_t count);

}  // namespace hg::ops
