// What the start-up guard checks (cpu/cpu_guard.cpp, linked into every program that links
// hourglass::hourglass): the instruction set extensions the build's -march= enabled, and those of
// them the running processor lacks. A program with any missing prints the list and exits with
// status 1 before main runs (the alternative is SIGILL at the first such instruction); these
// functions let a program, or a test, ask the same question itself.
#pragma once

#include <string>

namespace hg::cpu_guard {

/// The -march= the CPU code was built for ("native", "x86-64-v3", ...; empty: the compiler default).
std::string build_arch();

/// The extensions the build requires, comma-separated ("avx2,fma,..."; empty for a portable build).
std::string required_features();

/// The required extensions this processor lacks, comma-separated; empty when it has them all.
std::string missing_features();

}  // namespace hg::cpu_guard
