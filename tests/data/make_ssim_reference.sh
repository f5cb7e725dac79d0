#!/bin/sh
# Regenerates tests/data/ssim_reference.txt from scikit-image (installs python3-skimage with apt-get
# when it is missing; needs root for that). Uses Debian's /usr/bin/python3, where apt installs the
# package, rather than whatever python3 comes first on PATH. CI only reads the stored file.
set -eu
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if ! "$PY" -c "import skimage, numpy" 2>/dev/null; then
    apt-get update
    apt-get install -y python3-skimage
fi
exec "$PY" "$(dirname "$0")/make_ssim_reference.py"
