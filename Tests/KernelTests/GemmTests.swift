import Foundation
import Kernels
import TestSupport
import Testing

@Suite struct GemmTests {
    @Test(
        "packed GEMM equals the reference on every ISA",
        arguments: [
            (1, 1, 1), (1, 1024, 512), (5, 3, 7), (13, 33, 300), (100, 65, 257), (37, 128, 1024), (64, 0, 5),
        ])
    func gemm(_ dims: (Int, Int, Int)) throws {
        let (m, n, k) = dims
        var rng = SeededRNG(seed: UInt64(m * 1000 + n * 10 + k))
        let a = randomTensor([m, k], &rng), b = randomTensor([k, n], &rng), bias = randomTensor([n], &rng)
        for act in [Activation.linear, .relu] {
            let ref = Reference.gemm(a, b, bias: bias, activation: act)
            for isa in isas {
                let ctx = try ComputeContext(isa: isa, threads: 2)
                let y = try PackedMatrix(ctx, weights: b).matmul(a, bias: bias, activation: act, workspace: Workspace())
                #expect(relativeError(y, ref) < 1e-5, "\(isa) \(act)")
            }
        }
    }

    @Test("bf16 GEMM: the same bits per kernel family on every ISA and thread count, within bf16's rounding of fp32")
    func bf16() throws {
        var rng = SeededRNG(seed: 16)
        let a = randomTensor([37, 300], &rng), b = randomTensor([300, 65], &rng), bias = randomTensor([65], &rng)
        let ref = Reference.gemm(a, b, bias: bias, activation: .relu)
        // VDPBF16PS steps (native or emulated) and AMX's TDPBF16PS steps sum in different orders
        var first: [String: [Float]] = [:]
        for isa in isas {
            for threads in [1, 2] {
                let ctx = try ComputeContext(isa: isa, threads: threads)
                let y = try PackedMatrixBF16(ctx, weights: b).matmul(
                    a, bias: bias, activation: .relu, workspace: Workspace())
                let family = ctx.bf16Kernel == "AMX" ? "AMX" : "VDPBF16PS"
                if let f = first[family] {
                    #expect(y.array == f, "\(isa), \(threads) threads")
                } else {
                    first[family] = y.array
                }
                let err = relativeError(y, ref)
                #expect(err < 1e-2 && err > 1e-5, "\(isa): \(err)")
            }
        }
    }
}
