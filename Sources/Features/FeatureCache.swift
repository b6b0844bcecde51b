import Faces
import Foundation
import Imaging
import Kernels
import NN
import Video
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
    /// The arithmetic of the features: fp32 (also entries of older versions), bf16 or int8.
    public var precision = "fp32"
    /// Why each unreadable frame could not be read, by frame name.
    public var unreadable: [String: String] = [:]
    /// Per covered frame, when recorded (empty in entries of older versions): the face box
    /// (x, y, w, h) in frame pixels, its confidence 0-1 and the faces a search found.
    public var boxes: [[Double]?] = []
    public var confidences: [Double?] = []
    public var faceCounts: [Int?] = []
    /// Frames per second of the frames' timestamps (index / fps): a video's resampled rate,
    /// or the nominal rate of a frame folder (30 in entries of older versions).
    public var fps = 30.0
    /// With stride k > 1 the model saw every k-th frame with a face; the others hold the
    /// features of the last frame it saw (heldRows).
    public var stride = 1

    /// Frames without a feature row, with why: unreadable (the reason) or no face.
    public var framesWithoutFeatures: [(frame: String, reason: String)] {
        let covered = Set(positions)
        return frames.indices.filter { !covered.contains($0) }.map { i in
            (frames[i], unreadable[frames[i]] ?? "no face (\(sources.indices.contains(i) ? sources[i] : "none"))")
        }
    }

    /// The frames of `range` that have a crop (a face found or a box reused).
    public func croppedFrames(_ range: Range<Int>) -> [Int] {
        range.filter { $0 < sources.count && !["none", "unreadable"].contains(sources[$0]) }
    }

    /// For each frame of `range` that has a crop, the row to use with a stride: the row of the
    /// last frame the model saw at or before it (the first one after it at the start), so a
    /// sequence keeps its length in time.
    public func heldRows(_ range: Range<Int>) -> [Int] {
        let cropped = croppedFrames(range)
        guard !positions.isEmpty else { return [] }
        var r = 0
        return cropped.map { f in
            while r + 1 < positions.count && positions[r + 1] <= f { r += 1 }
            return r
        }
    }

    /// Feature rows of frame positions `range`; with `padTo`, missing frames (no face) and a
    /// short range are filled by repeating the last row. Nil when the range has no row.
    /// With a stride, a row per frame with a crop, held (heldRows).
    public func rows(_ range: Range<Int>, padTo: Int? = nil, of source: Tensor? = nil) -> Tensor? {
        let t = source ?? features
        let d = t.shape[1]
        let idx = stride > 1 ? heldRows(range) : positions.indices.filter { range.contains(positions[$0]) }
        guard !idx.isEmpty else { return nil }
        let n = padTo ?? idx.count
        let out = Tensor(shape: [n, d])
        for r in 0..<n {
            let src = idx[min(r, idx.count - 1)]
            out.data.advanced(by: r * d).update(from: t.data + src * d, count: d)
        }
        return out
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
    /// The model sees every stride-th frame with a face (CacheEntry.heldRows fills the rest).
    public var stride = 1
    /// Seconds per stage: checking existing entries' keys (hashing while extracting is part of
    /// the cropper's read time), computing features and writing, summed over videos.
    public private(set) var keyTime = 0.0, featureTime = 0.0, writeTime = 0.0

    public init(dir: String, extractor: FeatureExtractor, cropper: VideoCropper) throws {
        (self.dir, self.extractor, self.cropper) = (dir, extractor, cropper)
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw ModelFileError(dir, "cannot create the cache folder: \(error.localizedDescription)")
        }
        removeStaleTemporaries()
    }

    /// Temporary files of killed writers. A temporary file lives for the milliseconds of one
    /// write, so one older than ten minutes is stale even when other machines share the folder.
    func removeStaleTemporaries() {
        let fm = FileManager.default
        for f in (try? fm.contentsOfDirectory(atPath: dir)) ?? []
        where f.hasPrefix(".") && f.contains(".safetensors.tmp-") {
            let p = (dir as NSString).appendingPathComponent(f)
            if let d = try? fm.attributesOfItem(atPath: p)[.modificationDate] as? Date,
                d < Date(timeIntervalSinceNow: -600)
            {
                try? fm.removeItem(atPath: p)
            }
        }
    }

    public func path(_ videoID: String) -> String { (dir as NSString).appendingPathComponent(videoID + ".safetensors") }

    /// The format tag of cache entries (also the first part of their settings key).
    public static let format = "painface-cache/1"

    /// Crop and model settings that change the features.
    var settingsKey: String {
        let o = cropper.options
        return
            "\(Self.format);model=\(extractor.modelHash);"
            + "margin=\(o.settings.margin);size=\(o.settings.size);pad=\(o.settings.pad);"
            + "sources=\(o.order.map(\.rawValue).joined(separator: ","));"
            + "policy=\(o.policy.rawValue);gap=\(o.maxGap);dtype=\(dtype)"
            // the tracker's version (3: scene cuts, periodic full search, verified boxes) and stills
            + (o.order.contains(.haar) ? ";tracker=3" : "") + (o.stills ? ";stills" : "")
            + (o.subject == .tracked ? "" : ";subject=\(o.subject.rawValue)")
            + (stride == 1 ? "" : ";stride=\(stride)")
            // forced or tuned algorithms move the features' last bits: never mixed with the rule's
            + (extractor.model.context.convPolicy == .rule ? "" : ";algos=\(extractor.model.convAlgorithmDigest)")
            // reduced precision moves features (up to ~1e-2): never mixed with fp32's
            + (extractor.model.precision == .fp32 ? "" : ";precision=\(extractor.model.precision)")
    }

    /// True when `entry` holds what this cache's settings give for `folder` now (the same
    /// frames, bytes, landmarks, model and crop settings): its crops can be made again.
    public func isCurrent(_ entry: CacheEntry, folder: String, landmarks: String?) -> Bool {
        entry.key == key(folder: folder, frames: entry.frames, landmarks: landmarks)
    }

    /// The key of a video's frames, computed by reading them: settings, names, bytes, landmarks.
    func key(folder: String, frames: [String], landmarks: String?) -> String {
        let t0 = monotonicSeconds()
        defer { keyTime += monotonicSeconds() - t0 }
        let k = ContentKey(settings: settingsKey)
        if VideoFiles.isVideo(folder) {
            // the file's bytes, its stream and the rate: the frames follow from them
            guard (try? k.add(video: folder, fps: cropper.options.fps, frames: frames.count)) != nil else { return "" }
            if let landmarks { k.add(landmarks: Self.landmarkBytes(landmarks)) }
            return k.hex
        }
        for f in frames {
            // unreadable files hash as empty: extraction records them as unreadable too
            k.add(
                frame: f,
                bytes: FileManager.default.contents(atPath: (folder as NSString).appendingPathComponent(f)) ?? Data())
        }
        if let landmarks { k.add(landmarks: Self.landmarkBytes(landmarks)) }
        return k.hex
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
    public func extract(
        videoID: String, folder: String, landmarks: String? = nil, force: Bool = false,
        needed: (Int) -> Int = { $0 }, progress: ((Int) -> Void)? = nil
    ) throws -> (CacheOutcome, CacheEntry?) {
        let all = try VideoFiles.listFrames(folder, fps: cropper.options.fps).frames
        guard !all.isEmpty else { throw ImageError(file: folder, reason: "no JPEG or PNG frames") }
        let frames = Array(all.prefix(needed(all.count)))
        guard !frames.isEmpty else { return (.notNeeded, nil) }
        // an entry exists: read the frames to see whether it still holds this content
        if !force, let old = try? load(videoID), old.totalFrames == all.count,
            old.key == key(folder: folder, frames: frames, landmarks: landmarks)
        {
            return (.skipped, old)
        }
        // else the key is hashed from the bytes the cropper reads: each frame is read once
        let lm = try landmarks.map { try VideoLandmarks(path: $0, frames: frames) }
        let contentKey = ContentKey(settings: settingsKey)
        let video = VideoFiles.isVideo(folder)
        if video { try contentKey.add(video: folder, fps: cropper.options.fps, frames: frames.count) }
        let r = try extractor.runCropped(
            folder: folder, frames: frames, cropper: cropper, landmarks: lm, batch: batch, stride: stride,
            onData: video ? nil : { contentKey.add(frame: frames[$0], bytes: $1) }, progress: progress)
        if let landmarks { contentKey.add(landmarks: Self.landmarkBytes(landmarks)) }
        featureTime += r.featureSeconds
        let t0 = monotonicSeconds()
        let (features, probs) = r.stacked(extractor.model)
        var entry = CacheEntry(
            videoID: videoID, frames: frames, totalFrames: all.count, positions: r.positions,
            features: features, probabilities: probs, sources: r.records.map(\.source.rawValue),
            coverage: VideoCropper.coverage(r.records), modelSHA256: extractor.modelHash,
            modelName: extractor.model.config.name, key: contentKey.hex)
        let unreadable = r.records.filter { $0.source == .unreadable }.map {
            ["file": $0.frame, "reason": $0.reason ?? ""]
        }
        for u in unreadable { entry.unreadable[u["file"]!] = u["reason"]! }
        entry.boxes = r.records.map { $0.box.map { [$0.x, $0.y, $0.w, $0.h] } }
        entry.confidences = r.records.map(\.confidence)
        entry.faceCounts = r.records.map(\.faces)
        entry.fps = cropper.options.fps
        entry.stride = stride
        try write(entry, unreadable: unreadable, to: path(videoID))
        writeTime += monotonicSeconds() - t0
        return (.extracted, entry)
    }

    static func json(_ v: Any) -> String {
        String(
            decoding: (try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys])) ?? Data("null".utf8),
            as: UTF8.self)
    }

    func write(_ e: CacheEntry, unreadable: [[String: String]], to path: String) throws {
        var meta: [String: String] = [
            "format": Self.format,
            "painface_version": PainFaceInfo.version,
            "video_id": e.videoID,
            "key": e.key,
            "model": extractor.model.config.name,
            "model_sha256": e.modelSHA256,
            "precision": "\(extractor.model.precision)",
            "frames": Self.json(e.frames),
            "total_frames": String(e.totalFrames),
            "positions": Self.json(e.positions),
            "sources": Self.json(e.sources),
            "unreadable": Self.json(unreadable),
            "face_coverage": String(format: "%.4f", e.coverage),
            "settings": settingsKey,
            "fps": String(cropper.options.fps),
            "stride": String(e.stride),
            "boxes": Self.json(e.boxes.map { $0.map { $0.map { ($0 * 10).rounded() / 10 } } ?? NSNull() as Any }),
            "confidence": Self.json(e.confidences.map { $0.map { ($0 * 1e4).rounded() / 1e4 } ?? NSNull() as Any }),
            "faces": Self.json(e.faceCounts.map { $0 ?? NSNull() as Any }),
        ]
        if let c = extractor.model.config.classes { meta["classes"] = Self.json(c) }
        var tensors: [(String, Tensor)] = [("features", e.features)]
        if let p = e.probabilities { tensors.append(("probabilities", p)) }
        try SafeTensorsWriter.write(tensors, to: path, dtype: dtype, metadata: meta)
    }

    /// Reads a cache entry; errors name the file.
    public func load(_ videoID: String) throws -> CacheEntry { try Self.load(path: path(videoID)) }

    public static func load(path: String) throws -> CacheEntry {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ModelFileError(path, "no cache entry (run painface extract)")
        }
        let f = try SafeTensorsFile(path: path)
        let m = f.metadata
        func decode<T: Decodable>(_ k: String, _: T.Type) throws -> T {
            guard let s = m[k], let v = try? JSONDecoder().decode(T.self, from: Data(s.utf8)) else {
                throw ModelFileError(path, "not a PainFace cache entry (metadata \(k) missing or malformed)")
            }
            return v
        }
        guard m["format"] == format, let key = m["key"], let total = m["total_frames"].flatMap({ Int($0) }) else {
            if m["format"] == nil, m["model_sha256"] != nil, m["frames"] != nil {
                throw ModelFileError(
                    path,
                    """
                    features in the format of an older painface features (no content key): run painface features \
                    (or extract) again to rewrite it
                    """
                )
            }
            throw ModelFileError(
                path, "not a PainFace feature file (no \(format) metadata; write it with painface features or extract)")
        }
        let frames = try decode("frames", [String].self), positions = try decode("positions", [Int].self)
        let sources = try decode("sources", [String].self)
        let feats = try f.tensor("features")
        guard feats.shape.count == 2, feats.shape[0] == positions.count else {
            throw ModelFileError(path, "features \(feats.shape) do not match the \(positions.count) frame positions")
        }
        if feats.hasNonFinite { throw ModelFileError(path, "features contain NaN or infinite values") }
        let probs = f.entries["probabilities"] != nil ? try f.tensor("probabilities") : nil
        var e = CacheEntry(
            videoID: m["video_id"] ?? "", frames: frames, totalFrames: total, positions: positions,
            features: feats, probabilities: probs, sources: sources,
            coverage: Double(m["face_coverage"] ?? "") ?? 0, modelSHA256: m["model_sha256"] ?? "",
            modelName: m["model"] ?? "", key: key)
        e.precision = m["precision"] ?? "fp32"
        // boxes per frame: absent in entries of older versions (their rows leave them empty)
        func optional<T: Decodable>(_ k: String, _: T.Type) -> [T?] {
            guard let s = m[k], let v = try? JSONDecoder().decode([T?].self, from: Data(s.utf8)),
                v.count == frames.count
            else { return [] }
            return v
        }
        e.fps = m["fps"].flatMap(Double.init).flatMap { $0 > 0 ? $0 : nil } ?? 30
        e.stride = m["stride"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil } ?? 1
        (e.boxes, e.confidences, e.faceCounts) = (
            optional("boxes", [Double].self), optional("confidence", Double.self), optional("faces", Int.self)
        )
        // reasons of unreadable frames (absent in files of other writers: no reasons then)
        if let u = m["unreadable"], let list = try? JSONDecoder().decode([[String: String]].self, from: Data(u.utf8)) {
            for r in list { if let f = r["file"] { e.unreadable[f] = r["reason"] ?? "" } }
        }
        return e
    }
}

/// The content key of a video: a 64-bit hash over the settings, then each frame's name and
/// bytes in order, then the landmark file. Used from one thread at a time (the cropping
/// thread while it extracts).
final class ContentKey: @unchecked Sendable {
    private var h: UInt64
    init(settings: String) { h = ContentHash.hash64(Data(settings.utf8)) }
    func add(frame name: String, bytes: Data) {
        h = ContentHash.hash64(Data(name.utf8), seed: h)
        h = ContentHash.hash64(bytes, seed: h)
    }
    func add(landmarks: Data) { h = ContentHash.hash64(landmarks, seed: h) }
    /// A video file: its stream, the output rate, how many of its frames the entry covers (a
    /// protocol may need only the first ones) and its bytes, read in 16 MB chunks.
    func add(video path: String, fps: Double, frames: Int) throws {
        let info = try VideoProbe.info(path)
        h = ContentHash.hash64(Data("video;stream=\(info.stream);fps=\(fps);frames=\(frames)".utf8), seed: h)
        guard let f = FileHandle(forReadingAtPath: path) else {
            throw ImageError(file: path, reason: "cannot read the video file")
        }
        defer { try? f.close() }
        while let chunk = try f.read(upToCount: 16 << 20), !chunk.isEmpty { h = ContentHash.hash64(chunk, seed: h) }
    }
    var hex: String { ContentHash.hex(h) }
}
