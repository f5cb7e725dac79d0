// Comparing the weights of two training runs (data-parallel tests: tests/cpu/test_train_distributed.cpp
// and tests/dist/test_mpi_training.cpp): the largest difference relative to the largest weight, and
// the tolerance for the tiny cycle model after 9 Adam steps (why: test_train_distributed.cpp).
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace hg::test {

/// Largest |a - b| over the weights, relative to the largest |a|.
inline double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
    REQUIRE(a.size() == b.size());
    double diff = 0, scale = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff = std::max(diff, std::abs(double(a[i]) - double(b[i])));
        scale = std::max(scale, std::abs(double(a[i])));
    }
    return diff / scale;
}

inline constexpr double weight_tolerance = 1e-5;

}  // namespace hg::test
