import Foundation
import Kernels
import Weights

/// A network the training loop can drive.
public protocol Trainable: AnyObject {
    /// Shape of one sample, e.g. [1024] or [300, 1024].
    var sampleShape: [Int] { get }
    var classCount: Int { get }
    func trainStep(_ x: Tensor, labels: [Int32], classWeights: [Float]?, rng: inout SplitMix64) throws -> Double
    /// One step on the samples `indices` of x (a data set, samples along the first axis).
    /// The default gathers them into `buffer` (at least indices.count samples); a model that
    /// can read samples in place overrides it.
    func trainStep(
        samples x: Tensor, indices: ArraySlice<Int>, buffer: Tensor, labels: [Int32], classWeights: [Float]?,
        rng: inout SplitMix64
    ) throws -> Double
    /// Class probabilities in inference mode (no dropout, moving statistics).
    func predict(_ x: Tensor) throws -> Tensor
    /// Logits in inference mode and the gradient of each sample's logit of `classes[i]` with
    /// respect to its input (saliency maps start from it).
    func logitGradient(_ x: Tensor, classes: [Int]) throws -> (logits: Tensor, gradient: Tensor)
    /// Every tensor needed to resume: parameters, moving statistics and optimizer state.
    var state: [(String, Tensor)] { get }
    func restore(_ state: [String: Tensor]) throws
}

extension Trainable {
    public func trainStep(
        samples x: Tensor, indices: ArraySlice<Int>, buffer: Tensor, labels: [Int32], classWeights: [Float]?,
        rng: inout SplitMix64
    ) throws -> Double {
        let per = x.count / max(x.shape[0], 1)
        let xb =
            indices.count == buffer.shape[0]
            ? buffer : Tensor(view: buffer, shape: [indices.count] + Array(x.shape.dropFirst()))
        for (r, i) in indices.enumerated() { (xb.data + r * per).update(from: x.data + i * per, count: per) }
        return try trainStep(xb, labels: labels, classWeights: classWeights, rng: &rng)
    }
}

public struct TrainOptions: Sendable {
    public var batch = 32
    public var maxEpochs = 100
    /// Early stopping on the validation loss (Keras EarlyStopping, min_delta 0).
    public var patience = 5
    public var restoreBestWeights = false
    public var seed: UInt64 = 1
    /// Inverse class frequency weights N / (K n_c) on the training loss.
    public var classWeights = true
    /// A key of everything the result depends on (data, classes, network, settings), kept in
    /// the checkpoint: only a checkpoint with the same key is resumed.
    public var runKey: String?
    public var resume: ResumePolicy = .ifSameRun
    public init() {}
}

/// What to do with an existing checkpoint.
public enum ResumePolicy: Sendable {
    /// resume it when it is of the same run (same run key), else start afresh
    case ifSameRun
    /// resume it, and refuse a checkpoint of another run
    case require
    /// always start afresh (the checkpoint is overwritten)
    case never
}

public struct EpochLog: Codable, Sendable, Equatable {
    public var epoch: Int
    public var loss: Double
    public var valLoss: Double?
    public var valAccuracy: Double?
    public var seconds: Double
}

/// Mini-batch training with per-epoch shuffling, early stopping, a CSV log and a checkpoint
/// after every epoch (written atomically), from which a killed run resumes bit for bit.
public final class Trainer {
    public let model: Trainable
    public let options: TrainOptions
    public private(set) var log: [EpochLog] = []
    /// Set when a checkpoint existed but was of another run (or resuming was off), so the run
    /// started afresh: why.
    public private(set) var discardedCheckpoint: String?
    /// The epoch a run resumed from (0: a fresh start).
    public private(set) var resumedEpoch = 0

    public init(model: Trainable, options: TrainOptions) {
        self.model = model
        self.options = options
    }

    /// Mean unweighted cross-entropy (Keras's validation loss) and accuracy.
    public func evaluateLoss(_ x: Tensor, _ y: [Int]) throws -> (loss: Double, accuracy: Double) {
        let p = try predictAll(x)
        var loss = 0.0, correct = 0
        let k = model.classCount
        for i in 0..<y.count {
            let row = UnsafeBufferPointer(start: p.data + i * k, count: k)
            loss += -Foundation.log(Double(min(max(row[y[i]], kerasLossClip), 1 - kerasLossClip)))
            if row.indices.max(by: { row[$0] < row[$1] }) == y[i] { correct += 1 }
        }
        return (loss / Double(max(y.count, 1)), Double(correct) / Double(max(y.count, 1)))
    }

    /// Probabilities for every sample, in batches.
    public func predictAll(_ x: Tensor) throws -> Tensor {
        guard x.shape.count >= 2, Array(x.shape.dropFirst()) == model.sampleShape else {
            throw TrainingError("samples of shape \(Array(x.shape.dropFirst())): this model takes \(model.sampleShape)")
        }
        let n = x.shape[0], per = x.count / max(n, 1), k = model.classCount
        let out = Tensor(uninitialized: [n, k])
        for s in stride(from: 0, to: n, by: max(options.batch, 1)) {
            let m = min(options.batch, n - s)
            let xb = Tensor(view: x, offset: s * per, shape: [m] + model.sampleShape)  // no copy
            let p = try model.predict(xb)
            (out.data + s * k).update(from: p.data, count: m * k)
        }
        return out
    }

    /// Trains on (x, y), validating on (vx, vy) each epoch. With `checkpoint`, the state is
    /// saved there after every epoch and an existing checkpoint is resumed from.
    @discardableResult
    public func fit(
        _ x: Tensor, _ y: [Int], validation: (Tensor, [Int])? = nil, checkpoint: String? = nil,
        logCSV: String? = nil, progress: ((EpochLog) -> Void)? = nil
    ) throws -> [EpochLog] {
        let n = y.count
        guard n > 0, x.shape.first == n, Array(x.shape.dropFirst()) == model.sampleShape else {
            throw TrainingError("training data \(x.shape) with \(y.count) labels, expected [n] + \(model.sampleShape)")
        }
        if x.hasNonFinite { throw TrainingError("training features contain NaN or infinite values") }
        let weights = options.classWeights ? try inverseFrequencyWeights(y, classes: model.classCount) : nil
        var rng = SplitMix64(seed: options.seed)
        var best = Double.infinity, wait = 0, start = 0
        var bestState: [(String, Tensor)]?
        var finished = false
        if let checkpoint, FileManager.default.fileExists(atPath: checkpoint),
            let f = try resumable(checkpoint)
        {
            var st: [String: Tensor] = [:]
            for name in f.tensorNames where !name.hasPrefix("best/") {
                st[name] = try f.tensor(name)
                // a checkpoint that diverged is not resumed into a NaN head
                if st[name]!.hasNonFinite { throw ModelFileError(checkpoint, "\(name) holds NaN or infinite values") }
            }
            try model.restore(st)
            guard let e = Int(f.metadata["epoch"] ?? ""), let r = UInt64(f.metadata["rng"] ?? ""),
                let logJSON = f.metadata["log"]
            else { throw ModelFileError(checkpoint, "not a training checkpoint") }
            start = e
            rng.state = r
            best = Double(f.metadata["best"] ?? "") ?? .infinity
            wait = Int(f.metadata["wait"] ?? "") ?? 0
            log = try JSONDecoder().decode([EpochLog].self, from: Data(logJSON.utf8))
            if f.tensorNames.contains(where: { $0.hasPrefix("best/") }) {
                bestState = try f.tensorNames.filter { $0.hasPrefix("best/") }.sorted().map {
                    (String($0.dropFirst(5)), try f.tensor($0))
                }
            }
            resumedEpoch = e
            finished = wait >= options.patience
        }
        let full = Tensor(uninitialized: [min(options.batch, n)] + model.sampleShape)  // the batch buffer, reused
        var epoch = start
        while !finished && epoch < options.maxEpochs {
            let t0 = Double(DispatchTime.now().uptimeNanoseconds) * 1e-9
            var order = Array(0..<n)
            for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            var total = 0.0
            for s in stride(from: 0, to: n, by: options.batch) {
                let idx = order[s..<min(s + options.batch, n)]
                let loss = try model.trainStep(
                    samples: x, indices: idx, buffer: full, labels: idx.map { Int32(y[$0]) },
                    classWeights: weights, rng: &rng)
                if !loss.isFinite { throw TrainingError("the loss became \(loss) in epoch \(epoch + 1)") }
                total += loss * Double(idx.count)
            }
            var entry = EpochLog(epoch: epoch + 1, loss: total / Double(n), seconds: 0)
            if let (vx, vy) = validation {
                let (l, a) = try evaluateLoss(vx, vy)
                entry.valLoss = l
                entry.valAccuracy = a
            }
            entry.seconds = Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 - t0
            log.append(entry)
            epoch += 1
            let monitored = entry.valLoss ?? entry.loss
            if monitored < best {
                best = monitored
                wait = 0
                if options.restoreBestWeights { bestState = model.state.map { ($0.0, $0.1.reshaped($0.1.shape)) } }
            } else {
                wait += 1
            }
            progress?(entry)
            if let logCSV { try writeCSV(logCSV) }
            if let checkpoint {
                var tensors = model.state
                if let b = bestState { tensors += b.map { ("best/\($0.0)", $0.1) } }
                var meta = [
                    "epoch": "\(epoch)", "rng": "\(rng.state)", "best": "\(best)", "wait": "\(wait)",
                    "log": String(decoding: try JSONEncoder().encode(log), as: UTF8.self),
                ]
                if let k = options.runKey { meta["run_key"] = k }
                try SafeTensorsWriter.write(tensors, to: checkpoint, metadata: meta)
            }
            if wait >= options.patience { break }
        }
        if options.restoreBestWeights, let b = bestState { try model.restore(Dictionary(uniqueKeysWithValues: b)) }
        return log
    }

    /// What fit will do with `checkpoint`: nil when there is none, else resume from which epoch,
    /// or start afresh and why. Throws as fit would (resuming required, another run).
    public func checkpointNote(_ checkpoint: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: checkpoint) else {
            if options.resume == .require { throw ModelFileError(checkpoint, "no checkpoint to resume") }
            return nil
        }
        guard let f = try resumable(checkpoint) else { return "\(checkpoint): \(discardedCheckpoint ?? "")" }
        return "\(checkpoint): resuming after epoch \(f.metadata["epoch"] ?? "?") (the same run)"
    }

    /// The checkpoint to resume, or nil to start afresh (its reason in discardedCheckpoint);
    /// throws when resuming is required and the checkpoint is of another run.
    func resumable(_ path: String) throws -> SafeTensorsFile? {
        // before the file is opened: --force must start over from a damaged checkpoint too
        if options.resume == .never {
            discardedCheckpoint = "starting over (--force)"
            return nil
        }
        let f = try SafeTensorsFile(path: path)
        guard options.runKey == nil || f.metadata["run_key"] == options.runKey else {
            let why =
                """
                was trained on other data or settings (run key \(f.metadata["run_key"]?.prefix(12) ?? "none"), \
                this run \(options.runKey!.prefix(12)))
                """
            if options.resume == .require { throw ModelFileError(path, why + "; --force starts over") }
            discardedCheckpoint = why + ": training afresh"
            return nil
        }
        return f
    }

    func writeCSV(_ path: String) throws {
        var s = "epoch,loss,val_loss,val_accuracy,seconds\n"
        for e in log {
            s +=
                "\(e.epoch),\(e.loss),\(e.valLoss.map { "\($0)" } ?? ""),\(e.valAccuracy.map { "\($0)" } ?? ""),"
                + String(format: "%.3f", e.seconds) + "\n"
        }
        try AtomicFile.write(Data(s.utf8), to: path)
    }
}

extension FrameNet: Trainable {
    public var sampleShape: [Int] { [dims[0]] }
    public var classCount: Int { dims.last! }
    public func predict(_ x: Tensor) throws -> Tensor {
        guard x.shape.count == 2, x.shape[1] == dims[0] else {
            throw TrainingError("features of shape \(x.shape): this model takes \(dims[0]) features per frame")
        }
        return predictProbabilities(x)
    }
    public var state: [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        for i in params.indices {
            out += [("param_\(i)", params[i]), ("adadelta_g_\(i)", eg[i]), ("adadelta_d_\(i)", ed[i])]
        }
        return out
    }
    public func restore(_ st: [String: Tensor]) throws {
        packed = nil
        for i in params.indices {
            for (name, t) in [("param_\(i)", params[i]), ("adadelta_g_\(i)", eg[i]), ("adadelta_d_\(i)", ed[i])] {
                guard let s = st[name], s.shape == t.shape else {
                    throw TrainingError("checkpoint lacks \(name) with shape \(t.shape)")
                }
                t.data.update(from: s.data, count: t.count)
            }
        }
    }
}
