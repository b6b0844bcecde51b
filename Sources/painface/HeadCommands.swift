import ArgumentParser
import Foundation
import Kernels
import PainFace
import Training
import Weights

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a pain classifier head on feature files (from `painface features`).",
        discussion: """
        Labels: a CSV with columns video,label (label no_pain, low_pain, high_pain or 0-2); \
        video names FEATURES/<video>.safetensors. framewise trains on every frame; lstm on the \
        first --sequence-length frames of each video. Writes OUT.json + OUT.safetensors, \
        OUT.log.csv (loss, validation loss and accuracy per epoch) and OUT.checkpoint.safetensors \
        after every epoch: a killed run started again resumes where it stopped.
        """)

    @Option(help: "framewise or lstm.") var head = "framewise"
    @Option(help: "Folder of feature files.") var features: String
    @Option(help: "Training labels CSV.") var labels: String
    @Option(help: "Validation labels CSV (early stopping watches its loss).") var validationLabels: String?
    @Option(help: "Output model stem.") var out: String
    @Option(help: "Hidden sizes: framewise 1024,128,32; lstm units1,units2,dense (32,16,16).") var layers: String?
    @Option(help: "Dropout rate.") var dropout: Float = 0.3
    @Option(help: "Frames per sequence (lstm).") var sequenceLength = 300
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
            let train = try Heads.readLabels(labels)
            let (x, y, dim) = try Heads.samples(dir: features, labels: train, lstmSequence: lstm ? sequenceLength : nil)
            var validation: (Tensor, [Int])?
            if let v = validationLabels {
                let (vx, vy, vd) = try Heads.samples(dir: features, labels: try Heads.readLabels(v), lstmSequence: lstm ? sequenceLength : nil)
                guard vd == dim else { throw Failure(description: "\(v): validation features have length \(vd), training \(dim)") }
                validation = (vx, vy)
            }
            let sizes = try (layers ?? (lstm ? "32,16,16" : "1024,128,32")).split(separator: ",").map {
                guard let n = Int($0), n > 0 else { throw Failure(description: "--layers: bad size \($0)") }
                return n
            }
            let config = Heads.Config(head: head, features: dim, layers: sizes, dropout: dropout,
                                      sequenceLength: lstm ? sequenceLength : nil, classes: Heads.classes)
            let model = try Heads.make(config, seed: seed, context: ctx)
            var o = TrainOptions()
            (o.batch, o.maxEpochs, o.patience, o.restoreBestWeights, o.seed) = (batch, epochs, patience, restoreBest, seed)
            stderrLine("\(head): \(y.count) training samples of \(dim) features from \(train.count) videos")
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
        abstract: "Evaluate a head on labelled videos: the paper's Table I, as Markdown and JSON.")
    @Option(help: "Head model stem.") var head: String
    @Option(help: "Folder of feature files.") var features: String
    @Option(help: "Labels CSV.") var labels: String
    @Option(help: "Write the metrics as JSON here.") var json: String?
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        do {
            let (model, config) = try Heads.load(stem: head, context: try compute.context())
            let truth = try Heads.readLabels(labels)
            let preds = try Heads.predictVideos(model, config: config, dir: features, videos: truth.map(\.0))
            let e = Evaluation(truth: truth.map(\.1), predicted: preds.map(\.label), classes: config.classes)
            print(e.markdownTable(model: config.head == "lstm" ? "LSTM" : "frame-wise + vote"))
            print("confusion (rows true, columns predicted): \(e.confusion)")
            if let json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys]
                try AtomicFile.write(try enc.encode(e), to: json)
            }
        } catch let e as Failure { throw e } catch { throw fail(error) }
    }
}

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Label videos from their feature files: CSV rows video,label,p_no_pain,p_low_pain,p_high_pain.")
    @Option(help: "Head model stem.") var head: String
    @Option(help: "Folder of feature files.") var features: String
    @Argument(help: "Video names (default: every feature file in the folder).") var videos: [String] = []
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        do {
            let (model, config) = try Heads.load(stem: head, context: try compute.context())
            var names = videos
            if names.isEmpty {
                names = try FileManager.default.contentsOfDirectory(atPath: features).filter { $0.hasSuffix(".safetensors") }
                    .map { String($0.dropLast(12)) }.sorted()
            }
            print("video,label," + config.classes.map { "p_\($0)" }.joined(separator: ","))
            for p in try Heads.predictVideos(model, config: config, dir: features, videos: names) {
                print("\(p.video),\(config.classes[p.label])," + p.probabilities.map { String(format: "%.6f", $0) }.joined(separator: ","))
            }
        } catch let e as Failure { throw e } catch { throw fail(error) }
    }
}
