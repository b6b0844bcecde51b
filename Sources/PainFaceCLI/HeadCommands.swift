import ArgumentParser
import Dataset
import Faces
import Features
import Foundation
import Kernels
import NN
import PainFace
import Training
import Weights

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a pain classifier head on a manifest's cached features, or on feature files plus labels.",
        discussion: """
            With a MANIFEST: trains on its train split and stops early on its validation split, \
            reading the features `painface extract` cached (--cache), cut by the protocol \
            (--segment-length; the lstm's sequence length). Otherwise labels: a CSV with columns video,label \
            (label no_pain, low_pain, high_pain or 0-2); \
            video names FEATURES/<video>.safetensors. framewise trains on every frame; lstm on the \
            first --sequence-length frames of each video. Writes OUT.json + OUT.safetensors, \
            OUT.log.csv (loss, validation loss and accuracy per epoch) and OUT.checkpoint.safetensors \
            after every epoch: a killed run started again resumes where it stopped.

            Examples:
              painface train data/manifest.csv --kind framewise --out heads/framewise
              painface train data/manifest.csv --kind lstm --out heads/lstm --segment-length 300
              painface train --features feats/ --labels train.csv --validation-labels val.csv --out heads/fw
            """)

    @Argument(help: "A data set manifest (see `painface dataset check`).") var manifest: String?
    @Option(help: "With a manifest: the cache folder of `painface extract` (default: beside the manifest).") var cache:
        String?
    @Option(help: "The head to train: framewise or lstm.") var kind: String?
    // the old name of --kind; elsewhere --head is a head's path
    @Option(help: .hidden) var head: String?
    @Option(help: "Folder of feature files (without a manifest).") var features: String?
    @Option(help: "Training labels CSV (without a manifest).") var labels: String?
    @Option(help: "Validation labels CSV (early stopping watches its loss).") var validationLabels: String?
    @Option(help: "Output model stem.") var out: String
    @Option(help: "Hidden sizes: framewise 1024,128,32; lstm units1,units2,dense (32,16,16).") var layers: String?
    @Option(help: "Dropout rate.") var dropout: Float = 0.3
    @Option(help: "Frames per sequence (lstm, without a manifest).") var sequenceLength = 300
    @OptionGroup var protocolOptions: ProtocolOptions
    @Option(help: "Batch size.") var batch = 32
    @Option(help: "Maximum epochs.") var epochs = 100
    @Option(help: "Early-stopping patience (epochs).") var patience = 5
    @Flag(help: "Restore the weights of the best validation epoch at the end.") var restoreBest = false
    @Flag(help: "Resume OUT's checkpoint, and refuse one of another run (other data or settings).") var resume = false
    @Flag(help: "Start over: ignore OUT's checkpoint.") var force = false
    @Option(help: "Seed of initialisation, shuffling and dropout.") var seed: UInt64 = 1
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var log: LogOptions

    func run() throws {
        log.apply()
        try reporting {
            if head != nil { Log.warn("train --head is now --kind (--head names a trained head elsewhere)") }
            if kind != nil && head != nil && kind != head {
                throw Failure(description: "--kind \(kind!) and --head \(head!) disagree: give --kind only")
            }
            guard let kind = HeadKind(rawValue: kind ?? head ?? "framewise") else {
                throw Failure(description: "--kind must be framewise or lstm")
            }
            guard (1...100_000).contains(sequenceLength), batch >= 1, epochs >= 1, patience >= 0 else {
                throw Failure(
                    description:
                        "--sequence-length must be 1 to 100000, --batch and --epochs 1 or more, --patience 0 or more")
            }
            let lstm = kind == .lstm
            let train: FeatureSource, validation: FeatureSource?
            if let manifest {
                train = try FeatureSource(
                    manifest: manifest, cache: cache, protocol: try protocolOptions.proto(),
                    classes: try protocolOptions.classSet())
                validation = train
            } else {
                guard let features, let labels else {
                    throw Failure(description: "give a MANIFEST, or --features and --labels")
                }
                let tr = try FeatureSource(
                    features: features, labels: labels, split: "train", sequence: lstm ? sequenceLength : nil,
                    classes: try protocolOptions.classSet())
                train = tr
                validation = try validationLabels.map {
                    try FeatureSource(
                        features: features, labels: $0, split: "validation", sequence: lstm ? sequenceLength : nil,
                        classes: tr.manifest.classes)
                }
            }
            var job = TrainJob(kind: kind)
            job.layers = try layers.map {
                try $0.split(separator: ",").map {
                    guard let n = Int($0), n > 0 else { throw Failure(description: "--layers: bad size \($0)") }
                    return n
                }
            }
            (job.dropout, job.sequenceLength) = (dropout, sequenceLength)
            (job.options.batch, job.options.maxEpochs, job.options.patience) = (batch, epochs, patience)
            (job.options.restoreBestWeights, job.options.seed) = (restoreBest, seed)
            guard !(resume && force) else { throw Failure(description: "--resume and --force exclude each other") }
            job.options.resume = force ? .never : resume ? .require : .ifSameRun
            let r = try job.run(
                train: train, validation: validation, out: out, context: try compute.context(),
                started: { n, dim, from, warnings in
                    for w in warnings { Log.warn(w) }
                    Log.info("\(kind): \(n) training samples of \(dim) features from \(from)")
                },
                notice: { Log.info($0) },
                epoch: { e in
                    Log.info(
                        String(format: "epoch %d: loss %.4f", e.epoch, e.loss)
                            + (e.valLoss.map {
                                String(format: ", val_loss %.4f, val_accuracy %.3f", $0, e.valAccuracy!)
                            } ?? "")
                            + String(format: " (%.1f s)", e.seconds))
                })
            let resumed = r.resumedEpoch > 0 ? " (resumed after epoch \(r.resumedEpoch))" : ""
            print("trained \(kind) for \(r.log.count) epochs\(resumed) -> \(out).json, \(out).safetensors")
        }
    }
}

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract:
            "Evaluate a head on labelled videos: the paper's Table I, the confusion matrix and the learning curves.",
        discussion: """
            With a MANIFEST: the videos of --split, each by its first segment (as the paper: the \
            first 300 frames), from the cache of `painface extract`. Otherwise: feature files plus a \
            labels CSV, each video whole. Writes REPORT/report.md, report.html (confusion matrix \
            and learning curves from HEAD.log.csv as SVG) and metrics.json.

            Examples:
              painface evaluate data/manifest.csv --head heads/framewise --predictions val.csv
              painface evaluate --head heads/lstm --features feats/ --labels val.csv --json eval.json
            """)
    @Argument(help: "A data set manifest.") var manifest: String?
    @Option(help: "Head model stem.") var head: String
    @Option(help: "With a manifest: the split to evaluate.") var split = "validation"
    @Option(help: "With a manifest: the cache folder of `painface extract` (default: beside the manifest).") var cache:
        String?
    @Option(help: "Folder of feature files (without a manifest).") var features: String?
    @Option(help: "Labels CSV (without a manifest).") var labels: String?
    @Option(help: "Report folder (default: HEAD-report-SPLIT).") var report: String?
    @Option(help: "Also write the metrics as JSON here.") var json: String?
    @Option(help: "Write one row per video here: infer's columns, then true (JSON lines if it ends in .jsonl).")
    var predictions: String?
    @Option(
        help: ArgumentHelp(
            "With a manifest: Grad-CAM maps of this many frames on each video's page (`painface explain`); "
                + "give the crop options `extract` was given."))
    var maps = 0
    @OptionGroup var protocolOptions: ProtocolOptions
    @OptionGroup var cropSettings: CropOptionGroup
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var log: LogOptions

    func run() throws {
        log.apply()
        guard (0...256).contains(maps) else { throw Failure(description: "--maps must be 0 to 256") }
        if maps > 0, manifest == nil { throw Failure(description: "--maps needs a MANIFEST (the frames to crop)") }
        try reporting {
            let ctx = try compute.context()
            let h = try Heads.load(stem: head, context: ctx)
            let source: FeatureSource
            if let manifest {
                source = try protocolOptions.source(manifest: manifest, cache: cache, split: split)
            } else {
                guard let features, let labels else {
                    throw Failure(description: "give a MANIFEST, or --features and --labels")
                }
                source = try FeatureSource(
                    features: features, labels: labels, split: split, sequence: nil, classes: ClassSet(h.config.classes)
                )
            }
            let r = try EvaluateJob.run(h, source: source, split: split)
            if !r.leftOut.isEmpty { Log.warn("left out: " + r.leftOut.joined(separator: ", ")) }
            print(r.evaluation.markdownTable(model: h.config.head.reportName))
            print("confusion (rows true, columns predicted): \(r.evaluation.confusion)")
            let dir = report ?? "\(h.stem)-report-\(manifest == nil ? "features" : split)"
            var rep = r.report
            if manifest != nil, !rep.videos.isEmpty {
                rep.links.append(("videos/index.html", "\(rep.videos.count) videos: face crops and classes over time"))
            }
            // the report first: a video whose page fails costs its page only
            try rep.write(to: dir)
            Log.info("report: \(dir)/report.md, \(dir)/report.html, \(dir)/metrics.json")
            if manifest != nil {
                // a page per video beside the report: face crops with their sources, classes over time
                let predictions = rep.videos.map { ($0.id, h.config.classes[$0.predicted]) }
                let videosDir = (dir as NSString).appendingPathComponent("videos")
                let pages = try EvaluationPages.write(
                    to: videosDir, head: h, source: source, predictions: predictions, warn: { Log.warn($0) })
                if maps > 0 {
                    let mapped = try explainPages(
                        head: h, source: source, predictions: predictions, out: videosDir, context: ctx)
                    Log.info("evaluate: maps on \(mapped) of \(pages) video pages")
                }
            }
            if let json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys]
                try AtomicFile.write(try enc.encode(r.evaluation), to: json)
            }
            if let predictions {
                let text = PredictionWriter(
                    classes: h.config.classes, columns: .evaluation, json: TableFormat.jsonLines(file: predictions)
                ).text(r.rows)
                try AtomicFile.write(Data(text.utf8), to: predictions)
            }
        }
    }
}

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Label videos: one row per video, in infer's per-video columns (CSV or JSON lines).",
        discussion: """
            With --manifest: the videos of --split (default test, e.g. for a challenge submission), \
            each by its first segment as in evaluation, from the cache of `painface extract`. \
            Otherwise: feature files, each video whole.

            Examples:
              painface predict --head heads/framewise --manifest data/manifest.csv --out test.csv
              painface predict --head heads/lstm --features feats/ --format jsonl
            """)
    @Option(help: "Head model stem.") var head: String
    @Option(help: "A data set manifest.") var manifest: String?
    @Option(help: "With --manifest: the split to label.") var split = "test"
    @Option(help: "With --manifest: the cache folder of `painface extract` (default: beside the manifest).") var cache:
        String?
    @Option(help: "Folder of feature files (without --manifest).") var features: String?
    @Option(help: "Write the CSV here, atomically (default: standard output).") var out: String?
    @Argument(help: "Video names (feature files; default: every one in the folder).") var videos: [String] = []
    @OptionGroup var output: TableFormat
    @OptionGroup var protocolOptions: ProtocolOptions
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var log: LogOptions

    func run() throws {
        log.apply()
        try reporting {
            let h = try Heads.load(stem: head, context: try compute.context())
            let source: FeatureSource
            if let manifest {
                source = try protocolOptions.source(manifest: manifest, cache: cache, split: split)
            } else {
                guard let features else { throw Failure(description: "give --manifest or --features") }
                source = try FeatureSource(features: features, labels: nil, split: split, sequence: nil, videos: videos)
            }
            let rows = try SplitPredictor.predict(h, source: source, split: split).map { p -> PredictionRow in
                if p.label == nil { Log.warn("\(p.video.id): no segment with a face; its label is no_face") }
                return p.row(classes: h.config.classes)
            }
            let text = PredictionWriter(classes: h.config.classes, columns: .videos, json: try output.jsonLines(out))
                .text(rows)
            if let out { try AtomicFile.write(Data(text.utf8), to: out) } else { print(text, terminator: "") }
        }
    }
}

extension EvaluateCommand {
    /// The evaluated videos' pages with maps, from the extract cache's entries cropped again
    /// with these crop options. A video whose entry no longer matches its frames or these
    /// options (so its crops could differ) keeps its page without maps, with a warning.
    /// Returns the pages with maps.
    func explainPages(
        head h: LoadedHead, source: FeatureSource, predictions: [(String, String)], out: String,
        context ctx: ComputeContext
    ) throws -> Int {
        let fx = try InferJob.featureModel(nil, head: h, context: ctx)
        let cache = try FeatureCache(
            dir: source.cacheDir, extractor: fx, cropper: try VideoCropper(options: try cropSettings.options()))
        let job = try ExplainJob(folders: try FolderList([]), head: h, extractor: fx, cache: cache, out: out)
        (job.framesPerVideo, job.force) = (maps, true)
        job.warn = { Log.warn($0) }
        let byID = Dictionary(source.manifest.videos.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let landmarksOf = Dictionary(
            source.manifest.videos.map { ($0.frames, $0.landmarks) }, uniquingKeysWith: { a, _ in a })
        job.landmarks = { landmarksOf[$0] ?? nil }
        var n = 0
        for (id, predicted) in predictions {
            guard let v = byID[id] else { continue }
            do {
                let entry = try FeatureCache.load(path: cache.path(id))
                guard cache.isCurrent(entry, folder: v.frames, landmarks: v.landmarks) else {
                    Log.warn(
                        "\(id): \(cache.path(id)) does not hold what this model and these crop options give for "
                            + "\(v.frames) now (give the crop options extract was given): its page has no maps")
                    continue
                }
                _ = try job.explain(
                    id: id, folder: v.frames, entry: entry, label: "\(predicted) (true: \(v.labelName ?? "?"))")
                n += 1
            } catch {
                Log.warn("\(id): no maps: \(error)")
            }
        }
        try ExplainReport.writeIndex(out: out)
        return n
    }
}
