import Faces
import Foundation
import Imaging
import Kernels
import NN
import Weights

/// Face crops sampled from frame folders or video files: every `every`-th frame's crop, at
/// most `limit` in all, in folder and frame order.
public enum CropSample {
    public static func crops(folders: [String], every: Int, limit: Int = .max) throws -> [RGBImage] {
        let cropper = try VideoCropper(options: CropOptions())
        var out: [RGBImage] = []
        for f in folders where out.count < limit {
            _ = try cropper.run(folder: f) { i, _, img in
                if i % every == 0, let img, out.count < limit { out.append(img) }
            }
        }
        return out
    }
}

extension Int8Calibration {
    /// The config with `input_quant` on every int8 layer and `precision` int8.
    public static func calibrate(
        model: Model, images: [RGBImage], percentile: Double, progress: ((Int) -> Void)? = nil
    ) throws -> ModelConfig {
        guard !images.isEmpty else { throw KernelError.shape("int8 calibration needs at least one face crop") }
        let batches = try Preprocess.batches(images, spec: model.config.input)
        return try calibrate(model: model, batches: batches, percentile: percentile, progress: progress)
    }

}

extension Preprocess {
    /// The images as model inputs, `size` at a time.
    public static func batches(_ images: [RGBImage], spec: InputSpec, size: Int = 8) throws -> [Tensor] {
        try stride(from: 0, to: images.count, by: size).map {
            try tensor(Array(images[$0..<min($0 + size, images.count)]), spec: spec)
        }
    }
}

/// How far a reduced precision moves a model from fp32 on face crops: per layer and for the
/// features, each crop's drift (max-abs difference / max-abs of the fp32 output), its mean and
/// max over crops, and the class probabilities' top-1 agreement.
public enum PrecisionDrift {
    public struct Result {
        public var layers: [QuantizationReport.Drift] = []
        public var features = QuantizationReport.Drift(layer: "", mean: 0, max: 0)
        public var top1Agreement: Double?
        public var referenceSeconds = 0.0, reducedSeconds = 0.0
    }

    public static func measure(reference a: Model, reduced b: Model, images: [RGBImage]) throws -> Result {
        guard !images.isEmpty else { throw KernelError.shape("no face crops to measure the drift on") }
        let names = a.layerNames, features = a.config.outputs.features, probs = a.config.outputs.probabilities
        var sum = [Double](repeating: 0, count: names.count), worst = sum
        var r = Result()
        var agree = 0
        for start in stride(from: 0, to: images.count, by: 8) {
            let x = try Preprocess.tensor(Array(images[start..<min(start + 8, images.count)]), spec: a.config.input)
            let n = x.shape[0]
            // timed: the features alone, as extraction runs them
            var t0 = monotonicSeconds()
            _ = try a.forward(x, outputs: [features])
            r.referenceSeconds += monotonicSeconds() - t0
            t0 = monotonicSeconds()
            _ = try b.forward(x, outputs: [features])
            r.reducedSeconds += monotonicSeconds() - t0
            let ya = try a.forward(x, outputs: names), yb = try b.forward(x, outputs: names)
            for (li, name) in names.enumerated() {
                for d in Int8Calibration.drift(ya[name]!, yb[name]!, items: n) {
                    sum[li] += d
                    worst[li] = max(worst[li], d)
                }
            }
            if let probs, let p = ya[probs], let q = yb[probs] {
                let k = p.count / n
                for i in 0..<n {
                    let u = UnsafeBufferPointer(start: p.data + i * k, count: k)
                    let v = UnsafeBufferPointer(start: q.data + i * k, count: k)
                    if u.indices.max(by: { u[$0] < u[$1] }) == v.indices.max(by: { v[$0] < v[$1] }) { agree += 1 }
                }
            }
        }
        r.layers = names.indices.map { .init(layer: names[$0], mean: sum[$0] / Double(images.count), max: worst[$0]) }
        if let f = r.layers.first(where: { $0.layer == features }) { r.features = f }
        if probs != nil { r.top1Agreement = Double(agree) / Double(images.count) }
        return r
    }
}
