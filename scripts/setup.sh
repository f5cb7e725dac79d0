#!/usr/bin/env bash
# Installs the Debian 12 packages hourglass needs to build and test (compiler, CMake, Eigen, stb,
# libjpeg-turbo's TurboJPEG (JPEG decoding), OpenBLAS built for OpenMP (the CPU GEMMs, found by the
# default HG_CPU_BLAS=AUTO),
# doctest, Google Benchmark, CLI11 for hourglass-swap's command line, clang-14 with libFuzzer and
# the sanitizer runtimes for the fuzz tests, valgrind; for the media component (face extraction): dlib, its
# 68-point landmark model (libdlib-data), FFmpeg's libraries; and the real photograph and videos
# the media tests use: python3-skimage's astronaut portrait, python3-imageio's MP4 files; python3-venv
# for the checkers that tests install from PyPI, scripts/checker-venv.sh); OpenMPI (libopenmpi-dev,
# openmpi-bin) for data-parallel training across processes. Does
# nothing when they are all present; needs root (or sudo) otherwise.
# The CUDA toolkit and cuDNN are optional and not installed here: with them on the machine the
# CUDA backend is built too (HG_CUDA=AUTO).
# With arguments, installs those packages instead (other scripts use it for their own needs).
set -euo pipefail

packages=(build-essential cmake pkg-config libeigen3-dev libstb-dev libturbojpeg0-dev libopenblas-openmp-dev doctest-dev libbenchmark-dev libcli11-dev clang-14 libclang-rt-14-dev valgrind
  libdlib-dev libdlib-data libavformat-dev libavcodec-dev libswscale-dev libavutil-dev python3-skimage python3-imageio
  python3-venv libopenmpi-dev openmpi-bin)
if (($# > 0)); then packages=("$@"); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
