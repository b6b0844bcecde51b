import CKernels

// Training kernels: each wrapper checks shapes, sizes its scratch from the workspace and
// makes one C call. Backward passes ACCUMULATE into parameter gradients (dW, db, dgamma,
// ...): callers zero them once per step. Input gradients (dX) are overwritten.

/// Dense or LSTM weights as a pair of tensors.
public struct DenseWeights {
    /// [in, out]
    public var kernel: Tensor
    /// [out]
    public var bias: Tensor
    public init(kernel: Tensor, bias: Tensor) { (self.kernel, self.bias) = (kernel, bias) }
}

/// Keras LSTM variables (gate order i, f, c, o along the 4u axis).
public struct LSTMWeights {
    /// [features, 4u]
    public var kernel: Tensor
    /// [u, 4u]
    public var recurrent: Tensor
    /// [4u]
    public var bias: Tensor
    public init(kernel: Tensor, recurrent: Tensor, bias: Tensor) {
        (self.kernel, self.recurrent, self.bias) = (kernel, recurrent, bias)
    }
    public var units: Int { recurrent.shape[0] }
    public var features: Int { kernel.shape[0] }
}

/// What an LSTM forward pass keeps for its backward pass: h [b, t, u] for every step, the
/// gates [b, t, 4u] after their activations and the cells [b, t, u].
public struct LSTMTrace {
    public var h: Tensor, gates: Tensor, cells: Tensor
    public init(h: Tensor, gates: Tensor, cells: Tensor) { (self.h, self.gates, self.cells) = (h, gates, cells) }
}

/// Keras BatchNormalization variables, in its weights order.
public struct BatchNormWeights {
    public var gamma: Tensor, beta: Tensor, movingMean: Tensor, movingVariance: Tensor
    public init(gamma: Tensor, beta: Tensor, movingMean: Tensor, movingVariance: Tensor) {
        (self.gamma, self.beta, self.movingMean, self.movingVariance) = (gamma, beta, movingMean, movingVariance)
    }
}

/// The batch statistics a training-mode batch normalisation keeps for its backward pass.
public struct BatchNormStatistics {
    public var mean: Tensor, invStd: Tensor
    public init(channels c: Int) { (mean, invStd) = (Tensor(uninitialized: [c]), Tensor(uninitialized: [c])) }
}

/// Sequences [t, f] of a sample set [n, t, f] read in place (a batch is never gathered).
public struct SequenceBatch {
    public let source: Tensor
    public let indices: [Int]
    public var steps: Int { source.shape[1] }
    public var features: Int { source.shape[2] }
    public var count: Int { indices.count }

    public init(_ source: Tensor, indices: [Int]) {
        precondition(source.shape.count == 3, "sequences must be [n, t, f], got \(source.shape)")
        precondition(
            indices.allSatisfy { $0 >= 0 && $0 < source.shape[0] }, "sequence index out of 0..<\(source.shape[0])")
        (self.source, self.indices) = (source, indices)
    }

    /// Every sequence of `source`, in order.
    public init(_ source: Tensor) { self.init(source, indices: Array(0..<source.shape[0])) }

    func pointers() -> [UnsafePointer<Float>?] {
        let per = steps * features
        return indices.map { UnsafePointer(source.data + $0 * per) }
    }
}

private func check(_ t: Tensor, _ count: Int, _ what: String) {
    precondition(t.count == count, "\(what) has \(t.count) values (shape \(t.shape)), expected \(count)")
}

public extension Tensor {
    /// Sets every value to +0.
    func zero() { data.update(repeating: 0, count: count) }
}

public extension ComputeContext {
    // MARK: dense

    /// y [m, n] = act(x [m, k] w [k, n] + bias); w unpacked (it changes every step).
    func denseForward(
        _ x: Tensor, _ w: DenseWeights, activation: Activation = .linear, into y: Tensor,
        workspace: Workspace
    ) {
        let (k, n) = (w.kernel.shape[0], w.kernel.shape[1])
        let m = x.count / max(k, 1)
        check(x, m * k, "dense input"); check(w.bias, n, "dense bias"); check(y, m * n, "dense output")
        ck_dense_forward(
            raw, m, k, n, x.data, w.kernel.data, w.bias.data, activation.c, y.data,
            workspace.floats(ck_dense_workspace_size(raw, m, k, n)))
    }

    /// dx = dy wᵀ (overwritten; nil skips it), dw.kernel += xᵀ dy, dw.bias += column sums of dy.
    func denseBackward(
        x: Tensor, _ w: DenseWeights, dy: Tensor, dx: Tensor?, gradients dw: DenseWeights,
        workspace: Workspace
    ) {
        let (k, n) = (w.kernel.shape[0], w.kernel.shape[1])
        let m = x.count / max(k, 1)
        check(x, m * k, "dense input"); check(dy, m * n, "dense output gradient")
        check(dw.kernel, k * n, "dense kernel gradient"); check(dw.bias, n, "dense bias gradient")
        if let dx { check(dx, m * k, "dense input gradient") }
        ck_dense_backward(
            raw, m, k, n, x.data, w.kernel.data, dy.data, dx?.data, dw.kernel.data, dw.bias.data,
            workspace.floats(ck_dense_workspace_size(raw, m, k, n)))
    }

    // MARK: element-wise

    /// dx = dy where y > 0, else 0 (y is the ReLU output); dx may be dy.
    func reluBackward(output y: Tensor, gradient dy: Tensor, into dx: Tensor) {
        check(dy, y.count, "ReLU gradient"); check(dx, y.count, "ReLU input gradient")
        ck_relu_backward(y.count, y.data, dy.data, dx.data)
    }

    /// Inverted dropout with a keep mask (1 keep, 0 drop): out = x * mask / (1 - rate); out may be x.
    func dropout(_ x: Tensor, mask: [UInt8], rate: Float, into out: Tensor) {
        precondition(mask.count == x.count, "dropout mask of \(mask.count) for \(x.count) values")
        check(out, x.count, "dropout output")
        ck_dropout_apply(x.count, x.data, mask, rate, out.data)
    }

    /// The Keras loss of softmax probabilities p [m, c] against class indices, weighted per class
    /// (nil = 1) and averaged over the batch, with p clipped to [clip, 1 - clip]; writes
    /// dz = d loss / d logits.
    func softmaxCrossEntropy(
        probabilities p: Tensor, labels: [Int32], classWeights: [Float]?, clip: Float,
        gradient dz: Tensor
    ) -> Double {
        let m = labels.count, c = p.count / max(m, 1)
        check(p, m * c, "probabilities"); check(dz, m * c, "logit gradient")
        precondition(labels.allSatisfy { $0 >= 0 && Int($0) < c }, "label outside 0..<\(c)")
        if let classWeights {
            precondition(classWeights.count == c, "\(classWeights.count) class weights for \(c) classes")
        }
        return labels.withUnsafeBufferPointer { l in
            guard let classWeights else { return ck_softmax_xent(m, c, p.data, l.baseAddress, nil, clip, dz.data) }
            return classWeights.withUnsafeBufferPointer {
                ck_softmax_xent(m, c, p.data, l.baseAddress, $0.baseAddress, clip, dz.data)
            }
        }
    }

    /// One Keras Adadelta step of w with gradient g and the running averages eg (of g²) and ed
    /// (of the updates).
    func adadelta(
        _ w: Tensor, gradient g: Tensor, eg: Tensor, ed: Tensor, learningRate: Float, rho: Float, epsilon: Float
    ) {
        check(g, w.count, "gradient"); check(eg, w.count, "Adadelta state"); check(ed, w.count, "Adadelta state")
        ck_adadelta(raw, w.count, w.data, g.data, eg.data, ed.data, learningRate, rho, epsilon)
    }

    // MARK: batch normalisation

    /// Training mode over the rows of x [rows, c] (batch, and time for sequences): normalises with
    /// the batch mean and biased variance into y, keeps them in `stats` and updates the moving
    /// statistics (moving = momentum moving + (1 - momentum) batch).
    func batchNormTrain(
        _ x: Tensor, _ bn: BatchNormWeights, epsilon: Float, momentum: Float,
        stats: BatchNormStatistics, into y: Tensor
    ) {
        let c = bn.gamma.count, rows = x.count / max(c, 1)
        check(x, rows * c, "batch-norm input"); check(y, x.count, "batch-norm output")
        for t in [bn.beta, bn.movingMean, bn.movingVariance, stats.mean, stats.invStd] {
            check(t, c, "batch-norm channel vector")
        }
        ck_batchnorm_train(
            rows, c, x.data, bn.gamma.data, bn.beta.data, epsilon, momentum, bn.movingMean.data,
            bn.movingVariance.data, stats.mean.data, stats.invStd.data, y.data)
    }

    /// dx (overwritten), dgamma += , dbeta += .
    func batchNormBackward(
        x: Tensor, gamma: Tensor, stats: BatchNormStatistics, dy: Tensor, dx: Tensor,
        dgamma: Tensor, dbeta: Tensor
    ) {
        let c = gamma.count, rows = x.count / max(c, 1)
        check(x, rows * c, "batch-norm input"); check(dy, x.count, "batch-norm gradient");
        check(dx, x.count, "batch-norm input gradient")
        for t in [stats.mean, stats.invStd, dgamma, dbeta] { check(t, c, "batch-norm channel vector") }
        ck_batchnorm_backward(
            rows, c, x.data, gamma.data, stats.mean.data, stats.invStd.data, dy.data, dx.data,
            dgamma.data, dbeta.data)
    }

    // MARK: LSTM

    private func checkTrace(_ tr: LSTMTrace, b: Int, t: Int, u: Int) {
        check(tr.h, b * t * u, "LSTM outputs"); check(tr.gates, b * t * 4 * u, "LSTM gates");
        check(tr.cells, b * t * u, "LSTM cells")
    }

    private func checkWeights(_ w: LSTMWeights) -> (f: Int, u: Int) {
        let (f, u) = (w.features, w.units)
        check(w.kernel, f * 4 * u, "LSTM kernel"); check(w.recurrent, u * 4 * u, "LSTM recurrent kernel")
        check(w.bias, 4 * u, "LSTM bias")
        return (f, u)
    }

    /// The LSTM over x [b, t, f] (h0 = c0 = 0), every step's output and cache into `trace`.
    func lstmForward(_ x: Tensor, _ w: LSTMWeights, trace tr: LSTMTrace, workspace: Workspace) {
        let (f, u) = checkWeights(w)
        precondition(x.shape.count == 3 && x.shape[2] == f, "LSTM input \(x.shape), expected [b, t, \(f)]")
        let (b, t) = (x.shape[0], x.shape[1])
        checkTrace(tr, b: b, t: t, u: u)
        ck_lstm_forward(
            raw, b, t, f, u, x.data, w.kernel.data, w.recurrent.data, w.bias.data, tr.h.data, tr.gates.data,
            tr.cells.data, workspace.floats(ck_lstm_workspace_size(raw, b, t, f, u)))
    }

    /// Backpropagation through time: dh [b, t, u] is the loss gradient of every output (zero where
    /// unused); dx is overwritten (nil skips it); the gradients accumulate.
    func lstmBackward(
        x: Tensor, _ w: LSTMWeights, trace tr: LSTMTrace, dh: Tensor, dx: Tensor?, gradients dw: LSTMWeights,
        workspace: Workspace
    ) {
        let (f, u) = checkWeights(w)
        precondition(x.shape.count == 3 && x.shape[2] == f, "LSTM input \(x.shape), expected [b, t, \(f)]")
        let (b, t) = (x.shape[0], x.shape[1])
        checkTrace(tr, b: b, t: t, u: u)
        check(dh, b * t * u, "LSTM output gradient")
        if let dx { check(dx, x.count, "LSTM input gradient") }
        _ = checkWeights(dw)
        ck_lstm_backward(
            raw, b, t, f, u, x.data, w.kernel.data, w.recurrent.data, tr.h.data, tr.gates.data, tr.cells.data,
            dh.data, dx?.data, dw.kernel.data, dw.recurrent.data, dw.bias.data,
            workspace.floats(ck_lstm_workspace_size(raw, b, t, f, u)))
    }

    /// The recurrence alone: trace.gates holds x W + bias on entry and the activations on return.
    func lstmRecurrence(recurrent: Tensor, trace tr: LSTMTrace) {
        let u = recurrent.shape[0], (b, t) = (tr.h.shape[0], tr.h.shape[1])
        check(recurrent, u * 4 * u, "LSTM recurrent kernel")
        checkTrace(tr, b: b, t: t, u: u)
        ck_lstm_recurrence(raw, b, t, u, recurrent.data, tr.gates.data, tr.h.data, tr.cells.data)
    }

    /// Backpropagation through time of the recurrence alone: dz [b, t, 4u] (overwritten) gets the
    /// gradient of the gate pre-activations; drecurrent accumulates.
    func lstmBPTT(
        recurrent: Tensor, trace tr: LSTMTrace, dh: Tensor, dz: Tensor, drecurrent: Tensor, workspace: Workspace
    ) {
        let u = recurrent.shape[0], (b, t) = (tr.h.shape[0], tr.h.shape[1])
        check(recurrent, u * 4 * u, "LSTM recurrent kernel"); check(drecurrent, recurrent.count, "recurrent gradient")
        checkTrace(tr, b: b, t: t, u: u)
        check(dh, b * t * u, "LSTM output gradient"); check(dz, b * t * 4 * u, "gate gradient")
        ck_lstm_bptt(
            raw, b, t, u, recurrent.data, tr.h.data, tr.gates.data, tr.cells.data, dh.data, dz.data, drecurrent.data,
            workspace.floats(ck_lstm_workspace_size(raw, b, t, 0, u)))
    }

    /// Training-mode batch normalisation of the input fused into the LSTM: the sequences are read
    /// in place and must stay unchanged until the backward pass; `stats` keeps the batch
    /// statistics, the moving statistics of `bn` are updated.
    func bnLSTMForward(
        _ x: SequenceBatch, _ bn: BatchNormWeights, epsilon: Float, momentum: Float, _ w: LSTMWeights,
        stats: BatchNormStatistics, trace tr: LSTMTrace, workspace: Workspace
    ) {
        let (f, u) = checkWeights(w)
        precondition(x.features == f, "LSTM input of \(x.features) features, the kernel takes \(f)")
        let (b, t) = (x.count, x.steps)
        for v in [bn.gamma, bn.beta, bn.movingMean, bn.movingVariance, stats.mean, stats.invStd] {
            check(v, f, "batch-norm channel vector")
        }
        checkTrace(tr, b: b, t: t, u: u)
        ck_bn_lstm_forward(
            raw, b, t, f, u, x.pointers(), bn.gamma.data, bn.beta.data, epsilon, momentum, bn.movingMean.data,
            bn.movingVariance.data, w.kernel.data, w.recurrent.data, w.bias.data, stats.mean.data,
            stats.invStd.data, tr.h.data, tr.gates.data, tr.cells.data,
            workspace.floats(ck_bn_lstm_workspace_size(raw, b, t, f, u)))
    }

    /// The gradients of gamma, beta and the LSTM's variables (accumulated), not of x.
    func bnLSTMBackward(
        _ x: SequenceBatch, _ bn: BatchNormWeights, _ w: LSTMWeights, stats: BatchNormStatistics,
        trace tr: LSTMTrace, dh: Tensor, dgamma: Tensor, dbeta: Tensor, gradients dw: LSTMWeights,
        workspace: Workspace
    ) {
        let (f, u) = checkWeights(w)
        precondition(x.features == f, "LSTM input of \(x.features) features, the kernel takes \(f)")
        let (b, t) = (x.count, x.steps)
        for v in [bn.gamma, bn.beta, stats.mean, stats.invStd, dgamma, dbeta] {
            check(v, f, "batch-norm channel vector")
        }
        checkTrace(tr, b: b, t: t, u: u)
        check(dh, b * t * u, "LSTM output gradient")
        _ = checkWeights(dw)
        ck_bn_lstm_backward(
            raw, b, t, f, u, x.pointers(), stats.mean.data, stats.invStd.data, bn.gamma.data, bn.beta.data,
            w.kernel.data, w.recurrent.data, tr.h.data, tr.gates.data, tr.cells.data, dh.data, dgamma.data,
            dbeta.data, dw.kernel.data, dw.recurrent.data, dw.bias.data,
            workspace.floats(ck_bn_lstm_workspace_size(raw, b, t, f, u)))
    }

    /// Inference: x [b, t, f] * scale + shift per feature (folded batch normalisation), then the
    /// LSTM; the normalised input is never written.
    func affineLSTMForward(
        _ x: Tensor, scale: Tensor, shift: Tensor, _ w: LSTMWeights, trace tr: LSTMTrace,
        workspace: Workspace
    ) {
        let (f, u) = checkWeights(w)
        precondition(x.shape.count == 3 && x.shape[2] == f, "LSTM input \(x.shape), expected [b, t, \(f)]")
        let (b, t) = (x.shape[0], x.shape[1])
        check(scale, f, "scale"); check(shift, f, "shift")
        checkTrace(tr, b: b, t: t, u: u)
        ck_affine_lstm_forward(
            raw, b, t, f, u, x.data, scale.data, shift.data, w.kernel.data, w.recurrent.data, w.bias.data,
            tr.h.data, tr.gates.data, tr.cells.data,
            workspace.floats(ck_affine_lstm_workspace_size(raw, f, u)))
    }
}
