import Dataset
import Features
import Foundation
import Kernels
import Training
import Weights

/// The two classifier heads of the paper.
public enum HeadKind: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
    /// dense layers per frame, a majority vote per video
    case framewise
    /// LSTMs over a sequence of frames
    case lstm
    public var description: String { rawValue }
    /// The name in reports (the paper's Table I).
    public var reportName: String { self == .lstm ? "LSTM" : "frame-wise + vote" }
    /// Default hidden sizes: framewise dense layers; lstm units1, units2, dense.
    public var defaultLayers: [Int] { self == .lstm ? [32, 16, 16] : [1024, 128, 32] }
}

/// The data a head was trained on.
public struct TrainingRecord: Codable, Sendable {
    /// The manifest, or the feature folder with its labels file.
    public var source: String
    /// SHA-256 of the manifest or labels file.
    public var sourceSha256: String?
    public var videos: Int
    /// Training samples (frames, or sequences) per class name.
    public var samplesPerClass: [String: Int]
    /// The key of the training run (data, classes, network, settings) its checkpoint carries.
    public var runKey: String
}

/// A head loaded from its files: the network and its config.
public struct LoadedHead {
    public let model: Trainable
    public let config: Heads.Config
    public let stem: String
}

/// The classifier heads users train: files, labels, per-video prediction.
public enum Heads {

    /// Head file: STEM.json (this) + STEM.safetensors (the variables).
    public struct Config: Codable, Sendable {
        public var format = "painface-head/1"
        public var head: HeadKind
        public var features: Int
        public var layers: [Int]  // framewise: hidden sizes; lstm: [units1, units2, dense]
        public var dropout: Float
        public var sequenceLength: Int?
        public var classes: [String]
        /// The feature extractor the head was trained on (name or path, and its SHA-256),
        /// when known: `painface infer` uses it by default and refuses another.
        public var featureModel: String?
        public var featureModelSha256: String?
        /// What the head was trained on, to trace it.
        public var trainedOn: TrainingRecord?

        /// The largest layer a head may have (a config asking for more is refused, not allocated).
        public static let maxUnits = 1 << 16

        /// What is wrong with the config, if anything.
        public var problem: String? {
            if classes.count < 2 || Set(classes).count != classes.count {
                return "classes \(classes): a head needs two or more distinct classes"
            }
            if !(1...Self.maxUnits).contains(features) { return "features \(features): must be 1 to \(Self.maxUnits)" }
            if let bad = layers.first(where: { !(1...Self.maxUnits).contains($0) }) {
                return "layer size \(bad): must be 1 to \(Self.maxUnits)"
            }
            if head == .lstm && layers.count != 3 { return "an lstm head needs layers [units1, units2, dense]" }
            if !(dropout >= 0 && dropout < 1) { return "dropout \(dropout): must be in [0, 1)" }
            if head == .lstm, !(1...100_000).contains(sequenceLength ?? SegmentProtocol.defaultLength) {
                return "sequence_length \(sequenceLength ?? 0): must be 1 to 100000"
            }
            return nil
        }

        public init(
            head: HeadKind, features: Int, layers: [Int], dropout: Float, sequenceLength: Int?, classes: [String]
        ) {
            (self.head, self.features, self.layers, self.dropout, self.sequenceLength, self.classes) =
                (head, features, layers, dropout, sequenceLength, classes)
        }
    }

    /// (video id, label) rows of a CSV with columns video,label; the labels are class names
    /// (or indices) resolved against a class set by the caller.
    public static func readLabels(_ path: String) throws -> [(video: String, label: String, line: Int)] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelFileError(path, "cannot read the labels file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ModelFileError(path, "the labels file is not UTF-8 text (save it as UTF-8)")
        }
        var out: [(video: String, label: String, line: Int)] = []
        for (i, f) in CSV.parse(text).enumerated() {
            let f = f.map { $0.trimmingCharacters(in: .whitespaces) }
            if i == 0 && f.first == "video" { continue }
            if f.allSatisfy(\.isEmpty) { continue }
            guard f.count >= 2, !f[0].isEmpty, !f[1].isEmpty else {
                throw ModelFileError(path, "line \(i + 1): expected video,label")
            }
            out.append((f[0], f[1], i + 1))
        }
        guard !out.isEmpty else { throw ModelFileError(path, "no labelled videos") }
        return out
    }

    public static func save(_ model: Trainable, config: Config, stem: String) throws {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        let vars = model.state.filter { !$0.0.hasPrefix("adadelta") }
        try SafeTensorsWriter.write(vars, to: stem + ".safetensors", metadata: ["head": config.head.rawValue])
        try AtomicFile.write(try e.encode(config), to: stem + ".json")
    }

    /// The stem of a head given as STEM, STEM.json or STEM.safetensors.
    public static func stem(_ path: String) -> String {
        var s = path
        for ext in [".json", ".safetensors"] where s.hasSuffix(ext) { s.removeLast(ext.count) }
        return s
    }

    public static func load(stem: String, context: ComputeContext) throws -> LoadedHead {
        let s = Self.stem(stem)
        guard let d = FileManager.default.contents(atPath: s + ".json") else {
            throw ModelFileError(s + ".json", "cannot read the head config")
        }
        let dec = JSONDecoder()
        dec.keyDecodingStrategy = .convertFromSnakeCase
        let c: Config
        do { c = try dec.decode(Config.self, from: d) } catch {
            throw ModelFileError(s + ".json", "not a PainFace head config: \(error)")
        }
        if let problem = c.problem { throw ModelFileError(s + ".json", problem) }
        let m = try make(c, context: context)
        let f = try SafeTensorsFile(path: s + ".safetensors")
        var st: [String: Tensor] = [:]
        for n in f.tensorNames {
            st[n] = try f.tensor(n)
            if st[n]!.hasNonFinite { throw ModelFileError(s + ".safetensors", "\(n) holds NaN or infinite values") }
        }
        // optimizer state is not stored with a finished model: keep the fresh zeros
        for (n, t) in m.state where n.hasPrefix("adadelta") { st[n] = t }
        do { try m.restore(st) } catch { throw ModelFileError(s + ".safetensors", "\(error)") }
        return LoadedHead(model: m, config: c, stem: s)
    }

    public static func make(_ c: Config, seed: UInt64 = 1, context: ComputeContext) throws -> Trainable {
        switch c.head {
        case .framewise:
            return try FrameNet(
                dims: [c.features] + c.layers + [c.classes.count], dropout: c.dropout, seed: seed, context: context)
        case .lstm:
            guard c.layers.count == 3 else { throw TrainingError("an lstm head needs layers [units1, units2, dense]") }
            let n = try LSTMNet(
                features: c.features, units: (c.layers[0], c.layers[1]), denseUnits: c.layers[2],
                classes: c.classes.count, dropout: c.dropout, seed: seed, context: context)
            n.sequenceLength = c.sequenceLength ?? SegmentProtocol.defaultLength
            return n
        }
    }

    /// One video's label from its feature rows [frames, dim]: framewise = majority vote over
    /// all rows, with the mean probabilities; lstm = the first `sequenceLength` rows (a
    /// shorter video is completed by repeating its last row).
    public static func predict(
        _ model: Trainable, config: Config, features t: Tensor
    ) throws -> (label: Int, probabilities: [Float]) {
        let (l, p) = try predictUnchecked(model, config: config, features: t)
        // a head whose logits overflow gives NaN: an error, never a label
        guard p.allSatisfy(\.isFinite) else {
            throw TrainingError("the head gave NaN or infinite probabilities (check its weights and the features)")
        }
        return (l, p)
    }

    static func predictUnchecked(
        _ model: Trainable, config: Config, features t: Tensor
    ) throws -> (label: Int, probabilities: [Float]) {
        let k = config.classes.count, d = t.shape[1]
        guard t.shape[0] > 0 else { throw TrainingError("no frames to classify") }
        if config.head == .lstm {
            let x = window(t, config: config)
            let p = try model.predict(x).array
            return (p.indices.max { p[$0] < p[$1] }!, p)
        }
        let p = try framewiseProbabilities(model, features: t)
        let rows = (0..<t.shape[0]).map { Array(p.buffer[($0 * k)..<(($0 + 1) * k)]) }
        let mean = (0..<k).map { c in rows.reduce(Float(0)) { $0 + $1[c] } / Float(rows.count) }
        return (majorityVote(rows)!, mean)
    }

    /// An LSTM head's input from feature rows [frames, dim]: the first sequenceLength rows, a
    /// shorter video completed by repeating its last row [1, length, dim].
    public static func window(_ t: Tensor, config: Config) -> Tensor {
        let s = config.sequenceLength ?? SegmentProtocol.defaultLength, d = t.shape[1]
        let x = Tensor(shape: [1, s, d])
        for r in 0..<s { (x.data + r * d).update(from: t.data + min(r, t.shape[0] - 1) * d, count: d) }
        return x
    }

    /// Per-frame class probabilities of a framewise head [frames, classes].
    public static func framewiseProbabilities(_ model: Trainable, features: Tensor) throws -> Tensor {
        try Trainer(model: model, options: TrainOptions()).predictAll(features)
    }
}
