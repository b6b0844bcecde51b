import Foundation
import Kernels
import TestSupport
import Testing

@Suite struct ElementwiseTests {
    @Test("element-wise ops equal the reference bit for bit on every ISA", arguments: [1, 7, 16, 33, 1000, 40_001])
    func elementwise(_ count: Int) throws {
        var rng = SeededRNG(seed: UInt64(count))
        let c = count % 7 == 0 ? 7 : (count % 3 == 0 ? 3 : 1)
        let x = randomTensor([count / c, c], &rng), y = randomTensor([count / c, c], &rng)
        x.data[0] = .nan; x.data[count - 1] = -0.0
        let alpha = randomTensor([c], &rng), scale = randomTensor([c], &rng), shift = randomTensor([c], &rng)
        for isa in isas {
            let ctx = try ComputeContext(isa: isa, threads: 2)
            #expect(bitEqual(ctx.relu(x), Reference.relu(x)), "relu \(isa)")
            #expect(bitEqual(ctx.add(x, y), Reference.add(x, y)), "add \(isa)")
            #expect(bitEqual(ctx.prelu(x, alpha: alpha), Reference.prelu(x, alpha: alpha)), "prelu \(isa)")
            #expect(
                bitEqual(
                    ctx.affineChannels(x, scale: scale, shift: shift),
                    Reference.affineChannels(x, scale: scale, shift: shift)), "affine \(isa)")
        }
    }

    @Test("softmax rows sum to one and survive large logits")
    func softmax() throws {
        let ctx = try ComputeContext(isa: .best, threads: 1)
        let y = ctx.softmax(Tensor(shape: [2, 3], values: [1000, 1000, 1000, 0, 1, 2]))
        #expect(abs(y.data[0] - 1.0 / 3) < 1e-6)
        let e = [Float(1), exp(1), exp(2)], s = e.reduce(0, +)
        for j in 0..<3 { #expect(abs(y.data[3 + j] - e[j] / s) < 1e-6) }
    }

    @Test("ReLU zeroes NaN and negative zero as the reference does")
    func reluNaN() throws {
        let x = Tensor(shape: [3], values: [.nan, -0.0, 2])
        let y = Reference.relu(x)
        #expect(y.array == [0, 0, 2] && y.data[1].sign == .plus)
    }

    @Test("the C core is built without fast-math")
    func noFastMath() { #expect(!ComputeContext.builtWithFastMath) }
}
