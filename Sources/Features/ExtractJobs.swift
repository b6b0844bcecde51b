import Dataset
import Faces
import Foundation
import Imaging
import Kernels
import NN
import Video
import Weights

/// Where a long job is, for a progress line.
public struct JobProgress: Sendable {
    /// The video being processed.
    public var video: String
    /// Frames done (extracted or found up to date) of `totalFrames`.
    public var frames: Int
    public var totalFrames: Int
    /// Frames computed and the seconds they took (videos found up to date excluded), for a rate.
    public var computed: Int
    public var computeSeconds: Double
}

/// A job's error that is not about one file.
public struct JobError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What a job reports as it goes: progress, and each video when it ends (nil error: done).
/// `progress` is called on the cropping thread while a video is extracted (the calling
/// thread waits meanwhile): it must not touch state another thread uses at the same time.
public struct JobEvents {
    public var progress: (JobProgress) -> Void
    public var finished: (_ progress: JobProgress, _ error: Error?) -> Void
    public init(
        progress: @escaping (JobProgress) -> Void = { _ in },
        finished: @escaping (JobProgress, Error?) -> Void = { _, _ in }
    ) {
        (self.progress, self.finished) = (progress, finished)
    }
}

/// Runs `FeatureCache.extract` over a list of videos, keeping the progress figures.
public struct VideoLoop {
    let cache: FeatureCache
    let events: JobEvents
    public private(set) var state: JobProgress
    let start = monotonicSeconds()
    var skippedSeconds = 0.0

    public init(cache: FeatureCache, totalFrames: Int, events: JobEvents) {
        (self.cache, self.events) = (cache, events)
        state = JobProgress(video: "", frames: 0, totalFrames: totalFrames, computed: 0, computeSeconds: 0)
    }

    /// Extracts one video whose share of the total is `frames`.
    public mutating func run(
        id: String, folder: String, landmarks: String?, force: Bool, frames: Int,
        needed: @escaping (Int) -> Int = { $0 }
    ) -> (Result<(CacheOutcome, CacheEntry?), Error>) {
        let before = state.frames, t0 = monotonicSeconds()
        state.video = id
        var s = state
        let (start, skipped, events) = (self.start, skippedSeconds, self.events)
        let result = Result {
            try cache.extract(videoID: id, folder: folder, landmarks: landmarks, force: force, needed: needed) { done in
                s.frames = before + done
                s.computed += 1
                s.computeSeconds = monotonicSeconds() - start - skipped
                events.progress(s)
            }
        }
        state.computed = s.computed
        state.computeSeconds = s.computeSeconds
        if case .success((.skipped, _)) = result { skippedSeconds += monotonicSeconds() - t0 }
        state.frames = before + frames
        var error: Error?
        if case .failure(let e) = result { error = e }
        events.finished(state, error)
        return result
    }
}

/// `painface extract`: the frames a manifest's protocol needs, cropped and run through the
/// model into the cache; videos already cached with the same content are skipped.
public final class ExtractJob {
    public let manifest: Manifest
    public let proto: SegmentProtocol
    public let cache: FeatureCache
    /// The videos of the chosen splits in this shard, and the frames each needs.
    public let videos: [ManifestVideo]
    public let needed: [String: Int]
    public var force = false

    public struct Summary {
        public var extracted = 0, skipped = 0, frames = 0
        /// "id: error" per failed video
        public var failed: [String] = []
        /// videos shorter than one segment
        public var short: [String] = []
        public var seconds = 0.0, skippedSeconds = 0.0
        /// busy seconds per stage (cropping and the model run at the same time)
        public var stages: [(String, Double)] = []
        public var framesPerSecond: Double { Double(frames) / max(seconds - skippedSeconds, 1e-9) }
    }

    /// The splits of a comma-separated list, each checked.
    public static func splits(_ list: String) throws -> Set<String> {
        let s = Set(list.split(separator: ",").map(String.init))
        for x in s where !Manifest.splits.contains(x) { throw JobError("--splits: unknown split \(x)") }
        return s
    }

    public init(
        manifest: Manifest, protocol proto: SegmentProtocol, cache: FeatureCache, splits: Set<String>, shard: Shard
    ) throws {
        for s in splits where !Manifest.splits.contains(s) { throw JobError("--splits: unknown split \(s)") }
        if let p = manifest.problem(with: proto) { throw ModelFileError(manifest.path, p) }
        (self.manifest, self.proto, self.cache) = (manifest, proto, cache)
        videos = manifest.videos.filter { splits.contains($0.split) && shard.contains($0.id) }
        // frame counts up front, for the progress total
        var needed: [String: Int] = [:]
        for v in videos {
            needed[v.id] = proto.neededFrames(
                v, frames: (try? VideoFiles.listFrames(v.frames, fps: cache.cropper.options.fps).frames.count) ?? 0)
        }
        self.needed = needed
    }

    public var totalFrames: Int { needed.values.reduce(0, +) }

    public func run(events: JobEvents = JobEvents()) -> Summary {
        var loop = VideoLoop(cache: cache, totalFrames: totalFrames, events: events)
        var s = Summary()
        for v in videos {
            let n = needed[v.id] ?? 0
            let proto = self.proto
            switch loop.run(
                id: v.id, folder: v.frames, landmarks: v.landmarks, force: force, frames: n,
                needed: { proto.neededFrames(v, frames: $0) })
            {
            case .success((.skipped, _)): s.skipped += 1
            case .success((.extracted, _)): s.extracted += 1; s.frames += n
            case .success((.notNeeded, _)): s.short.append(v.id)
            case .failure(let e): s.failed.append("\(v.id) (line \(v.line)): \(e)")
            }
        }
        s.seconds = monotonicSeconds() - loop.start
        s.skippedSeconds = loop.skippedSeconds
        let t = cache.cropper.times
        s.stages = [
            ("read", t.read), ("key", cache.keyTime), ("decode", t.decode), ("detect", t.detect),
            ("crop", t.crop), ("features", cache.featureTime), ("write", cache.writeTime),
        ]
        return s
    }

    /// The summary as JSON (`--stats-json`).
    public func statsJSON(_ s: Summary, context ctx: ComputeContext) throws -> Data {
        var obj: [String: Any] = [
            "videos": videos.count, "extracted": s.extracted, "skipped": s.skipped, "failed": s.failed,
            "frames": s.frames, "seconds": s.seconds, "frames_per_second": s.framesPerSecond,
            "model": cache.extractor.model.config.name, "threads": ctx.threads, "isa": "\(ctx.isa)",
        ]
        obj["stage_seconds"] = Dictionary(uniqueKeysWithValues: s.stages)
        return try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])
    }
}

/// Frame folders named by their last path component (the video id of their features).
public struct FolderList {
    public let folders: [String]
    public let ids: [String]
    /// Frames per folder (0 when unreadable), for the progress total, and the other files.
    public let frameCounts: [Int], otherFiles: [Int]

    /// `folders`: frame folders or video files (resampled to `fps`; a video's id is its file
    /// name without the extension).
    public init(_ folders: [String], fps: Double = 30) throws {
        var names = Set<String>()
        ids = try folders.map { f in
            let id = VideoFiles.videoID(f)
            guard names.insert(id).inserted else {
                throw ModelFileError(f, "two inputs are named \(id); their outputs would collide")
            }
            return id
        }
        self.folders = folders
        let listed = folders.map { try? VideoFiles.listFrames($0, fps: fps) }
        frameCounts = listed.map { $0?.frames.count ?? 0 }
        otherFiles = listed.map { $0?.skipped ?? 0 }
    }

    public var totalFrames: Int { frameCounts.reduce(0, +) }
}

/// `painface features`: each folder's features as a cache entry OUT/<folder>.safetensors (the
/// format `extract` writes); the folders hold face crops, or raw frames to crop first.
public final class FeaturesJob {
    public let folders: FolderList
    public let cache: FeatureCache
    public var force = false
    /// The landmark file or folder of a video folder, if any.
    public var landmarks: (String) -> String? = { _ in nil }

    /// One folder's outcome: its entry and whether it was up to date, or the error.
    public struct Outcome {
        public let id: String, folder: String
        public let entry: CacheEntry?
        public let upToDate: Bool
        public let seconds: Double
        public let error: Error?
        /// Files of the folder that are not JPEG or PNG frames.
        public let otherFiles: Int
    }

    public init(folders: FolderList, cache: FeatureCache) { (self.folders, self.cache) = (folders, cache) }

    public func run(events: JobEvents = JobEvents(), each: (Outcome) -> Void) {
        var loop = VideoLoop(cache: cache, totalFrames: folders.totalFrames, events: events)
        for (i, (folder, id)) in zip(folders.folders, folders.ids).enumerated() {
            let t0 = monotonicSeconds()
            let r = loop.run(
                id: id, folder: folder, landmarks: landmarks(folder), force: force, frames: folders.frameCounts[i])
            let dt = monotonicSeconds() - t0
            switch r {
            case .success((let outcome, let entry)):
                each(
                    Outcome(
                        id: id, folder: folder, entry: entry, upToDate: outcome == .skipped, seconds: dt, error: nil,
                        otherFiles: folders.otherFiles[i]))
            case .failure(let e):
                each(
                    Outcome(
                        id: id, folder: folder, entry: nil, upToDate: false, seconds: dt, error: e,
                        otherFiles: folders.otherFiles[i]))
            }
        }
    }
}
