import Faces
import Foundation
import Imaging
import Kernels
import NN
import Weights

/// One video's cached features: a row per frame that has a face crop.
public struct CacheEntry {
    public var videoID: String
    /// Frames of the folder (natural order) the entry covers: positions 0..<frames.count.
    public var frames: [String]
    /// Frames in the folder when it was extracted (the protocol's segments depend on it).
    public var totalFrames: Int
    /// Frame position of each feature row.
    public var positions: [Int]
    public var features: Tensor
    public var probabilities: Tensor?
    /// Per covered frame: where its face box came from (BoxSource raw values).
    public var sources: [String]
    public var coverage: Double
    public var modelSHA256: String
    public var modelName: String
    public var key: String

    /// Feature rows of frame positions `range`; with `padTo`, missing frames (no face) and a
    /// short range are filled by repeating the last row. Nil when the range has no row.
    public func rows(_ range: Range<Int>, padTo: Int? = nil) -> Tensor? {
        let d = features.shape[1]
        let idx = positions.indices.filter { range.contains(positions[$0]) }
        guard !idx.isEmpty else { return nil }
        let n = padTo ?? idx.count
        let t = Tensor(shape: [n, d])
        for r in 0..<n {
            let src = idx[min(r, idx.count - 1)]
            t.data.advanced(by: r * d).update(from: features.data + src * d, count: d)
        }
        return t
    }
}

/// What `FeatureCache.extract` did with a video.
public enum CacheOutcome {
    /// the cache already held this content
    case skipped
    case extracted
    /// the protocol needs no frame of this video (shorter than one segment)
    case notNeeded
}

/// Per-video feature files in one folder, keyed by the frames' content, the model's hash
/// and the crop settings. Files are written to a temporary name and renamed, so a killed
/// run leaves either the old file, the new one or none, never a torn one.
public final class FeatureCache {
    public let dir: String
    public let extractor: FeatureExtractor
    public let cropper: VideoCropper
    public var dtype: DType = .f32
    public var batch = 8
    /// Seconds per stage, summed over extracted videos.
    public private(set) var keyTime = 0.0, featureTime = 0.0, writeTime = 0.0

    public init(dir: String, extractor: FeatureExtractor, cropper: VideoCropper) throws {
        (self.dir, self.extractor, self.cropper) = (dir, extractor, cropper)
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        catch { throw ModelFileError(dir, "cannot create the cache folder: \(error.localizedDescription)") }
        removeStaleTemporaries()
    }

    /// Temporary files of killed writers. A temporary file lives for the milliseconds of one
    /// write, so one older than ten minutes is stale even when other machines share the folder.
    func removeStaleTemporaries() {
        let fm = FileManager.default
        for f in (try? fm.contentsOfDirectory(atPath: dir)) ?? [] where f.hasPrefix(".") && f.contains(".safetensors.tmp-") {
            let p = (dir as NSString).appendingPathComponent(f)
            if let d = try? fm.attributesOfItem(atPath: p)[.modificationDate] as? Date, d < Date(timeIntervalSinceNow: -600) {
                try? fm.removeItem(atPath: p)
            }
        }
    }

    public func path(_ videoID: String) -> String { (dir as NSString).appendingPathComponent(videoID + ".safetensors") }

    /// Crop and model settings that change the features.
    var settingsKey: String {
        let o = cropper.options
        return "painface-cache/1;model=\(extractor.modelHash);margin=\(o.settings.margin);size=\(o.settings.size);pad=\(o.settings.pad);"
            + "sources=\(o.order.map(\.rawValue).joined(separator: ","));policy=\(o.policy.rawValue);gap=\(o.maxGap);dtype=\(dtype)"
    }

    /// The key of a video's first `count` frames: settings, names, bytes, landmarks.
    func key(folder: String, frames: [String], landmarks: String?) -> String {
        let t0 = monotonicSeconds()
        defer { keyTime += monotonicSeconds() - t0 }
        var h = ContentHash.hash64(Data(settingsKey.utf8))
        for f in frames {
            h = ContentHash.hash64(Data(f.utf8), seed: h)
            // unreadable files hash as empty: extraction records them as unreadable too
            let data = FileManager.default.contents(atPath: (folder as NSString).appendingPathComponent(f)) ?? Data()
            h = ContentHash.hash64(data, seed: h)
        }
        if let landmarks { h = ContentHash.hash64(Self.landmarkBytes(landmarks), seed: h) }
        return ContentHash.hex(h)
    }

    static func landmarkBytes(_ path: String) -> Data {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return Data() }
        if !isDir.boolValue { return FileManager.default.contents(atPath: path) ?? Data() }
        var d = Data()
        for f in ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() {
            d.append(Data(f.utf8))
            d.append(FileManager.default.contents(atPath: (path as NSString).appendingPathComponent(f)) ?? Data())
        }
        return d
    }

    /// Extracts a video's features unless the cache holds them for the same content.
    /// `needed` maps the folder's frame count to how many leading frames to cover.
    @discardableResult
    public func extract(videoID: String, folder: String, landmarks: String? = nil, force: Bool = false,
                        needed: (Int) -> Int = { $0 }, progress: ((Int) -> Void)? = nil) throws -> (CacheOutcome, CacheEntry?) {
        let all = try ImageIO.listFrames(folder).frames
        guard !all.isEmpty else { throw ImageError(file: folder, reason: "no JPEG or PNG frames") }
        let frames = Array(all.prefix(needed(all.count)))
        guard !frames.isEmpty else { return (.notNeeded, nil) }
        let key = key(folder: folder, frames: frames, landmarks: landmarks)
        let out = path(videoID)
        if !force, let old = try? load(videoID), old.key == key, old.totalFrames == all.count {
            return (.skipped, old)
        }
        let lm = try landmarks.map { try VideoLandmarks(path: $0, frames: frames) }
        let r = try extractor.runCropped(folder: folder, frames: frames, cropper: cropper, landmarks: lm, batch: batch,
                                         progress: progress)
        featureTime += r.featureSeconds
        let t0 = monotonicSeconds()
        let (features, probs) = r.stacked(extractor.model)
        let entry = CacheEntry(videoID: videoID, frames: frames, totalFrames: all.count, positions: r.positions,
                               features: features, probabilities: probs, sources: r.records.map(\.source.rawValue),
                               coverage: VideoCropper.coverage(r.records), modelSHA256: extractor.modelHash,
                               modelName: extractor.model.config.name, key: key)
        let unreadable = r.records.filter { $0.source == .unreadable }.map { ["file": $0.frame, "reason": $0.reason ?? ""] }
        try write(entry, unreadable: unreadable, to: out)
        writeTime += monotonicSeconds() - t0
        return (.extracted, entry)
    }

    static func json(_ v: Any) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys])) ?? Data("null".utf8), as: UTF8.self)
    }

    func write(_ e: CacheEntry, unreadable: [[String: String]], to path: String) throws {
        var meta: [String: String] = [
            "format": "painface-cache/1",
            "painface_version": PainFaceInfo.version,
            "video_id": e.videoID,
            "key": e.key,
            "model": extractor.model.config.name,
            "model_sha256": e.modelSHA256,
            "frames": Self.json(e.frames),
            "total_frames": String(e.totalFrames),
            "positions": Self.json(e.positions),
            "sources": Self.json(e.sources),
            "unreadable": Self.json(unreadable),
            "face_coverage": String(format: "%.4f", e.coverage),
            "settings": settingsKey,
        ]
        if let c = extractor.model.config.classes { meta["classes"] = Self.json(c) }
        var tensors: [(String, Tensor)] = [("features", e.features)]
        if let p = e.probabilities { tensors.append(("probabilities", p)) }
        try SafeTensorsWriter.write(tensors, to: path, dtype: dtype, metadata: meta)
    }

    /// Reads a cache entry; errors name the file.
    public func load(_ videoID: String) throws -> CacheEntry { try Self.load(path: path(videoID)) }

    public static func load(path: String) throws -> CacheEntry {
        guard FileManager.default.fileExists(atPath: path) else { throw ModelFileError(path, "no cache entry (run painface extract)") }
        let f = try SafeTensorsFile(path: path)
        let m = f.metadata
        func decode<T: Decodable>(_ k: String, _: T.Type) throws -> T {
            guard let s = m[k], let v = try? JSONDecoder().decode(T.self, from: Data(s.utf8)) else {
                throw ModelFileError(path, "not a PainFace cache entry (metadata \(k) missing or malformed)")
            }
            return v
        }
        guard m["format"] == "painface-cache/1", let key = m["key"], let total = m["total_frames"].flatMap({ Int($0) }) else {
            throw ModelFileError(path, "not a PainFace cache entry")
        }
        let frames = try decode("frames", [String].self), positions = try decode("positions", [Int].self)
        let sources = try decode("sources", [String].self)
        let feats = try f.tensor("features")
        guard feats.shape.count == 2, feats.shape[0] == positions.count else {
            throw ModelFileError(path, "features \(feats.shape) do not match the \(positions.count) frame positions")
        }
        if feats.hasNonFinite { throw ModelFileError(path, "features contain NaN or infinite values") }
        let probs = f.entries["probabilities"] != nil ? try f.tensor("probabilities") : nil
        return CacheEntry(videoID: m["video_id"] ?? "", frames: frames, totalFrames: total, positions: positions,
                          features: feats, probabilities: probs, sources: sources,
                          coverage: Double(m["face_coverage"] ?? "") ?? 0, modelSHA256: m["model_sha256"] ?? "", modelName: m["model"] ?? "", key: key)
    }
}

/// What the crop-then-model pipeline gives for one folder.
struct CroppedFeatures {
    var records: [FrameRecord]
    /// Frame position of each row of `featureRows` / `probRows` (batches, in order).
    var positions: [Int], featureRows: [Tensor], probRows: [Tensor]
    var featureSeconds: Double

    /// The rows as [frames, dim] features and [frames, classes] probabilities.
    func stacked(_ model: Model) -> (Tensor, Tensor?) {
        model.stack(featureRows: featureRows, probRows: probRows, count: positions.count)
    }
}

extension FeatureExtractor {
    /// Crops `frames` of `folder` and runs the model on the crops, in batches.
    func runCropped(folder: String, frames: [String], cropper: VideoCropper, landmarks lm: VideoLandmarks?, batch: Int,
                    progress: ((Int) -> Void)?) throws -> CroppedFeatures {
        // Two stages in parallel: a thread reads, decodes, detects and crops, handing over
        // batches of crops; this thread runs the model on them. The batches and their order
        // are the same as in a serial run, so the features are too.
        let state = ExtractPipeline(capacity: 2)
        // the cropper and the callback are used by the producer thread only
        let owned = Unchecked((cropper: cropper, progress: progress, landmarks: lm))
        let producer = Thread {
            let (cropper, progress, lm) = owned.value
            var pending: [(Int, RGBImage)] = []
            var done = 0
            do {
                state.records = try cropper.run(folder: folder, frames: frames, landmarks: lm) { i, rec, img in
                    if state.cancelled { throw CancellationError() }
                    if let img {
                        pending.append((i, img))
                        if pending.count >= batch { state.put(pending); pending = [] }
                    }
                    done += 1
                    progress?(done)
                }
                if !pending.isEmpty { state.put(pending) }
            } catch {
                state.error = error
            }
            state.finish()
        }
        producer.stackSize = 8 << 20
        producer.start()
        var positions: [Int] = [], featureRows: [Tensor] = [], probRows: [Tensor] = [], featureSeconds = 0.0
        do {
            while let items = state.take() {
                let t0 = monotonicSeconds()
                let (f, p) = try model.features(of: items.map(\.1), source: folder)
                featureRows.append(f)
                if let p { probRows.append(p) }
                positions += items.map(\.0)
                featureSeconds += monotonicSeconds() - t0
            }
        } catch {
            state.cancel()   // stop the producer and wait for it before leaving
            while state.take() != nil {}
            throw error
        }
        if let e = state.error { throw e }
        return CroppedFeatures(records: state.records, positions: positions, featureRows: featureRows, probRows: probRows, featureSeconds: featureSeconds)
    }
}

/// The hand-over between the cropping thread and the model: a bounded queue of batches plus
/// what the producer records. The producer writes its fields before `finish()`; the
/// consumer reads them after `take()` returned nil (the condition orders the accesses).
final class ExtractPipeline: @unchecked Sendable {
    private let cond = NSCondition()
    private var queue: [[(Int, RGBImage)]] = []
    private var finished = false
    private var stop = false
    let capacity: Int
    var records: [FrameRecord] = []
    var error: Error?

    init(capacity: Int) { self.capacity = capacity }

    var cancelled: Bool { cond.lock(); defer { cond.unlock() }; return stop }

    func put(_ items: [(Int, RGBImage)]) {
        cond.lock()
        while queue.count >= capacity && !stop { cond.wait() }
        if !stop { queue.append(items) }
        cond.broadcast()
        cond.unlock()
    }

    /// The next batch, or nil when the producer has finished and the queue is empty.
    func take() -> [(Int, RGBImage)]? {
        cond.lock()
        defer { cond.unlock() }
        while queue.isEmpty && !finished { cond.wait() }
        if queue.isEmpty { return nil }
        let items = queue.removeFirst()
        cond.broadcast()
        return items
    }

    func finish() { cond.lock(); finished = true; cond.broadcast(); cond.unlock() }
    func cancel() { cond.lock(); stop = true; queue.removeAll(); cond.broadcast(); cond.unlock() }
}

/// A value handed to one other thread that alone uses it until the hand-over ends.
struct Unchecked<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
