// Argument checks shared by every op: device, shape and definedness, each failing with an
// hg::error that names the op and the argument.
#pragma once

#include "hourglass/core/config.hpp"

#include <string>

#include "hourglass/core/device.hpp"
#include "hourglass/core/error.hpp"
#include "hourglass/core/shape.hpp"
#include "hourglass/core/tensor.hpp"

namespace hg {

/// The tensor type a backend works with.
template <class B>
using tensor_of = basic_tensor<typename B::scalar>;

}  // namespace hg

namespace hg::ops::detail {

template <class B, class T>
void check_arg(const basic_tensor<T>& t, const shape& expected, const char* op, const char* arg) {
    if (!t.defined()) throw shape_error(std::string(op) + ": argument '" + arg + "' is an empty tensor");
    require_device(t.device(), B::device, op, arg);
    if (t.shape() != expected)
        throw shape_error(std::string(op) + ": argument '" + arg + "' has shape " + t.shape().str() + ", expected " +
                          expected.str());
}

template <class B, class T>
void check_same(const basic_tensor<T>& t, const basic_tensor<T>& ref, const char* op, const char* arg) {
    check_arg<B>(t, ref.shape(), op, arg);
}

}  // namespace hg::ops::detail
