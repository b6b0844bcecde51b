import Dataset
import Faces
import Features
import Foundation
import Kernels
import NN

/// Pain over time: one estimate per window of `length` frames, a window every `hop` frames
/// (`infer --window 10s --hop 1s`). Only whole windows are classified; a clip shorter than
/// one window gets one row saying so (label `short_clip`), never a label.
public struct WindowSpec: Sendable, Equatable {
    public let length: Int, hop: Int

    public init(length: Int, hop: Int) throws {
        guard length > 0, hop > 0 else { throw JobError("--window and --hop must be positive") }
        (self.length, self.hop) = (length, hop)
    }

    /// A duration as frames: "10s" (seconds at `fps`, rounded) or "300" / "300f" (frames).
    public static func frames(_ text: String, fps: Double, flag: String) throws -> Int {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t.hasSuffix("s"), let sec = Double(t.dropLast()), sec > 0, sec * fps < 1e9 {
            return max(1, Int((sec * fps).rounded()))
        }
        if let n = Int(t.hasSuffix("f") ? String(t.dropLast()) : t), n > 0 { return n }
        throw JobError("\(flag) \(text): give seconds (10s) or frames (300)")
    }

    /// The windows of a clip of `frames` frames: [start, start + length) for start = 0, hop, ...
    public func ranges(frames: Int) -> [Range<Int>] {
        guard frames >= length else { return [] }
        return stride(from: 0, through: frames - length, by: hop).map { $0..<($0 + length) }
    }

    /// One row per window of a video's entry: its label and probabilities from `classify`
    /// (the head, or the feature model's classes averaged), nil when no frame of it has a face.
    func rows(
        id: String, entry e: CacheEntry, classify: (Tensor, Range<Int>) throws -> (String, [Float])
    ) throws -> [PredictionRow] {
        let n = e.totalFrames
        let ranges = ranges(frames: min(n, e.frames.count))
        guard !ranges.isEmpty else {
            var r = PredictionRow(
                video: id, label: "short_clip", probabilities: [], coverage: e.coverage, framesUsed: 0)
            (r.window, r.startFrame, r.endFrame) = (0, 0, n)
            return [r]
        }
        return try ranges.enumerated().map { i, range in
            var r: PredictionRow
            let rows = e.rows(range)
            if let rows {
                let (label, p) = try classify(rows, range)
                r = PredictionRow(video: id, label: label, probabilities: p)
            } else {
                r = PredictionRow(video: id, label: "no_face", probabilities: [])
            }
            // coverage: faces found (not reused boxes), as the video's; frames used: the rows
            // the head saw (with a stride, every frame with a crop, its features held)
            let found = range.filter {
                $0 < e.sources.count && (BoxSource(rawValue: e.sources[$0])?.foundFace ?? false)
            }
            r.coverage = Double(found.count) / Double(range.count)
            r.framesUsed = rows?.shape[0] ?? 0
            (r.window, r.startFrame, r.endFrame) = (i, range.lowerBound, range.upperBound)
            return r
        }
    }
}

/// The HTML page of `infer --window`: per video, the class probabilities of each window over
/// time as an inline SVG (no scripts, no external files).
public enum WindowReport {
    public static func html(_ rows: [PredictionRow], classes: [String], fps: Double, title: String) -> String {
        let colors = ["#1f77b4", "#ff7f0e", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
        var s = """
            <!DOCTYPE html><html><head><meta charset="utf-8"><title>\(Report.esc(title))</title>
            <style>body{font-family:sans-serif;margin:2em}</style></head><body>
            <h1>\(Report.esc(title))</h1>
            <p>Each point is one window (at its middle): the class probabilities of the frames in it. \
            Windows of \(rows.first.map { ($0.endFrame ?? 0) - ($0.startFrame ?? 0) } ?? 0) frames at \
            \(String(format: "%g", fps)) fps.</p>

            """
        var order: [String] = []
        for r in rows where !order.contains(r.video) { order.append(r.video) }
        for v in order {
            let w = rows.filter { $0.video == v }
            s += "<h2>\(Report.esc(v))</h2>\n"
            if w.count == 1, w[0].label == "short_clip" {
                s += "<p>Shorter than one window (\(w[0].endFrame ?? 0) frames): not classified.</p>\n"
                continue
            }
            let series = classes.enumerated().map { c, name in
                (
                    "p_" + name, colors[c % colors.count],
                    w.compactMap { r -> (Double, Double)? in
                        guard c < r.probabilities.count, let a = r.startFrame, let b = r.endFrame else { return nil }
                        return (Double(a + b) / 2 / fps, Double(r.probabilities[c]))
                    }
                )
            }
            s +=
                Report.lineChart(
                    title: "\(v): class probabilities per window", series: series, yLabel: "probability",
                    yRange: 0...1, xLabel: "time (s)")
            let noFace = w.filter { $0.label == "no_face" }.count
            if noFace > 0 { s += "<p>\(noFace) window(s) without a face are not drawn.</p>\n" }
        }
        return s + "</body></html>\n"
    }
}
