# hourglass-swap extract end to end (ctest faceswap_extract_e2e), run with
#   cmake -DEXE=<hourglass-swap> -DTOOL=<faceswap_make_extract_media> -DOUT=<dir> -DVIDEOS=<imageio videos> -P extract_e2e.cmake
# Extracts the faces of a real face moved through an H.264 video and of a folder of photos, trains
# two iterations on the extracted folders (their eye and mouth masks in use), runs again into a
# finished folder, converts a video with audio and the folder of photos (to a folder and to a
# video), and checks the bad inputs: a text file named .mp4 (exit 1, the file named), a
# real video without faces (exit 0, 0 faces), a missing landmark model, a bad option (exit 2).
cmake_minimum_required(VERSION 3.25)
foreach(v EXE TOOL OUT VIDEOS)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "extract_e2e.cmake needs -D${v}=...")
  endif()
endforeach()

include(${CMAKE_CURRENT_LIST_DIR}/script_helpers.cmake)

file(REMOVE_RECURSE "${OUT}")
file(MAKE_DIRECTORY "${OUT}")
execute_process(COMMAND "${TOOL}" "${OUT}" RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "making the test media failed: ${err}")
endif()

# A video: one face per frame, every face with its three masks, and the alignments file.
run(0 video extract --input "${OUT}/moving.mp4" --output "${OUT}/a" --threads 2)
expect("${video_out}" "extract moving.mp4" "done: 16 frames read, 16 searched, 16 with faces; 16 faces found, 16 kept"
       "dropped: 0 smaller" "alignments: ")
foreach(f moving_000000_0.png masks/moving_000000_0.png masks-eye/moving_000015_0.png masks-mouth/moving_000015_0.png alignments.json)
  if(NOT EXISTS "${OUT}/a/${f}")
    message(FATAL_ERROR "extract wrote no ${OUT}/a/${f}")
  endif()
endforeach()

# A folder of photos, with --smooth and another centering accepted.
run(0 photos extract --input "${OUT}/photos" --output "${OUT}/b" --centering head --size 128)
expect("${photos_out}" "extract photos" "3 pictures read" "3 faces found, 3 kept")

# The same command again: nothing to do.
run(0 again extract --input "${OUT}/moving.mp4" --output "${OUT}/a" --threads 2)
expect("${again_out}" "extract again" "nothing to do")
# Other settings into the same folder: refused (a usage error, exit 2).
run(2 other extract --input "${OUT}/moving.mp4" --output "${OUT}/a" --size 128)
expect("${other_err}" "extract with other settings" "other settings")

# Training reads the extracted folders, with their face, eye and mouth masks.
run(0 train train --a "${OUT}/a" --b "${OUT}/b" --model "${OUT}/model" --iterations 2 --batch 2 --save-every 2
    --arch slim --device cpu)
expect("${train_out}" "train on extracted faces" "16 faces A, 3 faces B" "face, eye and mouth regions (eye x3, mouth x2)")

# Convert a video with an audio track through the model trained above: the same frame count and
# size, the audio copied; to a folder of frames too; and the refusals.
run(0 av_extract extract --input "${OUT}/moving_av.mp4" --output "${OUT}/av" --threads 2)
expect("${av_extract_out}" "extract moving_av.mp4" "12 faces found, 12 kept")
set(convert_args --input "${OUT}/moving_av.mp4" --alignments "${OUT}/av/alignments.json" --model "${OUT}/model" --device cpu)
run(0 convert convert ${convert_args} --output "${OUT}/swapped.mp4" --color rct --seamless --blur 4 --erode 2)
expect("${convert_out}" "convert" "12 with faces" "converted 12 frames")
execute_process(COMMAND "${TOOL}" probe "${OUT}/swapped.mp4" OUTPUT_VARIABLE probe RESULT_VARIABLE rc)
expect("${probe}" "probe swapped.mp4 (exit ${rc})" "frames 12 size 640x360 audio 1")
run(0 convert_dir convert ${convert_args} --output "${OUT}/swapped_frames" --mask box --color hist --sharpen 0.5)
file(GLOB frames "${OUT}/swapped_frames/frame_*.png")
list(LENGTH frames n)
if(NOT n EQUAL 12)
  message(FATAL_ERROR "convert to a folder wrote ${n} frames, expected 12")
endif()
run(2 convert_other convert --input "${OUT}/moving.mp4" --alignments "${OUT}/av/alignments.json" --model "${OUT}/model"
    --output "${OUT}/other.mp4")
expect("${convert_other_err}" "convert with the alignments of another video" "another video" "moving.mp4")
if(EXISTS "${OUT}/other.mp4")
  message(FATAL_ERROR "a refused convert left ${OUT}/other.mp4")
endif()
# A folder of pictures: converted under the same names as PNG (tilted.jpg -> tilted.png), or into a
# video at --fps; the alignments of a video, and the input folder as output, are refused.
set(photo_args --input "${OUT}/photos" --alignments "${OUT}/b/alignments.json" --model "${OUT}/model" --device cpu
    --direction b2a)
run(0 convert_photos convert ${photo_args} --output "${OUT}/photos_swapped" --color lct)
expect("${convert_photos_out}" "convert photos" "3 pictures, 3 with faces" "converted 3 frames")
file(GLOB swapped_photos RELATIVE "${OUT}/photos_swapped" "${OUT}/photos_swapped/*")
list(SORT swapped_photos)
if(NOT swapped_photos STREQUAL "front.png;right.png;tilted.png")
  message(FATAL_ERROR "convert of the photos wrote '${swapped_photos}', expected front.png;right.png;tilted.png")
endif()
run(0 convert_photos_video convert ${photo_args} --output "${OUT}/photos.mp4" --fps 10)
execute_process(COMMAND "${TOOL}" probe "${OUT}/photos.mp4" OUTPUT_VARIABLE probe RESULT_VARIABLE rc)
expect("${probe}" "probe photos.mp4 (exit ${rc})" "frames 3 size 520x400 audio 0")
run(2 convert_photos_video_alignments convert --input "${OUT}/photos" --alignments "${OUT}/a/alignments.json"
    --model "${OUT}/model" --output "${OUT}/never")
expect("${convert_photos_video_alignments_err}" "convert photos with a video's alignments" "was made from a video")
run(2 convert_photos_in_place convert ${photo_args} --output "${OUT}/photos")
expect("${convert_photos_in_place_err}" "convert photos into their own folder" "is the input folder")
run(2 convert_learned convert ${convert_args} --output "${OUT}/learned.mp4" --mask learned)
expect("${convert_learned_err}" "convert --mask learned without a mask head" "needs a model trained with --mask")
# A mask head trained on the extracted (landmark) masks, then pasted through: convert --mask learned
# and swap --blend use the learned mask.
run(0 train_mask train --a "${OUT}/a" --b "${OUT}/b" --model "${OUT}/model_mask" --iterations 2 --batch 2 --save-every 2
    --arch micro --mask --mask-weight 2 --device cpu)
expect("${train_mask_out}" "train --mask on extracted faces" "16 faces A, 3 faces B")
run(0 info_mask info --model "${OUT}/model_mask")
expect("${info_mask_out}" "info of a mask-head model" "(with mask head)" "\"mask_weight\":2")
run(0 convert_learned_ok convert --input "${OUT}/moving_av.mp4" --alignments "${OUT}/av/alignments.json"
    --model "${OUT}/model_mask" --device cpu --output "${OUT}/learned.mp4" --mask learned)
expect("${convert_learned_ok_out}" "convert --mask learned" "converted 12 frames")
execute_process(COMMAND "${TOOL}" probe "${OUT}/learned.mp4" OUTPUT_VARIABLE probe RESULT_VARIABLE rc)
expect("${probe}" "probe learned.mp4 (exit ${rc})" "frames 12 size 640x360 audio 1")
run(1 convert_unwritable convert ${convert_args} --output "${OUT}/no/such/folder/out.mp4")
expect("${convert_unwritable_err}" "convert into a missing folder" "out.mp4")

# Bad input.
run(1 text extract --input "${OUT}/text.mp4" --output "${OUT}/c")
expect("${text_err}" "extract text.mp4" "text.mp4" "not a video")
if(EXISTS "${OUT}/c/alignments.json")
  message(FATAL_ERROR "extract of a text file wrote an alignments file")
endif()
run(0 cockatoo extract --input "${VIDEOS}/cockatoo.mp4" --output "${OUT}/d" --every 40)
expect("${cockatoo_out}" "extract cockatoo.mp4" "280 frames read, 7 searched, 0 with faces; 0 faces found, 0 kept")
run(1 model extract --input "${OUT}/photos" --output "${OUT}/e" --landmarks-model "${OUT}/missing.dat")
expect("${model_err}" "extract with a missing model" "missing.dat does not exist")
run(2 every extract --input "${OUT}/photos" --output "${OUT}/e" --every 0)
expect("${every_err}" "extract --every 0" "--every")
run(2 nothing extract --output "${OUT}/e")
expect("${nothing_err}" "extract without --input" "--input")
