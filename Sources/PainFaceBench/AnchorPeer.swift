import Features
import Foundation
import Kernels
import NN
import Training
import Weights

/// PainFace as an external peer of ../shared/anchors (one JSON request per stdin line,
/// one reply per stdout line; see the anchors README, section 4): A (VGG16 inference),
/// B (LSTM training epoch and inference) and C (frame-wise training and inference).
public final class AnchorPeer {
    let ctx: ComputeContext
    let weightsDir: String?
    var model: Model?
    var inputs: [Int: Tensor] = [:]
    var rssAfterB1: Double?
    var bench = ""
    var lstm: LSTMNet?
    var frame: FrameNet?
    var data: (train: Tensor, trainY: [Int32], infer: Tensor)?
    var rng = SplitMix64(seed: 1)

    public init(ctx: ComputeContext, weightsDir: String?) {
        self.ctx = ctx
        self.weightsDir = weightsDir
    }

    /// Serves until "quit" or end of input.
    public func serve() {
        while let line = readLine() {
            guard let data = line.data(using: .utf8),
                let req = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
            else {
                reply(["ok": false, "error": "request is not a JSON object"])
                continue
            }
            let op = req["op"] as? String ?? ""
            if op == "quit" { reply(["ok": true]); return }
            do {
                switch op {
                case "setup": reply(try setup(req))
                case "run": reply(try run(req))
                default: reply(["ok": false, "error": "unknown op \(op)"])
                }
            } catch {
                reply(["ok": false, "error": "\(error)"])
            }
        }
    }

    func reply(_ obj: [String: Any]) {
        let d =
            (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? Data("{\"ok\":false}".utf8)
        FileHandle.standardOutput.write(d + Data("\n".utf8))
    }

    func setup(_ req: [String: Any]) throws -> [String: Any] {
        bench = req["bench"] as? String ?? ""
        if bench == "B" || bench == "C" { return try setupTraining(req) }
        guard bench == "A" else { return ["ok": false, "error": "unknown bench \(bench)"] }
        guard let dir = weightsDir else {
            return ["ok": false, "error": "start with --weights DIR (bench_a_vgg.py --export-weights DIR)"]
        }
        let (m, xs, reference) = try Self.loadExport(dir: dir, ctx: ctx)
        model = m
        inputs = xs
        let out = try m.forward(xs[1]!, outputs: ["fc1024"])["fc1024"]!
        let checksum = out.buffer.reduce(0.0) { $0 + Double($1) }
        var maxDiff: Float = 0
        if let r = reference { for i in 0..<r.count { maxDiff = max(maxDiff, abs(r.data[i] - out.data[i])) } }
        return [
            "ok": true,
            "version": "painface \(PainFaceInfo.version) (\(ctx.isa), \(m.precision)"
                + (m.precision == .int8 ? " \(ctx.int8Kernel)" : m.precision == .bf16 ? " \(ctx.bf16Kernel)" : "")
                + ")",
            "threads": ctx.threads, "checksum": checksum, "max_abs_diff_vs_torch": Double(maxDiff),
            "rss_model_mb": ProcessStats.currentRSSMB,
        ]
    }

    /// Synthetic data of the requested shapes (values do not matter for timing).
    func setupTraining(_ req: [String: Any]) throws -> [String: Any] {
        var g = SplitMix64(seed: 0)
        func uniform(_ shape: [Int]) -> Tensor {
            let t = Tensor(uninitialized: shape)
            for i in 0..<t.count { t.data[i] = Float(g.next() >> 40) * 0x1p-24 * 3.4 - 1.7 }
            return t
        }
        func labels(_ n: Int) -> [Int32] {
            (0..<n).map { _ in
                let u = Float(g.next() >> 40) * 0x1p-24; return u < 0.5 ? 0 : (u < 0.8 ? 1 : 2)
            }
        }
        let features = req["features"] as? Int ?? 1024
        if bench == "B" {
            let (n, ni, t) = (
                req["train_sequences"] as? Int ?? 1230, req["infer_sequences"] as? Int ?? 300,
                req["timesteps"] as? Int ?? 300
            )
            let net = try LSTMNet(features: features, dropout: Float(req["dropout"] as? Double ?? 0.3), context: ctx)
            net.sequenceLength = t
            lstm = net
            data = (uniform([n, t, features]), labels(n), uniform([ni, t, features]))
        } else {
            let n = req["frames"] as? Int ?? 369_000
            let dims = req["dims"] as? [Int] ?? [1024, 1024, 128, 32, 3]
            frame = try FrameNet(dims: dims, dropout: Float(req["dropout"] as? Double ?? 0.3), context: ctx)
            data = (uniform([n, features]), labels(n), Tensor(shape: [0]))
        }
        return [
            "ok": true, "version": "painface \(PainFaceInfo.version) (\(ctx.isa))", "threads": ctx.threads,
            "rss_model_mb": ProcessStats.currentRSSMB,
        ]
    }

    func runTraining(_ req: [String: Any]) throws -> [String: Any] {
        guard let d = data else { return ["ok": false, "error": "no setup"] }
        let case_ = req["case"] as? String ?? ""
        let batch = req["batch"] as? Int ?? 32
        let model: Trainable = bench == "B" ? lstm! : frame!
        let t0 = monotonicSeconds()
        if case_.hasPrefix("train") {
            let n = d.trainY.count
            var steps = (n + batch - 1) / batch
            if req["warm"] as? Bool == true, let w = req["warm_steps"] as? Int { steps = min(steps, w) }
            var order = Array(0..<n)
            for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            let cw = try inverseFrequencyWeights(d.trainY.map(Int.init), classes: 3)
            let full = Tensor(uninitialized: [min(batch, n)] + model.sampleShape)  // as the Trainer: one batch buffer
            for s in 0..<steps {
                let idx = order[(s * batch)..<min((s + 1) * batch, n)]
                _ = try model.trainStep(
                    samples: d.train, indices: idx, buffer: full, labels: idx.map { d.trainY[$0] },
                    classWeights: bench == "B" ? cw : nil, rng: &rng)
            }
        } else {
            let x = bench == "B" ? d.infer : d.train
            var o = TrainOptions()
            o.batch = batch
            _ = try Trainer(model: model, options: o).predictAll(x)
        }
        return ["ok": true, "seconds": monotonicSeconds() - t0, "extra": ["peak_rss_mb": ProcessStats.peakRSSMB]]
    }

    func run(_ req: [String: Any]) throws -> [String: Any] {
        if bench == "B" || bench == "C" { return try runTraining(req) }
        guard let m = model else { return ["ok": false, "error": "no setup"] }
        let b = req["batch"] as? Int ?? 1
        guard let x = inputs[b] else { return ["ok": false, "error": "no input for batch \(b)"] }
        let t0 = monotonicSeconds()
        _ = try m.forward(x, outputs: ["fc1024"])
        let dt = monotonicSeconds() - t0
        if b == 1 { rssAfterB1 = ProcessStats.peakRSSMB }
        var extra: [String: Any] = ["peak_rss_mb": ProcessStats.peakRSSMB]
        if let r = rssAfterB1 { extra["peak_rss_after_b1_mb"] = r }
        return ["ok": true, "seconds": dt, "extra": extra]
    }

    /// The anchors' exported VGG16 (raw float32, PyTorch layouts) as a PainFace model,
    /// with its NHWC inputs and PyTorch's batch-1 output.
    public static func loadExport(dir: String, ctx: ComputeContext) throws -> (Model, [Int: Tensor], Tensor?) {
        let indexPath = (dir as NSString).appendingPathComponent("index.json")
        guard let idx = FileManager.default.contents(atPath: indexPath),
            let index = (try? JSONSerialization.jsonObject(with: idx)) as? [String: Any],
            let list = index["tensors"] as? [[String: Any]]
        else {
            throw ModelFileError(indexPath, "missing or not an export index")
        }
        func raw(_ name: String) throws -> (Tensor, [Int]) {
            guard let e = list.first(where: { $0["name"] as? String == name }), let file = e["file"] as? String,
                let shape = e["shape"] as? [Int]
            else { throw ModelFileError(indexPath, "no tensor \(name)") }
            let p = (dir as NSString).appendingPathComponent(file)
            guard let d = FileManager.default.contents(atPath: p), d.count == shape.reduce(1, *) * 4 else {
                throw ModelFileError(p, "missing or wrong size for shape \(shape)")
            }
            let t = Tensor(shape: [shape.reduce(1, *)])
            _ = d.withUnsafeBytes { memcpy(t.data, $0.baseAddress!, d.count) }
            return (t, shape)
        }
        var config = Architectures.vgg16GapFc1024()
        config.input.color = "rgb"
        config.input.normalization = Normalization(scale: 1, offset: 0)
        let torchNames = [
            "conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
            "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3",
        ]
        let convLayers = config.layers.filter { $0.type == "conv2d" }.map(\.name)
        // Converted one tensor at a time while the model packs it: low peak memory.
        var src = LazyWeights(name: dir)
        for (tn, ln) in zip(torchNames, convLayers) {
            guard let e = list.first(where: { $0["name"] as? String == "\(tn).weight" }), let s = e["shape"] as? [Int],
                s.count == 4
            else {
                throw ModelFileError(indexPath, "no 4-D tensor \(tn).weight")
            }
            let (o, i, kh, kw) = (s[0], s[1], s[2], s[3])
            src.add("\(ln).kernel", shape: [kh, kw, i, o]) {  // OIHW -> HWIO
                let (w, _) = try raw("\(tn).weight")
                let hwio = Tensor(shape: [kh, kw, i, o])
                for oo in 0..<o {
                    for ii in 0..<i {
                        for y in 0..<kh {
                            for x in 0..<kw {
                                hwio.data[((y * kw + x) * i + ii) * o + oo] = w.data[((oo * i + ii) * kh + y) * kw + x]
                            }
                        }
                    }
                }
                return hwio
            }
            src.add("\(ln).bias", shape: [o]) { try raw("\(tn).bias").0.reshaped([o]) }
        }
        let (fw, fs) = try raw("fc.weight")  // [out, in] -> [in, out]
        let fc = Tensor(shape: [fs[1], fs[0]])
        for o in 0..<fs[0] { for i in 0..<fs[1] { fc.data[i * fs[0] + o] = fw.data[o * fs[1] + i] } }
        src.add("fc1024.kernel", fc)
        src.add("fc1024.bias", try raw("fc.bias").0.reshaped([fs[0]]))
        var xs: [Int: Tensor] = [:]
        for b in [1, 8, 32] {
            guard let (x, s) = try? raw("input_b\(b)") else { continue }
            let (n, c, h, w) = (s[0], s[1], s[2], s[3])
            let nhwc = Tensor(shape: [n, h, w, c])
            for nn in 0..<n {
                for cc in 0..<c {
                    for p in 0..<(h * w) {
                        nhwc.data[(nn * h * w + p) * c + cc] = x.data[(nn * c + cc) * h * w + p]
                    }
                }
            }
            xs[b] = nhwc
        }
        if ctx.precision == .int8 {
            // no faces here: calibrated on the benchmark's own batch of 8 (a speed measurement)
            let fp32 = try ComputeContext(isa: ctx.isa, threads: ctx.threads)
            fp32.precision = .fp32
            guard let x8 = xs[8] else { throw ModelFileError(indexPath, "no input_b8 to calibrate int8 on") }
            config = try Int8Calibration.calibrate(
                model: try Model(config: config, weights: src, context: fp32), batches: [x8], percentile: 100)
        }
        let model = try Model(config: config, weights: src, context: ctx)
        return (model, xs, try? raw("output_b1").0)
    }
}
