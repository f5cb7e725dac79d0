// Finite-difference gradient checks (double precision) of every layer type: the input gradient and
// every parameter's gradient, with parameter gradients accumulated onto a random offset.
#include <doctest/doctest.h>

#include "support/test_support.hpp"

namespace {
constexpr double tolerance = 1e-6;
}

TEST_CASE("gradcheck: conv2d 3x3 stride 1") {
    const auto r = hg::test::gradcheck<hg::conv2d<4, 3, 1>>(hg::shape{5, 6, 3}, 2, 100);
    CHECK(r.checked_inputs > 0);
    CHECK(r.checked_params > 0);
    CHECK(r.worst_input < tolerance);
    CHECK(r.worst_param < tolerance);
}
