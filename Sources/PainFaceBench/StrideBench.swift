import Faces
import Features
import Foundation
import Kernels
import NN
import Weights

/// What `--stride k` costs: per stride, the time to extract the folders and how far the held
/// features (and the model's class probabilities) move from those of every frame.
enum StrideBench {
    struct Row {
        var stride: Int
        var seconds: Double
        /// over frames with a crop: max-abs difference / max-abs of the stride-1 row; mean and max
        var featureDriftMean: Double, featureDriftMax: Double
        /// mean absolute difference of the class probabilities, and top-1 agreement
        var probabilityDrift: Double?, top1Agreement: Double?
    }

    static func run(folders: [String], model: String, strides: [Int], context: ComputeContext) throws -> [Row] {
        let tmp = NSTemporaryDirectory() + "painface-stride-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let fx = try FeatureExtractor(model: model, context: context)
        var reference: [String: CacheEntry] = [:]
        var rows: [Row] = []
        for k in [1] + strides.filter({ $0 != 1 }) {
            let fc = try FeatureCache(
                dir: tmp + "/k\(k)", extractor: fx, cropper: try VideoCropper(options: CropOptions()))
            fc.stride = k
            var row = Row(stride: k, seconds: 0, featureDriftMean: 0, featureDriftMax: 0)
            var drifts: [Double] = [], probDiff = 0.0, probCount = 0, agree = 0, frames = 0
            for f in folders {
                let id = URL(fileURLWithPath: f).lastPathComponent
                let t0 = monotonicSeconds()
                guard let e = try fc.extract(videoID: id, folder: f, force: true).1 else { continue }
                row.seconds += monotonicSeconds() - t0
                if k == 1 { reference[id] = e }
                guard let ref = reference[id], let a = ref.rows(0..<ref.frames.count),
                    let b = e.rows(0..<e.frames.count), a.shape == b.shape
                else { continue }
                let d = a.shape[1]
                for r in 0..<a.shape[0] {
                    var diff: Float = 0, scale: Float = 0
                    for c in 0..<d {
                        diff = max(diff, abs(a.data[r * d + c] - b.data[r * d + c]))
                        scale = max(scale, abs(a.data[r * d + c]))
                    }
                    drifts.append(Double(diff / max(scale, 1e-30)))
                }
                if let pa = ref.probabilities.flatMap({ ref.rows(0..<ref.frames.count, of: $0) }),
                    let pb = e.probabilities.flatMap({ e.rows(0..<e.frames.count, of: $0) })
                {
                    let c = pa.shape[1]
                    for r in 0..<pa.shape[0] {
                        let x = Array(UnsafeBufferPointer(start: pa.data + r * c, count: c))
                        let y = Array(UnsafeBufferPointer(start: pb.data + r * c, count: c))
                        for j in 0..<c { probDiff += Double(abs(x[j] - y[j])) }
                        probCount += c
                        if x.indices.max(by: { x[$0] < x[$1] }) == y.indices.max(by: { y[$0] < y[$1] }) { agree += 1 }
                        frames += 1
                    }
                }
            }
            row.featureDriftMean = drifts.isEmpty ? 0 : drifts.reduce(0, +) / Double(drifts.count)
            row.featureDriftMax = drifts.max() ?? 0
            if probCount > 0 {
                row.probabilityDrift = probDiff / Double(probCount)
                row.top1Agreement = Double(agree) / Double(frames)
            }
            rows.append(row)
        }
        return rows
    }
}
