# ctest mpi_rank_killed: one rank of a 2-rank training run dies (SIGKILL after iteration 5; the run
# saves every 3 iterations), first rank 1, then rank 0. The job must end non-zero within 20 seconds
# of its start (not hang in a collective call), with a message naming the lost rank (mpirun's: "process
# rank R ... exited on signal 9"), and the checkpoint of iteration 3 must load in a new process.
#   cmake -DMPIRUN="mpirun;--oversubscribe" -DEXE=hg_test_mpi -DOUT=dir -P mpi_kill.cmake
foreach(var MPIRUN EXE OUT)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "mpi_kill.cmake: -D${var}=... is required")
  endif()
endforeach()

set(bound_seconds 20)
foreach(killed 1 0)
  set(folder "${OUT}/rank${killed}")
  file(REMOVE_RECURSE "${folder}")
  string(TIMESTAMP start "%s" UTC)
  execute_process(COMMAND ${MPIRUN} -np 2 "${EXE}" --kill-rank ${killed} --at 5 "${folder}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
  string(TIMESTAMP end "%s" UTC)
  math(EXPR seconds "${end} - ${start}")
  set(all "${out}${err}")
  message(STATUS "rank ${killed} killed: mpirun returned '${rc}' after ${seconds} s:\n${all}")
  if(rc EQUAL 0 OR rc MATCHES "timeout")
    message(FATAL_ERROR "killing rank ${killed}: the job did not end with an error (result '${rc}')")
  endif()
  if(NOT all MATCHES "process rank ${killed} [^\n]*exited on signal 9")
    message(FATAL_ERROR "killing rank ${killed}: no message names the lost rank")
  endif()
  if(seconds GREATER bound_seconds)
    message(FATAL_ERROR "killing rank ${killed}: the job took ${seconds} s to end (bound ${bound_seconds} s)")
  endif()
  execute_process(COMMAND "${EXE}" --check "${folder}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "checkpoint of iteration 3 loads")
    message(FATAL_ERROR "killing rank ${killed}: the last checkpoint does not load (${rc}):\n${out}${err}")
  endif()
endforeach()
