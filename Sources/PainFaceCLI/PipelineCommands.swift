import ArgumentParser
import Dataset
import Faces
import Features
import Foundation
import Imaging
import Kernels
import NN
import PainFace
import Video
import Weights

struct ProtocolOptions: ParsableArguments {
    @Option(
        help:
            """
            Frames per segment: training No-Pain videos are cut into consecutive segments, every other video \
            gives its first one.
            """
    )
    var segmentLength: Int?
    @Option(help: "The segment in seconds instead (frames = seconds x the rate videos are resampled to, 30).")
    var segmentSeconds: Double?
    @Option(help: "A segment shorter than --segment-length: drop (leave it out) or pad (repeat its last frame).")
    var shortSegment = "drop"
    @Option(help: "The class whose training videos are cut into all their segments.")
    var segmentClass = "no_pain"
    @Option(
        help: """
            The classes, in order, comma-separated (default: no_pain,low_pain,high_pain when every label is one \
            of them, else the labels' names in natural order).
            """)
    var classes: String?

    /// The protocol; `fps` turns --segment-seconds into frames (extract and dataset check pass
    /// their --fps; the head commands read caches made at the default 30).
    func proto(fps: Double = 30) throws -> SegmentProtocol {
        if segmentLength != nil && segmentSeconds != nil {
            throw ValidationError("give --segment-length or --segment-seconds, not both")
        }
        var segmentLength = self.segmentLength ?? SegmentProtocol.defaultLength
        if let sec = segmentSeconds {
            guard sec > 0, sec.isFinite else { throw ValidationError("--segment-seconds must be positive") }
            segmentLength = max(1, Int((sec * fps).rounded()))
        }
        guard (1...100_000).contains(segmentLength) else {
            throw Failure(description: "--segment-length must be 1 to 100000")
        }
        guard let s = SegmentProtocol.Short(rawValue: shortSegment) else {
            throw Failure(description: "--short-segment must be drop or pad")
        }
        return SegmentProtocol(length: segmentLength, short: s, segmentClass: segmentClass)
    }

    /// `--classes`, when given.
    func classSet() throws -> ClassSet? { try classes.map { try ClassSet(list: $0) } }

    /// A manifest read with these classes.
    func manifest(_ path: String) throws -> Manifest { try Manifest(path: path, classes: try classSet()) }

    /// A manifest and its cache as the features of a head command, `split` checked.
    func source(manifest: String, cache: String?, split: String) throws -> FeatureSource {
        guard Manifest.splits.contains(split) else {
            throw Failure(description: "--split must be train, validation or test")
        }
        return try FeatureSource(manifest: manifest, cache: cache, protocol: try proto(), classes: try classSet())
    }
}

/// A progress line: frames done, frames/s and ETA; redrawn in place on a terminal, one line
/// every 10 s otherwise (logs of batch jobs stay short).
final class ProgressLine {
    let total: Int
    let tty = isatty(2) != 0
    let start = monotonicSeconds()
    var last = 0.0
    var frames = 0
    var processed = 0  // frames actually computed (skipped videos excluded from the rate)
    var computeTime = 0.0

    init(total: Int) { self.total = total }

    func update(_ label: String, force: Bool = false) {
        let now = monotonicSeconds()
        guard Log.level != .quiet, force || now - last >= (tty ? 0.2 : 10) else { return }
        last = now
        let rate = computeTime > 0 ? Double(processed) / computeTime : 0
        let left = Double(total - frames)
        let eta = rate > 0 ? Self.clock(left / rate) : "--:--"
        let pct = total > 0 ? 100 * Double(frames) / Double(total) : 100
        let bar = String(repeating: "#", count: Int(pct / 5)) + String(repeating: ".", count: 20 - Int(pct / 5))
        let line =
            "[\(bar)] " + String(format: "%5.1f%% %d/%d frames, %.1f frames/s, ETA ", pct, frames, total, rate) + eta
            + "  " + label
        stderrLine((tty ? "\r\u{1B}[K" : "") + line, terminator: tty ? "" : "\n")
    }

    /// The final state, drawn even when the last update was too recent to draw.
    func finish() {
        if tty && Log.level != .quiet {
            frames = max(frames, total)
            update("done", force: true)
            stderrLine("")
        }
    }

    /// Shows a job's progress.
    func show(_ p: JobProgress, force: Bool = false) {
        (frames, processed, computeTime) = (p.frames, p.computed, p.computeSeconds)
        update(p.video, force: force)
    }

    /// The events of a job drawn on this line; a video's error is printed on its own line.
    func events(error describe: @escaping (JobProgress, Error) -> String) -> JobEvents {
        JobEvents(
            progress: { [self] in show($0) },
            finished: { [self] p, error in
                if let error {
                    if tty && Log.level != .quiet { stderrLine("") }
                    stderrLine("error: " + describe(p, error))
                } else {
                    Log.detail(
                        (tty ? "\r\u{1B}[K" : "") + "\(p.video): done, \(p.frames)/\(p.totalFrames) frames so far")
                }
                show(p, force: !tty)
            })
    }

    static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600
            ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}

struct DatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset", abstract: "Data set manifests.",
        subcommands: [DatasetCheckCommand.self, DatasetInitCommand.self])
}

struct DatasetInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a manifest for a conventional folder layout ROOT/<split>/<label>/<video>/.",
        discussion: """
            split: train, validation or test; label: no_pain, low_pain, high_pain or unlabelled. The \
            participant is the video folder's name up to the first --separator (p07_high_3 -> p07). \
            The manifest is written beside ROOT's contents with paths relative to it; edit it freely.

            Example:
              painface dataset init data/        # data/train/high_pain/p07_high_3/frame_00001.jpg ...
            """)
    @Argument(help: "The data set's root folder.") var root: String
    @Option(help: "Output manifest (default: ROOT/manifest.csv).") var out: String?
    @Option(help: "Separator ending the participant part of a video folder's name.") var separator = "_"
    @Flag(help: "Overwrite an existing manifest.") var force = false
    @OptionGroup var log: LogOptions

    func run() throws {
        log.apply()
        try reporting {
            guard let sep = separator.first, separator.count == 1 else {
                throw Failure(description: "--separator must be one character")
            }
            let path = out ?? (root as NSString).appendingPathComponent("manifest.csv")
            guard force || !FileManager.default.fileExists(atPath: path) else {
                throw Failure(description: "\(path) exists (--force to overwrite)")
            }
            // paths in the manifest are relative to its own folder
            let base = (Paths.absolute(path) as NSString).deletingLastPathComponent
            let rootAbs = Paths.absolute(root)
            let prefix =
                base == rootAbs
                ? "" : rootAbs.hasPrefix(base + "/") ? String(rootAbs.dropFirst(base.count + 1)) + "/" : rootAbs + "/"
            let text = try ManifestLayout.scan(root: rootAbs, separator: sep, pathPrefix: prefix)
            try AtomicFile.write(Data(text.utf8), to: path)
            let m = try Manifest(path: path)
            print("\(path): \(m.videos.count) videos; check it with `painface dataset check \(path)`")
        }
    }
}

struct DatasetCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a manifest and count videos, frames and segments per split and class.",
        discussion: """
            The manifest is a CSV with a header: video_id,participant,split,label,frames[,landmarks]. \
            split is train, validation or test; label no_pain, low_pain, high_pain or empty; frames \
            (and landmarks) are paths relative to the manifest. Exits non-zero when a folder is \
            missing or empty, a label or split is unknown, an id repeats or a participant is in two splits.

            Example:
              painface dataset check data/manifest.csv --segment-length 300 --json counts.json
            """)
    @Argument(help: "The manifest CSV.") var manifest: String
    @OptionGroup var protocolOptions: ProtocolOptions
    @Option(help: "Also write the counts and problems as JSON here.") var json: String?
    @Option(help: "Frames per second video files are resampled to (as extract will).") var fps = 30.0
    @OptionGroup var log: LogOptions

    func run() throws {
        log.apply()
        try reporting {
            let m = try protocolOptions.manifest(manifest)
            guard fps > 0, fps <= 1000 else { throw Failure(description: "--fps must be between 0 and 1000") }
            let c = DatasetCheck(m, protocol: try protocolOptions.proto(fps: fps), fps: fps)
            print(c.table(), terminator: "")
            for w in c.warnings { Log.warn(w) }
            for p in c.problems { stderrLine("error: \(p)") }
            if let json {
                let obj: [String: Any] = [
                    "manifest": manifest, "videos": m.videos.count, "problems": c.problems, "warnings": c.warnings,
                    "counts": c.counts.mapValues {
                        $0.mapValues { ["videos": $0.videos, "frames": $0.frames, "segments": $0.segments] }
                    },
                ]
                try AtomicFile.write(
                    try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys]), to: json)
            }
            guard c.problems.isEmpty else {
                throw Failure(description: "\(manifest): \(c.problems.count) problem(s), see above")
            }
            print("\(manifest): \(m.videos.count) videos, \(c.frameCounts.values.reduce(0, +)) frames, OK")
        }
    }
}

struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Crop faces and extract features of every frame a manifest's protocol needs, into a resumable cache.",
        discussion: """
            One cache file per video (CACHE/<video_id>.safetensors), keyed by the frames' content, \
            the model's SHA-256 and the crop settings: a re-run skips what is done, and a run killed \
            at any moment resumes with nothing lost (files are written then renamed). --shard i/N \
            takes the videos whose id hashes to i modulo N, so N processes (a Slurm job array) \
            cover the set exactly once.

            Examples:
              painface extract data/manifest.csv
              painface extract data/manifest.csv --model vgg16.json --shard 3/8 --stats-json s3.json
            """)
    @Argument(help: "The manifest CSV.") var manifest: String
    @Option(help: "Model: a bundled name (see `painface models`) or a path to a .json/.safetensors pair.")
    var model = ModelStore.defaultModel
    @Option(help: "Cache folder (default: the manifest's name with .cache, beside it).") var cache: String?
    @Option(help: "Process shard i of N (0-based), e.g. 3/8.") var shard: String?
    @Option(help: "Splits to extract, comma-separated.") var splits = "train,validation,test"
    @Option(help: "Frames per forward pass.") var batch = 8
    @Flag(help: "Store features as float16.") var float16 = false
    @Flag(help: "Recompute videos whose cache entry is up to date.") var force = false
    @Option(help: "Write run statistics (frames/s, seconds per stage) as JSON here.") var statsJson: String?
    @OptionGroup var protocolOptions: ProtocolOptions
    @OptionGroup var cropSettings: CropOptionGroup
    @OptionGroup var strideOption: StrideOption
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var log: LogOptions

    func run() throws {
        log.apply()
        guard batch > 0 else { throw Failure(description: "--batch must be positive") }
        guard cropSettings.landmarks == nil else {
            throw Failure(description: "extract reads landmarks from the manifest's landmarks column, not --landmarks")
        }
        try reporting {
            // the manifest and the options first: a bad one leaves no cache folder behind
            let m = try protocolOptions.manifest(manifest)
            let proto = try protocolOptions.proto(fps: cropSettings.fps)
            let sh = try shard.map { try Shard($0) } ?? Shard.all
            let wanted = try ExtractJob.splits(splits)
            let ctx = try compute.context()
            let dir = FeatureSource.cacheFolder(cache, manifest: manifest)
            let fc = try cropSettings.cache(dir: dir, model: model, context: ctx, batch: batch, float16: float16)
            try strideOption.apply(to: fc)
            let job = try ExtractJob(manifest: m, protocol: proto, cache: fc, splits: wanted, shard: sh)
            job.force = force
            let fx = fc.extractor
            Log.info(
                """
                extract: \(job.videos.count) of \(job.manifest.videos.count) videos (shard \(sh)), \
                \(job.totalFrames) frames -> \(dir); model \(fx.model.config.name) (sha256 \
                \(fx.modelHash.prefix(12))), \(ctx.isa), \(ctx.threads) threads
                """
            )
            let bar = ProgressLine(total: job.totalFrames)
            let s = job.run(
                events: bar.events { p, e in
                    "\(p.video) (line \(job.videos.first { $0.id == p.video }?.line ?? 0)): \(e)"
                })
            bar.finish()
            Log.info(
                """
                extract: \(s.extracted) extracted, \(s.skipped) up to date, \(s.failed.count) failed; \(s.frames) \
                frames in 
                """
                    + String(format: "%.1f s (%.1f frames/s)", s.seconds, s.framesPerSecond))
            if !s.short.isEmpty {
                Log.warn(
                    "left out, shorter than one \(job.proto.length)-frame segment (--short-segment pad keeps them): "
                        + s.short.joined(separator: ", "))
            }
            if s.stages.reduce(0, { $0 + $1.1 }) > 0 {
                // read..crop run on one thread, features on another, at the same time
                Log.info(
                    "busy time per stage, % of wall time (cropping and the model overlap): "
                        + s.stages.map { $0.0 + String(format: " %.1f%%", 100 * $0.1 / max(s.seconds, 1e-9)) }.joined(
                            separator: ", "))
            }
            if let statsJson { try AtomicFile.write(try job.statsJSON(s, context: ctx), to: statsJson) }
            if !s.failed.isEmpty {
                throw Failure(
                    description: "\(s.failed.count) video(s) failed (see above); the others are cached in \(dir)")
            }
        }
    }
}

struct InferCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract:
            "Run folders of raw video frames through face cropping, the feature model and a head: one row per video.",
        discussion: """
            One row per video (CSV, or JSON lines with --format jsonl or an --out ending in .jsonl): \
            video, label, the class probabilities p_<class>, face_coverage, frames_used, \
            frames_total (README, "Output files"). --per-frame also writes one row per frame (--frames, \
            default OUT without its extension + .frames.csv or .frames.jsonl): video, frame (0-based \
            index in reading order), timestamp (index / --fps), frame_file, source (landmarks, mtcnn, \
            haar, tracked, previous, or empty for no face), confidence (0-1), the box x, y, w, h, faces, \
            label, the class probabilities. With --head the labels are pain classes (framewise: \
            majority vote over all frames with a face, probabilities averaged; lstm: the first \
            sequence); without, the feature model's own classes (the default model: 7 facial \
            expressions) with their probabilities averaged over frames. Features are kept per video in \
            --features (default OUT.features), so a re-run skips the videos already done.

            Examples:
              painface infer clips/*/ --head heads/framewise --out pred.csv
              painface infer clips/a/ --head heads/lstm --per-frame --out pred.jsonl
              painface infer clips/*/ --quiet > expressions.csv
            """)
    @Argument(help: "Folders of video frames (JPEG or PNG), or video files (mp4, mkv, avi, webm, mov, ...).")
    var folders: [String]
    @Option(help: "Feature model (default: the one the head was trained on, else the bundled default).") var model:
        String?
    @Option(help: "Head model stem (from `painface train`).") var head: String?
    @Option(help: "Output file (default: standard output).") var out: String?
    @OptionGroup var output: TableFormat
    @Flag(help: "Also write one row per frame (to --frames).") var perFrame = false
    @Option(help: "With --per-frame: the per-frame file (default: from --out, e.g. pred.csv -> pred.frames.csv).")
    var frames: String?
    @Option(help: "Folder for the per-video feature files (default: OUT.features; a temporary folder without --out).")
    var features: String?
    @Option(help: "Also one estimate per window of this length over each video: seconds (10s) or frames (300).")
    var window: String?
    @Option(help: "With --window: the step between windows, seconds (1s) or frames.") var hop = "1s"
    @Option(help: "With --window: the windows' file (default: from --out, e.g. pred.csv -> pred.windows.csv).")
    var windows: String?
    @Option(
        help: ArgumentHelp(
            "Also a report folder: a page per video (contact sheet of face crops with their sources, classes over time) "
                + "and an index; `painface explain` adds saliency maps."))
    var report: String?
    @Flag(help: "Recompute features that are up to date.") var force = false
    @Option(help: "Frames per forward pass.") var batch = 8
    @OptionGroup var cropSettings: CropOptionGroup
    @OptionGroup var strideOption: StrideOption
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var log: LogOptions

    /// OUT's stem + suffix (pred.csv -> pred.frames.csv).
    func beside(_ out: String, _ suffix: String) throws -> String {
        let ext = (out as NSString).pathExtension
        let stem = ext.isEmpty ? out : String(out.dropLast(ext.count + 1))
        return stem + suffix + (try output.jsonLines(out) ? ".jsonl" : ".csv")
    }

    /// The windows' file: --windows, else --out's stem + .windows.csv; nil without --window.
    func windowsPath() throws -> String? {
        guard window != nil else {
            if windows != nil { throw Failure(description: "--windows needs --window") }
            return nil
        }
        if let windows { return windows }
        guard let out else { throw Failure(description: "--window needs --out or --windows (a file per table)") }
        return try beside(out, ".windows")
    }

    /// The per-frame file: --frames, else --out's stem + .frames.csv (.jsonl); nil without --per-frame.
    func framesPath() throws -> String? {
        guard perFrame else {
            if frames != nil { throw Failure(description: "--frames needs --per-frame") }
            return nil
        }
        if let frames { return frames }
        guard let out else { throw Failure(description: "--per-frame needs --out or --frames (a file per table)") }
        return try beside(out, ".frames")
    }

    func run() throws {
        log.apply()
        guard batch > 0 else { throw Failure(description: "--batch must be positive") }
        try reporting {
            let framesFile = try framesPath(), windowsFile = try windowsPath()
            let fps = cropSettings.fps
            let spec = try window.map {
                try WindowSpec(
                    length: try WindowSpec.frames($0, fps: fps, flag: "--window"),
                    hop: try WindowSpec.frames(hop, fps: fps, flag: "--hop"))
            }
            let ctx = try compute.context()
            let loaded = try head.map { try Heads.load(stem: $0, context: ctx) }
            let fx = try InferJob.featureModel(model, head: loaded, context: ctx)
            var temp: String?
            let dir: String
            if let f = features ?? out.map({ $0 + ".features" }) {
                dir = f
            } else {
                dir = NSTemporaryDirectory() + "painface-infer-\(getpid())"
                temp = dir
            }
            defer { if let temp { try? FileManager.default.removeItem(atPath: temp) } }
            let list = try FolderList(folders, fps: cropSettings.fps)
            let cropper = try VideoCropper(options: try cropSettings.options())
            let job = InferJob(
                folders: list, head: loaded, extractor: fx,
                cache: try FeatureCache(dir: dir, extractor: fx, cropper: cropper))
            job.cache.batch = batch
            try strideOption.apply(to: job.cache)
            (job.force, job.perFrame, job.windows) = (force, perFrame, spec)
            if let c = loaded?.config, c.head == .lstm {
                let s = c.sequenceLength ?? SegmentProtocol.defaultLength
                if let spec, spec.length != s {
                    Log.warn(
                        "--window is \(spec.length) frames, the LSTM was trained on \(s)-frame sequences: "
                            + "each window is padded (repeating its last frame) or cut to \(s)")
                }
                for (id, n) in zip(list.ids, list.frameCounts) where n > 0 && n != s {
                    Log.warn(
                        n < s
                            ? "\(id): \(n) frames, fewer than the LSTM's \(s): its row pads them by repeating the last one"
                            : "\(id): its row is the LSTM on the first \(s) of \(n) frames (--window 10s gives all of them)"
                    )
                }
            }
            job.landmarks = { [cropSettings, folders] in
                cropSettings.landmarkPath(for: $0, several: folders.count > 1)
            }
            Log.info(
                "infer: \(folders.count) folders, \(list.totalFrames) frames; model \(fx.model.config.name)"
                    + (head.map { ", head \($0)" } ?? "") + "; features in \(dir)")
            let bar = ProgressLine(total: list.totalFrames)
            let (rows, failed) = job.run(events: bar.events { _, e in "\(e)" })
            bar.finish()
            let json = try output.jsonLines(out)
            let text = PredictionWriter(classes: job.classes, columns: .videos, json: json)
                .text(rows.filter { $0.frame == nil && $0.window == nil })
            if let windowsFile {
                let w = rows.filter { $0.window != nil }
                let table = PredictionWriter(classes: job.classes, columns: .windows, json: json, fps: fps).text(w)
                try AtomicFile.write(Data(table.utf8), to: windowsFile)
                let ext = (windowsFile as NSString).pathExtension
                let page = (ext.isEmpty ? windowsFile : String(windowsFile.dropLast(ext.count + 1))) + ".html"
                let html = WindowReport.html(w, classes: job.classes, fps: fps, title: "PainFace: estimates over time")
                try AtomicFile.write(Data(html.utf8), to: page)
                Log.info("infer: wrote \(windowsFile) and \(page)")
                for r in w where r.label == "short_clip" {
                    Log.warn("\(r.video): \(r.endFrame ?? 0) frames, shorter than one \(spec!.length)-frame window")
                }
            }
            if let framesFile {
                let perFrame = PredictionWriter(
                    classes: job.classes, columns: .frames, json: json, fps: cropSettings.fps
                )
                .text(rows.filter { $0.frame != nil })
                try AtomicFile.write(Data(perFrame.utf8), to: framesFile)
                Log.info("infer: wrote \(framesFile)")
            }
            if let out {
                try AtomicFile.write(Data(text.utf8), to: out); Log.info("infer: wrote \(out)")
            } else {
                print(text, terminator: "")
            }
            if let report {
                // the explain pages without maps, from the features just cached
                let pages = try ExplainJob(folders: list, head: loaded, extractor: fx, cache: job.cache, out: report)
                pages.framesPerVideo = 0
                pages.force = true
                pages.landmarks = job.landmarks
                pages.warn = { Log.warn($0) }
                try FileManager.default.createDirectory(atPath: report, withIntermediateDirectories: true)
                let (videos, _) = pages.run(
                    events: JobEvents(finished: { _, e in if let e { Log.warn("\(e) (no page)") } }))
                Log.info("infer: wrote \(videos.count) video pages, \(report)/index.html")
            }
            if failed > 0 {
                throw Failure(description: "\(failed) input(s) failed (see above); the others were written")
            }
        }
    }
}

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "A running estimate over the last window of a live source: a folder being written, stdin, a camera.",
        discussion: """
            SOURCE is a folder (new JPEG/PNG frames are taken in natural order as they appear; the \
            run ends after --idle seconds without one), - (raw RGB frames on stdin, --frame-size WxH, e.g. \
            from ffmpeg -f v4l2 -i /dev/video0 -f rawvideo -pix_fmt rgb24 -), or anything ffmpeg \
            opens: a camera (/dev/video0, read with v4l2), a stream URL, or a video file played at \
            its own pace. Each --hop, one row for the last --window (infer's window columns) goes to \
            --out or stdout as it is made. When the model is slower than the source, frames are \
            dropped on purpose and the frames between hold the features of the last one seen; \
            stderr says how many (with --verbose per estimate, else at the end), with the latency \
            from a frame's arrival to its estimate. Memory stays bounded: one frame waiting and a \
            window of features.

            Examples:
              painface watch /dev/video0 --head heads/lstm --window 10s --hop 1s
              ffmpeg -f v4l2 -i /dev/video0 -f rawvideo -pix_fmt rgb24 - | painface watch - --frame-size 640x480
              painface watch incoming/ --head heads/framewise --out live.csv
            """)
    @Argument(help: "A folder being written, - for raw RGB frames on stdin, or a camera, URL or video file.")
    var source: String
    @Option(help: "Feature model (default: the one the head was trained on, else the bundled default).") var model:
        String?
    @Option(help: "Head model stem (from `painface train`).") var head: String?
    @Option(help: "Window: seconds (10s) or frames (300).") var window = "10s"
    @Option(help: "The step between estimates: seconds (1s) or frames.") var hop = "1s"
    @Option(help: "With SOURCE -: the frames' size, WIDTHxHEIGHT.") var frameSize: String?
    @Option(help: "ffmpeg's input format (default: v4l2 for /dev/video*).") var inputFormat: String?
    @Flag(help: "Read a video file as fast as it decodes, not at its own pace.") var noRealtime = false
    @Flag(help: "Never drop a frame: the source waits for the model (a pipe or a file read offline).")
    var noDrop = false
    @Option(help: "A folder source ends after this many seconds without a new frame.") var idle = 10.0
    @Option(help: "Output file, a row per estimate as it is made (default: standard output).") var out: String?
    @OptionGroup var output: TableFormat
    @OptionGroup var cropSettings: CropOptionGroup
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var log: LogOptions

    func liveSource(fps: Double) throws -> LiveFrames {
        var isDir: ObjCBool = false
        if source == "-" {
            let parts = (frameSize ?? "").lowercased().split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2 else { throw ValidationError("reading stdin needs --frame-size WIDTHxHEIGHT") }
            return try LiveFrames(source: .raw(width: parts[0], height: parts[1]), fps: fps)
        }
        if FileManager.default.fileExists(atPath: source, isDirectory: &isDir), isDir.boolValue {
            let f = try LiveFrames(source: .folder(source), fps: fps)
            f.idleSeconds = idle
            return f
        }
        let format = inputFormat ?? (source.hasPrefix("/dev/video") ? "v4l2" : nil)
        let file = FileManager.default.fileExists(atPath: source) && format == nil
        return try LiveFrames(
            source: .ffmpeg(input: source, format: format, realtime: file && !noRealtime), fps: fps)
    }

    func run() throws {
        log.apply()
        try reporting {
            let fps = cropSettings.fps
            let spec = try WindowSpec(
                length: try WindowSpec.frames(window, fps: fps, flag: "--window"),
                hop: try WindowSpec.frames(hop, fps: fps, flag: "--hop"))
            let ctx = try compute.context()
            let loaded = try head.map { try Heads.load(stem: $0, context: ctx) }
            let fx = try InferJob.featureModel(model, head: loaded, context: ctx)
            let frames = try liveSource(fps: fps)
            let job = WatchJob(
                frames: frames, cropper: try VideoCropper(options: try cropSettings.options()), extractor: fx,
                head: loaded, window: spec)
            job.dropFrames = !noDrop
            let json = try output.jsonLines(out)
            let writer = PredictionWriter(classes: job.classes, columns: .windows, json: json, fps: fps)
            // rows as they are made: appended and flushed one by one (a stream, not an atomic file)
            let sink: FileHandle
            if let out {
                guard FileManager.default.createFile(atPath: out, contents: nil),
                    let h = FileHandle(forWritingAtPath: out)
                else { throw Failure(description: "\(out): cannot write") }
                sink = h
            } else {
                sink = FileHandle.standardOutput
            }
            if let header = writer.header { sink.write(Data((header + "\n").utf8)) }
            let id = source == "-" ? "stdin" : VideoFiles.videoID(source)
            Log.info(
                "watch: \(source), model \(fx.model.config.name)" + (head.map { ", head \($0)" } ?? "")
                    + "; a \(spec.length)-frame window every \(spec.hop) frames at \(fps) fps")
            let s = try job.run(id: id) { e in
                sink.write(Data((writer.line(e.row) + "\n").utf8))
                Log.detail(
                    String(
                        format: "window %d: model saw %d of %d frames, latency %.0f ms", e.row.window ?? 0,
                        e.processed, e.arrived, 1000 * e.latency))
            }
            let lat = s.latencies.sorted()
            Log.info(
                String(
                    format:
                        "watch: %d frames arrived, the model saw %d (%.1f frames/s, %d dropped: stride %.2f), %d estimates, "
                        + "latency median %.0f ms, max %.0f ms",
                    s.arrived, s.processed, Double(s.processed) / max(s.seconds, 1e-9), s.dropped,
                    Double(s.arrived) / Double(max(s.processed, 1)), s.estimates,
                    1000 * (lat.isEmpty ? 0 : lat[lat.count / 2]), 1000 * (lat.last ?? 0)))
            if s.estimates == 0 {
                Log.warn("\(source): \(s.arrived) frames, fewer than one \(spec.length)-frame window: no estimate")
            }
        }
    }
}
