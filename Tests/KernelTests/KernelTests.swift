import Foundation
import Kernels
import TestSupport
import Testing

/// Every ISA this CPU supports, each checked against the scalar reference.
let isas = ISA.supported

@Suite struct ConvolutionTests {
    struct Case: CustomStringConvertible, Sendable {
        var s: Conv2DShape
        var description: String {
            """
                n\(s.n) \(s.h)x\(s.w)x\(s.cin)->\(s.cout) k\(s.kh)x\(s.kw) s\(s.sh)\(s.sw) d\(s.dh) \
                p\(s.padTop)\(s.padLeft)\(s.padBottom)\(s.padRight) g\(s.groups) \(s.activation)
                """
        }
    }

    static let cases: [Case] = {
        func c(
            _ n: Int, _ h: Int, _ w: Int, _ ci: Int, _ co: Int, _ k: Int, s: Int = 1, p: Int = 0,
            g: Int = 1, d: Int = 1, kw: Int? = nil, pads: (Int, Int, Int, Int)? = nil,
            act: Activation = .linear
        ) -> Case {
            var x = Conv2DShape(n: n, h: h, w: w, cin: ci, cout: co, kh: k, kw: kw ?? k)
            x.sh = s; x.sw = s; x.dh = d; x.dw = d; x.groups = g; x.activation = act
            (x.padTop, x.padLeft, x.padBottom, x.padRight) = pads ?? (p, p, p, p)
            return Case(s: x)
        }
        return [
            c(1, 7, 9, 3, 5, 3, p: 1),  // odd everything
            c(2, 13, 11, 17, 33, 3, p: 1, act: .relu),  // batch, tails of MR and NR
            c(1, 10, 10, 8, 16, 1, s: 2),  // 1x1 stride 2 (mini-Xception residual)
            c(1, 9, 12, 4, 7, 5, s: 2, pads: (2, 1, 2, 3)),  // asymmetric padding
            c(1, 8, 8, 6, 6, 3, p: 1, g: 6),  // depthwise
            c(1, 11, 7, 12, 12, 3, s: 2, g: 12, pads: (0, 1, 1, 1), act: .relu),
            c(1, 9, 9, 8, 12, 3, p: 1, g: 2),  // grouped
            c(1, 6, 6, 4, 8, 3, p: 2, g: 4),  // depthwise, multiplier 2
            c(1, 12, 12, 5, 9, 3, p: 2, d: 2),  // dilated
            c(1, 5, 19, 2, 3, 1, kw: 7, pads: (0, 3, 0, 3)),  // non-square kernel
            c(1, 30, 30, 300, 40, 3, p: 1),  // K > KC: blocked accumulation
            c(3, 1, 1, 1, 1, 1),  // degenerate
        ]
    }()

    @Test("conv2d equals the scalar reference on every ISA", arguments: cases)
    func convMatchesReference(_ tc: Case) throws {
        var rng = SeededRNG(seed: 42)
        let s = tc.s
        let x = randomTensor([s.n, s.h, s.w, s.cin], &rng)
        let w = randomTensor(s.weightShape, &rng)
        let b = randomTensor([s.cout], &rng)
        let ref = Reference.conv2d(s, input: x, weights: w, bias: b)
        for isa in isas {
            let ctx = try ComputeContext(isa: isa, threads: 2)
            for algo in ConvAlgorithm.allCases {
                let conv = try PackedConv2D(ctx, shape: s, weights: w, bias: b, algorithm: algo)
                #expect(conv.algorithm == Self.expected(algo, s), "\(isa): \(algo) ran as \(conv.algorithm)")
                let y = try conv(x, workspace: Workspace())
                #expect(y.shape == [s.n, s.outH, s.outW, s.cout])
                let err = relativeError(y, ref)
                #expect(err < 1e-5, "\(isa) \(conv.algorithm): relative error \(err)")
            }
        }
    }

    /// The algorithm a request must run as, written from the rules (README, "Kernels and
    /// dispatch"), not from the driver's code.
    static func expected(_ requested: ConvAlgorithm, _ s: Conv2DShape) -> ConvAlgorithm {
        let depthwise = s.cin / s.groups == 1 && s.cout == s.cin
        let winograd = s.kh == 3 && s.kw == 3 && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1 && s.groups == 1
        let implicit = s.dw == 1 && s.groups == 1
        switch requested {
        case .auto:
            if depthwise { return .depthwise }
            if winograd && s.cin >= 16 && s.cout >= 16 { return .winograd2x2 }
            return implicit ? .implicitGemm : .im2colGemm
        case .depthwise: return depthwise ? .depthwise : .im2colGemm
        case .winograd2x2: return winograd ? .winograd2x2 : .im2colGemm
        case .implicitGemm: return implicit ? .implicitGemm : .im2colGemm
        case .im2colGemm: return .im2colGemm
        }
    }

    @Test("VGG16's 3x3 layers run as Winograd, its first layer and the mini-Xception's depthwise layers as chosen")
    func algorithmChoice() throws {
        let ctx = try ComputeContext(isa: .best, threads: 1)
        func algo(_ s: Conv2DShape) throws -> ConvAlgorithm {
            try PackedConv2D(ctx, shape: s, weights: Tensor(shape: s.weightShape), bias: nil).algorithm
        }
        var conv1 = Conv2DShape(n: 1, h: 224, w: 224, cin: 3, cout: 64, kh: 3, kw: 3)
        (conv1.padTop, conv1.padLeft, conv1.padBottom, conv1.padRight) = (1, 1, 1, 1)
        #expect(try algo(conv1) == .implicitGemm)
        var conv2 = conv1
        (conv2.cin, conv2.h, conv2.w) = (64, 112, 112)
        #expect(try algo(conv2) == .winograd2x2)
        var dw = Conv2DShape(n: 1, h: 32, w: 32, cin: 16, cout: 16, kh: 3, kw: 3)
        dw.groups = 16
        #expect(try algo(dw) == .depthwise)
    }

    @Test("conv2d gives identical bits with 1, 2 and 3 threads")
    func threadCountIndependence() throws {
        var rng = SeededRNG(seed: 7)
        var s = Conv2DShape(n: 2, h: 23, w: 19, cin: 37, cout: 70, kh: 3, kw: 3)
        (s.padTop, s.padLeft, s.padBottom, s.padRight) = (1, 1, 1, 1)
        let x = randomTensor([s.n, s.h, s.w, s.cin], &rng)
        let w = randomTensor(s.weightShape, &rng)
        for isa in isas {
            var outs: [Tensor] = []
            for t in [1, 2, 3] {
                let ctx = try ComputeContext(isa: isa, threads: t)
                outs.append(try PackedConv2D(ctx, shape: s, weights: w, bias: nil)(x, workspace: Workspace()))
            }
            #expect(bitEqual(outs[0], outs[1]) && bitEqual(outs[0], outs[2]), "\(isa)")
        }
    }

    @Test("invalid convolution shapes are refused")
    func invalidShapes() throws {
        let ctx = try ComputeContext(isa: .scalar, threads: 1)
        var s = Conv2DShape(n: 1, h: 2, w: 2, cin: 3, cout: 4, kh: 3, kw: 3)
        #expect(!s.isValid)  // kernel larger than the padded input
        #expect(throws: KernelError.self) {
            try PackedConv2D(ctx, shape: s, weights: Tensor(shape: s.weightShape), bias: nil)
        }
        s.padTop = 1; s.padBottom = 1; s.padLeft = 1; s.padRight = 1
        #expect(s.isValid)
        #expect(throws: KernelError.self) {
            try PackedConv2D(ctx, shape: s, weights: Tensor(shape: [3, 3, 3, 5]), bias: nil)
        }
        s.groups = 2
        #expect(!s.isValid)  // 3 input channels do not split into 2 groups
    }
}

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
