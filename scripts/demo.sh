#!/usr/bin/env bash
# The main job on the bundled defaults, offline: the whole pipeline on the sample frames of
# samples/frames (real faces, made-up pain labels: a demonstration, not a pain model).
#   check the manifest -> crop faces + extract features (cached) -> train both heads ->
#   evaluate (report.md / report.html) -> infer on the frame folders (CSV).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
swift build -c release -j 2 --product painface
out=${1:-out/demo}
pf=.build/release/painface
manifest=samples/frames/manifest.csv
# the sample clips are 40 frames, so segments of 20 frames stand in for the paper's 300
proto=(--segment-length 20)
mkdir -p "$out"
start=$SECONDS

echo "== models"
$pf models
echo "== dataset check"
$pf dataset check "$manifest" "${proto[@]}"
echo "== extract (Haar face crops -> mini-Xception features, cached in $out/cache)"
$pf extract "$manifest" "${proto[@]}" --cache "$out/cache"
echo "== train (the labels are MADE UP for the demo: the heads will mean nothing; see samples/README.md)"
$pf train "$manifest" "${proto[@]}" --cache "$out/cache" --kind framewise --out "$out/framewise" --epochs 30
$pf train "$manifest" "${proto[@]}" --cache "$out/cache" --kind lstm --out "$out/lstm" --epochs 30
echo "== evaluate on the validation split"
$pf evaluate "$manifest" "${proto[@]}" --cache "$out/cache" --head "$out/framewise" --report "$out/report-framewise"
$pf evaluate "$manifest" "${proto[@]}" --cache "$out/cache" --head "$out/lstm" --report "$out/report-lstm"
echo "== infer on the frame folders"
$pf infer samples/frames/*/ --head "$out/framewise" --out "$out/predictions.csv"
$pf infer samples/frames/*/ --out "$out/expressions.csv"
echo
echo "== per-video summary ($out/predictions.csv, $out/expressions.csv)"
paste -d, <(cut -d, -f1-5,7 "$out/predictions.csv") <(cut -d, -f2 "$out/expressions.csv" | sed 1s/.*/expression/) | column -t -s,
echo
echo "reports: $out/report-framewise/report.html, $out/report-lstm/report.html"
echo
echo "NOTE: the demo's pain labels are made up (samples/README.md), so these heads and their pain"
echo "classes mean nothing: a real pain estimate needs a head trained on labelled pain videos"
echo "(README, 'Data sets': dataset init, extract, train, evaluate)."
echo "demo finished in $((SECONDS - start)) s after the build"
