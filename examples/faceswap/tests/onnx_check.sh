#!/usr/bin/env bash
# ctest driver of the ONNX export checks: makes the cases with faceswap_onnx_cases, then runs
# tests/checkers/run_onnx.py (onnx.checker + onnxruntime against the library's CPU forward) in the
# checker virtual environment (scripts/checker-venv.sh; exit 77 = skipped when PyPI cannot be
# reached). The exported files are removed afterwards (the larger architectures write 300 MB).
#   onnx_check.sh SOURCE_DIR VENV_DIR WORK_DIR CASES_TOOL arch NAME MASK OPSET BATCH ASTRONAUT
#   onnx_check.sh SOURCE_DIR VENV_DIR WORK_DIR CASES_TOOL layers OPSET
#   onnx_check.sh SOURCE_DIR VENV_DIR WORK_DIR CASES_TOOL cli EXE IMAGES_TOOL ASTRONAUT
#     cli: trains 'micro' with a mask head for 2 iterations, exports it with
#     `hourglass-swap export --direction a2b --opset 13 --batch 2`, checks the file against the
#     trained model, and checks the command's errors (no model, a bad opset, a bad batch, an
#     output folder that does not exist).
set -euo pipefail
src="$1" venv="$2" work="$3" cases="$4" mode="$5"
shift 5
python=$("$src/scripts/checker-venv.sh" "$venv" onnx onnxruntime numpy) || exit $?
rm -rf "$work"
mkdir -p "$work"
check() { "$python" "$src/tests/checkers/run_onnx.py" "$@"; }
case "$mode" in
  arch)
    name="$1" mask="$2" opset="$3" batch="$4" astronaut="$5"
    "$cases" arch "$name" "$mask" "$opset" "$batch" "$astronaut" "$work"
    ls -l "$work"/model_*.onnx
    check "$work/cases.txt" --expect-opset "$opset" --expect-batch "$([ "$batch" = 0 ] && echo dynamic || echo "$batch")"
    ;;
  layers)
    "$cases" layers "$1" "$work"
    check "$work/cases.txt" --expect-opset "$1" --expect-batch dynamic
    ;;
  cli)
    exe="$1" images="$2" astronaut="$3"
    "$images" faces "$work/a" 1 4 32 11
    "$images" faces "$work/b" 2 4 32 12
    "$exe" train --a "$work/a" --b "$work/b" --model "$work/model" --arch micro --mask --batch 2 --iterations 2 \
      --device cpu --threads 1 --seed 3
    "$exe" export --model "$work/model" --direction a2b --output "$work/micro.onnx" --opset 13 --batch 2 \
      | tee "$work/export.txt"
    grep -q "micro.onnx" "$work/export.txt"
    "$cases" model "$work/model" a2b 2 "$work/micro.onnx" "$astronaut" "$work/cases"
    check "$work/cases/cases.txt" --expect-opset 13 --expect-batch 2
    # Errors: exit status and a message naming the problem.
    expect_fail() {
      local want="$1" needle="$2"
      shift 2
      set +e
      "$exe" "$@" >"$work/out.txt" 2>"$work/err.txt"
      local rc=$?
      set -e
      if [ "$rc" != "$want" ] || ! grep -q -- "$needle" "$work/err.txt"; then
        echo "hourglass-swap $*: exit $rc (expected $want), stderr:" >&2
        cat "$work/err.txt" >&2
        exit 1
      fi
      echo "ok (exit $rc): hourglass-swap $*"
    }
    expect_fail 1 "no checkpoint" export --model "$work/nothing" --output "$work/x.onnx"
    expect_fail 2 "opset" export --model "$work/model" --output "$work/x.onnx" --opset 9
    expect_fail 2 "--batch" export --model "$work/model" --output "$work/x.onnx" --batch zero
    expect_fail 1 "$work/missing/x.onnx" export --model "$work/model" --output "$work/missing/x.onnx"
    [ ! -e "$work/x.onnx" ] || { echo "a failed export left $work/x.onnx" >&2; exit 1; }
    ;;
  *)
    echo "onnx_check.sh: unknown mode '$mode'" >&2
    exit 2
    ;;
esac
rm -rf "$work"
