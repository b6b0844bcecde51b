import Foundation
import Imaging
import Weights

/// The AI4Pain protocol (method.md section 1): training No-Pain videos are cut into
/// consecutive segments; every other video contributes its first segment.
public struct SegmentProtocol: Sendable, Equatable {
    public enum Short: String, Sendable, CaseIterable {
        /// a segment shorter than `length` is left out
        case drop
        /// a short segment is completed by repeating its last frame
        case pad
    }
    /// Which segments a video gives.
    public enum Scope: String, Sendable, CaseIterable {
        /// the protocol: training No-Pain videos all their segments, others their first
        case ai4pain
        /// feature files: every video all its rows (frames with features; `length` unused)
        case wholeVideo
        /// feature files: every video its first `length` rows (an lstm's sequence)
        case firstRows
    }
    /// 10 s at the paper's 30 fps.
    public static let defaultLength = 300
    public var length = defaultLength
    public var short: Short = .drop
    public var scope: Scope = .ai4pain
    /// The class whose training videos are cut into all their segments (the protocol's No Pain).
    public var segmentClass = "no_pain"
    public init(
        length: Int = defaultLength, short: Short = .drop, scope: Scope = .ai4pain, segmentClass: String = "no_pain"
    ) {
        (self.length, self.short, self.scope, self.segmentClass) = (length, short, scope, segmentClass)
    }

    /// Whether a video is cut into all its segments (training videos of `segmentClass`) or
    /// gives one.
    public func cutsAll(_ v: ManifestVideo) -> Bool {
        scope == .ai4pain && v.split == "train" && v.labelName == segmentClass
    }

    /// Segments as frame-position ranges of a video with `frames` frames. A padded segment
    /// is a range shorter than `length`.
    public func segments(_ v: ManifestVideo, frames n: Int) -> [Range<Int>] {
        if scope == .wholeVideo { return n > 0 ? [0..<n] : [] }
        if scope == .firstRows { return n >= length ? [0..<length] : [] }
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
