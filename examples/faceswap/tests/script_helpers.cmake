# Helpers shared by the command-line checks of hourglass-swap (help.cmake, train_e2e.cmake,
# extract_e2e.cmake, saehd_e2e.cmake,
# distributed_e2e.cmake); include() it after setting EXE (the program), TOOL (the
# faceswap_test_images helper) where tool() is used and, optionally, RUN_TIMEOUT (seconds per run,
# default 300).

# tool(args...): runs faceswap_test_images (${TOOL}) and fails unless it succeeds.
function(tool)
  execute_process(COMMAND "${TOOL}" ${ARGN} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " line "${ARGN}")
    message(FATAL_ERROR "faceswap_test_images ${line} failed (${rc}): ${err}")
  endif()
endfunction()

# run(<expected exit status> <name> args...): runs hourglass-swap, saves its stdout in ${name}_out
# and its stderr in ${name}_err, and fails unless it exited with the expected status ("nonzero":
# any failure status, not a timeout). With RUN_LAUNCH set (e.g. "mpirun;-np;2") the program runs
# under that launcher.
function(run expected name)
  if(NOT DEFINED RUN_TIMEOUT)
    set(RUN_TIMEOUT 300)
  endif()
  execute_process(COMMAND ${RUN_LAUNCH} "${EXE}" ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                  TIMEOUT ${RUN_TIMEOUT})
  string(REPLACE ";" " " line "${ARGN}")
  if(RUN_LAUNCH)
    string(REPLACE ";" " " launch "${RUN_LAUNCH}")
    set(line "(under ${launch}) ${line}")
  endif()
  if(expected STREQUAL "nonzero")
    set(ok FALSE)
    if(rc MATCHES "^[0-9]+$" AND NOT rc EQUAL 0)
      set(ok TRUE)
    endif()
  elseif(rc STREQUAL "${expected}")
    set(ok TRUE)
  else()
    set(ok FALSE)
  endif()
  if(NOT ok)
    message(FATAL_ERROR "hourglass-swap ${line}\nexited with '${rc}', expected ${expected}\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  message(STATUS "ok (exit ${rc}): hourglass-swap ${line}")
  set(${name}_out "${out}" PARENT_SCOPE)
  set(${name}_err "${err}" PARENT_SCOPE)
endfunction()

# expect(<text> <what> <needle>...): fails unless the text contains every needle.
function(expect text what)
  foreach(needle ${ARGN})
    string(FIND "${text}" "${needle}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "${what}: expected to find '${needle}' in:\n${text}")
    endif()
  endforeach()
endfunction()
