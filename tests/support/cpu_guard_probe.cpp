// cpu_guard_probe EXPECTED: checks the start-up guard linked into every program of the build
// (cpu/cpu_guard.cpp): its required extensions must be EXPECTED (the list cmake/hourglass_cpu.cmake
// took from the compiler for the build's -march=, comma-separated), and the machine that built the
// program must have them all (that this program runs at all says the guard let it through).
// Exit status 0 when both hold, 1 otherwise.
#include <cstdio>
#include <string>

#include "hourglass/core/cpu_guard.hpp"

int main(int argc, char** argv) {
    const std::string expected = argc > 1 ? argv[1] : "";
    const std::string required = hg::cpu_guard::required_features(), missing = hg::cpu_guard::missing_features();
    std::printf("build arch: '%s'\nrequired: '%s'\nmissing: '%s'\n", hg::cpu_guard::build_arch().c_str(), required.c_str(),
                missing.c_str());
    if (required != expected) {
        std::printf("FAIL: the guard checks '%s', the build enabled '%s'\n", required.c_str(), expected.c_str());
        return 1;
    }
    if (!missing.empty()) {
        std::printf("FAIL: this machine lacks '%s' although the program runs\n", missing.c_str());
        return 1;
    }
    return 0;
}
