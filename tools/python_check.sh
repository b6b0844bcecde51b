#!/usr/bin/env bash
# The Python API in a fresh venv: pip install ./python, then its tests against the engine built
# by the test command (PAINFACE_BIN). pandas comes from the package registry; without network
# the check is skipped with a message. Usage: tools/python_check.sh PAINFACE_BIN
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "$1")
venv=.build/pyvenv
python3 -m venv "$venv" 2>/dev/null || { echo "python check: skipped, python3 has no venv module" >&2; exit 0; }
# pandas, numpy and safetensors once (kept in the venv between runs): from the registry, so no network = skip
if ! "$venv/bin/python" -c "import pandas, safetensors" 2>/dev/null; then
  if ! timeout 600 "$venv/bin/pip" install -q "pandas>=1.3" "numpy>=1.20" "safetensors>=0.3" >"$venv/pip.log" 2>&1; then
    echo "python check: skipped, pandas could not be installed (no network?): $(tail -1 "$venv/pip.log")" >&2
    exit 0
  fi
fi
"$venv/bin/pip" install -q --no-deps --force-reinstall ./python
rm -rf python/build
cd python/tests
PAINFACE_BIN=$bin "../../$venv/bin/python" -m unittest -v test_api 2>&1 | tail -4
