import Foundation
import Imaging
import Weights

/// A manifest from a conventional folder layout ROOT/<split>/<label>/<video>/frames...,
/// label a class name (any, or one of `classes` when given) or `unlabelled`. The participant is the part of the video's
/// folder name before `separator` (the whole name when there is none).
public enum ManifestLayout {
    /// The manifest's text; `pathPrefix` is put before each frames path (ROOT seen from the
    /// manifest's folder).
    public static func scan(
        root: String, separator: Character = "_", pathPrefix: String = "", classes given: ClassSet? = nil
    ) throws -> String {
        let fm = FileManager.default
        func dirs(_ p: String) -> [String] {
            ((try? fm.contentsOfDirectory(atPath: p)) ?? []).filter {
                var d: ObjCBool = false
                return !$0.hasPrefix(".")
                    && fm.fileExists(atPath: (p as NSString).appendingPathComponent($0), isDirectory: &d) && d.boolValue
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
                throw ModelFileError(
                    (root as NSString).appendingPathComponent(split),
                    "expected ROOT/<train|validation|test>/<label>/<video>/")
            }
            let sp = (root as NSString).appendingPathComponent(split)
            for label in dirs(sp) {
                guard given == nil || given!.index(of: label) != nil || label == "unlabelled" else {
                    throw ModelFileError(
                        (sp as NSString).appendingPathComponent(label),
                        "unknown label folder (\(given?.list ?? "") or unlabelled)")
                }
                for video in dirs((sp as NSString).appendingPathComponent(label)) {
                    let rel = "\(split)/\(label)/\(video)"
                    if let other = seen[video] {
                        throw ModelFileError(root, "video \(video) is in \(other) and in \(rel)")
                    }
                    seen[video] = rel
                    let participant = video.split(separator: separator, maxSplits: 1).first.map(String.init) ?? video
                    rows.append(
                        [video, participant, split, label == "unlabelled" ? "" : label, pathPrefix + rel].map(
                            CSV.escape
                        ).joined(separator: ","))
                }
            }
        }
        guard rows.count > 1 else { throw ModelFileError(root, "no video folders under <split>/<label>/") }
        return rows.joined(separator: "\n") + "\n"
    }
}
