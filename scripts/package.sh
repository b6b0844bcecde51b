#!/usr/bin/env bash
# A self-contained tarball for this machine's architecture: painface-VERSION-linux-ARCH.tar.gz
# holding what scripts/install.sh installs (bin/, share/) plus lib/ with the image libraries
# it links (libjpeg, libpng, zlib), found through the binary's rpath $ORIGIN/../lib. It needs
# only glibc (>= the build machine's) and libstdc++ on the target. Unpack anywhere and run
# DIR/bin/painface. On an aarch64 board, run this script there (README, "Deploy on a board").
# Usage: bash scripts/package.sh [OUTDIR]   (default: .build/package)
set -euo pipefail
cd "$(dirname "$0")/.."
outdir=${1:-.build/package}
version=$(sed -n 's/.*static let version = "\(.*\)"/\1/p' Sources/Weights/Version.swift)
arch=$(uname -m)
name=painface-${version:-dev}-linux-$arch
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
bash scripts/install.sh "$stage/$name" >&2
mkdir -p "$stage/$name/lib"
for lib in libjpeg.so libpng16.so libz.so; do
  path=$(ldd "$stage/$name/bin/painface" | awk -v l="$lib" 'index($1, l) == 1 { print $3 }')
  [ -n "$path" ] || { echo "package: painface does not link $lib" >&2; exit 1; }
  cp -L "$path" "$stage/$name/lib/$(basename "$path")"
done
cp LICENSE NOTICE README.md "$stage/$name/"
mkdir -p "$outdir"
tar -C "$stage" -czf "$outdir/.$name.tar.gz.tmp" "$name"
mv -f "$outdir/.$name.tar.gz.tmp" "$outdir/$name.tar.gz"
echo "package: $outdir/$name.tar.gz ($(du -h "$outdir/$name.tar.gz" | cut -f1))"
