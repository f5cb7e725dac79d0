# End-to-end test of `hourglass-swap train` on image folders (ctest faceswap_train_e2e), run with
#   cmake -DEXE=<hourglass-swap> -DTOOL=<faceswap_test_images> -DOUT=<scratch folder> -P train_e2e.cmake
# Two folders of 64 px synthetic face crops; 'micro' (32 px) trained for 4 iterations with
# --save-every 2, then resumed to 6; info; swap on a folder, on one image and with --blend; and the
# bad inputs: a missing folder, corrupt images (in a training folder and in swap's input), a missing
# model, a truncated checkpoint with a backup (used, with a warning naming the file) and without
# one (an error naming the file). Every command runs on the CPU with 1 thread (quickest on a busy 2-core machine).
cmake_minimum_required(VERSION 3.25)
foreach(v EXE TOOL OUT)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "train_e2e.cmake needs -D${v}=...")
  endif()
endforeach()
file(REMOVE_RECURSE "${OUT}")
file(MAKE_DIRECTORY "${OUT}")

set(RUN_TIMEOUT 120)
include(${CMAKE_CURRENT_LIST_DIR}/script_helpers.cmake)

function(tool)
  execute_process(COMMAND "${TOOL}" ${ARGN} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " line "${ARGN}")
    message(FATAL_ERROR "faceswap_test_images ${line} failed (${rc}): ${err}")
  endif()
endfunction()

# check_images(<width> <height> <file>...): every file decodes and has that size.
function(check_images width height)
  foreach(f ${ARGN})
    if(NOT EXISTS "${f}")
      message(FATAL_ERROR "missing image ${f}")
    endif()
  endforeach()
  tool(check ${width} ${height} ${ARGN})
endfunction()

# The data rows of a losses.csv (its header line "iteration,loss_a,loss_b" is not counted).
function(count_lines file expected)
  file(STRINGS "${file}" lines REGEX "^[0-9]")
  list(LENGTH lines n)
  if(NOT n EQUAL expected)
    message(FATAL_ERROR "${file} has ${n} lines, expected ${expected}:\n${lines}")
  endif()
endfunction()

set(A "${OUT}/faces_a")
set(B "${OUT}/faces_b")
set(M "${OUT}/model")
tool(faces "${A}" 1 6 64 11)
tool(faces "${B}" 2 6 64 12)
set(common --arch micro --batch 4 --save-every 2 --preview-every 2 --device cpu --threads 1 --seed 5)

# ---- train, files, info ----
run(0 train train --a "${A}" --b "${B}" --model "${M}" --iterations 4 ${common})
expect("${train_out}" "train" "training 'micro'")
expect("${train_out}" "train" "6 faces A, 6 faces B, from iteration 0")
expect("${train_out}" "train" "saved ${M} at iteration 4")
foreach(f model.hgc losses.csv loss.png preview_2.png preview_4.png)
  if(NOT EXISTS "${M}/${f}")
    message(FATAL_ERROR "train did not write ${M}/${f}")
  endif()
endforeach()
file(GLOB temps "${M}/.*tmp*" "${M}/model.new.hgc")
if(temps)
  message(FATAL_ERROR "train left temporary files: ${temps}")
endif()
count_lines("${M}/losses.csv" 4)
# The preview grid: 6 columns of 32 px faces, one row per preview face (4), 2 px gaps, and a
# 25 px strip of column labels above the faces.
check_images(206 163 "${M}/preview_2.png" "${M}/preview_4.png")
tool(check 0 0 "${M}/loss.png")  # decodes (any size)
run(0 info info --model "${M}")
expect("${info_out}" "info" "architecture:  micro")
expect("${info_out}" "info" "iterations:    4")
file(COPY_FILE "${M}/model.hgc" "${OUT}/model_iteration4.hgc")

# ---- resume ----
run(0 resume train --a "${A}" --b "${B}" --model "${M}" --iterations 6 ${common})
expect("${resume_out}" "resume" "resuming micro from ${M} at iteration 4")
expect("${resume_out}" "resume" "from iteration 4")
expect("${resume_out}" "resume" "saved ${M} at iteration 6")
count_lines("${M}/losses.csv" 6)
check_images(206 163 "${M}/preview_6.png")
run(0 info info --model "${M}")
expect("${info_out}" "info after resume" "architecture:  micro")
expect("${info_out}" "info after resume" "iterations:    6")
expect("${info_out}" "info after resume" "iteration 6: A ")

# ---- swap: a folder, one image, blended ----
run(0 swap swap --model "${M}" --input "${A}" --output "${OUT}/swapped" --device cpu --threads 1)
expect("${swap_out}" "swap" "swapped 6 faces (a2b)")
file(GLOB inputs RELATIVE "${A}" "${A}/*.png")
file(GLOB outputs RELATIVE "${OUT}/swapped" "${OUT}/swapped/*")
if(NOT inputs STREQUAL outputs)
  message(FATAL_ERROR "swap wrote '${outputs}' for the inputs '${inputs}'")
endif()
list(TRANSFORM outputs PREPEND "${OUT}/swapped/")
check_images(32 32 ${outputs})

tool(faces "${OUT}/single" 1 1 48 99)
run(0 swap swap --model "${M}" --input "${OUT}/single/face_000.png" --output "${OUT}/swapped_one" --direction b2a
    --device cpu --threads 1)
expect("${swap_out}" "swap of one image" "swapped 1 faces (b2a)")
file(GLOB outputs "${OUT}/swapped_one/*")
if(NOT outputs STREQUAL "${OUT}/swapped_one/face_000.png")
  message(FATAL_ERROR "swap of one image wrote '${outputs}'")
endif()
check_images(32 32 ${outputs})

run(0 swap swap --model "${M}" --input "${B}" --output "${OUT}/blended" --direction b2a --blend --device cpu --threads 1)
expect("${swap_out}" "swap --blend" "swapped 6 faces (b2a)")
file(GLOB outputs RELATIVE "${OUT}/blended" "${OUT}/blended/*")
if(NOT inputs STREQUAL outputs)  # faces_b has the same names as faces_a
  message(FATAL_ERROR "swap --blend wrote '${outputs}' for the inputs '${inputs}'")
endif()
list(TRANSFORM outputs PREPEND "${OUT}/blended/")
check_images(64 64 ${outputs})  # pasted into the 64 px inputs

# ---- bad inputs ----
run(1 missing train --a "${OUT}/no_such_folder" --b "${B}" --model "${OUT}/model_missing" --iterations 2 ${common})
expect("${missing_err}" "a missing face folder" "the folder '${OUT}/no_such_folder' does not exist")

# A training folder whose only other face is corrupt: too few usable faces, the reason names the file.
tool(faces "${OUT}/faces_bad" 1 1 64 11)
file(COPY_FILE "${A}/face_001.png" "${OUT}/faces_bad/broken.png")
tool(cut "${OUT}/faces_bad/broken.png")
run(1 corrupt train --a "${OUT}/faces_bad" --b "${B}" --model "${OUT}/model_corrupt" --iterations 2 ${common})
expect("${corrupt_err}" "a folder with a corrupt image" "has 1 usable face(s), at least 2 are needed")
expect("${corrupt_err}" "a folder with a corrupt image" "${OUT}/faces_bad/broken.png")
# With enough good faces the corrupt one is skipped, with a warning naming it.
file(MAKE_DIRECTORY "${OUT}/faces_a_plus_broken")
file(COPY_FILE "${OUT}/faces_bad/broken.png" "${OUT}/faces_a_plus_broken/broken.png")
file(GLOB good "${A}/*.png")
file(COPY ${good} DESTINATION "${OUT}/faces_a_plus_broken")
run(0 skipped train --a "${OUT}/faces_a_plus_broken" --b "${B}" --model "${OUT}/model_skipped" --iterations 1 ${common})
expect("${skipped_out}" "a skipped corrupt face" "warning: ${OUT}/faces_a_plus_broken/broken.png")
expect("${skipped_out}" "a skipped corrupt face" "6 faces A")
# swap stops at a corrupt input, naming it.
run(1 swap_corrupt swap --model "${M}" --input "${OUT}/faces_bad" --output "${OUT}/swapped_bad" --device cpu --threads 1)
expect("${swap_corrupt_err}" "swap of a corrupt image" "broken.png")
run(1 swap_nomodel swap --model "${OUT}/no_model" --input "${A}" --output "${OUT}/swapped_nomodel" --device cpu)
expect("${swap_nomodel_err}" "swap without a model" "no checkpoint in ${OUT}/no_model")
run(1 info_nomodel info --model "${OUT}/no_model")
expect("${info_nomodel_err}" "info without a model" "no checkpoint in ${OUT}/no_model")
run(2 bad_arch train --a "${A}" --b "${B}" --model "${OUT}/model_arch" --arch tiny --iterations 1)
expect("${bad_arch_err}" "an unknown architecture" "tiny")
run(2 bad_option train --a "${A}" --b "${B}" --model "${OUT}/model_arch" --iterations zero)
expect("${bad_option_err}" "a bad number" "--iterations needs an integer, got 'zero'")

# A truncated current checkpoint with a backup: the backup (iteration 4) is used, with a warning
# naming the damaged file.
set(M2 "${OUT}/model_truncated")
file(MAKE_DIRECTORY "${M2}")
file(COPY_FILE "${M}/model.hgc" "${M2}/model.hgc")
file(COPY_FILE "${M}/losses.csv" "${M2}/losses.csv")
file(COPY_FILE "${OUT}/model_iteration4.hgc" "${M2}/model.backup.hgc")
tool(cut "${M2}/model.hgc")
run(0 info info --model "${M2}")
expect("${info_out}" "a truncated checkpoint with a backup" "warning: checkpoint_store: the current checkpoint '${M2}/model.hgc' could not be loaded")
expect("${info_out}" "a truncated checkpoint with a backup" "truncated")
expect("${info_out}" "a truncated checkpoint with a backup" "loaded the backup '${M2}/model.backup.hgc' instead")
expect("${info_out}" "a truncated checkpoint with a backup" "iterations:    4")
run(0 swap swap --model "${M2}" --input "${A}/face_000.png" --output "${OUT}/swapped_backup" --device cpu --threads 1)
expect("${swap_out}" "swap from a backup" "warning: checkpoint_store: the current checkpoint '${M2}/model.hgc'")
check_images(32 32 "${OUT}/swapped_backup/face_000.png")
run(0 resume_backup train --a "${A}" --b "${B}" --model "${M2}" --iterations 5 ${common})
expect("${resume_backup_out}" "resume from the backup" "resuming micro from ${M2} at iteration 4")
expect("${resume_backup_out}" "resume from the backup" "warning: checkpoint_store: the current checkpoint '${M2}/model.hgc'")
expect("${resume_backup_out}" "resume from the backup" "saved ${M2} at iteration 5")
count_lines("${M2}/losses.csv" 5)  # the rows of iterations 5 and 6 of the lost checkpoint are replaced

# Without a backup: every command that needs the model fails, naming the file and the reason.
set(M3 "${OUT}/model_truncated_alone")
file(MAKE_DIRECTORY "${M3}")
file(COPY_FILE "${M}/model.hgc" "${M3}/model.hgc")
tool(cut "${M3}/model.hgc")
run(1 info3 info --model "${M3}")
expect("${info3_err}" "a truncated checkpoint without a backup" "${M3}/model.hgc")
expect("${info3_err}" "a truncated checkpoint without a backup" "truncated")
run(1 train3 train --a "${A}" --b "${B}" --model "${M3}" --iterations 8 ${common})
expect("${train3_err}" "train on a truncated checkpoint without a backup" "${M3}/model.hgc")
run(1 swap3 swap --model "${M3}" --input "${A}" --output "${OUT}/swapped3" --device cpu)
expect("${swap3_err}" "swap with a truncated checkpoint without a backup" "${M3}/model.hgc")
file(SIZE "${M3}/model.hgc" size3)
file(SIZE "${M}/model.hgc" size_full)
math(EXPR half "${size_full} / 2")
if(NOT size3 EQUAL half)
  message(FATAL_ERROR "a failed command changed the truncated checkpoint (${size3} bytes, was ${half})")
endif()
message(STATUS "hourglass-swap train/resume/info/swap and the bad inputs behaved as documented")
