import CKernels
import Foundation
import Kernels
import Testing
import TestSupport

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
        let x = randomTensor([m, k], &rng), w1 = randomTensor([k, h], &rng), b1 = randomTensor([h], &rng, range: -0.1...0.1)
        let w2 = randomTensor([h, c], &rng), b2 = randomTensor([c], &rng, range: -0.1...0.1)
        let labels: [Int32] = [0, 2, 1, 2]
        let cw: [Float] = [0.5, 1.5, 2.0]
        let ctx = try ComputeContext(isa: .best, threads: 2)
        let scratch = Tensor(shape: [1 << 20])
        // forward
        let hid = Tensor(shape: [m, h]), z = Tensor(shape: [m, c])
        ck_dense_forward(ctx.rawPointer, m, k, h, x.data, w1.data, b1.data, CK_ACT_RELU, hid.data, scratch.data)
        ck_dense_forward(ctx.rawPointer, m, h, c, hid.data, w2.data, b2.data, CK_ACT_NONE, z.data, scratch.data)
        let p = ctx.softmax(z)
        // backward
        let dz = Tensor(shape: [m, c]), dh = Tensor(shape: [m, h]), dx = Tensor(shape: [m, k])
        let dw1 = Tensor(shape: [k, h]), db1 = Tensor(shape: [h]), dw2 = Tensor(shape: [h, c]), db2 = Tensor(shape: [c])
        let loss = labels.withUnsafeBufferPointer { l in cw.withUnsafeBufferPointer { w in
            ck_softmax_xent(m, c, p.data, l.baseAddress, w.baseAddress, 1e-7, dz.data) } }
        ck_dense_backward(ctx.rawPointer, m, h, c, hid.data, w2.data, dz.data, dh.data, dw2.data, db2.data, scratch.data)
        ck_relu_backward(m * h, hid.data, dh.data, dh.data)
        ck_dense_backward(ctx.rawPointer, m, k, h, x.data, w1.data, dh.data, dx.data, dw1.data, db1.data, scratch.data)

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

    @Test("backward accumulates into parameter gradients")
    func accumulates() throws {
        var rng = SeededRNG(seed: 3)
        let x = randomTensor([3, 4], &rng), w = randomTensor([4, 2], &rng), dy = randomTensor([3, 2], &rng)
        let ctx = try ComputeContext(isa: .best, threads: 1)
        let scratch = Tensor(shape: [1 << 20])
        let dw = Tensor(shape: [4, 2]), db = Tensor(shape: [2])
        ck_dense_backward(ctx.rawPointer, 3, 4, 2, x.data, w.data, dy.data, nil, dw.data, db.data, scratch.data)
        let once = dw.array
        ck_dense_backward(ctx.rawPointer, 3, 4, 2, x.data, w.data, dy.data, nil, dw.data, db.data, scratch.data)
        #expect(zip(dw.array, once).allSatisfy { abs($0 - 2 * $1) <= 1e-6 * max(1, abs($1)) })
    }

    @Test("Adadelta follows the Keras update (rho 0.95, eps 1e-7, lr 1) over several steps")
    func adadelta() throws {
        let ctx = try ComputeContext(threads: 1)
        var w: [Float] = [0.5, -1, 2], eg = [Float](repeating: 0, count: 3), ed = [Float](repeating: 0, count: 3)
        var rw = w.map(Double.init), reg = [Double](repeating: 0, count: 3), red = [Double](repeating: 0, count: 3)
        for step in 0..<5 {
            let g: [Float] = [0.1 * Float(step + 1), -0.3, 0.02]
            ck_adadelta(ctx.rawPointer, 3, &w, g, &eg, &ed, 1.0, 0.95, 1e-7)
            for i in 0..<3 {
                let gi = Double(g[i])
                reg[i] = 0.95 * reg[i] + 0.05 * gi * gi
                let dd = -((red[i] + 1e-7).squareRoot() / (reg[i] + 1e-7).squareRoot()) * gi
                red[i] = 0.95 * red[i] + 0.05 * dd * dd
                rw[i] += dd
            }
        }
        for i in 0..<3 { #expect(abs(Double(w[i]) - rw[i]) < 1e-6) }
    }

    @Test("inverted dropout scales kept units by 1 / (1 - rate)")
    func dropout() {
        let x: [Float] = [1, 2, 3, 4]
        let mask: [UInt8] = [1, 0, 1, 0]
        var out = [Float](repeating: 9, count: 4)
        ck_dropout_apply(4, x, mask, 0.5, &out)
        #expect(out == [2, 0, 6, 0])
    }

    @Test("dense forward does not depend on the thread count")
    func determinism() throws {
        var rng = SeededRNG(seed: 8)
        let x = randomTensor([37, 50], &rng), w = randomTensor([50, 19], &rng)
        var outs: [[Float]] = []
        for t in [1, 2, 3] {
            let ctx = try ComputeContext(isa: .best, threads: t)
            let scratch = Tensor(shape: [1 << 20])
            let y = Tensor(shape: [37, 19])
            ck_dense_forward(ctx.rawPointer, 37, 50, 19, x.data, w.data, nil, CK_ACT_NONE, y.data, scratch.data)
            outs.append(y.array)
        }
        #expect(outs[0] == outs[1] && outs[0] == outs[2])
    }
}
