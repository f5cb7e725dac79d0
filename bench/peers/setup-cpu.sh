#!/usr/bin/env bash
# Installs what the PyTorch peer benchmarks (bench/peers) need on a Debian 12 CPU machine:
# python3-torch (1.13), the OpenMP build of OpenBLAS (without it Debian's torch runs the dense layers
# on the reference BLAS, single-threaded and unblocked) and python3-matplotlib for the plot mode. Does nothing
# when all are present; needs root (or sudo) otherwise. Not part of the CI test run. On a GPU
# machine with its own PyTorch nothing needs installing.
set -euo pipefail

bash "$(dirname "$0")/../../scripts/setup.sh" python3-torch libopenblas0-openmp python3-matplotlib python3-numpy
# libopenblas0-openmp registers itself as the libblas.so.3 alternative with a higher priority than
# the reference BLAS; say which one is active so a wrong choice is visible.
update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | sed -n 's/^Value: /setup-cpu: BLAS in use: /p' || true
