#!/usr/bin/env bash
# Builds a wheel of the Python API (python/) that carries the engine: scripts/install.sh into
# python/painface/_engine (static Swift runtime, stripped, the bundled models), then
# `pip wheel`. Usage: bash scripts/package_python.sh [OUT_DIR] (default: dist/)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
rm -rf python/painface/_engine python/build
bash scripts/install.sh "$PWD/python/painface/_engine"
rm -rf python/painface/_engine/share/man python/painface/_engine/share/{bash-completion,zsh,fish}
python3 -m pip wheel --no-deps --wheel-dir "$out" ./python
ls -la "$out"/painface-*.whl
