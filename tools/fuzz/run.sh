#!/usr/bin/env bash
# Fuzzes the image decoders with libFuzzer (AddressSanitizer and UndefinedBehaviorSanitizer on)
# for SECONDS (default 30) from the seed corpus tools/fuzz/corpus (the committed test images).
# The test command runs it briefly; before a release run it for an hour:
#   bash tools/fuzz/run.sh 3600
# A crash leaves its input in .build/fuzz/crash-*: add it to the corpus and fix the decoder.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-30}
CC=${CLANG:-$(command -v clang || echo /opt/swift/usr/bin/clang)}
out=.build/fuzz
mkdir -p "$out/corpus"
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
    "$CC" -x c -fsanitize=fuzzer -o "$out/probe" - 2>/dev/null; then
  echo "fuzz: skipped, $CC has no libFuzzer runtime" >&2
  exit 0
fi
"$CC" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -ICSources/CCodecs/include CSources/CCodecs/codecs.c tools/fuzz/fuzz_codecs.c -ljpeg -lpng16 -o "$out/fuzz_codecs" \
  2>"$out/build.log" || { cat "$out/build.log"; exit 1; }
cp -n tools/fuzz/corpus/* "$out/corpus/" 2>/dev/null || true
# libFuzzer's own leak detection is on (ASan); -artifact_prefix keeps crash inputs in $out
"$out/fuzz_codecs" "$out/corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
  -artifact_prefix="$out/" -print_final_stats=1 2>"$out/fuzz.log" || { tail -30 "$out/fuzz.log"; exit 1; }
grep -E "stat::number_of_executed_units|stat::peak_rss_mb|cov:" "$out/fuzz.log" | tail -3 |
  sed 's/^/fuzz (image decoders): /' >&2
