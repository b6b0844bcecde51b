import Foundation
import Kernels

/// Class activation maps from a layer's output A [n, h, w, k] and the gradient G of a class
/// score with respect to it, as pytorch-grad-cam computes them (Selvaraju et al. 2017;
/// Chattopadhyay et al. 2018 for Grad-CAM++).
public enum SaliencyMethod: String, CaseIterable, Codable, Sendable {
    case gradCAM = "gradcam"
    case gradCAMPlusPlus = "gradcam++"
}

public struct ClassActivationMaps {
    /// Per image and channel: the weight of the channel in the map [n, k].
    public let weights: Tensor
    /// ReLU(sum_k weight_k A_k) [n, h, w], not normalised.
    public let maps: Tensor

    /// Maps of `method` from activations and gradients [n, h, w, k] (channels last).
    public init(activation a: Tensor, gradient g: Tensor, method: SaliencyMethod) {
        precondition(a.shape.count == 4 && a.shape == g.shape, "activation \(a.shape), gradient \(g.shape)")
        let (n, h, w, k) = (a.shape[0], a.shape[1], a.shape[2], a.shape[3])
        let hw = h * w
        let wt = Tensor(shape: [n, k]), m = Tensor(shape: [n, h, w])
        for b in 0..<n {
            let A = a.data + b * hw * k, G = g.data + b * hw * k
            switch method {
            case .gradCAM:
                // the mean gradient per channel, summed in double
                for c in 0..<k {
                    var s = 0.0
                    for p in 0..<hw { s += Double(G[p * k + c]) }
                    wt.data[b * k + c] = Float(s / Double(hw))
                }
            case .gradCAMPlusPlus:
                // alpha = g^2 / (2 g^2 + sum(A) g^3), weight = sum(alpha relu(g))
                for c in 0..<k {
                    var sumA = 0.0
                    for p in 0..<hw { sumA += Double(A[p * k + c]) }
                    let sa = Float(sumA)
                    var s = 0.0
                    for p in 0..<hw {
                        let gv = G[p * k + c]
                        guard gv != 0 else { continue }
                        let g2 = gv * gv, g3 = g2 * gv
                        let alpha = g2 / (2 * g2 + sa * g3 + 1e-6)
                        s += Double(max(gv, 0) * alpha)
                    }
                    wt.data[b * k + c] = Float(s)
                }
            }
            for p in 0..<hw {
                var s = 0.0
                for c in 0..<k { s += Double(wt.data[b * k + c]) * Double(A[p * k + c]) }
                m.data[b * hw + p] = Float(max(s, 0))
            }
        }
        (weights, maps) = (wt, m)
    }

    /// The maps of several batches, in order.
    public init(concatenating parts: [ClassActivationMaps]) {
        precondition(!parts.isEmpty)
        func cat(_ ts: [Tensor]) -> Tensor {
            let out = Tensor(uninitialized: [ts.reduce(0) { $0 + $1.shape[0] }] + Array(ts[0].shape.dropFirst()))
            var at = 0
            for t in ts {
                (out.data + at).update(from: t.data, count: t.count)
                at += t.count
            }
            return out
        }
        (weights, maps) = (cat(parts.map(\.weights)), cat(parts.map(\.maps)))
    }

    /// Each map scaled to [0, 1] (minus its minimum, over 1e-7 + its new maximum, as
    /// pytorch-grad-cam) and resized bilinearly to `height` x `width` with half-pixel
    /// centres (PyTorch's interpolate, align_corners=False) [n, height, width].
    public func normalised(height: Int, width: Int) -> Tensor {
        let (n, h, w) = (maps.shape[0], maps.shape[1], maps.shape[2])
        let out = Tensor(shape: [n, height, width])
        func taps(_ from: Int, _ to: Int) -> [(Int, Int, Float)] {
            let scale = Float(from) / Float(to)
            return (0..<to).map { o in
                let src = max(scale * (Float(o) + 0.5) - 0.5, 0)
                let i0 = min(Int(src), from - 1)
                return (i0, min(i0 + 1, from - 1), src - Float(i0))
            }
        }
        let ys = taps(h, height), xs = taps(w, width)
        for b in 0..<n {
            let m = Array(UnsafeBufferPointer(start: maps.data + b * h * w, count: h * w))
            let lo = m.min() ?? 0
            let hi = (m.map { $0 - lo }.max() ?? 0)
            let v = m.map { ($0 - lo) / (1e-7 + hi) }
            let o = out.data + b * height * width
            for (oy, (y0, y1, ly)) in ys.enumerated() {
                for (ox, (x0, x1, lx)) in xs.enumerated() {
                    let top = (1 - lx) * v[y0 * w + x0] + lx * v[y0 * w + x1]
                    let bottom = (1 - lx) * v[y1 * w + x0] + lx * v[y1 * w + x1]
                    o[oy * width + ox] = (1 - ly) * top + ly * bottom
                }
            }
        }
        return out
    }
}
