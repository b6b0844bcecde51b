#!/usr/bin/env bash
# The main job on the bundled defaults: features and expression probabilities of the
# bundled sample face crops with the embedded mini-Xception model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
swift build -c release -j 2 --product painface
out=${1:-out/demo}
.build/release/painface models
.build/release/painface features samples/faces/* --out "$out"
echo "features written to $out/ (one .safetensors per folder)"
