import Foundation
import Imaging
import Video
import Weights

/// `painface dataset check`: what a manifest holds and what is wrong with it.
public struct DatasetCheck: Sendable {
    public struct Count: Sendable, Codable { public var videos = 0, frames = 0, segments = 0 }
    public var problems: [String] = []
    public var warnings: [String] = []
    /// split -> label name ("unlabelled" when empty) -> counts
    public var counts: [String: [String: Count]] = [:]
    public var frameCounts: [String: Int] = [:]

    public let classes: ClassSet

    /// `fps`: the rate video files are resampled to (frame folders are counted as they are).
    public init(_ m: Manifest, protocol proto: SegmentProtocol, fps: Double = 30) {
        classes = m.classes
        if let p = m.problem(with: proto) { problems.append(p) }
        var splitOf: [String: String] = [:]
        var inTwo = Set<String>()
        for v in m.videos where !v.participant.isEmpty {
            if let s = splitOf[v.participant], s != v.split {
                inTwo.insert(v.participant)
            } else {
                splitOf[v.participant] = v.split
            }
        }
        for p in inTwo.sorted() {
            let where_ = Set(m.videos.filter { $0.participant == p }.map(\.split)).sorted()
            problems.append(
                """
                participant \(p) is in several splits (\(where_.joined(separator: ", "))): the splits must be by \
                participant
                """
            )
        }
        for v in m.videos {
            let at = "\(m.path) line \(v.line) (\(v.id))"
            if v.participant.isEmpty { warnings.append("\(at): no participant") }
            if v.split != "test" && v.label == nil { warnings.append("\(at): \(v.split) video without a label") }
            var n = 0
            do {
                let (frames, _) = try VideoFiles.listFrames(v.frames, fps: fps)
                n = frames.count
                if n == 0 { problems.append("\(at): \(v.frames) holds no JPEG or PNG frames") }
            } catch let e as ImageError where VideoFiles.isVideo(v.frames) {
                problems.append("\(at): \(e.reason) (\(v.frames))")
            } catch {
                problems.append("\(at): frames \(v.frames) is not a folder or a video file, or does not exist")
            }
            if let l = v.landmarks, !FileManager.default.fileExists(atPath: l) {
                problems.append("\(at): landmarks \(l) do not exist")
            }
            frameCounts[v.id] = n
            let segs = proto.segments(v, frames: n).count
            if n > 0 && segs == 0 {
                warnings.append(
                    """
                    \(at): \(n) frames, fewer than one \(proto.length)-frame segment (left out; --short-segment \
                    pad keeps it)
                    """
                )
            }
            let key = v.label.map { m.classes[$0] } ?? "unlabelled"
            var c = counts[v.split, default: [:]][key, default: Count()]
            c.videos += 1
            c.frames += n
            c.segments += segs
            counts[v.split, default: [:]][key] = c
        }
    }

    /// A table of videos / frames / segments per split and class.
    public func table() -> String {
        var s = "| split | class | videos | frames | segments |\n|---|---|---:|---:|---:|\n"
        for split in Manifest.splits {
            guard let byClass = counts[split] else { continue }
            for cls in classes.names + ["unlabelled"] {
                guard let c = byClass[cls] else { continue }
                s += "| \(split) | \(cls) | \(c.videos) | \(c.frames) | \(c.segments) |\n"
            }
        }
        return s
    }
}
