import Foundation
import Kernels
import TestSupport
import Testing

@Suite struct BatchNormTests {
    @Test("batch normalisation backward (training mode) equals finite differences for x, gamma and beta")
    func batchnorm() throws {
        let (rows, c) = (9, 4)
        var rng = SeededRNG(seed: 22)
        let x = randomTensor([rows, c], &rng, range: -2...3), gamma = randomTensor([c], &rng, range: 0.5...1.5)
        let beta = randomTensor([c], &rng), wout = randomTensor([rows, c], &rng)
        let mm = Tensor(shape: [c]), mv = Tensor(shape: [c], values: [Float](repeating: 1, count: c))
        let stats = BatchNormStatistics(channels: c), y = Tensor(shape: [rows, c])
        let ctx = try ComputeContext(threads: 1)
        let bn = BatchNormWeights(gamma: gamma, beta: beta, movingMean: mm, movingVariance: mv)
        ctx.batchNormTrain(x, bn, epsilon: 1e-3, momentum: 0.99, stats: stats, into: y)
        let dx = Tensor(shape: x.shape), dg = Tensor(shape: [c]), dbeta = Tensor(shape: [c])
        ctx.batchNormBackward(x: x, gamma: gamma, stats: stats, dy: wout, dx: dx, dgamma: dg, dbeta: dbeta)
        let (X, G, Bt, O) = (doubles(x), doubles(gamma), doubles(beta), doubles(wout))
        func L(_ x: [Double], _ g: [Double], _ b: [Double]) -> Double {
            zip(Ref.batchnorm(x, rows: rows, c: c, gamma: g, beta: b, eps: 1e-3), O).reduce(0) { $0 + $1.0 * $1.1 }
        }
        #expect(
            zip(Ref.batchnorm(X, rows: rows, c: c, gamma: G, beta: Bt, eps: 1e-3), y.array).allSatisfy {
                abs($0 - Double($1)) < 1e-5
            })
        #expect(worstGradientError(X, analytic: dx.array) { L($0, G, Bt) } < 1e-3)
        #expect(worstGradientError(G, analytic: dg.array) { L(X, $0, Bt) } < 1e-3)
        #expect(worstGradientError(Bt, analytic: dbeta.array) { L(X, G, $0) } < 1e-3)
        // moving statistics: momentum 0.99 towards the batch mean and biased variance
        let m0 = (0..<rows).reduce(0.0) { $0 + X[$1 * c] } / Double(rows)
        #expect(abs(Double(mm.data[0]) - 0.01 * m0) < 1e-6)
    }
}
