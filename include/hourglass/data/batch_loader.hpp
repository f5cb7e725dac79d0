// hg::data::batch_loader: worker threads that build training batches ahead of the training step.
//
// The loader is generic: for every sample it calls a producer callback
//     producer(sample_index, sample_seed, sample_views{input, target, mask})
// that writes one sample into views of the batch buffers ([H, W, C] input and target, [H, W, Cm]
// mask; the mask view is undefined when mask_channels is 0; the views also carry the step k the
// sample belongs to, for augmentation that ramps in over training). Typically the producer reads a face
// from a face_dataset and augments it; one loader per side of a face-swap model (A and B) is
// simply two loaders.
//
// Determinism: sample j of step k sits at position p = k * batch_size + j of an endless sequence
// made of one permutation of [0, samples) per epoch (epoch e = p / samples, Fisher-Yates driven by
// Philox stream (seed, e); no shuffle: the identity). sample_index is the permutation's entry and
// sample_seed a hash of (seed, p). So the contents of step k depend only on (seed, k) and on the
// producer being a pure function of its arguments - not on the number of threads or their timing.
// first_step resumes the sequence at any step (e.g. after loading a checkpoint).
//
// Slices (data-parallel training, dist/communicator.hpp): with slice_count > 0 the loader builds
// only the positions k * batch_size + [slice_first, slice_first + slice_count) of every step k - one
// rank's part of the global batch - so the ranks' slices of step k, side by side, are exactly the
// batch one loader without a slice returns for step k (same indices, seeds and pixels).
//
// Buffers: a ring of prefetch + retained batch buffers allocated once by `allocate` (pass
// pinned_allocator(backend) for page-locked memory with a CUDA backend: uploads from it are
// asynchronous; the default is ordinary host memory). Workers fill up to `prefetch` steps ahead
// of the consumer; next() returns views into the ring that stay valid until `retained` further
// next() calls (default 1: until the next call). An asynchronous upload from a batch must finish
// before that.
//
// Failures: an exception thrown by the producer for step k is rethrown (the original exception)
// by the next() call that would return step k, and by every later call: the loader does not skip
// samples. The destructor stops and joins the workers without waiting for the consumer, even when
// the queue is full and nobody consumes; a worker inside the producer finishes the current sample
// first (a producer that never returns cannot be stopped).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "hourglass/core/error.hpp"
#include "hourglass/core/rng.hpp"
#include "hourglass/core/tensor.hpp"

namespace hg::data {

/// Where the producer writes one sample (views into the batch buffers).
struct sample_views {
    tensor input;   ///< [H, W, C]
    tensor target;  ///< [H, W, C]
    tensor mask;    ///< [H, W, Cm]; undefined when mask_channels is 0
    std::int64_t step = 0;  ///< the batch (training step) the sample belongs to: augmentation ramps use it
};

using sample_producer = std::function<void(std::int64_t sample_index, std::uint64_t sample_seed, const sample_views& out)>;
/// Allocates one host buffer of the given shape (must return a defined CPU tensor of that shape).
using host_allocator = std::function<tensor(const shape&)>;

/// Page-locked buffers from a backend that has pinned_host() (hg::cuda); ordinary host memory
/// for backends without it. The backend must outlive the loader.
template <class Backend>
host_allocator pinned_allocator(const Backend& backend) {
    return [&backend](const shape& s) -> tensor {
        if constexpr (requires { backend.pinned_host(s); })
            return backend.pinned_host(s);
        else
            return tensor::empty(s);
    };
}

struct batch_loader_options {
    std::int64_t samples = 0;        ///< dataset size (sample indices are in [0, samples))
    std::int64_t batch_size = 16;
    std::int64_t height = 64;
    std::int64_t width = 64;
    std::int64_t channels = 3;
    std::int64_t mask_channels = 1;  ///< 0: no mask buffers
    std::uint64_t seed = 0;
    bool shuffle = true;             ///< a new permutation every epoch
    int threads = 2;                 ///< worker threads
    int prefetch = 4;                ///< batches built ahead of the consumer
    int retained = 1;                ///< handed-out batches that stay valid
    std::int64_t first_step = 0;     ///< the step the first next() returns
    std::int64_t slice_first = 0;    ///< with slice_count: the first position of each step this loader builds
    std::int64_t slice_count = 0;    ///< 0: the whole batch; else the samples of each step this loader builds
    host_allocator allocate;         ///< empty: tensor::empty
};

/// One batch: views into the loader's ring buffers (see retained).
struct batch {
    std::int64_t step = 0;
    std::int64_t epoch = 0;         ///< epoch of the first sample
    bool completes_epoch = false;   ///< holds the last sample of an epoch
    tensor input;                   ///< [N, H, W, C] (N: batch_size, or slice_count with a slice)
    tensor target;                  ///< [N, H, W, C]
    tensor mask;                    ///< [N, H, W, Cm]; undefined without masks
    std::vector<std::int64_t> indices;   ///< sample_index of each sample
    std::vector<std::uint64_t> seeds;    ///< sample_seed of each sample
};

class batch_loader {
public:
    batch_loader(batch_loader_options opts, sample_producer producer)
        : opts_(std::move(opts)), producer_(std::move(producer)) {
        validate();
        ring_ = opts_.prefetch + opts_.retained;
        const std::int64_t n = built_per_step();
        const shape img{n, opts_.height, opts_.width, opts_.channels};
        const shape msk{n, opts_.height, opts_.width, opts_.mask_channels};
        slots_.resize(static_cast<std::size_t>(ring_));
        for (auto& s : slots_) {
            s.input = allocate(img);
            s.target = allocate(img);
            if (opts_.mask_channels > 0) s.mask = allocate(msk);
            s.indices.resize(static_cast<std::size_t>(n));
            s.seeds.resize(static_cast<std::size_t>(n));
        }
        handed_ = next_claim_ = opts_.first_step;
        workers_.reserve(static_cast<std::size_t>(opts_.threads));
        try {
            for (int t = 0; t < opts_.threads; ++t) workers_.emplace_back([this] { work(); });
        } catch (...) {
            shutdown();
            throw;
        }
    }

    batch_loader(const batch_loader&) = delete;
    batch_loader& operator=(const batch_loader&) = delete;

    ~batch_loader() { shutdown(); }

    /// The next batch, in step order; rethrows a producer's exception for that step.
    batch next() {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_cv_.wait(lock, [&] { return ready_.count(handed_) != 0 || errors_.count(handed_) != 0; });
        if (auto it = errors_.find(handed_); it != errors_.end()) std::rethrow_exception(it->second);
        ready_.erase(handed_);
        const std::int64_t k = handed_++;
        // Epochs that no unproduced step can need any more.
        const std::int64_t oldest = epoch_of_position(handed_ * opts_.batch_size);
        for (auto it = permutations_.begin(); it != permutations_.end() && it->first < oldest;) it = permutations_.erase(it);
        lock.unlock();
        work_cv_.notify_all();

        const slot& s = slots_[static_cast<std::size_t>(k % ring_)];
        batch b;
        b.step = k;
        const std::int64_t first = k * opts_.batch_size, last = first + opts_.batch_size - 1;
        b.epoch = epoch_of_position(first);
        b.completes_epoch = epoch_of_position(last + 1) != b.epoch;  // the last sample of epoch b.epoch is inside
        b.input = s.input;
        b.target = s.target;
        b.mask = s.mask;
        b.indices = s.indices;
        b.seeds = s.seeds;
        return b;
    }

    /// Steps per epoch, rounded up (the last batch of an epoch continues into the next one).
    std::int64_t steps_per_epoch() const { return (opts_.samples + opts_.batch_size - 1) / opts_.batch_size; }
    /// The step the next call to next() returns.
    std::int64_t step() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return handed_;
    }
    const batch_loader_options& options() const { return opts_; }
    /// Samples in every batch this loader returns: slice_count with a slice, else batch_size.
    std::int64_t built_per_step() const { return opts_.slice_count > 0 ? opts_.slice_count : opts_.batch_size; }

    /// sample_index of position p (p = step * batch_size + j); pure function of (seed, p).
    std::int64_t sample_index(std::int64_t position) const {
        const std::int64_t e = epoch_of_position(position), i = position % opts_.samples;
        if (!opts_.shuffle) return i;
        return (*permutation(e))[static_cast<std::size_t>(i)];
    }
    /// sample_seed of position p: a 64-bit hash of (seed, p).
    std::uint64_t sample_seed(std::int64_t position) const {
        return mix(opts_.seed ^ mix(static_cast<std::uint64_t>(position) + 0x9E3779B97F4A7C15ull));
    }

private:
    struct slot {
        tensor input, target, mask;
        std::vector<std::int64_t> indices;
        std::vector<std::uint64_t> seeds;
    };
    struct stopped {};

    static std::uint64_t mix(std::uint64_t z) {  // splitmix64 finaliser
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }

    void validate() const {
        auto bad = [](const std::string& what) { throw value_error("batch_loader: " + what); };
        if (opts_.samples < 1) bad("samples must be at least 1, got " + std::to_string(opts_.samples));
        if (opts_.batch_size < 1) bad("batch_size must be at least 1, got " + std::to_string(opts_.batch_size));
        if (opts_.height < 1 || opts_.width < 1 || opts_.channels < 1 || opts_.mask_channels < 0)
            bad("the sample shape " + std::to_string(opts_.height) + " x " + std::to_string(opts_.width) + " x " +
                std::to_string(opts_.channels) + " (mask channels " + std::to_string(opts_.mask_channels) + ") is not valid");
        if (opts_.threads < 1) bad("threads must be at least 1, got " + std::to_string(opts_.threads));
        if (opts_.prefetch < 1) bad("prefetch must be at least 1, got " + std::to_string(opts_.prefetch));
        if (opts_.retained < 1) bad("retained must be at least 1, got " + std::to_string(opts_.retained));
        if (opts_.first_step < 0) bad("first_step must not be negative, got " + std::to_string(opts_.first_step));
        if (opts_.slice_count < 0 || opts_.slice_first < 0 || (opts_.slice_count == 0 && opts_.slice_first != 0) ||
            opts_.slice_first + opts_.slice_count > opts_.batch_size)
            bad("the slice [" + std::to_string(opts_.slice_first) + ", " + std::to_string(opts_.slice_first + opts_.slice_count) +
                ") is not inside the batch of " + std::to_string(opts_.batch_size));
        if (!producer_) bad("no sample producer given");
    }

    tensor allocate(const shape& s) const {
        tensor t = opts_.allocate ? opts_.allocate(s) : tensor::empty(s);
        if (!t.defined() || !t.on_cpu() || t.shape() != s)
            throw device_error("batch_loader: the allocator must return a CPU tensor of shape " + s.str());
        return t;
    }

    std::int64_t epoch_of_position(std::int64_t p) const { return p / opts_.samples; }

    /// The permutation of epoch e, built once and shared (pure function of (seed, e)).
    std::shared_ptr<const std::vector<std::int64_t>> permutation(std::int64_t e) const {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (auto it = permutations_.find(e); it != permutations_.end()) return it->second;
        }
        auto perm = std::make_shared<std::vector<std::int64_t>>(static_cast<std::size_t>(opts_.samples));
        for (std::int64_t i = 0; i < opts_.samples; ++i) (*perm)[static_cast<std::size_t>(i)] = i;
        rng r(opts_.seed, 0x8000000000000000ull | static_cast<std::uint64_t>(e));
        for (std::int64_t i = opts_.samples - 1; i > 0; --i) {
            const std::uint64_t bits = (std::uint64_t(r.next_bits()) << 32) | r.next_bits();
            const auto j = static_cast<std::int64_t>(bits % static_cast<std::uint64_t>(i + 1));
            std::swap((*perm)[static_cast<std::size_t>(i)], (*perm)[static_cast<std::size_t>(j)]);
        }
        std::lock_guard<std::mutex> lock(mutex_);
        return permutations_.emplace(e, std::move(perm)).first->second;
    }

    void fill(std::int64_t k, slot& s) {
        const std::int64_t h = opts_.height, w = opts_.width;
        for (std::int64_t j = 0; j < built_per_step(); ++j) {
            if (stop_flag()) throw stopped{};
            const std::int64_t p = k * opts_.batch_size + opts_.slice_first + j;
            const std::int64_t index = sample_index(p);
            const std::uint64_t seed = sample_seed(p);
            s.indices[static_cast<std::size_t>(j)] = index;
            s.seeds[static_cast<std::size_t>(j)] = seed;
            sample_views v;
            v.step = k;
            v.input = s.input.batch_slice(j, 1).view(shape{h, w, opts_.channels});
            v.target = s.target.batch_slice(j, 1).view(shape{h, w, opts_.channels});
            if (s.mask.defined()) v.mask = s.mask.batch_slice(j, 1).view(shape{h, w, opts_.mask_channels});
            producer_(index, seed, v);
        }
    }

    bool stop_flag() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return stop_;
    }

    void work() {
        for (;;) {
            std::int64_t k = 0;
            {
                std::unique_lock<std::mutex> lock(mutex_);
                work_cv_.wait(lock, [&] { return stop_ || next_claim_ < handed_ + opts_.prefetch; });
                if (stop_) return;
                k = next_claim_++;
            }
            std::exception_ptr err;
            try {
                fill(k, slots_[static_cast<std::size_t>(k % ring_)]);
            } catch (const stopped&) {
                return;
            } catch (...) {
                err = std::current_exception();
            }
            {
                std::lock_guard<std::mutex> lock(mutex_);
                if (err)
                    errors_.emplace(k, err);
                else
                    ready_.insert(k);
            }
            ready_cv_.notify_all();
        }
    }

    void shutdown() noexcept {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        work_cv_.notify_all();
        ready_cv_.notify_all();
        for (auto& t : workers_)
            if (t.joinable()) t.join();
        workers_.clear();
    }

    batch_loader_options opts_;
    sample_producer producer_;
    std::int64_t ring_ = 0;
    std::vector<slot> slots_;
    std::vector<std::thread> workers_;

    mutable std::mutex mutex_;
    std::condition_variable work_cv_, ready_cv_;
    bool stop_ = false;
    std::int64_t handed_ = 0;      // the step next() returns next
    std::int64_t next_claim_ = 0;  // the next step a worker will build
    std::set<std::int64_t> ready_;
    std::map<std::int64_t, std::exception_ptr> errors_;
    mutable std::map<std::int64_t, std::shared_ptr<const std::vector<std::int64_t>>> permutations_;
};

}  // namespace hg::data
