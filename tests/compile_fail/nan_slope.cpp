// Must NOT compile: a LeakyReLU slope that is NaN is rejected by a static_assert
// (ctest's compile_fail_nan_slope expects this build to fail).
#include <limits>

#include "hourglass/hourglass.hpp"

int main() {
    hg::cpu be;
    hg::model<hg::cpu, hg::sequential<hg::leaky_relu<std::numeric_limits<float>::quiet_NaN()>>> m(
        be, hg::shape{4}, 1);
    return static_cast<int>(m.parameter_count());
}
