import Foundation
import Kernels
import NN
import Weights

/// PainFace as an external peer of ../shared/anchors (one JSON request per stdin line,
/// one reply per stdout line; see the anchors README, section 4). Bench A (VGG16
/// inference) is served; B and C (training) answer "not implemented" until the training
/// engine exists.
public final class AnchorPeer {
    let ctx: ComputeContext
    let weightsDir: String?
    var model: Model?
    var inputs: [Int: Tensor] = [:]
    var rssAfterB1: Double?

    public init(ctx: ComputeContext, weightsDir: String?) {
        self.ctx = ctx
        self.weightsDir = weightsDir
    }

    /// Serves until "quit" or end of input.
    public func serve() {
        while let line = readLine() {
            guard let data = line.data(using: .utf8),
                  let req = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
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
        let d = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? Data("{\"ok\":false}".utf8)
        FileHandle.standardOutput.write(d + Data("\n".utf8))
    }

    func setup(_ req: [String: Any]) throws -> [String: Any] {
        guard req["bench"] as? String == "A" else {
            return ["ok": false, "error": "painface serves bench A only so far (training arrives with issue 4)"]
        }
        guard let dir = weightsDir else { return ["ok": false, "error": "start with --weights DIR (bench_a_vgg.py --export-weights DIR)"] }
        let (m, xs, reference) = try Self.loadExport(dir: dir, ctx: ctx)
        model = m
        inputs = xs
        let out = try m.forward(xs[1]!, outputs: ["fc1024"])["fc1024"]!
        let checksum = out.buffer.reduce(0.0) { $0 + Double($1) }
        var maxDiff: Float = 0
        if let r = reference { for i in 0..<r.count { maxDiff = max(maxDiff, abs(r.data[i] - out.data[i])) } }
        return ["ok": true, "version": "painface \(PainFaceInfo.version) (\(ctx.isa), Winograd F(2x2,3x3) + implicit GEMM)",
                "threads": ctx.threads, "checksum": checksum, "max_abs_diff_vs_torch": Double(maxDiff),
                "rss_model_mb": ProcessStats.currentRSSMB]
    }

    func run(_ req: [String: Any]) throws -> [String: Any] {
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
              let list = index["tensors"] as? [[String: Any]] else {
            throw ModelFileError(indexPath, "missing or not an export index")
        }
        func raw(_ name: String) throws -> (Tensor, [Int]) {
            guard let e = list.first(where: { $0["name"] as? String == name }), let file = e["file"] as? String,
                  let shape = e["shape"] as? [Int] else { throw ModelFileError(indexPath, "no tensor \(name)") }
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
        let torchNames = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
                          "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3"]
        let convLayers = config.layers.filter { $0.type == "conv2d" }.map(\.name)
        // Converted one tensor at a time while the model packs it: low peak memory.
        var src = LazyWeights(name: dir)
        for (tn, ln) in zip(torchNames, convLayers) {
            guard let e = list.first(where: { $0["name"] as? String == "\(tn).weight" }), let s = e["shape"] as? [Int], s.count == 4 else {
                throw ModelFileError(indexPath, "no 4-D tensor \(tn).weight")
            }
            let (o, i, kh, kw) = (s[0], s[1], s[2], s[3])
            src.add("\(ln).kernel", shape: [kh, kw, i, o]) {   // OIHW -> HWIO
                let (w, _) = try raw("\(tn).weight")
                let hwio = Tensor(shape: [kh, kw, i, o])
                for oo in 0..<o { for ii in 0..<i { for y in 0..<kh { for x in 0..<kw {
                    hwio.data[((y * kw + x) * i + ii) * o + oo] = w.data[((oo * i + ii) * kh + y) * kw + x]
                } } } }
                return hwio
            }
            src.add("\(ln).bias", shape: [o]) { try raw("\(tn).bias").0.reshaped([o]) }
        }
        let (fw, fs) = try raw("fc.weight")     // [out, in] -> [in, out]
        let fc = Tensor(shape: [fs[1], fs[0]])
        for o in 0..<fs[0] { for i in 0..<fs[1] { fc.data[i * fs[0] + o] = fw.data[o * fs[1] + i] } }
        src.add("fc1024.kernel", fc)
        src.add("fc1024.bias", try raw("fc.bias").0.reshaped([fs[0]]))
        let model = try Model(config: config, weights: src, context: ctx)
        var xs: [Int: Tensor] = [:]
        for b in [1, 8, 32] {
            guard let (x, s) = try? raw("input_b\(b)") else { continue }
            let (n, c, h, w) = (s[0], s[1], s[2], s[3])
            let nhwc = Tensor(shape: [n, h, w, c])
            for nn in 0..<n { for cc in 0..<c { for p in 0..<(h * w) {
                nhwc.data[(nn * h * w + p) * c + cc] = x.data[(nn * c + cc) * h * w + p]
            } } }
            xs[b] = nhwc
        }
        return (model, xs, try? raw("output_b1").0)
    }
}
