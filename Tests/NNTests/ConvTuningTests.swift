import Foundation
import Kernels
import NN
import TestSupport
import Testing
import Weights

@Suite struct ConvTuningTests {
    static let stem = repositoryRoot().appendingPathComponent("models/fer-mini-xception").path

    func model(_ policy: ConvPolicy) throws -> Model {
        let ctx = try ComputeContext(isa: .best, threads: 2)
        ctx.convPolicy = policy
        return try Model(path: Self.stem, context: ctx)
    }

    @Test("tuned: measured once, kept in the file, the same choice and bits when loaded again")
    func tuned() throws {
        let file = try scratch("tuning").appendingPathComponent("conv-tuning.json").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let a = try model(.tuned(path: file))
        let saved = try Data(contentsOf: URL(fileURLWithPath: file))
        let b = try model(.tuned(path: file))
        // the second load measures nothing: the file is unchanged, the choices equal
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == saved)
        #expect(a.convAlgorithms.map(\.algorithm) == b.convAlgorithms.map(\.algorithm))
        #expect(a.convAlgorithmDigest == b.convAlgorithmDigest)
        let t = try ConvTuning(path: file)
        let ctx = try ComputeContext(isa: .best, threads: 2)
        for (layer, shape, algorithm) in a.convAlgorithms {
            guard let e = t.entry(shape, context: ctx) else { continue }  // a single candidate is not timed
            #expect(e.algorithm == "\(algorithm)", "\(layer)")
            #expect(e.error[e.algorithm]! <= 1e-4, "\(layer)")
            #expect(e.milliseconds[e.algorithm]! == e.milliseconds.values.min(), "\(layer): the fastest within budget")
        }
        var rng = SeededRNG(seed: 5)
        let x = randomTensor([3, 64, 64, 1], &rng)
        let ya = try a.forward(x, outputs: ["features"])["features"]!
        let yb = try b.forward(x, outputs: ["features"])["features"]!
        #expect(bitEqual(ya, yb))
        let rule = try model(.rule).forward(x, outputs: ["features"])["features"]!
        #expect(relativeError(ya, rule) < 1e-4)
    }

    @Test("forced: the algorithm wherever it applies, the rule elsewhere; a bad tuning file is named")
    func forced() throws {
        let m = try model(.forced(.winograd4x4))
        let ctx = try ComputeContext(isa: .best, threads: 2)
        for (layer, shape, algorithm) in m.convAlgorithms {
            let applies = ConvAlgorithm.resolve(.winograd4x4, for: shape, context: ctx) == .winograd4x4
            #expect(
                applies
                    ? algorithm == .winograd4x4 : algorithm == ConvAlgorithm.resolve(.auto, for: shape, context: ctx),
                "\(layer)")
        }
        #expect(m.convAlgorithmDigest != (try model(.rule)).convAlgorithmDigest)
        let bad = try scratch("tuning-bad").appendingPathComponent("t.json").path
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: bad))
        #expect {
            try model(.tuned(path: bad))
        } throws: { "\($0)".hasPrefix(bad) && "\($0)".contains("not a PainFace tuning file") }
    }
}
