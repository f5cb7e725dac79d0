// Helpers shared by the CPU reference tests (test_ops.cpp, test_layers.cpp, test_errors.cpp):
// per-type tolerances, a comparison macro that prints the relative error, a poisoned-tensor
// factory, conversion to double for the references, and exception-message capture.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <type_traits>

#include "ref/naive.hpp"
#include "support/test_support.hpp"

namespace hg::test {

/// Norm-wise relative tolerance against a double-precision reference.
template <class T>
constexpr double tolerance = std::is_same_v<T, float> ? 1e-5 : 1e-12;

/// A CPU tensor of shape `s` filled with NaN.
template <class T>
basic_tensor<T> poisoned(const shape& s) {
    auto t = basic_tensor<T>::empty(s);
    poison(t);
    return t;
}

/// The tensor converted to double (references run in double on the very same input values).
template <class T>
basic_tensor<double> D(const basic_tensor<T>& t) {
    return ref::convert<double>(t);
}

/// True when `text` contains `part`.
inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// Runs f and returns the message of the E it throws, or "(nothing thrown)"; any other exception
/// escapes and fails the test case.
template <class E, class F>
std::string message_of(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    return "(nothing thrown)";
}

}  // namespace hg::test

/// CHECKs that `actual` matches `expected` within the norm-wise relative error `tol`.
#define HG_CHECK_CLOSE(actual, expected, tol)                                                   \
    do {                                                                                       \
        const double hg_rel_err_ = hg::test::relative_error((actual), (expected));             \
        INFO(#actual " vs " #expected ": relative error " << hg_rel_err_ << ", tolerance " << (tol)); \
        CHECK(hg_rel_err_ <= (tol));                                                           \
    } while (0)

/// CHECKs that `actual` and `expected` are element-wise identical (no NaN anywhere).
#define HG_CHECK_EQUAL_TENSORS(actual, expected)                                                  \
    do {                                                                                         \
        INFO(#actual " vs " #expected);                                                          \
        CHECK(hg::test::max_abs_difference((actual), (expected)) == 0.0);                        \
    } while (0)
