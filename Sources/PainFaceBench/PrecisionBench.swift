import Faces
import Features
import Foundation
import Imaging
import Kernels
import NN

/// How far a reduced precision moves a model from fp32 on real face crops: per layer and for
/// the features, the drift of each crop (max-abs difference / max-abs of the fp32 output),
/// the class probabilities' top-1 agreement, and the time of both.
enum PrecisionBench {
    struct Report {
        var crops = 0
        /// layer, mean and max over crops of the drift
        var layers: [(name: String, mean: Double, max: Double)] = []
        var featureMean = 0.0, featureMax = 0.0
        var top1Agreement: Double?
        var fp32Seconds = 0.0, reducedSeconds = 0.0
    }

    /// Every `every`-th frame's crop of each folder.
    static func crops(folders: [String], every: Int) throws -> [RGBImage] {
        let cropper = try VideoCropper(options: CropOptions())
        var out: [RGBImage] = []
        for f in folders {
            _ = try cropper.run(folder: f) { i, _, img in
                if i % every == 0, let img { out.append(img) }
            }
        }
        return out
    }

    static func run(
        folders: [String], model: String, precision: Precision, every: Int, fp32 ctx: ComputeContext
    ) throws -> Report {
        let images = try crops(folders: folders, every: every)
        guard !images.isEmpty else { throw Failure(description: "no face crops in \(folders.joined(separator: ", "))") }
        let reducedCtx = try ComputeContext(isa: ctx.isa, threads: ctx.threads)
        reducedCtx.precision = precision
        let stem = try ModelStore.resolve(model)
        let a = try Model(path: stem, context: ctx), b = try Model(path: stem, context: reducedCtx)
        let names = a.layerNames, features = a.config.outputs.features, probs = a.config.outputs.probabilities
        var sum = [Double](repeating: 0, count: names.count), worst = sum
        var r = Report(crops: images.count)
        var agree = 0
        let chunk = 8
        for start in stride(from: 0, to: images.count, by: chunk) {
            let x = try Preprocess.tensor(Array(images[start..<min(start + chunk, images.count)]), spec: a.config.input)
            let n = x.shape[0]
            // timed: the features alone, as extraction runs them
            var t0 = monotonicSeconds()
            _ = try a.forward(x, outputs: [features])
            r.fp32Seconds += monotonicSeconds() - t0
            t0 = monotonicSeconds()
            _ = try b.forward(x, outputs: [features])
            r.reducedSeconds += monotonicSeconds() - t0
            let ya = try a.forward(x, outputs: names), yb = try b.forward(x, outputs: names)
            for (li, name) in names.enumerated() {
                let p = ya[name]!, q = yb[name]!, per = p.count / n
                for i in 0..<n {
                    var diff: Float = 0, scale: Float = 0
                    for j in (i * per)..<((i + 1) * per) {
                        diff = max(diff, abs(p.data[j] - q.data[j]))
                        scale = max(scale, abs(p.data[j]))
                    }
                    let d = Double(diff / max(scale, 1e-30))
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
        r.layers = names.indices.map { (names[$0], sum[$0] / Double(images.count), worst[$0]) }
        if let f = r.layers.first(where: { $0.name == features }) { (r.featureMean, r.featureMax) = (f.mean, f.max) }
        if probs != nil { r.top1Agreement = Double(agree) / Double(images.count) }
        return r
    }
}
