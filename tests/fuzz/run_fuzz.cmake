# Builds and runs one libFuzzer target of tests/fuzz (cmake -P script, run by ctest; label "fuzz").
# Inputs: HG_SOURCE_DIR (repository root), HG_WORK_DIR (scratch folder), HG_FUZZ_TARGET (the
# target's name: tests/fuzz/<name>.cpp), HG_FUZZ_SEEDS (the seed kind make_seeds writes: image,
# checkpoint, store, json, alignments), HG_STB_INCLUDE_DIR, HG_STB_LIBRARY, HG_EIGEN_INCLUDE_DIR,
# HG_FUZZ_RUNS (executions, default 20000), HG_FUZZ_MAX_LEN (largest input, default 4096) and, for
# a target that needs the media component, HG_FUZZ_MEDIA=ON (media/video_reader.cpp and
# video_writer.cpp are compiled in, instrumented, and FFmpeg's libraries linked).
# Needs clang-14 with libFuzzer and the sanitizer runtimes (Debian: clang-14 libclang-rt-14-dev);
# without them it prints "fuzz test skipped: ..." and ctest reports the test as skipped.
# stb_image is compiled into every target with AddressSanitizer and coverage (tests/fuzz/
# stb_image_impl.c) so that the fuzzer sees inside its decoders; libjpeg-turbo is Debian's library.
# The seeds are written by tests/fuzz/make_seeds.cpp through the library's own API (and the
# inputs of tests/data/fuzz-findings join the image seeds).
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

if(NOT HG_FUZZ_MAX_LEN)
  set(HG_FUZZ_MAX_LEN 4096)
endif()
set(includes -I${HG_SOURCE_DIR}/include -isystem ${HG_STB_INCLUDE_DIR} -isystem ${HG_EIGEN_INCLUDE_DIR})
set(media_sources "")
set(media_libs "")
if(HG_FUZZ_MEDIA)
  set(media_sources ${HG_SOURCE_DIR}/media/video_reader.cpp ${HG_SOURCE_DIR}/media/video_writer.cpp)
  set(media_libs -lavformat -lavcodec -lswscale -lavutil)
  list(APPEND includes -DHG_FUZZ_MEDIA)
endif()

# stb, instrumented (no UBSan here: stb_image's own shifts are not what these tests look at).
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
set(fuzzer "${HG_WORK_DIR}/${HG_FUZZ_TARGET}")
hg_run("building ${HG_FUZZ_TARGET}"
  ${HG_CLANGXX} -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
  ${includes} "${fuzz_dir}/${HG_FUZZ_TARGET}.cpp" ${media_sources} "${stb_obj}" -lturbojpeg ${media_libs} -o "${fuzzer}")
if(HG_FUZZ_SKIP)
  return()
endif()

# Seed corpus, written by the library itself (not instrumented, not part of what is fuzzed).
set(seeds "${HG_WORK_DIR}/seeds")
set(corpus "${HG_WORK_DIR}/corpus")
file(GLOB old_artifacts "${HG_WORK_DIR}/crash-*" "${HG_WORK_DIR}/leak-*" "${HG_WORK_DIR}/timeout-*" "${HG_WORK_DIR}/oom-*")
file(REMOVE_RECURSE "${seeds}" "${corpus}" ${old_artifacts})
file(MAKE_DIRECTORY "${seeds}" "${corpus}")
hg_run("building the seed writer"
  ${HG_CLANGXX} -std=c++20 -O1 ${includes} "${fuzz_dir}/make_seeds.cpp" ${media_sources} ${HG_STB_LIBRARY} -lturbojpeg
  ${media_libs} -o "${HG_WORK_DIR}/make_seeds")
hg_run("writing the seeds" "${HG_WORK_DIR}/make_seeds" "${HG_FUZZ_SEEDS}" "${seeds}")
if(HG_FUZZ_SEEDS STREQUAL "image")
  file(GLOB findings "${HG_SOURCE_DIR}/tests/data/fuzz-findings/*.png" "${HG_SOURCE_DIR}/tests/data/fuzz-findings/*.jpg"
                     "${HG_SOURCE_DIR}/tests/data/fuzz-findings/*.bmp")
  file(COPY ${findings} DESTINATION "${seeds}")
endif()

# A fixed number of executions with a fixed seed: the same inputs every run.
execute_process(
  COMMAND "${fuzzer}" -runs=${HG_FUZZ_RUNS} -seed=1 -max_len=${HG_FUZZ_MAX_LEN} -timeout=10 -rss_limit_mb=2048
          -print_final_stats=1 "-artifact_prefix=${HG_WORK_DIR}/" "${corpus}" "${seeds}"
  WORKING_DIRECTORY "${HG_WORK_DIR}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(LENGTH "${err}" n)
if(n GREATER 6000)
  math(EXPR from "${n} - 6000")
  string(SUBSTRING "${err}" ${from} 6000 err)
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${HG_FUZZ_TARGET} failed (${rc}); crashing inputs are in ${HG_WORK_DIR}:\n${out}\n${err}")
endif()
message("${HG_FUZZ_TARGET}: ${HG_FUZZ_RUNS} executions without a failure\n${err}")
