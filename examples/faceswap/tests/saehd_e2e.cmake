# End-to-end test of DeepFaceLab's SAEHD architectures in `hourglass-swap` (ctest faceswap_saehd_e2e):
#   cmake -DEXE=<hourglass-swap> -DTOOL=<faceswap_test_images> -DOUT=<scratch folder> -P saehd_e2e.cmake
# Two folders of 128 px synthetic faces; 'liae-ud-128' with the mask head trained for 2 iterations at
# batch 1, resumed to 3, info, swap in both directions (a2b is DeepFaceLab's dst-to-src code), swap
# --blend and the dry run's memory estimate; 'df-ud-128' without a mask head for 1 iteration and a
# swap. A folder holding one model refuses --arch of another or --mask it has not (exit 2), and
# resumes what it holds without --arch.
cmake_minimum_required(VERSION 3.25)
foreach(v EXE TOOL OUT)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "saehd_e2e.cmake needs -D${v}=...")
  endif()
endforeach()
file(REMOVE_RECURSE "${OUT}")
file(MAKE_DIRECTORY "${OUT}")

set(RUN_TIMEOUT 240)
include(${CMAKE_CURRENT_LIST_DIR}/script_helpers.cmake)

function(check_pngs width height dir count)
  file(GLOB outputs "${dir}/*.png")
  list(LENGTH outputs n)
  if(NOT n EQUAL ${count})
    message(FATAL_ERROR "${dir} holds ${n} pictures, expected ${count}")
  endif()
  tool(check ${width} ${height} ${outputs})
endfunction()

set(A "${OUT}/faces_a")
set(B "${OUT}/faces_b")
tool(faces "${A}" 1 3 128 11)
tool(faces "${B}" 2 3 128 12)
set(common --batch 1 --save-every 2 --preview-every 2 --device cpu --threads 2 --seed 5)

# ---- LIAE with the mask head ----
set(L "${OUT}/liae")
run(0 liae train --a "${A}" --b "${B}" --model "${L}" --arch liae-ud-128 --mask --iterations 2 ${common})
expect("${liae_out}" "liae train" "training 'liae-ud-128'" "saved ${L} at iteration 2")
run(0 liae_resume train --a "${A}" --b "${B}" --model "${L}" --arch liae-ud-128 --mask --iterations 3 ${common})
expect("${liae_resume_out}" "liae resume" "resuming liae-ud-128 from ${L} at iteration 2" "saved ${L} at iteration 3")
run(0 info info --model "${L}")
expect("${info_out}" "liae info" "architecture:  liae-ud-128" "iterations:    3")
run(0 swap swap --model "${L}" --input "${A}" --output "${OUT}/liae_a2b" --device cpu --threads 2)
expect("${swap_out}" "liae swap" "swapped 3 faces (a2b)")
check_pngs(128 128 "${OUT}/liae_a2b" 3)
run(0 swap swap --model "${L}" --input "${B}" --output "${OUT}/liae_b2a" --direction b2a --blend --device cpu --threads 2)
expect("${swap_out}" "liae swap b2a --blend" "swapped 3 faces (b2a)")
check_pngs(128 128 "${OUT}/liae_b2a" 3)
run(0 dry train --a "${A}" --b "${B}" --model "${OUT}/liae_dry" --arch liae-ud-128 --mask --batch 8 --dry-run)
expect("${dry_out}" "liae dry run" "parameters" "dry run: nothing was trained")

# ---- df without a mask head ----
set(D "${OUT}/df")
run(0 df train --a "${A}" --b "${B}" --model "${D}" --arch df-ud-128 --iterations 1 ${common})
expect("${df_out}" "df train" "training 'df-ud-128'" "saved ${D} at iteration 1")
run(0 swap swap --model "${D}" --input "${A}" --output "${OUT}/df_a2b" --device cpu --threads 2)
check_pngs(128 128 "${OUT}/df_a2b" 3)

# ---- the other architecture's folder ----
run(2 wrong train --a "${A}" --b "${B}" --model "${L}" --arch df-ud-128 --mask --iterations 4 ${common})
expect("${wrong_err}" "df on a liae folder" "holds a liae-ud-128 model, not df-ud-128")
run(2 wrong_mask train --a "${A}" --b "${B}" --model "${D}" --mask --iterations 4 ${common})
expect("${wrong_mask_err}" "--mask on a df folder without one" "holds a df-ud-128 model without a mask head")
# Without --arch the folder resumes what it holds.
run(0 resume_held train --a "${A}" --b "${B}" --model "${L}" --mask --iterations 4 ${common})
expect("${resume_held_out}" "resume without --arch" "resuming liae-ud-128 from ${L} at iteration 3")
