// hourglass-swap: train a face-swap autoencoder (one shared encoder, one decoder per identity),
// preview it, and swap faces with it. `hourglass-swap demo` trains on built-in synthetic faces;
// docs/faceswap.md describes every command. SIGINT and SIGTERM set a flag that the training loop
// checks after each step: it then saves a checkpoint and exits.
#include <atomic>
#include <csignal>

#include "cli.hpp"

namespace {
std::atomic<bool> stop_requested{false};
extern "C" void on_signal(int) { stop_requested.store(true); }
}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    return faceswap::run_cli(argc, argv, &stop_requested);
}
