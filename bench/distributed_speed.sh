#!/usr/bin/env bash
# Data-parallel training speed (docs/distributed.md, "Measured"): `hourglass-swap train` of one
# architecture at a fixed global batch per side, in one process and on K MPI ranks (one thread
# each), with --profile; a Markdown table of the examples per second (over the whole run, and over
# the step alone: without the phase "other" - the final checkpoint, preview and loss plot, which
# rank 0 writes while the others wait) and the time of the reduce phase (the sums of the gradients
# over the ranks after the backward, not overlapped with it, including the wait for the slowest
# rank). The logs stay in --out as log-K.txt.
#
#   bench/distributed_speed.sh [--build DIR] [--arch original] [--batch 16] [--iterations 40]
#                              [--ranks "1 2"] [--out DIR]
#
# The faces are 64 synthetic faces per side (faceswap_test_images). Run it on an idle machine: the
# ranks share its cores.
set -euo pipefail
build=build
arch=original
batch=16
iterations=40
ranks="1 2"
out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --arch) arch=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --iterations) iterations=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "distributed_speed.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
exe=$build/examples/faceswap/hourglass-swap
tool=$build/examples/faceswap/faceswap_test_images
for f in "$exe" "$tool"; do
  [[ -x "$f" ]] || { echo "distributed_speed.sh: $f not found: build it first" >&2; exit 1; }
done
command -v mpirun >/dev/null || { echo "distributed_speed.sh: mpirun not found (scripts/setup.sh installs OpenMPI)" >&2; exit 1; }
if [[ -z "$out" ]]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
mkdir -p "$out"
[[ -d "$out/a" ]] || "$tool" faces "$out/a" 1 64 64 11
[[ -d "$out/b" ]] || "$tool" faces "$out/b" 2 64 64 12
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1

echo "| ranks | arch | global batch per side | iterations | examples/s | ms per iteration | step ms (without other) | examples/s (step) | reduce ms | reduce % | backward ms |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for k in $ranks; do
  model="$out/model-$k"
  rm -rf "$model"
  args=(train --a "$out/a" --b "$out/b" --model "$model" --arch "$arch" --batch "$batch" --iterations "$iterations"
        --save-every 100000 --device cpu --threads 1 --profile)
  if [[ $k == 1 ]]; then
    log=$("$exe" "${args[@]}" 2>&1) || { echo "$log" >&2; exit 1; }
  else
    log=$(mpirun --oversubscribe --bind-to none -np "$k" "$exe" "${args[@]}" --distributed 2>&1) || { echo "$log" >&2; exit 1; }
  fi
  echo "$log" > "$out/log-$k.txt"
  # The profile table after "profile over N iterations": "  phase  ms/iter  %" rows, then the
  # "iteration" total.
  row() { awk -v p="$1" '/^profile over/ { t = 1 } t && $1 == p { print $2; exit }' <<<"$log"; }
  pct() { awk -v p="$1" '/^profile over/ { t = 1 } t && $1 == p { print $3; exit }' <<<"$log"; }
  total=$(row iteration)
  reduce=$(row reduce); reduce=${reduce:-0}
  reduce_pct=$(pct reduce); reduce_pct=${reduce_pct:-0}
  backward=$(row backward)
  other=$(row other)
  step=$(awk -v t="$total" -v o="$other" 'BEGIN { printf "%.2f", t - o }')
  eps=$(awk -v t="$total" -v b="$batch" 'BEGIN { printf "%.1f", 2 * b * 1000 / t }')
  eps_step=$(awk -v t="$step" -v b="$batch" 'BEGIN { printf "%.1f", 2 * b * 1000 / t }')
  echo "| $k | $arch | $batch | $iterations | $eps | $total | $step | $eps_step | $reduce | $reduce_pct | $backward |"
done
