#!/usr/bin/env bash
# `hourglass-swap train --tensorboard` on two folders of synthetic faces, for ctest
# faceswap_tensorboard (run through tests/checkers/tensorboard_check.sh, which then reads the event
# files back and compares them with losses.csv and the preview pictures).
#   usage: tensorboard_train.sh HOURGLASS_SWAP FACESWAP_TEST_IMAGES OUT
# Trains 'micro' for 6 iterations into OUT/model with a preview every 3 iterations and TensorBoard
# scalars every 2 into OUT/tb.
set -euo pipefail
exe="$1" tool="$2" out="$3"
"$tool" faces "$out/faces_a" 1 6 64 11
"$tool" faces "$out/faces_b" 2 6 64 12
"$exe" train --a "$out/faces_a" --b "$out/faces_b" --model "$out/model" --arch micro --batch 4 --iterations 6 \
  --save-every 3 --preview-every 3 --tensorboard "$out/tb" --tensorboard-every 2 --device cpu --threads 1 --seed 5
