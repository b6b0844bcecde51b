import Foundation
import Kernels
import TestSupport
import Testing

/// A two-layer network in double precision: the finite-difference oracle.
struct RefMLP {
    var w1: [Double], b1: [Double], w2: [Double], b2: [Double]
    let k: Int, h: Int, c: Int

    func loss(_ x: [Double], _ labels: [Int], _ cw: [Double]) -> Double {
        let m = labels.count
        var total = 0.0
        for i in 0..<m {
            var hid = [Double](repeating: 0, count: h)
            for j in 0..<h {
                var a = b1[j]
                for q in 0..<k { a += x[i * k + q] * w1[q * h + j] }
                hid[j] = max(a, 0)
            }
            var z = [Double](repeating: 0, count: c)
            for j in 0..<c {
                var a = b2[j]
                for q in 0..<h { a += hid[q] * w2[q * c + j] }
                z[j] = a
            }
            let mx = z.max()!
            let e = z.map { Foundation.exp($0 - mx) }
            let p = e[labels[i]] / e.reduce(0, +)
            total += cw[labels[i]] * -Foundation.log(p)
        }
        return total / Double(m)
    }
}

@Suite struct GradientCheckTests {
    @Test("dense, ReLU and weighted softmax cross-entropy backward equal central finite differences (double)")
    func mlpGradients() throws {
        let (m, k, h, c) = (4, 5, 7, 3)
        var rng = SeededRNG(seed: 17)
        let x = randomTensor([m, k], &rng), w1 = randomTensor([k, h], &rng),
            b1 = randomTensor([h], &rng, range: -0.1...0.1)
        let w2 = randomTensor([h, c], &rng), b2 = randomTensor([c], &rng, range: -0.1...0.1)
        let labels: [Int32] = [0, 2, 1, 2]
        let cw: [Float] = [0.5, 1.5, 2.0]
        let ctx = try ComputeContext(isa: .best, threads: 2)
        let ws = Workspace()
        let l1 = DenseWeights(kernel: w1, bias: b1), l2 = DenseWeights(kernel: w2, bias: b2)
        // forward
        let hid = Tensor(shape: [m, h]), z = Tensor(shape: [m, c])
        ctx.denseForward(x, l1, activation: .relu, into: hid, workspace: ws)
        ctx.denseForward(hid, l2, into: z, workspace: ws)
        let p = ctx.softmax(z)
        // backward
        let dz = Tensor(shape: [m, c]), dh = Tensor(shape: [m, h]), dx = Tensor(shape: [m, k])
        let dw1 = Tensor(shape: [k, h]), db1 = Tensor(shape: [h]), dw2 = Tensor(shape: [h, c]), db2 = Tensor(shape: [c])
        let loss = ctx.softmaxCrossEntropy(probabilities: p, labels: labels, classWeights: cw, clip: 1e-7, gradient: dz)
        ctx.denseBackward(x: hid, l2, dy: dz, dx: dh, gradients: DenseWeights(kernel: dw2, bias: db2), workspace: ws)
        ctx.reluBackward(output: hid, gradient: dh, into: dh)
        ctx.denseBackward(x: x, l1, dy: dh, dx: dx, gradients: DenseWeights(kernel: dw1, bias: db1), workspace: ws)

        func d(_ t: Tensor) -> [Double] { t.array.map(Double.init) }
        let ref = RefMLP(w1: d(w1), b1: d(b1), w2: d(w2), b2: d(b2), k: k, h: h, c: c)
        let xs = d(x), ls = labels.map(Int.init), cws = cw.map(Double.init)
        #expect(abs(ref.loss(xs, ls, cws) - loss) < 1e-5 * abs(loss))
        let eps = 1e-6
        func check(_ name: String, _ analytic: Tensor, _ perturb: (inout RefMLP, inout [Double], Int, Double) -> Void) {
            var worst = 0.0
            for i in 0..<analytic.count {
                var r1 = ref, r2 = ref, x1 = xs, x2 = xs
                perturb(&r1, &x1, i, eps)
                perturb(&r2, &x2, i, -eps)
                let num = (r1.loss(x1, ls, cws) - r2.loss(x2, ls, cws)) / (2 * eps)
                worst = max(worst, abs(num - Double(analytic.data[i])) / max(1e-3, abs(num)))
            }
            #expect(worst < 1e-3, "\(name): worst relative gradient error \(worst)")
        }
        check("w1", dw1) { r, _, i, e in r.w1[i] += e }
        check("b1", db1) { r, _, i, e in r.b1[i] += e }
        check("w2", dw2) { r, _, i, e in r.w2[i] += e }
        check("b2", db2) { r, _, i, e in r.b2[i] += e }
        check("x", dx) { _, x, i, e in x[i] += e }
    }

    @Test("dense backward accumulates into both the kernel and the bias gradient, starting from what they hold")
    func accumulates() throws {
        var rng = SeededRNG(seed: 3)
        let x = randomTensor([3, 4], &rng), w = randomTensor([4, 2], &rng), dy = randomTensor([3, 2], &rng)
        let ctx = try ComputeContext(isa: .best, threads: 1)
        let dw = randomTensor([4, 2], &rng), db = randomTensor([2], &rng)
        let (dw0, db0) = (dw.array, db.array)
        let weights = DenseWeights(kernel: w, bias: Tensor(shape: [2]))
        for _ in 0..<2 {
            ctx.denseBackward(
                x: x, weights, dy: dy, dx: nil, gradients: DenseWeights(kernel: dw, bias: db), workspace: Workspace())
        }
        // independent sums in double: dW = X^T dY, db = column sums of dY, each added twice
        for q in 0..<4 {
            for j in 0..<2 {
                let g = (0..<3).reduce(0.0) { $0 + Double(x.data[$1 * 4 + q]) * Double(dy.data[$1 * 2 + j]) }
                #expect(abs(Double(dw.data[q * 2 + j]) - (Double(dw0[q * 2 + j]) + 2 * g)) < 1e-5, "dW[\(q), \(j)]")
            }
        }
        for j in 0..<2 {
            let g = (0..<3).reduce(0.0) { $0 + Double(dy.data[$1 * 2 + j]) }
            #expect(abs(Double(db.data[j]) - (Double(db0[j]) + 2 * g)) < 1e-5, "db[\(j)]")
        }
    }

    @Test("Adadelta follows the Keras update (rho 0.95, eps 1e-7, lr 1) over several steps")
    func adadelta() throws {
        let ctx = try ComputeContext(threads: 1)
        let w = Tensor(shape: [3], values: [0.5, -1, 2]), eg = Tensor(shape: [3]), ed = Tensor(shape: [3])
        var rw = w.array.map(Double.init), reg = [Double](repeating: 0, count: 3),
            red = [Double](repeating: 0, count: 3)
        for step in 0..<5 {
            let g: [Float] = [0.1 * Float(step + 1), -0.3, 0.02]
            ctx.adadelta(
                w, gradient: Tensor(shape: [3], values: g), eg: eg, ed: ed, learningRate: 1, rho: 0.95, epsilon: 1e-7)
            for i in 0..<3 {
                let gi = Double(g[i])
                reg[i] = 0.95 * reg[i] + 0.05 * gi * gi
                let dd = -((red[i] + 1e-7).squareRoot() / (reg[i] + 1e-7).squareRoot()) * gi
                red[i] = 0.95 * red[i] + 0.05 * dd * dd
                rw[i] += dd
            }
        }
        for i in 0..<3 { #expect(abs(Double(w.data[i]) - rw[i]) < 1e-6) }
    }

    @Test("inverted dropout scales kept units by 1 / (1 - rate)")
    func dropout() throws {
        let x = Tensor(shape: [4], values: [1, 2, 3, 4]), out = Tensor(shape: [4], values: [9, 9, 9, 9])
        try ComputeContext(threads: 1).dropout(x, mask: [1, 0, 1, 0], rate: 0.5, into: out)
        #expect(out.array == [2, 0, 6, 0])
    }

    @Test("dense forward does not depend on the thread count")
    func determinism() throws {
        var rng = SeededRNG(seed: 8)
        let x = randomTensor([37, 50], &rng), w = randomTensor([50, 19], &rng)
        var outs: [[Float]] = []
        for t in [1, 2, 3] {
            let ctx = try ComputeContext(isa: .best, threads: t)
            let y = Tensor(shape: [37, 19])
            ctx.denseForward(x, DenseWeights(kernel: w, bias: Tensor(shape: [19])), into: y, workspace: Workspace())
            outs.append(y.array)
        }
        #expect(outs[0] == outs[1] && outs[0] == outs[2])
    }
}
