import Dataset
import Features
import Foundation
import Imaging
import Saliency
import Weights

/// `evaluate`'s per-video pages (REPORT/videos/): the explain page without maps, built from
/// the cache alone: the contact sheet crops each sampled frame's recorded face box from its
/// file (frame folders; a video file's page has the sources but no crops), the class
/// probabilities over time from the head (framewise). No model runs; `painface explain`
/// adds the maps.
public enum EvaluationPages {
    /// A square around `box` (x, y, w, h) with a 20% margin, as the cropper frames a face,
    /// at `side` x `side` (outside the frame: black).
    static func thumbnail(_ img: RGBImage, box: [Double], side: Int = 96) -> RGBImage {
        let s = max(box[2], box[3]) * 1.2, x0 = box[0] + box[2] / 2 - s / 2, y0 = box[1] + box[3] / 2 - s / 2
        let n = max(1, Int(s.rounded()))
        var px = [UInt8](repeating: 0, count: n * n * 3)
        for y in 0..<n {
            let sy = Int((y0 + Double(y)).rounded(.down))
            guard sy >= 0, sy < img.height else { continue }
            for x in 0..<n {
                let sx = Int((x0 + Double(x)).rounded(.down))
                guard sx >= 0, sx < img.width else { continue }
                for c in 0..<3 { px[(y * n + x) * 3 + c] = img.pixels[(sy * img.width + sx) * 3 + c] }
            }
        }
        return Heatmap.resized(RGBImage(width: n, height: n, pixels: px), width: side, height: side)
    }

    /// Writes a page per evaluated video and their index into `dir`; returns the pages written.
    public static func write(
        to dir: String, head: LoadedHead, source: FeatureSource, predictions: [(id: String, label: String)],
        warn: (String) -> Void = { _ in }
    ) throws -> Int {
        guard source.isManifest else { return 0 }
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let byID = Dictionary(source.manifest.videos.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var written = 0
        for (id, label) in predictions {
            guard let v = byID[id] else { continue }
            do {
                let e = try FeatureCache.load(
                    path: (source.cacheDir as NSString).appendingPathComponent(id + ".safetensors"))
                var isDir: ObjCBool = false
                let folder = fm.fileExists(atPath: v.frames, isDirectory: &isDir) && isDir.boolValue
                var thumbs: [Int: RGBImage] = [:]
                for p in ExplainReport.sheetPositions(frames: e.frames.count) where folder {
                    guard p < e.boxes.count, let b = e.boxes[p], b.count == 4,
                        let img = try? ImageIO.read((v.frames as NSString).appendingPathComponent(e.frames[p]))
                    else { continue }
                    thumbs[p] = thumbnail(img, box: b)
                }
                var curve: [[Float]] = [], names: [String] = []
                if head.config.head == .framewise {
                    let p = try Heads.framewiseProbabilities(head.model, features: e.features)
                    let k = head.config.classes.count
                    curve = (0..<e.positions.count).map { Array(p.buffer[($0 * k)..<(($0 + 1) * k)]) }
                    names = head.config.classes.map { "p(\($0))" }
                }
                let page = ExplainedVideo(
                    key: "", video: id, source: v.frames, model: e.modelName, head: head.stem, layer: "", method: "",
                    label: "\(label) (true: \(v.labelName ?? "?"))", classes: head.config.classes, coverage: e.coverage,
                    framesTotal: e.frames.count, frames: [], secondsPerFrame: 0)
                let sub = (dir as NSString).appendingPathComponent(id)
                try fm.createDirectory(atPath: sub, withIntermediateDirectories: true)
                let html = ExplainReport.videoPage(
                    page, overlays: [], mean: nil, thumbs: thumbs, sources: e.sources, fps: e.fps, curve: curve,
                    curveNames: names, curvePositions: e.positions)
                try AtomicFile.write(Data(html.utf8), to: sub + "/index.html")
                try page.write(folder: sub)
                written += 1

            } catch {
                warn("\(id): no page: \(error)")
            }
        }
        try ExplainReport.writeIndex(out: dir)
        return written
    }
}
