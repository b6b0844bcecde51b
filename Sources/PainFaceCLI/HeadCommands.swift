import ArgumentParser
import Dataset
import Faces
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
        (--segment-length; the lstm's sequence length). Otherwise labels: a CSV with columns video,label (label no_pain, low_pain, high_pain or 0-2); \
        video names FEATURES/<video>.safetensors. framewise trains on every frame; lstm on the \
        first --sequence-length frames of each video. Writes OUT.json + OUT.safetensors, \
        OUT.log.csv (loss, validation loss and accuracy per epoch) and OUT.checkpoint.safetensors \
        after every epoch: a killed run started again resumes where it stopped.
        """)

    @Argument(help: "A data set manifest (see `painface dataset check`).") var manifest: String?
    @Option(help: "With a manifest: the cache folder of `painface extract` (default: beside the manifest).") var cache: String?
    @Option(help: "framewise or lstm.") var head = "framewise"
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
    @Option(help: "Seed of initialisation, shuffling and dropout.") var seed: UInt64 = 1
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        do {
            let ctx = try compute.context()
            let lstm = head == "lstm"
            guard lstm || head == "framewise" else { throw Failure(description: "--head must be framewise or lstm") }
            let x: Tensor, y: [Int], dim: Int, sources: String
            var validation: (Tensor, [Int])?
            var featureModel: (String, String)?
            var seqLen = sequenceLength
            if let manifest {
                let m = try Manifest(path: manifest)
                let proto = try protocolOptions.proto()
                let dir = cacheFolder(cache, manifest: manifest)
                seqLen = proto.length
                let tr = try CachedData.samples(m, split: "train", cacheDir: dir, protocol: proto, sequence: lstm ? seqLen : nil)
                for w in tr.warnings { stderrLine("warning: \(w)") }
                (x, y, dim) = (tr.x, tr.y, tr.dim)
                featureModel = (tr.modelName, tr.modelSHA256)
                sources = "\(tr.videos) training videos of \(manifest)"
                if m.videos(split: "validation").contains(where: { $0.label != nil }) {
                    let va = try CachedData.samples(m, split: "validation", cacheDir: dir, protocol: proto, sequence: lstm ? seqLen : nil)
                    guard va.modelSHA256 == tr.modelSHA256 else { throw Failure(description: "\(dir): validation and training features come from different models; re-run painface extract") }
                    validation = (va.x, va.y)
                }
            } else {
                guard let features, let labels else { throw Failure(description: "give a MANIFEST, or --features and --labels") }
                let train = try Heads.readLabels(labels)
                (x, y, dim) = try Heads.samples(dir: features, labels: train, lstmSequence: lstm ? sequenceLength : nil)
                sources = "\(train.count) videos"
                if let v = validationLabels {
                    let (vx, vy, vd) = try Heads.samples(dir: features, labels: try Heads.readLabels(v), lstmSequence: lstm ? sequenceLength : nil)
                    guard vd == dim else { throw Failure(description: "\(v): validation features have length \(vd), training \(dim)") }
                    validation = (vx, vy)
                }
            }
            let sizes = try (layers ?? (lstm ? "32,16,16" : "1024,128,32")).split(separator: ",").map {
                guard let n = Int($0), n > 0 else { throw Failure(description: "--layers: bad size \($0)") }
                return n
            }
            var config = Heads.Config(head: head, features: dim, layers: sizes, dropout: dropout,
                                      sequenceLength: lstm ? seqLen : nil, classes: Heads.classes)
            (config.featureModel, config.featureModelSha256) = (featureModel?.0, featureModel?.1)
            let model = try Heads.make(config, seed: seed, context: ctx)
            var o = TrainOptions()
            (o.batch, o.maxEpochs, o.patience, o.restoreBestWeights, o.seed) = (batch, epochs, patience, restoreBest, seed)
            stderrLine("\(head): \(y.count) training samples of \(dim) features from \(sources)")
            let log = try Trainer(model: model, options: o).fit(
                x, y, validation: validation, checkpoint: out + ".checkpoint.safetensors", logCSV: out + ".log.csv") { e in
                stderrLine(String(format: "epoch %d: loss %.4f", e.epoch, e.loss)
                           + (e.valLoss.map { String(format: ", val_loss %.4f, val_accuracy %.3f", $0, e.valAccuracy!) } ?? "")
                           + String(format: " (%.1f s)", e.seconds))
            }
            try Heads.save(model, config: config, stem: out)
            print("trained \(head) for \(log.count) epochs -> \(out).json, \(out).safetensors")
        } catch let e as Failure { throw e } catch { throw fail(error) }
    }
}

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Evaluate a head on labelled videos: the paper's Table I, the confusion matrix and the learning curves.",
        discussion: """
        With a MANIFEST: the videos of --split, each by its first segment (as the paper: the \
        first 300 frames), from the cache of `painface extract`. Otherwise: feature files plus a \
        labels CSV, each video whole. Writes REPORT/report.md, report.html (confusion matrix \
        and learning curves from HEAD.log.csv as SVG) and metrics.json.
        """)
    @Argument(help: "A data set manifest.") var manifest: String?
    @Option(help: "Head model stem.") var head: String
    @Option(help: "With a manifest: the split to evaluate.") var split = "validation"
    @Option(help: "With a manifest: the cache folder of `painface extract` (default: beside the manifest).") var cache: String?
    @Option(help: "Folder of feature files (without a manifest).") var features: String?
    @Option(help: "Labels CSV (without a manifest).") var labels: String?
    @Option(help: "Report folder (default: HEAD-report-SPLIT).") var report: String?
    @Option(help: "Also write the metrics as JSON here.") var json: String?
    @Option(help: "Write one row per video (video,true,predicted,p_...) as CSV here.") var predictions: String?
    @OptionGroup var protocolOptions: ProtocolOptions
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        do {
            let (model, config) = try Heads.load(stem: head, context: try compute.context())
            var truth: [Int] = [], preds: [(video: String, label: Int, probabilities: [Float])] = []
            var notes: [String] = []
            let stem = Heads.stem(head)
            if let manifest {
                guard Manifest.splits.contains(split) else { throw Failure(description: "--split must be train, validation or test") }
                let m = try Manifest(path: manifest)
                var proto = try protocolOptions.proto()
                if config.head == "lstm", let s = config.sequenceLength { proto.length = s }
                let dir = cacheFolder(cache, manifest: manifest)
                var left: [String] = []
                for (v, rows) in try CachedData.firstSegments(m, split: split, cacheDir: dir, protocol: proto) {
                    guard let y = v.label else { left.append("\(v.id) (no label)"); continue }
                    guard let rows else { left.append("\(v.id) (no segment with a face)"); continue }
                    guard rows.shape[1] == config.features else {
                        throw Failure(description: "\(dir)/\(v.id).safetensors: \(rows.shape[1]) features, the head takes \(config.features)")
                    }
                    let (l, p) = try Heads.predict(model, config: config, features: rows)
                    truth.append(y)
                    preds.append((v.id, l, p))
                }
                if !left.isEmpty { stderrLine("left out: " + left.joined(separator: ", ")) }
                guard !truth.isEmpty else { throw Failure(description: "\(manifest): no labelled \(split) videos to evaluate") }
                notes.append("data: \(manifest), split \(split), \(truth.count) videos, first \(proto.length)-frame segment of each")
            } else {
                guard let features, let labels else { throw Failure(description: "give a MANIFEST, or --features and --labels") }
                let t = try Heads.readLabels(labels)
                truth = t.map(\.1)
                preds = try Heads.predictVideos(model, config: config, dir: features, videos: t.map(\.0))
                notes.append("data: \(features) with labels \(labels), \(truth.count) videos")
            }
            let e = Evaluation(truth: truth, predicted: preds.map(\.label), classes: config.classes)
            let name = config.head == "lstm" ? "LSTM" : "frame-wise + vote"
            print(e.markdownTable(model: name))
            print("confusion (rows true, columns predicted): \(e.confusion)")
            var r = Report(title: "PainFace evaluation: \((stem as NSString).lastPathComponent)", model: name, evaluation: e)
            r.notes = notes + ["head: \(stem) (\(config.head), \(config.features) features" + (config.featureModel.map { " from \($0)" } ?? "") + ")"]
            if FileManager.default.fileExists(atPath: stem + ".log.csv") { r.curves = try Report.readLog(stem + ".log.csv") }
            r.videos = zip(preds, truth).map { (p, y) in (p.video, y, p.label, p.probabilities) }
            let out = report ?? "\(stem)-report-\(manifest == nil ? "features" : split)"
            try r.write(to: out)
            stderrLine("report: \(out)/report.md, \(out)/report.html, \(out)/metrics.json")
            if let json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys]
                try AtomicFile.write(try enc.encode(e), to: json)
            }
            if let predictions {
                var s = "video,true,predicted," + config.classes.map { "p_\($0)" }.joined(separator: ",") + "\n"
                for (p, y) in zip(preds, truth) {
                    s += "\(CSV.escape(p.video)),\(config.classes[y]),\(config.classes[p.label]),"
                        + p.probabilities.map { String(format: "%.6f", $0) }.joined(separator: ",") + "\n"
                }
                try AtomicFile.write(Data(s.utf8), to: predictions)
            }
        } catch let e as Failure { throw e } catch { throw fail(error) }
    }
}

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Label videos: CSV rows video,label,p_no_pain,p_low_pain,p_high_pain.",
        discussion: """
        With --manifest: the videos of --split (default test, e.g. for a challenge submission), \
        each by its first segment as in evaluation, from the cache of `painface extract`. \
        Otherwise: feature files, each video whole.
        """)
    @Option(help: "Head model stem.") var head: String
    @Option(help: "A data set manifest.") var manifest: String?
    @Option(help: "With --manifest: the split to label.") var split = "test"
    @Option(help: "With --manifest: the cache folder of `painface extract` (default: beside the manifest).") var cache: String?
    @Option(help: "Folder of feature files (without --manifest).") var features: String?
    @Option(help: "Write the CSV here, atomically (default: standard output).") var out: String?
    @Argument(help: "Video names (feature files; default: every one in the folder).") var videos: [String] = []
    @OptionGroup var protocolOptions: ProtocolOptions
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        do {
            let (model, config) = try Heads.load(stem: head, context: try compute.context())
            var rows: [(video: String, label: String, probabilities: [Float])] = []
            if let manifest {
                guard Manifest.splits.contains(split) else { throw Failure(description: "--split must be train, validation or test") }
                let m = try Manifest(path: manifest)
                var proto = try protocolOptions.proto()
                if config.head == "lstm", let s = config.sequenceLength { proto.length = s }
                let dir = cacheFolder(cache, manifest: manifest)
                for (v, seg) in try CachedData.firstSegments(m, split: split, cacheDir: dir, protocol: proto) {
                    guard let seg else {
                        stderrLine("warning: \(v.id): no segment with a face; its row has an empty label")
                        rows.append((v.id, "", []))
                        continue
                    }
                    guard seg.shape[1] == config.features else {
                        throw Failure(description: "\(dir)/\(v.id).safetensors: \(seg.shape[1]) features, the head takes \(config.features)")
                    }
                    let (l, p) = try Heads.predict(model, config: config, features: seg)
                    rows.append((v.id, config.classes[l], p))
                }
            } else {
                guard let features else { throw Failure(description: "give --manifest or --features") }
                var names = videos
                if names.isEmpty {
                    names = try FileManager.default.contentsOfDirectory(atPath: features).filter { $0.hasSuffix(".safetensors") }
                        .map { String($0.dropLast(12)) }.sorted()
                }
                rows = try Heads.predictVideos(model, config: config, dir: features, videos: names).map { ($0.video, config.classes[$0.label], $0.probabilities) }
            }
            var text = "video,label," + config.classes.map { "p_\($0)" }.joined(separator: ",") + "\n"
            for r in rows {
                let p = r.probabilities.isEmpty ? [String](repeating: "", count: config.classes.count) : r.probabilities.map { String(format: "%.6f", $0) }
                text += ([CSV.escape(r.video), r.label] + p).joined(separator: ",") + "\n"
            }
            if let out { try AtomicFile.write(Data(text.utf8), to: out) } else { print(text, terminator: "") }
        } catch let e as Failure { throw e } catch { throw fail(error) }
    }
}
