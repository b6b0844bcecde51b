#!/usr/bin/env bash
# Builds the C-only kernel check natively and for aarch64, and runs both (the aarch64
# build under qemu-aarch64, which exercises the NEON kernels). Same flags as Package.swift.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${KERNEL_CHECK_BUILD:-.build/kernel_check}
mkdir -p "$out"
. tools/kernel_check/flags.sh
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
