import Foundation
import Kernels
import TestSupport
import Testing
import Training
import Weights

@Suite struct KerasTrainingParityTests {
    @Test("frame-wise network: 50 Adadelta steps give Keras's losses (1e-4 relative) and final weights (1e-4)")
    func framewise() throws {
        let g = try SafeTensorsFile(
            path: repositoryRoot().appendingPathComponent("Tests/Fixtures/framewise_keras.safetensors").path)
        let dims = try JSONDecoder().decode([Int].self, from: Data(g.metadata["dims"]!.utf8))
        var initial: [Tensor] = []
        for l in 0..<(dims.count - 1) {
            let (fi, fo) = (dims[l], dims[l + 1])
            let lim = Float((6.0 / Double(fi + fo)).squareRoot())
            initial.append(
                Tensor(
                    shape: [fi, fo],
                    values: splitmixUniform(seed: UInt64(2000 + 2 * l), count: fi * fo).map { $0 * lim }))
            initial.append(
                Tensor(
                    shape: [fo], values: splitmixUniform(seed: UInt64(2000 + 2 * l + 1), count: fo, lo: -0.05, hi: 0.05)
                ))
        }
        let x = try g.tensor("x"), labels = try g.tensor("labels"), cw = try g.tensor("class_weights").array
        let losses = try g.tensor("losses").array
        for isa in ISA.supported {
            let net = try FrameNet(
                dims: dims, dropout: 0, weights: initial, context: try ComputeContext(isa: isa, threads: 2))
            var rng = SplitMix64(seed: 1)
            let (steps, batch) = (x.shape[0], x.shape[1])
            var worst = 0.0
            for s in 0..<steps {
                let xb = Tensor(
                    shape: [batch, dims[0]],
                    values: Array(x.buffer[(s * batch * dims[0])..<((s + 1) * batch * dims[0])]))
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
            let net = try FrameNet(
                dims: [20, 64, 16, 3], dropout: 0.3, seed: 9, context: try ComputeContext(threads: t))
            var rng = SplitMix64(seed: 11)
            for _ in 0..<5 { _ = try net.trainStep(x, labels: y, classWeights: nil, rng: &rng) }
            finals.append(net.params.flatMap(\.array))
        }
        #expect(finals[0] == finals[1] && finals[0] == finals[2])
    }
}

@Suite struct KerasLSTMParityTests {
    @Test(
        "LSTM network: 20 Adadelta steps give Keras's losses and final variables (incl. moving statistics) within 1e-4")
    func lstm() throws {
        let g = try SafeTensorsFile(
            path: repositoryRoot().appendingPathComponent("Tests/Fixtures/lstm_keras.safetensors").path)
        let vars = try JSONSerialization.jsonObject(with: Data(g.metadata["variables"]!.utf8)) as! [[Any]]
        let shape = try JSONDecoder().decode([Int].self, from: Data(g.metadata["shape"]!.utf8))
        let (t, f, b, steps) = (shape[0], shape[1], shape[2], shape[3])
        // regenerate the initial variables exactly as tools/make_lstm_fixtures.py
        let initial: [Tensor] = vars.enumerated().map { k, v in
            let name = v[0] as! String, s = v[1] as! [Int], n = s.reduce(1, *), seed = UInt64(4000 + k)
            switch name {
            case "gamma":
                return Tensor(shape: s, values: splitmixUniform(seed: seed, count: n, lo: -0.2, hi: 0.2).map { 1 + $0 })
            case "beta", "bias":
                return Tensor(shape: s, values: splitmixUniform(seed: seed, count: n, lo: -0.1, hi: 0.1))
            case "moving_mean": return Tensor(shape: s)
            case "moving_variance": return Tensor(shape: s, values: [Float](repeating: 1, count: n))
            case "recurrent_kernel":
                return Tensor(shape: s, values: splitmixUniform(seed: seed, count: n, lo: -0.3, hi: 0.3))
            default:
                let lim = Float((6.0 / Double(s[0] + s[1])).squareRoot())
                return Tensor(shape: s, values: splitmixUniform(seed: seed, count: n).map { $0 * lim })
            }
        }
        let net = try LSTMNet(features: f, dropout: 0, variables: initial, context: try ComputeContext(threads: 2))
        let x = try g.tensor("x"), labels = try g.tensor("labels"), cw = try g.tensor("class_weights").array,
            losses = try g.tensor("losses").array
        var rng = SplitMix64(seed: 1)
        var worst = 0.0
        for s in 0..<steps {
            let per = b * t * f
            let xb = Tensor(shape: [b, t, f], values: Array(x.buffer[(s * per)..<((s + 1) * per)]))
            let yb = (0..<b).map { Int32(labels.data[s * b + $0]) }
            let loss = try net.trainStep(xb, labels: yb, classWeights: cw, rng: &rng)
            worst = max(worst, abs(loss - Double(losses[s])) / abs(Double(losses[s])))
        }
        #expect(worst < 1e-4, "worst relative loss difference \(worst)")
        for (i, v) in net.variables.enumerated() {
            let err = relativeError(v, try g.tensor("final_\(i)"))
            #expect(err < 1e-4, "variable \(i) (\(vars[i][0])): relative error \(err)")
        }
    }
}
