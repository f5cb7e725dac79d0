// Build-wide configuration macros shared by host and device code.
// HG_HOST_DEVICE marks per-element functions that both the CPU backend and the CUDA kernels call,
// so every formula is written once (see include/hourglass/math/).
#pragma once

#if defined(__CUDACC__)
#define HG_HOST_DEVICE __host__ __device__
#else
#define HG_HOST_DEVICE
#endif

#define HG_VERSION_MAJOR 0
#define HG_VERSION_MINOR 1
#define HG_VERSION_PATCH 0

// HG_CPU_OPS: whether the op headers (include/hourglass/ops/) declare the CPU overloads. CUDA
// translation units see the op contracts, checks and CUDA declarations only, because the CPU
// bodies use Eigen, which nvcc should not compile.
#if !defined(HG_CPU_OPS)
#if defined(__CUDACC__)
#define HG_CPU_OPS 0
#else
#define HG_CPU_OPS 1
#endif
#endif
