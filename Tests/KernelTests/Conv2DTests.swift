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
            c(2, 17, 15, 128, 130, 3, p: 1, act: .relu),  // few tiles, large weights: Winograd's chunks
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
                // F(4x4, 3x3)'s transforms (entries up to 8 and 1/24) round about 6x more than F(2x2)'s,
                // F(6x6)'s (up to 32 and 1/90) more again
                let bound: Float = conv.algorithm == .winograd6x6 ? 6e-5 : conv.algorithm == .winograd4x4 ? 3e-5 : 1e-5
                #expect(err < bound, "\(isa) \(conv.algorithm): relative error \(err)")
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
            let bigOutput = s.outH >= 16 && s.outW >= 16
            if winograd && s.cin >= 16 && s.cout >= 16 { return bigOutput ? .winograd4x4 : .winograd2x2 }
            if winograd && s.cin >= 3 && s.cout >= 16 && bigOutput { return .winograd4x4 }
            return implicit ? .implicitGemm : .im2colGemm
        case .depthwise: return depthwise ? .depthwise : .im2colGemm
        case .winograd2x2: return winograd ? .winograd2x2 : .im2colGemm
        case .winograd4x4: return winograd ? .winograd4x4 : .im2colGemm
        case .winograd6x6: return winograd ? .winograd6x6 : .im2colGemm
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
        #expect(try algo(conv1) == .winograd4x4)
        var conv2 = conv1
        (conv2.cin, conv2.h, conv2.w) = (64, 112, 112)
        #expect(try algo(conv2) == .winograd4x4)
        var conv5 = conv1
        (conv5.cin, conv5.cout, conv5.h, conv5.w) = (512, 512, 14, 14)
        #expect(try algo(conv5) == .winograd2x2)
        var dw = Conv2DShape(n: 1, h: 32, w: 32, cin: 16, cout: 16, kh: 3, kw: 3)
        dw.groups = 16
        #expect(try algo(dw) == .depthwise)
    }

    @Test("conv2d gives identical bits with 1, 2 and 3 threads")
    func threadCountIndependence() throws {
        var rng = SeededRNG(seed: 7)
        var s = Conv2DShape(n: 2, h: 23, w: 19, cin: 37, cout: 70, kh: 3, kw: 3)
        (s.padTop, s.padLeft, s.padBottom, s.padRight) = (1, 1, 1, 1)
        // and a shape Winograd runs in chunks (positions split over the threads)
        var chunked = Conv2DShape(n: 2, h: 17, w: 15, cin: 128, cout: 130, kh: 3, kw: 3)
        (chunked.padTop, chunked.padLeft, chunked.padBottom, chunked.padRight) = (1, 1, 1, 1)
        for (shape, algos) in [(s, [ConvAlgorithm.auto]), (chunked, [.winograd2x2, .winograd4x4, .winograd6x6])] {
            let x = randomTensor([shape.n, shape.h, shape.w, shape.cin], &rng)
            let w = randomTensor(shape.weightShape, &rng)
            for isa in isas {
                for algo in algos {
                    var outs: [Tensor] = []
                    for t in [1, 2, 3] {
                        let ctx = try ComputeContext(isa: isa, threads: t)
                        let conv = try PackedConv2D(ctx, shape: shape, weights: w, bias: nil, algorithm: algo)
                        outs.append(try conv(x, workspace: Workspace()))
                    }
                    #expect(bitEqual(outs[0], outs[1]) && bitEqual(outs[0], outs[2]), "\(isa) \(algo)")
                }
            }
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
