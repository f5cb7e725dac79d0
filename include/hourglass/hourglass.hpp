// Umbrella header: everything in hourglass that does not need the CUDA backend.
// For the CUDA backend include "hourglass/cuda/backend.hpp" and link hourglass::cuda.
#pragma once

#include "hourglass/core/config.hpp"
#include "hourglass/core/device.hpp"
#include "hourglass/core/error.hpp"
#include "hourglass/core/rng.hpp"
#include "hourglass/core/shape.hpp"
#include "hourglass/core/tensor.hpp"
#include "hourglass/cpu/backend.hpp"
#include "hourglass/layers/activation.hpp"
#include "hourglass/layers/conv2d.hpp"
#include "hourglass/layers/dense.hpp"
#include "hourglass/layers/model.hpp"
#include "hourglass/layers/pixel_shuffle.hpp"
#include "hourglass/layers/reshape.hpp"
#include "hourglass/layers/residual.hpp"
#include "hourglass/layers/sequential.hpp"
#include "hourglass/layers/upscale.hpp"
#include "hourglass/ops/conv2d.hpp"
#include "hourglass/ops/dense.hpp"
#include "hourglass/ops/elementwise.hpp"
