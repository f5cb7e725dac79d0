// Consumer of an installed hourglass: builds a small autoencoder, runs forward and backward on the
// CPU, and (when the install has the CUDA backend) asks how many CUDA devices there are.
#include <cmath>
#include <cstdio>

#include "hourglass/hourglass.hpp"
#if defined(HG_WITH_CUDA)
#include "hourglass/cuda/device.hpp"
#endif

using net = hg::sequential<hg::conv2d<8, 3, 2>, hg::leaky_relu<0.1f>, hg::upscale<4>, hg::conv2d<3, 3>, hg::sigmoid>;

int main() {
    hg::cpu be;
    hg::model<hg::cpu, net> m(be, hg::shape{16, 16, 3}, 42);
    auto x = hg::tensor::full(hg::shape{2, 16, 16, 3}, 0.25f);
    const auto& y = m.forward(x);
    m.backward(y);
    const double g = m.params().grads()[0];
    if (y.shape() != hg::shape{2, 16, 16, 3} || !std::isfinite(g)) {
        std::printf("consumer: unexpected result\n");
        return 1;
    }
    std::printf("consumer: %lld parameters, output %s\n", static_cast<long long>(m.parameter_count()),
                y.shape().str().c_str());
#if defined(HG_WITH_CUDA)
    std::printf("consumer: cuda backend linked, %s\n", hg::cuda_device_status().c_str());
#endif
    return 0;
}
