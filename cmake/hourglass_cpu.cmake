# The CPU backend's build configuration, included by the top-level CMakeLists.txt after the
# `hourglass` interface target exists:
#   - the instruction set: this machine's (-march=native) by default, as llama.cpp's GGML_NATIVE;
#     -DHG_PORTABLE=ON for packagers (the compiler's default, any x86-64), -DHG_CPU_ARCH=<arch>
#     for a named one (x86-64-v3, znver4, ...);
#   - the GEMMs: on the system's OpenBLAS when it is found (HG_CPU_BLAS AUTO), else Eigen's own;
#   - the start-up guard (cpu/cpu_guard.cpp, hourglass_cpu_guard): a program built for
#     instructions its processor lacks says which and exits, instead of dying on SIGILL.
# The configure output says what was chosen ("hourglass: CPU code for ...").

option(HG_PORTABLE "Build the CPU code for the compiler's default instruction set (any x86-64), not this machine's" OFF)
set(HG_CPU_ARCH "" CACHE STRING
  "CPU target for -march= (native, x86-64-v3, ...); empty: native, or the compiler default with HG_PORTABLE")
set(HG_CPU_BLAS "AUTO" CACHE STRING "Eigen's matrix products on the system BLAS: AUTO (OpenBLAS when found), ON, OFF")
set_property(CACHE HG_CPU_BLAS PROPERTY STRINGS AUTO ON OFF)

# ---- instruction set ----
set(hg_cpu_arch "${HG_CPU_ARCH}")
if(hg_cpu_arch STREQUAL "" AND NOT HG_PORTABLE)
  set(hg_cpu_arch "native")
endif()
if(HG_PORTABLE AND NOT HG_CPU_ARCH STREQUAL "")
  message(FATAL_ERROR "HG_PORTABLE=ON and HG_CPU_ARCH=${HG_CPU_ARCH} contradict each other: choose one")
endif()
# -march= cannot be used: the default (native) falls back to a portable build and says why in the
# configure line; an explicit HG_CPU_ARCH is an error.
macro(hg_cpu_arch_unusable why)
  if(HG_CPU_ARCH STREQUAL "")
    set(hg_cpu_arch_reason " (${why}; portable)")
    set(hg_cpu_arch "")
  else()
    message(FATAL_ERROR "HG_CPU_ARCH=${HG_CPU_ARCH}: ${why}")
  endif()
endmacro()
set(hg_cpu_arch_reason "")
if(NOT hg_cpu_arch STREQUAL "")
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    hg_cpu_arch_unusable("${CMAKE_CXX_COMPILER_ID} has no -march=")
  else()
    include(CheckCXXCompilerFlag)
    check_cxx_compiler_flag("-march=${hg_cpu_arch}" HG_CXX_HAS_MARCH_${hg_cpu_arch})
    if(NOT HG_CXX_HAS_MARCH_${hg_cpu_arch})
      hg_cpu_arch_unusable("the compiler refuses -march=${hg_cpu_arch}")
    endif()
  endif()
endif()
set(HG_CPU_ARCH_USED "${hg_cpu_arch}")

# The extensions the chosen -march= enables (from the compiler's predefined macros), as the names
# GCC's __builtin_cpu_supports knows: what the start-up guard checks.
set(hg_cpu_features "")
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64|i.86" AND CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  set(hg_march_flag "")
  if(NOT hg_cpu_arch STREQUAL "")
    set(hg_march_flag "-march=${hg_cpu_arch}")
  endif()
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} ${hg_march_flag} -dM -E -x c++ /dev/null
    OUTPUT_VARIABLE hg_macros RESULT_VARIABLE hg_macros_rc ERROR_QUIET)
  if(hg_macros_rc EQUAL 0)
    foreach(pair
        __SSE3__:sse3 __SSSE3__:ssse3 __SSE4_1__:sse4.1 __SSE4_2__:sse4.2 __POPCNT__:popcnt __AVX__:avx
        __AVX2__:avx2 __FMA__:fma __BMI__:bmi __BMI2__:bmi2 __F16C__:f16c __AES__:aes __PCLMUL__:pclmul
        __VPCLMULQDQ__:vpclmulqdq __GFNI__:gfni __AVXVNNI__:avxvnni
        __AVX512F__:avx512f __AVX512VL__:avx512vl __AVX512BW__:avx512bw __AVX512DQ__:avx512dq
        __AVX512CD__:avx512cd __AVX512VBMI__:avx512vbmi __AVX512IFMA__:avx512ifma
        __AVX512VBMI2__:avx512vbmi2 __AVX512VNNI__:avx512vnni __AVX512BITALG__:avx512bitalg
        __AVX512VPOPCNTDQ__:avx512vpopcntdq __AVX512BF16__:avx512bf16 __AVX512FP16__:avx512fp16
        __AVX512VP2INTERSECT__:avx512vp2intersect __AMX_TILE__:amx-tile)
      string(REPLACE ":" ";" pair "${pair}")
      list(GET pair 0 macro)
      list(GET pair 1 feature)
      if(hg_macros MATCHES "#define ${macro} ")
        list(APPEND hg_cpu_features "${feature}")
      endif()
    endforeach()
  endif()
endif()
set(HG_CPU_FEATURES "${hg_cpu_features}")

if(NOT hg_cpu_arch STREQUAL "")
  # -ffp-contract=off: no fused multiply-adds the source does not ask for, so the per-element ops
  # round as in a portable build (exact results such as gmsd(t, t) == 0 and the Philox fills stay
  # exact); Eigen's GEMM kernels use FMA through their own intrinsics either way.
  target_compile_options(hourglass INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=${hg_cpu_arch} -ffp-contract=off>)
  # GCC 12 reports a false "may be used uninitialized" inside Eigen's AVX-512 transposes
  # (_mm512_undefined_ps in PacketMath.h), which the project's -Werror would turn into an error.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(hourglass INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Wno-maybe-uninitialized>)
  endif()
endif()

# ---- the start-up guard ----
# Compiled for the compiler's default target (it must run on any x86-64 to say what is missing),
# so it does not link `hourglass` (whose interface carries -march=). Its constructor runs before
# main and before the program's other static constructors (priority 101); the linker option pulls
# it out of the static library although nothing calls it.
string(REPLACE ";" "," HG_CPU_FEATURES_TEXT "${HG_CPU_FEATURES}")
set(HG_CPU_FEATURE_LINES "")
foreach(feature IN LISTS HG_CPU_FEATURES)
  string(APPEND HG_CPU_FEATURE_LINES "    HG_CPU_FEATURE(\"${feature}\") \\\n")
endforeach()
configure_file(cmake/cpu_features.h.in ${CMAKE_CURRENT_BINARY_DIR}/hg_generated/cpu_features.h @ONLY)
add_library(hourglass_cpu_guard STATIC cpu/cpu_guard.cpp)
target_include_directories(hourglass_cpu_guard PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/include
                                                       ${CMAKE_CURRENT_BINARY_DIR}/hg_generated)
target_compile_features(hourglass_cpu_guard PRIVATE cxx_std_20)
set_target_properties(hourglass_cpu_guard PROPERTIES POSITION_INDEPENDENT_CODE ON)
hg_warnings(hourglass_cpu_guard)
target_link_libraries(hourglass INTERFACE hourglass_cpu_guard)
target_link_options(hourglass INTERFACE "LINKER:--undefined=hg_cpu_guard_check")

# ---- BLAS ----
string(TOUPPER "${HG_CPU_BLAS}" hg_blas_mode)
if(hg_blas_mode MATCHES "^(ON|YES|TRUE|Y|1)$")
  set(hg_blas_mode ON)
elseif(hg_blas_mode MATCHES "^(OFF|NO|FALSE|N|0)$")
  set(hg_blas_mode OFF)
elseif(NOT hg_blas_mode STREQUAL "AUTO")
  message(FATAL_ERROR "HG_CPU_BLAS=${HG_CPU_BLAS}: AUTO, ON or OFF")
endif()
set(HG_CPU_BLAS_USED OFF)
set(BLA_VENDOR_USED "")
set(hg_blas_text "Eigen's own GEMM (HG_CPU_BLAS=OFF)")
if(hg_blas_mode STREQUAL "AUTO")
  # Only OpenBLAS on AUTO: the reference BLAS a plain `find_package(BLAS)` may find instead is
  # single-threaded and unblocked, far slower than Eigen's GEMM.
  set(BLA_VENDOR OpenBLAS)
  find_package(BLAS QUIET)
  unset(BLA_VENDOR)
  set(BLA_VENDOR_USED OpenBLAS)
  set(hg_blas_text "Eigen's own GEMM (no OpenBLAS found: scripts/setup.sh installs libopenblas-openmp-dev)")
elseif(hg_blas_mode)
  find_package(BLAS REQUIRED)
endif()
if(NOT hg_blas_mode STREQUAL "OFF" AND BLAS_FOUND)
  set(HG_CPU_BLAS_USED ON)
  target_compile_definitions(hourglass INTERFACE EIGEN_USE_BLAS)
  target_link_libraries(hourglass INTERFACE BLAS::BLAS)
  list(GET BLAS_LIBRARIES 0 hg_blas_first)
  get_filename_component(hg_blas_real "${hg_blas_first}" REALPATH)
  set(hg_blas_text "the system BLAS, ${hg_blas_first} (${hg_blas_real})")
endif()

if(hg_cpu_arch STREQUAL "")
  set(hg_arch_text "the compiler's default instruction set${hg_cpu_arch_reason}")
else()
  set(hg_arch_text "-march=${hg_cpu_arch}")
endif()
if(HG_CPU_FEATURES_TEXT STREQUAL "")
  set(hg_features_text "")
else()
  set(hg_features_text " (${HG_CPU_FEATURES_TEXT}; checked at start-up)")
endif()
message(STATUS "hourglass: CPU code for ${hg_arch_text}${hg_features_text}")
message(STATUS "hourglass: CPU matrix products on ${hg_blas_text}")
