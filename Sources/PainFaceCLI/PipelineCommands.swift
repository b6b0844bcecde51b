import ArgumentParser
import Dataset
import Faces
import Foundation
import Imaging
import Kernels
import NN
import PainFace
import Weights

struct ProtocolOptions: ParsableArguments {
    @Option(help: "Frames per segment: training No-Pain videos are cut into consecutive segments, every other video gives its first one.")
    var segmentLength = 300
    @Option(help: "A segment shorter than --segment-length: drop (leave it out) or pad (repeat its last frame).")
    var shortSegment = "drop"

    func proto() throws -> SegmentProtocol {
        guard segmentLength > 0 else { throw Failure(description: "--segment-length must be positive") }
        guard let s = SegmentProtocol.Short(rawValue: shortSegment) else { throw Failure(description: "--short-segment must be drop or pad") }
        return SegmentProtocol(length: segmentLength, short: s)
    }
}

/// The cache folder of a manifest: --cache, else MANIFEST-without-extension.cache beside it.
func cacheFolder(_ cache: String?, manifest: String) -> String {
    cache ?? ((manifest as NSString).deletingPathExtension + ".cache")
}

/// A progress line: frames done, frames/s and ETA; redrawn in place on a terminal, one line
/// every 10 s otherwise (logs of batch jobs stay short).
final class ProgressLine {
    let total: Int
    let tty = isatty(2) != 0
    let start = monotonicSeconds()
    var last = 0.0
    var frames = 0
    var processed = 0   // frames actually computed (skipped videos excluded from the rate)
    var computeTime = 0.0

    init(total: Int) { self.total = total }

    func update(_ label: String, force: Bool = false) {
        let now = monotonicSeconds()
        guard force || now - last >= (tty ? 0.2 : 10) else { return }
        last = now
        let rate = computeTime > 0 ? Double(processed) / computeTime : 0
        let left = Double(total - frames)
        let eta = rate > 0 ? Self.clock(left / rate) : "--:--"
        let pct = total > 0 ? 100 * Double(frames) / Double(total) : 100
        let bar = String(repeating: "#", count: Int(pct / 5)) + String(repeating: ".", count: 20 - Int(pct / 5))
        let line = "[\(bar)] " + String(format: "%5.1f%% %d/%d frames, %.1f frames/s, ETA ", pct, frames, total, rate) + eta + "  " + label
        stderrLine((tty ? "\r\u{1B}[K" : "") + line, terminator: tty ? "" : "\n")
    }

    func finish() { if tty { stderrLine("") } }

    static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}

struct DatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset", abstract: "Data set manifests.", subcommands: [DatasetCheckCommand.self, DatasetInitCommand.self])
}

struct DatasetInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a manifest for a conventional folder layout ROOT/<split>/<label>/<video>/.",
        discussion: """
        split: train, validation or test; label: no_pain, low_pain, high_pain or unlabelled. The \
        participant is the video folder's name up to the first --separator (p07_high_3 -> p07). \
        The manifest is written beside ROOT's contents with paths relative to it; edit it freely.
        """)
    @Argument(help: "The data set's root folder.") var root: String
    @Option(help: "Output manifest (default: ROOT/manifest.csv).") var out: String?
    @Option(help: "Separator ending the participant part of a video folder's name.") var separator = "_"
    @Flag(help: "Overwrite an existing manifest.") var force = false

    func run() throws {
        do {
            guard let sep = separator.first, separator.count == 1 else { throw Failure(description: "--separator must be one character") }
            let path = out ?? (root as NSString).appendingPathComponent("manifest.csv")
            guard force || !FileManager.default.fileExists(atPath: path) else {
                throw Failure(description: "\(path) exists (--force to overwrite)")
            }
            // paths in the manifest are relative to its own folder
            let base = URL(fileURLWithPath: path).deletingLastPathComponent().standardized.path
            let rootAbs = URL(fileURLWithPath: root).standardized.path
            let prefix = base == rootAbs ? "" : rootAbs.hasPrefix(base + "/") ? String(rootAbs.dropFirst(base.count + 1)) + "/" : rootAbs + "/"
            let text = try ManifestLayout.scan(root: rootAbs, separator: sep, pathPrefix: prefix)
            try AtomicFile.write(Data(text.utf8), to: path)
            let m = try Manifest(path: path)
            print("\(path): \(m.videos.count) videos; check it with `painface dataset check \(path)`")
        } catch let e as Failure { throw e } catch { throw fail(error) }
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
        """)
    @Argument(help: "The manifest CSV.") var manifest: String
    @OptionGroup var protocolOptions: ProtocolOptions
    @Option(help: "Also write the counts and problems as JSON here.") var json: String?

    func run() throws {
        do {
            let m = try Manifest(path: manifest)
            let c = DatasetCheck(m, protocol: try protocolOptions.proto())
            print(c.table(), terminator: "")
            for w in c.warnings { stderrLine("warning: \(w)") }
            for p in c.problems { stderrLine("error: \(p)") }
            if let json {
                let obj: [String: Any] = [
                    "manifest": manifest, "videos": m.videos.count, "problems": c.problems, "warnings": c.warnings,
                    "counts": c.counts.mapValues { $0.mapValues { ["videos": $0.videos, "frames": $0.frames, "segments": $0.segments] } },
                ]
                try AtomicFile.write(try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys]), to: json)
            }
            guard c.problems.isEmpty else { throw Failure(description: "\(manifest): \(c.problems.count) problem(s), see above") }
            print("\(manifest): \(m.videos.count) videos, \(c.frameCounts.values.reduce(0, +)) frames, OK")
        } catch let e as Failure { throw e } catch { throw fail(error) }
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
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        guard batch > 0 else { throw Failure(description: "--batch must be positive") }
        guard cropSettings.landmarks == nil else {
            throw Failure(description: "extract reads landmarks from the manifest's landmarks column, not --landmarks")
        }
        do {
            let m = try Manifest(path: manifest)
            let proto = try protocolOptions.proto()
            let sh = try shard.map { try Shard($0) } ?? Shard.all
            let wanted = Set(splits.split(separator: ",").map(String.init))
            for s in wanted where !Manifest.splits.contains(s) { throw Failure(description: "--splits: unknown split \(s)") }
            let ctx = try compute.context()
            let fx = try FeatureExtractor(model: model, context: ctx)
            let cropper = try VideoCropper(options: try cropSettings.options())
            let dir = cacheFolder(cache, manifest: manifest)
            let fc = try FeatureCache(dir: dir, extractor: fx, cropper: cropper)
            fc.batch = batch
            fc.dtype = float16 ? .f16 : .f32
            let videos = m.videos.filter { wanted.contains($0.split) && sh.contains($0.id) }
            // frame counts up front, for the progress bar's total
            var needed: [String: Int] = [:]
            for v in videos {
                let n = (try? ImageIO.listFrames(v.frames).frames.count) ?? 0
                needed[v.id] = proto.neededFrames(v, frames: n)
            }
            let total = needed.values.reduce(0, +)
            stderrLine("extract: \(videos.count) of \(m.videos.count) videos (shard \(sh)), \(total) frames -> \(dir); model \(fx.model.config.name) (sha256 \(fx.modelHash.prefix(12))), \(ctx.isa), \(ctx.threads) threads")
            let bar = ProgressLine(total: total)
            var (extracted, skipped, failed, frames, short) = (0, 0, [String](), 0, [String]())
            let t0 = monotonicSeconds()
            var skippedTime = 0.0
            for v in videos {
                let before = bar.frames
                let tv = monotonicSeconds()
                do {
                    let (outcome, _) = try fc.extract(videoID: v.id, folder: v.frames, landmarks: v.landmarks, force: force,
                                                      needed: { proto.neededFrames(v, frames: $0) }) { done in
                        bar.frames = before + done
                        bar.processed += 1
                        bar.computeTime = monotonicSeconds() - t0 - skippedTime
                        bar.update(v.id)
                    }
                    switch outcome {
                    case .skipped: skipped += 1; skippedTime += monotonicSeconds() - tv
                    case .extracted: extracted += 1; frames += needed[v.id] ?? 0
                    case .notNeeded: short.append(v.id)
                    }
                } catch {
                    failed.append("\(v.id): \(error)")
                    if bar.tty { stderrLine("") }
                    stderrLine("error: \(v.id) (line \(v.line)): \(error)")
                }
                bar.frames = before + (needed[v.id] ?? 0)
                bar.update(v.id, force: !bar.tty)
            }
            bar.finish()
            let wall = monotonicSeconds() - t0
            let t = cropper.times
            let stages: [(String, Double)] = [("read", t.read), ("key", fc.keyTime), ("decode", t.decode), ("detect", t.detect),
                                              ("crop", t.crop), ("features", fc.featureTime), ("write", fc.writeTime)]
            let accounted = stages.reduce(0) { $0 + $1.1 }
            let fps = Double(frames) / max(wall - skippedTime, 1e-9)
            stderrLine("extract: \(extracted) extracted, \(skipped) up to date, \(failed.count) failed; \(frames) frames in "
                       + String(format: "%.1f s (%.1f frames/s)", wall, fps))
            if !short.isEmpty {
                stderrLine("left out, shorter than one \(proto.length)-frame segment (--short-segment pad keeps them): " + short.joined(separator: ", "))
            }
            if accounted > 0 {
                // read..crop run on one thread, features on another, at the same time
                stderrLine("busy time per stage, % of wall time (cropping and the model overlap): "
                           + stages.map { $0.0 + String(format: " %.1f%%", 100 * $0.1 / max(wall, 1e-9)) }.joined(separator: ", "))
            }
            if let statsJson {
                var obj: [String: Any] = ["videos": videos.count, "extracted": extracted, "skipped": skipped, "failed": failed,
                                          "frames": frames, "seconds": wall, "frames_per_second": fps, "model": fx.model.config.name,
                                          "threads": ctx.threads, "isa": "\(ctx.isa)"]
                obj["stage_seconds"] = Dictionary(uniqueKeysWithValues: stages)
                try AtomicFile.write(try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys]), to: statsJson)
            }
            if !failed.isEmpty { throw Failure(description: "\(failed.count) video(s) failed (see above); the others are cached in \(dir)") }
        } catch let e as Failure { throw e } catch { throw fail(error) }
    }
}

struct InferCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Run folders of raw video frames through face cropping, the feature model and a head: one row per video.",
        discussion: """
        CSV (or JSON lines with --json) with one row per video: video, label, the class \
        probabilities, face_coverage, frames_used, frames_total; --per-frame adds a row per frame \
        (its frame name and face source). With --head the labels are pain classes (framewise: \
        majority vote over all frames with a face, probabilities averaged; lstm: the first \
        sequence); without, the feature model's own classes (the default model: 7 facial \
        expressions) with their probabilities averaged over frames. Features are kept per video in \
        --features (default OUT.features), so a re-run skips the videos already done.
        """)
    @Argument(help: "Folders of video frames (JPEG or PNG).") var folders: [String]
    @Option(help: "Feature model (default: the one the head was trained on, else the bundled default).") var model: String?
    @Option(help: "Head model stem (from `painface train`).") var head: String?
    @Option(help: "Output file (default: standard output).") var out: String?
    @Flag(help: "JSON lines instead of CSV.") var json = false
    @Flag(help: "Add a row per frame.") var perFrame = false
    @Option(help: "Folder for the per-video feature files (default: OUT.features; a temporary folder without --out).") var features: String?
    @Flag(help: "Recompute features that are up to date.") var force = false
    @Option(help: "Frames per forward pass.") var batch = 8
    @OptionGroup var cropSettings: CropOptionGroup
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        guard batch > 0 else { throw Failure(description: "--batch must be positive") }
        do {
            let ctx = try compute.context()
            let loaded = try head.map { try Heads.load(stem: $0, context: ctx) }
            let modelName = model ?? loaded?.1.featureModel ?? ModelStore.defaultModel
            let fx: FeatureExtractor
            do { fx = try FeatureExtractor(model: modelName, context: ctx) } catch {
                throw Failure(description: "\(error)" + (model == nil && loaded?.1.featureModel != nil ? " (the head's feature model; give --model)" : ""))
            }
            if let (_, c) = loaded {
                if let sha = c.featureModelSha256, sha != fx.modelHash {
                    throw Failure(description: "\(head!): trained on features of \(c.featureModel ?? "another model") (sha256 \(sha.prefix(12))), not \(fx.model.config.name) (\(fx.modelHash.prefix(12)))")
                }
                guard c.features == fx.model.featureDimension else {
                    throw Failure(description: "\(head!): takes \(c.features) features, \(fx.model.config.name) gives \(fx.model.featureDimension)")
                }
            }
            var temp: String?
            let dir: String
            if let f = features ?? out.map({ $0 + ".features" }) { dir = f } else {
                dir = NSTemporaryDirectory() + "painface-infer-\(getpid())"
                temp = dir
            }
            defer { if let temp { try? FileManager.default.removeItem(atPath: temp) } }
            let fc = try FeatureCache(dir: dir, extractor: fx, cropper: try VideoCropper(options: try cropSettings.options()))
            fc.batch = batch
            let classes = loaded?.1.classes ?? fx.model.config.classes ?? []
            var names = Set<String>()
            let ids = try folders.map { f -> String in
                let id = URL(fileURLWithPath: f).standardized.lastPathComponent
                guard names.insert(id).inserted else { throw Failure(description: "\(f): two input folders are named \(id); their rows would collide") }
                return id
            }
            let counts = folders.map { (try? ImageIO.listFrames($0).frames.count) ?? 0 }
            let total = counts.reduce(0, +)
            stderrLine("infer: \(folders.count) folders, \(total) frames; model \(fx.model.config.name)" + (head.map { ", head \($0)" } ?? "") + "; features in \(dir)")
            let bar = ProgressLine(total: total)
            var lines: [String] = []
            if !json {
                lines.append((["video", "frame", "label"] + classes.map { "p_\($0)" } + ["face_coverage", "frames_used", "frames_total", "source"]).joined(separator: ","))
            }
            func fmt(_ p: [Float]) -> [String] { p.map { String(format: "%.6f", $0) } }
            func emit(video: String, frame: String?, label: String, probs: [Float], coverage: Double?, used: Int?, totalFrames: Int?, source: String?) {
                if json {
                    var o: [String: Any] = ["video": video, "label": label]
                    if let frame { o["frame"] = frame }
                    if !probs.isEmpty { o["probabilities"] = Dictionary(uniqueKeysWithValues: zip(classes, probs.map { Double($0) })) }
                    if let coverage { o["face_coverage"] = coverage }
                    if let used { o["frames_used"] = used }
                    if let totalFrames { o["frames_total"] = totalFrames }
                    if let source { o["source"] = source }
                    lines.append(String(decoding: (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])) ?? Data(), as: UTF8.self))
                } else {
                    let ps = probs.isEmpty ? [String](repeating: "", count: classes.count) : fmt(probs)
                    lines.append(([CSV.escape(video), CSV.escape(frame ?? ""), label] + ps
                                  + [coverage.map { String(format: "%.4f", $0) } ?? "", used.map(String.init) ?? "", totalFrames.map(String.init) ?? "", source ?? ""]).joined(separator: ","))
                }
            }
            var failed = 0
            let t0 = monotonicSeconds()
            for (n, (folder, id)) in zip(folders, ids).enumerated() {
                let before = bar.frames
                do {
                    let lmPath = try cropSettings.landmarkPath(for: folder, several: folders.count > 1)
                    let (_, got) = try fc.extract(videoID: id, folder: folder, landmarks: lmPath, force: force, progress: { done in
                        bar.frames = before + done
                        bar.processed += 1
                        bar.computeTime = monotonicSeconds() - t0
                        bar.update(id)
                    })
                    guard let e = got else { continue }
                    let used = e.positions.count
                    var frameProbs: Tensor?
                    if used == 0 {
                        emit(video: id, frame: nil, label: "no_face", probs: [], coverage: e.coverage, used: 0, totalFrames: e.totalFrames, source: nil)
                    } else if let (m, c) = loaded {
                        let (l, p) = try Heads.predict(m, config: c, features: e.features)
                        if c.head == "framewise" && perFrame { frameProbs = try Heads.framewiseProbabilities(m, features: e.features) }
                        let usedRows = c.head == "lstm" ? min(used, c.sequenceLength ?? 300) : used
                        emit(video: id, frame: nil, label: c.classes[l], probs: p, coverage: e.coverage, used: usedRows, totalFrames: e.totalFrames, source: nil)
                    } else if let p = e.probabilities, !classes.isEmpty {
                        let sum = TopClassSummary(p, rows: used)
                        emit(video: id, frame: nil, label: classes[sum.top], probs: sum.mean, coverage: e.coverage, used: used, totalFrames: e.totalFrames, source: nil)
                        frameProbs = p
                    } else {
                        emit(video: id, frame: nil, label: "", probs: [], coverage: e.coverage, used: used, totalFrames: e.totalFrames, source: nil)
                    }
                    if perFrame {
                        let k = classes.count
                        var row: [Int: Int] = [:]
                        for (r, pos) in e.positions.enumerated() { row[pos] = r }
                        for (i, f) in e.frames.enumerated() {
                            var probs: [Float] = [], label = ""
                            if let r = row[i], let fp = frameProbs {
                                probs = Array(UnsafeBufferPointer(start: fp.data + r * k, count: k))
                                label = classes[probs.indices.max { probs[$0] < probs[$1] }!]
                            }
                            emit(video: id, frame: f, label: label, probs: probs, coverage: nil, used: nil, totalFrames: nil, source: e.sources[i])
                        }
                    }
                } catch {
                    failed += 1
                    if bar.tty { stderrLine("") }
                    stderrLine("error: \(folder): \(error)")
                }
                bar.frames = before + counts[n]
                bar.update(id, force: !bar.tty)
            }
            bar.finish()
            let text = lines.joined(separator: "\n") + "\n"
            if let out { try AtomicFile.write(Data(text.utf8), to: out); stderrLine("infer: wrote \(out)") } else { print(text, terminator: "") }
            if failed > 0 { throw Failure(description: "\(failed) folder(s) failed (see above); the others were written") }
        } catch let e as Failure { throw e } catch { throw fail(error) }
    }
}
