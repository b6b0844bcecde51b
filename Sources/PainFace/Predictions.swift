import Dataset
import Features
import Foundation
import Weights

/// One output row: a video, or one frame of it.
public struct PredictionRow: Sendable {
    public var video: String
    /// Set on a frame's row, nil on the video's: the frame's file name and its 0-based index
    /// in reading order.
    public var frame: String?
    public var frameIndex: Int?
    /// The true class, when the video is labelled (evaluation).
    public var truth: String?
    /// The predicted class ("" when none, e.g. no face).
    public var label: String
    /// Per class, in the writer's class order; empty when unknown.
    public var probabilities: [Float]
    public var coverage: Double?
    public var framesUsed: Int?
    public var framesTotal: Int?
    /// Where a frame's face came from.
    public var source: String?

    public init(
        video: String, frame: String? = nil, frameIndex: Int? = nil, truth: String? = nil, label: String,
        probabilities: [Float], coverage: Double? = nil, framesUsed: Int? = nil, framesTotal: Int? = nil,
        source: String? = nil
    ) {
        (self.video, self.frame, self.frameIndex, self.truth, self.label, self.probabilities) = (
            video, frame, frameIndex, truth, label, probabilities
        )
        (self.coverage, self.framesUsed, self.framesTotal, self.source) = (coverage, framesUsed, framesTotal, source)
    }
}

/// Writes prediction rows as CSV or JSON lines; the column set says which fields a command
/// reports.
public struct PredictionWriter: Sendable {
    public enum Columns: Sendable {
        /// video,label,p_...,face_coverage,frames_used,frames_total (`infer`, one row per video)
        case inference
        /// video,frame,frame_file,source,label,p_... (`infer --per-frame`, one row per frame)
        case frames
        /// video,label,p_... (`predict`)
        case labels
        /// video,true,predicted,p_... (`evaluate --predictions`)
        case evaluation
    }
    public let classes: [String]
    public let columns: Columns
    public let json: Bool

    public init(classes: [String], columns: Columns, json: Bool = false) {
        (self.classes, self.columns, self.json) = (classes, columns, json)
    }

    public var header: String? {
        guard !json else { return nil }
        let p = classes.map { "p_\($0)" }
        switch columns {
        case .inference:
            return (["video", "label"] + p + ["face_coverage", "frames_used", "frames_total"]).joined(separator: ",")
        case .frames: return (["video", "frame", "frame_file", "source", "label"] + p).joined(separator: ",")
        case .labels: return (["video", "label"] + p).joined(separator: ",")
        case .evaluation: return (["video", "true", "predicted"] + p).joined(separator: ",")
        }
    }

    public func line(_ r: PredictionRow) -> String {
        json ? jsonLine(r) : csvLine(r)
    }

    /// The whole file: header (CSV), one line per row, a final newline.
    public func text(_ rows: [PredictionRow]) -> String {
        ((header.map { [$0] } ?? []) + rows.map(line)).joined(separator: "\n") + "\n"
    }

    func csvLine(_ r: PredictionRow) -> String {
        let p =
            r.probabilities.isEmpty
            ? [String](repeating: "", count: classes.count) : r.probabilities.map { String(format: "%.6f", $0) }
        switch columns {
        case .inference:
            return
                ([CSV.escape(r.video), CSV.escape(r.label)] + p
                + [
                    r.coverage.map { String(format: "%.4f", $0) } ?? "", r.framesUsed.map(String.init) ?? "",
                    r.framesTotal.map(String.init) ?? "",
                ]).joined(separator: ",")
        case .frames:
            return
                ([
                    CSV.escape(r.video), r.frameIndex.map(String.init) ?? "", CSV.escape(r.frame ?? ""),
                    CSV.escape(r.source ?? ""), CSV.escape(r.label),
                ] + p).joined(separator: ",")
        case .labels:
            return ([CSV.escape(r.video), CSV.escape(r.label)] + p).joined(separator: ",")
        case .evaluation:
            return ([CSV.escape(r.video), CSV.escape(r.truth ?? ""), CSV.escape(r.label)] + p).joined(separator: ",")
        }
    }

    func jsonLine(_ r: PredictionRow) -> String {
        var o: [String: Any] = ["video": r.video, "label": r.label]
        if let f = r.frame { o["frame_file"] = f }
        if let i = r.frameIndex { o["frame"] = i }
        if let t = r.truth { o["true"] = t }
        if !r.probabilities.isEmpty {
            o["probabilities"] = Dictionary(uniqueKeysWithValues: zip(classes, r.probabilities.map { Double($0) }))
        }
        if columns == .inference {
            if let c = r.coverage { o["face_coverage"] = c }
            if let u = r.framesUsed { o["frames_used"] = u }
            if let t = r.framesTotal { o["frames_total"] = t }
        }
        if columns == .frames, let s = r.source { o["source"] = s }
        let d = (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])) ?? Data()
        return String(decoding: d, as: UTF8.self)
    }
}
