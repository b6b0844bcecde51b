import Foundation
import Imaging
import Weights

/// The classes of a data set's labels, in class-index order.
public struct ClassSet: Sendable, Equatable {
    public let names: [String]
    public init(_ names: [String]) { self.names = names }
    /// The paper's three pain levels (AI4Pain).
    public static let pain = ClassSet(["no_pain", "low_pain", "high_pain"])
    public var count: Int { names.count }
    public func index(of label: String) -> Int? { names.firstIndex(of: label) }
    public subscript(i: Int) -> String { names[i] }
    /// "a, b, c" for messages.
    public var list: String { names.joined(separator: ", ") }

    /// `--classes a,b,c`: at least two distinct names.
    public init(list: String) throws {
        let n = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard n.count >= 2, Set(n).count == n.count, !n.contains("") else {
            throw ModelFileError("--classes", "\"\(list)\": give two or more distinct class names, comma-separated")
        }
        names = n
    }

    /// The class index of a label: its name (the AI4Pain names also in other case), or an
    /// integer index into the classes.
    public func resolve(_ label: String) -> Int? {
        if let i = names.firstIndex(of: label) ?? names.firstIndex(of: label.lowercased()) { return i }
        if let i = Int(label), names.indices.contains(i) { return i }
        return nil
    }

    /// The classes of a data set's labels: `given` when set; else the AI4Pain three when each
    /// label is one of them (or an index 0-2); else the distinct labels in natural order
    /// (PA0 < PA1 < ... < PA10).
    public static func of(_ labels: [String], given: ClassSet?) -> ClassSet {
        if let given { return given }
        if labels.allSatisfy({ pain.resolve($0) != nil }) { return pain }
        return ClassSet(Array(Set(labels)).sorted(by: ImageIO.naturalLess))
    }
}

/// One video of a data set manifest.
public struct ManifestVideo: Sendable, Equatable {
    public var id: String
    public var participant: String
    public var split: String
    /// Class index into the manifest's classes; nil when unknown.
    public var label: Int?
    /// The label's class name.
    public var labelName: String?
    /// Absolute (resolved against the manifest's folder).
    public var frames: String
    public var landmarks: String?
    /// 1-based line in the manifest, for messages.
    public var line: Int

    /// `labelName` defaults to the AI4Pain name of `label`.
    public init(
        id: String, participant: String, split: String, label: Int?, frames: String, landmarks: String?, line: Int,
        labelName: String? = nil
    ) {
        (self.id, self.participant, self.split, self.label, self.frames, self.landmarks, self.line) =
            (id, participant, split, label, frames, landmarks, line)
        self.labelName =
            labelName ?? label.flatMap { ClassSet.pain.names.indices.contains($0) ? ClassSet.pain[$0] : nil }
    }
}

/// A data set: a CSV with one row per video (see README, "Data sets").
public struct Manifest: Sendable {
    public static let splits = ["train", "validation", "test"]
    public static let requiredColumns = ["video_id", "participant", "split", "label", "frames"]
    public let path: String
    public let classes: ClassSet
    public var videos: [ManifestVideo]

    public init(path: String, videos: [ManifestVideo], classes: ClassSet = .pain) {
        (self.path, self.videos, self.classes) = (path, videos, classes)
    }

    /// Parses the CSV. Row-level problems (unknown split or label, duplicate ids, ids that
    /// cannot be file names) are errors naming the line; folder problems are left to `check`.
    /// The classes are `classes` when given, else those of the labels (ClassSet.of).
    public init(path: String, classes given: ClassSet? = nil) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelFileError(path, "cannot read the manifest (no such file, or not readable)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ModelFileError(path, "the manifest is not UTF-8 text (save it as UTF-8)")
        }
        let rows = CSV.parse(text)
        guard let header = rows.first?.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) else {
            throw ModelFileError(path, "empty manifest")
        }
        var col: [String: Int] = [:]
        for (i, h) in header.enumerated() where col[h] == nil { col[h] = i }
        let missing = Self.requiredColumns.filter { col[$0] == nil }
        guard missing.isEmpty else {
            throw ModelFileError(
                path,
                """
                missing column(s) \(missing.joined(separator: ", ")); the header must name \
                \(Self.requiredColumns.joined(separator: ",")) [,landmarks]
                """
            )
        }
        // relative to the manifest's own folder, `..` kept (a relative URL's `standardized`
        // drops a leading `..`: paths are made absolute first, then normalised as text)
        let base = (Paths.absolute(path) as NSString).deletingLastPathComponent
        func resolve(_ p: String) -> String { Paths.absolute(p.hasPrefix("/") ? p : base + "/" + p) }
        var seen: [String: Int] = [:]
        var parsed: [(ManifestVideo, String)] = []
        for (r, row) in rows.enumerated().dropFirst() {
            let line = r + 1
            if row.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
            func field(_ c: String) -> String {
                guard let i = col[c], i < row.count else { return "" }
                return row[i].trimmingCharacters(in: .whitespaces)
            }
            let id = field("video_id"), split = field("split").lowercased(), label = field("label"),
                frames = field("frames")
            guard !id.isEmpty else { throw ModelFileError(path, "line \(line): empty video_id") }
            guard !id.contains("/"), !id.hasPrefix("."), id.utf8.count <= 200 else {
                throw ModelFileError(
                    path, "line \(line): video_id \"\(id)\" cannot be a file name (no '/', no leading '.')")
            }
            if let first = seen[id] {
                throw ModelFileError(path, "line \(line): duplicate video_id \"\(id)\" (first on line \(first))")
            }
            seen[id] = line
            guard Self.splits.contains(split) else {
                throw ModelFileError(path, "line \(line): unknown split \"\(split)\" (train, validation, test)")
            }
            guard !frames.isEmpty else { throw ModelFileError(path, "line \(line): empty frames folder") }
            let lm = field("landmarks")
            let v = ManifestVideo(
                id: id, participant: field("participant"), split: split, label: nil,
                frames: resolve(frames), landmarks: lm.isEmpty ? nil : resolve(lm), line: line)
            parsed.append((v, label))
        }
        guard !parsed.isEmpty else { throw ModelFileError(path, "no videos") }
        let classes = ClassSet.of(parsed.map(\.1).filter { !$0.isEmpty }, given: given)
        self.classes = classes
        videos = try parsed.map { v, label in
            var v = v
            if !label.isEmpty {
                guard let c = classes.resolve(label) else {
                    throw ModelFileError(path, "line \(v.line): unknown label \"\(label)\" (\(classes.list) or empty)")
                }
                (v.label, v.labelName) = (c, classes[c])
            }
            return v
        }
    }

    public func videos(split: String) -> [ManifestVideo] { videos.filter { $0.split == split } }

    /// What is wrong with using `proto` on this manifest: a segment class that is not one of
    /// the classes would silently cut no video.
    public func problem(with proto: SegmentProtocol) -> String? {
        guard proto.scope == .ai4pain, videos.contains(where: { $0.label != nil }),
            classes.index(of: proto.segmentClass) == nil
        else { return nil }
        return "--segment-class \(proto.segmentClass) is not one of the classes (\(classes.list))"
    }
}
