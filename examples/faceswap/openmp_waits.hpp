// How the program's OpenMP threads wait (GCC's libgomp). At every barrier a thread that is done
// spins up to 300,000 times (a few milliseconds) before it sleeps, which on an idle machine saves
// a wake-up; but while another program holds one of the cores, the spinning threads take turns
// with it for that core, and each of the thousands of parallel regions of a training step waits
// for a thread the kernel has not scheduled: a 'slim' step took 6.3x its idle time beside one
// busy loop (docs/performance.md, "Under load"). With 1,000 spins the idle step is as fast and the
// loaded one takes 1.8x. libgomp reads GOMP_SPINCOUNT once, when it is loaded, before main(): so
// unless the user chose a wait policy (OMP_WAIT_POLICY or GOMP_SPINCOUNT in the environment), the
// program sets the short spin and executes itself again, once.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace faceswap {

/// The spin count the program runs with unless the environment sets a wait policy.
inline constexpr const char* default_spin_count = "1000";

/// Re-executes the program with GOMP_SPINCOUNT=default_spin_count when the environment sets
/// neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT. Returns only when nothing was to be done or the
/// re-execution failed (then the program runs on with libgomp's default waits).
inline void use_short_openmp_spin(char** argv) {
    if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
    if (setenv("GOMP_SPINCOUNT", default_spin_count, 1) != 0) return;
    execv("/proc/self/exe", argv);
    // Only reached when the re-execution failed: this process keeps libgomp's default waits, so the
    // environment must not claim otherwise (openmp_wait_description, child processes).
    unsetenv("GOMP_SPINCOUNT");
}

/// "OpenMP waits: GOMP_SPINCOUNT=1000" - the wait settings this process runs with.
inline std::string openmp_wait_description() {
    std::string out = "OpenMP waits:";
    bool any = false;
    for (const char* name : {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"})
        if (const char* v = std::getenv(name)) {
            out += std::string(" ") + name + "=" + v;
            any = true;
        }
    return any ? out : out + " libgomp's default (about 300,000 spins before sleeping)";
}

}  // namespace faceswap
