// faceswap_kill_test: SIGKILLs the real `hourglass-swap train --save-every 1` many times, many of
// them while it writes its checkpoint, and checks after every kill that the model folder still
// holds a complete model (ctest faceswap_kill_during_save).
//
//   faceswap_kill_test HOURGLASS_SWAP WORK_DIR [KILLS [SEED]]
//
// Each round starts `train` (tiny 'micro' model, 1 CPU thread) on the same model folder, so every
// round resumes the last checkpoint, and kills it (SIGKILL: no handler, no clean-up) at a moment
// picked by one of three strategies, in turn (the random numbers are seeded):
//   - timed: a random delay between half and twice the measured start-up time (to the first
//     checkpoint): start-up, training steps and saves alike;
//   - during a write: after a random part of the start-up time, the folder is polled until a
//     temporary file of that process appears (a checkpoint is being written), then 0-400 us more,
//     which lands in the write or its fsync;
//   - during the renames: likewise until a new model.new.hgc appears (another inode than before the
//     start: an improved save wrote the new file and flushes the folder; the two renames follow),
//     then 0-100 us more.
// After every kill:
//   1. every checkpoint file present (model.hgc, model.backup.hgc, model.new.hgc) decodes
//      completely (all CRCs) - only temporary files may be incomplete;
//   2. the store loads a model, its iteration never goes back, and when model.hgc is missing (the
//      kill fell between the two renames of an improved save) the store loads the backup, which is
//      the previous checkpoint: model.new.hgc holds the next iteration;
//   3. `hourglass-swap info --model DIR` succeeds and reports that architecture and iteration.
// At the end the chain of killed and resumed runs is trained to a final iteration without a kill,
// and its checkpoint must equal, bit for bit (every tensor and the optimizer states), that of one
// uninterrupted run to the same iteration: no round resumed from a damaged or wrong state. At least
// one kill must have been seen to land inside a save (a temporary file of the killed process left
// behind, or model.hgc missing between the renames), or the test did not test what it claims.
//
// How it fails when the atomic write is broken: if data::write_file_atomic wrote model.hgc in
// place (open with O_TRUNC, write, no temporary file, no rename), a kill during the write leaves
// a model.hgc that is cut short, which check 1 reports at the first kill that lands in a save
// ("model.hgc ... truncated"); the store would also have to fall back to an older backup, which
// check 2 would catch as the iteration going back once no backup is newer. If the store renamed
// the current checkpoint away before the new one was complete, a kill there would leave no
// loadable checkpoint at all (check 2 fails: load() throws).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "hourglass/hourglass.hpp"
#include "hourglass/io/checkpoint_store.hpp"

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

namespace {

struct failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& what) { throw failure(what); }

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

/// fork + execv with stdout and stderr to `log` (truncated); the arguments are built before the fork.
pid_t spawn(const std::vector<std::string>& args, const fs::path& log) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const std::string log_name = log.string();
    const pid_t pid = ::fork();
    if (pid < 0) fail(std::string("fork failed: ") + std::strerror(errno));
    if (pid == 0) {
        const int fd = ::open(log_name.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            ::close(fd);
        }
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    return pid;
}

/// Waits for `pid`; returns the raw wait status.
int wait_for(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) fail(std::string("waitpid failed: ") + std::strerror(errno));
    return status;
}

/// Runs a command to its end; fails unless it exits with 0. Returns its output.
std::string run_ok(const std::vector<std::string>& args, const fs::path& log) {
    const int status = wait_for(spawn(args, log));
    std::string line;
    for (const auto& a : args) line += a + " ";
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail(line + "failed (wait status " + std::to_string(status) + "):\n" + read_text(log));
    return read_text(log);
}

/// Names in `dir` starting with `prefix`.
std::vector<std::string> names_starting(const fs::path& dir, const std::string& prefix) {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (const dirent* e = ::readdir(d))
            if (std::strncmp(e->d_name, prefix.c_str(), prefix.size()) == 0) out.emplace_back(e->d_name);
        ::closedir(d);
    }
    return out;
}

/// True when a temporary checkpoint file of process `pid` is in `dir`.
bool has_temporary_of(const fs::path& dir, pid_t pid) {
    const std::string id = ".tmp-" + std::to_string(pid) + "-";
    for (const auto& n : names_starting(dir, "."))
        if (n.find(id) != std::string::npos) return true;
    return false;
}

/// The inode number of `p`, 0 when it does not exist.
ino_t inode_of(const fs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? st.st_ino : 0;
}

std::int64_t iteration_of(const hg::io::checkpoint& c) { return c.header.at("iteration").as_int(); }

bool same_checkpoint_contents(const hg::io::checkpoint& a, const hg::io::checkpoint& b, std::string& why) {
    if (a.tensors.size() != b.tensors.size()) return why = "different tensor counts", false;
    for (std::size_t i = 0; i < a.tensors.size(); ++i) {
        const auto& [na, ta] = a.tensors[i];
        const auto& [nb, tb] = b.tensors[i];
        if (na != nb) return why = "tensor " + na + " against " + nb, false;
        if (ta.numel() != tb.numel() ||
            std::memcmp(ta.data(), tb.data(), static_cast<std::size_t>(ta.numel()) * sizeof(float)) != 0)
            return why = "the values of tensor " + na + " differ", false;
    }
    if (a.optimizer_state != b.optimizer_state) return why = "the optimizer states differ", false;
    return true;
}

struct test {
    fs::path exe, work, faces_a, faces_b, model;
    int kills = 24;
    std::mt19937_64 rng;

    // One preset for every run: the default (auto) would fit the schedule to each run's
    // --iterations, and the reference run stops at another count than the killed chain.
    std::vector<std::string> train_args(const fs::path& dir, std::int64_t iterations) const {
        return {exe.string(), "train", "--a", faces_a.string(), "--b", faces_b.string(), "--model", dir.string(),
                "--arch", "micro", "--batch", "2", "--iterations", std::to_string(iterations), "--preset", "classic",
                "--save-every", "1", "--preview-every", "1000000000", "--device", "cpu", "--threads", "1",
                "--seed", "3"};
    }

    void write_faces() {
        for (int side = 0; side < 2; ++side) {
            const fs::path dir = side == 0 ? faces_a : faces_b;
            fs::create_directories(dir);
            const hg::data::synthetic_face_set set{static_cast<std::uint64_t>(side + 1), 32, 4, 40u + static_cast<std::uint64_t>(side)};
            for (int i = 0; i < 4; ++i) hg::data::save_png(dir / ("face" + std::to_string(i) + ".png"), set.sample(i).image);
        }
    }

    /// Seconds from the start of `train` on an empty folder to its first complete checkpoint.
    double measure_start_up() {
        const fs::path dir = work / "start-up";
        const auto start = clock_type::now();
        const pid_t pid = spawn(train_args(dir, 1000000000), work / "start-up.log");
        while (!fs::exists(dir / "model.hgc")) {
            if (clock_type::now() - start > std::chrono::seconds(60)) {
                ::kill(pid, SIGKILL);
                wait_for(pid);
                fail("train wrote no checkpoint within 60 s:\n" + read_text(work / "start-up.log"));
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
        ::kill(pid, SIGKILL);
        wait_for(pid);
        return seconds;
    }

    /// Checks 1-3 of the file comment after a kill; returns the loaded iteration (-1: no save yet).
    std::int64_t check_folder(std::int64_t previous, int round, bool& between_renames) {
        const std::string where = "after kill " + std::to_string(round) + ": ";
        hg::io::checkpoint next;
        bool have_next = false;
        for (const char* name : {"model.hgc", "model.backup.hgc", "model.new.hgc"}) {
            if (!fs::exists(model / name)) continue;
            try {
                const auto c = hg::io::load_checkpoint_file(model / name);
                if (std::string(name) == "model.new.hgc") next = c, have_next = true;
            } catch (const std::exception& e) {
                fail(where + name + " is not a complete checkpoint: " + e.what());
            }
        }
        hg::io::checkpoint_store store(model);
        if (!store.exists()) {
            if (previous >= 0) fail(where + "the model folder lost its checkpoints");
            return -1;
        }
        hg::io::checkpoint c;
        try {
            c = store.load();
        } catch (const std::exception& e) {
            fail(where + "the model does not load: " + e.what());
        }
        const std::int64_t it = iteration_of(c);
        if (it < previous)
            fail(where + "the model went back from iteration " + std::to_string(previous) + " to " + std::to_string(it));
        between_renames = !fs::exists(model / "model.hgc");
        if (between_renames) {
            // Only an improved save's window between its two renames leaves no model.hgc: the
            // backup is then the previous checkpoint and model.new.hgc the complete new one.
            if (store.warnings().empty()) fail(where + "model.hgc is missing but the store did not say so");
            if (!have_next) fail(where + "model.hgc is missing and there is no model.new.hgc either");
            if (iteration_of(next) != it + 1)
                fail(where + "the backup (iteration " + std::to_string(it) + ") is not the checkpoint before model.new.hgc (" +
                     std::to_string(iteration_of(next)) + ")");
        } else if (!store.warnings().empty()) {
            fail(where + "model.hgc is there but did not load: " + store.warnings().front());
        }
        const std::string info = run_ok({exe.string(), "info", "--model", model.string()}, work / "info.log");
        if (info.find("architecture:  micro") == std::string::npos ||
            info.find("iterations:    " + std::to_string(it) + "\n") == std::string::npos)
            fail(where + "info does not report micro at iteration " + std::to_string(it) + ":\n" + info);
        return it;
    }

    void run() {
        fs::remove_all(work);
        fs::create_directories(work);
        faces_a = work / "a";
        faces_b = work / "b";
        model = work / "model";
        write_faces();
        const double start_up = measure_start_up();
        std::printf("start-up to the first checkpoint: %.0f ms\n", start_up * 1e3);

        std::int64_t iteration = -1;
        int in_save = 0, between = 0;
        const char* strategies[3] = {"timed", "in a write", "at the renames"};
        for (int round = 1; round <= kills; ++round) {
            const int strategy = (round - 1) % 3;
            const ino_t stale_new = inode_of(model / "model.new.hgc");  // left by an earlier kill, or 0
            const pid_t pid = spawn(train_args(model, 1000000000), work / "train.log");
            const auto start = clock_type::now();
            const auto sleep = [](double seconds) { std::this_thread::sleep_for(std::chrono::duration<double>(seconds)); };
            if (strategy == 0) {
                sleep(std::uniform_real_distribution<double>(0.5 * start_up, 2.0 * start_up)(rng));
            } else {
                // A later save than the first one now and then, so that the chain moves on.
                sleep(std::uniform_real_distribution<double>(0.0, 1.5 * start_up)(rng));
                const auto saving = [&] {
                    return strategy == 1 ? has_temporary_of(model, pid) : inode_of(model / "model.new.hgc") != stale_new;
                };
                while (!saving() && clock_type::now() - start < std::chrono::seconds(20))
                    std::this_thread::sleep_for(std::chrono::microseconds(50));
                sleep(1e-6 * std::uniform_int_distribution<int>(0, strategy == 1 ? 400 : 100)(rng));
            }
            ::kill(pid, SIGKILL);
            const int status = wait_for(pid);
            if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
                fail("round " + std::to_string(round) + ": train ended by itself (wait status " + std::to_string(status) +
                     "):\n" + read_text(work / "train.log"));
            const bool left_temporary = has_temporary_of(model, pid);
            bool between_renames = false;
            iteration = check_folder(iteration, round, between_renames);
            in_save += (left_temporary || between_renames) ? 1 : 0;
            between += between_renames ? 1 : 0;
            std::printf("kill %2d (%s): model at iteration %lld%s%s\n", round, strategies[strategy],
                        static_cast<long long>(iteration), left_temporary ? ", a temporary file was left" : "",
                        between_renames ? ", no model.hgc (a kill between the renames): the backup loaded" : "");
        }
        std::printf("%d kills: after %d of them a save was unfinished (a temporary file left, or no model.hgc: %d)\n",
                    kills, in_save, between);
        if (in_save == 0) fail("no kill landed inside a save: the test did not exercise the save");

        // Finish the chain without a kill and compare with one uninterrupted run.
        const std::int64_t target = std::max<std::int64_t>(iteration, 0) + 3;
        run_ok(train_args(model, target), work / "finish.log");
        const auto stale = names_starting(model, ".model");
        if (!stale.empty()) fail("the killed processes' temporary files are still there after a save: " + stale.front());
        const fs::path reference = work / "reference";
        run_ok(train_args(reference, target), work / "reference.log");
        const auto chained = hg::io::load_checkpoint_file(model / "model.hgc");
        const auto straight = hg::io::load_checkpoint_file(reference / "model.hgc");
        if (iteration_of(chained) != target || iteration_of(straight) != target)
            fail("the final runs did not reach iteration " + std::to_string(target));
        std::string why;
        if (!same_checkpoint_contents(chained, straight, why))
            fail("after " + std::to_string(kills) + " kills and resumes the model differs from an uninterrupted run to iteration " +
                 std::to_string(target) + ": " + why);
        std::printf("after %d kills, the resumed model at iteration %lld equals an uninterrupted run bit for bit\n", kills,
                    static_cast<long long>(target));
    }
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3 || argc > 5) {
        std::fputs("usage: faceswap_kill_test HOURGLASS_SWAP WORK_DIR [KILLS [SEED]]\n", stderr);
        return 2;
    }
    test t;
    t.exe = fs::absolute(argv[1]);
    t.work = fs::absolute(argv[2]);
    if (argc > 3) t.kills = std::atoi(argv[3]);
    t.rng.seed(argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 20261127u);
    if (t.kills < 2) {
        std::fputs("faceswap_kill_test: KILLS must be at least 2\n", stderr);
        return 2;
    }
    try {
        t.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "faceswap_kill_test: FAILED: %s\n", e.what());
        return 1;
    }
    std::error_code ec;
    fs::remove_all(t.work, ec);
    return 0;
}
