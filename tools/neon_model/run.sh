#!/usr/bin/env bash
# The bundled mini-Xception over the C core alone (tools/neon_model/model_driver.c), natively and
# for aarch64 under qemu-aarch64 (the NEON kernels), on the 27 real face crops of
# Tests/Fixtures/mini_xception_golden.safetensors: each against Keras's outputs, then the two
# against each other. Then the NEON GEMM microkernel's instructions per k step, read from its
# object code (qemu cannot time it). Same flags as the kernel check.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${NEON_MODEL_BUILD:-.build/neon_model}
mkdir -p "$out"
. tools/kernel_check/flags.sh
srcs=($(find CSources/CKernels -name '*.c' | sort) tools/neon_model/model_driver.c)
python3 tools/neon_model/export.py models/fer-mini-xception.json models/fer-mini-xception.safetensors \
  Tests/Fixtures/mini_xception_golden.safetensors "$out/data"

"$CC" "${flags[@]}" "${srcs[@]}" -lm -lpthread -o "$out/model_native"
"$out/model_native" "$out/data" "$out/native"

if ! command -v qemu-aarch64 >/dev/null || [ ! -d /usr/aarch64-linux-gnu/lib ]; then
  echo "neon_model: qemu-aarch64 or the aarch64 libc is missing: NEON not run" >&2
  exit 1
fi
"$CC" --target=aarch64-linux-gnu "${flags[@]}" "${srcs[@]}" -lm -lpthread -o "$out/model_arm64"
QEMU_LD_PREFIX=/usr/aarch64-linux-gnu qemu-aarch64 "$out/model_arm64" "$out/data" "$out/arm64"
python3 - "$out" <<'PY'
import struct, sys
out = sys.argv[1]
for name in ("features", "probabilities"):
    a = open(f"{out}/native.{name}.bin", "rb").read()
    b = open(f"{out}/arm64.{name}.bin", "rb").read()
    x, y = struct.unpack(f"<{len(a) // 4}f", a), struct.unpack(f"<{len(b) // 4}f", b)
    diff = max(abs(p - q) for p, q in zip(x, y))
    print(f"neon_model: {name}: NEON (qemu) against x86: " + ("the same bits" if a == b else f"max diff {diff:.2e}"))
PY

# the NEON GEMM microkernel's inner loop: the backward branch enclosing the most FMLAs
"$CC" --target=aarch64-linux-gnu "${flags[@]}" -c CSources/CKernels/arm/gemm_neon.c -o "$out/gemm_neon.o"
OBJDUMP=$(command -v aarch64-linux-gnu-objdump || true)   # binutils-aarch64-linux-gnu (scripts/deps.sh --qemu)
if [ -n "$OBJDUMP" ]; then
  "$OBJDUMP" -d --no-show-raw-insn "$out/gemm_neon.o" | python3 -c '
import re, sys
fn, body, loops = None, [], {}
for line in sys.stdin:
    m = re.match(r"^[0-9a-f]+ <(\w+)>:", line)
    if m:
        fn, body = m.group(1), []
        continue
    m = re.match(r"^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$", line)
    if not m or fn is None:
        continue
    addr, mnem, ops = int(m.group(1), 16), m.group(2), m.group(3)
    body.append((addr, mnem))
    t = re.search(r"\b([0-9a-f]+) <", ops)
    if mnem.startswith(("b.", "cbnz", "cbz", "tbnz", "tbz")) or (mnem == "b" and t):
        if t and int(t.group(1), 16) < addr:
            start = int(t.group(1), 16)
            ins = [x for a, x in body if a >= start]
            f = sum(1 for x in ins if x.startswith("fmla"))
            if f > loops.get(fn, (0, 0))[0]:
                loops[fn] = (f, len(ins))
for fn, (f, n) in sorted(loops.items()):
    if fn.startswith("ck_gemm_uk"):
        print(f"neon_model: {fn}: inner loop {n} instructions per k step, {f} of them FMLA (4 lanes each): "
              f"{n / (4 * f):.2f} instructions per multiply-add")
'
else
  echo "neon_model: no objdump for aarch64: instruction counts skipped" >&2
fi
