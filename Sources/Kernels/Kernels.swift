import CKernels

/// Instruction sets the C core can run.
public enum ISA: Int, CaseIterable, Sendable, CustomStringConvertible {
    case scalar = 0, avx2 = 1, avx512 = 2, neon = 3

    var c: ck_isa { ck_isa(rawValue: UInt32(rawValue)) }

    public var description: String { String(cString: ck_isa_name(c)) }
    /// Whether this CPU can run the ISA.
    public var isSupported: Bool { ck_isa_supported(c) != 0 }
    /// The best supported ISA, lowered by `CK_FORCE_ISA` if set.
    public static var best: ISA { ISA(rawValue: Int(ck_isa_best().rawValue))! }
    /// Every ISA this CPU supports, lowest first.
    public static var supported: [ISA] { allCases.filter(\.isSupported) }
    public init?(name: String) {
        guard let v = ISA.allCases.first(where: { $0.description == name }) else { return nil }
        self = v
    }
}

/// Errors raised by the compute layer.
public enum KernelError: Error, CustomStringConvertible {
    case unsupportedISA(ISA)
    case shape(String)

    public var description: String {
        switch self {
        case .unsupportedISA(let i): return "this CPU cannot run the \(i) kernels"
        case .shape(let s): return s
        }
    }
}

/// A C kernel context: the instruction set and a thread pool. Not to be used from two
/// threads at once; results do not depend on the thread count.
public final class ComputeContext: @unchecked Sendable {
    let raw: OpaquePointer
    public let isa: ISA
    public let threads: Int
    /// How models built on this context choose their convolution algorithms.
    public var convPolicy = ConvPolicy.rule
    /// The arithmetic of the convolutions of models built on this context; nil: each model's
    /// own default (its config's `precision`, else fp32).
    public var precision: Precision?
    /// The bf16 kernel family: "AMX", "AVX512_BF16", "AVX-512 FMA" or "emulated" (ck_gemm_bf16_kind).
    public var bf16Kernel: String {
        switch ck_gemm_bf16_kind(raw) {
        case CK_BF16_AMX: return "AMX"
        case CK_BF16_AVX512BF16: return "AVX512_BF16"
        // VDPBF16PS's bits from FMAs: vectorised on AVX-512 (faster where the instruction is slow)
        default: return isa == .avx512 ? "AVX-512 FMA" : "emulated"
        }
    }
    /// The int8 kernel: "AMX", "AVX512-VNNI", "AVX-VNNI", "NEON SDOT" or "portable" (ck_gemm_int8_kind).
    public var int8Kernel: String {
        switch ck_gemm_int8_kind(raw) {
        case CK_INT8_AMX: return "AMX"
        case CK_INT8_AVX512VNNI: return "AVX512-VNNI"
        case CK_INT8_NEON_SDOT: return "NEON SDOT"
        case CK_INT8_AVXVNNI: return "AVX-VNNI"
        default: return "portable"
        }
    }

    /// - Parameters:
    ///   - isa: instruction set (default: the best this CPU has).
    ///   - threads: worker threads, 0 = one per online CPU.
    public init(isa: ISA = .best, threads: Int = 0) throws {
        guard isa.isSupported, let r = ck_ctx_create(isa.c, Int32(threads)) else {
            throw KernelError.unsupportedISA(isa)
        }
        raw = r
        self.isa = isa
        self.threads = Int(ck_ctx_threads(r))
    }

    /// A context for a user's `--isa NAME` (nil: the best this CPU has) and `--threads N`.
    public convenience init(isaName: String?, threads: Int) throws {
        var chosen = ISA.best
        if let isaName {
            guard let i = ISA(name: isaName) else {
                throw KernelError.shape(
                    "unknown --isa \(isaName) (\(ISA.allCases.map(\.description).joined(separator: ", ")))")
            }
            guard i.isSupported else { throw KernelError.shape("this CPU cannot run --isa \(isaName)") }
            chosen = i
        }
        guard (0...1024).contains(threads) else {
            throw KernelError.shape("--threads must be 0 (one per CPU) to 1024, got \(threads)")
        }
        try self.init(isa: chosen, threads: threads)
    }

    deinit { ck_ctx_destroy(raw) }

    public static var cpuCount: Int { Int(ck_cpu_count()) }
    public static var builtWithFastMath: Bool { ck_built_with_fast_math() != 0 }

    /// Measured FP32 FMA peak of this ISA on `threads` threads, in GFLOPS.
    public func measurePeakGFLOPS(threads: Int, seconds: Double = 0.3) -> Double {
        ck_measure_peak_gflops(raw, Int32(threads), seconds)
    }

    public var gemmTile: (mr: Int, nr: Int) { (Int(ck_gemm_mr(raw)), Int(ck_gemm_nr(raw))) }
}

/// Contiguous float32 storage aligned to 64 bytes, with a shape (row-major, NHWC for images).
public final class Tensor: @unchecked Sendable {
    public let shape: [Int]
    public let count: Int
    public let data: UnsafeMutablePointer<Float>
    /// Set for a view: the tensor whose memory this one uses (kept alive, not freed here).
    private let owner: Tensor?

    /// A zero-filled tensor.
    public convenience init(shape: [Int]) {
        self.init(uninitialized: shape)
        memset(data, 0, max(count, 1) * MemoryLayout<Float>.stride)
    }

    /// A tensor whose values are garbage until written (outputs of kernels).
    public init(uninitialized shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        count = shape.reduce(1, *)
        var raw: UnsafeMutableRawPointer?
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("out of memory allocating \(bytes) bytes")
        }
        data = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        owner = nil
    }

    /// A view of the first elements of `storage` with another shape.
    public convenience init(view storage: Tensor, shape: [Int]) {
        self.init(view: storage, offset: 0, shape: shape)
    }

    /// A view of the elements of `storage` from `offset` on, with another shape.
    public init(view storage: Tensor, offset: Int, shape: [Int]) {
        count = shape.reduce(1, *)
        precondition(
            offset >= 0 && offset + count <= storage.count, "view of \(count) values at \(offset) on \(storage.count)")
        self.shape = shape
        data = storage.data + offset
        owner = storage
    }

    public convenience init(shape: [Int], values: [Float]) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        self.init(shape: shape)
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { if owner == nil { free(data) } }

    public var buffer: UnsafeMutableBufferPointer<Float> { .init(start: data, count: count) }
    public var array: [Float] { Array(buffer) }
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count)
        let t = Tensor(uninitialized: newShape)
        t.data.update(from: data, count: count)
        return t
    }
    /// True if any value is NaN or infinite.
    public var hasNonFinite: Bool { buffer.contains { !$0.isFinite } }
}

/// Seconds on the monotonic clock (stage timings, progress).
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + 1e-9 * Double(ts.tv_nsec)
}

/// SplitMix64: a small, fast, seeded generator; the same stream in Swift and in
/// tools/make_fixtures.py, so fixtures can be regenerated instead of committed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The arithmetic of a model's convolutions.
public enum Precision: String, Sendable, CaseIterable, CustomStringConvertible {
    /// IEEE single precision throughout (the default, bit for bit as always).
    case fp32
    /// Weights and the GEMMs' inputs rounded to bfloat16, products summed in fp32.
    case bf16
    /// Weights in s8 per output channel, inputs in u8 with the scale a calibration chose
    /// (`painface quantize`), exact int32 sums.
    case int8

    public var description: String { rawValue }

    /// A user's `--precision NAME`.
    public static func named(_ name: String) throws -> Precision {
        guard let p = Precision(rawValue: name) else {
            throw KernelError.shape("unknown precision '\(name)': expected one of fp32, bf16, int8")
        }
        return p
    }
}
