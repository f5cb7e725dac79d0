// hg::basic_tensor<T>: a dense, contiguous tensor (NHWC by convention) on the CPU or a CUDA device.
// Storage is shared between an owner and its views (a view is a pointer, a shape and a reference
// to the storage), so views are cheap and memory is freed when the last one goes.
// Element access through at()/operator[] works only on CPU tensors; CUDA tensors are created and
// copied by the CUDA backend (include/hourglass/cuda/), never implicitly.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include "hourglass/core/device.hpp"
#include "hourglass/core/error.hpp"
#include "hourglass/core/shape.hpp"

namespace hg {

namespace detail {
/// 64-byte aligned host allocation shared by owner and views.
inline std::shared_ptr<void> host_allocate(std::size_t bytes) {
    const std::size_t rounded = std::max<std::size_t>(64, (bytes + 63) / 64 * 64);
    void* p = std::aligned_alloc(64, rounded);
    if (!p) throw std::bad_alloc();
    return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}
}  // namespace detail

template <class T>
class basic_tensor {
    static_assert(std::is_floating_point_v<T>, "hg::basic_tensor holds floating-point elements");

public:
    using value_type = T;

    basic_tensor() = default;

    /// Wraps existing storage; used by backends. `data` must point into `storage`.
    basic_tensor(hg::shape s, device_kind device, std::shared_ptr<void> storage, T* data)
        : storage_(std::move(storage)), data_(data), shape_(s), device_(device) {}

    /// A CPU tensor with uninitialised contents.
    static basic_tensor empty(const hg::shape& s) {
        auto storage = detail::host_allocate(static_cast<std::size_t>(s.numel()) * sizeof(T));
        T* p = static_cast<T*>(storage.get());
        return basic_tensor(s, device_kind::cpu, std::move(storage), p);
    }
    /// A CPU tensor filled with `value`.
    static basic_tensor full(const hg::shape& s, T value) {
        basic_tensor t = empty(s);
        std::fill(t.data_, t.data_ + s.numel(), value);
        return t;
    }
    static basic_tensor zeros(const hg::shape& s) { return full(s, T(0)); }
    /// A CPU tensor holding a copy of `values` (which must have s.numel() elements).
    static basic_tensor from_vector(const hg::shape& s, const std::vector<T>& values) {
        if (static_cast<std::int64_t>(values.size()) != s.numel())
            throw shape_error("tensor::from_vector: " + std::to_string(values.size()) +
                              " values do not fill shape " + s.str());
        basic_tensor t = empty(s);
        std::copy(values.begin(), values.end(), t.data_);
        return t;
    }

    const hg::shape& shape() const { return shape_; }
    device_kind device() const { return device_; }
    bool on_cpu() const { return device_ == device_kind::cpu; }
    std::int64_t numel() const { return shape_.numel(); }
    std::size_t bytes() const { return static_cast<std::size_t>(numel()) * sizeof(T); }
    bool defined() const { return data_ != nullptr; }

    T* data() const { return data_; }

    /// The same elements seen with another shape of equal element count (no copy).
    basic_tensor view(const hg::shape& s) const {
        if (s.numel() != numel())
            throw shape_error("tensor::view: cannot view " + shape_.str() + " as " + s.str() +
                              " (element counts differ)");
        return basic_tensor(s, device_, storage_, data_);
    }
    /// A view of `s.numel()` consecutive elements starting at flat offset `offset`.
    basic_tensor slice(std::int64_t offset, const hg::shape& s) const {
        if (offset < 0 || offset + s.numel() > numel())
            throw shape_error("tensor::slice: elements [" + std::to_string(offset) + ", " +
                              std::to_string(offset + s.numel()) + ") exceed tensor of shape " + shape_.str());
        return basic_tensor(s, device_, storage_, data_ + offset);
    }
    /// Samples [first, first + count) of the leading (batch) dimension, as a view.
    basic_tensor batch_slice(std::int64_t first, std::int64_t count) const {
        if (shape_.rank() == 0 || first < 0 || count < 0 || first + count > shape_[0])
            throw shape_error("tensor::batch_slice: samples [" + std::to_string(first) + ", " +
                              std::to_string(first + count) + ") out of range for " + shape_.str());
        return slice(first * shape_.per_sample(), shape_.with_batch(count));
    }

    // Host element access (CPU tensors only).
    T& operator[](std::int64_t i) const {
        require_cpu("operator[]");
        return data_[i];
    }
    T& at(std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c) const {
        require_cpu("at");
        return data_[((n * shape_.h() + h) * shape_.w() + w) * shape_.c() + c];
    }
    /// Sets every element (CPU tensors only).
    void fill(T value) const {
        require_cpu("fill");
        std::fill(data_, data_ + numel(), value);
    }
    /// A deep copy on the CPU (CPU tensors only).
    basic_tensor clone() const {
        require_cpu("clone");
        basic_tensor t = empty(shape_);
        std::copy(data_, data_ + numel(), t.data_);
        return t;
    }
    std::vector<T> to_vector() const {
        require_cpu("to_vector");
        return std::vector<T>(data_, data_ + numel());
    }

private:
    void require_cpu(const char* what) const {
        if (device_ != device_kind::cpu)
            throw device_error(std::string("tensor::") + what + ": host access to a " + to_string(device_) +
                               " tensor; download it first");
    }

    std::shared_ptr<void> storage_;
    T* data_ = nullptr;
    hg::shape shape_;
    device_kind device_ = device_kind::cpu;
};

using tensor = basic_tensor<float>;

}  // namespace hg
