import Foundation
import Kernels
import Testing
import TestSupport
import Training
import Weights

@Suite struct KerasTrainingParityTests {
    @Test("frame-wise network: 50 Adadelta steps give Keras's losses (1e-4 relative) and final weights (1e-4)")
    func framewise() throws {
        let g = try SafeTensorsFile(path: repositoryRoot().appendingPathComponent("Tests/TrainingTests/Fixtures/framewise_keras.safetensors").path)
        let dims = try JSONDecoder().decode([Int].self, from: Data(g.metadata["dims"]!.utf8))
        var initial: [Tensor] = []
        for l in 0..<(dims.count - 1) {
            let (fi, fo) = (dims[l], dims[l + 1])
            let lim = Float((6.0 / Double(fi + fo)).squareRoot())
            initial.append(Tensor(shape: [fi, fo], values: splitmixUniform(seed: UInt64(2000 + 2 * l), count: fi * fo).map { $0 * lim }))
            initial.append(Tensor(shape: [fo], values: splitmixUniform(seed: UInt64(2000 + 2 * l + 1), count: fo, lo: -0.05, hi: 0.05)))
        }
        let x = try g.tensor("x"), labels = try g.tensor("labels"), cw = try g.tensor("class_weights").array
        let losses = try g.tensor("losses").array
        for isa in ISA.supported {
            let net = try FrameNet(dims: dims, dropout: 0, weights: initial, context: try ComputeContext(isa: isa, threads: 2))
            var rng = SplitMix64(seed: 1)
            let (steps, batch) = (x.shape[0], x.shape[1])
            var worst = 0.0
            for s in 0..<steps {
                let xb = Tensor(shape: [batch, dims[0]], values: Array(x.buffer[(s * batch * dims[0])..<((s + 1) * batch * dims[0])]))
                let yb = (0..<batch).map { Int32(labels.data[s * batch + $0]) }
                let loss = try net.trainStep(xb, labels: yb, classWeights: cw, rng: &rng)
                worst = max(worst, abs(loss - Double(losses[s])) / abs(Double(losses[s])))
            }
            #expect(worst < 1e-4, "\(isa): worst relative loss difference \(worst)")
            for (i, p) in net.params.enumerated() {
                let err = relativeError(p, try g.tensor("final_\(i)"))
                #expect(err < 1e-4, "\(isa): parameter \(i) relative error \(err)")
            }
        }
    }

    @Test("the same seed gives identical weights, with dropout, at any thread count")
    func determinism() throws {
        var data = SplitMix64(seed: 4)
        let x = randomTensor([32, 20], &data)
        let y = (0..<32).map { Int32($0 % 3) }
        var finals: [[Float]] = []
        for t in [1, 2, 3] {
            let net = try FrameNet(dims: [20, 64, 16, 3], dropout: 0.3, seed: 9, context: try ComputeContext(threads: t))
            var rng = SplitMix64(seed: 11)
            for _ in 0..<5 { _ = try net.trainStep(x, labels: y, classWeights: nil, rng: &rng) }
            finals.append(net.params.flatMap(\.array))
        }
        #expect(finals[0] == finals[1] && finals[0] == finals[2])
    }
}
