import Foundation
import Kernels
import TestSupport
import Testing
import Weights

/// A raw safetensors file from a header object and data bytes.
func rawFile(_ header: Any, data: [UInt8] = [], lengthOverride: UInt64? = nil) -> Data {
    let json = try! JSONSerialization.data(withJSONObject: header)
    var out = Data()
    var n = (lengthOverride ?? UInt64(json.count)).littleEndian
    withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
    out.append(json)
    out.append(contentsOf: data)
    return out
}

func problem(_ data: Data) -> String? {
    do { _ = try SafeTensorsFile(data: data, path: "bad.safetensors"); return nil } catch let e as ModelFileError {
        return e.description
    } catch { return "unexpected \(error)" }
}

@Suite struct SafeTensorsTests {
    @Test("the tensor bytes carry a checksum: one changed byte is refused; a file without one still loads")
    func payloadChecksum() throws {
        let t = Tensor(shape: [3, 4], values: (0..<12).map { Float($0) })
        var data = try SafeTensorsWriter.encode([("x", t)], metadata: ["note": "kept"])
        let f = try SafeTensorsFile(data: data, path: "ok.safetensors")
        #expect(f.metadata["note"] == "kept" && f.metadata[SafeTensorsWriter.payloadHashKey]?.count == 16)
        #expect(try f.tensor("x").array == t.array)
        data[data.count - 5] ^= 0x01
        #expect(throws: ModelFileError.self) { try SafeTensorsFile(data: data, path: "bad.safetensors") }
        do { _ = try SafeTensorsFile(data: data, path: "bad.safetensors") } catch {
            #expect("\(error)".contains("bad.safetensors: the tensor data does not match its checksum"))
        }
        // written by another tool (no checksum): not verified
        let header = Data(#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#.utf8)
        var plain = Data()
        var n = UInt64(header.count).littleEndian
        withUnsafeBytes(of: &n) { plain.append(contentsOf: $0) }
        plain.append(header)
        plain.append(contentsOf: [0, 0, 128, 63])
        #expect(try SafeTensorsFile(data: plain).tensor("x").array == [1])
    }

    @Test("round trip of F32 and F16 with metadata")
    func roundTrip() throws {
        let a = Tensor(shape: [2, 3], values: [1, -2, 3.5, 0, 1e-3, 65504])
        let b = Tensor(shape: [0, 4])
        let data = try SafeTensorsWriter.encode([("a", a), ("empty", b)], metadata: ["k": "v"])
        let f = try SafeTensorsFile(data: data)
        #expect(try f.tensor("a").array == a.array)
        #expect(try f.tensor("empty").shape == [0, 4])
        #expect(f.metadata.filter { $0.key != SafeTensorsWriter.payloadHashKey } == ["k": "v"])
        let h = try SafeTensorsFile(data: try SafeTensorsWriter.encode([("a", a)], dtype: .f16))
        #expect(h.entries["a"]?.dtype == .f16)
        #expect(try h.tensor("a").array == [1, -2, 3.5, 0, Float(Float16(1e-3)), 65504])
    }

    @Test("malformed files give one precise error and never a huge allocation")
    func malformed() {
        let ok: [String: Any] = ["t": ["dtype": "F32", "shape": [2], "data_offsets": [0, 8]]]
        #expect(problem(Data()) == "bad.safetensors: too short for a safetensors file (0 bytes)")
        #expect(
            problem(rawFile(ok, data: [UInt8](repeating: 0, count: 8), lengthOverride: 1 << 60))!
                .contains("exceeds the"))
        #expect(
            problem(rawFile(ok, data: [UInt8](repeating: 0, count: 8), lengthOverride: 5000))!
                .contains("runs past the end of the file"))
        #expect(problem(rawFile(ok, data: [0, 0, 0, 0]))!.contains("run past the end of the file (truncated?)"))
        #expect(
            problem(
                rawFile(
                    ["t": ["dtype": "I64", "shape": [1], "data_offsets": [0, 8]]], data: [UInt8](repeating: 0, count: 8)
                ))!
                .contains("unsupported dtype I64"))
        #expect(
            problem(
                rawFile(
                    ["t": ["dtype": "F32", "shape": [3], "data_offsets": [0, 8]]], data: [UInt8](repeating: 0, count: 8)
                ))!
                .contains("8 bytes for shape [3]"))
        let overlap: [String: Any] = [
            "a": ["dtype": "F32", "shape": [2], "data_offsets": [0, 8]],
            "b": ["dtype": "F32", "shape": [2], "data_offsets": [4, 12]],
        ]
        #expect(problem(rawFile(overlap, data: [UInt8](repeating: 0, count: 12)))!.contains("overlaps"))
        let gap: [String: Any] = ["a": ["dtype": "F32", "shape": [1], "data_offsets": [4, 8]]]
        #expect(problem(rawFile(gap, data: [UInt8](repeating: 0, count: 8)))!.contains("gap of 4 bytes"))
        let huge: [String: Any] = ["a": ["dtype": "F32", "shape": [1 << 40, 1 << 40], "data_offsets": [0, 8]]]
        #expect(problem(rawFile(huge, data: [UInt8](repeating: 0, count: 8)))!.contains("too large"))
        let negative: [String: Any] = ["a": ["dtype": "F32", "shape": [-2], "data_offsets": [0, 8]]]
        #expect(problem(rawFile(negative, data: [UInt8](repeating: 0, count: 8)))!.contains("bad dimension"))
        var notJSON = Data([4, 0, 0, 0, 0, 0, 0, 0])
        notJSON.append(contentsOf: Array("{{{{".utf8))
        #expect(problem(notJSON)!.contains("not a JSON object"))
    }

    @Test("a mapped file: tensors read again after their pages were given back; folders and empty files refused")
    func mapped() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pf-mapped-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // tensors larger than a page, so a release covers whole pages of one and part of the next
        let a = Tensor(shape: [3000], values: (0..<3000).map { Float($0) * 0.5 })
        let b = Tensor(shape: [5, 1001], values: (0..<5005).map { Float($0) - 7 })
        let path = dir.appendingPathComponent("m.safetensors").path
        try SafeTensorsWriter.write([("a", a), ("b", b)], to: path)
        let f = try SafeTensorsFile(path: path)
        for _ in 0..<2 {
            #expect(try f.tensor("b").array == b.array)
            #expect(try f.tensor("a").array == a.array)
        }
        func refusal(_ p: String) -> String {
            do { _ = try SafeTensorsFile(path: p); return "loaded" } catch { return "\(error)" }
        }
        #expect(refusal(dir.path) == "\(dir.path): cannot read: not a regular file")
        let empty = dir.appendingPathComponent("empty.safetensors").path
        FileManager.default.createFile(atPath: empty, contents: Data())
        #expect(refusal(empty) == "\(empty): too short for a safetensors file (0 bytes)")
        let missing = dir.appendingPathComponent("none.safetensors").path
        #expect(refusal(missing).hasPrefix("\(missing): cannot read: open: No such file"))
    }

    @Test("atomic write leaves no temporary file and replaces the old content")
    func atomic() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pf-atomic-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("x.safetensors").path
        try SafeTensorsWriter.write([("a", Tensor(shape: [1], values: [1]))], to: path)
        try SafeTensorsWriter.write([("a", Tensor(shape: [1], values: [2]))], to: path)
        #expect(try SafeTensorsFile(path: path).tensor("a").array == [2])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["x.safetensors"])
    }
}

@Suite struct SHA256Tests {
    @Test("SHA-256 matches the FIPS 180-4 examples")
    func vectors() {
        #expect(SHA256.hex(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var s = SHA256()
        for _ in 0..<1000 { s.update(Data(repeating: 0x61, count: 1000)) }
        #expect(s.finalize() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}
