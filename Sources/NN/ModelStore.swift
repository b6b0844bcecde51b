import Foundation
import Kernels
import Weights

/// Finds model files: a path to a .json/.safetensors pair, or the name of a bundled model.
public enum ModelStore {
    /// Folders searched for bundled models: $PAINFACE_MODELS, then models/ of the source tree
    /// the executable runs from (or PREFIX/share/painface/models beside an installed
    /// PREFIX/bin/painface), then models/ of the tree it was built in, then
    /// /usr/local/share/painface/models.
    public static var searchPaths: [String] {
        var dirs: [String] = []
        if let env = ProcessInfo.processInfo.environment["PAINFACE_MODELS"], !env.isEmpty { dirs.append(env) }
        // .build/<triple>/<config>/painface -> repository root; PREFIX/bin/painface -> PREFIX
        var exe = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        search: for _ in 0..<6 {
            exe.deleteLastPathComponent()
            for sub in ["models", "share/painface/models"] {
                let m = exe.appendingPathComponent(sub)
                if FileManager.default.fileExists(atPath: m.appendingPathComponent("fer-mini-xception.json").path) {
                    dirs.append(m.path)
                    break search
                }
            }
        }
        var src = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { src.deleteLastPathComponent() }
        dirs.append(src.appendingPathComponent("models").path)
        dirs.append("/usr/local/share/painface/models")
        var seen = Set<String>()
        return dirs.filter { seen.insert($0).inserted }
    }

    public static let defaultModel = "fer-mini-xception"

    /// The stem (path without extension) of a model given by path or bundled name.
    public static func resolve(_ nameOrPath: String) throws -> String {
        let (json, st) = Model.files(for: nameOrPath)
        if FileManager.default.fileExists(atPath: json) || FileManager.default.fileExists(atPath: st) {
            return String(json.dropLast(5))
        }
        for dir in searchPaths {
            let stem = (dir as NSString).appendingPathComponent(nameOrPath)
            if FileManager.default.fileExists(atPath: stem + ".json") { return stem }
        }
        throw ModelFileError(
            nameOrPath, "no such model file, and no bundled model of that name (see `painface models`)")
    }

    /// Bundled models: (name, stem).
    public static func bundled() -> [(String, String)] {
        var out: [(String, String)] = []
        var seen = Set<String>()
        for dir in searchPaths {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for n in names.sorted() where n.hasSuffix(".json") {
                let name = String(n.dropLast(5))
                let stem = (dir as NSString).appendingPathComponent(name)
                if FileManager.default.fileExists(atPath: stem + ".safetensors"), seen.insert(name).inserted {
                    out.append((name, stem))
                }
            }
        }
        return out
    }

    /// SHA-256 over the config and the weights: identifies a model in output metadata.
    public static func hash(stem: String) throws -> String {
        var h = SHA256()
        for ext in [".json", ".safetensors"] {
            let p = stem + ext
            // a megabyte at a time: a model's weights are never all in memory for this
            guard let f = FileHandle(forReadingAtPath: p) else { throw ModelFileError(p, "cannot read") }
            defer { try? f.close() }
            do {
                while let d = try f.read(upToCount: 1 << 20), !d.isEmpty { h.update(d) }
            } catch {
                throw ModelFileError(p, "cannot read: \(error.localizedDescription)")
            }
        }
        return h.finalize()
    }
}

/// Architectures PainFace knows how to build without a file (benchmarks, tests).
public enum Architectures {
    /// VGG16 with global average pooling after conv5_3 and a 1024-unit ReLU dense layer
    /// (the paper's frozen extractor), Keras layer names, caffe-style input.
    public static func vgg16GapFc1024() -> ModelConfig {
        var layers: [LayerSpec] = []
        let blocks = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]
        for (b, convs) in blocks.enumerated() {
            for (i, f) in convs.enumerated() {
                var l = LayerSpec(name: "block\(b + 1)_conv\(i + 1)", type: "conv2d")
                l.filters = f; l.kernel = [3, 3]; l.padding = .same; l.activation = "relu"
                layers.append(l)
            }
            if b < 4 {
                var p = LayerSpec(name: "block\(b + 1)_pool", type: "maxpool2d")
                p.pool = [2, 2]; p.strides = [2, 2]
                layers.append(p)
            }
        }
        layers.append(LayerSpec(name: "gap", type: "global_avgpool"))
        var fc = LayerSpec(name: "fc1024", type: "dense")
        fc.units = 1024; fc.activation = "relu"
        layers.append(fc)
        return ModelConfig(
            name: "vgg16-gap-fc1024",
            input: InputSpec(
                height: 224, width: 224, channels: 3, color: "bgr",
                normalization: Normalization(scale: 1, offset: 0, mean: [103.939, 116.779, 123.68])),
            layers: layers, outputs: .init(features: "fc1024"))
    }

    /// He-uniform random weights for every kernel and bias of `config` (seeded).
    public static func randomWeights(for config: ModelConfig, seed: UInt64 = 1) throws -> [(String, Tensor)] {
        var rng = SplitMix64(seed: seed)
        var out: [(String, Tensor)] = []
        var c = config.input.channels
        for l in config.layers {
            switch l.type {
            case "conv2d":
                let k = l.kernel ?? [1, 1], f = l.filters ?? 1
                out.append(
                    (
                        "\(l.name).kernel",
                        rng.uniform([k[0], k[1], c, f], limit: (6.0 / Float(k[0] * k[1] * c)).squareRoot())
                    ))
                if l.useBias ?? true { out.append(("\(l.name).bias", Tensor(shape: [f]))) }
                c = f
            case "dense":
                let u = l.units ?? 1
                out.append(("\(l.name).kernel", rng.uniform([c, u], limit: (6.0 / Float(c)).squareRoot())))
                if l.useBias ?? true { out.append(("\(l.name).bias", Tensor(shape: [u]))) }
                c = u
            case "maxpool2d", "avgpool2d", "global_avgpool", "relu", "softmax", "flatten": break
            default: throw ModelFileError(config.name, "randomWeights does not handle \(l.type)")
            }
        }
        return out
    }
}

extension SplitMix64 {
    /// Uniform in [-limit, limit).
    mutating func uniform(_ shape: [Int], limit: Float) -> Tensor {
        let t = Tensor(shape: shape)
        for i in 0..<t.count { t.data[i] = (Float(next() >> 40) * 0x1p-24 * 2 - 1) * limit }
        return t
    }
}

extension ModelStore {
    /// A file shipped in models/ (for example the Haar cascade).
    public static func resolveFile(_ name: String) throws -> String {
        for dir in searchPaths {
            let p = (dir as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        throw ModelFileError(name, "not found in \(searchPaths.joined(separator: ", "))")
    }
}

/// What `painface models` lists about a model.
public struct ModelSummary: Codable, Sendable {
    public var name: String
    public var path: String
    /// "HxWxC color"
    public var input: String?
    public var features: Int?
    public var classes: [String]?
    public var parameters: Int?
    public var gflopsPerImage: Double?
    /// Set when the model does not load.
    public var error: String?

    /// Every bundled model, loaded to check it.
    public static func bundled(context: ComputeContext) throws -> [ModelSummary] {
        ModelStore.bundled().map { name, stem in
            do {
                let m = try Model(path: stem, context: context)
                let c = m.config
                let params = try SafeTensorsFile(path: stem + ".safetensors").entries.values.reduce(0) {
                    $0 + $1.shape.reduce(1, *)
                }
                return ModelSummary(
                    name: name, path: stem,
                    input: "\(c.input.height)x\(c.input.width)x\(c.input.channels) \(c.input.color)",
                    features: m.featureDimension, classes: c.classes ?? [], parameters: params,
                    gflopsPerImage: m.flopsPerItem * 1e-9)
            } catch {
                return ModelSummary(name: name, path: stem, error: "\(error)")
            }
        }
    }
}
