import CKernels

/// `out` if given (checked to hold `shape`), else a new tensor.
func output(_ out: Tensor?, _ shape: [Int]) -> Tensor {
    guard let out else { return Tensor(uninitialized: shape) }
    precondition(out.shape.reduce(1, *) == shape.reduce(1, *), "output \(out.shape) for \(shape)")
    return out
}

public enum Activation: String, Codable, Sendable {
    case linear, relu
    var c: ck_activation { self == .relu ? CK_ACT_RELU : CK_ACT_NONE }
}

public enum ConvAlgorithm: Int, Sendable, CaseIterable, CustomStringConvertible {
    case auto = 0, im2colGemm = 1, depthwise = 2, implicitGemm = 3, winograd2x2 = 4, winograd4x4 = 5, winograd6x6 = 6
    var c: ck_conv_algo { ck_conv_algo(rawValue: UInt32(rawValue)) }
    public var description: String {
        ["auto", "im2col", "depthwise", "implicit", "winograd2x2", "winograd4x4", "winograd6x6"][rawValue]
    }
    public init?(name: String) {
        guard let a = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = a
    }
    /// The algorithm that runs for `requested` on this shape (an inapplicable request falls
    /// back to im2col GEMM, ck_conv2d_resolve).
    public static func resolve(
        _ requested: ConvAlgorithm, for shape: Conv2DShape, context: ComputeContext
    )
        -> ConvAlgorithm
    {
        var d = shape.c
        return ConvAlgorithm(rawValue: Int(ck_conv2d_resolve(context.raw, &d, requested.c).rawValue))!
    }
}

/// How a model picks each convolution's algorithm.
public enum ConvPolicy: Sendable, Equatable {
    /// The driver's rule (ck_conv2d_choose): the same choice on every machine of an ISA.
    case rule
    /// One algorithm wherever it applies (the rule elsewhere).
    case forced(ConvAlgorithm)
    /// The fastest applicable algorithm within the accuracy budget, measured once per CPU,
    /// ISA, thread count, batch and shape, and kept in the file at `path`.
    case tuned(path: String)
}

/// A tensor's u8 quantisation: q = clamp(round_even(x / scale) + zeroPoint, 0, 255).
public struct Int8Quantization: Sendable, Equatable, Codable {
    public var scale: Float
    public var zeroPoint: Int

    public init(scale: Float, zeroPoint: Int) { (self.scale, self.zeroPoint) = (scale, zeroPoint) }

    /// The quantisation of values in [lo, hi] (widened to hold 0), as the kernels define it.
    public init(lo: Float, hi: Float) {
        var s: Float = 0
        var z: Int32 = 0
        ck_int8_range(lo, hi, &s, &z)
        (scale, zeroPoint) = (s, Int(z))
    }

    /// The u8 code of `x`, as every int8 kernel quantises it.
    public func code(_ x: Float) -> UInt8 { ck_int8_quantize(x, 1 / scale, Int32(zeroPoint)) }

    /// The largest K an int8 layer may have (its int32 sums cannot overflow).
    public static let maxK = Int(CK_INT8_MAX_K)
}

/// Weights [..., n] stored in int8: codes round_even(w * 127 / max|w[:, j]|) and one step
/// max|w[:, j]| / 127 per last-axis column j (ck_int8_weights), so w ~ code x step.
public struct Int8Weights: Sendable {
    public var codes: [Int8]
    public var steps: [Float]

    public init(codes: [Int8], steps: [Float]) { (self.codes, self.steps) = (codes, steps) }

    /// The codes and steps the int8 kernels make from `w` when they pack it.
    public init(quantizing w: Tensor) {
        let n = w.shape.last ?? 1, k = n == 0 ? 0 : w.count / n
        var codes = [Int8](repeating: 0, count: w.count), steps = [Float](repeating: 0, count: n)
        ck_int8_weights(k, n, w.data, n, &codes, n, &steps)
        (self.codes, self.steps) = (codes, steps)
    }

    /// From stored tensors: `codes` as floats (integers in -127...127) and `steps` (0 or more),
    /// one per last-axis column; nil if a code or a step is not one.
    public init?(codes: Tensor, steps: Tensor) {
        guard steps.count == (codes.shape.last ?? 1), steps.buffer.allSatisfy({ $0 >= 0 }),
            codes.buffer.allSatisfy({ $0 == $0.rounded() && abs($0) <= 127 })
        else { return nil }
        self.init(codes: codes.buffer.map { Int8($0) }, steps: steps.array)
    }

    /// code x step: the weights an fp32 or bf16 layer uses when only the codes are stored.
    public func dequantized(shape: [Int]) -> Tensor {
        let t = Tensor(shape: shape), n = steps.count
        for i in 0..<codes.count { t.data[i] = Float(codes[i]) * steps[i % n] }
        return t
    }
}

/// Geometry of a 2-D convolution over NHWC input with HWIO weights.
public struct Conv2DShape: Sendable, Equatable {
    public var n, h, w, cin, cout, kh, kw: Int
    public var sh = 1, sw = 1, dh = 1, dw = 1
    public var padTop = 0, padLeft = 0, padBottom = 0, padRight = 0
    public var groups = 1
    public var activation: Activation = .linear
    /// Multiply in bfloat16 with fp32 sums (the context's bf16 kernel family); depthwise
    /// layers stay fp32.
    public var bf16 = false
    /// Multiply in int8 with int32 sums, the input quantised with this scale and zero point
    /// (ck_int8_range); depthwise layers stay fp32.
    public var int8: Int8Quantization?

    public init(n: Int, h: Int, w: Int, cin: Int, cout: Int, kh: Int, kw: Int) {
        (self.n, self.h, self.w, self.cin, self.cout, self.kh, self.kw) = (n, h, w, cin, cout, kh, kw)
    }

    var c: ck_conv2d_desc {
        ck_conv2d_desc(
            n: Int32(n), h: Int32(h), w: Int32(w), cin: Int32(cin), cout: Int32(cout),
            kh: Int32(kh), kw: Int32(kw), sh: Int32(sh), sw: Int32(sw), dh: Int32(dh),
            dw: Int32(dw), pad_top: Int32(padTop), pad_left: Int32(padLeft),
            pad_bottom: Int32(padBottom), pad_right: Int32(padRight),
            groups: Int32(groups), act: activation.c, bf16: bf16 ? 1 : 0, int8: int8 == nil ? 0 : 1,
            in_scale: int8?.scale ?? 0, in_zero: Int32(int8?.zeroPoint ?? 0))
    }
    public var isValid: Bool { var d = c; return ck_conv2d_valid(&d) != 0 }
    public var outH: Int { var d = c; return Int(ck_conv2d_out_h(&d)) }
    public var outW: Int { var d = c; return Int(ck_conv2d_out_w(&d)) }
    public var weightShape: [Int] { [kh, kw, cin / groups, cout] }
    /// Multiply-adds x 2.
    public var flops: Double { 2.0 * Double(n * outH * outW * cout) * Double(kh * kw * cin / groups) }
}

/// Convolution weights packed for one context's instruction set.
public final class PackedConv2D: @unchecked Sendable {
    public let shape: Conv2DShape
    /// The algorithm that runs: the driver's choice for `.auto`, im2col GEMM for a request
    /// that does not apply to the shape (ck_conv2d_resolve).
    public let algorithm: ConvAlgorithm
    let packed: Tensor
    public let bias: Tensor?
    let ctx: ComputeContext

    public init(
        _ ctx: ComputeContext, shape: Conv2DShape, weights: Tensor, bias: Tensor?,
        algorithm: ConvAlgorithm = .auto
    ) throws {
        guard shape.isValid else { throw KernelError.shape("invalid convolution \(shape)") }
        guard weights.shape == shape.weightShape else {
            throw KernelError.shape("conv weights \(weights.shape), expected \(shape.weightShape)")
        }
        if let bias, bias.count != shape.cout {
            throw KernelError.shape("conv bias has \(bias.count) values, expected \(shape.cout)")
        }
        var d = shape.c
        let algo = ConvAlgorithm.resolve(algorithm, for: shape, context: ctx)
        self.ctx = ctx
        self.shape = shape
        self.algorithm = algo
        self.bias = bias
        packed = Tensor(shape: [ck_conv2d_packed_size(ctx.raw, &d, algo.c)])
        ck_conv2d_pack(ctx.raw, &d, algo.c, weights.data, packed.data)
    }

    /// From stored int8 weights: `codes` (HWIO, integers in -127...127) and one step per output
    /// channel, as `Int8Weights.quantize` makes them: the same packed bits as the fp32 original.
    /// Nil unless the layer runs in int8 with this algorithm (the caller then dequantises).
    public init?(
        _ ctx: ComputeContext, shape: Conv2DShape, codes: [Int8], steps: [Float], bias: Tensor?,
        algorithm: ConvAlgorithm = .auto
    ) throws {
        guard shape.isValid else { throw KernelError.shape("invalid convolution \(shape)") }
        guard codes.count == shape.weightShape.reduce(1, *), steps.count == shape.cout else {
            throw KernelError.shape("int8 conv weights of \(codes.count) codes and \(steps.count) steps for \(shape)")
        }
        if let bias, bias.count != shape.cout {
            throw KernelError.shape("conv bias has \(bias.count) values, expected \(shape.cout)")
        }
        var d = shape.c
        let algo = ConvAlgorithm.resolve(algorithm, for: shape, context: ctx)
        let packed = Tensor(shape: [ck_conv2d_packed_size(ctx.raw, &d, algo.c)])
        guard ck_conv2d_pack_int8_codes(ctx.raw, &d, algo.c, codes, steps, packed.data) != 0 else { return nil }
        (self.ctx, self.shape, self.algorithm, self.bias, self.packed) = (ctx, shape, algo, bias, packed)
    }

    public var workspaceSize: Int { var d = shape.c; return ck_conv2d_workspace_size(ctx.raw, &d, algorithm.c) }

    /// Runs on `input` [n, h, w, cin] (n may differ from the packed shape's n).
    public func callAsFunction(_ input: Tensor, workspace: Workspace, into out: Tensor? = nil) throws -> Tensor {
        var s = shape
        guard input.shape.count == 4, input.shape[1] == s.h, input.shape[2] == s.w,
            input.shape[3] == s.cin
        else {
            throw KernelError.shape("conv input \(input.shape), expected [n, \(s.h), \(s.w), \(s.cin)]")
        }
        s.n = input.shape[0]
        let out = output(out, [s.n, s.outH, s.outW, s.cout])
        var d = s.c
        let ws = workspace.floats(ck_conv2d_workspace_size(ctx.raw, &d, algorithm.c))
        ck_conv2d(ctx.raw, &d, algorithm.c, input.data, packed.data, bias?.data, out.data, ws)
        return out
    }

    /// Whether `convolutionThenMaxPool2` runs fused: the Winograd algorithms pool each output
    /// tile while it is in cache.
    public var fusesMaxPool2: Bool { [.winograd2x2, .winograd4x4, .winograd6x6].contains(algorithm) }

    /// This convolution followed by a 2x2, stride-2 max pool without padding (sizes rounded
    /// down) into `out` [n, outH / 2, outW / 2, cout], in one pass: the bits of the two ops
    /// run one after the other, without writing the full-size output. Nil (nothing written)
    /// unless `fusesMaxPool2`.
    public func convolutionThenMaxPool2(_ input: Tensor, workspace: Workspace, into out: Tensor) throws -> Tensor? {
        guard fusesMaxPool2 else { return nil }
        var s = shape
        guard input.shape.count == 4, input.shape[1] == s.h, input.shape[2] == s.w, input.shape[3] == s.cin
        else {
            throw KernelError.shape("conv input \(input.shape), expected [n, \(s.h), \(s.w), \(s.cin)]")
        }
        s.n = input.shape[0]
        precondition(out.count == s.n * (s.outH / 2) * (s.outW / 2) * s.cout, "pooled output \(out.shape)")
        var d = s.c
        let ws = workspace.floats(ck_conv2d_workspace_size(ctx.raw, &d, algorithm.c))
        guard ck_conv2d_maxpool2(ctx.raw, &d, algorithm.c, input.data, packed.data, bias?.data, out.data, ws) != 0
        else { return nil }
        return out
    }
}

/// Scratch memory shared by ops run one after another on one context.
public final class Workspace: @unchecked Sendable {
    private var storage: Tensor?
    public init() {}
    public func floats(_ n: Int) -> UnsafeMutablePointer<Float> {
        if storage == nil || storage!.count < n { storage = Tensor(shape: [max(n, 1)]) }
        return storage!.data
    }
    public var size: Int { storage?.count ?? 0 }
}

/// Dense weights [K, N] packed for GEMM.
public final class PackedMatrix: @unchecked Sendable {
    public let k: Int, n: Int
    let packed: Tensor
    let ctx: ComputeContext

    public init(_ ctx: ComputeContext, weights: Tensor) throws {
        guard weights.shape.count == 2 else {
            throw KernelError.shape("dense weights must be 2-D, got \(weights.shape)")
        }
        k = weights.shape[0]
        n = weights.shape[1]
        self.ctx = ctx
        packed = Tensor(shape: [ck_packed_b_size(ctx.raw, k, n)])
        ck_pack_b(ctx.raw, k, n, weights.data, n, packed.data)
    }

    /// act(a [m, k] x W + bias) -> [m, n]
    public func matmul(
        _ a: Tensor, bias: Tensor?, activation: Activation = .linear,
        workspace: Workspace, into out: Tensor? = nil
    ) throws -> Tensor {
        guard let k0 = a.shape.last, k0 == k else {
            throw KernelError.shape("matmul input \(a.shape), expected last dimension \(k)")
        }
        if let bias, bias.count != n { throw KernelError.shape("bias has \(bias.count) values, expected \(n)") }
        let m = a.count / max(k, 1)
        let out = output(out, Array(a.shape.dropLast()) + [n])
        ck_gemm_packed(
            ctx.raw, m, n, k, a.data, k, packed.data, bias?.data, activation.c, out.data, n,
            workspace.floats(ck_gemm_workspace_size(ctx.raw)))
        return out
    }
}

/// A weight matrix W [k, n] in bfloat16 for act(a W + bias) with bf16 inputs and fp32 sums
/// (the bf16 GEMM of CKernels: the same bits on every ISA and thread count).
public final class PackedMatrixBF16: @unchecked Sendable {
    public let k: Int, n: Int
    let packed: [UInt32]
    let ctx: ComputeContext

    public init(_ ctx: ComputeContext, weights: Tensor) throws {
        guard weights.shape.count == 2 else {
            throw KernelError.shape("dense weights must be 2-D, got \(weights.shape)")
        }
        let (k, n) = (weights.shape[0], weights.shape[1])
        var p = [UInt32](repeating: 0, count: ck_packed_b_bf16_size(k, n))
        p.withUnsafeMutableBufferPointer { ck_pack_b_bf16(k, n, weights.data, n, $0.baseAddress) }
        (self.k, self.n, self.ctx, packed) = (k, n, ctx, p)
    }

    /// Whether this context runs the AVX512_BF16 instructions (else their exact emulation).
    public var native: Bool { ck_gemm_bf16_native(ctx.raw) != 0 }

    /// act(bf16(a) [m, k] x W + bias) -> [m, n]
    public func matmul(
        _ a: Tensor, bias: Tensor?, activation: Activation = .linear, workspace: Workspace,
        into out: Tensor? = nil
    ) throws
        -> Tensor
    {
        guard let k0 = a.shape.last, k0 == k else {
            throw KernelError.shape("matmul input \(a.shape), expected last dimension \(k)")
        }
        if let bias, bias.count != n { throw KernelError.shape("bias has \(bias.count) values, expected \(n)") }
        let m = a.count / max(k, 1)
        let out = output(out, Array(a.shape.dropLast()) + [n])
        // the workspace's floats hold the bf16 pairs (both 4 bytes)
        let ws = UnsafeMutableRawPointer(workspace.floats(ck_gemm_bf16_workspace_size(ctx.raw)))
            .assumingMemoryBound(to: UInt32.self)
        packed.withUnsafeBufferPointer {
            ck_gemm_bf16_packed(ctx.raw, m, n, k, a.data, k, $0.baseAddress, bias?.data, activation.c, out.data, n, ws)
        }
        return out
    }
}

/// A weight matrix W [k, n] in s8 per column for act(a W + bias) with a quantised to u8 by
/// `input` and exact int32 sums (the int8 GEMM of CKernels: the same bits on every kernel, ISA
/// and thread count).
public final class PackedMatrixInt8: @unchecked Sendable {
    public let k: Int, n: Int
    let packed: [UInt32]
    let ctx: ComputeContext

    public init(_ ctx: ComputeContext, weights: Tensor, input: Int8Quantization) throws {
        guard weights.shape.count == 2 else {
            throw KernelError.shape("dense weights must be 2-D, got \(weights.shape)")
        }
        let (k, n) = (weights.shape[0], weights.shape[1])
        guard k <= Int8Quantization.maxK else {
            throw KernelError.shape("int8 weights have k = \(k), more than \(Int8Quantization.maxK)")
        }
        var p = [UInt32](repeating: 0, count: ck_packed_b_int8_size(k, n))
        p.withUnsafeMutableBufferPointer {
            ck_pack_b_int8(k, n, weights.data, n, input.scale, Int32(input.zeroPoint), $0.baseAddress)
        }
        (self.k, self.n, self.ctx, packed) = (k, n, ctx, p)
    }

    /// act(a [m, k] x W + bias) -> [m, n]
    public func matmul(
        _ a: Tensor, bias: Tensor?, activation: Activation = .linear, workspace: Workspace
    ) throws
        -> Tensor
    {
        guard let k0 = a.shape.last, k0 == k else {
            throw KernelError.shape("matmul input \(a.shape), expected last dimension \(k)")
        }
        if let bias, bias.count != n { throw KernelError.shape("bias has \(bias.count) values, expected \(n)") }
        let m = a.count / max(k, 1)
        let out = Tensor(uninitialized: Array(a.shape.dropLast()) + [n])
        let ws = UnsafeMutableRawPointer(workspace.floats(ck_gemm_int8_workspace_size(ctx.raw)))
            .assumingMemoryBound(to: UInt32.self)
        packed.withUnsafeBufferPointer {
            ck_gemm_int8_packed(ctx.raw, m, n, k, a.data, k, $0.baseAddress, bias?.data, activation.c, out.data, n, ws)
        }
        return out
    }
}

/// Geometry of 2-D pooling over NHWC input.
public struct Pool2DShape: Sendable, Equatable {
    public var n, h, w, c, kh, kw, sh, sw: Int
    public var padTop = 0, padLeft = 0, padBottom = 0, padRight = 0
    public var ceilMode = false
    public var countIncludePad = false

    public init(n: Int, h: Int, w: Int, c: Int, kh: Int, kw: Int, sh: Int, sw: Int) {
        (self.n, self.h, self.w, self.c, self.kh, self.kw, self.sh, self.sw) = (n, h, w, c, kh, kw, sh, sw)
    }
    var cdesc: ck_pool2d_desc {
        ck_pool2d_desc(
            n: Int32(n), h: Int32(h), w: Int32(w), c: Int32(c), kh: Int32(kh), kw: Int32(kw),
            sh: Int32(sh), sw: Int32(sw), pad_top: Int32(padTop), pad_left: Int32(padLeft),
            pad_bottom: Int32(padBottom), pad_right: Int32(padRight),
            ceil_mode: ceilMode ? 1 : 0, count_include_pad: countIncludePad ? 1 : 0)
    }
    public var isValid: Bool { var d = cdesc; return ck_pool2d_valid(&d) != 0 }
    public var outH: Int { var d = cdesc; return Int(ck_pool2d_out_h(&d)) }
    public var outW: Int { var d = cdesc; return Int(ck_pool2d_out_w(&d)) }
}

public extension ComputeContext {
    func maxPool(_ x: Tensor, _ p: Pool2DShape, into out: Tensor? = nil) -> Tensor {
        var d = p.cdesc
        let out = output(out, [p.n, p.outH, p.outW, p.c])
        ck_maxpool2d(raw, &d, x.data, out.data)
        return out
    }
    func avgPool(_ x: Tensor, _ p: Pool2DShape, into out: Tensor? = nil) -> Tensor {
        var d = p.cdesc
        let out = output(out, [p.n, p.outH, p.outW, p.c])
        ck_avgpool2d(raw, &d, x.data, out.data)
        return out
    }
    /// [n, h, w, c] -> [n, c]
    func globalAvgPool(_ x: Tensor, into out: Tensor? = nil) -> Tensor {
        let (n, c) = (x.shape[0], x.shape[x.shape.count - 1])
        let out = output(out, [n, c])
        ck_global_avgpool(raw, Int32(n), Int32(x.count / max(n * c, 1)), Int32(c), x.data, out.data)
        return out
    }
    func relu(_ x: Tensor, into out: Tensor? = nil) -> Tensor {
        let out = output(out, x.shape)
        ck_relu(raw, x.count, x.data, out.data)
        return out
    }
    func prelu(_ x: Tensor, alpha: Tensor, into out: Tensor? = nil) -> Tensor {
        let out = output(out, x.shape)
        let c = alpha.count
        ck_prelu(raw, x.count / c, c, x.data, alpha.data, out.data)
        return out
    }
    func add(_ a: Tensor, _ b: Tensor, into out: Tensor? = nil) -> Tensor {
        precondition(a.shape == b.shape)
        let out = output(out, a.shape)
        ck_add(raw, a.count, a.data, b.data, out.data)
        return out
    }
    /// Per-channel x * scale + shift over the last axis (folded batch normalisation).
    func affineChannels(_ x: Tensor, scale: Tensor, shift: Tensor, into out: Tensor? = nil) -> Tensor {
        let out = output(out, x.shape)
        let c = scale.count
        ck_affine_channels(raw, x.count / c, c, x.data, scale.data, shift.data, out.data)
        return out
    }
    /// Softmax over the last axis.
    func softmax(_ x: Tensor, into out: Tensor? = nil) -> Tensor {
        let out = output(out, x.shape)
        let c = x.shape.last ?? 1
        ck_softmax(raw, x.count / c, c, x.data, out.data)
        return out
    }
}

/// Folds batch normalisation statistics into per-channel scale and shift.
public func foldBatchNorm(
    gamma: Tensor?, beta: Tensor?, mean: Tensor, variance: Tensor,
    epsilon: Float
) -> (scale: Tensor, shift: Tensor) {
    let c = mean.count
    let scale = Tensor(shape: [c]), shift = Tensor(shape: [c])
    ck_batchnorm_fold(c, gamma?.data, beta?.data, mean.data, variance.data, epsilon, scale.data, shift.data)
    return (scale, shift)
}

/// Scalar references of the C core, the oracle of the tests.
public enum Reference {
    public static func conv2d(_ s: Conv2DShape, input: Tensor, weights: Tensor, bias: Tensor?) -> Tensor {
        var d = s.c
        let out = Tensor(shape: [s.n, s.outH, s.outW, s.cout])
        ck_conv2d_ref(&d, input.data, weights.data, bias?.data, out.data)
        return out
    }
    public static func gemm(_ a: Tensor, _ b: Tensor, bias: Tensor?, activation: Activation = .linear) -> Tensor {
        let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1])
        let out = Tensor(shape: [m, n])
        ck_gemm_ref(m, n, k, a.data, k, b.data, n, bias?.data, activation.c, out.data, n)
        return out
    }
    public static func maxPool(_ x: Tensor, _ p: Pool2DShape) -> Tensor {
        var d = p.cdesc
        let out = Tensor(shape: [p.n, p.outH, p.outW, p.c])
        ck_maxpool2d_ref(&d, x.data, out.data)
        return out
    }
    public static func avgPool(_ x: Tensor, _ p: Pool2DShape) -> Tensor {
        var d = p.cdesc
        let out = Tensor(shape: [p.n, p.outH, p.outW, p.c])
        ck_avgpool2d_ref(&d, x.data, out.data)
        return out
    }
    public static func relu(_ x: Tensor) -> Tensor {
        let out = Tensor(shape: x.shape); ck_relu_ref(x.count, x.data, out.data); return out
    }
    public static func add(_ a: Tensor, _ b: Tensor) -> Tensor {
        let out = Tensor(shape: a.shape); ck_add_ref(a.count, a.data, b.data, out.data); return out
    }
    public static func prelu(_ x: Tensor, alpha: Tensor) -> Tensor {
        let out = Tensor(shape: x.shape)
        ck_prelu_ref(x.count / alpha.count, alpha.count, x.data, alpha.data, out.data)
        return out
    }
    public static func affineChannels(_ x: Tensor, scale: Tensor, shift: Tensor) -> Tensor {
        let out = Tensor(shape: x.shape)
        ck_affine_channels_ref(x.count / scale.count, scale.count, x.data, scale.data, shift.data, out.data)
        return out
    }
}
