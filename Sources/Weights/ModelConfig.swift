import Foundation
import Kernels

/// The architecture of a model: the JSON file next to its safetensors weights.
/// Keys are snake_case in the file. See models/README.md for the full schema.
public struct ModelConfig: Codable, Sendable, Equatable {
    public static let formatTag = "painface-model/1"

    public var format: String
    public var name: String
    public var input: InputSpec
    public var layers: [LayerSpec]
    /// Which layer's output is the feature vector, and which are the class probabilities.
    public var outputs: Outputs
    public var classes: [String]?
    public var description: String?
    public var source: String?
    /// The precision the model runs in unless a command asks for another: fp32 (absent), bf16
    /// or int8 (which needs each int8 layer's `input_quant`, from `painface quantize`).
    public var precision: String?
    /// How `painface quantize` calibrated the model and how far int8 moved it from fp32.
    public var quantization: QuantizationReport?

    public struct Outputs: Codable, Sendable, Equatable {
        public var features: String
        public var probabilities: String?
        public init(features: String, probabilities: String? = nil) {
            self.features = features
            self.probabilities = probabilities
        }
    }

    public init(name: String, input: InputSpec, layers: [LayerSpec], outputs: Outputs, classes: [String]? = nil) {
        format = Self.formatTag
        self.name = name
        self.input = input
        self.layers = layers
        self.outputs = outputs
        self.classes = classes
    }

    public static func decode(_ data: Data, path: String) throws -> ModelConfig {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        let c: ModelConfig
        do { c = try d.decode(ModelConfig.self, from: data) } catch let e as DecodingError {
            if let w = wholeNumberProblem(data) { throw ModelFileError(path, "invalid model config: \(w)") }
            throw ModelFileError(path, "invalid model config: \(describe(e))")
        } catch { throw ModelFileError(path, "invalid model config: \(error)") }
        guard c.format == formatTag else {
            throw ModelFileError(path, "format is \"\(c.format)\", expected \"\(formatTag)\"")
        }
        return c
    }

    public func encoded() throws -> Data {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }
}

/// A fractional number where the config needs a whole one (Foundation reports it only as
/// "not valid JSON"): "layer 0 (c): filters 8.5 is not a whole number".
func wholeNumberProblem(_ data: Data) -> String? {
    guard let top = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
    let whole: Set<String> = [
        "filters", "units", "kernel", "strides", "groups", "dilation", "pool", "padding", "depth_multiplier",
        "height", "width", "channels",
    ]
    func bad(_ v: Any) -> Bool {
        if let n = v as? NSNumber, !(v is Bool) { return n.doubleValue != n.doubleValue.rounded() }
        if let a = v as? [Any] { return a.contains(where: bad) }
        return false
    }
    if let input = top["input"] as? [String: Any] {
        for (k, v) in input where whole.contains(k) && bad(v) { return "input.\(k) \(v) is not a whole number" }
    }
    for (i, l) in ((top["layers"] as? [[String: Any]]) ?? []).enumerated() {
        for (k, v) in l.sorted(by: { $0.key < $1.key }) where whole.contains(k) && bad(v) {
            return "layer \(i) (\(l["name"] ?? "?")): \(k) \(v) is not a whole number"
        }
    }
    return nil
}

func describe(_ e: DecodingError) -> String {
    func path(_ c: [CodingKey]) -> String {
        c.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }
    switch e {
    case .keyNotFound(let k, let ctx): return "missing key \(path(ctx.codingPath + [k]))"
    case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx):
        return "wrong type at \(path(ctx.codingPath)): \(ctx.debugDescription)"
    case .dataCorrupted(let ctx):
        return ctx.codingPath.isEmpty
            ? "not valid JSON" : "bad value at \(path(ctx.codingPath)): \(ctx.debugDescription)"
    @unknown default: return "\(e)"
    }
}

/// How a crop becomes the network's input tensor.
public struct InputSpec: Codable, Sendable, Equatable {
    public var height: Int
    public var width: Int
    public var channels: Int
    /// Channel order fed to the network: "rgb", "bgr" or "gray".
    public var color: String
    public var normalization: Normalization

    public init(height: Int, width: Int, channels: Int, color: String, normalization: Normalization) {
        (self.height, self.width, self.channels, self.color, self.normalization) = (
            height, width, channels, color, normalization
        )
    }
}

/// value = (pixel * scale + offset - mean[c]) / std[c], pixel in 0...255, in network channel order.
/// Keras "caffe": scale 1, offset 0, mean [103.939, 116.779, 123.68] (BGR), std 1.
/// [-1, 1]: scale 2/255, offset -1.
public struct Normalization: Codable, Sendable, Equatable {
    public var scale: Float
    public var offset: Float
    public var mean: [Float]?
    public var std: [Float]?
    public init(scale: Float, offset: Float, mean: [Float]? = nil, std: [Float]? = nil) {
        (self.scale, self.offset, self.mean, self.std) = (scale, offset, mean, std)
    }
}

/// Padding: "same" or "valid" (Keras rules) or explicit [top, left, bottom, right].
public enum Padding: Codable, Sendable, Equatable {
    case same, valid
    case explicit(top: Int, left: Int, bottom: Int, right: Int)

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            switch s {
            case "same": self = .same
            case "valid": self = .valid
            default:
                throw DecodingError.dataCorruptedError(
                    in: c, debugDescription: "padding \"\(s)\" is not same, valid or [t, l, b, r]")
            }
            return
        }
        let v = try c.decode([Int].self)
        switch v.count {
        case 1: self = .explicit(top: v[0], left: v[0], bottom: v[0], right: v[0])
        case 2: self = .explicit(top: v[0], left: v[1], bottom: v[0], right: v[1])
        case 4: self = .explicit(top: v[0], left: v[1], bottom: v[2], right: v[3])
        default: throw DecodingError.dataCorruptedError(in: c, debugDescription: "padding needs 1, 2 or 4 numbers")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .same: try c.encode("same")
        case .valid: try c.encode("valid")
        case let .explicit(t, l, b, r): try c.encode([t, l, b, r])
        }
    }
}

/// One layer. `type` is one of: conv2d, depthwise_conv2d, dense, batchnorm, relu, prelu,
/// softmax, add, maxpool2d, avgpool2d, global_avgpool, flatten. Weight tensors are named
/// "<name>.kernel", "<name>.bias", "<name>.depthwise_kernel", "<name>.gamma", "<name>.beta",
/// "<name>.moving_mean", "<name>.moving_variance", "<name>.alpha".
public struct LayerSpec: Codable, Sendable, Equatable {
    public var name: String
    public var type: String
    /// Names of input layers; empty or absent = the previous layer ("input" = the image).
    public var inputs: [String]?
    public var filters: Int?
    public var units: Int?
    public var kernel: [Int]?
    public var strides: [Int]?
    public var dilation: [Int]?
    public var padding: Padding?
    public var groups: Int?
    public var depthMultiplier: Int?
    public var useBias: Bool?
    public var activation: String?
    public var epsilon: Float?
    public var center: Bool?
    public var scale: Bool?
    public var pool: [Int]?
    public var ceilMode: Bool?
    public var countIncludePad: Bool?
    /// conv2d in int8: the u8 quantisation of the layer's input (from calibration).
    public var inputQuant: Int8Quantization?

    public init(name: String, type: String, inputs: [String]? = nil) {
        self.name = name
        self.type = type
        self.inputs = inputs
    }
}

/// A calibration's record, kept in the quantised model's config: the method, the crops it
/// saw, and the drift of each layer and of the features against fp32 on those crops (max-abs
/// difference / max-abs of the fp32 output, per crop; mean and max over crops).
public struct QuantizationReport: Codable, Sendable, Equatable {
    public struct Drift: Codable, Sendable, Equatable {
        public var layer: String
        public var mean: Double
        public var max: Double
        public init(layer: String, mean: Double, max: Double) { (self.layer, self.mean, self.max) = (layer, mean, max) }
    }
    /// e.g. "percentile 99.99 of each int8 layer's input values"
    public var method: String
    public var calibrationCrops: Int
    public var calibrationSource: [String]
    public var int8Layers: [String]
    /// Layers int8 could run that calibration kept in fp32 (they moved the features most).
    public var fp32Layers: [String]
    public var drift: [Drift]
    public var featureDrift: Drift
    /// Top-1 agreement of the class probabilities with fp32 (models that have them).
    public var top1Agreement: Double?
    public init(
        method: String, calibrationCrops: Int, calibrationSource: [String], int8Layers: [String],
        fp32Layers: [String], drift: [Drift], featureDrift: Drift, top1Agreement: Double?
    ) {
        (self.method, self.calibrationCrops, self.calibrationSource, self.int8Layers, self.fp32Layers) = (
            method, calibrationCrops, calibrationSource, int8Layers, fp32Layers
        )
        (self.drift, self.featureDrift, self.top1Agreement) = (drift, featureDrift, top1Agreement)
    }
}
