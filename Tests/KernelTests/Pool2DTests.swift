import Foundation
import Kernels
import TestSupport
import Testing

@Suite struct PoolingTests {
    static let cases: [(Int, Int, Int, Int, Int, Int, Bool, Bool)] = [
        // h, w, k, s, pad, c, ceil, countIncludePad
        (7, 9, 2, 2, 0, 3, false, false), (7, 9, 3, 2, 0, 5, true, false), (12, 12, 3, 2, 1, 4, false, true),
        (12, 12, 3, 2, 1, 4, false, false), (5, 5, 3, 3, 1, 2, true, true), (224, 224, 2, 2, 0, 1, false, false),
    ]

    @Test("pooling drivers equal the reference", arguments: cases)
    func pooling(_ c: (Int, Int, Int, Int, Int, Int, Bool, Bool)) throws {
        var rng = SeededRNG(seed: 11)
        var p = Pool2DShape(n: 2, h: c.0, w: c.1, c: c.5, kh: c.2, kw: c.2, sh: c.3, sw: c.3)
        (p.padTop, p.padLeft, p.padBottom, p.padRight) = (c.4, c.4, c.4, c.4)
        p.ceilMode = c.6; p.countIncludePad = c.7
        let x = randomTensor([2, c.0, c.1, c.5], &rng)
        x.data[5] = .nan  // NaN must propagate the same way in both
        let ctx = try ComputeContext(isa: .best, threads: 2)
        #expect(bitEqual(ctx.maxPool(x, p), Reference.maxPool(x, p)))
        #expect(bitEqual(ctx.avgPool(x, p), Reference.avgPool(x, p)))
    }

    @Test("ceil mode output sizes follow PyTorch")
    func ceilSizes() {
        // PyTorch: MaxPool2d(3, 2, ceil_mode=True) on 12 -> 6; on 11 -> 5; MaxPool2d(2,2,ceil) on 7 -> 4
        var p = Pool2DShape(n: 1, h: 12, w: 11, c: 1, kh: 3, kw: 3, sh: 2, sw: 2)
        p.ceilMode = true
        #expect(p.outH == 6 && p.outW == 5)
        var q = Pool2DShape(n: 1, h: 7, w: 7, c: 1, kh: 2, kw: 2, sh: 2, sw: 2)
        q.ceilMode = true
        #expect(q.outH == 4)
        // a window that would start in the right padding is dropped
        var r = Pool2DShape(n: 1, h: 5, w: 5, c: 1, kh: 2, kw: 2, sh: 2, sw: 2)
        r.ceilMode = true; r.padBottom = 1; r.padTop = 1
        #expect(r.outH == 3)
    }

    @Test("global average pooling")
    func gap() throws {
        let ctx = try ComputeContext(isa: .best, threads: 1)
        let x = Tensor(shape: [1, 2, 2, 2], values: [1, 10, 2, 20, 3, 30, 4, 40])
        #expect(ctx.globalAvgPool(x).array == [2.5, 25])
    }
}
