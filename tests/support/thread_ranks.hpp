// K threads of one process acting as K ranks: the communicator of dist/communicator.hpp over shared
// memory and a std::barrier, so that the training cycle's data-parallel logic is tested in the
// ordinary suites, without MPI (tests/dist runs the same through mpirun on dist/mpi.hpp). sum()
// adds the ranks' buffers in rank order, as the MPI communicator does: every rank computes the same
// bits.
#pragma once

#include <barrier>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "hourglass/dist/communicator.hpp"

namespace hg::test {

class thread_ranks {
public:
    explicit thread_ranks(int size) : size_(size), sync_(size), slots_(static_cast<std::size_t>(size)) {}

    /// Rank r's communicator (call from the thread that plays rank r).
    std::shared_ptr<hg::dist::communicator> rank(int r) { return std::make_shared<member>(*this, r); }

private:
    class member final : public hg::dist::communicator {
    public:
        member(thread_ranks& all, int r) : all_(all), rank_(r) {}
        int rank() const override { return rank_; }
        int size() const override { return all_.size_; }
        void sum(float* data, std::int64_t n) override {
            all_.publish(rank_, data);
            std::vector<float> out(static_cast<const float*>(all_.slots_[0]), static_cast<const float*>(all_.slots_[0]) + n);
            for (int j = 1; j < all_.size_; ++j) {
                const auto* from = static_cast<const float*>(all_.slots_[static_cast<std::size_t>(j)]);
                for (std::int64_t i = 0; i < n; ++i) out[static_cast<std::size_t>(i)] += from[i];
            }
            all_.sync_.arrive_and_wait();  // every rank has read every buffer
            std::copy(out.begin(), out.end(), data);
        }
        void broadcast(void* data, std::int64_t bytes, int root) override {
            all_.publish(rank_, data);
            if (rank_ != root) std::memcpy(data, all_.slots_[static_cast<std::size_t>(root)], static_cast<std::size_t>(bytes));
            all_.sync_.arrive_and_wait();
        }
        bool any(bool flag) override {
            flags_ = flag;
            all_.publish(rank_, &flags_);
            bool out = false;
            for (const void* p : all_.slots_) out = out || *static_cast<const bool*>(p);
            all_.sync_.arrive_and_wait();
            return out;
        }

    private:
        thread_ranks& all_;
        int rank_;
        bool flags_ = false;
    };

    /// Puts this rank's pointer where the others find it, then waits for every rank to do so.
    void publish(int r, const void* p) {
        slots_[static_cast<std::size_t>(r)] = p;
        sync_.arrive_and_wait();
    }

    int size_;
    std::barrier<> sync_;
    std::vector<const void*> slots_;
};

}  // namespace hg::test
