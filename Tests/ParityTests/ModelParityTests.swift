import Foundation
import Kernels
import NN
import TestSupport
import Testing
import Weights

@Suite struct KerasLayerParityTests {
    struct Case: Decodable, CustomStringConvertible, Sendable {
        let caseName: String
        let layerJSON: String
        let input: [Int]
        var description: String { caseName }
    }

    static let golden = try! SafeTensorsFile(path: fixturePath("ops_golden.safetensors"))
    static let cases: [Case] = {
        let list = try! JSONSerialization.jsonObject(with: Data(golden.metadata["cases"]!.utf8)) as! [[String: Any]]
        return list.map {
            Case(
                caseName: $0["case"] as! String,
                layerJSON: String(data: try! JSONSerialization.data(withJSONObject: $0["layer"]!), encoding: .utf8)!,
                input: $0["input"] as! [Int])
        }
    }()

    @Test("each layer equals Keras on the golden cases, on every ISA", arguments: cases)
    func layer(_ c: Case) throws {
        let g = Self.golden
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        let spec = try d.decode(LayerSpec.self, from: Data(c.layerJSON.utf8))
        // 2-D inputs [n, c] run as [n, 1, 1, c]
        let hwc = c.input.count == 4 ? Array(c.input[1...]) : [1, 1, c.input[1]]
        let config = ModelConfig(
            name: c.caseName,
            input: InputSpec(
                height: hwc[0], width: hwc[1], channels: hwc[2], color: "rgb",
                normalization: Normalization(scale: 1, offset: 0)),
            layers: [spec], outputs: .init(features: "L"))
        let prefix = "\(c.caseName)/"
        let weights = try g.entries.keys.filter { $0.hasPrefix(prefix + "L.") }.sorted().map {
            (String($0.dropFirst(prefix.count)), try g.tensor($0))
        }
        let x = try g.tensor(prefix + "input").reshaped([c.input[0]] + hwc)
        let expected = try g.tensor(prefix + "output")
        for isa in ISA.supported {
            let model = try Model(
                config: config, weights: try memoryFile(weights), context: try ComputeContext(isa: isa, threads: 2))
            let y = try model.forward(x, outputs: ["L"])["L"]!
            #expect(y.count == expected.count, "\(isa): \(y.shape) vs \(expected.shape)")
            #expect(relativeError(y, expected) < 1e-5, "\(isa): relative error \(relativeError(y, expected))")
        }
    }
}

@Suite struct MiniXceptionTests {
    @Test("the shipped mini-Xception equals Keras on real face crops, on every ISA")
    func parity() throws {
        let g = try SafeTensorsFile(path: fixturePath("mini_xception_golden.safetensors"))
        let x = try g.tensor("input"), probs = try g.tensor("probabilities"), feats = try g.tensor("features")
        let stem = repositoryRoot().appendingPathComponent("models/fer-mini-xception").path
        for isa in ISA.supported {
            let model = try Model(path: stem, context: try ComputeContext(isa: isa, threads: 2))
            #expect(model.featureDimension == 128)
            let out = try model.forward(
                x, outputs: [model.config.outputs.features, model.config.outputs.probabilities!])
            let p = out[model.config.outputs.probabilities!]!, f = out[model.config.outputs.features]!
            var maxAbs: Float = 0
            for i in 0..<p.count { maxAbs = max(maxAbs, abs(p.data[i] - probs.data[i])) }
            #expect(maxAbs < 1e-5, "\(isa): probabilities differ by \(maxAbs)")
            #expect(relativeError(f, feats) < 1e-5, "\(isa): features relative error \(relativeError(f, feats))")
        }
    }
}

@Suite struct VGG16Tests {
    @Test("VGG16-GAP-FC1024 converted from Keras gives Keras's features within 1e-4")
    func parity() throws {
        let g = try SafeTensorsFile(path: fixturePath("vgg16_gap_fc1024_golden.safetensors"))
        let model = try vgg16FixtureModel(context: try ComputeContext(isa: .best, threads: 2))
        #expect(model.featureDimension == 1024)
        #expect(abs(model.flopsPerItem - 30.69e9) < 0.01e9)
        let out = try model.forward(vgg16FixtureInputs(), outputs: ["fc1024", "pain_softmax"])
        let f = out["fc1024"]!, expected = try g.tensor("features")
        let err = relativeError(f, expected)
        #expect(err < 1e-4, "features relative error \(err)")
        #expect(relativeError(out["pain_softmax"]!, try g.tensor("probabilities")) < 1e-4)
    }

    @Test("VGG16-GAP-FC1024 with each Winograd size forced gives Keras's features within 1e-4 (AVX2, AVX-512)")
    func parityPerAlgorithm() throws {
        let g = try SafeTensorsFile(path: fixturePath("vgg16_gap_fc1024_golden.safetensors"))
        // the first of the two images (a second adds time, not coverage)
        let all = try g.tensor("features").array, x = vgg16FixtureInputs().array
        let expected = Tensor(shape: [1, all.count / 2], values: Array(all[0..<(all.count / 2)]))
        let one = Tensor(shape: [1, 224, 224, 3], values: Array(x[0..<(224 * 224 * 3)]))
        for isa in ISA.supported where isa != .scalar {
            for algo in [ConvAlgorithm.winograd2x2, .winograd4x4, .winograd6x6] {
                let ctx = try ComputeContext(isa: isa, threads: 2)
                ctx.convPolicy = .forced(algo)
                let model = try vgg16FixtureModel(context: ctx)
                #expect(model.convAlgorithms.filter { $0.algorithm == algo }.count == 13)
                let f = try model.forward(one, outputs: ["fc1024"])["fc1024"]!
                let err = relativeError(f, expected)
                #expect(err < 1e-4, "\(isa) \(algo): features relative error \(err)")
            }
        }
    }

    @Test("the max pools fused into their Winograd convolutions change no bit of the features (AVX2, AVX-512)")
    func fusedPools() throws {
        let x = vgg16FixtureInputs().array
        let one = Tensor(shape: [1, 224, 224, 3], values: Array(x[0..<(224 * 224 * 3)]))
        // asking for a convolution's own output keeps its full-size result, so its pool runs apart
        let convs = ["block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3"]
        for isa in ISA.supported where isa != .scalar {
            let model = try vgg16FixtureModel(context: try ComputeContext(isa: isa, threads: 2))
            let fusing = model.convAlgorithms.filter {
                convs.contains($0.layer) && [.winograd2x2, .winograd4x4, .winograd6x6].contains($0.algorithm)
            }
            #expect(!fusing.isEmpty, "\(isa): no pooled layer runs Winograd, so nothing is fused")
            let fused = try model.forward(one, outputs: ["fc1024"])["fc1024"]!
            let apart = try model.forward(one, outputs: ["fc1024"] + convs)["fc1024"]!
            #expect(fused.array == apart.array, "\(isa): fused and separate pools differ")
        }
    }
}

@Suite struct PyTorchParityTests {
    @Test(
        """
        a PyTorch net (ceil-mode max pool, padded average pool, PReLU, NCHW flatten) converted from its \
        state_dict equals PyTorch
        """
    )
    func torchNet() throws {
        let g = try SafeTensorsFile(path: fixturePath("torch_net_golden.safetensors"))
        let x = try g.tensor("input"), probs = try g.tensor("probabilities"), feats = try g.tensor("features")
        for isa in ISA.supported {
            let model = try Model(path: fixturePath("torch_net"), context: try ComputeContext(isa: isa, threads: 2))
            let out = try model.forward(x, outputs: ["prelu4", "prob"])
            #expect(
                relativeError(out["prelu4"]!, feats) < 1e-5, "\(isa): features \(relativeError(out["prelu4"]!, feats))")
            #expect(
                relativeError(out["prob"]!, probs) < 1e-5, "\(isa): probabilities \(relativeError(out["prob"]!, probs))"
            )
        }
    }
}
