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

    @Test("int8 without a calibration is refused with a message naming painface quantize")
    func uncalibrated() throws {
        #expect {
            try Model(path: Self.stem, context: try context(.int8))
        } throws: {
            "\($0)".contains("painface quantize") && "\($0)".contains("fer-mini-xception")
        }
    }
}
