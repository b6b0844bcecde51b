// libFuzzer harness for PainFace's own parsers: safetensors, the model config (decoded and
// planned into a model), manifests, landmark files (.pts, OpenFace CSV, plain CSV, NPY) and CSV.
// The first byte picks the parser, the rest is the file. A thrown error is a pass; a trap, an
// out-of-bounds access or a leak is a finding. Built and run by tools/fuzz/run.sh.
import Dataset
import Foundation
import Imaging
import Kernels
import NN
import Weights

/// No tensors at all: a config is planned up to its first weighted layer.
struct NoWeights: WeightSource {
    var sourceName: String { "<fuzz>" }
    var tensorNames: [String] { [] }
    func shape(of name: String) -> [Int]? { nil }
    func tensor(_ name: String) throws -> Tensor { throw ModelFileError("<fuzz>", "no tensor \(name)") }
}

let context = try! ComputeContext(threads: 1)
let scratch = NSTemporaryDirectory() + "painface-fuzz-\(getpid())"

/// Writes the file where a path reader expects it (the readers take paths, as the CLI does).
func file(_ bytes: Data, _ name: String) -> String {
    try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    let path = scratch + "/" + name
    _ = FileManager.default.createFile(atPath: path, contents: bytes)
    return path
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let kind = data[0] % 8
    let body = Data(bytes: data + 1, count: size - 1)
    switch kind {
    case 0: _ = try? SafeTensorsFile(data: body)
    case 1:
        if let c = try? ModelConfig.decode(body, path: "<fuzz>") {
            _ = try? Model(config: c, weights: NoWeights(), context: context)
        }
    case 2: _ = try? Manifest(path: file(body, "manifest.csv"))
    case 3: _ = try? LandmarkFiles.readPTS(file(body, "f.pts"))
    case 4: _ = try? LandmarkFiles.readOpenFaceCSV(file(body, "openface.csv"))
    case 5: _ = try? LandmarkFiles.readPlainCSV(file(body, "landmarks.csv"))
    case 6: _ = try? LandmarkFiles.readNPY(file(body, "landmarks.npy"))
    default: _ = CSV.parse(String(decoding: body, as: UTF8.self))
    }
    return 0
}
