// Data-parallel training on MPI (dist/mpi.hpp), run by ctest under mpirun (tests/CMakeLists.txt):
//
//   mpirun -np K hg_test_mpi [doctest options]   the cases below, every rank running them in step
//   mpirun -np 2 hg_test_mpi --kill-rank R --at N FOLDER
//                                                trains the tiny model in FOLDER (checkpoints every 3
//                                                iterations); rank R kills itself (SIGKILL) after
//                                                iteration N (mpi_kill.cmake checks the job's end)
//   hg_test_mpi --check FOLDER                   loads FOLDER's checkpoint alone, prints its iteration
//
// The cases: the communicator's sum is the rank-order sum, bit for bit, on every rank, for sizes
// that do and do not divide by the ranks; broadcast and any; the training cycle on K MPI ranks at
// global batch B trains the weights one process trains at batch B (the tolerance and why:
// tests/cpu/test_train_distributed.cpp), every rank holding the same bits; its checkpoint continues
// on 1 process as the 1-process run does.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "hourglass/dist/mpi.hpp"
#include "cpu/helpers.hpp"
#include "support/tiny_cycle.hpp"
#include "support/weight_compare.hpp"

namespace fs = std::filesystem;
using hg::test::iterations;
using hg::test::relative_difference;
using hg::test::tiny_run;
using hg::test::weight_tolerance;

namespace {

std::shared_ptr<hg::dist::mpi_communicator> world() {
    static auto comm = std::make_shared<hg::dist::mpi_communicator>();
    return comm;
}

/// A folder every rank names alike (rank 0's process id, broadcast), removed by rank 0 at the end.
struct shared_folder {
    fs::path path;
    explicit shared_folder(const std::string& name) {
        long id = ::getpid();
        world()->broadcast(&id, sizeof id, 0);
        path = fs::temp_directory_path() / ("hg_test_mpi_" + name + "_" + std::to_string(id));
        if (world()->rank() == 0) {
            fs::remove_all(path);
            fs::create_directories(path);
        }
        world()->any(false);  // a barrier: the folder exists before any rank uses it
    }
    ~shared_folder() {
        world()->any(false);
        std::error_code ec;
        if (world()->rank() == 0) fs::remove_all(path, ec);
    }
};

/// Rank r's buffer of the sum test: n values from a seed of (r, n).
std::vector<float> rank_values(int r, std::int64_t n) {
    hg::rng g(1234 + static_cast<std::uint64_t>(n), static_cast<std::uint64_t>(r));
    std::vector<float> v(static_cast<std::size_t>(n));
    for (auto& x : v) x = g.uniform(-1.f, 1.f) * std::pow(10.f, g.uniform(-3.f, 3.f));  // magnitudes that round
    return v;
}



/// True on every rank when `w` is the same bits as rank 0's.
bool same_as_rank0(std::vector<float> w) {
    std::vector<float> root = w;
    world()->broadcast(root.data(), std::int64_t(root.size() * sizeof(float)), 0);
    return !world()->any(std::memcmp(root.data(), w.data(), w.size() * sizeof(float)) != 0);
}

}  // namespace

TEST_CASE("mpi: the sum is the rank-order sum, the same bits on every rank") {
    const int k = world()->size();
    for (std::int64_t n : {1, 7, 1000, 1001, 65537}) {
        CAPTURE(n);
        auto mine = rank_values(world()->rank(), n);
        world()->sum(mine.data(), n);
        auto expected = rank_values(0, n);
        for (int r = 1; r < k; ++r) {
            const auto other = rank_values(r, n);
            for (std::size_t i = 0; i < expected.size(); ++i) expected[i] += other[i];
        }
        CHECK(std::memcmp(mine.data(), expected.data(), expected.size() * sizeof(float)) == 0);
    }
    float none = 0;
    world()->sum(&none, 0);
    CHECK(none == 0);
}

TEST_CASE("mpi: broadcast from any rank, and a vote") {
    const int k = world()->size();
    long value = 1000 + world()->rank();
    world()->broadcast(&value, sizeof value, k - 1);
    CHECK(value == 1000 + k - 1);
    CHECK(world()->any(world()->rank() == k - 1));
    CHECK_FALSE(world()->any(false));
    CHECK(hg::test::message_of<hg::value_error>([] { world()->broadcast(nullptr, 4, 99); }).find("from rank 99") != std::string::npos);
    CHECK(world()->describe().find("rank " + std::to_string(world()->rank()) + " of " + std::to_string(k)) == 0);
}

TEST_CASE("mpi: K ranks train the weights one process trains at the same global batch; the checkpoint continues alone") {
    shared_folder ranks("ranks"), alone("alone"), resumed("resumed");
    const std::int64_t batch = 6;
    std::vector<float> together;
    {
        tiny_run run(ranks.path, iterations(9), {24, 16}, batch, {}, 0, world());
        CHECK(run.cycle->run().reason == hg::train::stop_reason::iterations);
        CHECK(run.cycle->iteration() == 9);
        together = run.weights();
    }
    CHECK(same_as_rank0(together));
    if (world()->rank() == 0) {
        tiny_run one(alone.path, iterations(12), {24, 16}, batch);
        one.cycle->run();
        // The K-rank checkpoint of iteration 9, continued to 12 by this process alone.
        fs::copy(ranks.path, resumed.path, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
        tiny_run cont(resumed.path, iterations(12), {24, 16}, batch);
        CHECK(cont.cycle->resumed());
        cont.cycle->run();
        const double d = relative_difference(cont.weights(), one.weights());
        MESSAGE(world()->size() << " MPI ranks for 9 iterations, then 1 process: largest weight difference " << d
                                << " of the weights' scale against 12 iterations of 1 process");
        CHECK(d <= weight_tolerance);
        const auto log = hg::train::read_loss_log(ranks.path / "losses.csv");
        CHECK(log.size() == 9);
    }
}

namespace {

int kill_run(int kill_rank, std::int64_t at, const fs::path& folder) {
    auto comm = world();
    auto on_step = [&](hg::train::cycle<hg::cpu>& c) {
        if (comm->rank() == kill_rank && c.iteration() == at) {
            std::fprintf(stderr, "rank %d: killing itself after iteration %lld\n", kill_rank, static_cast<long long>(at));
            std::raise(SIGKILL);
        }
    };
    tiny_run run(folder, iterations(1000000), {24, 16}, 6, on_step, 0, comm);
    run.cycle->run();
    std::fprintf(stderr, "rank %d: the run ended without the kill\n", comm->rank());
    return 1;
}

int check_checkpoint(const fs::path& folder) {
    tiny_run run(folder, iterations(1), {24, 16}, 6);
    std::printf("checkpoint of iteration %lld loads\n", static_cast<long long>(run.cycle->iteration()));
    return run.cycle->resumed() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc == 3 && std::strcmp(argv[1], "--check") == 0) return check_checkpoint(argv[2]);
        hg::dist::mpi_session mpi(&argc, &argv);
        if (argc == 6 && std::strcmp(argv[1], "--kill-rank") == 0 && std::strcmp(argv[3], "--at") == 0)
            return kill_run(std::atoi(argv[2]), std::atoll(argv[4]), argv[5]);
        doctest::Context context(argc, argv);
        const int failed = context.run();
        world()->any(false);  // every rank ends its cases before any finalises
        return failed;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hg_test_mpi: %s\n", e.what());
        return 1;
    }
}
