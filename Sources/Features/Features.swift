import Faces
import Foundation
import Imaging
import Kernels
import NN
import Weights

/// Turns decoded images into a model's input tensor: resize to the input size, reorder
/// the channels (rgb, bgr or gray), normalise as the model's config says.
public enum Preprocess {
    public static func tensor(_ images: [RGBImage], spec: InputSpec) throws -> Tensor {
        let (h, w, c) = (spec.height, spec.width, spec.channels)
        let out = Tensor(shape: [images.count, h, w, c])
        let n = spec.normalization
        let mean = n.mean ?? [Float](repeating: 0, count: c), std = n.std ?? [Float](repeating: 1, count: c)
        guard mean.count == c, std.count == c, std.allSatisfy({ $0 != 0 }) else {
            throw KernelError.shape("normalisation mean/std must have \(c) non-zero values")
        }
        let order: [Int]
        switch (spec.color, c) {
        case ("rgb", 3): order = [0, 1, 2]
        case ("bgr", 3): order = [2, 1, 0]
        case ("gray", 1): order = []
        default: throw KernelError.shape("input color \"\(spec.color)\" with \(c) channels is not supported")
        }
        for (i, img) in images.enumerated() {
            let src = img.pixels.map { Float($0) }
            let rgb = Resize.resize(src, width: img.width, height: img.height, channels: 3, toWidth: w, toHeight: h)
            let dst = out.data + i * h * w * c
            for p in 0..<(h * w) {
                if c == 1 {
                    // ITU-R BT.601 luma, as OpenCV's RGB2GRAY
                    let g = 0.299 * rgb[3 * p] + 0.587 * rgb[3 * p + 1] + 0.114 * rgb[3 * p + 2]
                    dst[p] = (g * n.scale + n.offset - mean[0]) / std[0]
                } else {
                    for ch in 0..<3 {
                        dst[p * 3 + ch] = (rgb[3 * p + order[ch]] * n.scale + n.offset - mean[ch]) / std[ch]
                    }
                }
            }
        }
        return out
    }
}

/// Per-frame class probabilities [n, k] summarised: how many frames put each class on top,
/// the class on top most often (ties: the lower index) and the mean probabilities.
public struct TopClassSummary {
    public let counts: [Int]
    public let top: Int
    public let mean: [Float]

    public init(_ p: Tensor, rows n: Int) {
        let k = p.shape[1]
        var counts = [Int](repeating: 0, count: k), mean = [Float](repeating: 0, count: k)
        for r in 0..<n {
            let row = UnsafeBufferPointer(start: p.data + r * k, count: k)
            counts[row.indices.max { row[$0] < row[$1] }!] += 1
            for j in 0..<k { mean[j] += row[j] / Float(n) }
        }
        (self.counts, self.mean) = (counts, mean)
        top = counts.indices.max { counts[$0] < counts[$1] }!  // the first of equal maxima
    }
}

extension Model {
    /// Features (and class probabilities, when the model has them) of a batch of images.
    /// NaN or infinite features are an error naming `source`.
    public func features(of images: [RGBImage], source: String) throws -> (Tensor, Tensor?) {
        let x = try Preprocess.tensor(images, spec: config.input)
        var wanted = [config.outputs.features]
        if let p = config.outputs.probabilities { wanted.append(p) }
        let out = try forward(x, outputs: wanted)
        let f = out[config.outputs.features]!
        if f.hasNonFinite {
            throw ModelFileError(
                source, "the model produced NaN or infinite features (check the model's weights and normalisation)")
        }
        return (f, config.outputs.probabilities.map { out[$0]! })
    }

    /// Batches of rows stacked into [rows, features] and [rows, classes].
    func stack(featureRows: [Tensor], probRows: [Tensor], count: Int) -> (Tensor, Tensor?) {
        func stack(_ rows: [Tensor], _ k: Int) -> Tensor {
            let t = Tensor(shape: [count, k])
            var off = 0
            for r in rows { t.data.advanced(by: off).update(from: r.data, count: r.count); off += r.count }
            return t
        }
        let probs = config.outputs.probabilities.flatMap { shape(of: $0) }.map { stack(probRows, $0.reduce(1, *)) }
        return (stack(featureRows, featureDimension), probs)
    }
}

/// A feature model with its file stem and SHA-256 (which identifies it in every output).
public final class FeatureExtractor {
    public let model: Model
    public let stem: String
    public let modelHash: String

    public init(model nameOrPath: String, context: ComputeContext) throws {
        stem = try ModelStore.resolve(nameOrPath)
        model = try Model(path: stem, context: context)
        modelHash = try ModelStore.hash(stem: stem)
    }
}
