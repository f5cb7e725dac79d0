# Runs `hourglass-swap demo --iterations 3 --out OUT` on the CPU and checks that it succeeds and
# writes preview.png and loss.png; then `--profile layers` (below).
file(REMOVE_RECURSE "${OUT}")
execute_process(COMMAND "${EXE}" demo --iterations 3 --device cpu --out "${OUT}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "hourglass-swap demo failed with exit status ${rc}")
endif()
foreach(f preview.png loss.png)
  if(NOT EXISTS "${OUT}/${f}")
    message(FATAL_ERROR "hourglass-swap demo did not write ${OUT}/${f}")
  endif()
  file(SIZE "${OUT}/${f}" size)
  if(size LESS 100)
    message(FATAL_ERROR "${OUT}/${f} is only ${size} bytes")
  endif()
endforeach()

# --profile layers: the phase table and a per-layer table whose rows name the encoder's and both
# decoders' layers, with fused activations marked; a mode it does not know is refused (exit 2).
file(REMOVE_RECURSE "${OUT}-profile")
execute_process(COMMAND "${EXE}" demo --iterations 2 --device cpu --profile layers --out "${OUT}-profile"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "hourglass-swap demo --profile layers failed with exit status ${rc}:\n${out}\n${err}")
endif()
foreach(want "profile over 2 iterations" "layer profile over 2 iterations" "  encoder/" "  decoder_a/" "  decoder_b/"
             "fused" "fwd GF/s" "all layers")
  string(FIND "${out}" "${want}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "demo --profile layers printed no '${want}':\n${out}")
  endif()
endforeach()
execute_process(COMMAND "${EXE}" demo --iterations 1 --device cpu --profile everything --out "${OUT}-profile"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(FIND "${err}${out}" "--profile" at)
if(NOT rc EQUAL 2 OR at EQUAL -1)
  message(FATAL_ERROR "demo --profile everything: exit ${rc}, expected 2 with a message naming --profile:\n${out}\n${err}")
endif()

# The program runs its OpenMP threads with a short spin unless the environment chose a wait policy
# (openmp_waits.hpp); the profile names the setting it ran with.
function(expect_wait_setting want what)  # ARGN: the `cmake -E env` settings for the run
  execute_process(COMMAND ${CMAKE_COMMAND} -E env ${ARGN}
                          "${EXE}" demo --iterations 1 --device cpu --profile --out "${OUT}-spin"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(FIND "${out}" "${want}" at)
  if(NOT rc EQUAL 0 OR at EQUAL -1)
    message(FATAL_ERROR "demo ${what}: exit ${rc}, expected '${want}':\n${out}\n${err}")
  endif()
endfunction()
expect_wait_setting("OpenMP waits: GOMP_SPINCOUNT=1000" "without a wait policy"
                    --unset=GOMP_SPINCOUNT --unset=OMP_WAIT_POLICY)
expect_wait_setting("OpenMP waits: OMP_WAIT_POLICY=passive\n" "with OMP_WAIT_POLICY=passive (kept as the only setting)"
                    --unset=GOMP_SPINCOUNT OMP_WAIT_POLICY=passive)
