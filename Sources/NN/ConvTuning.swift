import Foundation
import Kernels
import Weights

/// `--conv-algo tuned`: each convolution's algorithm chosen by timing the applicable ones on
/// this machine (each checked against im2col GEMM, the direct sums' order, within
/// `budget`), kept in a JSON file keyed by CPU, ISA, threads, batch and shape, so the choice
/// (and so the bits of the outputs) stays the same for as long as the entry does.
public final class ConvTuning {
    public struct Entry: Codable, Sendable {
        public var algorithm: String
        /// Milliseconds per pass of each candidate, and its error against im2col GEMM.
        public var milliseconds: [String: Double]
        public var error: [String: Double]
    }

    public let path: String
    /// Images per timed pass (the models' chunk size).
    public var batch = 8
    /// Largest relative error against im2col GEMM an algorithm may have.
    public var budget = 1e-4
    var entries: [String: Entry]

    /// $PAINFACE_TUNING, else $XDG_CACHE_HOME (or ~/.cache)/painface/conv-tuning.json.
    public static var defaultPath: String {
        let env = ProcessInfo.processInfo.environment
        if let p = env["PAINFACE_TUNING"], !p.isEmpty { return p }
        let base = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.cache")
        return base + "/painface/conv-tuning.json"
    }

    public init(path: String) throws {
        self.path = path
        if let d = FileManager.default.contents(atPath: path) {
            do { entries = try JSONDecoder().decode([String: Entry].self, from: d) } catch {
                throw ModelFileError(path, "not a PainFace tuning file (delete it to tune again): \(error)")
            }
        } else {
            entries = [:]
        }
    }

    /// The CPU's model name (/proc/cpuinfo), part of every key.
    static let cpu: String = {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        for line in info.split(separator: "\n") where line.hasPrefix("model name") || line.hasPrefix("CPU part") {
            if let v = line.split(separator: ":", maxSplits: 1).last { return v.trimmingCharacters(in: .whitespaces) }
        }
        return "unknown cpu"
    }()

    func key(_ s: Conv2DShape, _ ctx: ComputeContext) -> String {
        "\(Self.cpu)|\(ctx.isa)|threads=\(ctx.threads)|n=\(batch)|\(s.h)x\(s.w)x\(s.cin)->\(s.cout) k\(s.kh)x\(s.kw) "
            + "s\(s.sh),\(s.sw) d\(s.dh),\(s.dw) p\(s.padTop),\(s.padLeft),\(s.padBottom),\(s.padRight) g\(s.groups)"
            + (s.bf16 ? " bf16=\(ctx.bf16Kernel)" : "") + (s.int8 == nil ? "" : " int8=\(ctx.int8Kernel)")
    }

    /// The algorithm for one layer: the stored choice, else measured now (and stored).
    public func choose(
        _ shape: Conv2DShape, weights: Tensor, bias: Tensor?, context ctx: ComputeContext
    ) throws
        -> ConvAlgorithm
    {
        let k = key(shape, ctx)
        if let e = entries[k], let a = ConvAlgorithm(name: e.algorithm) { return a }
        let candidates = ConvAlgorithm.allCases.filter {
            $0 != .auto && ConvAlgorithm.resolve($0, for: shape, context: ctx) == $0
        }
        guard candidates.count > 1 else { return ConvAlgorithm.resolve(.auto, for: shape, context: ctx) }
        var s = shape
        s.n = batch
        var rng = SplitMix64(seed: 1)
        let x = Tensor(uninitialized: [batch, s.h, s.w, s.cin])
        for i in 0..<x.count { x.data[i] = Float(rng.next() >> 40) * 0x1p-24 * 2 - 1 }
        let ws = Workspace()
        let reference = try PackedConv2D(ctx, shape: shape, weights: weights, bias: bias, algorithm: .im2colGemm)(
            x, workspace: ws)
        var ms: [String: Double] = [:], err: [String: Double] = [:]
        var best: (ConvAlgorithm, Double)?
        for a in candidates {
            let conv = try PackedConv2D(ctx, shape: shape, weights: weights, bias: bias, algorithm: a)
            let y = try conv(x, workspace: ws)
            var md: Float = 0, mr: Float = 1e-30
            for i in 0..<y.count {
                md = max(md, abs(y.data[i] - reference.data[i]))
                mr = max(mr, abs(reference.data[i]))
            }
            let e = Double(md / mr)
            var t = Double.infinity
            for _ in 0..<5 {
                let t0 = monotonicSeconds()
                _ = try conv(x, workspace: ws, into: y)
                t = min(t, monotonicSeconds() - t0)
            }
            (ms[a.description], err[a.description]) = (t * 1e3, e)
            if e <= budget, best == nil || t < best!.1 { best = (a, t) }
        }
        let chosen = best?.0 ?? .im2colGemm
        entries[k] = Entry(algorithm: chosen.description, milliseconds: ms, error: err)
        try save()
        return chosen
    }

    /// The measurements behind a layer's choice, when it was tuned.
    public func entry(_ shape: Conv2DShape, context: ComputeContext) -> Entry? { entries[key(shape, context)] }

    /// Merged with what another process may have written meanwhile (its entries win: a choice
    /// once made is not changed), then replaced atomically.
    func save() throws {
        if let d = FileManager.default.contents(atPath: path),
            let other = try? JSONDecoder().decode([String: Entry].self, from: d)
        {
            entries.merge(other) { _, theirs in theirs }
        }
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try enc.encode(entries), to: path)
    }
}

extension ConvPolicy {
    /// `--conv-algo NAME`: rule, tuned (the file at ConvTuning.defaultPath) or an algorithm.
    public static func named(_ name: String) throws -> ConvPolicy {
        switch name {
        case "rule": return .rule
        case "tuned": return .tuned(path: ConvTuning.defaultPath)
        default:
            guard let a = ConvAlgorithm(name: name), a != .auto, a != .depthwise else {
                throw KernelError.shape(
                    "--conv-algo must be rule, tuned, im2col, implicit, winograd2x2, winograd4x4 or winograd6x6, got \(name)"
                )
            }
            return .forced(a)
        }
    }
}
