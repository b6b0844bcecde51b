import Foundation
import Kernels
import TestSupport
import Testing

@Suite struct AdadeltaISATests {
    @Test("Adadelta over many chunks: the same bits on every ISA and at any thread count")
    func isas() throws {
        let n = 100_003
        var rng = SeededRNG(seed: 25)
        let w0 = randomTensor([n], &rng), g = randomTensor([n], &rng, range: -0.01...0.01)
        let eg0 = randomTensor([n], &rng, range: 0...0.001), ed0 = randomTensor([n], &rng, range: 0...0.001)
        func run(_ isa: ISA, _ threads: Int) throws -> [Float] {
            let ctx = try ComputeContext(isa: isa, threads: threads)
            let (w, eg, ed) = (
                Tensor(shape: [n], values: w0.array), Tensor(shape: [n], values: eg0.array),
                Tensor(shape: [n], values: ed0.array)
            )
            for _ in 0..<3 { ctx.adadelta(w, gradient: g, eg: eg, ed: ed, learningRate: 1, rho: 0.95, epsilon: 1e-7) }
            return w.array + eg.array + ed.array
        }
        let ref = try run(.scalar, 1)
        for isa in ISA.allCases where isa.isSupported {
            for threads in [1, 3] {
                #expect(
                    try run(isa, threads).elementsEqual(ref) { $0.bitPattern == $1.bitPattern },
                    "\(isa), \(threads) threads")
            }
        }
    }
}
