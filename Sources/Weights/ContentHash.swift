import CHash
import Foundation

/// Fast content hashes for cache keys (see cc_hash64: not cryptographic, stable across
/// platforms).
public enum ContentHash {
    public static func hash64(_ data: Data, seed: UInt64 = 0) -> UInt64 {
        data.withUnsafeBytes { hash64($0, seed: seed) }
    }

    public static func hash64(_ raw: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        cc_hash64(raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count, seed)
    }

    public static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
