// train --distributed: the MPI job around `train` (docs/distributed.md). Every rank of
//   mpirun -np K hourglass-swap train --a A --b B --model M ... --distributed
// runs the same command; the ranks train one model through the library cycle's data-parallel option
// (train/cycle.hpp, dist/mpi.hpp): --batch is the global batch per side, split over the ranks; rank
// 0 alone prints and writes the model folder. The ranks train on the CPU (GPU ranks need NCCL,
// not built yet). An error on any rank ends the whole job (MPI_Abort),
// so that no rank waits forever in a collective call for one that gave up; a rank that dies is
// reported by mpirun, which ends the others.
#pragma once

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>

#include "commands.hpp"
#ifdef HG_WITH_MPI
#include "hourglass/dist/mpi.hpp"
#endif

namespace faceswap {

/// Whether this build can train --distributed.
inline bool has_mpi() {
#ifdef HG_WITH_MPI
    return true;
#else
    return false;
#endif
}

inline void distributed_train_command(train_command_options o, const std::atomic<bool>* stop, const print_fn& print) {
#ifdef HG_WITH_MPI
    if (!hg::dist::mpi_session::launched_by_mpirun())
        throw hg::value_error("--distributed: start the ranks with mpirun, e.g. mpirun -np 2 hourglass-swap train ... --distributed "
                              "(docs/distributed.md)");
    // GPU ranks need NCCL (one GPU per rank, the sums on the device), not built yet: the ranks train
    // on the CPU; "auto" means the CPU here.
    if (o.device == "cuda")
        throw hg::value_error("--distributed trains on the CPU: GPU ranks (NCCL, one GPU per rank) are not built yet; "
                              "use --device cpu (docs/distributed.md)");
    o.device = "cpu";
    if (o.find_lr)
        throw hg::value_error("--find-lr does not run with --distributed: run the finder in one process (train --find-lr), "
                              "then give the rate it picked as --lr");
    hg::dist::mpi_session session;
    auto comm = std::make_shared<hg::dist::mpi_communicator>();
    const bool root = comm->rank() == 0;
    const print_fn rank0 = [&](const std::string& s) {
        if (root) print(s);
    };
    try {
        const auto first = hg::dist::slice_of(o.train.batch, 0, comm->size());
        rank0("distributed: " + std::to_string(comm->size()) + " ranks, global batch " + std::to_string(o.train.batch) +
              " faces per side (" + std::to_string(first.count) + (o.train.batch % comm->size() ? " or more" : "") +
              " per rank); rank 0 (" + comm->describe() + ") writes " + o.model.string());
        o.train.comm = comm;
        train_command(std::move(o), stop, rank0);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hourglass-swap train: %s: %s\n", comm->describe().c_str(), e.what());
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, dynamic_cast<const hg::value_error*>(&e) ? 2 : 1);
    }
#else
    (void)o;
    (void)stop;
    (void)print;
    throw hg::value_error("--distributed: this hourglass-swap was built without MPI (install libopenmpi-dev and openmpi-bin - "
                          "scripts/setup.sh does - and configure again)");
#endif
}

}  // namespace faceswap
