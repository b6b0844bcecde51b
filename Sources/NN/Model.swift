import Foundation
import Kernels
import Weights

/// An inference network built from a ModelConfig and its weights: shapes are inferred and
/// every tensor's name and shape is checked at load; weights are packed once for the
/// context's instruction set.
public final class Model: @unchecked Sendable {
    public let config: ModelConfig
    public let context: ComputeContext
    /// The arithmetic the convolutions run in: the context's, else the config's, else fp32.
    public let precision: Precision
    let nodes: [Node]
    let index: [String: Int]
    let workspace = Workspace()
    var arena: [Tensor] = []
    var arenaBatch = -1
    /// Reopens the weights for gradients (kept closed otherwise: inference holds only packed
    /// weights) and the packed transposes made from them on first use.
    let reopenWeights: () throws -> any WeightSource
    var backwardConvs: [Int: ConvBackwardData] = [:]
    var backwardDense: [Int: PackedMatrix] = [:]

    enum Op {
        case input
        case conv(PackedConv2D)
        case dense(PackedMatrix, bias: Tensor?, Activation)
        case affine(scale: Tensor, shift: Tensor)
        case relu, softmax, add, globalAvgPool, flatten
        case prelu(Tensor)
        case maxPool(Pool2DShape), avgPool(Pool2DShape)
    }

    struct Node {
        let name: String
        let inputs: [Int]
        let op: Op
        /// Per-item shape: [h, w, c] or [c].
        let shape: [Int]
        let flops: Double
        /// The kernel tensor and its shape as packed (conv: HWIO; dense: [k, units]).
        var kernel: (name: String, shape: [Int])? = nil
        /// The steps of int8 weights stored as codes (`kernel` then holds the codes).
        var kernelScale: String? = nil
    }

    /// Loads `config` with weights from `weights` (a safetensors file or tensors in memory).
    public init(config: ModelConfig, weights: any WeightSource, context: ComputeContext) throws {
        self.config = config
        self.context = context
        if let st = weights as? SafeTensorsFile, FileManager.default.fileExists(atPath: st.path) {
            let path = st.path
            let stamp = Self.stamp(path)
            reopenWeights = {
                // the backward pass must read the weights the forward pass packed
                guard Self.stamp(path) == stamp else {
                    throw ModelFileError(path, "changed since the model was loaded: load it again")
                }
                return try SafeTensorsFile(path: path)
            }
        } else {
            reopenWeights = { weights }
        }
        let file = weights.sourceName
        func fail(_ s: String) -> ModelFileError { ModelFileError(file, s) }
        if let p = context.precision {
            precision = p
        } else if let name = config.precision {
            guard let p = Precision(rawValue: name) else {
                throw fail("precision \"\(name)\" is not one of fp32, bf16, int8")
            }
            precision = p
        } else {
            precision = .fp32
        }
        if precision == .int8 && !config.layers.contains(where: { $0.inputQuant != nil }) {
            throw fail(
                "has no int8 calibration (no layer has input_quant): make one with painface quantize --model "
                    + "\(config.name) --calibration FOLDER... --out NAME")
        }
        var used = Set<String>()
        var tuning: ConvTuning?
        func tensor(_ name: String, _ shape: [Int]) throws -> Tensor {
            guard let s = weights.shape(of: name) else {
                throw fail("missing tensor \(name) (expected shape \(shape))")
            }
            guard s == shape else { throw fail("tensor \(name) has shape \(s), expected \(shape)") }
            used.insert(name)
            let t = try weights.tensor(name)
            if t.hasNonFinite { throw fail("tensor \(name) contains NaN or infinite values") }
            return t
        }

        let inp = config.input
        guard inp.height > 0, inp.width > 0, inp.channels > 0 else {
            throw fail("input must be H x W x C with positive sizes, got \(inp.height)x\(inp.width)x\(inp.channels)")
        }
        guard inp.height <= Self.maxSide, inp.width <= Self.maxSide, inp.channels <= Self.maxCount else {
            throw fail(
                """
                input \(inp.height)x\(inp.width)x\(inp.channels) is larger than \(Self.maxSide) x \(Self.maxSide) \
                x \(Self.maxCount)
                """
            )
        }
        var nodes = [
            Node(name: "input", inputs: [], op: .input, shape: [inp.height, inp.width, inp.channels], flops: 0)
        ]
        var index = ["input": 0]

        for (li, l) in config.layers.enumerated() {
            let at = "layer \(li) (\(l.name))"
            guard index[l.name] == nil else { throw fail("\(at): duplicate layer name") }
            let inputNames = (l.inputs?.isEmpty ?? true) ? [nodes.last!.name] : l.inputs!
            var ins: [Int] = []
            for n in inputNames {
                guard let i = index[n] else { throw fail("\(at): unknown input \"\(n)\"") }
                ins.append(i)
            }
            let x = nodes[ins[0]].shape
            func need(_ v: Int?, _ what: String) throws -> Int {
                guard let v, v > 0 else { throw fail("\(at): \(l.type) needs a positive \(what)") }
                guard v <= Self.maxCount else { throw fail("\(at): \(what) \(v) is more than \(Self.maxCount)") }
                return v
            }
            func pair(_ v: [Int]?, _ what: String, default d: Int? = nil) throws -> (Int, Int) {
                guard let v else {
                    if let d { return (d, d) }
                    throw fail("\(at): \(l.type) needs \(what)")
                }
                guard (1...2).contains(v.count), v.allSatisfy({ $0 > 0 && $0 <= Self.maxSide }) else {
                    throw fail("\(at): bad \(what) \(v) (1 to \(Self.maxSide))")
                }
                return (v[0], v.count == 2 ? v[1] : v[0])
            }
            func activation() throws -> Activation {
                guard let a = Activation(rawValue: l.activation ?? "linear") else {
                    throw fail("\(at): unsupported activation \"\(l.activation!)\"")
                }
                return a
            }
            func spatial() throws -> (Int, Int, Int) {
                guard x.count == 3 else { throw fail("\(at): \(l.type) needs an H x W x C input, got \(x)") }
                return (x[0], x[1], x[2])
            }
            func pads(
                _ p: Padding, h: Int, w: Int, k: (Int, Int), s: (Int, Int), d: (Int, Int)
            ) throws -> (
                Int, Int, Int, Int
            ) {
                switch p {
                case .valid: return (0, 0, 0, 0)
                case let .explicit(t, le, b, r):
                    guard [t, le, b, r].allSatisfy({ (0...Self.maxSide).contains($0) }) else {
                        throw fail("\(at): padding \([t, le, b, r]) must be 0 to \(Self.maxSide)")
                    }
                    return (t, le, b, r)
                case .same:
                    func one(_ n: Int, _ k: Int, _ s: Int, _ d: Int) -> (Int, Int) {
                        let out = (n + s - 1) / s
                        let total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
                        return (total / 2, total - total / 2)
                    }
                    let (t, b) = one(h, k.0, s.0, d.0), (le, r) = one(w, k.1, s.1, d.1)
                    return (t, le, b, r)
                }
            }

            let op: Op
            var shape: [Int]
            var flops = 0.0
            var kernelRef: (name: String, shape: [Int])?
            var kernelScale: String?
            switch l.type {
            case "conv2d", "depthwise_conv2d":
                let (h, w, c) = try spatial()
                let k = try pair(l.kernel, "kernel"), s = try pair(l.strides, "strides", default: 1)
                let d = try pair(l.dilation, "dilation", default: 1)
                var cs = Conv2DShape(n: 1, h: h, w: w, cin: c, cout: 0, kh: k.0, kw: k.1)
                (cs.sh, cs.sw, cs.dh, cs.dw) = (s.0, s.1, d.0, d.1)
                (cs.padTop, cs.padLeft, cs.padBottom, cs.padRight) = try pads(
                    l.padding ?? .valid, h: h, w: w, k: k, s: s, d: d)
                cs.activation = try activation()
                var kernel: Tensor
                var stored: Int8Weights?
                if l.type == "conv2d" {
                    cs.cout = try need(l.filters, "filters")
                    cs.groups = l.groups ?? 1
                    guard cs.groups > 0, c % cs.groups == 0, cs.cout % cs.groups == 0 else {
                        throw fail(
                            "\(at): \(c) input and \(cs.cout) output channels do not split into \(cs.groups) groups")
                    }
                    kernel = try tensor("\(l.name).kernel", cs.weightShape)
                    kernelRef = ("\(l.name).kernel", cs.weightShape)
                    // int8 weights (painface quantize): the kernel holds the codes, a second
                    // tensor the step of each output channel
                    if weights.shape(of: "\(l.name).kernel_scale") != nil {
                        let st = try tensor("\(l.name).kernel_scale", [cs.cout])
                        guard let s = Int8Weights(codes: kernel, steps: st) else {
                            throw fail(
                                "\(at): int8 weights need integer codes in -127...127 and steps of 0 or more")
                        }
                        stored = s
                        kernel = s.dequantized(shape: cs.weightShape)
                        kernelScale = "\(l.name).kernel_scale"
                    }
                } else {
                    let m = l.depthMultiplier ?? 1
                    guard (1...Self.maxCount).contains(m) else {
                        throw fail("\(at): depth_multiplier \(m) must be 1 to \(Self.maxCount)")
                    }
                    cs.cout = c * m
                    cs.groups = c
                    kernel = try tensor("\(l.name).depthwise_kernel", [k.0, k.1, c, m]).reshaped(cs.weightShape)
                    kernelRef = ("\(l.name).depthwise_kernel", cs.weightShape)
                }
                guard cs.isValid else { throw fail("\(at): kernel \(k) does not fit the \(h)x\(w) input") }
                // an RGB-like first layer stays fp32: it sees the raw pixels, and with a K of 27
                // its time goes to gathering rows, not to multiplies (no clear gain measured)
                cs.bf16 = precision == .bf16 && cs.cin / cs.groups >= 16
                if precision == .int8, let q = l.inputQuant {
                    guard q.scale.isFinite, q.scale > 0, (0...255).contains(q.zeroPoint) else {
                        throw fail("\(at): input_quant needs a positive scale and a zero_point of 0 to 255")
                    }
                    // as bf16: the RGB-like first layer (and depthwise layers) stay fp32
                    if Self.int8Applies(cs) { cs.int8 = q }
                }
                let bias = (l.useBias ?? true) ? try tensor("\(l.name).bias", [cs.cout]) : nil
                let algorithm: ConvAlgorithm
                switch context.convPolicy {
                case .rule: algorithm = .auto
                case .forced(let a): algorithm = ConvAlgorithm.resolve(a, for: cs, context: context) == a ? a : .auto
                case .tuned(let path):
                    if tuning == nil { tuning = try ConvTuning(path: path) }
                    algorithm = try tuning!.choose(cs, weights: kernel, bias: bias, context: context)
                }
                if let stored,
                    let p = try PackedConv2D(
                        context, shape: cs, codes: stored.codes, steps: stored.steps, bias: bias, algorithm: algorithm)
                {
                    op = .conv(p)
                } else {
                    op = .conv(try PackedConv2D(context, shape: cs, weights: kernel, bias: bias, algorithm: algorithm))
                }
                shape = [cs.outH, cs.outW, cs.cout]
                flops = cs.flops
            case "dense":
                let units = try need(l.units, "units")
                let k = x.last!
                let w = try tensor("\(l.name).kernel", [k, units])
                let b = (l.useBias ?? true) ? try tensor("\(l.name).bias", [units]) : nil
                op = .dense(try PackedMatrix(context, weights: w), bias: b, try activation())
                kernelRef = ("\(l.name).kernel", [k, units])
                shape = Array(x.dropLast()) + [units]
                flops = 2.0 * Double(x.reduce(1, *) * units)
            case "batchnorm":
                let c = x.last!
                let gamma = (l.scale ?? true) ? try tensor("\(l.name).gamma", [c]) : nil
                let beta = (l.center ?? true) ? try tensor("\(l.name).beta", [c]) : nil
                let mean = try tensor("\(l.name).moving_mean", [c])
                let variance = try tensor("\(l.name).moving_variance", [c])
                if variance.buffer.contains(where: { $0 < 0 }) { throw fail("\(at): negative moving variance") }
                let f = foldBatchNorm(
                    gamma: gamma, beta: beta, mean: mean, variance: variance, epsilon: l.epsilon ?? 1e-3)
                op = .affine(scale: f.scale, shift: f.shift)
                shape = x
            case "relu": op = .relu; shape = x
            case "softmax": op = .softmax; shape = x
            case "prelu":
                op = .prelu(try tensor("\(l.name).alpha", [x.last!]))
                shape = x
            case "add":
                guard ins.count == 2 else { throw fail("\(at): add needs exactly two inputs") }
                guard nodes[ins[1]].shape == x else {
                    throw fail("\(at): add of shapes \(x) and \(nodes[ins[1]].shape)")
                }
                op = .add; shape = x
            case "maxpool2d", "avgpool2d":
                let (h, w, c) = try spatial()
                let k = try pair(l.pool, "pool"), s = try pair(l.strides, "strides", default: k.0)
                var p = Pool2DShape(n: 1, h: h, w: w, c: c, kh: k.0, kw: k.1, sh: s.0, sw: s.1)
                (p.padTop, p.padLeft, p.padBottom, p.padRight) = try pads(
                    l.padding ?? .valid, h: h, w: w, k: k, s: s, d: (1, 1))
                p.ceilMode = l.ceilMode ?? false
                p.countIncludePad = l.countIncludePad ?? false
                guard p.isValid else { throw fail("\(at): pool \(k) does not fit the \(h)x\(w) input") }
                op = l.type == "maxpool2d" ? .maxPool(p) : .avgPool(p)
                shape = [p.outH, p.outW, c]
            case "global_avgpool":
                _ = try spatial()
                op = .globalAvgPool; shape = [x[2]]
            case "flatten":
                op = .flatten; shape = [x.reduce(1, *)]
            default:
                throw fail("\(at): unknown layer type \"\(l.type)\"")
            }
            // sizes are checked before anything is allocated (overflow-checked)
            var elements = 1
            for d in shape {
                let (p, o) = elements.multipliedReportingOverflow(by: d)
                guard !o, d <= Self.maxSide * Self.maxCount, p <= Self.maxElements else {
                    throw fail("\(at): output \(shape) is larger than \(Self.maxElements) values per image")
                }
                elements = p
            }
            index[l.name] = nodes.count
            nodes.append(
                Node(
                    name: l.name, inputs: ins, op: op, shape: shape, flops: flops, kernel: kernelRef,
                    kernelScale: kernelScale))
        }
        let unused = Set(weights.tensorNames).subtracting(used)
        if !unused.isEmpty { throw fail("tensors not used by any layer: \(unused.sorted().joined(separator: ", "))") }
        for o in [config.outputs.features] + (config.outputs.probabilities.map { [$0] } ?? []) where index[o] == nil {
            throw fail("output \"\(o)\" is not a layer")
        }
        self.nodes = nodes
        self.index = index
    }

    /// Loads `<stem>.json` and `<stem>.safetensors` (give either path or the stem).
    /// Limits a config must stay within (a side, a count of channels or units, the values of
    /// one image's activation): larger ones are refused before any allocation.
    public static let maxSide = 16_384, maxCount = 65_536, maxElements = 1 << 28

    public convenience init(path: String, context: ComputeContext) throws {
        let (json, st) = Model.files(for: path)
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: json)) } catch {
            throw ModelFileError(json, "cannot read the model config: \(error.localizedDescription)")
        }
        let config = try ModelConfig.decode(data, path: json)
        try self.init(config: config, weights: try SafeTensorsFile(path: st), context: context)
    }

    /// A file's size and modification time.
    static func stamp(_ path: String) -> String {
        let a = try? FileManager.default.attributesOfItem(atPath: path)
        return "\(a?[.size] ?? 0) \((a?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
    }

    public static func files(for path: String) -> (json: String, safetensors: String) {
        var stem = path
        for ext in [".json", ".safetensors"] where stem.hasSuffix(ext) { stem.removeLast(ext.count) }
        return (stem + ".json", stem + ".safetensors")
    }

    /// Per-item shape of a layer's output.
    public func shape(of layer: String) -> [Int]? { index[layer].map { nodes[$0].shape } }
    public var featureDimension: Int { shape(of: config.outputs.features)!.reduce(1, *) }
    /// Multiply-add FLOPs x 2 per item of convolutions and dense layers.
    public var flopsPerItem: Double { nodes.reduce(0) { $0 + $1.flops } }
    public var layerNames: [String] { nodes.dropFirst().map(\.name) }

    /// Runs the network on `input` [n, h, w, c] (already normalised) and returns copies of
    /// the requested layers' outputs. Not to be called from two threads at once.
    public func forward(
        _ input: Tensor, outputs wanted: [String],
        observe: ((String, Double) -> Void)? = nil
    ) throws -> [String: Tensor] {
        let n = input.shape.first ?? 0
        guard n > maxBatchChunk else { return try forwardChunk(input, outputs: wanted, observe: observe) }
        // Large batches run in chunks: activations of a few images stay in cache and
        // memory stays bounded; each image's result is the same either way.
        var results: [String: Tensor] = [:]
        let per = input.count / n
        for start in stride(from: 0, to: n, by: maxBatchChunk) {
            let c = min(maxBatchChunk, n - start)
            let slice = Tensor(uninitialized: [c] + Array(input.shape.dropFirst()))
            slice.data.update(from: input.data + start * per, count: c * per)
            let out = try forwardChunk(slice, outputs: wanted, observe: observe)
            for (name, t) in out {
                let r = results[name] ?? Tensor(uninitialized: [n] + Array(t.shape.dropFirst()))
                results[name] = r
                let rowCount = t.count / c
                (r.data + start * rowCount).update(from: t.data, count: t.count)
            }
        }
        return results
    }

    /// Frees the reusable activation buffers (they come back on the next pass).
    public func releaseBuffers() { arena.removeAll(); arenaBatch = -1 }

    /// Images per pass inside `forward`; larger batches are split.
    public var maxBatchChunk = 8

    func forwardChunk(
        _ input: Tensor, outputs wanted: [String],
        observe: ((String, Double) -> Void)?
    ) throws -> [String: Tensor] {
        let s = nodes[0].shape
        guard input.shape.count == 4, Array(input.shape[1...]) == s else {
            throw KernelError.shape("model \(config.name) takes [n, \(s[0]), \(s[1]), \(s[2])], got \(input.shape)")
        }
        let n = input.shape[0]
        var lastUse = [Int](repeating: -1, count: nodes.count)
        for (i, node) in nodes.enumerated() { for j in node.inputs { lastUse[j] = i } }
        var keep = Set<Int>()
        for w in wanted {
            guard let i = index[w] else { throw KernelError.shape("model \(config.name) has no layer \(w)") }
            keep.insert(i)
        }
        let stop = keep.max() ?? 0
        var values = [Tensor?](repeating: nil, count: nodes.count)
        values[0] = input
        // Outputs go to reusable buffers: freed activations are recycled within the pass
        // and kept for the next pass, so steady-state inference neither allocates nor
        // page-faults.
        if arenaBatch != n { arena.removeAll(); arenaBatch = n }
        var freeBuf = Set(arena.indices)
        var bufOf = [Int](repeating: -1, count: nodes.count)
        func take(_ node: Int, _ shape: [Int]) -> Tensor {
            let c = shape.reduce(1, *)
            let pick = freeBuf.filter { arena[$0].count >= c }.min { arena[$0].count < arena[$1].count }
            let b: Int
            if let pick {
                b = pick; freeBuf.remove(pick)
            } else {
                arena.append(Tensor(uninitialized: [max(c, 1)])); b = arena.count - 1
            }
            bufOf[node] = b
            return Tensor(view: arena[b], shape: shape)
        }
        let ctx = context
        // frees the inputs of node i that no later node reads
        func release(_ i: Int) {
            for j in nodes[i].inputs where lastUse[j] == i && !keep.contains(j) {
                values[j] = nil
                if bufOf[j] >= 0 { freeBuf.insert(bufOf[j]) }
            }
        }
        var fused = -1  // a max pool already computed by the convolution before it
        for i in 1...max(stop, 1) where i <= stop && i != fused {
            let node = nodes[i]
            let x = values[node.inputs[0]]!
            if case .conv(let c) = node.op, let pool = fusedPool(after: i, conv: c, lastUse: lastUse, keep: keep) {
                // the convolution's full-size output is never written: each tile is pooled in cache
                let o = take(pool, [n] + nodes[pool].shape)
                let t0 = observe == nil ? 0 : DispatchTime.now().uptimeNanoseconds
                guard try c.convolutionThenMaxPool2(x, workspace: workspace, into: o) != nil else {
                    preconditionFailure("fusesMaxPool2 and the kernel disagree")
                }
                if let observe { observe(node.name, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9) }
                values[pool] = o
                fused = pool
                release(i)
                continue
            }
            let o = take(i, [n] + node.shape)
            let t0 = observe == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            switch node.op {
            case .input: o.data.update(from: x.data, count: x.count)
            case .conv(let c): _ = try c(x, workspace: workspace, into: o)
            case let .dense(w, bias, act):
                _ = try w.matmul(x, bias: bias, activation: act, workspace: workspace, into: o)
            case let .affine(scale, shift): _ = ctx.affineChannels(x, scale: scale, shift: shift, into: o)
            case .relu: _ = ctx.relu(x, into: o)
            case .softmax: _ = ctx.softmax(x, into: o)
            case .prelu(let a): _ = ctx.prelu(x, alpha: a, into: o)
            case .add: _ = ctx.add(x, values[node.inputs[1]]!, into: o)
            case .globalAvgPool: _ = ctx.globalAvgPool(x, into: o)
            case .flatten: o.data.update(from: x.data, count: x.count)
            case .maxPool(var p): p.n = n; _ = ctx.maxPool(x, p, into: o)
            case .avgPool(var p): p.n = n; _ = ctx.avgPool(x, p, into: o)
            }
            if let observe { observe(node.name, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9) }
            values[i] = o
            release(i)
        }
        var out: [String: Tensor] = [:]
        for w in wanted { out[w] = values[index[w]!]!.reshaped(values[index[w]!]!.shape) }
        return out
    }

    /// The max pool that node `i` (a convolution) can compute in its own pass: the next node, a
    /// 2x2 stride-2 pool without padding or ceil mode, is the only reader of the convolution's
    /// output, which is not asked for, and the convolution's algorithm pools per tile.
    func fusedPool(after i: Int, conv: PackedConv2D, lastUse: [Int], keep: Set<Int>) -> Int? {
        guard conv.fusesMaxPool2, i + 1 < nodes.count, lastUse[i] == i + 1, !keep.contains(i),
            case .maxPool(let p) = nodes[i + 1].op, nodes[i + 1].inputs == [i]
        else { return nil }
        let plain =
            p.kh == 2 && p.kw == 2 && p.sh == 2 && p.sw == 2 && !p.ceilMode
            && p.padTop == 0 && p.padLeft == 0 && p.padBottom == 0 && p.padRight == 0
        return plain ? i + 1 : nil
    }

    /// Layers int8 runs in: 16 or more input channels per group (an RGB-like first layer sees
    /// raw pixels and is cheap; depthwise layers have no sums to speed up) and a K within the
    /// int8 limit.
    static func int8Applies(_ s: Conv2DShape) -> Bool {
        s.cin / s.groups >= 16 && s.kh * s.kw * (s.cin / s.groups) <= Int8Quantization.maxK
    }

    /// The convolutions int8 applies to and the layer each reads: what a calibration measures.
    public var int8Inputs: [(layer: String, input: String)] {
        nodes.compactMap { n in
            guard case .conv(let c) = n.op, Self.int8Applies(c.shape) else { return nil }
            return (n.name, nodes[n.inputs[0]].name)
        }
    }

    /// Each convolution's algorithm, in graph order.
    public var convAlgorithms: [(layer: String, shape: Conv2DShape, algorithm: ConvAlgorithm)] {
        nodes.compactMap { n in
            guard case .conv(let c) = n.op else { return nil }
            return (n.name, c.shape, c.algorithm)
        }
    }

    /// A short digest of the algorithm choices (they change the outputs' last bits).
    public var convAlgorithmDigest: String {
        let s = convAlgorithms.map { "\($0.layer)=\($0.algorithm)" }.joined(separator: ",")
        return ContentHash.hex(ContentHash.hash64(Data(s.utf8)))
    }

    /// Per-layer FLOPs, for benchmarks.
    public var layerFlops: [(String, Double)] { nodes.dropFirst().map { ($0.name, $0.flops) } }
}
