# hourglass-swap train --distributed end to end (ctest faceswap_distributed_e2e; only with MPI), run with
#   cmake -DEXE=<hourglass-swap> -DTOOL=<faceswap_test_images> -DMPIRUN="mpirun;flags" -DOUT=<folder>
#         -P distributed_e2e.cmake
# Two folders of synthetic faces; 'micro' trained by 2 MPI ranks (one thread each) for 4 iterations
# at a global batch of 4 with --holdout: one set of lines printed (rank 0's), the model folder
# written once; resumed by one process without --distributed to 6, then by 2 ranks to 8. And the
# refusals: --distributed without mpirun, --find-lr and --device cuda with --distributed (the job ends).
cmake_minimum_required(VERSION 3.25)
foreach(v EXE TOOL MPIRUN OUT)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "distributed_e2e.cmake needs -D${v}=...")
  endif()
endforeach()
file(REMOVE_RECURSE "${OUT}")
file(MAKE_DIRECTORY "${OUT}")
set(RUN_TIMEOUT 120)
include(${CMAKE_CURRENT_LIST_DIR}/script_helpers.cmake)

# mpirun2(<expected: 0 or "nonzero"> <name> args...): run() of hourglass-swap on 2 MPI ranks.
macro(mpirun2 expected name)
  set(RUN_LAUNCH ${MPIRUN} -np 2)
  run(${expected} ${name} ${ARGN})
  unset(RUN_LAUNCH)
endmacro()

# count(<text> <needle> <var>): how many times the needle occurs.
function(count text needle var)
  string(REPLACE "${needle}" "\n@@@\n" marked "${text}")
  string(REGEX MATCHALL "\n@@@\n" hits "${marked}")
  list(LENGTH hits n)
  set(${var} ${n} PARENT_SCOPE)
endfunction()

set(A "${OUT}/faces_a")
set(B "${OUT}/faces_b")
set(M "${OUT}/model")
tool(faces "${A}" 1 12 64 11)
tool(faces "${B}" 2 12 64 12)
set(common --a "${A}" --b "${B}" --model "${M}" --device cpu --threads 1 --loader-threads 1)

mpirun2(0 two train ${common} --arch micro --iterations 4 --batch 4 --save-every 2 --holdout 20 --distributed)
expect("${two_out}" "train on 2 ranks" "distributed: 2 ranks, global batch 4 faces per side (2 per rank)"
       "training 'micro'" "stopped: 4 iterations reached at iteration 4" "held-out face SSIM at iteration 4")
count("${two_out}" "training 'micro'" n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "train on 2 ranks: 'training' printed ${n} times (only rank 0 prints):\n${two_out}")
endif()
foreach(f model.hgc losses.csv holdout.csv preview_4.png loss.png)
  if(NOT EXISTS "${M}/${f}")
    message(FATAL_ERROR "train on 2 ranks: ${M}/${f} was not written")
  endif()
endforeach()
file(STRINGS "${M}/losses.csv" rows)
list(LENGTH rows n)
if(NOT n EQUAL 5)  # the header and 4 iterations, written once
  message(FATAL_ERROR "train on 2 ranks: losses.csv has ${n} lines, expected 5:\n${rows}")
endif()

run(0 alone train ${common} --iterations 6)
expect("${alone_out}" "resume the 2-rank model alone" "resuming micro from" "at iteration 4" "stopped: 6 iterations reached at iteration 6")

mpirun2(0 again train ${common} --iterations 8 --distributed)
expect("${again_out}" "resume on 2 ranks" "resuming micro from" "at iteration 6" "stopped: 8 iterations reached at iteration 8")
run(0 info info --model "${M}")
expect("${info_out}" "info after the 2-rank resume" "iterations:    8")

run(2 no_mpirun train ${common} --iterations 10 --distributed)
expect("${no_mpirun_err}" "--distributed without mpirun" "start the ranks with mpirun")
mpirun2(nonzero find_lr train --a "${A}" --b "${B}" --model "${OUT}/model_lr" --arch micro --iterations 2 --find-lr --distributed
        --device cpu --threads 1)
expect("${find_lr_err}" "--find-lr --distributed" "--find-lr does not run with --distributed")
mpirun2(nonzero gpu train --a "${A}" --b "${B}" --model "${OUT}/model_gpu" --arch micro --iterations 2 --device cuda --distributed
        --threads 1)
expect("${gpu_err}" "--device cuda --distributed" "GPU ranks (NCCL, one GPU per rank) are not built yet")
