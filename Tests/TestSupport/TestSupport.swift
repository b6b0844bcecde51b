import Foundation
import Kernels
import NN
import Weights

public typealias SeededRNG = SplitMix64

public func randomTensor(_ shape: [Int], _ rng: inout SeededRNG, range: ClosedRange<Float> = -1...1) -> Tensor {
    let t = Tensor(shape: shape)
    for i in 0..<t.count { t.data[i] = Float.random(in: range, using: &rng) }
    return t
}

/// max |a - b| / max(max |b|, tiny): the relative error measure used across the tests.
public func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.count == b.count, "sizes \(a.shape) vs \(b.shape)")
    var maxDiff: Float = 0, maxRef: Float = 0
    for i in 0..<a.count {
        let d = abs(a.data[i] - b.data[i])
        maxDiff = d.isNaN ? .infinity : max(maxDiff, d)
        maxRef = max(maxRef, abs(b.data[i]))
    }
    return maxDiff / max(maxRef, 1e-30)
}

public func bitEqual(_ a: Tensor, _ b: Tensor) -> Bool {
    a.count == b.count && memcmp(a.data, b.data, a.count * 4) == 0
}

/// ../shared next to the repository, if present (CI has it; a user's clone may not).
public func sharedDirectory() -> URL? {
    let shared = repositoryRoot().deletingLastPathComponent().appendingPathComponent("shared")
    return FileManager.default.fileExists(atPath: shared.path) ? shared : nil
}

/// The repository root (for models/ and samples/).
public func repositoryRoot() -> URL {
    var dir = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { dir.deleteLastPathComponent() }
    return dir
}

/// n floats in [lo, hi) from SplitMix64 with `seed`, exactly as tools/make_fixtures.py's
/// splitmix_uniform (so large golden weights need not be committed).
public func splitmixUniform(seed: UInt64, count: Int, lo: Float = -1, hi: Float = 1) -> [Float] {
    var rng = SeededRNG(seed: seed)
    let scale = hi - lo
    return (0..<count).map { _ in
        let u = Float(rng.next() >> 40) * 0x1p-24
        return u * scale + lo
    }
}

/// A golden fixture file of Tests/Fixtures (written by tools/make_*fixtures.py).
public func fixturePath(_ name: String) -> String {
    repositoryRoot().appendingPathComponent("Tests/Fixtures/\(name)").path
}

/// ../shared, when it is there (tests that read it skip with a message otherwise).
public let shared = sharedDirectory()

/// The Haar cascade shipped in models/.
public func cascadePath() -> String {
    repositoryRoot().appendingPathComponent("models/haarcascade_frontalface_default.xml").path
}

/// A new empty folder under the temporary directory.
public func scratch(_ name: String) throws -> URL {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent(
        "pf-\(name)-\(getpid())-\(Int.random(in: 0...1_000_000))")
    try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    return d
}

/// A SafeTensorsFile holding `tensors` (built in memory).
public func memoryFile(_ tensors: [(String, Tensor)], name: String = "<test>") throws -> SafeTensorsFile {
    try SafeTensorsFile(data: try SafeTensorsWriter.encode(tensors), path: name)
}

/// A manifest over the bundled sample frames (samples/frames; the labels are made up for the
/// tests, as in the demo) written into `dir`, with absolute frame folders.
public func sampleManifest(in dir: URL, extraRows: [String] = []) throws -> String {
    let frames = repositoryRoot().appendingPathComponent("samples/frames").path
    var rows = ["video_id,participant,split,label,frames"]
    let spec = [
        ("cap12_a", "cap12", "train", "no_pain"), ("cap12_b", "cap12", "train", "low_pain"),
        ("cap12_c", "cap12", "train", "high_pain"), ("cap13_a", "cap13", "train", "no_pain"),
        ("cap13_b", "cap13", "train", "low_pain"), ("cap13_c", "cap13", "train", "high_pain"),
        ("wolfgang_a", "wolfgang", "validation", "no_pain"), ("wolfgang_b", "wolfgang", "validation", "high_pain"),
    ]
    for (id, p, s, l) in spec { rows.append("\(id),\(p),\(s),\(l),\(frames)/\(id)") }
    let path = dir.appendingPathComponent("manifest.csv").path
    try (rows + extraRows).joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// The Keras model's weights, regenerated as tools/make_fixtures.py made them.
func vgg16FixtureWeights(config: ModelConfig, order: [String]) throws -> [(String, Tensor)] {
    var shapes: [String: [Int]] = [:]
    var c = 3
    for l in config.layers {
        switch l.type {
        case "conv2d":
            shapes["\(l.name).kernel"] = [3, 3, c, l.filters!]; shapes["\(l.name).bias"] = [l.filters!];
            c = l.filters!
        case "dense":
            shapes["\(l.name).kernel"] = [c, l.units!]; shapes["\(l.name).bias"] = [l.units!]; c = l.units!
        default: break
        }
    }
    return order.enumerated().map { k, name in
        let shape = shapes[name]!
        let n = shape.reduce(1, *)
        if shape.count == 1 {
            return (
                name,
                Tensor(shape: shape, values: splitmixUniform(seed: UInt64(1000 + k), count: n, lo: -0.1, hi: 0.1))
            )
        }
        let lim = Float((6.0 / Double(n / shape.last!)).squareRoot())
        return (
            name, Tensor(shape: shape, values: splitmixUniform(seed: UInt64(1000 + k), count: n).map { $0 * lim })
        )
    }
}

/// The Keras VGG16-GAP-FC1024 of tools/make_fixtures.py (its config and SplitMix64 weights).
public func vgg16FixtureModel(context: ComputeContext) throws -> Model {
    let g = try SafeTensorsFile(path: fixturePath("vgg16_gap_fc1024_golden.safetensors"))
    let config = try ModelConfig.decode(
        try Data(contentsOf: URL(fileURLWithPath: fixturePath("vgg16_gap_fc1024.json"))),
        path: "vgg16_gap_fc1024.json")
    let order = try JSONDecoder().decode([String].self, from: Data(g.metadata["tensor_order"]!.utf8))
    return try Model(
        config: config, weights: try memoryFile(try vgg16FixtureWeights(config: config, order: order)),
        context: context)
}

/// Its two inputs [2, 224, 224, 3]: SplitMix64 seeds 7 and 8 in [0, 255), minus the Caffe means.
public func vgg16FixtureInputs() -> Tensor {
    let mean: [Float] = [103.939, 116.779, 123.68]
    var values: [Float] = []
    for seed in [UInt64(7), 8] {
        let img = splitmixUniform(seed: seed, count: 224 * 224 * 3, lo: 0, hi: 255)
        values += img.enumerated().map { $0.element - mean[$0.offset % 3] }
    }
    return Tensor(shape: [2, 224, 224, 3], values: values)
}
