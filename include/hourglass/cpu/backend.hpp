// The CPU backend type. hg::cpu computes in float32, hg::cpu64 in float64 (used by the
// finite-difference gradient checks, so the same layer code is checked in double precision).
// It owns the thread count and a reusable scratch buffer (im2col matrices and the like);
// ops run one at a time on a backend object, so one scratch buffer suffices.
//
// Matrix products (Eigen's, and the system BLAS's when the build uses one) take their thread count
// from OpenMP's per-thread setting (omp_get_max_threads of the calling thread). Each product of a
// backend runs inside a product_thread_scope that sets that count to the backend's and restores the
// caller's at its end: two backends with different counts, even used from two threads at once,
// never change each other's products (Eigen's own process-wide Eigen::setNbThreads is not used).
#pragma once

#include <Eigen/Core>
#include <cstddef>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "hourglass/core/device.hpp"
#include "hourglass/core/error.hpp"
#include "hourglass/core/parallel.hpp"
#include "hourglass/core/tensor.hpp"

namespace hg {

/// How the CPU conv2d computes 3x3 convolutions at stride 1 (every other shape uses im2col + GEMM,
/// or the direct path of cpu/conv2d_small_k.hpp for at most 4 filters): automatic picks per problem
/// (cpu/conv2d_winograd.hpp, conv_winograd_tile); im2col always uses the GEMM of patches, also for
/// small filter banks of any shape; winograd_2x2 / winograd_4x4 force Winograd F(2x2, 3x3) /
/// F(4x4, 3x3).
enum class cpu_conv_algorithm { automatic, im2col, winograd_2x2, winograd_4x4 };

template <class T>
class cpu_backend {
public:
    using scalar = T;
    using tensor_type = basic_tensor<T>;
    static constexpr device_kind device = device_kind::cpu;
    static constexpr const char* name = "cpu";

    /// `threads` = 0 uses every core OpenMP reports. Matrix products use the same count.
    explicit cpu_backend(int threads = 0) : threads_(threads > 0 ? threads : hardware_threads()) {
        if (threads < 0) throw value_error("cpu backend: thread count must be >= 0, got " + std::to_string(threads));
    }

    int threads() const { return threads_; }

    /// Scope for one matrix product: Eigen's products and the BLAS run on this backend's thread
    /// count until its end (see the file comment). Called by every product of the backend.
    [[nodiscard]] product_thread_scope product_threads() const { return product_thread_scope(threads_); }

    /// The conv2d algorithm for 3x3 stride-1 problems (default cpu_conv_algorithm::automatic).
    cpu_conv_algorithm conv_algorithm() const { return conv_algorithm_; }
    void set_conv_algorithm(cpu_conv_algorithm a) { conv_algorithm_ = a; }

    /// A new tensor on this backend with uninitialised contents (NaN-filled when poisoning is on).
    tensor_type empty(const shape& s) const {
        tensor_type t = tensor_type::empty(s);
        if (poison_) t.fill(std::numeric_limits<T>::quiet_NaN());
        return t;
    }
    /// Testing aid: fill every tensor this backend allocates with NaN, so an op that leaves an
    /// element unwritten shows up as a NaN in its output.
    void poison_allocations(bool on) { poison_ = on; }
    bool poisons_allocations() const { return poison_; }
    /// A copy of a host tensor on this backend (a plain copy for the CPU).
    tensor_type to_device(const tensor_type& host) const {
        require_device(host.device(), device_kind::cpu, "cpu::to_device", "host");
        return host.clone();
    }
    /// Takes over a host tensor nobody else holds (no copy on the CPU).
    tensor_type to_device(tensor_type&& host) const {
        require_device(host.device(), device_kind::cpu, "cpu::to_device", "host");
        return std::move(host);
    }
    /// A host copy of a tensor of this backend.
    tensor_type to_host(const tensor_type& t) const {
        require_device(t.device(), device_kind::cpu, "cpu::to_host", "t");
        return t.clone();
    }

    /// Scratch memory of at least `count` elements, valid until the next call.
    T* scratch(std::size_t count) const {
        if (count > scratch_size_) {
            scratch_ = detail::host_allocate(count * sizeof(T));
            scratch_size_ = count;
        }
        return static_cast<T*>(scratch_.get());
    }

private:
    int threads_;
    bool poison_ = false;
    cpu_conv_algorithm conv_algorithm_ = cpu_conv_algorithm::automatic;
    mutable std::shared_ptr<void> scratch_;
    mutable std::size_t scratch_size_ = 0;
};

using cpu = cpu_backend<float>;
using cpu64 = cpu_backend<double>;

}  // namespace hg
