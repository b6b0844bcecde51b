import CKernels
import Foundation
import Kernels

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
    /// Every variable in Keras's model.weights order: for each BN gamma, beta, moving mean,
    /// moving variance; for each LSTM kernel, recurrent kernel, bias; for each dense kernel, bias.
    public private(set) var variables: [Tensor]
    /// Indices of the trainable variables (not the moving statistics).
    let trainable: [Int]
    var grads: [Int: Tensor] = [:], eg: [Int: Tensor] = [:], ed: [Int: Tensor] = [:]
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

    // variable indices
    static let bn0 = 0, lstm1 = 4, bn1 = 7, lstm2 = 11, bn2 = 14, dense1 = 18, dense2 = 20

    public init(features: Int, units: (Int, Int) = (32, 16), denseUnits: Int = 16, classes: Int = 3,
                dropout: Float = 0.3, variables: [Tensor]? = nil, seed: UInt64 = 1, context: ComputeContext) throws {
        (self.features, units1, units2, self.denseUnits, self.classes) = (features, units.0, units.1, denseUnits, classes)
        self.dropout = dropout
        ctx = context
        let shapes: [[Int]] = [[features], [features], [features], [features],
                               [features, 4 * units.0], [units.0, 4 * units.0], [4 * units.0],
                               [units.0], [units.0], [units.0], [units.0],
                               [units.0, 4 * units.1], [units.1, 4 * units.1], [4 * units.1],
                               [units.1], [units.1], [units.1], [units.1],
                               [units.1, denseUnits], [denseUnits], [denseUnits, classes], [classes]]
        if let v = variables {
            guard v.map(\.shape) == shapes else { throw KernelError.shape("LSTM network variables \(v.map(\.shape)), expected \(shapes)") }
            self.variables = v.map { $0.reshaped($0.shape) }
        } else {
            self.variables = try Self.kerasInit(shapes, seed: seed)
        }
        trainable = Array(0..<shapes.count).filter { ![2, 3, 9, 10, 16, 17].contains($0) }
        for i in trainable {
            grads[i] = Tensor(shape: shapes[i]); eg[i] = Tensor(shape: shapes[i]); ed[i] = Tensor(shape: shapes[i])
        }
    }

    /// Keras defaults: glorot_uniform kernels, orthogonal recurrent kernels, zero biases with
    /// the LSTM forget gate's part at 1, BN gamma 1, beta 0, moving mean 0, variance 1.
    static func kerasInit(_ shapes: [[Int]], seed: UInt64) throws -> [Tensor] {
        var rng = SplitMix64(seed: seed)
        func uniform() -> Float { Float(rng.next() >> 40) * 0x1p-24 * 2 - 1 }
        return shapes.enumerated().map { i, s in
            let t = Tensor(shape: s)
            switch i {
            case 0, 3, 7, 10, 14, 17: for j in 0..<t.count { t.data[j] = 1 }      // gamma, moving variance
            case 4, 11, 18, 20:
                let lim = Float((6.0 / Double(s[0] + s[1])).squareRoot())
                for j in 0..<t.count { t.data[j] = uniform() * lim }
            case 5, 12: orthogonal(t, &rng)
            case 6, 13:
                let u = s[0] / 4
                for j in u..<(2 * u) { t.data[j] = 1 }                              // unit_forget_bias
            default: break
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
            for j in 0..<c { m[i * c + j] /= n; t.data[i * c + j] = Float(m[i * c + j]) }   // the basis must be unit length
        }
    }

    func v(_ i: Int) -> UnsafeMutablePointer<Float> { variables[i].data }
    func wsLSTM(_ b: Int, _ t: Int, _ f: Int, _ u: Int) -> UnsafeMutablePointer<Float> {
        workspace.floats(ck_lstm_workspace_size(ctx.rawPointer, b, t, f, u))
    }
    func wsDense(_ m: Int, _ k: Int, _ n: Int) -> UnsafeMutablePointer<Float> {
        workspace.floats(ck_dense_workspace_size(ctx.rawPointer, m, k, n))
    }
    func g(_ i: Int) -> UnsafeMutablePointer<Float> { grads[i]!.data }

    /// One Adadelta step on a batch [b, t, features]; returns the loss before the update.
    public func trainStep(_ x: Tensor, labels: [Int32], classWeights: [Float]?, rng: inout SplitMix64) throws -> Double {
        guard x.shape.count == 3, x.shape[2] == features, labels.count == x.shape[0] else {
            throw KernelError.shape("batch \(x.shape) with \(labels.count) labels, expected [b, t, \(features)]")
        }
        let (b, t) = (x.shape[0], x.shape[1])
        let seqs = (0..<b).map { UnsafePointer(x.data + $0 * t * features) }
        return try step(seqs, t: t, labels: labels, classWeights: classWeights, rng: &rng)
    }

    /// One step on the sequences `indices` of a set x [n, t, features], read in place.
    public func trainStep(samples x: Tensor, indices: ArraySlice<Int>, buffer: Tensor, labels: [Int32], classWeights: [Float]?,
                          rng: inout SplitMix64) throws -> Double {
        guard x.shape.count == 3, x.shape[2] == features, labels.count == indices.count, indices.allSatisfy({ $0 >= 0 && $0 < x.shape[0] }) else {
            throw KernelError.shape("samples \(x.shape) with \(labels.count) labels, expected [n, t, \(features)]")
        }
        let t = x.shape[1]
        return try step(indices.map { UnsafePointer(x.data + $0 * t * features) }, t: t, labels: labels,
                        classWeights: classWeights, rng: &rng)
    }

    func step(_ seqs: [UnsafePointer<Float>], t: Int, labels: [Int32], classWeights: [Float]?, rng: inout SplitMix64) throws -> Double {
        let b = seqs.count
        let c = ctx.rawPointer
        let (u1, u2) = (units1, units2)
        func mask(_ n: Int) -> [UInt8] {
            dropout > 0 ? (0..<n).map { _ in Float(rng.next() >> 40) * 0x1p-24 >= dropout ? UInt8(1) : 0 } : [UInt8](repeating: 1, count: n)
        }
        // forward
        // the input's batch normalisation is fused into the first LSTM (no gradient for x)
        let m0 = Tensor(uninitialized: [features]), i0 = Tensor(uninitialized: [features])
        let xs = seqs.map { Optional($0) }
        let h1 = buffer("h1", [b, t, u1]), g1 = buffer("g1", [b, t, 4 * u1]), c1 = buffer("c1", [b, t, u1])
        let ws1 = workspace.floats(ck_bn_lstm_workspace_size(c, b, t, features, u1))
        ck_bn_lstm_forward(c, b, t, features, u1, xs, v(0), v(1), bnEpsilon, bnMomentum, v(2), v(3), v(4), v(5), v(6),
                           m0.data, i0.data, h1.data, g1.data, c1.data, ws1)
        let a1 = buffer("a1", h1.shape), m1 = Tensor(uninitialized: [u1]), i1 = Tensor(uninitialized: [u1])
        ck_batchnorm_train(b * t, u1, h1.data, v(7), v(8), bnEpsilon, bnMomentum, v(9), v(10), m1.data, i1.data, a1.data)
        let mask1 = mask(a1.count)
        ck_dropout_apply(a1.count, a1.data, mask1, dropout, a1.data)
        let h2 = buffer("h2", [b, t, u2]), g2 = buffer("g2", [b, t, 4 * u2]), c2 = buffer("c2", [b, t, u2])
        ck_lstm_forward(c, b, t, u1, u2, a1.data, v(11), v(12), v(13), h2.data, g2.data, c2.data, wsLSTM(b, t, u1, u2))
        let last = Tensor(uninitialized: [b, u2])
        for n in 0..<b { (last.data + n * u2).update(from: h2.data + (n * t + t - 1) * u2, count: u2) }
        let a2 = Tensor(uninitialized: [b, u2]), m2 = Tensor(uninitialized: [u2]), i2 = Tensor(uninitialized: [u2])
        ck_batchnorm_train(b, u2, last.data, v(14), v(15), bnEpsilon, bnMomentum, v(16), v(17), m2.data, i2.data, a2.data)
        let mask2 = mask(a2.count)
        ck_dropout_apply(a2.count, a2.data, mask2, dropout, a2.data)
        let d1 = Tensor(uninitialized: [b, denseUnits]), z = Tensor(uninitialized: [b, classes])
        ck_dense_forward(c, b, u2, denseUnits, a2.data, v(18), v(19), CK_ACT_RELU, d1.data, wsDense(b, u2, denseUnits))
        ck_dense_forward(c, b, denseUnits, classes, d1.data, v(20), v(21), CK_ACT_NONE, z.data, wsDense(b, denseUnits, classes))
        let p = ctx.softmax(z)
        // backward
        for i in trainable { memset(g(i), 0, grads[i]!.count * 4) }
        let dz = Tensor(uninitialized: z.shape)
        let loss = labels.withUnsafeBufferPointer { l in
            (classWeights ?? []).withUnsafeBufferPointer { w in
                ck_softmax_xent(b, classes, p.data, l.baseAddress, classWeights == nil ? nil : w.baseAddress, 1e-7, dz.data)
            }
        }
        let dd1 = Tensor(uninitialized: d1.shape)
        ck_dense_backward(c, b, denseUnits, classes, d1.data, v(20), dz.data, dd1.data, g(20), g(21), wsDense(b, denseUnits, classes))
        ck_relu_backward(dd1.count, d1.data, dd1.data, dd1.data)
        let da2 = Tensor(uninitialized: a2.shape)
        ck_dense_backward(c, b, u2, denseUnits, a2.data, v(18), dd1.data, da2.data, g(18), g(19), wsDense(b, u2, denseUnits))
        ck_dropout_apply(da2.count, da2.data, mask2, dropout, da2.data)
        let dlast = Tensor(uninitialized: last.shape)
        ck_batchnorm_backward(b, u2, last.data, v(14), m2.data, i2.data, da2.data, dlast.data, g(14), g(15))
        let dh2 = buffer("dh2", h2.shape)
        memset(dh2.data, 0, dh2.count * 4)
        for n in 0..<b { (dh2.data + (n * t + t - 1) * u2).update(from: dlast.data + n * u2, count: u2) }
        let da1 = buffer("da1", a1.shape)
        ck_lstm_backward(c, b, t, u1, u2, a1.data, v(11), v(12), h2.data, g2.data, c2.data, dh2.data, da1.data, g(11), g(12), g(13),
                         wsLSTM(b, t, u1, u2))
        ck_dropout_apply(da1.count, da1.data, mask1, dropout, da1.data)
        let dh1 = buffer("dh1", h1.shape)
        ck_batchnorm_backward(b * t, u1, h1.data, v(7), m1.data, i1.data, da1.data, dh1.data, g(7), g(8))
        ck_bn_lstm_backward(c, b, t, features, u1, xs, m0.data, i0.data, v(0), v(1), v(4), v(5), h1.data, g1.data, c1.data, dh1.data,
                            g(0), g(1), g(4), g(5), g(6), workspace.floats(ck_bn_lstm_workspace_size(c, b, t, features, u1)))
        for i in trainable {
            ck_adadelta(ctx.rawPointer, variables[i].count, v(i), g(i), eg[i]!.data, ed[i]!.data, learningRate, rho, epsilon)
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
        let c = ctx.rawPointer
        func bn(_ input: Tensor, _ at: Int) -> Tensor {
            let f = foldBatchNorm(gamma: variables[at], beta: variables[at + 1], mean: variables[at + 2],
                                  variance: variables[at + 3], epsilon: bnEpsilon)
            return ctx.affineChannels(input, scale: f.scale, shift: f.shift, into: buffer("pbn\(at)", input.shape))
        }
        // the input's normalisation is applied while the first product packs it
        let f0 = foldBatchNorm(gamma: variables[0], beta: variables[1], mean: variables[2], variance: variables[3], epsilon: bnEpsilon)
        let h1 = buffer("ph1", [b, t, units1]), g1 = buffer("pg1", [b, t, 4 * units1]), c1 = buffer("pc1", [b, t, units1])
        ck_affine_lstm_forward(c, b, t, features, units1, x.data, f0.scale.data, f0.shift.data, v(4), v(5), v(6),
                               h1.data, g1.data, c1.data, workspace.floats(ck_affine_lstm_workspace_size(c, features, units1)))
        let a1 = bn(h1, 7)
        let h2 = buffer("ph2", [b, t, units2]), g2 = buffer("pg2", [b, t, 4 * units2]), c2 = buffer("pc2", [b, t, units2])
        ck_lstm_forward(c, b, t, units1, units2, a1.data, v(11), v(12), v(13), h2.data, g2.data, c2.data, wsLSTM(b, t, units1, units2))
        let last = Tensor(uninitialized: [b, units2])
        for n in 0..<b { (last.data + n * units2).update(from: h2.data + (n * t + t - 1) * units2, count: units2) }
        let a2 = bn(last, 14)
        let d1 = Tensor(uninitialized: [b, denseUnits]), z = Tensor(uninitialized: [b, classes])
        ck_dense_forward(c, b, units2, denseUnits, a2.data, v(18), v(19), CK_ACT_RELU, d1.data, wsDense(b, units2, denseUnits))
        ck_dense_forward(c, b, denseUnits, classes, d1.data, v(20), v(21), CK_ACT_NONE, z.data, wsDense(b, denseUnits, classes))
        return ctx.softmax(z)
    }

    public var state: [(String, Tensor)] {
        var out = variables.enumerated().map { ("variable_\($0.offset)", $0.element) }
        for i in trainable { out += [("adadelta_g_\(i)", eg[i]!), ("adadelta_d_\(i)", ed[i]!)] }
        return out
    }

    public func restore(_ st: [String: Tensor]) throws {
        var pairs = variables.enumerated().map { ("variable_\($0.offset)", $0.element) }
        for i in trainable { pairs += [("adadelta_g_\(i)", eg[i]!), ("adadelta_d_\(i)", ed[i]!)] }
        for (name, t) in pairs {
            guard let s = st[name], s.shape == t.shape else { throw TrainingError("checkpoint lacks \(name) with shape \(t.shape)") }
            t.data.update(from: s.data, count: t.count)
        }
    }
}
