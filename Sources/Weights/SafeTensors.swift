import Foundation
import Kernels

/// A problem with a model or weight file; the message names the file and what is wrong.
public struct ModelFileError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let problem: String
    public init(_ file: String, _ problem: String) { self.file = file; self.problem = problem }
    public var description: String { "\(file): \(problem)" }
}

/// Element types a safetensors file may hold; all are converted to float32 on load (I8: the
/// integer codes of int8 weights, whose scales are a tensor of their own).
public enum DType: String, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64", i8 = "I8"
    var size: Int {
        switch self {
        case .f32: 4;
        case .f16, .bf16: 2;
        case .f64: 8
        case .i8: 1
        }
    }
}

/// Where a model's tensors come from: a safetensors file, or tensors made in memory.
public protocol WeightSource {
    /// Names the source in error messages.
    var sourceName: String { get }
    var tensorNames: [String] { get }
    func shape(of name: String) -> [Int]?
    /// The tensor as float32; called once per tensor, so a source may build it lazily.
    func tensor(_ name: String) throws -> Tensor
}

/// Tensors in memory, each made on demand (so a converter can hold one at a time).
public struct LazyWeights: WeightSource {
    public let sourceName: String
    var items: [String: (shape: [Int], make: () throws -> Tensor)] = [:]
    public init(name: String) { sourceName = name }
    public mutating func add(_ name: String, shape: [Int], _ make: @escaping () throws -> Tensor) {
        items[name] = (shape, make)
    }
    public mutating func add(_ name: String, _ t: Tensor) { items[name] = (t.shape, { t }) }
    public var tensorNames: [String] { Array(items.keys) }
    public func shape(of name: String) -> [Int]? { items[name]?.shape }
    public func tensor(_ name: String) throws -> Tensor {
        guard let i = items[name] else { throw ModelFileError(sourceName, "no tensor named \(name)") }
        let t = try i.make()
        guard t.shape == i.shape else {
            throw ModelFileError(sourceName, "tensor \(name) made with shape \(t.shape), declared \(i.shape)")
        }
        return t
    }
}

/// A read-only safetensors file (https://github.com/huggingface/safetensors format):
/// an 8-byte little-endian header length, a JSON header, then the raw tensor bytes.
/// Every offset and shape is checked before any tensor is touched.
public struct SafeTensorsFile: Sendable, WeightSource {
    public struct Entry: Sendable {
        public let dtype: DType
        public let shape: [Int]
        let begin: Int, end: Int
    }

    public let path: String
    public let entries: [String: Entry]
    public let metadata: [String: String]
    let bytes: FileBytes
    let dataStart: Int

    /// Header JSON larger than this is refused (a hostile length cannot make us allocate).
    public static let maxHeaderBytes = 100 << 20

    public init(path: String) throws {
        try self.init(bytes: try FileBytes(mapping: path), path: path)
    }

    public init(data: Data, path: String = "<memory>") throws {
        try self.init(bytes: FileBytes(data), path: path)
    }

    init(bytes: FileBytes, path: String) throws {
        self.path = path
        self.bytes = bytes
        let data = bytes.buffer
        func fail(_ s: String) -> ModelFileError { ModelFileError(path, s) }
        guard data.count >= 8 else { throw fail("too short for a safetensors file (\(data.count) bytes)") }
        let n = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard n <= UInt64(Self.maxHeaderBytes) else {
            throw fail("header length \(n) exceeds the \(Self.maxHeaderBytes)-byte limit")
        }
        guard n <= UInt64(data.count - 8) else {
            throw fail(
                "header length \(n) runs past the end of the file (\(data.count) bytes): truncated or not safetensors")
        }
        dataStart = 8 + Int(n)
        let headerData = Data(UnsafeRawBufferPointer(rebasing: data[8..<dataStart]))
        guard let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        var entries: [String: Entry] = [:]
        var meta: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw fail("metadata value of \(k) is not a string") }
                    meta[k] = s
                }
                continue
            }
            guard let obj = value as? [String: Any] else { throw fail("tensor \(name): entry is not an object") }
            guard let ds = obj["dtype"] as? String else { throw fail("tensor \(name): no dtype") }
            guard let dtype = DType(rawValue: ds) else { throw fail("tensor \(name): unsupported dtype \(ds)") }
            guard let shapeAny = obj["shape"] as? [Any], let offs = obj["data_offsets"] as? [Any], offs.count == 2
            else {
                throw fail("tensor \(name): missing shape or data_offsets")
            }
            var shape: [Int] = []
            var elements = 1
            for d in shapeAny {
                guard let v = (d as? NSNumber)?.intValue, v >= 0, (d as? NSNumber)?.doubleValue == Double(v) else {
                    throw fail("tensor \(name): bad dimension \(d)")
                }
                let (p, o) = elements.multipliedReportingOverflow(by: v)
                guard !o, p <= Int(Int32.max) * 16 else { throw fail("tensor \(name): shape \(shapeAny) is too large") }
                elements = p
                shape.append(v)
            }
            guard let b = (offs[0] as? NSNumber)?.intValue, let e = (offs[1] as? NSNumber)?.intValue,
                b >= 0, e >= b
            else { throw fail("tensor \(name): bad data_offsets \(offs)") }
            guard e <= data.count - dataStart else {
                throw fail("tensor \(name): data_offsets [\(b), \(e)] run past the end of the file (truncated?)")
            }
            guard e - b == elements * dtype.size else {
                throw fail(
                    "tensor \(name): \(e - b) bytes for shape \(shape) of \(ds) (expected \(elements * dtype.size))")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, begin: b, end: e)
        }
        // The byte ranges must tile the data section: no overlap, no holes.
        var cursor = 0
        for (name, e) in entries.sorted(by: { ($0.value.begin, $0.value.end) < ($1.value.begin, $1.value.end) }) {
            guard e.begin == cursor else {
                throw fail(
                    e.begin < cursor
                        ? "tensor \(name) overlaps another tensor's bytes"
                        : "a gap of \(e.begin - cursor) bytes before tensor \(name)")
            }
            cursor = e.end
        }
        self.entries = entries
        metadata = meta
        // files PainFace writes carry a checksum of their tensor bytes: a changed or damaged
        // payload is refused, never served
        if let want = meta[SafeTensorsWriter.payloadHashKey] {
            let got = ContentHash.hex(ContentHash.hash64(UnsafeRawBufferPointer(rebasing: data[dataStart...])))
            bytes.release(dataStart..<data.count)
            guard got == want else {
                throw fail("the tensor data does not match its checksum (the file was changed or damaged)")
            }
        }
    }

    public var sourceName: String { path }
    public var tensorNames: [String] { Array(entries.keys) }
    public func shape(of name: String) -> [Int]? { entries[name]?.shape }

    /// The tensor named `name`, as float32; throws if it is missing.
    public func tensor(_ name: String) throws -> Tensor {
        guard let e = entries[name] else { throw ModelFileError(path, "no tensor named \(name)") }
        let t = Tensor(shape: e.shape)
        // the file's pages leave this process's memory once copied: loading holds one
        // tensor of the file at a time, not the whole file beside the packed weights
        defer { bytes.release(dataStart + e.begin..<dataStart + e.end) }
        do {
            let src = bytes.buffer.baseAddress!.advanced(by: dataStart + e.begin)
            let n = t.count
            switch e.dtype {
            case .f32:
                memcpy(t.data, src, n * 4)
            case .f64:
                for i in 0..<n { t.data[i] = Float(src.loadUnaligned(fromByteOffset: i * 8, as: Double.self)) }
            case .f16:
                for i in 0..<n {
                    t.data[i] = Float(Float16(bitPattern: src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
                }
            case .bf16:
                for i in 0..<n {
                    let h = src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
                    t.data[i] = Float(bitPattern: UInt32(h) << 16)
                }
            case .i8:
                for i in 0..<n { t.data[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
            }
        }
        return t
    }
}

/// Writes safetensors files atomically (a temporary file in the same folder, then rename).
public enum SafeTensorsWriter {
    /// The metadata key of the payload's checksum (ContentHash of the bytes after the header).
    public static let payloadHashKey = "payload_hash64"

    public static func encode(
        _ tensors: [(String, Tensor)], dtype: DType = .f32,
        metadata: [String: String] = [:]
    ) throws -> Data {
        try encode(tensors.map { ($0.0, $0.1, dtype) }, metadata: metadata)
    }

    /// Each tensor in its own type: F32, F16, or I8 (values that must be integers in -128...127).
    public static func encode(_ tensors: [(String, Tensor, DType)], metadata: [String: String] = [:]) throws -> Data {
        var payload = Data()
        for (name, t, dtype) in tensors {
            switch dtype {
            case .f32:
                payload.append(UnsafeBufferPointer(start: t.data, count: t.count))
            case .f16:
                var half = [UInt16](repeating: 0, count: t.count)
                for i in 0..<t.count { half[i] = Float16(t.data[i]).bitPattern }
                half.withUnsafeBufferPointer { payload.append($0) }
            case .i8:
                var codes = [Int8](repeating: 0, count: t.count)
                for i in 0..<t.count {
                    let v = t.data[i]
                    guard v == v.rounded(), (-128...127).contains(v) else {
                        throw ModelFileError("<writer>", "tensor \(name) is I8 but holds \(v)")
                    }
                    codes[i] = Int8(v)
                }
                codes.withUnsafeBufferPointer { payload.append($0) }
            case .bf16, .f64:
                preconditionFailure("only F32, F16 and I8 are written")
            }
        }
        var metadata = metadata
        metadata[payloadHashKey] = ContentHash.hex(ContentHash.hash64(payload))
        var header: [String: Any] = [:]
        header["__metadata__"] = metadata
        var offset = 0
        for (name, t, dtype) in tensors {
            let n = t.count * dtype.size
            header[name] = ["dtype": dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + n]]
            offset += n
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + offset)
        var len = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(payload)
        return out
    }

    public static func write(
        _ tensors: [(String, Tensor)], to path: String, dtype: DType = .f32,
        metadata: [String: String] = [:]
    ) throws {
        try AtomicFile.write(try encode(tensors, dtype: dtype, metadata: metadata), to: path)
    }
}

/// Write-then-rename, so a reader never sees a half-written file and a killed writer
/// leaves the previous file intact.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent()
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        // the folder of an output is created (a command's --out may name a new one)
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw ModelFileError(path, "cannot create its folder: \(error.localizedDescription)")
        }
        do {
            try data.write(to: tmp)
            let fd = open(tmp.path, O_RDONLY)
            if fd >= 0 { fsync(fd); close(fd) }
            guard rename(tmp.path, url.path) == 0 else {
                throw ModelFileError(
                    path, "cannot rename the temporary file into place: \(String(cString: strerror(errno)))")
            }
        } catch let e as ModelFileError {
            try? FileManager.default.removeItem(at: tmp)
            throw e
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw ModelFileError(path, "cannot write: \(error.localizedDescription)")
        }
    }
}

/// A file's bytes, read-only: mapped from the file (pages come in as they are read and can be
/// given back), or a copy of bytes from memory.
final class FileBytes: @unchecked Sendable {
    let buffer: UnsafeRawBufferPointer
    private let mapped: Bool

    init(_ data: Data) {
        let p = UnsafeMutableRawBufferPointer.allocate(byteCount: max(data.count, 1), alignment: 16)
        data.copyBytes(to: p.bindMemory(to: UInt8.self))
        buffer = UnsafeRawBufferPointer(rebasing: p[0..<data.count])
        mapped = false
    }

    init(mapping path: String) throws {
        func fail(_ what: String) -> ModelFileError {
            ModelFileError(path, "cannot read: \(what): \(String(cString: strerror(errno)))")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fail("open") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw fail("fstat") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw ModelFileError(path, "cannot read: not a regular file") }
        let size = Int(st.st_size)
        if size == 0 {
            buffer = UnsafeRawBufferPointer(start: nil, count: 0)
            mapped = false
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else { throw fail("mmap") }
        buffer = UnsafeRawBufferPointer(start: p, count: size)
        mapped = true
    }

    /// Gives the pages of `range` back to the system (a later read maps them in again from the
    /// file); nothing for a copy in memory.
    func release(_ range: Range<Int>) {
        guard mapped, let base = buffer.baseAddress, !range.isEmpty else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = range.lowerBound / page * page, hi = min((range.upperBound + page - 1) / page * page, buffer.count)
        _ = madvise(UnsafeMutableRawPointer(mutating: base + lo), hi - lo, MADV_DONTNEED)
    }

    deinit {
        guard let base = buffer.baseAddress else { return }
        if mapped {
            munmap(UnsafeMutableRawPointer(mutating: base), buffer.count)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }
}
