#!/usr/bin/env bash
# Installs into a scratch PREFIX with scripts/install.sh and runs the installed binary as a
# machine without Swift would: a clean environment, no toolchain on PATH; ldd must show no
# Swift runtime and no OpenBLAS, `models` must find the installed models, and `infer` must run
# on the bundled frames.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
bash scripts/install.sh "$prefix" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
tail -1 "$tmp/install.log"
pf=$prefix/bin/painface
if ldd "$pf" | grep -E "libswift|libFoundation|libdispatch|libBlocksRuntime|libopenblas"; then
  echo "install check: the installed painface links the libraries above" >&2
  exit 1
fi
grep -q '^\.Dt PAINFACE.INFER 1' "$prefix/share/man/man1/painface.infer.1" || { echo "install check: no man page" >&2; exit 1; }
clean=(env -i PATH=/usr/bin:/bin HOME="$tmp")
"${clean[@]}" "$pf" models >"$tmp/models.txt"
grep -q "$prefix/share/painface/models/fer-mini-xception" "$tmp/models.txt" ||
  { cat "$tmp/models.txt"; echo "install check: models not found under $prefix" >&2; exit 1; }
"${clean[@]}" "$pf" infer samples/frames/*/ --out "$tmp/expressions.csv" >/dev/null
rows=$(($(wc -l <"$tmp/expressions.csv") - 1))
folders=$(find samples/frames -mindepth 1 -maxdepth 1 -type d | wc -l)
[ "$rows" -eq "$folders" ] || { echo "install check: infer wrote $rows rows for $folders folders" >&2; exit 1; }
# the tarball: unpacked elsewhere, it runs on its own copies of libjpeg/libpng/zlib
bash scripts/package.sh "$tmp/pkg" >"$tmp/package.log" 2>&1 || { cat "$tmp/package.log"; exit 1; }
tail -1 "$tmp/package.log"
mkdir "$tmp/unpacked" && tar -C "$tmp/unpacked" -xzf "$tmp"/pkg/painface-*.tar.gz
tpf=$(echo "$tmp"/unpacked/painface-*/bin/painface)
ldd "$tpf" | grep -q "$tmp/unpacked/.*/lib/libjpeg" ||
  { ldd "$tpf"; echo "install check: the tarball's painface does not use its own libjpeg" >&2; exit 1; }
"${clean[@]}" "$tpf" infer samples/frames/cap12_a/ --quiet >"$tmp/tar.csv"
[ "$(wc -l <"$tmp/tar.csv")" -eq 2 ] || { cat "$tmp/tar.csv"; echo "install check: the tarball's infer failed" >&2; exit 1; }
echo "install check: $(du -sh "$pf" | cut -f1) binary, $(du -sh "$prefix" | cut -f1) installed," \
  "ldd: $(ldd "$pf" | wc -l) libraries, infer: $rows rows"
