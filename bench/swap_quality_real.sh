#!/usr/bin/env bash
# Reconstruction quality of held-out real faces at fixed iteration budgets, per training preset: the
# real-face half of the quality table in docs/faceswap.md ("Quality at a budget"; the synthetic half
# is bench/swap_quality.sh). Two identities from real photographs that Debian packages ship - A: the
# astronaut portrait (Eileen Collins; python3-skimage), B: Grace Hopper (python-matplotlib-data) -
# each rendered COUNT times (faceswap_photo_renditions: warp, lighting, JPEG), extracted by the real
# extraction (`hourglass-swap extract`: dlib detection, 68 landmarks, alignment, masks; the largest
# face of each picture at a detector threshold of 0.4: at 0 dlib's HOG detector also takes the
# astronaut's mission patch for a face, and keeps it when it misses the face), then
# `hourglass-swap train --arch ARCH --holdout P` per preset, budget and seed; the table holds the
# held-out face-region SSIM of each side's reconstruction at the last iteration (holdout.csv).
# There is no ground truth of a swap between two real people, so no swap score.
#
#   bench/swap_quality_real.sh [--build DIR] [--presets "classic auto"] [--budgets "500 1500"]
#                              [--seeds "1"] [--arch slim] [--count 200] [--holdout 15] [--size 128]
#                              [--threads T] [--out DIR]
#
# 'slim' takes about 0.2 s per iteration on 2 idle CPU cores; the renditions and the extraction of
# 2 x 200 pictures about a minute (kept in --out and reused when it is given again).
set -euo pipefail
build=build
presets="classic auto"
budgets="500 1500"
seeds="1"
arch=slim
count=200
holdout=15
size=128
threads=0
out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --presets) presets=$2; shift 2 ;;
    --budgets) budgets=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --arch) arch=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --holdout) holdout=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "swap_quality_real.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
photo_a=/usr/lib/python3/dist-packages/skimage/data/astronaut.png
photo_b=/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg
if [[ ! -f "$photo_a" || ! -f "$photo_b" ]]; then
  bash "$(dirname "$0")/../scripts/setup.sh" python3-skimage python-matplotlib-data
fi
for p in "$photo_a" "$photo_b"; do
  if [[ ! -f "$p" ]]; then
    echo "swap_quality_real.sh: the photo $p is missing after installing python3-skimage and python-matplotlib-data" >&2
    exit 1
  fi
done
exe=$build/examples/faceswap/hourglass-swap
if [[ ! -x "$exe" ]]; then
  echo "swap_quality_real.sh: $exe not found: build it first (cmake --build $build --target hourglass-swap)" >&2
  exit 1
fi
cmake --build "$build" --target faceswap_photo_renditions >/dev/null || {
  echo "swap_quality_real.sh: could not build faceswap_photo_renditions (it needs the media component: FFmpeg and dlib)" >&2
  exit 1
}
tool=$build/examples/faceswap/faceswap_photo_renditions
if [[ -z "$out" ]]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
mkdir -p "$out"

# The face folders: renditions, then the real extraction (a second run reuses them).
for side in a b; do
  photo=$photo_a; seed=101
  if [[ $side == b ]]; then photo=$photo_b; seed=202; fi
  if [[ ! -f "$out/faces-$side/alignments.json" ]]; then
    rm -rf "$out/photos-$side" "$out/faces-$side"
    "$tool" "$photo" "$out/photos-$side" "$count" "$seed" >/dev/null
    log=$("$exe" extract --input "$out/photos-$side" --output "$out/faces-$side" --size "$size" --max-faces 1 --detector-threshold 0.4 --device cpu \
            --threads "$threads" 2>&1) || { echo "swap_quality_real.sh: extract failed:" >&2; echo "$log" >&2; exit 1; }
    echo "side $side ($(basename "$photo")): $(grep -m1 -o '[0-9]* faces found, [0-9]* kept' <<<"$log") of $count renditions" >&2
  fi
done

echo "| preset | iterations | seed | held-out A (astronaut) | held-out B (Hopper) | seconds | schedule |"
echo "|---|---|---|---|---|---|---|"
for preset in $presets; do
  for budget in $budgets; do
    for seed in $seeds; do
      dir="$out/model-$preset-$budget-$seed"
      rm -rf "$dir"
      start=$(date +%s.%N)
      log=$("$exe" train --a "$out/faces-a" --b "$out/faces-b" --model "$dir" --arch "$arch" --holdout "$holdout" \
              --preset "$preset" --iterations "$budget" --seed "$seed" --device cpu --threads "$threads" 2>&1) ||
        { echo "swap_quality_real.sh: train failed:" >&2; echo "$log" >&2; exit 1; }
      secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", e - s }')
      line=$(grep "^held-out face SSIM at iteration $budget:" <<<"$log" | tail -n1)
      if [[ -z "$line" ]]; then
        echo "swap_quality_real.sh: no held-out score at iteration $budget in the train log:" >&2
        echo "$log" | tail -n 20 >&2
        exit 1
      fi
      rec_a=$(sed -E 's/.*rebuilt A ([0-9.]+).*/\1/' <<<"$line")
      rec_b=$(sed -E 's/.*rebuilt B ([0-9.]+).*/\1/' <<<"$line")
      sched=$(grep -m1 -o 'preset [a-z]*: lr [^;]*' <<<"$log" || true)
      echo "| $preset | $budget | $seed | $rec_a | $rec_b | $secs | $sched |"
    done
  done
done
