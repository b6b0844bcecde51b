import Dataset
import Features
import Foundation
import Imaging
import Kernels
import Training
import Weights

/// Where a head command's features come from: a manifest with the cache of `painface
/// extract`, or a folder of `painface features` files with labels, which becomes a manifest
/// in memory (one video per labels row) read the same way.
public struct FeatureSource {
    public let manifest: Manifest
    public let cacheDir: String
    public private(set) var proto: SegmentProtocol
    /// True for a manifest file (the AI4Pain protocol); false for feature files, which are
    /// used whole (lstm: their first sequence).
    public let isManifest: Bool
    /// For messages: the manifest, or the folder and its labels.
    public let description: String

    /// A manifest and its cache (default: MANIFEST-without-extension.cache beside it).
    public init(manifest path: String, cache: String?, protocol proto: SegmentProtocol, classes: ClassSet? = nil) throws
    {
        manifest = try Manifest(path: path, classes: classes)
        if let p = manifest.problem(with: proto) { throw ModelFileError(path, p) }
        cacheDir = Self.cacheFolder(cache, manifest: path)
        self.proto = proto
        isManifest = true
        description = path
    }

    /// Feature files DIR/<video>.safetensors; `labels` (video,label rows) and `split`
    /// name the videos; without labels, every feature file of the folder, unlabelled.
    /// `sequence`: an lstm head's sequence length (its first frames), nil for whole videos;
    /// `classes`: the class set the labels name (default: derived from them, ClassSet.of).
    public init(
        features dir: String, labels: String?, split: String, sequence: Int?, videos names: [String] = [],
        classes given: ClassSet? = nil
    ) throws {
        var classes = given ?? .pain
        var videos: [ManifestVideo] = []
        if !names.isEmpty {
            for (i, n) in names.enumerated() {
                videos.append(
                    ManifestVideo(
                        id: n, participant: "", split: split, label: nil, frames: "", landmarks: nil, line: i + 1))
            }
        } else if let labels {
            let rows = try Heads.readLabels(labels)
            classes = ClassSet.of(rows.map(\.label), given: given)
            for (video, label, line) in rows {
                guard let y = classes.resolve(label) else {
                    throw ModelFileError(labels, "line \(line): unknown label \"\(label)\" (\(classes.list))")
                }
                videos.append(
                    ManifestVideo(
                        id: video, participant: "", split: split, label: y, frames: "", landmarks: nil, line: line,
                        labelName: classes[y]))
            }
        } else {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
                throw ModelFileError(dir, "cannot read the feature folder")
            }
            for (i, n) in names.filter({ $0.hasSuffix(".safetensors") && !$0.hasPrefix(".") }).sorted().enumerated() {
                videos.append(
                    ManifestVideo(
                        id: String(n.dropLast(12)), participant: "", split: split, label: nil, frames: "",
                        landmarks: nil, line: i + 1))
            }
        }
        manifest = Manifest(path: labels ?? dir, videos: videos, classes: classes)
        cacheDir = dir
        proto =
            sequence.map { SegmentProtocol(length: $0, scope: .firstRows) } ?? SegmentProtocol(scope: .wholeVideo)
        isManifest = false
        description = labels.map { "\(dir) with labels \($0)" } ?? dir
    }

    /// The cache folder of a manifest: `cache`, else MANIFEST-without-extension.cache beside it.
    public static func cacheFolder(_ cache: String?, manifest: String) -> String {
        cache ?? ((manifest as NSString).deletingPathExtension + ".cache")
    }

    /// The same source read with an lstm head's sequence length (feature files: their first
    /// frames; a manifest: its segments, as the head was trained).
    public func withSequence(_ s: Int?) -> FeatureSource {
        guard let s else { return self }
        var copy = self
        copy.proto.length = s
        if proto.scope == .wholeVideo { copy.proto.scope = .firstRows }
        return copy
    }
}

/// `painface train`: a head trained on the train split (or the labelled feature files), early
/// stopping on the validation videos, with a checkpoint every epoch.
public struct TrainJob {
    public var kind: HeadKind
    public var layers: [Int]?
    public var dropout: Float = 0.3
    /// Without a manifest: frames per lstm sequence (with one, the segment length).
    public var sequenceLength = SegmentProtocol.defaultLength
    public var options = TrainOptions()

    public init(kind: HeadKind) { self.kind = kind }

    public struct Result {
        public let log: [EpochLog]
        public let samples: Int, dim: Int
        /// The epoch its checkpoint resumed from (0: trained from the start).
        public let resumedEpoch: Int
    }

    /// Trains on `train`, validating on `validation` when it has labelled videos; writes
    /// OUT.json + OUT.safetensors, OUT.log.csv and OUT.checkpoint.safetensors. `started`
    /// hears the data's size before the first epoch.
    public func run(
        train: FeatureSource, validation: FeatureSource?, out: String, context: ComputeContext,
        started: (_ samples: Int, _ dim: Int, _ from: String, _ warnings: [String]) -> Void = { _, _, _, _ in },
        notice: (String) -> Void = { _ in },
        epoch: ((EpochLog) -> Void)? = nil
    ) throws -> Result {
        let lstm = kind == .lstm
        let seqLen = train.isManifest ? train.proto.length : sequenceLength
        let classes = train.manifest.classes
        guard classes.count >= 2 else {
            throw ModelFileError(
                train.description, "the labels name one class (\(classes.list)): a head needs two or more (--classes)")
        }
        let tr = try CachedData.samples(
            train.manifest, split: "train", cacheDir: train.cacheDir, protocol: train.proto,
            sequence: lstm ? seqLen : nil)
        var counts = [Int](repeating: 0, count: classes.count)
        for y in tr.y { counts[y] += 1 }
        if let missing = counts.firstIndex(of: 0) {
            throw ModelFileError(
                train.description, "class \(classes[missing]) has no training samples (classes: \(classes.list))")
        }
        var val: (Tensor, [Int])?
        if let v = validation, v.manifest.videos(split: "validation").contains(where: { $0.label != nil }) {
            guard v.manifest.classes == classes else {
                throw ModelFileError(
                    v.description,
                    "validation classes (\(v.manifest.classes.list)) differ from training's (\(classes.list))")
            }
            let va = try CachedData.samples(
                v.manifest, split: "validation", cacheDir: v.cacheDir, protocol: v.proto,
                sequence: lstm ? seqLen : nil)
            guard va.modelSHA256 == tr.modelSHA256 else {
                throw ModelFileError(
                    v.cacheDir,
                    "validation and training features come from different models or precisions; "
                        + "re-run painface extract")
            }
            guard va.dim == tr.dim else {
                throw ModelFileError(v.cacheDir, "validation features have length \(va.dim), training \(tr.dim)")
            }
            val = (va.x, va.y)
        }
        var config = Heads.Config(
            head: kind, features: tr.dim, layers: layers ?? kind.defaultLayers, dropout: dropout,
            sequenceLength: lstm ? seqLen : nil, classes: train.manifest.classes.names)
        if train.isManifest { (config.featureModel, config.featureModelSha256) = (tr.modelName, tr.modelHash) }
        var options = self.options
        options.runKey = try Self.runKey(config: config, options: options, train: (tr.x, tr.y), validation: val)
        let file = train.manifest.path
        config.trainedOn = TrainingRecord(
            source: train.description,
            sourceSha256: FileManager.default.contents(atPath: file).map { d in
                var h = SHA256(); h.update(d); return h.finalize()
            },
            videos: tr.videos,
            samplesPerClass: Dictionary(uniqueKeysWithValues: classes.names.enumerated().map { ($1, counts[$0]) }),
            runKey: options.runKey!)
        if let problem = config.problem { throw JobError(problem) }
        guard options.batch >= 1, options.maxEpochs >= 1, options.patience >= 0 else {
            throw JobError(
                """
                batch \(options.batch), epochs \(options.maxEpochs), patience \(options.patience): batch and \
                epochs must be 1 or more, patience 0 or more
                """
            )
        }
        let model = try Heads.make(config, seed: options.seed, context: context)
        started(
            tr.y.count, tr.dim,
            train.isManifest ? "\(tr.videos) training videos of \(train.description)" : "\(tr.videos) videos",
            tr.warnings)
        let folder = (out as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        let trainer = Trainer(model: model, options: options)
        if let note = try trainer.checkpointNote(out + ".checkpoint.safetensors") { notice(note) }
        let log = try trainer.fit(
            tr.x, tr.y, validation: val, checkpoint: out + ".checkpoint.safetensors",
            logCSV: out + ".log.csv", progress: epoch)
        try Heads.save(model, config: config, stem: out)
        return Result(log: log, samples: tr.y.count, dim: tr.dim, resumedEpoch: trainer.resumedEpoch)
    }

    /// A 64-bit key over everything a trained head depends on: the head's config (kind, sizes,
    /// dropout, sequence, classes, feature model), the training options, the PainFace
    /// version, and the bytes of the training and validation samples and labels.
    static func runKey(
        config: Heads.Config, options o: TrainOptions, train: (Tensor, [Int]), validation: (Tensor, [Int])?
    ) throws
        -> String
    {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        var c = config
        c.trainedOn = nil
        let settings =
            String(decoding: try enc.encode(c), as: UTF8.self)
            + ";batch=\(o.batch);seed=\(o.seed);class_weights=\(o.classWeights);restore_best=\(o.restoreBestWeights)"
            + ";adadelta=1.0,0.95,1e-7;version=\(PainFaceInfo.version)"
        var h = ContentHash.hash64(Data(settings.utf8))
        for (x, y) in [train] + (validation.map { [$0] } ?? []) {
            h = ContentHash.hash64(Data(bytesNoCopy: x.data, count: x.count * 4, deallocator: .none), seed: h)
            h = y.withUnsafeBytes { ContentHash.hash64(Data($0), seed: h) }
            h = ContentHash.hash64(Data("|".utf8), seed: h)
        }
        return ContentHash.hex(h)
    }
}

/// A video's label from its first segment, as the paper evaluates: the shared step of
/// `evaluate` and `predict`.
public struct VideoPrediction {
    public let video: ManifestVideo
    /// nil when the video has no segment with a face
    public let label: Int?
    public let probabilities: [Float]
    public var coverage: Double?
    /// Frames whose features the head used (the first segment's frames with a face), and the
    /// frames of the video.
    public var framesUsed = 0
    public var framesTotal: Int?

    /// The per-video output row (`classes`: the head's); `truth` for an evaluation.
    public func row(classes: [String], truth: String? = nil) -> PredictionRow {
        PredictionRow(
            video: video.id, truth: truth, label: label.map { classes[$0] } ?? "no_face", probabilities: probabilities,
            coverage: coverage, framesUsed: framesUsed, framesTotal: framesTotal)
    }
}

public enum SplitPredictor {
    /// Every video of `split`, labelled by `head` from the first segment of its features.
    public static func predict(_ head: LoadedHead, source: FeatureSource, split: String) throws -> [VideoPrediction] {
        let c = head.config
        var src = source
        if c.head == .lstm { src = source.withSequence(c.sequenceLength) }
        return try CachedData.firstSegments(
            src.manifest, split: split, cacheDir: src.cacheDir, protocol: src.proto
        ).map { s in
            guard let rows = s.rows else {
                return VideoPrediction(
                    video: s.video, label: nil, probabilities: [], coverage: s.coverage, framesTotal: s.framesTotal)
            }
            guard rows.shape[1] == c.features else {
                throw ModelFileError(
                    (src.cacheDir as NSString).appendingPathComponent(s.video.id + ".safetensors"),
                    "\(rows.shape[1]) features, the head takes \(c.features)")
            }
            let (l, p) = try Heads.predict(head.model, config: c, features: rows)
            return VideoPrediction(
                video: s.video, label: l, probabilities: p, coverage: s.coverage, framesUsed: rows.shape[0],
                framesTotal: s.framesTotal)
        }
    }
}

/// `painface evaluate`: the paper's Table I on the labelled videos of a split, and a report.
public struct EvaluationResult {
    public let evaluation: Evaluation
    public let report: Report
    public let rows: [PredictionRow]
    /// Videos left out, with the reason.
    public let leftOut: [String]
}

public enum EvaluateJob {
    public static func run(_ head: LoadedHead, source: FeatureSource, split: String) throws -> EvaluationResult {
        let c = head.config
        var truth: [Int] = [], used: [VideoPrediction] = [], left: [String] = []
        for p in try SplitPredictor.predict(head, source: source, split: split) {
            guard let name = p.video.labelName else { left.append("\(p.video.id) (no label)"); continue }
            // the truth by class name: the head may list its classes in another order
            guard let y = c.classes.firstIndex(of: name) else {
                throw ModelFileError(
                    source.description,
                    "\(p.video.id): label \(name) is not a class of the head (\(c.classes.joined(separator: ", ")))")
            }
            guard p.label != nil else { left.append("\(p.video.id) (no segment with a face)"); continue }
            truth.append(y)
            used.append(p)
        }
        guard !truth.isEmpty else {
            throw ModelFileError(source.description, "no labelled \(split) videos to evaluate")
        }
        let e = Evaluation(truth: truth, predicted: used.map { $0.label! }, classes: c.classes)
        var r = Report(
            title: "PainFace evaluation: \((head.stem as NSString).lastPathComponent)", model: c.head.reportName,
            evaluation: e)
        let proto = source.withSequence(c.head == .lstm ? c.sequenceLength : nil).proto
        r.notes = [
            source.isManifest
                ? """
                data: \(source.description), split \(split), \(truth.count) videos, first \(proto.length)-frame \
                segment of each
                """
                : "data: \(source.description), \(truth.count) videos"
        ]
        r.notes.append(
            "head: \(head.stem) (\(c.head), \(c.features) features" + (c.featureModel.map { " from \($0)" } ?? "") + ")"
        )
        if FileManager.default.fileExists(atPath: head.stem + ".log.csv") {
            r.curves = try Report.readLog(head.stem + ".log.csv")
        }
        r.provenance = [
            "head": head.stem, "head_kind": c.head.rawValue, "feature_model": c.featureModel ?? "",
            "data": source.description, "split": split,
            "segment": source.isManifest ? "first \(proto.length)-frame segment of each video" : "the feature files",
        ]
        r.videos = zip(used, truth).map { ($0.video.id, $1, $0.label!, $0.probabilities) }
        let rows = zip(used, truth).map { p, y in p.row(classes: c.classes, truth: c.classes[y]) }
        return EvaluationResult(evaluation: e, report: r, rows: rows, leftOut: left)
    }
}
