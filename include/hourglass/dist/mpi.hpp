// hg::dist::mpi_communicator: the communicator (dist/communicator.hpp) on MPI, for CPU ranks started
// by mpirun (Debian's OpenMPI). Needs <mpi.h>: link the hourglass::mpi target (CMake, HG_WITH_MPI).
//
// - mpi_session: MPI_Init_thread (MPI_THREAD_FUNNELED: only the thread that trains calls MPI; the
//   batch loaders' threads never do) when MPI is not initialised yet, MPI_Finalize at the end when
//   it initialised it. launched_by_mpirun() tells whether the process was started by an MPI
//   launcher (the environment OpenMPI, MPICH or Slurm set), so a program can refuse --distributed
//   without one instead of silently training alone.
// - mpi_communicator: a duplicate of MPI_COMM_WORLD with MPI_ERRORS_RETURN, so a failed call
//   throws hg::distributed_error (naming the call, the rank and MPI's text) instead of aborting.
//
// sum() is deterministic by construction, not by hoping MPI_Allreduce's algorithm keeps its order:
// the buffer is cut into K chunks (K = ranks); an MPI_Alltoallv gives rank j every rank's copy of
// chunk j; rank j adds them in rank order 0, 1, ..., K-1 into its chunk of the buffer; an
// MPI_Allgatherv (in place) hands the summed chunks to everyone. Each element is added once, by one rank, in a fixed order, so the result is the same
// bits on every rank whatever the timing or the network. It moves 2 (K-1)/K of the buffer per rank,
// as a ring all-reduce does.
#pragma once

// The C API only: without these, OpenMPI's and MPICH's mpi.h pull in the deprecated C++ bindings,
// which need another library (libmpi_cxx) than the hourglass::mpi target links.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "hourglass/dist/communicator.hpp"

namespace hg::dist {

namespace detail {

inline std::string mpi_error_text(int code) {
    char text[MPI_MAX_ERROR_STRING] = {};
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
    return std::string(text, static_cast<std::size_t>(std::max(length, 0)));
}

}  // namespace detail

/// Initialises MPI for this process (when nothing did yet) and finalises it at the end.
class mpi_session {
public:
    mpi_session(int* argc = nullptr, char*** argv = nullptr) {
        int initialised = 0;
        MPI_Initialized(&initialised);
        if (!initialised) {
            int provided = 0;
            const int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
            if (rc != MPI_SUCCESS) throw distributed_error("MPI_Init_thread failed: " + detail::mpi_error_text(rc));
            owner_ = true;
        }
    }
    ~mpi_session() {
        int finalised = 0;
        MPI_Finalized(&finalised);
        if (owner_ && !finalised) MPI_Finalize();
    }
    mpi_session(const mpi_session&) = delete;
    mpi_session& operator=(const mpi_session&) = delete;

    /// True when an MPI launcher (mpirun/mpiexec of OpenMPI or MPICH, or Slurm's srun) started
    /// this process: its environment names the rank.
    static bool launched_by_mpirun() {
        for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS", "SLURM_NTASKS"})
            if (std::getenv(v)) return true;
        return false;
    }

private:
    bool owner_ = false;
};

class mpi_communicator final : public communicator {
public:
    /// A duplicate of `world` (MPI must be initialised: an mpi_session) whose errors throw.
    explicit mpi_communicator(MPI_Comm world = MPI_COMM_WORLD) {
        check(MPI_Comm_dup(world, &comm_), "MPI_Comm_dup");
        check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
        check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
        check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
        char name[MPI_MAX_PROCESSOR_NAME] = {};
        int length = 0;
        if (MPI_Get_processor_name(name, &length) == MPI_SUCCESS) host_.assign(name, static_cast<std::size_t>(std::max(length, 0)));
    }
    ~mpi_communicator() override {
        int finalised = 0;
        MPI_Finalized(&finalised);
        if (!finalised && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
    }
    mpi_communicator(const mpi_communicator&) = delete;
    mpi_communicator& operator=(const mpi_communicator&) = delete;

    int rank() const override { return rank_; }
    int size() const override { return size_; }
    std::string describe() const override {
        return communicator::describe() + (host_.empty() ? std::string() : " on " + host_);
    }

    void sum(float* data, std::int64_t n) override {
        if (n < 0) throw value_error("dist::mpi_communicator::sum: negative count " + std::to_string(n));
        if (size_ == 1) return;
        // Pieces of at most 2^28 floats: MPI counts are ints, and the receive buffer stays <= 1 GiB.
        constexpr std::int64_t piece = std::int64_t(1) << 28;
        for (std::int64_t first = 0; first < n; first += piece) sum_piece(data + first, std::min(piece, n - first));
    }

    void broadcast(void* data, std::int64_t bytes, int root) override {
        if (bytes < 0 || root < 0 || root >= size_)
            throw value_error("dist::mpi_communicator::broadcast: " + std::to_string(bytes) + " bytes from rank " +
                              std::to_string(root) + " of " + std::to_string(size_));
        auto* p = static_cast<char*>(data);
        for (std::int64_t done = 0; done < bytes;) {  // MPI counts are ints: 1 GiB per call
            const int part = static_cast<int>(std::min<std::int64_t>(bytes - done, std::int64_t(1) << 30));
            check(MPI_Bcast(p + done, part, MPI_BYTE, root, comm_), "MPI_Bcast");
            done += part;
        }
    }

    bool any(bool flag) override {
        int in = flag ? 1 : 0, out = 0;
        check(MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_LOR, comm_), "MPI_Allreduce");
        return out != 0;
    }

private:
    /// sum() of n <= 2^28 floats: chunk j = [floor(j n / K), floor((j + 1) n / K)) belongs to rank j.
    void sum_piece(float* data, std::int64_t n) {
        const int k = size_;
        counts_.resize(static_cast<std::size_t>(k));
        offsets_.resize(static_cast<std::size_t>(k));
        for (int j = 0; j < k; ++j) {
            const std::int64_t from = n * j / k, to = n * (j + 1) / k;
            offsets_[static_cast<std::size_t>(j)] = static_cast<int>(from);
            counts_[static_cast<std::size_t>(j)] = static_cast<int>(to - from);
        }
        const int mine = counts_[static_cast<std::size_t>(rank_)];
        // Rank j sends its copy of chunk r to rank r: recv_ holds K copies of this rank's chunk.
        recv_.resize(static_cast<std::size_t>(std::int64_t(mine) * k));
        recv_counts_.assign(static_cast<std::size_t>(k), mine);
        recv_offsets_.resize(static_cast<std::size_t>(k));
        for (int j = 0; j < k; ++j) recv_offsets_[static_cast<std::size_t>(j)] = j * mine;
        check(MPI_Alltoallv(data, counts_.data(), offsets_.data(), MPI_FLOAT, recv_.data(), recv_counts_.data(),
                            recv_offsets_.data(), MPI_FLOAT, comm_),
              "MPI_Alltoallv");
        float* own = data + offsets_[static_cast<std::size_t>(rank_)];
        std::copy(recv_.begin(), recv_.begin() + mine, own);  // rank 0's copy, then ranks 1, 2, ... added in order
        for (int j = 1; j < k; ++j) {
            const float* from = recv_.data() + std::int64_t(j) * mine;
            for (int i = 0; i < mine; ++i) own[i] += from[i];
        }
        check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, counts_.data(), offsets_.data(), MPI_FLOAT, comm_),
              "MPI_Allgatherv");
    }

    void check(int rc, const char* call) const {
        if (rc != MPI_SUCCESS)
            throw distributed_error(std::string(call) + " failed on rank " + std::to_string(rank_) + " of " + std::to_string(size_) +
                                    ": " + detail::mpi_error_text(rc));
    }

    MPI_Comm comm_ = MPI_COMM_NULL;
    int rank_ = 0, size_ = 1;
    std::string host_;
    std::vector<float> recv_;
    std::vector<int> counts_, offsets_, recv_counts_, recv_offsets_;
};

}  // namespace hg::dist
