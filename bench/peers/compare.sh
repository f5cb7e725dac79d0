#!/usr/bin/env bash
# Runs compare.py (our training step against PyTorch's, see its --help) with a python3 that can import
# torch: $PYTHON when set, else the first of python3 and /usr/bin/python3 that has it (Debian's
# python3-torch lives in /usr/bin/python3, which another python3 on PATH may hide).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
py=${PYTHON:-}
if [[ -z "$py" ]]; then
  for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c "import torch" 2>/dev/null; then
      py=$candidate
      break
    fi
  done
fi
if [[ -z "$py" ]]; then
  echo "compare.sh: no python3 here can import torch (on Debian: bench/peers/setup-cpu.sh; or set PYTHON)" >&2
  exit 1
fi
exec "$py" "$here/compare.py" --python "$py" "$@"
