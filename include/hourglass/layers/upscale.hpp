// hg::upscale<F>: the face-swap upscaling block, Conv 3x3 to 4F filters (ICNR-initialised) +
// LeakyReLU(0.1) + pixel shuffle x2 (TF depth-to-space order): [H, W, C] -> [2H, 2W, F].
#pragma once

#include <string>

#include "hourglass/layers/activation.hpp"
#include "hourglass/layers/conv2d.hpp"
#include "hourglass/layers/pixel_shuffle.hpp"
#include "hourglass/layers/sequential.hpp"

namespace hg {

template <int Filters>
struct upscale {
    static_assert(Filters >= 1, "upscale: Filters must be at least 1");
    using block = sequential<conv2d<4 * Filters, 3, 1, initializer::icnr>, leaky_relu<0.1f>, pixel_shuffle>;
    static std::string type_name() { return detail::type_name_of("upscale", Filters); }
    template <class B>
    using bind = typename block::template bind<B>;
};

}  // namespace hg
