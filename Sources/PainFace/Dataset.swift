import Foundation
import Imaging
import Weights

/// One video of a data set manifest.
public struct ManifestVideo: Sendable, Equatable {
    public var id: String
    public var participant: String
    public var split: String
    /// Class index into `Heads.classes`; nil when unknown.
    public var label: Int?
    /// Absolute (resolved against the manifest's folder).
    public var frames: String
    public var landmarks: String?
    /// 1-based line in the manifest, for messages.
    public var line: Int

    public init(id: String, participant: String, split: String, label: Int?, frames: String, landmarks: String?, line: Int) {
        (self.id, self.participant, self.split, self.label, self.frames, self.landmarks, self.line) =
            (id, participant, split, label, frames, landmarks, line)
    }
}

/// A data set: a CSV with one row per video (see README, "Data sets").
public struct Manifest: Sendable {
    public static let splits = ["train", "validation", "test"]
    public static let requiredColumns = ["video_id", "participant", "split", "label", "frames"]
    public let path: String
    public var videos: [ManifestVideo]

    public init(path: String, videos: [ManifestVideo]) { (self.path, self.videos) = (path, videos) }

    /// Parses the CSV. Row-level problems (unknown split or label, duplicate ids, ids that
    /// cannot be file names) are errors naming the line; folder problems are left to `check`.
    public init(path: String) throws {
        self.path = path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ModelFileError(path, "cannot read the manifest")
        }
        let rows = CSV.parse(text)
        guard let header = rows.first?.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) else {
            throw ModelFileError(path, "empty manifest")
        }
        var col: [String: Int] = [:]
        for (i, h) in header.enumerated() where col[h] == nil { col[h] = i }
        let missing = Self.requiredColumns.filter { col[$0] == nil }
        guard missing.isEmpty else {
            throw ModelFileError(path, "missing column(s) \(missing.joined(separator: ", ")); the header must name \(Self.requiredColumns.joined(separator: ",")) [,landmarks]")
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : base.appendingPathComponent(p).standardized.path }
        var seen: [String: Int] = [:]
        videos = []
        for (r, row) in rows.enumerated().dropFirst() {
            let line = r + 1
            if row.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
            func field(_ c: String) -> String {
                guard let i = col[c], i < row.count else { return "" }
                return row[i].trimmingCharacters(in: .whitespaces)
            }
            let id = field("video_id"), split = field("split").lowercased(), label = field("label"), frames = field("frames")
            guard !id.isEmpty else { throw ModelFileError(path, "line \(line): empty video_id") }
            guard !id.contains("/"), !id.hasPrefix("."), id.utf8.count <= 200 else {
                throw ModelFileError(path, "line \(line): video_id \"\(id)\" cannot be a file name (no '/', no leading '.')")
            }
            if let first = seen[id] { throw ModelFileError(path, "line \(line): duplicate video_id \"\(id)\" (first on line \(first))") }
            seen[id] = line
            guard Self.splits.contains(split) else {
                throw ModelFileError(path, "line \(line): unknown split \"\(split)\" (train, validation, test)")
            }
            var y: Int?
            if !label.isEmpty {
                guard let c = Heads.classes.firstIndex(of: label.lowercased()) else {
                    throw ModelFileError(path, "line \(line): unknown label \"\(label)\" (\(Heads.classes.joined(separator: ", ")) or empty)")
                }
                y = c
            }
            guard !frames.isEmpty else { throw ModelFileError(path, "line \(line): empty frames folder") }
            let lm = field("landmarks")
            videos.append(ManifestVideo(id: id, participant: field("participant"), split: split, label: y,
                                        frames: resolve(frames), landmarks: lm.isEmpty ? nil : resolve(lm), line: line))
        }
        guard !videos.isEmpty else { throw ModelFileError(path, "no videos") }
    }

    public func videos(split: String) -> [ManifestVideo] { videos.filter { $0.split == split } }
}

/// Minimal RFC 4180 reader: quoted fields may hold commas, quotes ("") and newlines.
public enum CSV {
    public static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = ""
        var quoted = false, atStart = true
        var it = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? { if let p = pending { pending = nil; return p }; return it.next() }
        while let c = next() {
            if quoted {
                if c == "\"" {
                    if let d = next() {
                        if d == "\"" { field.unicodeScalars.append(d) } else { quoted = false; pending = d }
                    } else { quoted = false }
                } else { field.unicodeScalars.append(c) }
                continue
            }
            switch c {
            case "\"" where atStart && field.isEmpty: quoted = true; atStart = false
            case ",": row.append(field); field = ""; atStart = true
            case "\r": continue
            case "\n": row.append(field); rows.append(row); row = []; field = ""; atStart = true
            default: field.unicodeScalars.append(c); atStart = false
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }

    /// A field quoted when it needs to be.
    public static func escape(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}

/// The AI4Pain protocol (method.md section 1): training No-Pain videos are cut into
/// consecutive segments; every other video contributes its first segment.
public struct SegmentProtocol: Sendable, Equatable {
    public enum Short: String, Sendable, CaseIterable {
        /// a segment shorter than `length` is left out
        case drop
        /// a short segment is completed by repeating its last frame
        case pad
    }
    public var length = 300
    public var short: Short = .drop
    public init(length: Int = 300, short: Short = .drop) { (self.length, self.short) = (length, short) }

    /// Whether a video is cut into all its segments (training No-Pain) or gives one.
    public func cutsAll(_ v: ManifestVideo) -> Bool { v.split == "train" && v.label == 0 }

    /// Segments as frame-position ranges of a video with `frames` frames. A padded segment
    /// is a range shorter than `length`.
    public func segments(_ v: ManifestVideo, frames n: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = 0
        repeat {
            let end = min(start + length, n)
            if end - start == length || (short == .pad && end > start) { out.append(start..<end) }
            start += length
        } while cutsAll(v) && start < n
        return out
    }

    /// The frame positions extraction must cover.
    public func neededFrames(_ v: ManifestVideo, frames n: Int) -> Int {
        segments(v, frames: n).last?.upperBound ?? 0
    }
}

/// `--shard i/N`: video v belongs to shard hash(v.id) mod N, so N processes given the same
/// ids cover every video exactly once whatever the manifest's row order.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public let index: Int, count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, index >= 0, index < count else {
            throw ModelFileError("--shard", "\(index)/\(count): need 0 <= i < N (for example 0/4 ... 3/4)")
        }
        (self.index, self.count) = (index, count)
    }

    /// "i/N".
    public init(_ s: String) throws {
        let p = s.split(separator: "/")
        guard p.count == 2, let i = Int(p[0]), let n = Int(p[1]) else {
            throw ModelFileError("--shard", "\"\(s)\" is not i/N (for example 0/4)")
        }
        try self.init(index: i, count: n)
    }

    public static let all = try! Shard(index: 0, count: 1)

    public func contains(_ videoID: String) -> Bool {
        count == 1 || Int(ContentHash.hash64(Data(videoID.utf8), seed: 0x5348_4152_44) % UInt64(count)) == index
    }

    public var description: String { "\(index)/\(count)" }
}

/// `painface dataset check`: what a manifest holds and what is wrong with it.
public struct DatasetCheck: Sendable {
    public struct Count: Sendable, Codable { public var videos = 0, frames = 0, segments = 0 }
    public var problems: [String] = []
    public var warnings: [String] = []
    /// split -> label name ("unlabelled" when empty) -> counts
    public var counts: [String: [String: Count]] = [:]
    public var frameCounts: [String: Int] = [:]

    public init(_ m: Manifest, protocol proto: SegmentProtocol) {
        var splitOf: [String: String] = [:]
        var inTwo = Set<String>()
        for v in m.videos where !v.participant.isEmpty {
            if let s = splitOf[v.participant], s != v.split { inTwo.insert(v.participant) } else { splitOf[v.participant] = v.split }
        }
        for p in inTwo.sorted() {
            let where_ = Set(m.videos.filter { $0.participant == p }.map(\.split)).sorted()
            problems.append("participant \(p) is in several splits (\(where_.joined(separator: ", "))): the splits must be by participant")
        }
        for v in m.videos {
            let at = "\(m.path) line \(v.line) (\(v.id))"
            if v.participant.isEmpty { warnings.append("\(at): no participant") }
            if v.split != "test" && v.label == nil { warnings.append("\(at): \(v.split) video without a label") }
            var n = 0
            do {
                let (frames, _) = try ImageIO.listFrames(v.frames)
                n = frames.count
                if n == 0 { problems.append("\(at): \(v.frames) holds no JPEG or PNG frames") }
            } catch {
                problems.append("\(at): frames folder \(v.frames) does not exist or is not a folder")
            }
            if let l = v.landmarks, !FileManager.default.fileExists(atPath: l) {
                problems.append("\(at): landmarks \(l) do not exist")
            }
            frameCounts[v.id] = n
            let segs = proto.segments(v, frames: n).count
            if n > 0 && segs == 0 {
                warnings.append("\(at): \(n) frames, fewer than one \(proto.length)-frame segment (left out; --short-segment pad keeps it)")
            }
            let key = v.label.map { Heads.classes[$0] } ?? "unlabelled"
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
            for cls in Heads.classes + ["unlabelled"] {
                guard let c = byClass[cls] else { continue }
                s += "| \(split) | \(cls) | \(c.videos) | \(c.frames) | \(c.segments) |\n"
            }
        }
        return s
    }
}

/// A manifest from a conventional folder layout ROOT/<split>/<label>/<video>/frames...,
/// label one of the classes or `unlabelled`. The participant is the part of the video's
/// folder name before `separator` (the whole name when there is none).
public enum ManifestLayout {
    /// The manifest's text; `pathPrefix` is put before each frames path (ROOT seen from the
    /// manifest's folder).
    public static func scan(root: String, separator: Character = "_", pathPrefix: String = "") throws -> String {
        let fm = FileManager.default
        func dirs(_ p: String) -> [String] {
            ((try? fm.contentsOfDirectory(atPath: p)) ?? []).filter {
                var d: ObjCBool = false
                return !$0.hasPrefix(".") && fm.fileExists(atPath: (p as NSString).appendingPathComponent($0), isDirectory: &d) && d.boolValue
            }.sorted(by: ImageIO.naturalLess)
        }
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw ModelFileError(root, "not a folder")
        }
        var rows = ["video_id,participant,split,label,frames"]
        var seen: [String: String] = [:]
        for split in dirs(root) {
            guard Manifest.splits.contains(split) else {
                throw ModelFileError((root as NSString).appendingPathComponent(split), "expected ROOT/<train|validation|test>/<label>/<video>/")
            }
            let sp = (root as NSString).appendingPathComponent(split)
            for label in dirs(sp) {
                guard Heads.classes.contains(label) || label == "unlabelled" else {
                    throw ModelFileError((sp as NSString).appendingPathComponent(label),
                                         "unknown label folder (\(Heads.classes.joined(separator: ", ")) or unlabelled)")
                }
                for video in dirs((sp as NSString).appendingPathComponent(label)) {
                    let rel = "\(split)/\(label)/\(video)"
                    if let other = seen[video] { throw ModelFileError(root, "video \(video) is in \(other) and in \(rel)") }
                    seen[video] = rel
                    let participant = video.split(separator: separator, maxSplits: 1).first.map(String.init) ?? video
                    rows.append([video, participant, split, label == "unlabelled" ? "" : label, pathPrefix + rel].map(CSV.escape).joined(separator: ","))
                }
            }
        }
        guard rows.count > 1 else { throw ModelFileError(root, "no video folders under <split>/<label>/") }
        return rows.joined(separator: "\n") + "\n"
    }
}
