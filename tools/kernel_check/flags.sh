# The compiler and flags of the C-only harnesses (tools/kernel_check, tools/neon_model): the
# same as Package.swift's for CKernels. Sourced from the repository root.
CC=${CLANG:-$(command -v clang || echo /opt/swift/usr/bin/clang)}
flags=(-std=gnu17 -O3 -ffp-contract=off -fno-math-errno -Wall -Wextra -Wno-unused-parameter -DCK_NO_BLAS
       -ICSources/CKernels/include -ICSources/CKernels/internal)
