import Foundation
import Kernels

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

/// A fixture file of Tests/ModelTests/Fixtures.
public func fixturePath(_ name: String) -> String {
    repositoryRoot().appendingPathComponent("Tests/ModelTests/Fixtures/\(name)").path
}
