# ctest driver: every label that README.md documents must select at least one test of this build.
# Reads the labels from the "ctest labels:" paragraph of HG_README (backquoted words followed by
# "(", up to the next blank line) and runs `HG_CTEST -N -L ^label$` in HG_BUILD_DIR for each.
# `cuda` selects tests only in a build with the CUDA backend: without it (HG_WITH_CUDA OFF) its
# absence is expected and reported, not a failure; the same for `media` without the media component
# (HG_WITH_MEDIA OFF) and `mpi` without MPI (HG_WITH_MPI OFF).
#   cmake -DHG_README=README.md -DHG_BUILD_DIR=build -DHG_CTEST=ctest [-DHG_WITH_CUDA=ON] [-DHG_WITH_MEDIA=ON]
#         [-DHG_WITH_MPI=ON]
#         -P tests/labels/check_labels.cmake
foreach(var HG_README HG_BUILD_DIR HG_CTEST)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "check_labels.cmake: -D${var}=... is required")
  endif()
endforeach()

file(READ "${HG_README}" readme)
string(FIND "${readme}" "ctest labels:" start)
if(start EQUAL -1)
  message(FATAL_ERROR "${HG_README}: no \"ctest labels:\" paragraph")
endif()
string(SUBSTRING "${readme}" ${start} -1 paragraph)
string(REGEX REPLACE "\r" "" paragraph "${paragraph}")
string(FIND "${paragraph}" "\n\n" end)
if(NOT end EQUAL -1)
  string(SUBSTRING "${paragraph}" 0 ${end} paragraph)
endif()

string(REGEX MATCHALL "`[A-Za-z0-9_.-]+`[ \t\n]+\\(" matches "${paragraph}")
set(labels "")
foreach(m IN LISTS matches)
  string(REGEX REPLACE "^`([^`]+)`.*" "\\1" label "${m}")
  list(APPEND labels "${label}")
endforeach()
list(REMOVE_DUPLICATES labels)
if(NOT labels)
  message(FATAL_ERROR "${HG_README}: found no labels (`label` (...)) in the \"ctest labels:\" paragraph")
endif()
message(STATUS "labels documented in ${HG_README}: ${labels}")

set(missing "")
foreach(label IN LISTS labels)
  string(REGEX REPLACE "([.+*?^$()[\\]{}|\\\\])" "\\\\\\1" label_re "${label}")
  execute_process(COMMAND "${HG_CTEST}" -N -L "^${label_re}$"
    WORKING_DIRECTORY "${HG_BUILD_DIR}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "Total Tests: ([0-9]+)")
    message(FATAL_ERROR "`${HG_CTEST} -N -L ^${label_re}$` in ${HG_BUILD_DIR} failed (${rc}):\n${out}${err}")
  endif()
  set(count ${CMAKE_MATCH_1})
  if(label STREQUAL "cuda" AND NOT HG_WITH_CUDA)
    if(count EQUAL 0)
      message(STATUS "label 'cuda': no tests, as expected: this build has no CUDA backend "
                     "(HG_WITH_CUDA is OFF), so the hg_test_cuda suite does not exist")
    else()
      message(STATUS "label 'cuda': ${count} tests although HG_WITH_CUDA is OFF")
    endif()
  elseif(label STREQUAL "media" AND NOT HG_WITH_MEDIA AND count EQUAL 0)
    message(STATUS "label 'media': no tests, as expected: this build has no media component "
                   "(HG_WITH_MEDIA is OFF: dlib or FFmpeg's libraries were not found)")
  elseif(label STREQUAL "mpi" AND NOT HG_WITH_MPI AND count EQUAL 0)
    message(STATUS "label 'mpi': no tests, as expected: this build has no MPI (HG_WITH_MPI is OFF)")
  elseif(count EQUAL 0)
    message(STATUS "label '${label}' selects no test (ctest -N -L ^${label_re}$ lists 0)")
    list(APPEND missing "${label}")
  else()
    message(STATUS "label '${label}': ${count} tests")
  endif()
endforeach()

if(missing)
  list(JOIN missing ", " missing_text)
  message(FATAL_ERROR "${HG_README} documents ctest labels that select no test in ${HG_BUILD_DIR}: "
                      "${missing_text}")
endif()
