#!/usr/bin/env bash
# Fuzzes with libFuzzer for SECONDS each (default 30):
#  - the image decoders (C, AddressSanitizer and UndefinedBehaviorSanitizer on), seeded from the
#    committed test images in tools/fuzz/corpus;
#  - PainFace's own parsers (Swift, AddressSanitizer on: safetensors, model configs, manifests,
#    landmark files, CSV), seeded from tools/fuzz/parsers (the first byte picks the parser).
# The test command runs it briefly; before a release run it for an hour:
#   bash tools/fuzz/run.sh 3600
# A finding leaves its input in .build/fuzz/{crash,leak,oom}-*: fix it, add a regression test, and
# add the input to the corpus.
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

# The Swift parsers: the modules built with the fuzzer's coverage instrumentation, then linked
# with the harness (libFuzzer provides main).
b=.build/fuzz-swift
for t in Dataset NN; do
  # SwiftPM passes -sanitize=fuzzer and -sanitize=address as two flags, and swiftc keeps only the
  # last (no coverage): the combined flag, last, keeps both
  swift build -q --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address --target "$t" \
    --build-path "$b" -j 2 \
    >"$out/swift-build.log" 2>&1 || { cat "$out/swift-build.log"; exit 1; }
done
objs=$(for t in CKernels CCodecs CHash Kernels Weights NN Imaging Video Dataset; do find "$b/debug/$t.build" -name '*.o'; done)
maps=$(for c in CKernels CCodecs CHash; do
  echo "-Xcc -fmodule-map-file=CSources/$c/include/module.modulemap -Xcc -ICSources/$c/include"; done)
# shellcheck disable=SC2086 # the object and module-map lists are meant to split
swiftc -parse-as-library -sanitize=fuzzer,address -g -I "$b/debug/Modules" $maps tools/fuzz/fuzz_parsers.swift \
  $objs -ljpeg -lpng16 -lm -o "$out/fuzz_parsers" >"$out/swift-build.log" 2>&1 ||
  { grep -v "Cannot export local symbol" "$out/swift-build.log"; exit 1; }
mkdir -p "$out/pcorpus"
cp -n tools/fuzz/parsers/* "$out/pcorpus/" 2>/dev/null || true
# leaks inside the Swift toolchain's libraries are listed (and explained) in lsan.supp
LSAN_OPTIONS=suppressions=$PWD/tools/fuzz/lsan.supp SWIFT_BACKTRACE=enable=no \
  "$out/fuzz_parsers" "$out/pcorpus" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
  -artifact_prefix="$out/" -print_final_stats=1 2>"$out/fuzz-parsers.log" || { tail -40 "$out/fuzz-parsers.log"; exit 1; }
grep -E "stat::number_of_executed_units|stat::peak_rss_mb|cov:" "$out/fuzz-parsers.log" | tail -3 |
  sed 's/^/fuzz (parsers): /' >&2
