// The library's error hierarchy. Everything the library throws derives from hg::error
// (itself a std::runtime_error); the library never exits, aborts or prints on its own.
#pragma once

#include <stdexcept>
#include <string>

namespace hg {

/// Base of every exception thrown by hourglass.
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A tensor or layer received data of the wrong shape (the message names the layer and both shapes).
class shape_error : public error {
public:
    using error::error;
};

/// A tensor lives on the wrong device, or a device-only feature was asked for without it.
class device_error : public error {
public:
    using error::error;
};

/// A file could not be read or written (the message names the file and the reason).
class io_error : public error {
public:
    using error::error;
};

/// A file or buffer does not have the expected format (corrupt, truncated, foreign, newer version).
class format_error : public error {
public:
    using error::error;
};

/// A CUDA runtime call or kernel launch failed (the message names the call, file:line and CUDA's text).
class cuda_error : public error {
public:
    using error::error;
};

/// A cuDNN call failed (the message names the call, file:line and cuDNN's text).
class cudnn_error : public error {
public:
    using error::error;
};

/// A hyperparameter or argument has an invalid value (non-finite, out of range).
class value_error : public error {
public:
    using error::error;
};

/// Data-parallel training failed: a collective call of MPI or NCCL returned an error, a rank was
/// lost, or the ranks disagree (the message names the call, the rank and the library's own text).
class distributed_error : public error {
public:
    using error::error;
};

}  // namespace hg
