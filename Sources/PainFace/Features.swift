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
        top = counts.indices.max { counts[$0] < counts[$1] }!   // the first of equal maxima
    }
}

/// One folder's result: features per readable frame plus what was skipped.
public struct FolderFeatures {
    public var frames: [String] = []
    public var features: Tensor
    public var probabilities: Tensor?
    public var unreadable: [(file: String, reason: String)] = []
    public var otherFiles = 0
    /// Share of frames with a face found, when the frames were cropped here.
    public var coverage: Double?
}

extension Model {
    /// Features (and class probabilities, when the model has them) of a batch of images.
    /// NaN or infinite features are an error naming `source`.
    func features(of images: [RGBImage], source: String) throws -> (Tensor, Tensor?) {
        let x = try Preprocess.tensor(images, spec: config.input)
        var wanted = [config.outputs.features]
        if let p = config.outputs.probabilities { wanted.append(p) }
        let out = try forward(x, outputs: wanted)
        let f = out[config.outputs.features]!
        if f.hasNonFinite {
            throw ModelFileError(source, "the model produced NaN or infinite features (check the model's weights and normalisation)")
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

/// Batches images through a model and collects the rows in order.
final class FeatureAccumulator {
    let model: Model
    let batch: Int
    let source: String
    let progress: (Int) -> Void
    var pending: [(String, RGBImage)] = []
    var names: [String] = []
    var skipped: [(file: String, reason: String)] = []
    var featureRows: [Tensor] = [], probRows: [Tensor] = []
    var done = 0

    init(model: Model, batch: Int, source: String, progress: @escaping (Int) -> Void) {
        (self.model, self.batch, self.source, self.progress) = (model, batch, source, progress)
    }

    func add(_ name: String, _ img: RGBImage) throws {
        pending.append((name, img))
        if pending.count >= batch { try flush() }
    }

    func skip(_ name: String, _ reason: String) {
        skipped.append((name, reason))
        done += 1
    }

    func flush() throws {
        guard !pending.isEmpty else { return }
        let (f, p) = try model.features(of: pending.map(\.1), source: source)
        featureRows.append(f)
        if let p { probRows.append(p) }
        names += pending.map(\.0)
        done += pending.count
        progress(done)
        pending.removeAll()
    }

    func finish() throws -> FolderFeatures {
        try flush()
        let (f, p) = model.stack(featureRows: featureRows, probRows: probRows, count: names.count)
        return FolderFeatures(frames: names, features: f, probabilities: p, unreadable: skipped)
    }
}

public struct FeatureOptions: Sendable {
    public var batch = 8
    public var dtype: DType = .f32
    public init() {}
}

/// Runs a model over folders of face crops.
public final class FeatureExtractor {
    public let model: Model
    public let stem: String
    public let modelHash: String

    public init(model nameOrPath: String, context: ComputeContext) throws {
        stem = try ModelStore.resolve(nameOrPath)
        model = try Model(path: stem, context: context)
        modelHash = try ModelStore.hash(stem: stem)
    }

    /// Features of every readable image in `dir`. Unreadable frames are recorded, not fatal.
    /// With `cropper`, the frames are raw video frames and each is cropped first; frames
    /// without a crop (no face, per the policy) are recorded as skipped.
    public func run(folder dir: String, options: FeatureOptions = .init(), cropper: VideoCropper? = nil,
                    landmarks: VideoLandmarks? = nil, progress: ((Int, Int) -> Void)? = nil) throws -> FolderFeatures {
        let (names, other) = try ImageIO.listFrames(dir)
        if let cropper {
            // the same two-thread pipeline as `painface extract`
            let r = try runCropped(folder: dir, frames: names, cropper: cropper, landmarks: landmarks, batch: options.batch,
                                   progress: { progress?($0, names.count) })
            let (features, probs) = r.stacked(model)
            return FolderFeatures(frames: r.positions.map { names[$0] }, features: features, probabilities: probs,
                                  unreadable: r.records.filter { !$0.hasCrop }.map { ($0.frame, $0.reason ?? "no face (\($0.source.rawValue))") },
                                  otherFiles: other,
                                  coverage: VideoCropper.coverage(r.records))
        }
        let acc = FeatureAccumulator(model: model, batch: options.batch, source: dir) { progress?($0, names.count) }
        for name in names {
            do { try acc.add(name, try ImageIO.read((dir as NSString).appendingPathComponent(name))) }
            catch let e as ImageError { acc.skip(name, e.reason) }
        }
        var r = try acc.finish()
        r.otherFiles = other
        return r
    }

    /// Metadata written with a folder's features (also the resume key).
    public func metadata(_ r: FolderFeatures, folder: String) -> [String: String] {
        func json(_ v: Any) -> String {
            String(decoding: (try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys])) ?? Data("null".utf8), as: UTF8.self)
        }
        var m: [String: String] = [
            "painface_version": PainFaceInfo.version,
            "model": model.config.name,
            "model_sha256": modelHash,
            "folder": folder,
            "frames": json(r.frames),
            "unreadable": json(r.unreadable.map { ["file": $0.file, "reason": $0.reason] }),
            "feature_layer": model.config.outputs.features,
        ]
        if let c = r.coverage { m["face_coverage"] = String(format: "%.4f", c) }
        if let c = model.config.classes { m["classes"] = json(c) }
        return m
    }

    /// Writes OUT/<folder name>.safetensors atomically.
    public func write(_ r: FolderFeatures, folder: String, to path: String, dtype: DType = .f32) throws {
        var tensors: [(String, Tensor)] = [("features", r.features)]
        if let p = r.probabilities { tensors.append(("probabilities", p)) }
        try SafeTensorsWriter.write(tensors, to: path, dtype: dtype, metadata: metadata(r, folder: folder))
    }

    /// True if `path` already holds this model's features of exactly these frames.
    public func isUpToDate(_ path: String, folder dir: String) -> Bool {
        guard let f = try? SafeTensorsFile(path: path), f.metadata["model_sha256"] == modelHash,
              let framesJSON = f.metadata["frames"], let unreadableJSON = f.metadata["unreadable"],
              let frames = try? JSONDecoder().decode([String].self, from: Data(framesJSON.utf8)),
              let bad = try? JSONSerialization.jsonObject(with: Data(unreadableJSON.utf8)) as? [[String: String]],
              let (names, _) = try? ImageIO.listFrames(dir) else { return false }
        let recorded = Set(frames).union(bad.compactMap { $0["file"] })
        guard recorded == Set(names) else { return false }
        // a frame changed since: newer than the output
        let outDate = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast
        for n in names {
            let p = (dir as NSString).appendingPathComponent(n)
            if let d = try? FileManager.default.attributesOfItem(atPath: p)[.modificationDate] as? Date, d > outDate { return false }
        }
        return true
    }
}
