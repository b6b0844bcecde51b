import CBLASBench
import Foundation
import Kernels
import NN
import Training
import Weights

/// Process memory figures from /proc (Linux).
public enum ProcessStats {
    /// Peak resident set size (VmHWM) in MB.
    public static var peakRSSMB: Double { value("VmHWM") }
    public static var currentRSSMB: Double { value("VmRSS") }
    static func value(_ key: String) -> Double {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in s.split(separator: "\n") where line.hasPrefix(key + ":") {
            let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
            return kb / 1024
        }
        return 0
    }
}

/// One benchmark row.
public struct BenchRow: Codable, Sendable {
    public var group: String
    public var name: String
    public var seconds: Double
    public var gflops: Double?
    public var percentOfPeak: Double?
    public var throughput: String?
}

/// Kernel and model benchmarks: median of `repeats` timed runs after one warm-up.
public struct Bench {
    public let ctx: ComputeContext
    public let peak: Double
    public var repeats: Int
    public var rows: [BenchRow] = []

    public init(ctx: ComputeContext, repeats: Int, peakSeconds: Double = 0.5) {
        self.ctx = ctx
        self.repeats = repeats
        peak = ctx.measurePeakGFLOPS(threads: ctx.threads, seconds: peakSeconds)
    }

    public func time(_ body: () throws -> Void) rethrows -> Double {
        try body()
        var ts: [Double] = []
        for _ in 0..<max(repeats, 1) {
            let t0 = monotonicSeconds()
            try body()
            ts.append(monotonicSeconds() - t0)
        }
        return ts.sorted()[ts.count / 2]
    }

    mutating func add(_ group: String, _ name: String, seconds: Double, flops: Double?, throughput: String? = nil) {
        let g = flops.map { $0 / seconds * 1e-9 }
        rows.append(
            BenchRow(
                group: group, name: name, seconds: seconds, gflops: g,
                percentOfPeak: g.map { 100 * $0 / peak }, throughput: throughput))
    }

    /// GEMM at the shapes VGG16 and the heads use, ours against OpenBLAS. Outputs are
    /// preallocated (the kernels are timed, not page faults), and OpenBLAS runs last: its threads
    /// spin for a while after each call and would take a core from the next measurement.
    public mutating func gemm() throws {
        var rng = SplitMix64(seed: 5)
        let shapes = [(256, 256, 256), (1024, 1024, 1024), (3136, 256, 2304), (32, 1024, 1024)]
        var inputs: [(Tensor, Tensor)] = []
        for (m, n, k) in shapes {
            let a = Tensor(shape: [m, k]), b = Tensor(shape: [k, n])
            for i in 0..<a.count { a.data[i] = Float(rng.next() >> 40) * 0x1p-24 - 0.5 }
            for i in 0..<b.count { b.data[i] = Float(rng.next() >> 40) * 0x1p-24 - 0.5 }
            inputs.append((a, b))
        }
        let ws = Workspace()
        for ((m, n, k), (a, b)) in zip(shapes, inputs) {
            let packed = try PackedMatrix(ctx, weights: b)
            let c = Tensor(uninitialized: [m, n])
            let flops = 2.0 * Double(m * n * k)
            add(
                "gemm", "painface \(m)x\(n)x\(k)",
                seconds: try time { _ = try packed.matmul(a, bias: nil, workspace: ws, into: c) }, flops: flops)
            let bf = try PackedMatrixBF16(ctx, weights: b)
            add(
                "gemm", "painface bf16 (\(ctx.bf16Kernel)) \(m)x\(n)x\(k)",
                seconds: try time { _ = try bf.matmul(a, bias: nil, workspace: ws, into: c) }, flops: flops)
        }
        for ((m, n, k), (a, b)) in zip(shapes, inputs) {
            let c = Tensor(uninitialized: [m, n])
            add(
                "gemm", "openblas \(m)x\(n)x\(k)",
                seconds: time { cb_sgemm(Int32(ctx.threads), m, n, k, a.data, k, b.data, n, c.data, n) },
                flops: 2.0 * Double(m * n * k))
        }
    }

    /// Element-wise kernels on a VGG-sized activation (224 x 224 x 64).
    public mutating func elementwise() {
        let n = 224 * 224 * 64
        let x = Tensor(shape: [n / 64, 64]), y = Tensor(shape: [n / 64, 64])
        let s = Tensor(shape: [64]), b = Tensor(shape: [64])
        let o = Tensor(shape: [n / 64, 64])  // preallocated: time the kernels, not page faults
        func gbs(_ t: Double, _ bytes: Int) -> String { String(format: "%.1f GB/s", Double(bytes) / t * 1e-9) }
        var t = time { _ = ctx.relu(x, into: o) }
        add("elementwise", "relu 3.2M", seconds: t, flops: nil, throughput: gbs(t, n * 8))
        t = time { _ = ctx.add(x, y, into: o) }
        add("elementwise", "add 3.2M", seconds: t, flops: nil, throughput: gbs(t, n * 12))
        t = time { _ = ctx.affineChannels(x, scale: s, shift: b, into: o) }
        add("elementwise", "batchnorm (affine) 3.2M", seconds: t, flops: nil, throughput: gbs(t, n * 8))
        t = time { _ = ctx.prelu(x, alpha: s, into: o) }
        add("elementwise", "prelu 3.2M", seconds: t, flops: nil, throughput: gbs(t, n * 8))
    }

    /// A whole model at one batch size, plus per-layer times at that batch.
    public mutating func model(_ model: Model, batch: Int, perLayer: Bool) throws {
        let s = model.config.input
        let x = Tensor(shape: [batch, s.height, s.width, s.channels])
        var rng = SplitMix64(seed: 9)
        for i in 0..<x.count { x.data[i] = Float(rng.next() >> 40) * 0x1p-24 }
        let out = [model.config.outputs.features]
        let t = try time { _ = try model.forward(x, outputs: out) }
        add(
            "model", "\(model.config.name) batch \(batch)", seconds: t, flops: model.flopsPerItem * Double(batch),
            throughput: String(format: "%.2f images/s", Double(batch) / t))
        guard perLayer else { return }
        var times: [String: [Double]] = [:]
        for _ in 0..<max(repeats, 1) {
            _ = try model.forward(x, outputs: out) { name, sec in times[name, default: []].append(sec) }
        }
        // each convolution's algorithm (the rule's, tuned or forced: --conv-algo) beside its time
        let algorithms = Dictionary(
            model.convAlgorithms.map { ($0.layer, "\($0.algorithm)") }, uniquingKeysWith: { a, _ in a })
        for (name, flops) in model.layerFlops where times[name] != nil {
            let ts = times[name]!.sorted()
            add(
                "layer", "\(model.config.name) b\(batch) \(name)", seconds: ts[ts.count / 2],
                flops: flops > 0 ? flops * Double(batch) : nil, throughput: algorithms[name])
        }
    }
}

extension Bench {
    /// Training throughput of the two heads on synthetic data of the paper's shapes:
    /// frame-wise steps at batch 32 (1024 features) and one LSTM epoch (1230 x 300 x 1024).
    public mutating func training(framewiseSteps: Int, lstmSequences: Int) throws {
        var rng = SplitMix64(seed: 3)
        func normalish(_ shape: [Int]) -> Tensor {
            let t = Tensor(uninitialized: shape)
            for i in 0..<t.count { t.data[i] = Float(rng.next() >> 40) * 0x1p-24 * 2 - 1 }
            return t
        }
        let net = try FrameNet(dims: [1024, 1024, 128, 32, 3], dropout: 0.3, context: ctx)
        let xb = normalish([32, 1024])
        let yb = (0..<32).map { Int32($0 % 3) }
        var r = SplitMix64(seed: 1)
        _ = try net.trainStep(xb, labels: yb, classWeights: nil, rng: &r)
        var t0 = monotonicSeconds()
        for _ in 0..<framewiseSteps { _ = try net.trainStep(xb, labels: yb, classWeights: nil, rng: &r) }
        var dt = monotonicSeconds() - t0
        let flops = 3.0 * 2.0 * 32 * Double(1024 * 1024 + 1024 * 128 + 128 * 32 + 32 * 3) * Double(framewiseSteps)
        add(
            "training", "frame-wise step, batch 32", seconds: dt / Double(framewiseSteps),
            flops: flops / Double(framewiseSteps),
            throughput: String(
                format: "%.0f frames/s; 369,000-frame epoch %.1f s", 32 * Double(framewiseSteps) / dt,
                369_000 / (32 * Double(framewiseSteps) / dt)))
        let lstm = try LSTMNet(features: 1024, dropout: 0.3, context: ctx)
        lstm.sequenceLength = 300
        let x = normalish([32, 300, 1024])
        t0 = monotonicSeconds()
        let batches = (lstmSequences + 31) / 32
        for b in 0..<batches {
            let m = min(32, lstmSequences - b * 32)
            let xs = m == 32 ? x : Tensor(shape: [m, 300, 1024], values: Array(x.buffer[0..<(m * 300 * 1024)]))
            _ = try lstm.trainStep(xs, labels: (0..<m).map { Int32($0 % 3) }, classWeights: nil, rng: &r)
        }
        dt = monotonicSeconds() - t0
        add(
            "training", "LSTM epoch, \(lstmSequences) x 300 x 1024", seconds: dt,
            flops: 3 * 82.9e6 * Double(lstmSequences),
            throughput: String(format: "%.1f sequences/s", Double(lstmSequences) / dt))
    }
}

extension Bench {
    /// Each distinct 3x3 layer of VGG16 at 224x224 (batch 1) with every algorithm that applies:
    /// its time, and its error against the direct convolution in double precision at 256
    /// sampled output pixels (every channel), as the largest difference over the largest
    /// output, on inputs >= 0 as after a ReLU.
    public mutating func convAlgorithms() throws {
        let layers = [
            (224, 3, 64), (224, 64, 64), (112, 64, 128), (112, 128, 128), (56, 128, 256), (56, 256, 256),
            (28, 256, 512), (28, 512, 512), (14, 512, 512),
        ]
        var rng = SplitMix64(seed: 11)
        func uniform(_ shape: [Int], scale: Float) -> Tensor {
            let t = Tensor(shape: shape)
            for i in 0..<t.count { t.data[i] = (Float(rng.next() >> 40) * 0x1p-24 - 0.5) * scale }
            return t
        }
        for (side, cin, cout) in layers {
            var s = Conv2DShape(n: 1, h: side, w: side, cin: cin, cout: cout, kh: 3, kw: 3)
            (s.padTop, s.padLeft, s.padBottom, s.padRight) = (1, 1, 1, 1)
            let x = uniform([1, side, side, cin], scale: 2)
            for i in 0..<x.count { x.data[i] = abs(x.data[i]) }
            let w = uniform(s.weightShape, scale: 2 * (6 / Float(9 * cin)).squareRoot())
            let b = uniform([cout], scale: 0.1)
            let ws = Workspace()
            // the sampled pixels (the corners and edges among them) and their exact outputs
            let pixels = (0..<256).map { i in
                i < 4 ? [0, side - 1, side * (side - 1), side * side - 1][i] : Int(rng.next() % UInt64(side * side))
            }
            var exact = [Double](repeating: 0, count: pixels.count * cout)
            for (pi, p) in pixels.enumerated() {
                let (oy, ox) = (p / side, p % side)
                for co in 0..<cout { exact[pi * cout + co] = Double(b.data[co]) }
                for ky in 0..<3 {
                    for kx in 0..<3 {
                        let (iy, ix) = (oy + ky - 1, ox + kx - 1)
                        guard iy >= 0, iy < side, ix >= 0, ix < side else { continue }
                        for ci in 0..<cin {
                            let xv = Double(x.data[(iy * side + ix) * cin + ci])
                            let wrow = ((ky * 3 + kx) * cin + ci) * cout
                            for co in 0..<cout { exact[pi * cout + co] += xv * Double(w.data[wrow + co]) }
                        }
                    }
                }
            }
            let maxRef = max(exact.map { abs($0) }.max() ?? 0, 1e-300)
            let flops = 2.0 * Double(side * side) * Double(9 * cin * cout)
            for algo in [ConvAlgorithm.im2colGemm, .implicitGemm, .winograd2x2, .winograd4x4, .winograd6x6] {
                let conv = try PackedConv2D(ctx, shape: s, weights: w, bias: b, algorithm: algo)
                let y = try conv(x, workspace: ws)
                let t = try time { _ = try conv(x, workspace: ws, into: y) }
                var maxDiff = 0.0
                for (pi, p) in pixels.enumerated() {
                    for co in 0..<cout {
                        maxDiff = max(maxDiff, abs(Double(y.data[p * cout + co]) - exact[pi * cout + co]))
                    }
                }
                add(
                    "conv", "\(side)x\(side)x\(cin)->\(cout) \(algo)", seconds: t, flops: flops,
                    throughput: String(format: "error %.1e", maxDiff / maxRef))
            }
        }
    }
}
