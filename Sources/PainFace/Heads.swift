import Dataset
import Foundation
import Kernels
import Training
import Weights

/// The classifier heads users train: files, data loading from feature files, evaluation.
public enum Heads {
    public static let classes = ClassSet.pain.names

    /// Head file: STEM.json (this) + STEM.safetensors (the variables).
    public struct Config: Codable, Sendable {
        public var format = "painface-head/1"
        public var head: String            // framewise | lstm
        public var features: Int
        public var layers: [Int]           // framewise: hidden sizes; lstm: [units1, units2, dense]
        public var dropout: Float
        public var sequenceLength: Int?
        public var classes: [String]
        /// The feature extractor the head was trained on (name or path, and its SHA-256),
        /// when known: `painface infer` uses it by default and refuses another.
        public var featureModel: String?
        public var featureModelSha256: String?

        public init(head: String, features: Int, layers: [Int], dropout: Float, sequenceLength: Int?, classes: [String]) {
            (self.head, self.features, self.layers, self.dropout, self.sequenceLength, self.classes) =
                (head, features, layers, dropout, sequenceLength, classes)
        }
    }

    /// video id -> class index, from a CSV with columns video,label (label: a class name or index).
    public static func readLabels(_ path: String) throws -> [(String, Int)] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ModelFileError(path, "cannot read the labels file")
        }
        var out: [(String, Int)] = []
        for (i, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if i == 0 && f.first == "video" { continue }
            guard f.count >= 2, !f[0].isEmpty else { throw ModelFileError(path, "line \(i + 1): expected video,label") }
            guard let c = classes.firstIndex(of: f[1]) ?? Int(f[1]).flatMap({ (0..<classes.count).contains($0) ? $0 : nil }) else {
                throw ModelFileError(path, "line \(i + 1): unknown label \"\(f[1])\" (\(classes.joined(separator: ", ")) or 0-2)")
            }
            out.append((f[0], c))
        }
        guard !out.isEmpty else { throw ModelFileError(path, "no labelled videos") }
        return out
    }

    /// features [frames, dim] of a video's feature file (DIR/VIDEO.safetensors).
    public static func loadFeatures(dir: String, video: String) throws -> Tensor {
        let path = (dir as NSString).appendingPathComponent(video + ".safetensors")
        guard FileManager.default.fileExists(atPath: path) else { throw ModelFileError(path, "no feature file for video \(video)") }
        let f = try SafeTensorsFile(path: path)
        guard let e = f.entries["features"], e.shape.count == 2, e.shape[0] > 0 else {
            throw ModelFileError(path, "no [frames, dim] tensor named features (or no frames)")
        }
        let t = try f.tensor("features")
        if t.hasNonFinite { throw ModelFileError(path, "features contain NaN or infinite values") }
        return t
    }

    /// The training samples of a set of videos: every frame (framewise) or the first
    /// `sequence` frames of each video (lstm).
    public static func samples(dir: String, labels: [(String, Int)], lstmSequence: Int?) throws -> (Tensor, [Int], Int) {
        var rows: [Float] = [], ys: [Int] = []
        var dim = -1
        for (video, y) in labels {
            let t = try loadFeatures(dir: dir, video: video)
            let (n, d) = (t.shape[0], t.shape[1])
            if dim < 0 { dim = d }
            guard d == dim else {
                throw ModelFileError((dir as NSString).appendingPathComponent(video + ".safetensors"), "feature length \(d), others have \(dim)")
            }
            if let s = lstmSequence {
                guard n >= s else {
                    throw ModelFileError((dir as NSString).appendingPathComponent(video + ".safetensors"), "\(n) frames, the sequence length is \(s)")
                }
                rows += Array(t.buffer[0..<(s * d)])
                ys.append(y)
            } else {
                rows += t.array
                ys += [Int](repeating: y, count: n)
            }
        }
        let shape = lstmSequence.map { [ys.count, $0, dim] } ?? [ys.count, dim]
        return (Tensor(shape: shape, values: rows), ys, dim)
    }

    public static func save(_ model: Trainable, config: Config, stem: String) throws {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        let vars = model.state.filter { !$0.0.hasPrefix("adadelta") }
        try SafeTensorsWriter.write(vars, to: stem + ".safetensors", metadata: ["head": config.head])
        try AtomicFile.write(try e.encode(config), to: stem + ".json")
    }

    /// The stem of a head given as STEM, STEM.json or STEM.safetensors.
    public static func stem(_ path: String) -> String {
        var s = path
        for ext in [".json", ".safetensors"] where s.hasSuffix(ext) { s.removeLast(ext.count) }
        return s
    }

    public static func load(stem: String, context: ComputeContext) throws -> (Trainable, Config) {
        let s = Self.stem(stem)
        guard let d = FileManager.default.contents(atPath: s + ".json") else { throw ModelFileError(s + ".json", "cannot read the head config") }
        let dec = JSONDecoder()
        dec.keyDecodingStrategy = .convertFromSnakeCase
        let c: Config
        do { c = try dec.decode(Config.self, from: d) } catch { throw ModelFileError(s + ".json", "not a PainFace head config: \(error)") }
        let m = try make(c, context: context)
        let f = try SafeTensorsFile(path: s + ".safetensors")
        var st: [String: Tensor] = [:]
        for n in f.tensorNames { st[n] = try f.tensor(n) }
        // optimizer state is not stored with a finished model: keep the fresh zeros
        for (n, t) in m.state where n.hasPrefix("adadelta") { st[n] = t }
        do { try m.restore(st) } catch { throw ModelFileError(s + ".safetensors", "\(error)") }
        return (m, c)
    }

    public static func make(_ c: Config, seed: UInt64 = 1, context: ComputeContext) throws -> Trainable {
        switch c.head {
        case "framewise":
            return try FrameNet(dims: [c.features] + c.layers + [c.classes.count], dropout: c.dropout, seed: seed, context: context)
        case "lstm":
            guard c.layers.count == 3 else { throw TrainingError("an lstm head needs layers [units1, units2, dense]") }
            let n = try LSTMNet(features: c.features, units: (c.layers[0], c.layers[1]), denseUnits: c.layers[2],
                                classes: c.classes.count, dropout: c.dropout, seed: seed, context: context)
            n.sequenceLength = c.sequenceLength ?? 300
            return n
        default:
            throw TrainingError("unknown head \(c.head) (framewise, lstm)")
        }
    }

    /// One video's label from its feature rows [frames, dim]: framewise = majority vote over
    /// all rows, with the mean probabilities; lstm = the first `sequenceLength` rows (a
    /// shorter video is completed by repeating its last row).
    public static func predict(_ model: Trainable, config: Config, features t: Tensor) throws -> (label: Int, probabilities: [Float]) {
        let k = config.classes.count, d = t.shape[1]
        guard t.shape[0] > 0 else { throw TrainingError("no frames to classify") }
        if config.head == "lstm" {
            let s = config.sequenceLength ?? 300
            let x = Tensor(shape: [1, s, d])
            for r in 0..<s {
                x.data.advanced(by: r * d).update(from: t.data + min(r, t.shape[0] - 1) * d, count: d)
            }
            let p = try model.predict(x).array
            return (p.indices.max { p[$0] < p[$1] }!, p)
        }
        let p = try framewiseProbabilities(model, features: t)
        let rows = (0..<t.shape[0]).map { Array(p.buffer[($0 * k)..<(($0 + 1) * k)]) }
        let mean = (0..<k).map { c in rows.reduce(Float(0)) { $0 + $1[c] } / Float(rows.count) }
        return (majorityVote(rows)!, mean)
    }

    /// Per-frame class probabilities of a framewise head [frames, classes].
    public static func framewiseProbabilities(_ model: Trainable, features: Tensor) throws -> Tensor {
        try Trainer(model: model, options: TrainOptions()).predictAll(features)
    }

    /// Per-video predictions from a folder of feature files (the video's whole file).
    public static func predictVideos(_ model: Trainable, config: Config, dir: String, videos: [String]) throws
        -> [(video: String, label: Int, probabilities: [Float])] {
        try videos.map { v in
            let t = try loadFeatures(dir: dir, video: v)
            if config.head == "lstm", let s = config.sequenceLength, t.shape[0] < s {
                throw ModelFileError(v, "\(t.shape[0]) frames, the sequence length is \(s)")
            }
            let (l, p) = try predict(model, config: config, features: t)
            return (v, l, p)
        }
    }
}
