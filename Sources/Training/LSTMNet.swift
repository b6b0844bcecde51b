import Foundation
import Kernels

/// The LSTM network's variables by layer. `kerasOrder` is Keras's model.weights order (each
/// BN's gamma, beta, moving mean, moving variance; each LSTM's kernel, recurrent kernel, bias;
/// each dense kernel and bias): the order of checkpoints, head files and the Keras parity test.
public struct LSTMNetVariables {
    public var bn0: BatchNormWeights, lstm1: LSTMWeights, bn1: BatchNormWeights, lstm2: LSTMWeights
    public var bn2: BatchNormWeights, dense1: DenseWeights, dense2: DenseWeights

    public var kerasOrder: [Tensor] {
        func bn(_ b: BatchNormWeights) -> [Tensor] { [b.gamma, b.beta, b.movingMean, b.movingVariance] }
        func lstm(_ l: LSTMWeights) -> [Tensor] { [l.kernel, l.recurrent, l.bias] }
        return bn(bn0) + lstm(lstm1) + bn(bn1) + lstm(lstm2) + bn(bn2)
            + [dense1.kernel, dense1.bias, dense2.kernel, dense2.bias]
    }

    public init(kerasOrder v: [Tensor]) {
        precondition(v.count == 22, "an LSTM network has 22 variables, got \(v.count)")
        func bn(_ i: Int) -> BatchNormWeights {
            BatchNormWeights(gamma: v[i], beta: v[i + 1], movingMean: v[i + 2], movingVariance: v[i + 3])
        }
        func lstm(_ i: Int) -> LSTMWeights { LSTMWeights(kernel: v[i], recurrent: v[i + 1], bias: v[i + 2]) }
        (bn0, lstm1, bn1, lstm2, bn2) = (bn(0), lstm(4), bn(7), lstm(11), bn(14))
        (dense1, dense2) = (DenseWeights(kernel: v[18], bias: v[19]), DenseWeights(kernel: v[20], bias: v[21]))
    }

    /// Zero tensors of these shapes (gradients and optimiser state).
    func zerosLike() -> LSTMNetVariables { LSTMNetVariables(kerasOrder: kerasOrder.map { Tensor(shape: $0.shape) }) }

    /// Positions in kerasOrder of the moving statistics, which are not trained.
    static let movingStatistics: Set<Int> = [2, 3, 9, 10, 16, 17]

    /// Keras's initialiser of each variable, in kerasOrder.
    enum Initializer { case zeros, ones, glorotUniform, orthogonal, unitForgetBias }
    static let initializers: [Initializer] = {
        let bn: [Initializer] = [.ones, .zeros, .zeros, .ones],
            lstm: [Initializer] = [.glorotUniform, .orthogonal, .unitForgetBias]
        return bn + lstm + bn + lstm + bn + [.glorotUniform, .zeros, .glorotUniform, .zeros]
    }()
}

/// The paper's sequence classifier (method.md section 5): BatchNorm, LSTM(32, sequences),
/// BatchNorm, Dropout, LSTM(16, last output), BatchNorm, Dropout, Dense(16, ReLU),
/// Dense(3, softmax); Keras semantics for initialisation, batch normalisation (epsilon 1e-3,
/// momentum 0.99, statistics over batch and time) and Adadelta.
public final class LSTMNet {
    public let features: Int, units1: Int, units2: Int, denseUnits: Int, classes: Int
    /// Time steps per sample (300 = 10 s at 30 fps in the paper).
    public var sequenceLength = 300
    public var dropout: Float
    public var learningRate: Float = 1.0, rho: Float = 0.95, epsilon: Float = 1e-7
    public let bnEpsilon: Float = 1e-3, bnMomentum: Float = 0.99
    public let vars: LSTMNetVariables
    /// Every variable in Keras's model.weights order.
    public var variables: [Tensor] { vars.kerasOrder }
    /// Positions in kerasOrder of the trainable variables (not the moving statistics).
    let trainable: [Int]
    /// Gradients (the moving-statistics slots stay unused) and the Adadelta averages.
    let grads: LSTMNetVariables, eg: LSTMNetVariables, ed: LSTMNetVariables
    let ctx: ComputeContext
    let workspace = Workspace()
    /// Large per-step buffers kept between steps (no page faults on every batch).
    var buffers: [String: Tensor] = [:]

    func buffer(_ name: String, _ shape: [Int]) -> Tensor {
        if let t = buffers[name], t.shape == shape { return t }
        let t = Tensor(uninitialized: shape)
        buffers[name] = t
        return t
    }

    func trace(_ name: String, _ b: Int, _ t: Int, _ u: Int) -> LSTMTrace {
        LSTMTrace(
            h: buffer(name + ".h", [b, t, u]), gates: buffer(name + ".gates", [b, t, 4 * u]),
            cells: buffer(name + ".cells", [b, t, u]))
    }

    public init(
        features: Int, units: (Int, Int) = (32, 16), denseUnits: Int = 16, classes: Int = 3,
        dropout: Float = 0.3, variables: [Tensor]? = nil, seed: UInt64 = 1, context: ComputeContext
    ) throws {
        (self.features, units1, units2, self.denseUnits, self.classes) = (
            features, units.0, units.1, denseUnits, classes
        )
        self.dropout = dropout
        ctx = context
        func bn(_ c: Int) -> [[Int]] { [[c], [c], [c], [c]] }
        func lstm(_ f: Int, _ u: Int) -> [[Int]] { [[f, 4 * u], [u, 4 * u], [4 * u]] }
        let shapes =
            bn(features) + lstm(features, units.0) + bn(units.0) + lstm(units.0, units.1) + bn(units.1)
            + [[units.1, denseUnits], [denseUnits], [denseUnits, classes], [classes]]
        let values: [Tensor]
        if let v = variables {
            guard v.map(\.shape) == shapes else {
                throw KernelError.shape("LSTM network variables \(v.map(\.shape)), expected \(shapes)")
            }
            values = v.map { $0.reshaped($0.shape) }
        } else {
            values = Self.kerasInit(shapes, seed: seed)
        }
        vars = LSTMNetVariables(kerasOrder: values)
        trainable = Array(0..<shapes.count).filter { !LSTMNetVariables.movingStatistics.contains($0) }
        (grads, eg, ed) = (vars.zerosLike(), vars.zerosLike(), vars.zerosLike())
    }

    /// Keras defaults: glorot_uniform kernels, orthogonal recurrent kernels, zero biases with
    /// the LSTM forget gate's part at 1, BN gamma 1, beta 0, moving mean 0, variance 1. The
    /// generator is drawn in kerasOrder.
    static func kerasInit(_ shapes: [[Int]], seed: UInt64) -> [Tensor] {
        var rng = SplitMix64(seed: seed)
        func uniform() -> Float { Float(rng.next() >> 40) * 0x1p-24 * 2 - 1 }
        return zip(shapes, LSTMNetVariables.initializers).map { s, initializer in
            let t = Tensor(shape: s)
            switch initializer {
            case .zeros: break
            case .ones: for j in 0..<t.count { t.data[j] = 1 }
            case .glorotUniform:
                let lim = Float((6.0 / Double(s[0] + s[1])).squareRoot())
                for j in 0..<t.count { t.data[j] = uniform() * lim }
            case .orthogonal: orthogonal(t, &rng)
            case .unitForgetBias:
                let u = s[0] / 4
                for j in u..<(2 * u) { t.data[j] = 1 }
            }
            return t
        }
    }

    /// An orthogonal [u, 4u] matrix: Gram-Schmidt on normal draws (rows orthonormal).
    static func orthogonal(_ t: Tensor, _ rng: inout SplitMix64) {
        let (r, c) = (t.shape[0], t.shape[1])
        var m = [Double](repeating: 0, count: r * c)
        for i in 0..<m.count {
            let u1 = max(Double(rng.next() >> 11) * 0x1p-53, 1e-300), u2 = Double(rng.next() >> 11) * 0x1p-53
            m[i] = (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
        }
        for i in 0..<r {
            for k in 0..<i {
                var dot = 0.0
                for j in 0..<c { dot += m[i * c + j] * m[k * c + j] }
                for j in 0..<c { m[i * c + j] -= dot * m[k * c + j] }
            }
            var n = 0.0
            for j in 0..<c { n += m[i * c + j] * m[i * c + j] }
            n = n.squareRoot()
            // the basis must be unit length
            for j in 0..<c { m[i * c + j] /= n; t.data[i * c + j] = Float(m[i * c + j]) }
        }
    }

    /// One Adadelta step on a batch [b, t, features]; returns the loss before the update.
    public func trainStep(_ x: Tensor, labels: [Int32], classWeights: [Float]?, rng: inout SplitMix64) throws -> Double
    {
        guard x.shape.count == 3, x.shape[2] == features, labels.count == x.shape[0] else {
            throw KernelError.shape("batch \(x.shape) with \(labels.count) labels, expected [b, t, \(features)]")
        }
        return try step(SequenceBatch(x), labels: labels, classWeights: classWeights, rng: &rng)
    }

    /// One step on the sequences `indices` of a set x [n, t, features], read in place.
    public func trainStep(
        samples x: Tensor, indices: ArraySlice<Int>, buffer: Tensor, labels: [Int32], classWeights: [Float]?,
        rng: inout SplitMix64
    ) throws -> Double {
        guard x.shape.count == 3, x.shape[2] == features, labels.count == indices.count,
            indices.allSatisfy({ $0 >= 0 && $0 < x.shape[0] })
        else {
            throw KernelError.shape("samples \(x.shape) with \(labels.count) labels, expected [n, t, \(features)]")
        }
        return try step(
            SequenceBatch(x, indices: Array(indices)), labels: labels, classWeights: classWeights, rng: &rng)
    }

    func step(_ xs: SequenceBatch, labels: [Int32], classWeights: [Float]?, rng: inout SplitMix64) throws -> Double {
        let (b, t) = (xs.count, xs.steps)
        let (u1, u2) = (units1, units2)
        let (v, g) = (vars, grads)
        func mask(_ n: Int) -> [UInt8] {
            dropout > 0
                ? (0..<n).map { _ in Float(rng.next() >> 40) * 0x1p-24 >= dropout ? UInt8(1) : 0 }
                : [UInt8](repeating: 1, count: n)
        }
        // forward
        // the input's batch normalisation is fused into the first LSTM (no gradient for x)
        let s0 = BatchNormStatistics(channels: features)
        let tr1 = trace("l1", b, t, u1)
        ctx.bnLSTMForward(
            xs, v.bn0, epsilon: bnEpsilon, momentum: bnMomentum, v.lstm1, stats: s0, trace: tr1, workspace: workspace)
        let a1 = buffer("a1", tr1.h.shape), s1 = BatchNormStatistics(channels: u1)
        ctx.batchNormTrain(tr1.h, v.bn1, epsilon: bnEpsilon, momentum: bnMomentum, stats: s1, into: a1)
        let mask1 = mask(a1.count)
        ctx.dropout(a1, mask: mask1, rate: dropout, into: a1)
        let tr2 = trace("l2", b, t, u2)
        ctx.lstmForward(a1, v.lstm2, trace: tr2, workspace: workspace)
        let last = Tensor(uninitialized: [b, u2])
        for n in 0..<b { (last.data + n * u2).update(from: tr2.h.data + (n * t + t - 1) * u2, count: u2) }
        let a2 = Tensor(uninitialized: [b, u2]), s2 = BatchNormStatistics(channels: u2)
        ctx.batchNormTrain(last, v.bn2, epsilon: bnEpsilon, momentum: bnMomentum, stats: s2, into: a2)
        let mask2 = mask(a2.count)
        ctx.dropout(a2, mask: mask2, rate: dropout, into: a2)
        let d1 = Tensor(uninitialized: [b, denseUnits]), z = Tensor(uninitialized: [b, classes])
        ctx.denseForward(a2, v.dense1, activation: .relu, into: d1, workspace: workspace)
        ctx.denseForward(d1, v.dense2, into: z, workspace: workspace)
        let p = ctx.softmax(z)
        // backward
        for i in trainable { g.kerasOrder[i].zero() }
        let dz = Tensor(uninitialized: z.shape)
        let loss = ctx.softmaxCrossEntropy(
            probabilities: p, labels: labels, classWeights: classWeights, clip: kerasLossClip, gradient: dz)
        let dd1 = Tensor(uninitialized: d1.shape)
        ctx.denseBackward(x: d1, v.dense2, dy: dz, dx: dd1, gradients: g.dense2, workspace: workspace)
        ctx.reluBackward(output: d1, gradient: dd1, into: dd1)
        let da2 = Tensor(uninitialized: a2.shape)
        ctx.denseBackward(x: a2, v.dense1, dy: dd1, dx: da2, gradients: g.dense1, workspace: workspace)
        ctx.dropout(da2, mask: mask2, rate: dropout, into: da2)
        let dlast = Tensor(uninitialized: last.shape)
        ctx.batchNormBackward(
            x: last, gamma: v.bn2.gamma, stats: s2, dy: da2, dx: dlast, dgamma: g.bn2.gamma, dbeta: g.bn2.beta)
        let dh2 = buffer("dh2", tr2.h.shape)
        dh2.zero()
        for n in 0..<b { (dh2.data + (n * t + t - 1) * u2).update(from: dlast.data + n * u2, count: u2) }
        let da1 = buffer("da1", a1.shape)
        ctx.lstmBackward(x: a1, v.lstm2, trace: tr2, dh: dh2, dx: da1, gradients: g.lstm2, workspace: workspace)
        ctx.dropout(da1, mask: mask1, rate: dropout, into: da1)
        let dh1 = buffer("dh1", tr1.h.shape)
        ctx.batchNormBackward(
            x: tr1.h, gamma: v.bn1.gamma, stats: s1, dy: da1, dx: dh1, dgamma: g.bn1.gamma, dbeta: g.bn1.beta)
        ctx.bnLSTMBackward(
            xs, v.bn0, v.lstm1, stats: s0, trace: tr1, dh: dh1, dgamma: g.bn0.gamma, dbeta: g.bn0.beta,
            gradients: g.lstm1, workspace: workspace)
        let (w, gr, e1, e2) = (vars.kerasOrder, g.kerasOrder, eg.kerasOrder, ed.kerasOrder)
        for i in trainable {
            ctx.adadelta(
                w[i], gradient: gr[i], eg: e1[i], ed: e2[i], learningRate: learningRate, rho: rho, epsilon: epsilon)
        }
        return loss
    }
}

extension LSTMNet: Trainable {
    public var sampleShape: [Int] { [sequenceLength, features] }
    public var classCount: Int { classes }

    /// Inference: moving statistics in the batch normalisations, no dropout.
    public func predict(_ x: Tensor) throws -> Tensor {
        guard x.shape.count == 3, x.shape[2] == features else {
            throw KernelError.shape("input \(x.shape), expected [b, t, \(features)]")
        }
        let (b, t) = (x.shape[0], x.shape[1])
        let v = vars
        func folded(_ bn: BatchNormWeights) -> (scale: Tensor, shift: Tensor) {
            foldBatchNorm(
                gamma: bn.gamma, beta: bn.beta, mean: bn.movingMean, variance: bn.movingVariance, epsilon: bnEpsilon)
        }
        func bn(_ input: Tensor, _ w: BatchNormWeights, _ name: String) -> Tensor {
            let f = folded(w)
            return ctx.affineChannels(input, scale: f.scale, shift: f.shift, into: buffer(name, input.shape))
        }
        // the input's normalisation is applied while the first product packs it
        let f0 = folded(v.bn0)
        let tr1 = trace("p1", b, t, units1)
        ctx.affineLSTMForward(x, scale: f0.scale, shift: f0.shift, v.lstm1, trace: tr1, workspace: workspace)
        let a1 = bn(tr1.h, v.bn1, "pbn1")
        let tr2 = trace("p2", b, t, units2)
        ctx.lstmForward(a1, v.lstm2, trace: tr2, workspace: workspace)
        let last = Tensor(uninitialized: [b, units2])
        for n in 0..<b { (last.data + n * units2).update(from: tr2.h.data + (n * t + t - 1) * units2, count: units2) }
        let a2 = bn(last, v.bn2, "pbn2")
        let d1 = Tensor(uninitialized: [b, denseUnits]), z = Tensor(uninitialized: [b, classes])
        ctx.denseForward(a2, v.dense1, activation: .relu, into: d1, workspace: workspace)
        ctx.denseForward(d1, v.dense2, into: z, workspace: workspace)
        return ctx.softmax(z)
    }

    /// Variables as variable_<i> and the Adadelta state as adadelta_g_<i> / adadelta_d_<i>, with
    /// i the Keras weights position.
    public var state: [(String, Tensor)] {
        var out = variables.enumerated().map { ("variable_\($0.offset)", $0.element) }
        let (g, d) = (eg.kerasOrder, ed.kerasOrder)
        for i in trainable { out += [("adadelta_g_\(i)", g[i]), ("adadelta_d_\(i)", d[i])] }
        return out
    }

    public func restore(_ st: [String: Tensor]) throws {
        for (name, t) in state {
            guard let s = st[name], s.shape == t.shape else {
                throw TrainingError("checkpoint lacks \(name) with shape \(t.shape)")
            }
            t.data.update(from: s.data, count: t.count)
        }
    }
}

extension LSTMNet {
    /// Logits [b, classes] (inference: moving statistics, no dropout) and the gradient of each
    /// sequence's logit of class `classes[i]` with respect to every step's input [b, t, features]:
    /// how much each frame moved the window's score.
    public func logitGradient(_ x: Tensor, classes: [Int]) throws -> (logits: Tensor, gradient: Tensor) {
        guard x.shape.count == 3, x.shape[2] == features, classes.count == x.shape[0],
            classes.allSatisfy({ (0..<self.classes).contains($0) })
        else {
            throw KernelError.shape("input \(x.shape) with \(classes.count) classes, expected [b, t, \(features)]")
        }
        let (b, t) = (x.shape[0], x.shape[1])
        let v = vars, scratch = vars.zerosLike()
        func folded(_ bn: BatchNormWeights) -> (scale: Tensor, shift: Tensor) {
            foldBatchNorm(
                gamma: bn.gamma, beta: bn.beta, mean: bn.movingMean, variance: bn.movingVariance, epsilon: bnEpsilon)
        }
        let f0 = folded(v.bn0), f1 = folded(v.bn1), f2 = folded(v.bn2)
        let a0 = ctx.affineChannels(x, scale: f0.scale, shift: f0.shift)
        let tr1 = LSTMTrace(
            h: Tensor(uninitialized: [b, t, units1]), gates: Tensor(uninitialized: [b, t, 4 * units1]),
            cells: Tensor(uninitialized: [b, t, units1]))
        ctx.lstmForward(a0, v.lstm1, trace: tr1, workspace: workspace)
        let a1 = ctx.affineChannels(tr1.h, scale: f1.scale, shift: f1.shift)
        let tr2 = LSTMTrace(
            h: Tensor(uninitialized: [b, t, units2]), gates: Tensor(uninitialized: [b, t, 4 * units2]),
            cells: Tensor(uninitialized: [b, t, units2]))
        ctx.lstmForward(a1, v.lstm2, trace: tr2, workspace: workspace)
        let last = Tensor(uninitialized: [b, units2])
        for n in 0..<b { (last.data + n * units2).update(from: tr2.h.data + (n * t + t - 1) * units2, count: units2) }
        let a2 = ctx.affineChannels(last, scale: f2.scale, shift: f2.shift)
        let d1 = Tensor(uninitialized: [b, denseUnits]), z = Tensor(uninitialized: [b, self.classes])
        ctx.denseForward(a2, v.dense1, activation: .relu, into: d1, workspace: workspace)
        ctx.denseForward(d1, v.dense2, into: z, workspace: workspace)
        let dz = Tensor(shape: z.shape)
        for (i, c) in classes.enumerated() { dz.data[i * self.classes + c] = 1 }
        let dd1 = Tensor(uninitialized: d1.shape), da2 = Tensor(uninitialized: a2.shape)
        ctx.denseBackward(x: d1, v.dense2, dy: dz, dx: dd1, gradients: scratch.dense2, workspace: workspace)
        ctx.reluBackward(output: d1, gradient: dd1, into: dd1)
        ctx.denseBackward(x: a2, v.dense1, dy: dd1, dx: da2, gradients: scratch.dense1, workspace: workspace)
        let zero2 = Tensor(shape: [units2]), zero1 = Tensor(shape: [units1]), zero0 = Tensor(shape: [features])
        let dlast = ctx.affineChannels(da2, scale: f2.scale, shift: zero2)
        let dh2 = Tensor(shape: tr2.h.shape)
        for n in 0..<b { (dh2.data + (n * t + t - 1) * units2).update(from: dlast.data + n * units2, count: units2) }
        let da1 = Tensor(uninitialized: a1.shape)
        ctx.lstmBackward(x: a1, v.lstm2, trace: tr2, dh: dh2, dx: da1, gradients: scratch.lstm2, workspace: workspace)
        let dh1 = ctx.affineChannels(da1, scale: f1.scale, shift: zero1)
        let da0 = Tensor(uninitialized: a0.shape)
        ctx.lstmBackward(x: a0, v.lstm1, trace: tr1, dh: dh1, dx: da0, gradients: scratch.lstm1, workspace: workspace)
        return (z, ctx.affineChannels(da0, scale: f0.scale, shift: zero0))
    }
}
