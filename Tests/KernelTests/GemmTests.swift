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
}
