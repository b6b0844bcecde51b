import Dataset
import Features
import Foundation
import Kernels
import Training
import Weights

/// Training and evaluation data read from the feature cache by the protocol.
public struct CachedSplit {
    /// framewise: [rows, dim]; lstm: [segments, length, dim]
    public var x: Tensor
    public var y: [Int]
    public var dim: Int
    public var videos: Int
    /// The feature model's sha256, then " bf16" or " int8" for reduced-precision features.
    public var modelSHA256: String
    public var modelName: String
    public var warnings: [String]
    /// The feature model's sha256 alone.
    public var modelHash: String { String(modelSHA256.prefix { $0 != " " }) }
}

public enum CachedData {
    /// Feature files are read by rows (frames with features), not frame positions: all of
    /// them, or an lstm's first `length`. Nil for the manifest protocol.
    /// With a stride, the rows are every frame with a crop, held (CacheEntry.rows).
    static func featureRows(_ proto: SegmentProtocol, _ e: CacheEntry, path: String) throws -> Tensor? {
        if proto.scope == .ai4pain { return nil }
        let all = e.stride > 1 ? e.rows(0..<e.frames.count) : e.features
        let n = all?.shape[0] ?? 0, d = e.features.shape[1]
        guard let all, n > 0 else { throw ModelFileError(path, "no frames with features") }
        if proto.scope == .wholeVideo { return all }
        guard n >= proto.length else {
            throw ModelFileError(path, "\(n) frames, the sequence length is \(proto.length)")
        }
        let t = Tensor(uninitialized: [proto.length, d])
        t.data.update(from: all.data, count: proto.length * d)
        return t
    }

    /// Reads a video's entry and checks it belongs to this manifest row and model.
    static func entry(_ v: ManifestVideo, cacheDir: String, model: inout String?) throws -> CacheEntry {
        let path = (cacheDir as NSString).appendingPathComponent(v.id + ".safetensors")
        guard FileManager.default.fileExists(atPath: path) else {
            throw ModelFileError(
                path,
                "no feature file for video \(v.id) (run painface extract on the manifest, or painface features, first)")
        }
        let e = try FeatureCache.load(path: path)
        // features of another precision move by up to ~1e-2: never mixed silently
        let id = e.modelSHA256 + (e.precision == "fp32" ? "" : " " + e.precision)
        if let m = model, m != id {
            throw ModelFileError(
                path,
                """
                extracted with another model or precision (sha256 \(id.prefix(12))\(e.precision == "fp32" ? "" : ", \(e.precision)"), \
                others \(m.prefix(12))\(m.split(separator: " ").dropFirst().first.map { ", \($0)" } ?? "")); re-run \
                painface extract
                """
            )
        }
        model = id
        return e
    }

    /// The training samples of a split: every segment (lstm: padded to `sequence` rows) or
    /// every frame of every segment (framewise). Labelled videos only.
    public static func samples(
        _ m: Manifest, split: String, cacheDir: String, protocol proto: SegmentProtocol,
        sequence: Int?
    ) throws -> CachedSplit {
        var rows: [Tensor] = [], ys: [Int] = [], warnings: [String] = []
        var model: String?, dim = -1, videos = 0, modelName = ""
        for v in m.videos(split: split) {
            guard let y = v.label else { continue }
            let e = try entry(v, cacheDir: cacheDir, model: &model)
            let d = e.features.shape[1]
            if dim < 0 { dim = d }
            guard d == dim else {
                throw ModelFileError(
                    cacheDir + "/\(v.id).safetensors", "\(d) features per frame, the other videos have \(dim)")
            }
            modelName = e.modelName
            if let t = try featureRows(proto, e, path: cacheDir + "/\(v.id).safetensors") {
                videos += 1
                rows.append(t)
                ys += [Int](repeating: y, count: sequence == nil ? t.shape[0] : 1)
                continue
            }
            let all = proto.segments(v, frames: e.totalFrames)
            let segs = split == "train" ? all : Array(all.prefix(1))
            guard let last = segs.last, last.upperBound <= e.frames.count else {
                if segs.isEmpty {
                    warnings.append("\(v.id): fewer frames than one segment, left out")
                } else {
                    throw ModelFileError(
                        cacheDir + "/\(v.id).safetensors",
                        """
                        covers \(e.frames.count) frames, the protocol needs \(segs.last!.upperBound) (extracted \
                        with another --segment-length? re-run painface extract)
                        """
                    )
                }
                continue
            }
            videos += 1
            for s in segs {
                guard let t = e.rows(s, padTo: sequence) else {
                    warnings.append("\(v.id): no face in frames \(s.lowerBound)..<\(s.upperBound), segment left out")
                    continue
                }
                rows.append(t)
                ys += [Int](repeating: y, count: sequence == nil ? t.shape[0] : 1)
            }
        }
        guard !ys.isEmpty, let model else { throw ModelFileError(m.path, "no labelled \(split) videos with features") }
        let n = rows.reduce(0) { $0 + $1.count }
        let x = Tensor(shape: sequence.map { [ys.count, $0, dim] } ?? [ys.count, dim])
        precondition(x.count == n)
        var off = 0
        for r in rows { x.data.advanced(by: off).update(from: r.data, count: r.count); off += r.count }
        return CachedSplit(
            x: x, y: ys, dim: dim, videos: videos, modelSHA256: model, modelName: modelName, warnings: warnings)
    }

    public struct FirstSegment {
        public var video: ManifestVideo
        /// nil when the segment has no frame with a face (or the video is shorter than one)
        public var rows: Tensor?
        public var coverage: Double
        public var framesTotal: Int
    }

    /// Per video of a split: the feature rows of its first segment, as the paper evaluates
    /// (the head pads an LSTM sequence itself).
    public static func firstSegments(
        _ m: Manifest, split: String, cacheDir: String, protocol proto: SegmentProtocol
    )
        throws -> [FirstSegment]
    {
        var model: String?
        return try m.videos(split: split).map { v in
            let e = try entry(v, cacheDir: cacheDir, model: &model)
            var s = FirstSegment(video: v, rows: nil, coverage: e.coverage, framesTotal: e.totalFrames)
            if let t = try featureRows(proto, e, path: cacheDir + "/\(v.id).safetensors") {
                s.rows = t
            } else if let seg = proto.segments(v, frames: e.totalFrames).first, seg.upperBound <= e.frames.count {
                s.rows = e.rows(seg)
            }
            return s
        }
    }
}
