import Foundation
import Kernels
import NN
import TestSupport
import Testing
import Weights

/// A small valid model: conv -> batchnorm -> relu -> gap -> dense -> softmax.
func smallModel() -> (ModelConfig, [(String, Tensor)]) {
    var conv = LayerSpec(name: "c", type: "conv2d")
    conv.filters = 4; conv.kernel = [3, 3]; conv.padding = .same
    var bn = LayerSpec(name: "bn", type: "batchnorm"); bn.epsilon = 1e-3
    var d = LayerSpec(name: "d", type: "dense"); d.units = 3
    let config = ModelConfig(
        name: "small",
        input: InputSpec(
            height: 8, width: 8, channels: 1, color: "gray",
            normalization: Normalization(scale: 1, offset: 0)),
        layers: [
            conv, bn, LayerSpec(name: "r", type: "relu"), LayerSpec(name: "g", type: "global_avgpool"),
            d, LayerSpec(name: "p", type: "softmax"),
        ],
        outputs: .init(features: "g", probabilities: "p"))
    var rng = SeededRNG(seed: 1)
    let w: [(String, Tensor)] = [
        ("c.kernel", randomTensor([3, 3, 1, 4], &rng)), ("c.bias", randomTensor([4], &rng)),
        ("bn.gamma", randomTensor([4], &rng)), ("bn.beta", randomTensor([4], &rng)),
        ("bn.moving_mean", randomTensor([4], &rng)), ("bn.moving_variance", randomTensor([4], &rng, range: 0.5...2)),
        ("d.kernel", randomTensor([4, 3], &rng)), ("d.bias", randomTensor([3], &rng)),
    ]
    return (config, w)
}

func loadError(_ config: ModelConfig, _ w: [(String, Tensor)]) -> String? {
    do {
        _ = try Model(
            config: config, weights: try memoryFile(w, name: "m.safetensors"),
            context: try ComputeContext(isa: .scalar, threads: 1))
        return nil
    } catch { return "\(error)" }
}

@Suite struct ModelFileTests {
    @Test("a valid model loads and runs; probabilities sum to one")
    func valid() throws {
        let (c, w) = smallModel()
        #expect(loadError(c, w) == nil)
        let m = try Model(config: c, weights: try memoryFile(w), context: try ComputeContext())
        var rng = SeededRNG(seed: 2)
        let out = try m.forward(randomTensor([3, 8, 8, 1], &rng), outputs: ["g", "p"])
        #expect(out["g"]!.shape == [3, 4])
        for i in 0..<3 { #expect(abs((0..<3).reduce(Float(0)) { $0 + out["p"]!.data[i * 3 + $1] } - 1) < 1e-6) }
    }

    @Test("wrong, missing, extra and non-finite weights are named precisely")
    func badWeights() {
        let (c, w) = smallModel()
        var wrong = w; wrong[0] = ("c.kernel", Tensor(shape: [3, 3, 2, 4]))
        #expect(loadError(c, wrong) == "m.safetensors: tensor c.kernel has shape [3, 3, 2, 4], expected [3, 3, 1, 4]")
        #expect(loadError(c, Array(w.dropLast())) == "m.safetensors: missing tensor d.bias (expected shape [3])")
        #expect(
            loadError(c, w + [("stray", Tensor(shape: [1]))]) == "m.safetensors: tensors not used by any layer: stray")
        var nan = w; nan[1] = ("c.bias", w[1].1.reshaped([4])); nan[1].1.data[2] = .nan
        #expect(loadError(c, nan) == "m.safetensors: tensor c.bias contains NaN or infinite values")
    }

    @Test("bad configs are refused with the layer named")
    func badConfigs() {
        let (c, w) = smallModel()
        var unknown = c; unknown.layers[2].type = "swish"
        #expect(loadError(unknown, w)!.contains("layer 2 (r): unknown layer type \"swish\""))
        var badInput = c; badInput.layers[1].inputs = ["nowhere"]
        #expect(loadError(badInput, w)!.contains("unknown input \"nowhere\""))
        var dup = c; dup.layers[2].name = "bn"
        #expect(loadError(dup, w)!.contains("duplicate layer name"))
        var out = c; out.outputs.features = "zzz"
        #expect(loadError(out, w)!.contains("output \"zzz\" is not a layer"))
        var act = c; act.layers[0].activation = "gelu"
        #expect(loadError(act, w)!.contains("unsupported activation \"gelu\""))
        var big = c; big.layers[0].kernel = [9, 9]; big.layers[0].padding = .valid
        #expect(loadError(big, w) != nil)
    }

    @Test("sizes are refused before anything is allocated: huge padding, inputs, units and kernels")
    func hugeSizes() {
        let (c, w) = smallModel()
        var pad = c; pad.layers[0].padding = .explicit(top: 100_000, left: 100_000, bottom: 100_000, right: 100_000)
        #expect(loadError(pad, w)!.contains("layer 0 (c): padding [100000, 100000, 100000, 100000] must be 0 to 16384"))
        var wide = c; wide.input.height = 100_000; wide.input.width = 100_000
        #expect(loadError(wide, w)!.contains("input 100000x100000x1 is larger than"))
        var units = c; units.layers[4].units = 1 << 40
        #expect(loadError(units, w)!.contains("layer 4 (d): units 1099511627776 is more than 65536"))
        var kernel = c; kernel.layers[0].kernel = [1 << 40, 3]
        #expect(loadError(kernel, w)!.contains("bad kernel"))
        // an activation over the limit: 16384 x 16384 x 4 values
        var dw = c; dw.layers[0].type = "depthwise_conv2d"; dw.layers[0].depthMultiplier = 0
        #expect(loadError(dw, w)!.contains("depth_multiplier 0 must be 1 to 65536"))
        var act = c; act.input.height = 16_384; act.input.width = 16_384; act.layers[0].filters = 4
        #expect(loadError(act, w)!.contains("values per image"))
    }

    @Test("config JSON errors name the file and the key")
    func badJSON() {
        func err(_ s: String) -> String {
            do { _ = try ModelConfig.decode(Data(s.utf8), path: "m.json"); return "" } catch { return "\(error)" }
        }
        #expect(err("{") == "m.json: invalid model config: not valid JSON")
        #expect(err(#"{"format": "painface-model/1", "name": "x"}"#).contains("missing key .input"))
        #expect(
            err(
                #"{"format": "other/9", "name": "x", "#
                    + #""input": {"height": 1, "width": 1, "channels": 1, "color": "gray", "#
                    + #""normalization": {"scale": 1, "offset": 0}}, "#
                    + #""layers": [], "outputs": {"features": "input"}}"#
            )
            .contains("format is \"other/9\""))
        // a fractional number where a whole one is needed is named, not "not valid JSON"
        let (c, _) = smallModel()
        var json = String(decoding: try! c.encoded(), as: UTF8.self)
        json = json.replacingOccurrences(of: "\"filters\" : 4", with: "\"filters\" : 8.5")
        #expect(err(json).contains("layer 0 (c): filters 8.5 is not a whole number"), "\(err(json))")
    }
}
