import Faces
import Foundation
import Kernels
import NN
import TestSupport
import Testing
import Weights

@Suite struct MTCNNNetworkTests {
    static func model(_ name: String, height: Int? = nil, width: Int? = nil, isa: ISA) throws -> Model {
        let stem = repositoryRoot().appendingPathComponent("models/mtcnn-\(name)").path
        var config = try ModelConfig.decode(
            try Data(contentsOf: URL(fileURLWithPath: stem + ".json")), path: stem + ".json")
        // P-Net is fully convolutional
        if let height, let width { config.input.height = height; config.input.width = width }
        return try Model(
            config: config, weights: try SafeTensorsFile(path: stem + ".safetensors"),
            context: try ComputeContext(isa: isa, threads: 2))
    }

    @Test("P-, R- and O-Net converted from facenet-pytorch equal PyTorch on every ISA")
    func parity() throws {
        let g = try SafeTensorsFile(
            path: repositoryRoot().appendingPathComponent("Tests/Fixtures/mtcnn_golden.safetensors").path)
        let nets: [(String, [String])] = [
            ("pnet", ["prob", "conv4_2"]), ("rnet", ["prob", "dense5_2"]), ("onet", ["prob", "dense6_2", "dense6_3"]),
        ]
        for isa in ISA.supported {
            for (name, outs) in nets {
                let x = try g.tensor("\(name)/input")
                let m = try Self.model(name, height: x.shape[1], width: x.shape[2], isa: isa)
                let y = try m.forward(x, outputs: outs)
                for (i, o) in outs.enumerated() {
                    let ref = try g.tensor("\(name)/out\(i)")
                    let err = relativeError(y[o]!, ref)
                    #expect(err < 1e-5, "\(isa) \(name) \(o): relative error \(err)")
                }
            }
        }
    }
}
