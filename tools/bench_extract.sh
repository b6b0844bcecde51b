#!/usr/bin/env bash
# End-to-end throughput of `painface extract` (decode + crop + features + cache) on the five
# real 300-frame videos of ../shared/data, its stage shares, and the cost of the cache and
# resume logic: `extract` against the bare extractor (`features --crop`, same crops, same
# model) in alternating rounds.
#   tools/bench_extract.sh [ROUNDS] [VGG_FRAMES]      (PAINFACE_BIN=path to measure another build)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
vgg_frames=${2:-60}
data=../shared/data/video_frame_sequences
[ -d "$data" ] || { echo "needs $data (not in a fresh clone)"; exit 1; }
# PAINFACE_BIN: another build to measure (e.g. an older release, to compare)
pf=${PAINFACE_BIN:-.build/release/painface}
[ -n "${PAINFACE_BIN:-}" ] || swift build -c release -j 2 --product painface >/dev/null
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
{
    echo "video_id,participant,split,label,frames"
    for v in "$data"/*/; do n=$(basename "$v"); echo "$n,$n,validation,,$(cd "$v" && pwd)"; done
} > "$w/manifest.csv"
folders=("$data"/*/)
$pf models --write-random-vgg16 "$w/vgg16" >/dev/null

now() { date +%s.%N; }
for model in fer-mini-xception vgg16; do
    m=$model; len=300; r=$rounds
    if [ $model = vgg16 ]; then m="$w/vgg16"; len=$vgg_frames; r=1; fi
    # the bare extractor reads whole folders: give it folders of the same frames
    bare=()
    for v in "${folders[@]}"; do
        d="$w/frames-$len/$(basename "$v")"; mkdir -p "$d"
        ls "$v" | sort | head -n "$len" | while read -r f; do ln -sf "$(cd "$v" && pwd)/$f" "$d/$f"; done
        bare+=("$d")
    done
    echo "== $model: 5 videos x $len frames, $r round(s)"
    for i in $(seq "$r"); do
        rm -rf "$w/cache" "$w/feats"
        t0=$(now); $pf extract "$w/manifest.csv" --model "$m" --segment-length "$len" --cache "$w/cache" --stats-json "$w/stats-$model-$i.json" 2>"$w/extract.log"; t1=$(now)
        $pf features --crop "${bare[@]}" --model "$m" --out "$w/feats" >/dev/null 2>"$w/features.log"; t2=$(now)
        t3=$(now); $pf extract "$w/manifest.csv" --model "$m" --segment-length "$len" --cache "$w/cache" 2>/dev/null; t4=$(now)
        python3 - "$w/stats-$model-$i.json" "$t0" "$t1" "$t2" "$t3" "$t4" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
t0, t1, t2, t3, t4 = map(float, sys.argv[2:])
ext, bare, rerun = t1 - t0, t2 - t1, t4 - t3
st = s["stage_seconds"]
tot = s["seconds"]
print(f"extract {s['frames']} frames: {ext:.2f} s wall ({s['frames'] / ext:.1f} frames/s); bare features --crop {bare:.2f} s; "
      f"extract/bare {ext / bare:.3f}; re-run with everything cached {rerun:.2f} s")
print("  busy time per stage, % of wall (cropping and the model overlap): " + ", ".join(f"{k} {100 * v / tot:.1f}%" for k, v in st.items()) +
      f"; cache logic (key + write) {100 * (st['key'] + st['write']) / tot:.2f}%")
EOF
    done
done
