import Foundation
import Kernels
import NN
import TestSupport
import Testing
import Weights

@Suite struct Int8Tests {
    static let golden = try! SafeTensorsFile(path: fixturePath("int8_golden.safetensors"))

    @Test("int8 quantisation and GEMM equal PyTorch's quantize_per_tensor / quantize_per_channel arithmetic")
    func pytorchGolden() throws {
        let g = Self.golden
        let x = try g.tensor("quant_x").array, q = try g.tensor("quant_q").array
        let codes = Int8Quantization(scale: 0.5, zeroPoint: 10)
        let wrong = x.indices.filter { Float(codes.code(x[$0])) != q[$0] }
        #expect(wrong.isEmpty, "codes differ at \(wrong.prefix(5).map { (x[$0], q[$0]) })")
        let qp = try g.tensor("gemm_qparams").array
        let input = Int8Quantization(scale: qp[0], zeroPoint: Int(qp[1]))
        let a = try g.tensor("gemm_a"), b = try g.tensor("gemm_b"), bias = try g.tensor("gemm_bias")
        let want = try g.tensor("gemm_y")
        for isa in ISA.supported {
            let ctx = try ComputeContext(isa: isa, threads: 2)
            let y = try PackedMatrixInt8(ctx, weights: b, input: input).matmul(a, bias: bias, workspace: Workspace())
            // the same integers: only the float output step rounds (a code off by one moves ~1e-3)
            #expect(relativeError(y, want) < 2e-6, "\(isa) (\(ctx.int8Kernel)): \(relativeError(y, want))")
        }
    }

    @Test("stored int8 weights: PyTorch's quantize_per_channel codes and steps; packed from them, the same bits")
    func storedCodes() throws {
        let g = Self.golden
        let b = try g.tensor("gemm_b"), q = Int8Weights(quantizing: b)
        #expect(q.codes.map { Float($0) } == (try g.tensor("gemm_b_codes").array))
        #expect(q.steps == (try g.tensor("gemm_b_step").array))
        // a 3x3 conv of 37 output channels in int8, packed from the fp32 kernel and from its codes
        var rng = SeededRNG(seed: 20)
        var cs = Conv2DShape(n: 2, h: 9, w: 7, cin: 20, cout: 37, kh: 3, kw: 3)
        (cs.padTop, cs.padLeft, cs.padBottom, cs.padRight) = (1, 1, 1, 1)
        cs.activation = .relu
        cs.int8 = Int8Quantization(lo: -1, hi: 2)
        let w = randomTensor(cs.weightShape, &rng), bias = randomTensor([37], &rng)
        let x = randomTensor([2, 9, 7, 20], &rng, range: -1...2), s = Int8Weights(quantizing: w)
        for isa in ISA.supported {
            for algo in [ConvAlgorithm.auto, .im2colGemm, .implicitGemm] {
                let ctx = try ComputeContext(isa: isa, threads: 2)
                let a = try PackedConv2D(ctx, shape: cs, weights: w, bias: bias, algorithm: algo)
                let c = try #require(
                    try PackedConv2D(ctx, shape: cs, codes: s.codes, steps: s.steps, bias: bias, algorithm: algo))
                #expect(bitEqual(try a(x, workspace: Workspace()), try c(x, workspace: Workspace())), "\(isa) \(algo)")
            }
        }
        // an fp32 layer cannot take codes: the caller dequantises
        var fp = cs
        fp.int8 = nil
        #expect(
            try PackedConv2D(
                try ComputeContext(isa: .best, threads: 1), shape: fp, codes: s.codes, steps: s.steps,
                bias: nil) == nil)
    }

    @Test("int8 GEMM: the same bits on every ISA, kernel and thread count, within int8's rounding of fp32")
    func invariance() throws {
        var rng = SeededRNG(seed: 18)
        let a = randomTensor([45, 700], &rng, range: 0...2), b = randomTensor([700, 70], &rng)
        let bias = randomTensor([70], &rng)
        let input = Int8Quantization(lo: 0, hi: 2)
        let ref = Reference.gemm(a, b, bias: bias, activation: .relu)
        var first: [Float]?
        for isa in ISA.supported {
            for threads in [1, 2] {
                let ctx = try ComputeContext(isa: isa, threads: threads)
                let y = try PackedMatrixInt8(ctx, weights: b, input: input).matmul(
                    a, bias: bias, activation: .relu, workspace: Workspace())
                if let first { #expect(y.array == first, "\(isa) (\(ctx.int8Kernel)), \(threads) threads") }
                first = first ?? y.array
                let err = relativeError(y, ref)
                #expect(err < 2e-2 && err > 1e-5, "\(isa): \(err)")
            }
        }
    }

    static let stem = repositoryRoot().appendingPathComponent("models/fer-mini-xception").path

    func context(_ precision: Precision, threads: Int = 2) throws -> ComputeContext {
        let ctx = try ComputeContext(isa: .best, threads: threads)
        ctx.precision = precision
        return ctx
    }

    @Test("an int8 mini-Xception: calibrated, within the drift budget it was fitted to, thread-invariant")
    func model() throws {
        let (json, st) = Model.files(for: Self.stem)
        let config = try ModelConfig.decode(try Data(contentsOf: URL(fileURLWithPath: json)), path: json)
        let weights = try SafeTensorsFile(path: st)
        let fp32 = try Model(config: config, weights: weights, context: try context(.fp32))
        var rng = SeededRNG(seed: 19)
        let batches = (0..<2).map { _ in randomTensor([4, 64, 64, 1], &rng) }
        let calibrated = try Int8Calibration.calibrate(model: fp32, batches: batches, percentile: 100)
        #expect(calibrated.precision == "int8")
        #expect(calibrated.layers.filter { $0.inputQuant != nil }.count == fp32.int8Inputs.count)
        let (fitted, back) = try Int8Calibration.fitBudget(
            calibrated, reference: fp32, weights: weights, context: try context(.int8), batches: batches,
            budget: 3e-2)
        let int8 = try Model(config: fitted, weights: weights, context: try context(.int8))
        let int8One = try Model(config: fitted, weights: weights, context: try context(.int8, threads: 1))
        // fitted to fp32 only if every layer went back
        #expect(fitted.precision == (back.count == fp32.int8Inputs.count ? "fp32" : "int8"))
        for x in batches {
            let want = try fp32.forward(x, outputs: ["features"])["features"]!
            let y = try int8.forward(x, outputs: ["features"])["features"]!
            let y1 = try int8One.forward(x, outputs: ["features"])["features"]!
            #expect(bitEqual(y, y1))
            // per image: max-abs difference / max-abs, as the budget is defined
            let per = y.count / x.shape[0]
            for i in 0..<x.shape[0] {
                var d: Float = 0, m: Float = 1e-30
                for j in (i * per)..<((i + 1) * per) {
                    d = max(d, abs(y.data[j] - want.data[j]))
                    m = max(m, abs(want.data[j]))
                }
                #expect(d / m <= 3e-2, "image \(i): drift \(d / m)")
            }
        }
        // int8 really ran where it was kept: the features are not fp32's bits
        if back.count < fp32.int8Inputs.count {
            let x = batches[0]
            #expect(
                !bitEqual(
                    try int8.forward(x, outputs: ["features"])["features"]!,
                    try fp32.forward(x, outputs: ["features"])["features"]!))
        }
    }

    @Test("a quantised model's file: int8 kernels as I8 codes, the same features as from the fp32 weights")
    func storedModel() throws {
        let (json, st) = Model.files(for: Self.stem)
        let config = try ModelConfig.decode(try Data(contentsOf: URL(fileURLWithPath: json)), path: json)
        let weights = try SafeTensorsFile(path: st)
        let fp32 = try Model(config: config, weights: weights, context: try context(.fp32))
        var rng = SeededRNG(seed: 21)
        let batches = (0..<2).map { _ in randomTensor([4, 64, 64, 1], &rng) }
        let calibrated = try Int8Calibration.calibrate(model: fp32, batches: batches, percentile: 100)
        let data = try Int8Calibration.storedWeights(config: calibrated, reference: fp32, weights: weights)
        let file = try SafeTensorsFile(data: data, path: "int8.safetensors")
        let int8Layers = fp32.int8Inputs.map(\.layer)
        #expect(!int8Layers.isEmpty)
        for l in int8Layers {
            #expect(file.entries["\(l).kernel"]?.dtype == .i8)
            #expect(file.entries["\(l).kernel_scale"]?.shape == [config.layers.first { $0.name == l }!.filters!])
        }
        #expect(file.entries.values.filter { $0.dtype == .f32 }.count == weights.entries.count)
        #expect(data.count < (try Data(contentsOf: URL(fileURLWithPath: st))).count)
        let fromFP32 = try Model(config: calibrated, weights: weights, context: try context(.int8))
        let fromCodes = try Model(config: calibrated, weights: file, context: try context(.int8))
        // fp32 from codes: code x step, close to the original weights' features
        let dequantized = try Model(config: calibrated, weights: file, context: try context(.fp32))
        for x in batches {
            let want = try fromFP32.forward(x, outputs: ["features"])["features"]!
            #expect(bitEqual(want, try fromCodes.forward(x, outputs: ["features"])["features"]!))
            let ref = try fp32.forward(x, outputs: ["features"])["features"]!
            let d = try dequantized.forward(x, outputs: ["features"])["features"]!
            #expect(relativeError(d, ref) < 3e-2 && !bitEqual(d, ref), "\(relativeError(d, ref))")
        }
        // calibrated again from the quantised file: the same codes and steps
        let again = try Int8Calibration.storedWeights(config: calibrated, reference: dequantized, weights: file)
        let second = try SafeTensorsFile(data: again, path: "again.safetensors")
        for l in int8Layers {
            #expect(try second.tensor("\(l).kernel").array == (try file.tensor("\(l).kernel").array))
            #expect(try second.tensor("\(l).kernel_scale").array == (try file.tensor("\(l).kernel_scale").array))
        }
        // a code out of range is refused, naming the file and the layer
        var bad = try file.tensor("\(int8Layers[0]).kernel")
        bad.data[0] = 200
        var lazy = LazyWeights(name: "bad.safetensors")
        for n in file.tensorNames { lazy.add(n, n == "\(int8Layers[0]).kernel" ? bad : try file.tensor(n)) }
        #expect {
            try Model(config: calibrated, weights: lazy, context: try context(.int8))
        } throws: {
            "\($0)".hasPrefix("bad.safetensors: ") && "\($0)".contains("\(int8Layers[0])")
                && "\($0)".contains("codes in -127...127")
        }
    }

    @Test("int8 without a calibration is refused with a message naming painface quantize")
    func uncalibrated() throws {
        #expect {
            try Model(path: Self.stem, context: try context(.int8))
        } throws: {
            "\($0)".contains("painface quantize") && "\($0)".contains("fer-mini-xception")
        }
    }
}
