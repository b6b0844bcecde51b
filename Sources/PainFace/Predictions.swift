import Dataset
import Features
import Foundation
import Weights

/// Version of the output tables' columns (README, "Output files"); raised when a column
/// changes meaning or goes away.
public enum OutputSchema {
    public static let version = 1
    /// The default frame rate: video files are resampled to it, and a frame folder's
    /// timestamps assume it (the paper resampled every video to 30 fps).
    public static let folderFPS = 30.0
}

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
    /// A frame's face: where it came from, its confidence 0-1, its box (x, y, w, h) and the
    /// faces found in the frame.
    public var source: String?
    public var confidence: Double?
    public var box: [Double]?
    public var faces: Int?
    /// A window's row (`infer --window`): its index and frames [startFrame, endFrame).
    public var window: Int?
    public var startFrame: Int?, endFrame: Int?

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

/// Writes prediction rows as CSV or JSON lines (the same columns, probabilities as p_<class>).
/// One per-video table for `infer`, `predict` and `evaluate --predictions` (evaluation adds
/// the true class), and one per-frame table.
public struct PredictionWriter: Sendable {
    public enum Columns: Sendable {
        /// video,label,p_...,face_coverage,frames_used,frames_total
        case videos
        /// the video columns, then true
        case evaluation
        /// video,frame,timestamp,frame_file,source,confidence,x,y,w,h,faces,label,p_...
        case frames
        /// video,window,start_frame,end_frame,start,end,label,p_...,face_coverage,frames_used
        case windows
    }
    public let classes: [String]
    public let columns: Columns
    public let json: Bool
    /// The frames' rate: timestamp = frame / fps.
    public var fps = OutputSchema.folderFPS

    public init(classes: [String], columns: Columns, json: Bool = false, fps: Double = OutputSchema.folderFPS) {
        (self.classes, self.columns, self.json, self.fps) = (classes, columns, json, fps)
    }

    public var names: [String] {
        let p = classes.map { "p_\($0)" }
        switch columns {
        case .videos: return ["video", "label"] + p + ["face_coverage", "frames_used", "frames_total"]
        case .evaluation: return ["video", "label"] + p + ["face_coverage", "frames_used", "frames_total", "true"]
        case .frames:
            return ["video", "frame", "timestamp", "frame_file", "source", "confidence", "x", "y", "w", "h", "faces"]
                + ["label"] + p
        case .windows:
            return ["video", "window", "start_frame", "end_frame", "start", "end", "label"] + p
                + ["face_coverage", "frames_used"]
        }
    }

    public var header: String? { json ? nil : names.joined(separator: ",") }

    /// A value per column, nil where unknown (an empty CSV field, a JSON null).
    enum Value { case text(String), int(Int), real(Double, String) }

    func values(_ r: PredictionRow) -> [Value?] {
        let p: [Value?] =
            r.probabilities.isEmpty
            ? [Value?](repeating: nil, count: classes.count)
            : r.probabilities.map { .real(Double($0), "%.6f") }
        let counts: [Value?] = [
            r.coverage.map { .real($0, "%.4f") }, r.framesUsed.map { .int($0) }, r.framesTotal.map { .int($0) },
        ]
        switch columns {
        case .videos: return [.text(r.video), .text(r.label)] + p + counts
        case .evaluation: return [.text(r.video), .text(r.label)] + p + counts + [r.truth.map { .text($0) }]
        case .windows:
            let span: [Value?] = [
                r.window.map { .int($0) }, r.startFrame.map { .int($0) }, r.endFrame.map { .int($0) },
                r.startFrame.map { .real(Double($0) / fps, "%.4f") },
                r.endFrame.map { .real(Double($0) / fps, "%.4f") },
            ]
            return [.text(r.video)] + span + [.text(r.label)] + p + counts.prefix(2)
        case .frames:
            let box: [Value?] = (0..<4).map { k in r.box.map { .real($0[k], "%.1f") } }
            let index: [Value?] = [
                r.frameIndex.map { .int($0) },
                r.frameIndex.map { .real(Double($0) / fps, "%.4f") },
            ]
            return [.text(r.video)] + index + [.text(r.frame ?? ""), r.source.map { .text($0) }]
                + [r.confidence.map { .real($0, "%.4f") }] + box + [r.faces.map { .int($0) }, .text(r.label)] + p
        }
    }

    public func line(_ r: PredictionRow) -> String {
        let v = values(r)
        if !json {
            return v.map { x -> String in
                switch x {
                case .text(let s)?: return CSV.escape(s)
                case .int(let i)?: return String(i)
                case .real(let d, let f)?: return String(format: f, d)
                case nil: return ""
                }
            }.joined(separator: ",")
        }
        // by hand, so the keys keep the columns' order
        func str(_ s: String) -> String {
            String(
                decoding: (try? JSONSerialization.data(withJSONObject: s, options: .fragmentsAllowed)) ?? Data(),
                as: UTF8.self)
        }
        let fields = zip(names, v).map { name, x -> String in
            let value: String
            switch x {
            case .text(let s)?: value = str(s)
            case .int(let i)?: value = String(i)
            // the CSV's rounding, so both formats hold the same numbers
            case .real(let d, let f)?: value = d.isFinite ? String(format: f, d) : "null"
            case nil: value = "null"
            }
            return str(name) + ":" + value
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// The whole file: header (CSV), one line per row, a final newline.
    public func text(_ rows: [PredictionRow]) -> String {
        ((header.map { [$0] } ?? []) + rows.map(line)).joined(separator: "\n") + "\n"
    }
}
