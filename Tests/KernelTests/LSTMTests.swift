import Foundation
import Kernels
import TestSupport
import Testing

/// Double-precision references: the finite-difference oracles.
enum Ref {
    static func sigmoid(_ z: Double) -> Double { 1 / (1 + Foundation.exp(-z)) }

    /// Keras LSTM over x [b, t, f]; returns h [b, t, u].
    static func lstm(
        _ x: [Double], b: Int, t: Int, f: Int, u: Int, w: [Double], r: [Double], bias: [Double]
    ) -> [Double] {
        var h = [Double](repeating: 0, count: b * t * u)
        for n in 0..<b {
            var hp = [Double](repeating: 0, count: u), cp = [Double](repeating: 0, count: u)
            for s in 0..<t {
                var z = bias
                for j in 0..<(4 * u) {
                    for q in 0..<f { z[j] += x[(n * t + s) * f + q] * w[q * 4 * u + j] }
                    for q in 0..<u { z[j] += hp[q] * r[q * 4 * u + j] }
                }
                for k in 0..<u {
                    let i = sigmoid(z[k]), fg = sigmoid(z[u + k]), g = Foundation.tanh(z[2 * u + k]),
                        o = sigmoid(z[3 * u + k])
                    cp[k] = fg * cp[k] + i * g
                    hp[k] = o * Foundation.tanh(cp[k])
                    h[(n * t + s) * u + k] = hp[k]
                }
            }
        }
        return h
    }

    /// Training-mode batch normalisation over rows.
    static func batchnorm(_ x: [Double], rows: Int, c: Int, gamma: [Double], beta: [Double], eps: Double) -> [Double] {
        var y = x
        for j in 0..<c {
            let m = (0..<rows).reduce(0.0) { $0 + x[$1 * c + j] } / Double(rows)
            let v = (0..<rows).reduce(0.0) { $0 + (x[$1 * c + j] - m) * (x[$1 * c + j] - m) } / Double(rows)
            for r in 0..<rows { y[r * c + j] = gamma[j] * (x[r * c + j] - m) / (v + eps).squareRoot() + beta[j] }
        }
        return y
    }
}

func doubles(_ t: Tensor) -> [Double] { t.array.map(Double.init) }

/// Largest relative difference between analytic and central-difference gradients of
/// L = sum(weights * f(params)), over every element of `params`.
func worstGradientError(
    _ params: [Double], analytic: [Float], eps: Double = 1e-6, _ loss: ([Double]) -> Double
) -> Double {
    var worst = 0.0
    for i in params.indices {
        var p1 = params, p2 = params
        p1[i] += eps; p2[i] -= eps
        let num = (loss(p1) - loss(p2)) / (2 * eps)
        worst = max(worst, abs(num - Double(analytic[i])) / max(1e-3, abs(num)))
    }
    return worst
}

@Suite struct RecurrentGradientTests {
    @Test("LSTM backward through time equals finite differences for x, kernel, recurrent kernel and bias")
    func lstm() throws {
        let (b, t, f, u) = (2, 5, 3, 4)
        var rng = SeededRNG(seed: 21)
        let x = randomTensor([b, t, f], &rng), w = randomTensor([f, 4 * u], &rng, range: -0.6...0.6)
        let r = randomTensor([u, 4 * u], &rng, range: -0.5...0.5), bias = randomTensor([4 * u], &rng, range: -0.3...0.3)
        let wout = randomTensor([b, t, u], &rng)  // L = sum(wout * h)
        let ctx = try ComputeContext(threads: 2)
        let ws = Workspace(), weights = LSTMWeights(kernel: w, recurrent: r, bias: bias)
        let h = Tensor(shape: [b, t, u]), gates = Tensor(shape: [b, t, 4 * u]), cells = Tensor(shape: [b, t, u])
        let tr = LSTMTrace(h: h, gates: gates, cells: cells)
        ctx.lstmForward(x, weights, trace: tr, workspace: ws)
        let dx = Tensor(shape: x.shape), dw = Tensor(shape: w.shape), dr = Tensor(shape: r.shape),
            db = Tensor(shape: bias.shape)
        ctx.lstmBackward(
            x: x, weights, trace: tr, dh: wout, dx: dx, gradients: LSTMWeights(kernel: dw, recurrent: dr, bias: db),
            workspace: ws)
        let (X, W, R, B, O) = (doubles(x), doubles(w), doubles(r), doubles(bias), doubles(wout))
        func L(_ x: [Double], _ w: [Double], _ r: [Double], _ bb: [Double]) -> Double {
            zip(Ref.lstm(x, b: b, t: t, f: f, u: u, w: w, r: r, bias: bb), O).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let hRef = Ref.lstm(X, b: b, t: t, f: f, u: u, w: W, r: R, bias: B)
        #expect(zip(hRef, h.array).allSatisfy { abs($0 - Double($1)) < 1e-5 })
        #expect(worstGradientError(X, analytic: dx.array) { L($0, W, R, B) } < 1e-3)
        #expect(worstGradientError(W, analytic: dw.array) { L(X, $0, R, B) } < 1e-3)
        #expect(worstGradientError(R, analytic: dr.array) { L(X, W, $0, B) } < 1e-3)
        #expect(worstGradientError(B, analytic: db.array) { L(X, W, R, $0) } < 1e-3)
    }
}

@Suite struct FusedInputLayerTests {
    @Test(
        """
        batch normalisation fused into the first LSTM: forward as BN then LSTM, gradients of gamma, beta, kernel, \
        recurrent kernel and bias equal finite differences
        """
    )
    func bnLSTM() throws {
        let (b, t, f, u) = (3, 4, 5, 3)
        var rng = SeededRNG(seed: 23)
        let x = randomTensor([b, t, f], &rng, range: -1...2), gamma = randomTensor([f], &rng, range: 0.5...1.5)
        let beta = randomTensor([f], &rng, range: -0.5...0.5), w = randomTensor([f, 4 * u], &rng, range: -0.6...0.6)
        let r = randomTensor([u, 4 * u], &rng, range: -0.5...0.5), bias = randomTensor([4 * u], &rng, range: -0.3...0.3)
        let wout = randomTensor([b, t, u], &rng)
        let ctx = try ComputeContext(threads: 2)
        let ws = Workspace()
        let mm = Tensor(shape: [f]), mv = Tensor(shape: [f], values: [Float](repeating: 1, count: f))
        let bn = BatchNormWeights(gamma: gamma, beta: beta, movingMean: mm, movingVariance: mv)
        let weights = LSTMWeights(kernel: w, recurrent: r, bias: bias), stats = BatchNormStatistics(channels: f)
        let h = Tensor(shape: [b, t, u]), gates = Tensor(shape: [b, t, 4 * u]), cells = Tensor(shape: [b, t, u])
        let tr = LSTMTrace(h: h, gates: gates, cells: cells)
        let seqs = SequenceBatch(x)
        ctx.bnLSTMForward(seqs, bn, epsilon: 1e-3, momentum: 0.99, weights, stats: stats, trace: tr, workspace: ws)
        let dg = Tensor(shape: [f]), dbeta = Tensor(shape: [f]), dw = Tensor(shape: w.shape),
            dr = Tensor(shape: r.shape), db = Tensor(shape: bias.shape)
        ctx.bnLSTMBackward(
            seqs, bn, weights, stats: stats, trace: tr, dh: wout, dgamma: dg, dbeta: dbeta,
            gradients: LSTMWeights(kernel: dw, recurrent: dr, bias: db), workspace: ws)
        let (X, G, Bt, W, R, B, O) = (
            doubles(x), doubles(gamma), doubles(beta), doubles(w), doubles(r), doubles(bias), doubles(wout)
        )
        func H(_ g: [Double], _ be: [Double], _ w: [Double], _ r: [Double], _ bb: [Double]) -> [Double] {
            Ref.lstm(
                Ref.batchnorm(X, rows: b * t, c: f, gamma: g, beta: be, eps: 1e-3), b: b, t: t, f: f, u: u, w: w, r: r,
                bias: bb)
        }
        func L(_ g: [Double], _ be: [Double], _ w: [Double], _ r: [Double], _ bb: [Double]) -> Double {
            zip(H(g, be, w, r, bb), O).reduce(0) { $0 + $1.0 * $1.1 }
        }
        #expect(zip(H(G, Bt, W, R, B), h.array).allSatisfy { abs($0 - Double($1)) < 1e-5 })
        #expect(worstGradientError(G, analytic: dg.array) { L($0, Bt, W, R, B) } < 1e-3)
        #expect(worstGradientError(Bt, analytic: dbeta.array) { L(G, $0, W, R, B) } < 1e-3)
        #expect(worstGradientError(W, analytic: dw.array) { L(G, Bt, $0, R, B) } < 1e-3)
        #expect(worstGradientError(R, analytic: dr.array) { L(G, Bt, W, $0, B) } < 1e-3)
        #expect(worstGradientError(B, analytic: db.array) { L(G, Bt, W, R, $0) } < 1e-3)
    }

    @Test("inference: the input's affine normalisation applied while packing equals normalising first, bit for bit")
    func affineLSTM() throws {
        let (b, t, f, u) = (3, 7, 300, 5)  // f spans two K blocks
        var rng = SeededRNG(seed: 26)
        let x = randomTensor([b, t, f], &rng, range: -2...3), scale = randomTensor([f], &rng, range: 0.5...1.5)
        let shift = randomTensor([f], &rng), w = randomTensor([f, 4 * u], &rng, range: -0.3...0.3)
        let r = randomTensor([u, 4 * u], &rng, range: -0.5...0.5), bias = randomTensor([4 * u], &rng, range: -0.3...0.3)
        for isa in ISA.allCases where isa.isSupported {
            let ctx = try ComputeContext(isa: isa, threads: 2), ws = Workspace()
            let weights = LSTMWeights(kernel: w, recurrent: r, bias: bias)
            let a0 = ctx.affineChannels(x, scale: scale, shift: shift)
            let h1 = Tensor(shape: [b, t, u]), g1 = Tensor(shape: [b, t, 4 * u]), c1 = Tensor(shape: [b, t, u])
            ctx.lstmForward(a0, weights, trace: LSTMTrace(h: h1, gates: g1, cells: c1), workspace: ws)
            let h2 = Tensor(shape: [b, t, u]), g2 = Tensor(shape: [b, t, 4 * u]), c2 = Tensor(shape: [b, t, u])
            ctx.affineLSTMForward(
                x, scale: scale, shift: shift, weights, trace: LSTMTrace(h: h2, gates: g2, cells: c2), workspace: ws)
            #expect(bitEqual(h1, h2) && bitEqual(g1, g2) && bitEqual(c1, c2), "\(isa)")
        }
    }

    @Test("the LSTM recurrence gives the same bits on every ISA this CPU has and at any thread count")
    func recurrenceISAs() throws {
        let (b, t, u) = (5, 37, 19)  // odd sizes: vector tails everywhere
        var rng = SeededRNG(seed: 24)
        let pre = randomTensor([b, t, 4 * u], &rng, range: -4...4),
            r = randomTensor([u, 4 * u], &rng, range: -0.7...0.7)
        let dh = randomTensor([b, t, u], &rng)
        func run(_ isa: ISA, _ threads: Int) throws -> [Float] {
            let ctx = try ComputeContext(isa: isa, threads: threads)
            let g = Tensor(shape: pre.shape, values: pre.array), h = Tensor(shape: [b, t, u]),
                c = Tensor(shape: [b, t, u])
            let tr = LSTMTrace(h: h, gates: g, cells: c)
            ctx.lstmRecurrence(recurrent: r, trace: tr)
            let dz = Tensor(shape: pre.shape), dr = Tensor(shape: r.shape)
            ctx.lstmBPTT(recurrent: r, trace: tr, dh: dh, dz: dz, drecurrent: dr, workspace: Workspace())
            return h.array + c.array + g.array + dz.array + dr.array
        }
        let cellValues = b * t * (u + u + 4 * u + 4 * u)  // dr comes from a GEMM: FMA on SIMD ISAs
        let ref = try run(.scalar, 1)
        for isa in ISA.allCases where isa.isSupported {
            for threads in [1, 3] {
                let got = try run(isa, threads)
                #expect(
                    got[..<cellValues].elementsEqual(ref[..<cellValues]) { $0.bitPattern == $1.bitPattern },
                    "\(isa) with \(threads) threads differs from the scalar reference")
                #expect(
                    relativeError(
                        Tensor(shape: [r.count], values: Array(got[cellValues...])),
                        Tensor(shape: [r.count], values: Array(ref[cellValues...]))) < 1e-5)
            }
        }
        // the activations are accurate: sigmoid and tanh of the first step against double
        let ctx = try ComputeContext(isa: .best, threads: 1)
        let g = Tensor(shape: pre.shape, values: pre.array), h = Tensor(shape: [b, t, u]), c = Tensor(shape: [b, t, u])
        ctx.lstmRecurrence(recurrent: r, trace: LSTMTrace(h: h, gates: g, cells: c))
        var worst = 0.0
        for j in 0..<(4 * u) {
            let z = Double(pre.data[j])
            let want = (2 * u..<3 * u).contains(j) ? Foundation.tanh(z) : Ref.sigmoid(z)
            worst = max(worst, abs(Double(g.data[j]) - want))
        }
        #expect(worst < 3e-7, "activation error \(worst)")
    }
}
