#!/usr/bin/env bash
# Installs painface under PREFIX (default /usr/local) for machines without a Swift toolchain,
# such as a board by a bed:
#   PREFIX/bin/painface                 release build, Swift runtime linked statically, stripped
#   PREFIX/share/painface/models/       the bundled models and their licences (found from bin/)
#   PREFIX/share/man/man1/painface*.1   man pages (swift-argument-parser's generate-manual)
#   PREFIX/share/{bash-completion/completions,zsh/site-functions,fish/vendor_completions.d}/
# The binary needs only the C library, libjpeg and libpng at run time (no OpenBLAS: only
# painface-bench links it). Usage: bash scripts/install.sh [PREFIX]
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-/usr/local}
bash scripts/deps.sh
# a build folder of its own: the static runtime must not replace .build/release's objects
# rpath $ORIGIN/../lib: a tarball of scripts/package.sh carries libjpeg/libpng there; an install
# without them uses the system's
flags=(-c release --product painface --static-swift-stdlib --build-path .build/static
  -Xlinker -rpath -Xlinker '$ORIGIN/../lib')
swift build -j 2 "${flags[@]}"
bin=$(swift build "${flags[@]}" --show-bin-path)
mkdir -p "$prefix/bin" "$prefix/share/painface/models" "$prefix/share/man/man1" \
  "$prefix/share/bash-completion/completions" "$prefix/share/zsh/site-functions" \
  "$prefix/share/fish/vendor_completions.d"
# copy then rename, so a running painface is never overwritten in place
install -m 755 "$bin/painface" "$prefix/bin/.painface.new"
strip "$prefix/bin/.painface.new"
mv -f "$prefix/bin/.painface.new" "$prefix/bin/painface"
mkdir -p "$prefix/share/doc/painface"
cp LICENSE NOTICE "$prefix/share/doc/painface/"
cp models/*.json models/*.safetensors models/*.xml models/*.LICENSE.txt models/README.md \
  "$prefix/share/painface/models/"
pf="$prefix/bin/painface"
"$pf" --generate-completion-script bash >"$prefix/share/bash-completion/completions/painface"
"$pf" --generate-completion-script zsh >"$prefix/share/zsh/site-functions/_painface"
"$pf" --generate-completion-script fish >"$prefix/share/fish/vendor_completions.d/painface.fish"
# man pages: the plugin runs the tools it documents, so it builds the package (release, cached)
rm -rf .build/manual && mkdir -p .build/manual
if swift package --allow-writing-to-package-directory generate-manual --multi-page \
  --output-directory .build/manual >.build/manual.log 2>&1; then
  cp .build/manual/painface.1 .build/manual/painface.*.1 "$prefix/share/man/man1/"
else
  echo "install: man pages not generated (swift package generate-manual failed, .build/manual.log)" >&2
fi
size=$(du -sh "$prefix/bin/painface" | cut -f1)
models=$(du -sh "$prefix/share/painface/models" | cut -f1)
echo "installed $pf ($size) and its models ($models) under $prefix"
