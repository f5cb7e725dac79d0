// A program whose start-up guard requires extensions no processor has together
// (tests/support/cpu_guard_trip/cpu_features.h): the guard must name them and exit with status 1
// before main runs. main stands for the first instruction the processor lacks: it raises SIGILL,
// which is what the program would die of without the guard.
#include <csignal>
#include <cstdio>

int main() {
    std::puts("main ran: the start-up guard did not stop the program");
    std::fflush(stdout);
    std::raise(SIGILL);
    return 0;
}
