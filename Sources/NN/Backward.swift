import Foundation
import Kernels
import Weights

/// A layer's output and the gradient of a score with respect to it (for saliency maps).
public struct LayerGradient {
    /// The layer's output [n, ...] and d score / d output, the same shape.
    public let activation: Tensor, gradient: Tensor
    /// The output the score was taken from [n, ...].
    public let output: Tensor
}

extension Model {
    /// Layers whose output depends on `layer`'s (itself included), in graph order.
    func dependents(of layer: Int) -> [Bool] {
        var on = [Bool](repeating: false, count: nodes.count)
        on[layer] = true
        for i in (layer + 1)..<max(nodes.count, layer + 1) where nodes[i].inputs.contains(where: { on[$0] }) {
            on[i] = true
        }
        return on
    }

    /// Layers with a spatial output [h, w, c] (h w > 1) on which `output` depends: where a
    /// class activation map can be taken, in graph order.
    public func spatialLayers(leadingTo output: String) -> [String] {
        guard let o = index[output] else { return [] }
        return nodes.indices.dropFirst().filter { i in
            nodes[i].shape.count == 3 && nodes[i].shape[0] * nodes[i].shape[1] > 1 && dependents(of: i)[o]
        }.map { nodes[$0].name }
    }

    /// The input of `layer` when it is a softmax (a classifier's logits), else `layer`.
    public func logits(of layer: String) -> String {
        guard let i = index[layer], case .softmax = nodes[i].op else { return layer }
        return nodes[nodes[i].inputs[0]].name
    }

    /// d score / d `layer`'s output, where `seed` maps the output of layer `output` [n, ...]
    /// to d score / d output (the same shape). Reverse mode through every op the models use;
    /// paths that do not pass through `layer` are held fixed. Not to be called from two threads.
    public func gradient(
        _ input: Tensor, layer: String, output: String, seed: (Tensor) throws -> Tensor
    ) throws -> LayerGradient {
        guard let li = index[layer] else { throw KernelError.shape("model \(config.name) has no layer \(layer)") }
        guard let oi = index[output] else { throw KernelError.shape("model \(config.name) has no layer \(output)") }
        let on = dependents(of: li)
        guard on[oi] else { throw KernelError.shape("layer \(output) does not depend on layer \(layer)") }
        // every value the backward pass reads: the path's outputs and their inputs
        var need = Set<Int>()
        for i in li...oi where on[i] {
            need.insert(i)
            for j in nodes[i].inputs { need.insert(j) }
        }
        let names = need.filter { $0 > 0 }.map { nodes[$0].name }
        let values = try forward(input, outputs: names)
        func value(_ i: Int) -> Tensor { i == 0 ? input : values[nodes[i].name]! }
        let n = input.shape[0]
        let top = try seed(value(oi))
        guard top.count == value(oi).count else {
            throw KernelError.shape("seed gradient \(top.shape) for output \(value(oi).shape)")
        }
        var grads = [Tensor?](repeating: nil, count: nodes.count)
        grads[oi] = top
        func accumulate(_ j: Int, _ g: Tensor) {
            guard on[j] else { return }
            if let have = grads[j] {
                _ = context.add(have, g.reshaped(have.shape), into: have)
            } else {
                grads[j] = g.reshaped([n] + nodes[j].shape)
            }
        }
        var weights: (any WeightSource)?
        func kernel(_ i: Int) throws -> Tensor {
            let k = nodes[i].kernel!
            if weights == nil { weights = try reopenWeights() }
            let t = try weights!.tensor(k.name).reshaped(k.shape)
            guard let scale = nodes[i].kernelScale else { return t }
            // checked when the model loaded, and the file is the same (reopenWeights)
            return Int8Weights(codes: t, steps: try weights!.tensor(scale))!.dequantized(shape: k.shape)
        }
        for i in stride(from: oi, to: li, by: -1) where on[i] {
            guard let g = grads[i] else { continue }
            grads[i] = nil
            let node = nodes[i]
            let x = value(node.inputs[0]), y = value(i)
            switch node.op {
            case .input: break
            case .conv(let c):
                if c.shape.activation == .relu { context.reluBackward(output: y, gradient: g, into: g) }
                if backwardConvs[i] == nil {
                    var s = c.shape
                    s.activation = .linear
                    backwardConvs[i] = try ConvBackwardData(context, shape: s, weights: try kernel(i))
                }
                accumulate(node.inputs[0], try backwardConvs[i]!(g, workspace: workspace))
            case let .dense(_, _, act):
                if act == .relu { context.reluBackward(output: y, gradient: g, into: g) }
                if backwardDense[i] == nil {
                    let w = try kernel(i), t = Tensor(uninitialized: [w.shape[1], w.shape[0]])
                    for r in 0..<w.shape[0] {
                        for c in 0..<w.shape[1] { t.data[c * w.shape[0] + r] = w.data[r * w.shape[1] + c] }
                    }
                    backwardDense[i] = try PackedMatrix(context, weights: t)
                }
                accumulate(node.inputs[0], try backwardDense[i]!.matmul(g, bias: nil, workspace: workspace))
            case let .affine(scale, _):
                let zero = Tensor(shape: [scale.count])
                accumulate(node.inputs[0], context.affineChannels(g, scale: scale, shift: zero))
            case .relu:
                context.reluBackward(output: y, gradient: g, into: g)
                accumulate(node.inputs[0], g)
            case .softmax:
                // dx = y (g - sum(g y)) per row
                let c = node.shape.last!
                let dx = Tensor(uninitialized: y.shape)
                for r in 0..<(y.count / c) {
                    var dot: Float = 0
                    for k in 0..<c { dot += g.data[r * c + k] * y.data[r * c + k] }
                    for k in 0..<c { dx.data[r * c + k] = y.data[r * c + k] * (g.data[r * c + k] - dot) }
                }
                accumulate(node.inputs[0], dx)
            case .prelu(let a):
                let c = a.count
                let dx = Tensor(uninitialized: x.shape)
                for e in 0..<x.count { dx.data[e] = x.data[e] >= 0 ? g.data[e] : g.data[e] * a.data[e % c] }
                accumulate(node.inputs[0], dx)
            case .add:
                accumulate(node.inputs[0], g)
                accumulate(node.inputs[1], g)
            case .globalAvgPool:
                let c = node.shape[0], hw = x.count / (n * c)
                let dx = Tensor(uninitialized: x.shape)
                for b in 0..<n {
                    for p in 0..<hw {
                        for k in 0..<c { dx.data[(b * hw + p) * c + k] = g.data[b * c + k] / Float(hw) }
                    }
                }
                accumulate(node.inputs[0], dx)
            case .flatten:
                accumulate(node.inputs[0], g)
            case .maxPool(var p):
                p.n = n
                accumulate(node.inputs[0], context.maxPoolBackward(input: x, p, gradient: g))
            case .avgPool(var p):
                p.n = n
                accumulate(node.inputs[0], context.avgPoolBackward(p, gradient: g))
            }
        }
        let a = value(li), ga = grads[li] ?? Tensor(shape: a.shape)
        return LayerGradient(activation: a, gradient: ga, output: value(oi))
    }
}
