// hg::dist::communicator: what data-parallel training needs from the processes that train one model
// together (ranks 0 .. size-1, one model replica each): an in-place sum of float buffers whose
// result does not depend on timing, a broadcast, and an "any rank says yes" vote. The training
// cycle (train/cycle.hpp) talks only to this interface; dist/mpi.hpp implements it on MPI (CPU
// ranks and process start-up). single_process is the one-rank communicator a run without
// --distributed uses.
//
// Also the split of a global batch into the ranks' slices (batch_slice): rank r of K takes the
// positions [floor(r B / K), floor((r + 1) B / K)) of every global batch of B samples, so K ranks at
// global batch B see exactly the samples one process at batch B sees (data/batch_loader.hpp keys
// every sample by its position in the global sequence).
#pragma once

#include <cstdint>
#include <string>

#include "hourglass/core/error.hpp"

namespace hg::dist {

class communicator {
public:
    virtual ~communicator() = default;
    virtual int rank() const = 0;
    virtual int size() const = 0;
    /// Replaces data[0 .. n) on every rank with the sum over all ranks, added in rank order
    /// (((x_0 + x_1) + x_2) + ...) whatever the timing, so the result is the same bits on every
    /// rank and in every run. Collective: every rank calls it with the same n.
    virtual void sum(float* data, std::int64_t n) = 0;
    /// Copies `bytes` bytes at `data` from rank `root` to every other rank. Collective.
    virtual void broadcast(void* data, std::int64_t bytes, int root) = 0;
    /// True on every rank when `flag` is true on any rank. Collective.
    virtual bool any(bool flag) = 0;
    /// "rank R of K" (and the host where the implementation knows it), for messages.
    virtual std::string describe() const { return "rank " + std::to_string(rank()) + " of " + std::to_string(size()); }
};

/// One process alone: sum, broadcast and any leave everything as it is.
class single_process final : public communicator {
public:
    int rank() const override { return 0; }
    int size() const override { return 1; }
    void sum(float*, std::int64_t n) override {
        if (n < 0) throw value_error("dist::single_process::sum: negative count " + std::to_string(n));
    }
    void broadcast(void*, std::int64_t bytes, int root) override {
        if (bytes < 0 || root != 0)
            throw value_error("dist::single_process::broadcast: " + std::to_string(bytes) + " bytes from rank " +
                              std::to_string(root) + " (the only rank is 0)");
    }
    bool any(bool flag) override { return flag; }
};

/// The positions [first, first + count) of a global batch that one rank takes.
struct batch_slice {
    std::int64_t first = 0;
    std::int64_t count = 0;
};

/// Rank `rank` of `ranks`'s slice of a global batch of `batch` samples: [floor(r B / K),
/// floor((r + 1) B / K)), every rank at least one sample. value_error when the batch is smaller
/// than the number of ranks or an argument is out of range.
inline batch_slice slice_of(std::int64_t batch, int rank, int ranks) {
    if (ranks < 1 || rank < 0 || rank >= ranks)
        throw value_error("dist::slice_of: rank " + std::to_string(rank) + " of " + std::to_string(ranks) + " ranks");
    if (batch < ranks)
        throw value_error("distributed training: the global batch (" + std::to_string(batch) + " per side) is smaller than the " +
                          std::to_string(ranks) + " ranks; every rank needs at least one sample of it");
    const std::int64_t k = ranks;
    const std::int64_t first = batch * rank / k, last = batch * (rank + 1) / k;
    return {first, last - first};
}

}  // namespace hg::dist
