// Where a tensor's memory lives. Tensors never move between devices implicitly: an op that gets a
// tensor of the wrong device throws hg::device_error naming the op and the argument.
#pragma once

#include <string>

#include "hourglass/core/error.hpp"

namespace hg {

enum class device_kind { cpu, cuda };

inline const char* to_string(device_kind d) { return d == device_kind::cpu ? "cpu" : "cuda"; }

/// Throws device_error unless `actual == expected`; `op` and `arg` name the call site.
inline void require_device(device_kind actual, device_kind expected, const char* op, const char* arg) {
    if (actual != expected)
        throw device_error(std::string(op) + ": argument '" + arg + "' is a " + to_string(actual) +
                           " tensor but the " + to_string(expected) +
                           " backend was asked for (copy it explicitly with upload/download)");
}

}  // namespace hg
