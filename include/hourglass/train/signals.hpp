// Stop requests from signals: install_stop_signals() makes SIGINT and SIGTERM set a process-wide
// flag (stop_flag()) that a training cycle checks before each step; it then saves and returns with
// the reason "stop request". Nothing is installed unless a program asks for it. The handler only
// stores to lock-free atomics (async-signal-safe). A second SIGINT while the first is pending
// restores the default action, so a stuck program can still be interrupted.
#pragma once

#include <atomic>
#include <csignal>
#include <string>

namespace hg::train {

inline std::atomic<bool>& stop_flag() {
    static std::atomic<bool> flag{false};
    return flag;
}

/// The signal that set stop_flag() (0: none yet, or set by other means).
inline std::atomic<int>& stop_signal() {
    static std::atomic<int> sig{0};
    return sig;
}

namespace signals_detail {
extern "C" inline void on_stop_signal(int sig) {
    if (stop_flag().load() && sig == SIGINT) std::signal(SIGINT, SIG_DFL);  // second Ctrl-C: default action
    stop_signal().store(sig);
    stop_flag().store(true);
}
}  // namespace signals_detail

/// SIGINT and SIGTERM set stop_flag(); returns that flag.
inline const std::atomic<bool>& install_stop_signals() {
    std::signal(SIGINT, signals_detail::on_stop_signal);
    std::signal(SIGTERM, signals_detail::on_stop_signal);
    return stop_flag();
}

/// "SIGINT", "SIGTERM" or "" for what set stop_flag().
inline std::string stop_signal_name() {
    switch (stop_signal().load()) {
        case SIGINT: return "SIGINT";
        case SIGTERM: return "SIGTERM";
        default: return "";
    }
}

}  // namespace hg::train
