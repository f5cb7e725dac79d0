// Helpers of the face geometry tests (test_face_alignment.cpp, test_face_masks.cpp): the message of
// the value_error a call throws, and a substring check.
#pragma once

#include <string>

#include "hourglass/core/error.hpp"

namespace hg_test_face {

/// The message of the hg::value_error that f() throws, or "(nothing thrown)".
template <class F>
std::string value_error_message(F&& f) {
    try {
        f();
    } catch (const hg::value_error& e) {
        return e.what();
    }
    return "(nothing thrown)";
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace hg_test_face
