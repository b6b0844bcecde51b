import Faces
import Foundation
import Imaging
import Kernels

/// Face pipeline benchmarks: crop speed on video folders (one thread) and detection
/// accuracy against hand-labelled landmark boxes.
public enum FaceBench {
    public struct Speed: Sendable {
        public var video: String
        public var frames: Int
        public var trackingFPS: Double
        public var landmarkFPS: Double
        public var mtcnnFPS: Double
        public var coverage: Double
    }

    /// Decode + detect/track + crop to 224 (no PNG writing), then the same frames cropped
    /// from landmark boxes (the tracked boxes' corners stand in for a landmark file).
    public static func speed(folder: String, cascadePath: String) throws -> Speed {
        var opts = CropOptions()
        opts.order = [.haar]
        let cropper = try VideoCropper(options: opts, cascadePath: cascadePath)
        var t0 = monotonicSeconds()
        let recs = try cropper.run(folder: folder) { _, _, _ in }
        let tTrack = monotonicSeconds() - t0
        var lm: [String: Landmarks] = [:]
        for r in recs { if let b = r.box { lm[r.frame] = Landmarks(points: [(b.x, b.y), (b.x + b.w, b.y + b.h)]) } }
        var lopts = CropOptions()
        lopts.order = [.landmarks]
        t0 = monotonicSeconds()
        _ = try VideoCropper(options: lopts).run(folder: folder, landmarks: VideoLandmarks(byName: lm)) { _, _, _ in }
        let tLm = monotonicSeconds() - t0
        var mopts = CropOptions()
        mopts.order = [.mtcnn]
        let mcropper = try VideoCropper(options: mopts)
        t0 = monotonicSeconds()
        let mrecs = try mcropper.run(folder: folder) { _, _, _ in }
        let tM = monotonicSeconds() - t0
        return Speed(
            video: URL(fileURLWithPath: folder).lastPathComponent, frames: recs.count,
            trackingFPS: Double(recs.count) / tTrack, landmarkFPS: Double(recs.count) / tLm,
            mtcnnFPS: Double(mrecs.count) / tM, coverage: VideoCropper.coverage(recs))
    }

    public struct Accuracy: Sendable {
        public var faces: Int
        public var found: Int
        public var medianIoU: Double
        public var seconds: Double
    }

    /// For every IMAGE.pts / IMAGE_N.pts next to IMAGE.jpg|png in `folders`: is the landmark
    /// box found (IoU >= 0.5 with a detection), and the median IoU of the found ones.
    /// A box in pixels, unrounded: (x, y, w, h).
    public typealias Box = (x: Double, y: Double, w: Double, h: Double)

    static func iou(_ a: Box, _ b: Box) -> Double {
        let iw = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x)),
            ih = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
        let i = iw * ih, u = a.w * a.h + b.w * b.h - i
        return u > 0 ? i / u : 0
    }

    /// The boxes the video cropper gives each image of a folder read as one video (the
    /// tracker runs across the images), or with `stills` each image on its own.
    public static func folderBoxes(_ folder: String, cascadePath: String, stills: Bool) throws -> [String: [Box]] {
        var o = CropOptions()
        (o.order, o.stills, o.policy) = ([.haar], stills, .skip)
        var out: [String: [Box]] = [:]
        for r in try VideoCropper(options: o, cascadePath: cascadePath).run(folder: folder, emit: { _, _, _ in }) {
            out[(folder as NSString).appendingPathComponent(r.frame)] =
                r.box.map { [$0] } ?? []
        }
        return out
    }

    /// As above, `detect` given the image's path too.
    /// IoU in floating point between the landmarks' box and the unrounded detections.
    public static func accuracy(folders: [String], detect: (String, RGBImage) throws -> [Box]) throws -> Accuracy {
        var faces = 0, found = 0, ious: [Double] = [], secs = 0.0
        var cache: [String: [Box]] = [:]
        for dir in folders {
            let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".pts") }
                .sorted()
            for pts in names {
                let stem = String(pts.dropLast(4))
                let candidates = [
                    stem, stem.replacingOccurrences(of: "_[0-9]+$", with: "", options: .regularExpression),
                ]
                guard
                    let img = candidates.lazy.flatMap({ s in ["jpg", "png", "jpeg"].map { "\(s).\($0)" } })
                        .first(where: {
                            FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent($0))
                        })
                else { continue }
                guard let b = try LandmarkFiles.readPTS((dir as NSString).appendingPathComponent(pts)).bounds else {
                    continue
                }
                let truth: Box = (b.x, b.y, b.w, b.h)
                if cache[img] == nil {
                    let rgb = try ImageIO.read((dir as NSString).appendingPathComponent(img))
                    let t0 = monotonicSeconds()
                    cache[img] = try detect((dir as NSString).appendingPathComponent(img), rgb)
                    secs += monotonicSeconds() - t0
                }
                faces += 1
                if let best = cache[img]!.map({ iou($0, truth) }).max(), best >= 0.5 { found += 1; ious.append(best) }
            }
        }
        ious.sort()
        return Accuracy(faces: faces, found: found, medianIoU: ious.isEmpty ? 0 : ious[ious.count / 2], seconds: secs)
    }
}
