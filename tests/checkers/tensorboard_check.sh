#!/usr/bin/env bash
# Runs a short training with TensorBoard logging and reads its event files back with
# read_tensorboard.py in a virtual environment holding tensorboard and pillow from PyPI (ctest
# tensorboard_events and faceswap_tensorboard).
#   usage: tensorboard_check.sh VENV OUT EVERY COMMAND...
# COMMAND (run after OUT is emptied) trains into OUT/model with TensorBoard events in OUT/tb, every
# EVERY iterations; when it also writes OUT/scalars.json, every scalar is checked against it.
# Exits 77 (skipped) when PyPI cannot be reached (scripts/checker-venv.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$1" out="$2" every="$3"
shift 3
python="$("$here/../../scripts/checker-venv.sh" "$venv" tensorboard pillow)" || exit $?
rm -rf "$out"
mkdir -p "$out"
"$@"
scalars=()
[ -f "$out/scalars.json" ] && scalars=(--scalars "$out/scalars.json")
exec "$python" "$here/read_tensorboard.py" --model "$out/model" --logdir "$out/tb" --every "$every" "${scalars[@]}"
