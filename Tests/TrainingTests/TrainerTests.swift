import Foundation
import Kernels
import TestSupport
import Testing
import Training
import Weights

/// Three separable Gaussian blobs in `dim` dimensions.
func blobs(_ n: Int, dim: Int, seed: UInt64) -> (Tensor, [Int]) {
    var rng = SplitMix64(seed: seed)
    let x = Tensor(shape: [n, dim])
    var y: [Int] = []
    for i in 0..<n {
        let c = i % 3
        y.append(c)
        for j in 0..<dim {
            let noise = Float(rng.next() >> 40) * 0x1p-24 - 0.5
            x.data[i * dim + j] = noise + (j % 3 == c ? 2 : 0)
        }
    }
    return (x, y)
}

@Suite struct MetricsTests {
    @Test("precision, recall, F1, accuracy and the confusion matrix on a known case")
    func metrics() {
        let e = Evaluation(truth: [0, 0, 1, 1, 2, 2], predicted: [0, 1, 1, 1, 2, 0], classes: ["no", "low", "high"])
        #expect(e.confusion == [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
        #expect(e.precision == [0.5, 2.0 / 3.0, 1.0])
        #expect(e.recall == [0.5, 1.0, 0.5])
        #expect(abs(e.accuracy - 4.0 / 6.0) < 1e-12)
        #expect(abs(e.f1[1] - 0.8) < 1e-12)
        #expect(e.markdownTable(model: "m").contains("| m | 0.50 / 0.67 / 1.00 / 0.72 |"))
    }

    @Test("majority vote: most frames win; ties go to the larger summed probability, then the lower class")
    func vote() {
        #expect(majorityVote([[0.9, 0.1, 0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]]) == 0)
        #expect(majorityVote([[0.9, 0.1, 0], [0.4, 0.6, 0]]) == 0)  // tie 1-1: class 0 has more mass
        #expect(majorityVote([[0.6, 0.4, 0], [0.4, 0.6, 0]]) == 0)  // tie in votes and mass: lower index
        #expect(majorityVote([]) == nil)
    }

    @Test("inverse class frequency weights, and a missing class is refused")
    func weights() throws {
        #expect(try inverseFrequencyWeights([0, 0, 0, 1, 2, 2], classes: 3) == [Float(6.0 / 9), 2, 1])
        #expect(throws: TrainingError.self) { try inverseFrequencyWeights([0, 1, 1], classes: 3) }
    }
}

@Suite struct TrainerTests {
    @Test("the frame-wise network learns separable data")
    func learns() throws {
        let (x, y) = blobs(300, dim: 12, seed: 1), (vx, vy) = blobs(90, dim: 12, seed: 2)
        let net = try FrameNet(dims: [12, 32, 16, 3], dropout: 0.3, seed: 3, context: try ComputeContext(threads: 2))
        var o = TrainOptions()
        o.maxEpochs = 20
        let log = try Trainer(model: net, options: o).fit(x, y, validation: (vx, vy))
        #expect(log.last!.valAccuracy! > 0.95)
        #expect(log.last!.loss < log.first!.loss)
    }

    @Test("early stopping ends the run `patience` epochs after the best validation loss")
    func earlyStopping() throws {
        let (x, y) = blobs(150, dim: 12, seed: 1)
        let (vx, trueVy) = blobs(60, dim: 12, seed: 2)
        let vy = trueVy.map { ($0 + 1) % 3 }  // validation labels that training can only get wrong
        let net = try FrameNet(dims: [12, 32, 3], dropout: 0, seed: 3, context: try ComputeContext(threads: 2))
        var o = TrainOptions()
        o.maxEpochs = 50
        o.patience = 3
        let log = try Trainer(model: net, options: o).fit(x, y, validation: (vx, vy))
        let losses = log.map { $0.valLoss! }
        let bestEpoch = losses.indices.min { losses[$0] < losses[$1] }!
        #expect(log.count < 50)
        #expect(log.count == bestEpoch + 1 + 3)
    }

    @Test("a run resumed from its checkpoint equals an uninterrupted run bit for bit")
    func resume() throws {
        let (x, y) = blobs(96, dim: 8, seed: 5), (vx, vy) = blobs(30, dim: 8, seed: 6)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pf-ckpt-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var o = TrainOptions()
        o.maxEpochs = 4
        o.patience = 100
        let ctx = try ComputeContext(threads: 2)
        let straight = try FrameNet(dims: [8, 16, 3], dropout: 0.3, seed: 7, context: ctx)
        let logA = try Trainer(model: straight, options: o).fit(x, y, validation: (vx, vy))
        // interrupted after 2 epochs, then a new process (new model object) resumes
        let ckpt = dir.appendingPathComponent("ckpt.safetensors").path, csv = dir.appendingPathComponent("log.csv").path
        var o2 = o
        o2.maxEpochs = 2
        _ = try Trainer(model: try FrameNet(dims: [8, 16, 3], dropout: 0.3, seed: 7, context: ctx), options: o2)
            .fit(x, y, validation: (vx, vy), checkpoint: ckpt, logCSV: csv)
        // other init: the checkpoint wins
        let resumed = try FrameNet(dims: [8, 16, 3], dropout: 0.3, seed: 99, context: ctx)
        let logB = try Trainer(model: resumed, options: o).fit(
            x, y, validation: (vx, vy), checkpoint: ckpt, logCSV: csv)
        #expect(straight.params.flatMap(\.array) == resumed.params.flatMap(\.array))
        #expect(logA.map(\.loss) == logB.map(\.loss))
        let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 5 && lines[0] == "epoch,loss,val_loss,val_accuracy,seconds")
    }

    @Test("NaN features and labels outside the classes are refused with a message")
    func badData() throws {
        let net = try FrameNet(dims: [4, 8, 3], dropout: 0, context: try ComputeContext(threads: 1))
        let x = Tensor(shape: [3, 4], values: [1, 2, 3, 4, 1, .nan, 3, 4, 1, 2, 3, 4])
        #expect(throws: TrainingError.self) { try Trainer(model: net, options: TrainOptions()).fit(x, [0, 1, 2]) }
        let ok = Tensor(shape: [3, 4])
        #expect(throws: TrainingError.self) { try Trainer(model: net, options: TrainOptions()).fit(ok, [0, 1, 5]) }
        #expect(throws: TrainingError.self) {
            try Trainer(model: net, options: TrainOptions()).fit(Tensor(shape: [3, 5]), [0, 1, 2])
        }
    }
}

@Suite struct LSTMTrainerTests {
    @Test("the LSTM network trains on sequences, predicts in inference mode, and resumes")
    func lstmTrains() throws {
        // sequences whose class sets the mean of feature c over time
        var rng = SplitMix64(seed: 12)
        let (n, t, f) = (60, 8, 6)
        let x = Tensor(shape: [n, t, f])
        var y: [Int] = []
        for i in 0..<n {
            y.append(i % 3)
            for s in 0..<t {
                for j in 0..<f {
                    x.data[(i * t + s) * f + j] = Float(rng.next() >> 40) * 0x1p-24 - 0.5 + (j % 3 == i % 3 ? 1.5 : 0)
                }
            }
        }
        let net = try LSTMNet(
            features: f, units: (8, 4), denseUnits: 8, dropout: 0.3, seed: 2, context: try ComputeContext(threads: 2))
        net.sequenceLength = t
        var o = TrainOptions()
        o.batch = 16
        o.maxEpochs = 25
        let log = try Trainer(model: net, options: o).fit(x, y, validation: (x, y))
        #expect(log.last!.loss < log.first!.loss)
        #expect(log.last!.valAccuracy! > 0.8)
        let p = try net.predict(x)
        #expect(p.shape == [n, 3])
    }

    @Test(
        """
        the LSTM network, trained through the Trainer (batches read in place) with dropout, gives the same bits \
        at 1, 2 and 3 threads
        """
    )
    func lstmDeterminism() throws {
        var rng = SplitMix64(seed: 13)
        let (n, t, f) = (40, 9, 70)  // f above one batch-norm row block's width of work
        let x = Tensor(shape: [n, t, f])
        for i in 0..<x.count { x.data[i] = Float(rng.next() >> 40) * 0x1p-24 * 2 - 1 }
        let y = (0..<n).map { $0 % 3 }
        var finals: [[Float]] = []
        for threads in [1, 2, 3] {
            let net = try LSTMNet(
                features: f, units: (8, 4), denseUnits: 8, dropout: 0.3, seed: 5,
                context: try ComputeContext(threads: threads))
            net.sequenceLength = t
            var o = TrainOptions()
            (o.batch, o.maxEpochs, o.seed) = (16, 3, 21)
            _ = try Trainer(model: net, options: o).fit(x, y)
            finals.append(net.state.flatMap { $0.1.array })
        }
        #expect(finals[0].elementsEqual(finals[1]) { $0.bitPattern == $1.bitPattern })
        #expect(finals[0].elementsEqual(finals[2]) { $0.bitPattern == $1.bitPattern })
    }
}

@Suite struct InitialisationTests {
    @Test("Keras defaults: orthonormal recurrent kernels, forget-gate bias 1, glorot limits, BN identity")
    func lstmInit() throws {
        let net = try LSTMNet(features: 10, dropout: 0, seed: 5, context: try ComputeContext(threads: 1))
        for idx in [5, 12] {
            let r = net.variables[idx]
            let (rows, cols) = (r.shape[0], r.shape[1])
            for i in 0..<rows {
                for k in 0..<rows {
                    let dot = (0..<cols).reduce(0.0) {
                        $0 + Double(r.data[i * cols + $1]) * Double(r.data[k * cols + $1])
                    }
                    #expect(abs(dot - (i == k ? 1 : 0)) < 1e-5)
                }
            }
        }
        let b = net.variables[6].array, u = 32
        #expect(
            b[0..<u].allSatisfy { $0 == 0 } && b[u..<(2 * u)].allSatisfy { $0 == 1 }
                && b[(2 * u)...].allSatisfy { $0 == 0 })
        let lim = Float((6.0 / Double(10 + 128)).squareRoot())
        #expect(net.variables[4].array.allSatisfy { abs($0) <= lim })
        #expect(net.variables[0].array.allSatisfy { $0 == 1 } && net.variables[3].array.allSatisfy { $0 == 1 })
    }
}
