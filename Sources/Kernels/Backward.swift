import CKernels

/// Gradients with respect to an op's input, for saliency maps (the training ops in
/// TrainingOps.swift also give parameter gradients; these do not need them).
extension Conv2DShape {
    init(_ d: ck_conv2d_desc) {
        self.init(
            n: Int(d.n), h: Int(d.h), w: Int(d.w), cin: Int(d.cin), cout: Int(d.cout), kh: Int(d.kh), kw: Int(d.kw))
        (sh, sw, dh, dw) = (Int(d.sh), Int(d.sw), Int(d.dh), Int(d.dw))
        (padTop, padLeft, padBottom, padRight) = (
            Int(d.pad_top), Int(d.pad_left), Int(d.pad_bottom), Int(d.pad_right)
        )
        groups = Int(d.groups)
    }
}

/// A convolution's gradient with respect to its input: the forward convolution of the flipped
/// kernel over the output gradient (dilated by the stride), packed once for the context.
public final class ConvBackwardData: @unchecked Sendable {
    /// The forward convolution's shape.
    public let shape: Conv2DShape
    let conv: PackedConv2D

    public init(_ ctx: ComputeContext, shape: Conv2DShape, weights: Tensor) throws {
        guard weights.shape == shape.weightShape else {
            throw KernelError.shape("conv weights \(weights.shape), expected \(shape.weightShape)")
        }
        var d = shape.c, b = ck_conv2d_desc()
        guard ck_conv2d_backward_data_desc(&d, &b) != 0 else {
            throw KernelError.shape("convolution \(shape) has no input gradient form (a window wholly in padding)")
        }
        let flipped = Tensor(uninitialized: [Int(b.kh), Int(b.kw), Int(b.cin / b.groups), Int(b.cout)])
        ck_conv2d_backward_data_weights(&d, weights.data, flipped.data)
        self.shape = shape
        conv = try PackedConv2D(ctx, shape: Conv2DShape(b), weights: flipped, bias: nil)
    }

    /// dx [n, h, w, cin] from dy [n, oh, ow, cout], the gradient before the activation.
    public func callAsFunction(_ dy: Tensor, workspace: Workspace) throws -> Tensor {
        var s = shape
        guard dy.shape.count == 4, dy.shape[1] == s.outH, dy.shape[2] == s.outW, dy.shape[3] == s.cout else {
            throw KernelError.shape("conv output gradient \(dy.shape), expected [n, \(s.outH), \(s.outW), \(s.cout)]")
        }
        s.n = dy.shape[0]
        var d = s.c
        let size = ck_conv2d_backward_data_dilated_size(&d)
        guard size > 0 else { return try conv(dy, workspace: workspace) }
        let dilated = Tensor(uninitialized: [s.n, (s.outH - 1) * s.sh + 1, (s.outW - 1) * s.sw + 1, s.cout])
        ck_conv2d_backward_data_dilate(&d, dy.data, dilated.data)
        return try conv(dilated, workspace: workspace)
    }
}

public extension ComputeContext {
    /// dx of max pooling over x [n, h, w, c] (each window's gradient to its maximum).
    func maxPoolBackward(input x: Tensor, _ p: Pool2DShape, gradient dy: Tensor) -> Tensor {
        var d = p.cdesc
        precondition(dy.count == p.n * p.outH * p.outW * p.c && x.count == p.n * p.h * p.w * p.c)
        let dx = Tensor(uninitialized: [p.n, p.h, p.w, p.c])
        ck_maxpool2d_backward(raw, &d, x.data, dy.data, dx.data)
        return dx
    }
    /// dx of average pooling (each window's gradient shared by its divisor).
    func avgPoolBackward(_ p: Pool2DShape, gradient dy: Tensor) -> Tensor {
        var d = p.cdesc
        precondition(dy.count == p.n * p.outH * p.outW * p.c)
        let dx = Tensor(uninitialized: [p.n, p.h, p.w, p.c])
        ck_avgpool2d_backward(raw, &d, dy.data, dx.data)
        return dx
    }
}

public extension Reference {
    /// The direct-scatter reference of ConvBackwardData.
    static func convBackwardData(_ dy: Tensor, _ s: Conv2DShape, weights: Tensor) -> Tensor {
        var d = s.c
        let dx = Tensor(shape: [s.n, s.h, s.w, s.cin])
        ck_conv2d_backward_data_ref(&d, dy.data, weights.data, dx.data)
        return dx
    }
}
