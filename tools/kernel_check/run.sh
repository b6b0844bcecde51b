#!/usr/bin/env bash
# Builds the C-only kernel check natively and for aarch64, and runs both (the aarch64
# build under qemu-aarch64, which exercises the NEON kernels). Same flags as Package.swift.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${KERNEL_CHECK_BUILD:-.build/kernel_check}
mkdir -p "$out"
CC=${CLANG:-$(command -v clang || echo /opt/swift/usr/bin/clang)}
flags=(-std=gnu17 -O3 -ffp-contract=off -fno-math-errno -Wall -Wextra -Wno-unused-parameter -DCK_NO_BLAS
       -ICSources/CKernels/include -ICSources/CKernels/internal)
srcs=($(find CSources/CKernels -name '*.c' | sort) tools/kernel_check/kernel_check.c)

"$CC" "${flags[@]}" "${srcs[@]}" -lm -lpthread -o "$out/kernel_check_native"
"$out/kernel_check_native"

if command -v qemu-aarch64 >/dev/null && [ -d /usr/aarch64-linux-gnu/lib ]; then
  "$CC" --target=aarch64-linux-gnu "${flags[@]}" "${srcs[@]}" -lm -lpthread -o "$out/kernel_check_arm64"
  QEMU_LD_PREFIX=/usr/aarch64-linux-gnu qemu-aarch64 "$out/kernel_check_arm64"
else
  echo "kernel_check: qemu-aarch64 or the aarch64 libc is missing: NEON not checked" >&2
  exit 1
fi
