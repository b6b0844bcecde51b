#!/usr/bin/env bash
# The Python side of PainFace's tools (converters, fixture generators): a git-ignored .venv.
# Never needed by the build, the tests or CI.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q tensorflow-cpu h5py numpy "opencv-python-headless<5" pillow
echo "ready: .venv/bin/python tools/make_fixtures.py"
