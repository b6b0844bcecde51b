import Foundation
import Imaging
import Kernels
import NN
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
    public var source: BoxSource
    /// Detected box (x, y, w, h) in frame pixels, before the margin and squaring.
    public var box: (x: Double, y: Double, w: Double, h: Double)?
    public var score: Double?
    public var landmarks: Landmarks?
    public var reason: String?
    public var hasCrop: Bool { box != nil }
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

    public init(options: CropOptions, cascadePath: String? = nil) throws {
        self.options = options
        // MTCNN runs on one thread: video folders are the unit of parallel work
        mtcnn = options.order.contains(.mtcnn) ? try MTCNN(context: try ComputeContext(threads: 1)) : nil
        if options.order.contains(.haar) {
            let path = try cascadePath ?? ModelStore.resolveFile("haarcascade_frontalface_default.xml")
            tracker = FaceTracker(detector: HaarDetector(cascade: try HaarCascade(contentsOf: path)))
        } else {
            tracker = nil
        }
    }

    /// Seconds spent per stage since creation (for the extract benchmark).
    public struct StageTimes: Sendable {
        public var read = 0.0, decode = 0.0, detect = 0.0, crop = 0.0
    }
    public private(set) var times = StageTimes()

    /// Processes `folder` (or only `frames` of it, in that order); `emit` receives each
    /// frame's crop (nil when the frame has none); `onData` sees each file's bytes in frame
    /// order before decoding, empty for a file that cannot be read (content keys hash the
    /// bytes as they are read, so each frame is read once).
    public func run(
        folder: String, frames given: [String]? = nil, landmarks: VideoLandmarks? = nil,
        onData: ((Int, Data) -> Void)? = nil,
        emit: (Int, FrameRecord, RGBImage?) throws -> Void
    ) throws -> [FrameRecord] {
        let frames = try given ?? ImageIO.listFrames(folder).frames
        tracker?.reset()
        var records: [FrameRecord] = []
        var lastBox: (x: Double, y: Double, w: Double, h: Double)?
        var gap = 0
        for (i, name) in frames.enumerated() {
            if options.stills { tracker?.reset() }
            let path = (folder as NSString).appendingPathComponent(name)
            var rec = FrameRecord(frame: name, source: .none)
            let img: RGBImage
            var t = monotonicSeconds()
            do {
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
            } catch let e as ImageError {
                rec.source = .unreadable
                rec.reason = e.reason
                records.append(rec)
                try emit(i, rec, nil)
                continue
            }
            sources: for src in options.order {
                switch src {
                case .crop:
                    rec.source = .crop
                    rec.box = (0, 0, Double(img.width), Double(img.height))
                    rec.score = 1
                    break sources
                case .landmarks:
                    if let l = landmarks?.lookup(name, index: i), let b = l.bounds {
                        rec.source = .landmarks; rec.box = b; rec.score = 1; rec.landmarks = l
                        break sources
                    }
                case .mtcnn:
                    if let f = try mtcnn?.detect(img).first {
                        rec.source = .mtcnn
                        rec.box = (f.box.x1, f.box.y1, f.box.x2 - f.box.x1, f.box.y2 - f.box.y1)
                        rec.score = f.probability
                        rec.landmarks = Landmarks(points: f.landmarks)
                        break sources
                    }
                case .haar:
                    if let (b, s) = tracker?.next(GrayImage(img)) {
                        rec.source = s == .tracked ? .tracked : .haar
                        rec.box = (Double(b.x), Double(b.y), Double(b.w), Double(b.h))
                        rec.score = Double(b.neighbors)
                        break sources
                    }
                default: break
                }
            }
            if rec.box == nil, options.policy == .previous, !options.stills, let lb = lastBox, gap < options.maxGap {
                rec.source = .previous
                rec.box = lb
                gap += 1
            } else if rec.box != nil, rec.source != .previous {
                lastBox = rec.box
                gap = 0
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
            records.append(rec)
            try emit(i, rec, crop)
        }
        return records
    }

    /// Share of frames whose face was found (not reused, not missing).
    public static func coverage(_ r: [FrameRecord]) -> Double {
        r.isEmpty ? 0 : Double(r.filter { $0.source.foundFace }.count) / Double(r.count)
    }

    /// The per-video CSV: frame,source,x,y,w,h,score,landmarks ("x0 y0 x1 y1 ..."),reason.
    public static func csv(_ records: [FrameRecord]) -> String {
        var s = "frame,source,x,y,w,h,score,landmarks,reason\n"
        for r in records {
            let b = r.box.map { String(format: "%.1f,%.1f,%.1f,%.1f", $0.x, $0.y, $0.w, $0.h) } ?? ",,,"
            let lm = r.landmarks?.points.map { String(format: "%.2f %.2f", $0.x, $0.y) }.joined(separator: " ") ?? ""
            let reason = (r.reason ?? "").replacingOccurrences(of: ",", with: ";").replacingOccurrences(
                of: "\n", with: " ")
            let score = r.score.map { String(format: "%.3f", $0) } ?? ""
            s += "\(r.frame),\(r.source.rawValue),\(b),\(score),\(lm),\(reason)\n"
        }
        return s
    }
}
