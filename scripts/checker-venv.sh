#!/usr/bin/env bash
# Makes (or reuses) a Python virtual environment holding the PyPI packages that checker scripts of
# the tests need (tbparse to read TensorBoard event files, onnx and onnxruntime to run exported
# models), and prints the path of its python. The packages come from PyPI because Debian 12 does
# not package them. Exits 77 (ctest's "skipped") with a message on stderr when PyPI cannot be
# reached, so a test that needs a checker skips instead of failing on a machine without network.
#   usage: checker-venv.sh VENV_DIR PACKAGE...
# Needs python3-venv (scripts/setup.sh installs it).
set -euo pipefail
venv="$1"; shift
[ "$#" -gt 0 ] || { echo "checker-venv: no packages named" >&2; exit 2; }
lock="${venv}.lock"
mkdir -p "$(dirname "$venv")"
# Several tests may ask at once (ctest -j): one makes the environment, the others wait for it.
exec 9>"$lock"
flock 9
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2 || { echo "checker-venv: python3 -m venv failed (is python3-venv installed?)" >&2; exit 1; }
fi
missing=()
for package in "$@"; do
  name="${package%%[<>=]*}"
  "$venv/bin/python" -m pip show -q "$name" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check --timeout 30 "${missing[@]}" >&2; then
    if ! "$venv/bin/python" -m pip download -q --no-deps --timeout 15 -d "$venv/.probe" pip >/dev/null 2>&1; then
      echo "checker-venv: PyPI cannot be reached, skipping (needed: ${missing[*]})" >&2
      exit 77
    fi
    echo "checker-venv: pip could not install ${missing[*]}" >&2
    exit 1
  fi
fi
echo "$venv/bin/python"
