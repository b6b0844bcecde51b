import Foundation
import Kernels
import Weights

/// int8 calibration: runs the fp32 model on the user's face crops, and sets each int8
/// layer's input quantisation from a percentile of the values that layer reads (clipping the
/// rare extremes buys resolution for the rest; 100 keeps the full range).
public enum Int8Calibration {
    /// Values kept per crop and layer input: a fixed stride through the tensor, so the
    /// calibration is deterministic and its memory bounded.
    static let samplesPerCrop = 4096

    /// The config with `input_quant` on every int8 layer and `precision` int8, from model inputs
    /// (already normalised) in batches.
    public static func calibrate(
        model: Model, batches: [Tensor], percentile: Double, progress: ((Int) -> Void)? = nil
    ) throws -> ModelConfig {
        guard percentile > 50, percentile <= 100 else {
            throw KernelError.shape("percentile \(percentile) must be above 50 and at most 100")
        }
        let targets = model.int8Inputs
        guard !targets.isEmpty else {
            throw KernelError.shape("model \(model.config.name) has no layer int8 applies to")
        }
        let inputs = Array(Set(targets.map(\.input))).sorted()
        var samples = [String: [Float]](), lo = [String: Float](), hi = [String: Float]()
        var seen = 0
        // one image at a time: every int8 layer's input is kept per pass
        let singles = batches.flatMap { b in
            (0..<b.shape[0]).map { i in
                let per = b.count / b.shape[0], t = Tensor(uninitialized: [1] + Array(b.shape.dropFirst()))
                t.data.update(from: b.data + i * per, count: per)
                return t
            }
        }
        for x in singles {
            let n = x.shape[0]
            let y = try model.forward(x, outputs: inputs)
            for name in inputs {
                let t = y[name]!, per = t.count / max(n, 1)
                let step = max(1, per / samplesPerCrop)
                var s = samples[name] ?? [], l = lo[name] ?? 0, h = hi[name] ?? 0
                for i in 0..<n {
                    let base = t.data + i * per
                    var j = step / 2
                    while j < per { s.append(base[j]); j += step }
                    for j in 0..<per { l = min(l, base[j]); h = max(h, base[j]) }
                }
                (samples[name], lo[name], hi[name]) = (s, l, h)
            }
            seen += n
            progress?(seen)
        }
        guard seen > 0 else { throw KernelError.shape("int8 calibration needs at least one input") }
        var ranges = [String: Int8Quantization]()
        for name in inputs {
            let s = samples[name]!.sorted()
            func quantile(_ q: Double) -> Float { s[Int((q * Double(s.count - 1)).rounded())] }
            let (l, h) =
                percentile == 100
                ? (lo[name]!, hi[name]!) : (quantile(1 - percentile / 100), quantile(percentile / 100))
            ranges[name] = Int8Quantization(lo: l, hi: h)
        }
        var config = model.config
        let inputOf = Dictionary(uniqueKeysWithValues: targets.map { ($0.layer, $0.input) })
        for i in config.layers.indices {
            config.layers[i].inputQuant = inputOf[config.layers[i].name].map { ranges[$0]! }
        }
        config.precision = Precision.int8.rawValue
        return config
    }
}

extension Int8Calibration {
    /// Per item of a batch: max-abs difference of `q` from `p` / max-abs of `p` (the drift
    /// every precision figure here uses).
    public static func drift(_ p: Tensor, _ q: Tensor, items n: Int) -> [Double] {
        let per = p.count / max(n, 1)
        return (0..<n).map { i in
            var diff: Float = 0, scale: Float = 0
            for j in (i * per)..<((i + 1) * per) {
                diff = max(diff, abs(p.data[j] - q.data[j]))
                scale = max(scale, abs(p.data[j]))
            }
            return Double(diff / max(scale, 1e-30))
        }
    }

    /// Layers kept in fp32 until int8 meets `budget` (the features' max drift over crops):
    /// each int8 layer's drift alone is measured, then the worst are returned to fp32 one at
    /// a time. Returns the config and the layers returned to fp32, worst first.
    public static func fitBudget(
        _ config: ModelConfig, reference: Model, weights: any WeightSource, context: ComputeContext,
        batches: [Tensor], budget: Double, notice: ((String) -> Void)? = nil
    ) throws -> (config: ModelConfig, fp32Layers: [String]) {
        let features = reference.config.outputs.features
        let want = try batches.map { try reference.forward($0, outputs: [features])[features]! }
        func drift(_ c: ModelConfig) throws -> Double {
            let m = try Model(config: c, weights: weights, context: context)
            var worst = 0.0
            for (x, p) in zip(batches, want) {
                let q = try m.forward(x, outputs: [features])[features]!
                worst = max(worst, Self.drift(p, q, items: x.shape[0]).max() ?? 0)
            }
            return worst
        }
        var current = config
        var d = try drift(current)
        guard d > budget else { return (current, []) }
        let layers = config.layers.indices.filter { config.layers[$0].inputQuant != nil }
        notice?(String(format: "int8 moves the features by %.2e, above %.2e: measuring each layer alone", d, budget))
        var alone: [(index: Int, drift: Double)] = []
        for i in layers {
            var c = config
            for j in layers where j != i { c.layers[j].inputQuant = nil }
            alone.append((i, try drift(c)))
        }
        var back: [String] = []
        for (i, e) in alone.sorted(by: { $0.drift > $1.drift }) where d > budget {
            current.layers[i].inputQuant = nil
            back.append(current.layers[i].name)
            d = try drift(current)
            notice?(String(format: "%@ back to fp32 (alone %.2e): features move by %.2e", current.layers[i].name, e, d))
        }
        if !current.layers.contains(where: { $0.inputQuant != nil }) { current.precision = Precision.fp32.rawValue }
        return (current, back)
    }
}

extension Int8Calibration {
    /// The weights of a calibrated model as a safetensors file: the kernel of every layer that
    /// runs in int8 stored as I8 codes with its per-output-channel steps (`NAME.kernel_scale`,
    /// F32), everything else as F32. Loaded in int8 it packs to the bits of the fp32 original;
    /// loaded in fp32 or bf16 those layers use code x step.
    public static func storedWeights(
        config: ModelConfig, reference: Model, weights: any WeightSource, metadata: [String: String] = [:]
    ) throws -> Data {
        let calibrated = Set(config.layers.filter { $0.inputQuant != nil }.map(\.name))
        let int8 = Set(reference.int8Inputs.map(\.layer)).intersection(calibrated)
        var out: [(String, Tensor, DType)] = []
        let names = Set(weights.tensorNames)
        // a kernel's scale is written (or dropped) with its kernel
        func isScale(_ name: String) -> Bool {
            name.hasSuffix(".kernel_scale") && names.contains(String(name.dropLast("_scale".count)))
        }
        for name in names.sorted() where !isScale(name) {
            var t = try weights.tensor(name)
            if names.contains(name + "_scale") {
                // already int8 codes (a quantised model calibrated again): from code x step
                guard let s = Int8Weights(codes: t, steps: try weights.tensor(name + "_scale")) else {
                    throw ModelFileError(weights.sourceName, "\(name): not int8 codes with a scale per channel")
                }
                t = s.dequantized(shape: t.shape)
            }
            guard name.hasSuffix(".kernel"), int8.contains(String(name.dropLast(".kernel".count))) else {
                out.append((name, t, .f32))
                continue
            }
            let q = Int8Weights(quantizing: t)
            let codes = Tensor(shape: t.shape, values: q.codes.map { Float($0) })
            out.append((name, codes, .i8))
            out.append((name + "_scale", Tensor(shape: [q.steps.count], values: q.steps), .f32))
        }
        var meta = metadata
        meta["int8_weights"] = "I8 kernel codes x NAME.kernel_scale per output channel"
        return try SafeTensorsWriter.encode(out, metadata: meta)
    }
}
