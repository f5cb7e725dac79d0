# Builds and runs the image loader fuzzer (cmake -P script, run by ctest; label "fuzz").
# Inputs: HG_SOURCE_DIR (repository root), HG_WORK_DIR (scratch folder), HG_STB_INCLUDE_DIR,
# HG_STB_LIBRARY, HG_FUZZ_RUNS (executions, default 20000).
# Needs clang-14 with libFuzzer and the sanitizer runtimes (Debian: clang-14 libclang-rt-14-dev);
# without them it prints "fuzz test skipped: ..." and ctest reports the test as skipped.
# The fuzzer compiles stb_image itself (tests/fuzz/stb_image_impl.c) with AddressSanitizer and
# coverage so that it sees inside the decoders; the seeds are written by make_seeds (libstb).
cmake_minimum_required(VERSION 3.25)
if(NOT HG_FUZZ_RUNS)
  set(HG_FUZZ_RUNS 20000)
endif()
set(fuzz_dir "${HG_SOURCE_DIR}/tests/fuzz")

find_program(HG_CLANG NAMES clang-14)
find_program(HG_CLANGXX NAMES clang++-14)
if(NOT HG_CLANG OR NOT HG_CLANGXX)
  message("fuzz test skipped: clang-14 / clang++-14 not found (install clang-14 and libclang-rt-14-dev)")
  return()
endif()

file(MAKE_DIRECTORY "${HG_WORK_DIR}")
function(hg_run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    if(err MATCHES "libclang_rt\\.(fuzzer|asan|ubsan)" OR err MATCHES "cannot find -lclang_rt")
      message("fuzz test skipped: clang-14's sanitizer runtimes are missing (install libclang-rt-14-dev)\n${err}")
      set(HG_FUZZ_SKIP TRUE PARENT_SCOPE)
      return()
    endif()
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
endfunction()

# stb, instrumented (no UBSan here: stb_image's own shifts are not what this test looks at).
set(stb_obj "${HG_WORK_DIR}/stb_image_impl.o")
if(NOT EXISTS "${stb_obj}" OR "${fuzz_dir}/stb_image_impl.c" IS_NEWER_THAN "${stb_obj}")
  hg_run("compiling stb_image for the fuzzer"
    ${HG_CLANG} -c -g -O1 -fsanitize=fuzzer-no-link,address -isystem ${HG_STB_INCLUDE_DIR}
    "${fuzz_dir}/stb_image_impl.c" -o "${stb_obj}")
  if(HG_FUZZ_SKIP)
    return()
  endif()
endif()

# The target, rebuilt every run (it is header-only code under test).
set(fuzzer "${HG_WORK_DIR}/image_load_fuzz")
hg_run("building the fuzzer"
  ${HG_CLANGXX} -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
  -I${HG_SOURCE_DIR}/include -isystem ${HG_STB_INCLUDE_DIR}
  "${fuzz_dir}/image_load_fuzz.cpp" "${stb_obj}" -o "${fuzzer}")
if(HG_FUZZ_SKIP)
  return()
endif()

# Seed corpus: a tiny valid file of each format.
set(seeds "${HG_WORK_DIR}/seeds")
set(corpus "${HG_WORK_DIR}/corpus")
file(GLOB old_artifacts "${HG_WORK_DIR}/crash-*" "${HG_WORK_DIR}/leak-*" "${HG_WORK_DIR}/timeout-*" "${HG_WORK_DIR}/oom-*")
file(REMOVE_RECURSE "${seeds}" "${corpus}" ${old_artifacts})
file(MAKE_DIRECTORY "${seeds}" "${corpus}")
hg_run("building the seed writer"
  ${HG_CLANGXX} -std=c++20 -O1 -isystem ${HG_STB_INCLUDE_DIR} "${fuzz_dir}/make_seeds.cpp" ${HG_STB_LIBRARY}
  -o "${HG_WORK_DIR}/make_seeds")
hg_run("writing the seeds" "${HG_WORK_DIR}/make_seeds" "${seeds}")

# A fixed number of executions with a fixed seed: the same inputs every run.
execute_process(
  COMMAND "${fuzzer}" -runs=${HG_FUZZ_RUNS} -seed=1 -max_len=4096 -timeout=10 -rss_limit_mb=2048
          -print_final_stats=1 "-artifact_prefix=${HG_WORK_DIR}/" "${corpus}" "${seeds}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(LENGTH "${err}" n)
if(n GREATER 6000)
  math(EXPR from "${n} - 6000")
  string(SUBSTRING "${err}" ${from} 6000 err)
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "image_load_fuzz failed (${rc}); crashing inputs are in ${HG_WORK_DIR}:\n${out}\n${err}")
endif()
message("image_load_fuzz: ${HG_FUZZ_RUNS} executions without a failure\n${err}")
