#!/usr/bin/env bash
# Installs what the PyTorch peer benchmarks (bench/peers) need on a Debian 12 CPU machine:
# python3-torch (1.13), the OpenMP build of OpenBLAS (without it Debian's torch runs the dense layers
# on the reference BLAS, single-threaded and unblocked) and python3-matplotlib for the plot mode. Does nothing
# when all are present; needs root (or sudo) otherwise. Not part of the CI test run. On a GPU
# machine with its own PyTorch nothing needs installing.
set -euo pipefail

packages=(python3-torch libopenblas0-openmp python3-matplotlib python3-numpy)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "setup-cpu: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup-cpu: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# libopenblas0-openmp registers itself as the libblas.so.3 alternative with a higher priority than
# the reference BLAS; say which one is active so a wrong choice is visible.
update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | sed -n 's/^Value: /setup-cpu: BLAS in use: /p' || true
