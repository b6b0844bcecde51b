import Foundation
import Kernels
import NN
import Saliency
import TestSupport
import Testing
import Training
import Weights

/// Grad-CAM against PyTorch (Tests/Fixtures/gradcam_golden.safetensors, written by
/// tools/make_gradcam_fixtures.py with torch autograd over the same weights and inputs).
@Suite struct GradCAMParityTests {
    struct Case: CustomStringConvertible, Sendable {
        let name: String, model: String, target: String, layer: String
        /// float32 against float64 in PyTorch, per tensor: the problem's own noise floor
        let noise: [String: Double]
        var description: String { name }
    }

    static let golden = try? SafeTensorsFile(path: fixturePath("gradcam_golden.safetensors"))
    static let cases: [Case] = {
        guard let g = golden, let meta = g.metadata["cases"],
            let list = try? JSONSerialization.jsonObject(with: Data(meta.utf8)) as? [[String: Any]]
        else { return [] }
        return list.map {
            let name = $0["case"] as! String
            return Case(
                name: name, model: String(name.prefix(1)), target: $0["target"] as! String,
                layer: $0["layer"] as! String, noise: ($0["f64_rel"] as? [String: Double]) ?? [:])
        }
    }()

    /// The frame-wise head of the fixture: SplitMix64 seeds 2000 + 2l (kernels, Glorot range)
    /// and 2001 + 2l (biases in [-0.1, 0.1)).
    static func head(features: Int, context: ComputeContext) throws -> FrameNet {
        let dims = [features, 1024, 128, 32, 3]
        var w: [Tensor] = []
        for l in 0..<(dims.count - 1) {
            let (fi, fo) = (dims[l], dims[l + 1])
            let lim = Float((6.0 / Double(fi + fo)).squareRoot())
            w.append(
                Tensor(
                    shape: [fi, fo],
                    values: splitmixUniform(seed: UInt64(2000 + 2 * l), count: fi * fo).map { $0 * lim }))
            w.append(
                Tensor(shape: [fo], values: splitmixUniform(seed: UInt64(2001 + 2 * l), count: fo, lo: -0.1, hi: 0.1)))
        }
        return try FrameNet(dims: dims, dropout: 0, weights: w, context: context)
    }

    static func model(_ name: String, context: ComputeContext) throws -> (Model, Tensor) {
        if name == "x" {
            let g = try SafeTensorsFile(path: fixturePath("mini_xception_golden.safetensors"))
            let x = try g.tensor("input")
            let eight = Tensor(shape: [8] + Array(x.shape.dropFirst()))
            eight.data.update(from: x.data, count: eight.count)
            let stem = repositoryRoot().appendingPathComponent("models/fer-mini-xception").path
            return (try Model(path: stem, context: context), eight)
        }
        return (try vgg16FixtureModel(context: context), vgg16FixtureInputs())
    }

    @Test("the PyTorch fixture is there and lists the cases of both models")
    func fixture() {
        #expect(Self.golden != nil, "Tests/Fixtures/gradcam_golden.safetensors is missing or unreadable")
        #expect(Self.cases.count == 7 && Set(Self.cases.map(\.model)) == ["x", "v"])
    }

    @Test("Grad-CAM and Grad-CAM++ equal PyTorch's", arguments: cases)
    func parity(_ c: Case) throws {
        let g = try #require(Self.golden)
        // the VGG16 cases run once (they are slow in debug builds); the mini-Xception on every ISA
        for isa in c.model == "x" ? ISA.supported : [.best] {
            let ctx = try ComputeContext(isa: isa, threads: 2)
            let (model, x) = try Self.model(c.model, context: ctx)
            let classes = try g.tensor("\(c.name)/class").array.map { Int($0) }
            var scores: [Float] = []
            let r: LayerGradient
            if c.target == "own" {
                let logits = model.logits(of: model.config.outputs.probabilities!)
                r = try model.gradient(x, layer: c.layer, output: logits) { out in
                    let k = out.count / x.shape[0], seed = Tensor(shape: out.shape)
                    for (i, cl) in classes.enumerated() {
                        seed.data[i * k + cl] = 1
                        scores.append(out.data[i * k + cl])
                    }
                    return seed
                }
            } else {
                let head = try Self.head(features: model.featureDimension, context: ctx)
                r = try model.gradient(x, layer: c.layer, output: model.config.outputs.features) { out in
                    let (logits, grad) = try head.logitGradient(out, classes: classes)
                    scores = classes.enumerated().map { logits.data[$0.offset * 3 + $0.element] }
                    return grad
                }
            }
            let expectScore = try g.tensor("\(c.name)/score")
            #expect(relativeError(Tensor(shape: [scores.count], values: scores), expectScore) < 1e-4, "\(isa) score")
            let cam = ClassActivationMaps(activation: r.activation, gradient: r.gradient, method: .gradCAM)
            let pp = ClassActivationMaps(activation: r.activation, gradient: r.gradient, method: .gradCAMPlusPlus)
            for (what, got) in [("alpha", cam.weights), ("cam", cam.maps), ("campp", pp.maps)] {
                // 1e-4, or 20x float32's own error where the map is ill-conditioned (Grad-CAM++
                // of a layer whose channel sums can be negative: its denominator nearly cancels)
                let tolerance = max(1e-4, 20 * (c.noise[what] ?? 0))
                let e = relativeError(got, try g.tensor("\(c.name)/\(what)"))
                #expect(Double(e) < tolerance, "\(isa) \(c.name) \(what): relative error \(e)")
                print("gradcam parity \(c.name) \(isa) \(what): relative error \(e)")
            }
            if let up = try? g.tensor("\(c.name)/cam_up") {
                let (h, w) = (up.shape[1], up.shape[2])
                let upp = try g.tensor("\(c.name)/campp_up")
                let eu = relativeError(cam.normalised(height: h, width: w), up)
                let epp = relativeError(pp.normalised(height: h, width: w), upp)
                #expect(Double(eu) < max(1e-4, 20 * (c.noise["cam"] ?? 0)), "\(isa) cam_up: \(eu)")
                #expect(Double(epp) < max(1e-4, 20 * (c.noise["campp"] ?? 0)), "\(isa) campp_up: \(epp)")
            }
        }
    }
}

/// Gradients of a small model with every op the graph supports, against central finite
/// differences of the score (in double over the float forward pass).
@Suite struct ModelGradientTests {
    static let config = """
        {"format": "painface-model/1", "name": "every-op",
         "input": {"height": 9, "width": 8, "channels": 3, "color": "rgb",
                   "normalization": {"scale": 1, "offset": 0}},
         "layers": [
           {"name": "c1", "type": "conv2d", "filters": 6, "kernel": [3, 3], "padding": "same", "activation": "relu"},
           {"name": "bn", "type": "batchnorm", "epsilon": 0.001},
           {"name": "dw", "type": "depthwise_conv2d", "kernel": [3, 3], "strides": [2, 2], "padding": "same",
            "depth_multiplier": 2},
           {"name": "pr", "type": "prelu"},
           {"name": "pw", "type": "conv2d", "filters": 6, "kernel": [1, 1]},
           {"name": "skip", "type": "conv2d", "filters": 6, "kernel": [1, 1], "strides": [2, 2], "inputs": ["bn"]},
           {"name": "mp", "type": "maxpool2d", "pool": [3, 3], "strides": [1, 1], "padding": "same",
            "inputs": ["pw"]},
           {"name": "sum", "type": "add", "inputs": ["mp", "skip"]},
           {"name": "ap", "type": "avgpool2d", "pool": [2, 2], "strides": [1, 1]},
           {"name": "r", "type": "relu"},
           {"name": "gap", "type": "global_avgpool"},
           {"name": "fc", "type": "dense", "units": 5, "activation": "relu"},
           {"name": "logits", "type": "dense", "units": 3},
           {"name": "prob", "type": "softmax"}],
         "outputs": {"features": "fc", "probabilities": "prob"}}
        """

    static func model(_ ctx: ComputeContext) throws -> Model {
        let config = try ModelConfig.decode(Data(config.utf8), path: "every-op.json")
        var rng = SeededRNG(seed: 3)
        let shapes: [(String, [Int])] = [
            ("c1.kernel", [3, 3, 3, 6]), ("c1.bias", [6]), ("bn.gamma", [6]), ("bn.beta", [6]),
            ("bn.moving_mean", [6]), ("bn.moving_variance", [6]), ("dw.depthwise_kernel", [3, 3, 6, 2]),
            ("dw.bias", [12]), ("pr.alpha", [12]), ("pw.kernel", [1, 1, 12, 6]), ("pw.bias", [6]),
            ("skip.kernel", [1, 1, 6, 6]), ("skip.bias", [6]), ("fc.kernel", [6, 5]), ("fc.bias", [5]),
            ("logits.kernel", [5, 3]), ("logits.bias", [3]),
        ]
        let tensors = shapes.map { name, shape in
            let t = randomTensor(shape, &rng)
            if name == "bn.moving_variance" { for i in 0..<t.count { t.data[i] = abs(t.data[i]) + 0.5 } }
            if name.hasSuffix(".bias") { for i in 0..<t.count { t.data[i] += 0.3 } }
            return (name, t)
        }
        return try Model(config: config, weights: try memoryFile(tensors), context: ctx)
    }

    @Test("d logit / d layer by reverse mode equals finite differences, for every layer on the path")
    func finiteDifferences() throws {
        let ctx = try ComputeContext(isa: .best, threads: 2)
        let m = try Self.model(ctx)
        var rng = SeededRNG(seed: 11)
        let x = randomTensor([2, 9, 8, 3], &rng)
        #expect(m.spatialLayers(leadingTo: "logits") == ["c1", "bn", "dw", "pr", "pw", "skip", "mp", "sum", "ap", "r"])
        #expect(m.logits(of: "prob") == "logits")
        let classes = [2, 0]
        func score(_ x: Tensor) throws -> Double {
            let z = try m.forward(x, outputs: ["logits"])["logits"]!
            return classes.enumerated().reduce(0.0) { $0 + Double(z.data[$1.offset * 3 + $1.element]) }
        }
        let r = try m.gradient(x, layer: "input", output: "logits") { out in
            let s = Tensor(shape: out.shape)
            for (i, c) in classes.enumerated() { s.data[i * 3 + c] = 1 }
            return s
        }
        var worst = 0.0, gmax = 0.0
        for i in 0..<r.gradient.count { gmax = max(gmax, Double(abs(r.gradient.data[i]))) }
        for i in stride(from: 0, to: x.count, by: 7) {
            let keep = x.data[i], h: Float = 1e-2
            x.data[i] = keep + h
            let up = try score(x)
            x.data[i] = keep - h
            let down = try score(x)
            x.data[i] = keep
            worst = max(worst, abs((up - down) / Double(2 * h) - Double(r.gradient.data[i])) / gmax)
        }
        #expect(gmax > 0)
        #expect(worst < 2e-2, "finite differences differ by \(worst) of the largest gradient")
        // a layer inside the graph (an add of two paths) has its output's shape
        let atSum = try m.gradient(x, layer: "sum", output: "logits") { out in
            let s = Tensor(shape: out.shape)
            for (i, c) in classes.enumerated() { s.data[i * 3 + c] = 1 }
            return s
        }
        #expect(atSum.gradient.shape == [2, 5, 4, 6])
        #expect(atSum.activation.shape == [2, 5, 4, 6])
        #expect(throws: (any Error).self) { try m.gradient(x, layer: "fc", output: "skip") { $0 } }
    }
}

@Suite struct HeadGradientTests {
    func check(_ net: Trainable, _ x: Tensor, classes: [Int], tolerance: Double) throws {
        let (logits, g) = try net.logitGradient(x, classes: classes)
        let k = logits.count / x.shape[0]
        func score(_ x: Tensor) throws -> Double {
            let z = try net.logitGradient(x, classes: classes).logits
            return classes.enumerated().reduce(0.0) { $0 + Double(z.data[$1.offset * k + $1.element]) }
        }
        var worst = 0.0, gmax = 0.0
        for i in 0..<g.count { gmax = max(gmax, Double(abs(g.data[i]))) }
        for i in stride(from: 0, to: x.count, by: max(1, x.count / 40)) {
            let keep = x.data[i], h: Float = 1e-2
            x.data[i] = keep + h
            let up = try score(x)
            x.data[i] = keep - h
            let down = try score(x)
            x.data[i] = keep
            worst = max(worst, abs((up - down) / Double(2 * h) - Double(g.data[i])) / gmax)
        }
        #expect(gmax > 0 && worst < tolerance, "finite differences differ by \(worst)")
    }

    @Test("the frame-wise head's logit gradient equals finite differences")
    func framewise() throws {
        let ctx = try ComputeContext(isa: .best, threads: 2)
        let net = try FrameNet(dims: [20, 16, 8, 3], dropout: 0.3, seed: 5, context: ctx)
        var rng = SeededRNG(seed: 2)
        try check(net, randomTensor([4, 20], &rng), classes: [0, 1, 2, 1], tolerance: 1e-2)
    }

    @Test("the LSTM head's logit gradient reaches every frame of the window, as finite differences")
    func lstm() throws {
        let ctx = try ComputeContext(isa: .best, threads: 2)
        let net = try LSTMNet(features: 6, units: (5, 4), denseUnits: 4, classes: 3, seed: 9, context: ctx)
        var rng = SeededRNG(seed: 4)
        let x = randomTensor([2, 7, 6], &rng)
        try check(net, x, classes: [1, 2], tolerance: 1e-2)
        // the first frame matters too (through the recurrence)
        let g = try net.logitGradient(x, classes: [1, 2]).gradient
        #expect((0..<6).contains { g.data[$0] != 0 })
    }
}

@Suite struct HeatmapTests {
    @Test("viridis runs dark to light (its lightness rises monotonically) from purple to yellow")
    func viridis() {
        var last = -1.0
        for i in 0...64 {
            let (r, g, b) = Heatmap.viridis(Float(i) / 64)
            let y = 0.2126 * Double(r) + 0.7152 * Double(g) + 0.0722 * Double(b)
            #expect(y > last, "lightness at \(i)/64")
            last = y
        }
        let (r0, g0, b0) = Heatmap.viridis(0), (r1, g1, b1) = Heatmap.viridis(1)
        #expect(b0 > r0 && b0 > g0 && r1 > b1 && g1 > b1)
    }

    @Test("maps are scaled to [0, 1] and resized with half-pixel centres")
    func normalised() {
        let a = Tensor(shape: [1, 2, 2, 1], values: [1, 2, 3, 4]),
            g = Tensor(shape: [1, 2, 2, 1], values: [1, 1, 1, 1])
        let m = ClassActivationMaps(activation: a, gradient: g, method: .gradCAM)
        #expect(m.maps.array == [1, 2, 3, 4])
        let up = m.normalised(height: 4, width: 4).array
        #expect(abs(up[0]) < 1e-6 && abs(up[15] - 1) < 1e-6)
        // PyTorch's bilinear, align_corners=False: row 0 = [0, 1/12, 3/12, 4/12] of the way
        #expect(abs(up[1] - 0.25 / 3) < 1e-6 && abs(up[2] - 0.75 / 3) < 1e-6)
    }
}
