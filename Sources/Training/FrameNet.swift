import Foundation
import Kernels

/// The paper's frame-wise classifier: dense layers with ReLU and dropout between them, a
/// softmax output (defaults: 1024, 128, 32, 3 on the feature length), trained with weighted
/// categorical cross-entropy and Adadelta exactly as Keras does (method.md section 6).
public final class FrameNet {
    public let dims: [Int]
    public var dropout: Float
    /// W0, b0, W1, b1, ...: kernels [in, out] and biases.
    public private(set) var params: [Tensor]
    var grads: [Tensor], eg: [Tensor], ed: [Tensor]
    let ctx: ComputeContext
    let workspace = Workspace()
    public var learningRate: Float = 1.0, rho: Float = 0.95, epsilon: Float = 1e-7

    /// - Parameters:
    ///   - dims: input length, hidden sizes, classes (for example [1024, 1024, 128, 32, 3]).
    ///   - weights: initial parameters in order; nil = Keras defaults (glorot_uniform
    ///     kernels, zero biases) from `seed`.
    public init(
        dims: [Int], dropout: Float = 0.3, weights: [Tensor]? = nil, seed: UInt64 = 1,
        context: ComputeContext
    ) throws {
        guard dims.count >= 2, dims.allSatisfy({ $0 > 0 }) else { throw KernelError.shape("bad layer sizes \(dims)") }
        guard (0..<1).contains(dropout) else { throw KernelError.shape("dropout must be in [0, 1), got \(dropout)") }
        self.dims = dims
        self.dropout = dropout
        ctx = context
        var p: [Tensor] = []
        var rng = SplitMix64(seed: seed)
        for l in 0..<(dims.count - 1) {
            let (fi, fo) = (dims[l], dims[l + 1])
            if let w = weights {
                guard w.count == 2 * (dims.count - 1), w[2 * l].shape == [fi, fo], w[2 * l + 1].shape == [fo] else {
                    throw KernelError.shape("initial weights do not match layer sizes \(dims)")
                }
                p.append(w[2 * l].reshaped([fi, fo]))
                p.append(w[2 * l + 1].reshaped([fo]))
            } else {
                let lim = Float((6.0 / Double(fi + fo)).squareRoot())
                let k = Tensor(shape: [fi, fo])
                for i in 0..<k.count { k.data[i] = (Float(rng.next() >> 40) * 0x1p-24 * 2 - 1) * lim }
                p.append(k)
                p.append(Tensor(shape: [fo]))
            }
        }
        params = p
        grads = p.map { Tensor(shape: $0.shape) }
        eg = p.map { Tensor(shape: $0.shape) }
        ed = p.map { Tensor(shape: $0.shape) }
    }

    var layers: Int { dims.count - 1 }
    /// Weights packed for inference, made on first use after a change (training packs them
    /// anew in every product, as they change every step).
    var packed: [PackedMatrix]?
    var predictBuffers: [Int: Tensor] = [:]

    func weights(_ l: Int) -> DenseWeights { DenseWeights(kernel: params[2 * l], bias: params[2 * l + 1]) }
    func gradients(_ l: Int) -> DenseWeights { DenseWeights(kernel: grads[2 * l], bias: grads[2 * l + 1]) }

    /// One Adadelta step on a batch; returns the batch loss (before the update).
    /// `rng` draws the dropout masks.
    public func trainStep(_ x: Tensor, labels: [Int32], classWeights: [Float]?, rng: inout SplitMix64) throws -> Double
    {
        let m = x.shape[0]
        guard x.shape == [m, dims[0]], labels.count == m else {
            throw KernelError.shape("batch \(x.shape) with \(labels.count) labels for input length \(dims[0])")
        }
        // forward, keeping each layer's input and each hidden ReLU output and mask
        var inputs = [x]
        var relu: [Tensor] = [], masks: [[UInt8]] = []
        for l in 0..<layers {
            let out = Tensor(uninitialized: [m, dims[l + 1]])
            let last = l == layers - 1
            ctx.denseForward(inputs[l], weights(l), activation: last ? .linear : .relu, into: out, workspace: workspace)
            if last { inputs.append(out); break }
            relu.append(out)
            if dropout > 0 {
                // keep with probability 1 - rate
                let mask = (0..<out.count).map { _ in Float(rng.next() >> 40) * 0x1p-24 >= dropout ? UInt8(1) : 0 }
                let dropped = Tensor(uninitialized: out.shape)
                ctx.dropout(out, mask: mask, rate: dropout, into: dropped)
                masks.append(mask)
                inputs.append(dropped)
            } else {
                masks.append([])
                inputs.append(out)
            }
        }
        let probs = ctx.softmax(inputs.removeLast())
        // backward
        for g in grads { g.zero() }
        var dz = Tensor(uninitialized: [m, dims.last!])
        let loss = ctx.softmaxCrossEntropy(
            probabilities: probs, labels: labels, classWeights: classWeights, clip: kerasLossClip,
            gradient: dz)
        for l in stride(from: layers - 1, through: 0, by: -1) {
            let dx = l > 0 ? Tensor(uninitialized: [m, dims[l]]) : nil
            ctx.denseBackward(x: inputs[l], weights(l), dy: dz, dx: dx, gradients: gradients(l), workspace: workspace)
            guard let dx else { break }
            if dropout > 0 { ctx.dropout(dx, mask: masks[l - 1], rate: dropout, into: dx) }
            ctx.reluBackward(output: relu[l - 1], gradient: dx, into: dx)
            dz = dx
        }
        packed = nil
        for i in params.indices {
            ctx.adadelta(
                params[i], gradient: grads[i], eg: eg[i], ed: ed[i], learningRate: learningRate, rho: rho,
                epsilon: epsilon)
        }
        return loss
    }

    /// Class probabilities [n, classes] (dropout off).
    public func predictProbabilities(_ x: Tensor) -> Tensor {
        let m = x.shape[0]
        if packed == nil {
            packed = (0..<layers).map { try! PackedMatrix(ctx, weights: params[2 * $0]) }  // 2-D by construction
        }
        var a = x
        for l in 0..<layers {
            // activations in reused buffers: large inference batches fault no pages
            let key = l << 32 | m
            let out = predictBuffers[key] ?? Tensor(uninitialized: [m, dims[l + 1]])
            predictBuffers[key] = out
            a = try! packed![l].matmul(
                a, bias: params[2 * l + 1], activation: l == layers - 1 ? .linear : .relu,
                workspace: workspace, into: out)
        }
        return ctx.softmax(a)
    }
}

extension FrameNet {
    /// Logits [n, classes] (dropout off) and the gradient of each row's logit of class
    /// `classes[i]` with respect to its input [n, inputs]: the seed of a saliency map.
    public func logitGradient(_ x: Tensor, classes: [Int]) throws -> (logits: Tensor, gradient: Tensor) {
        let m = x.shape[0]
        guard x.count == m * dims[0], classes.count == m, classes.allSatisfy({ (0..<dims.last!).contains($0) }) else {
            throw KernelError.shape("input \(x.shape) with \(classes.count) classes for input length \(dims[0])")
        }
        var inputs = [x.reshaped([m, dims[0]])]
        for l in 0..<layers {
            let out = Tensor(uninitialized: [m, dims[l + 1]])
            ctx.denseForward(
                inputs[l], weights(l), activation: l == layers - 1 ? .linear : .relu, into: out, workspace: workspace)
            inputs.append(out)
        }
        let logits = inputs[layers]
        var dz = Tensor(shape: logits.shape)
        for (i, c) in classes.enumerated() { dz.data[i * dims.last! + c] = 1 }
        for l in stride(from: layers - 1, through: 0, by: -1) {
            let dx = Tensor(uninitialized: [m, dims[l]])
            let scratch = DenseWeights(
                kernel: Tensor(shape: [dims[l], dims[l + 1]]), bias: Tensor(shape: [dims[l + 1]]))
            ctx.denseBackward(x: inputs[l], weights(l), dy: dz, dx: dx, gradients: scratch, workspace: workspace)
            if l > 0 { ctx.reluBackward(output: inputs[l], gradient: dx, into: dx) }
            dz = dx
        }
        return (logits, dz)
    }
}
