// The start-up guard of the CPU code (hourglass_cpu_guard; cmake/hourglass_cpu.cmake). The
// library is header-only and built with the consumer's -march= (this machine's by default), so any
// function may contain AVX2 or AVX-512 instructions. This file is compiled for the compiler's
// default target instead, and its constructor runs before main and before the program's other
// static constructors (priority 101): when the processor lacks an extension the build enabled, it
// names them on stderr and exits with status 1, instead of the program dying on SIGILL somewhere
// later. The features come from cmake/cpu_features.h.in (the compiler's predefined macros for the
// chosen -march=), checked with GCC's and Clang's __builtin_cpu_supports.
#include "hourglass/core/cpu_guard.hpp"

#include <unistd.h>

#include <string>

#include "cpu_features.h"

namespace {

struct feature {
    const char* name;
    bool (*present)();
};

#if defined(__x86_64__) || defined(__i386__)
#define HG_CPU_FEATURE(name) feature{name, [] { return __builtin_cpu_supports(name) != 0; }},
// The table ends with a sentinel, so that a portable build (no features) still has one entry.
const feature required[] = {HG_CPU_REQUIRED_FEATURES feature{nullptr, nullptr}};
#undef HG_CPU_FEATURE
#else
const feature required[] = {feature{nullptr, nullptr}};
#endif

std::string join(bool only_missing) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();  // constructors of priority 101 may run before libgcc's own
#endif
    std::string out;
    for (const feature& f : required) {
        if (!f.name || (only_missing && f.present())) continue;
        if (!out.empty()) out += ',';
        out += f.name;
    }
    return out;
}

}  // namespace

namespace hg::cpu_guard {

std::string build_arch() { return HG_CPU_ARCH_TEXT; }
std::string required_features() { return join(false); }
std::string missing_features() { return join(true); }

}  // namespace hg::cpu_guard

extern "C" __attribute__((constructor(101))) void hg_cpu_guard_check() {
    const std::string missing = hg::cpu_guard::missing_features();
    if (missing.empty()) return;
    const std::string message =
        "hourglass: this program was built for processor instructions this CPU lacks (" + missing +
        "; built for " + (hg::cpu_guard::build_arch().empty() ? std::string("the compiler's default target")
                                                             : "-march=" + hg::cpu_guard::build_arch()) +
        "). Build it on the machine that runs it (the default build targets the machine it is built on), or "
        "configure with -DHG_PORTABLE=ON for any x86-64 processor.\n";
    const char* p = message.data();
    std::size_t left = message.size();
    while (left > 0) {
        const ssize_t n = ::write(2, p, left);
        if (n <= 0) break;
        p += n;
        left -= std::size_t(n);
    }
    ::_exit(1);
}
