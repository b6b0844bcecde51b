import Dataset
import Faces
import Features
import Foundation
import Kernels
import NN
import Weights

/// `painface infer`: frame folders through cropping, the feature model and a head (or the
/// feature model's own classes), one row per video and optionally one per frame.
public final class InferJob {
    public let folders: FolderList
    public let head: LoadedHead?
    public let extractor: FeatureExtractor
    public let cache: FeatureCache
    /// The classes of the rows: the head's, else the feature model's (may be empty).
    public let classes: [String]
    public var force = false
    public var perFrame = false
    /// Estimates over time, one row per window (after the video's row).
    public var windows: WindowSpec?
    public var landmarks: (String) -> String? = { _ in nil }

    /// The feature model: `model` if given, else the one the head was trained on, else the
    /// bundled default. A head refuses features of another model or length.
    public static func featureModel(
        _ model: String?, head: LoadedHead?, context: ComputeContext
    ) throws -> FeatureExtractor {
        let name = model ?? head?.config.featureModel ?? ModelStore.defaultModel
        let fx: FeatureExtractor
        do { fx = try FeatureExtractor(model: name, context: context) } catch {
            let hint =
                model == nil && head?.config.featureModel != nil ? " (the head's feature model; give --model)" : ""
            throw JobError("\(error)" + hint)
        }
        if let h = head {
            let c = h.config
            if let sha = c.featureModelSha256, sha != fx.modelHash {
                throw ModelFileError(
                    h.stem,
                    """
                    trained on features of \(c.featureModel ?? "another model") (sha256 \(sha.prefix(12))), not \
                    \(fx.model.config.name) (\(fx.modelHash.prefix(12)))
                    """
                )
            }
            guard c.features == fx.model.featureDimension else {
                throw ModelFileError(
                    h.stem, "takes \(c.features) features, \(fx.model.config.name) gives \(fx.model.featureDimension)")
            }
        }
        return fx
    }

    public init(folders: FolderList, head: LoadedHead?, extractor: FeatureExtractor, cache: FeatureCache) {
        (self.folders, self.head, self.extractor, self.cache) = (folders, head, extractor, cache)
        classes = head?.config.classes ?? extractor.model.config.classes ?? []
    }

    /// Rows for one video's entry: the video's, then (with perFrame) one per frame.
    public func rows(id: String, entry e: CacheEntry) throws -> [PredictionRow] {
        let used = e.stride > 1 ? e.heldRows(0..<e.frames.count).count : e.positions.count
        func videoRow(_ label: String, _ p: [Float], used: Int) -> PredictionRow {
            PredictionRow(
                video: id, label: label, probabilities: p, coverage: e.coverage, framesUsed: used,
                framesTotal: e.totalFrames)
        }
        var out: [PredictionRow] = []
        var frameProbs: Tensor?
        if used == 0 {
            out.append(videoRow("no_face", [], used: 0))
        } else if let h = head {
            let c = h.config
            // with a stride, every frame with a crop (held features), so time is kept
            let (l, p) = try Heads.predict(h.model, config: c, features: e.rows(0..<e.frames.count) ?? e.features)
            if c.head == .framewise && perFrame {
                frameProbs = try Heads.framewiseProbabilities(h.model, features: e.features)
            }
            out.append(
                videoRow(
                    c.classes[l], p,
                    used: c.head == .lstm ? min(used, c.sequenceLength ?? SegmentProtocol.defaultLength) : used))
        } else if let p = e.probabilities, !classes.isEmpty {
            let held = e.rows(0..<e.frames.count, of: p) ?? p
            let sum = TopClassSummary(held, rows: held.shape[0])
            out.append(videoRow(classes[sum.top], sum.mean, used: used))
            frameProbs = p
        } else {
            out.append(videoRow("", [], used: used))
        }
        if let w = windows { out += try windowRows(w, id: id, entry: e) }
        guard perFrame else { return out }
        let k = classes.count
        var row: [Int: Int] = [:]
        if e.stride > 1 {
            let all = 0..<e.frames.count
            for (f, r) in zip(e.croppedFrames(all), e.heldRows(all)) { row[f] = r }
        } else {
            for (r, pos) in e.positions.enumerated() { row[pos] = r }
        }
        for (i, f) in e.frames.enumerated() {
            var probs: [Float] = [], label = ""
            if let r = row[i], let fp = frameProbs {
                probs = Array(UnsafeBufferPointer(start: fp.data + r * k, count: k))
                label = classes[probs.indices.max { probs[$0] < probs[$1] }!]
            }
            var r = PredictionRow(
                video: id, frame: f, frameIndex: i, label: label, probabilities: probs, source: e.sources[i])
            if i < e.boxes.count { r.box = e.boxes[i] }
            if i < e.confidences.count { r.confidence = e.confidences[i] }
            if i < e.faceCounts.count { r.faces = e.faceCounts[i] }
            out.append(r)
        }
        return out
    }

    /// A video's window rows: the head on each window's frames with a face (the LSTM's
    /// sequence padded or cut to its length as for a whole video), else the feature model's
    /// class probabilities averaged over them.
    func windowRows(_ w: WindowSpec, id: String, entry e: CacheEntry) throws -> [PredictionRow] {
        let k = classes.count
        return try w.rows(id: id, entry: e) { rows, range in
            if let h = head {
                let (l, p) = try Heads.predict(h.model, config: h.config, features: rows)
                return (h.config.classes[l], p)
            }
            guard let probs = e.probabilities, k > 0, let t = e.rows(range, of: probs) else { return ("", []) }
            let sum = TopClassSummary(t, rows: t.shape[0])
            return (classes[sum.top], sum.mean)
        }
    }

    /// Every folder's rows, in order; a folder that fails is reported through `events` and
    /// left out. Returns the rows and the number of failed folders.
    public func run(events: JobEvents = JobEvents()) -> (rows: [PredictionRow], failed: Int) {
        var loop = VideoLoop(
            cache: cache, totalFrames: folders.totalFrames, events: JobEvents(progress: events.progress))
        var rows: [PredictionRow] = [], failed = 0
        for (i, (folder, id)) in zip(folders.folders, folders.ids).enumerated() {
            var error: Error?
            switch loop.run(
                id: id, folder: folder, landmarks: landmarks(folder), force: force, frames: folders.frameCounts[i])
            {
            case .success((_, let entry?)):
                do { rows += try self.rows(id: id, entry: entry) } catch let e { error = e }
            case .success: break
            case .failure(let e): error = e
            }
            if error != nil { failed += 1 }
            // named by its folder, unless the error names it already (a missing folder does)
            events.finished(
                loop.state, error.map { "\($0)".hasPrefix(folder) ? $0 : ModelFileError(folder, "\($0)") })
        }
        return (rows, failed)
    }
}
