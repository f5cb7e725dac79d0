// The command line of hourglass-swap: parses the arguments of one command and runs it.
#pragma once

#include <atomic>

namespace faceswap {

/// Runs `hourglass-swap <command> [options]`; returns the exit status (0 ok, 1 failure, 2 usage).
/// `stop` is the flag the signal handlers set (train stops cleanly after saving when it turns true).
int run_cli(int argc, char** argv, const std::atomic<bool>* stop);

}  // namespace faceswap
