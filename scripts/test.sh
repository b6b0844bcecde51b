#!/usr/bin/env bash
# The test command: installs what is missing, checks every kernel path in C (natively and
# NEON under qemu-aarch64), then builds and runs the Swift test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --qemu --browser
bash tools/kernel_check/run.sh
# the bundled mini-Xception over the C core alone, natively and NEON under qemu-aarch64, on real
# face crops against Keras's outputs and against each other
bash tools/neon_model/run.sh
# the Python converters' graph walking (numpy only; no framework, no h5py)
if python3 -c "import numpy" 2>/dev/null; then
  python3 -m unittest discover -s tools/tests
else
  echo "tools/tests skipped: python3 has no numpy" >&2
fi
# the image decoders under libFuzzer with ASan and UBSan, briefly (tools/fuzz/run.sh 3600 before a release)
bash tools/fuzz/run.sh 30
swift build --build-tests -j 2
# One OpenBLAS thread: Swift Testing already runs tests in parallel on the two cores.
OPENBLAS_NUM_THREADS=1 timeout 1500 swift test --skip-build
# the whole suite again under AddressSanitizer (leaks inside the toolchain's libraries: lsan.supp)
swift build --build-tests --sanitize=address --build-path .build/asan -j 2
OPENBLAS_NUM_THREADS=1 LSAN_OPTIONS=suppressions=$PWD/tools/fuzz/lsan.supp \
  timeout 1500 swift test --skip-build --sanitize=address --build-path .build/asan
# scripts/install.sh into a scratch prefix; the installed binary without Swift or OpenBLAS
bash tools/install_check.sh
# the Python API (python/) in a fresh venv against the built engine
bash tools/python_check.sh .build/debug/painface
# the README's Slurm job array on a one-node cluster of this machine (shards = one run)
timeout 600 bash tools/slurm/run.sh .build/debug/painface
