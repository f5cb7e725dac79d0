#!/usr/bin/env bash
# Swap quality at fixed iteration budgets: `hourglass-swap demo` (the CPU demo's 'slim' model on the
# built-in synthetic faces, batch 16 per side) trained with each preset for each budget and seed,
# and a Markdown table of the held-out scores it prints at the end: the A->B swap's face-region
# SSIM against the ground truth (B rendered in A's held-out poses), B's reconstruction of that
# ground truth, and the unswapped baseline (docs/faceswap.md, "The demo"). Quality is measured
# here, not in the tests: one run per cell, on whatever machine runs it.
#
#   bench/swap_quality.sh [--build DIR] [--presets "classic auto"] [--budgets "500 1500 5000"]
#                         [--seeds "1 2 3"] [--threads T] [--out DIR]
#
# Each run takes about 0.2 s per iteration on 2 idle CPU cores (5000 iterations: about 17 minutes).
set -euo pipefail
build=build
presets="classic auto"
budgets="500 1500"
seeds="1"
threads=0
out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --presets) presets=$2; shift 2 ;;
    --budgets) budgets=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "swap_quality.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
exe=$build/examples/faceswap/hourglass-swap
if [[ ! -x "$exe" ]]; then
  echo "swap_quality.sh: $exe not found: build it first (cmake --build $build --target hourglass-swap)" >&2
  exit 1
fi
if [[ -z "$out" ]]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
echo "| preset | iterations | seed | A->B swap | B->B reconstruction | unswapped A | seconds | schedule |"
echo "|---|---|---|---|---|---|---|---|"
for preset in $presets; do
  for budget in $budgets; do
    for seed in $seeds; do
      dir="$out/$preset-$budget-$seed"
      rm -rf "$dir"
      log=$("$exe" demo --device cpu --threads "$threads" --preset "$preset" --iterations "$budget" --seed "$seed" \
              --out "$dir" 2>&1) || { echo "swap_quality.sh: the demo failed:" >&2; echo "$log" >&2; exit 1; }
      line=$(grep -m1 '^face-region SSIM' <<<"$log")
      swap=$(sed -E 's/.*A->B swap ([0-9.]+).*/\1/' <<<"$line")
      base=$(sed -E 's/.*unswapped A ([0-9.]+).*/\1/' <<<"$line")
      rec=$(sed -E 's/.*B->B reconstruction ([0-9.]+).*/\1/' <<<"$line")
      secs=$(grep -m1 -E '^demo: [0-9]+ iterations' <<<"$log" | sed -E 's/.* in ([0-9.]+) s.*/\1/')
      sched=$(grep -m1 -o 'preset [a-z]*: lr [^;]*' <<<"$log")
      echo "| $preset | $budget | $seed | $swap | $rec | $base | $secs | $sched |"
    done
  done
done
