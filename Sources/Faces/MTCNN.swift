import Foundation
import Imaging
import Kernels
import NN
import Weights

/// MTCNN face detection (Zhang et al. 2016) on PainFace's kernels, following
/// facenet-pytorch's detect_face: P-Net over an image pyramid, box regression and
/// non-maximum suppression, R-Net on 24x24 crops, O-Net on 48x48 crops with 5 landmarks.
public final class MTCNN {
    public struct Face: Sendable {
        /// x1, y1, x2, y2 in pixels.
        public var box: (x1: Double, y1: Double, x2: Double, y2: Double)
        public var probability: Double
        /// Left eye, right eye, nose, left and right mouth corners.
        public var landmarks: [(x: Double, y: Double)]
    }

    public var minFaceSize = 20.0
    public var thresholds: [Float] = [0.6, 0.7, 0.7]
    public var factor = 0.709

    let ctx: ComputeContext
    let pnetConfig: ModelConfig
    let pnetWeights: SafeTensorsFile
    var pnets: [String: Model] = [:]
    let rnet: Model, onet: Model

    /// Loads mtcnn-pnet, mtcnn-rnet and mtcnn-onet from the model folders.
    public init(context: ComputeContext) throws {
        ctx = context
        func load(_ n: String) throws -> (ModelConfig, SafeTensorsFile) {
            let stem = try ModelStore.resolve("mtcnn-\(n)")
            let json = stem + ".json"
            guard let d = FileManager.default.contents(atPath: json) else { throw ModelFileError(json, "cannot read") }
            return (try ModelConfig.decode(d, path: json), try SafeTensorsFile(path: stem + ".safetensors"))
        }
        (pnetConfig, pnetWeights) = try load("pnet")
        let (rc, rw) = try load("rnet"), (oc, ow) = try load("onet")
        rnet = try Model(config: rc, weights: rw, context: context)
        onet = try Model(config: oc, weights: ow, context: context)
    }

    /// P-Net is fully convolutional: one model per pyramid size, built once.
    func pnet(height: Int, width: Int) throws -> Model {
        let key = "\(height)x\(width)"
        if let m = pnets[key] { return m }
        var c = pnetConfig
        c.input.height = height
        c.input.width = width
        let m = try Model(config: c, weights: pnetWeights, context: ctx)
        if pnets.count >= 64 { pnets.removeAll() }  // photographs of many sizes: bound the cache
        pnets[key] = m
        return m
    }

    /// A box during the cascade: corners, score and the regression offsets.
    struct Cand { var x1, y1, x2, y2, score: Float; var reg: (Float, Float, Float, Float) }

    /// Faces in `img`, largest first.
    public func detect(_ img: RGBImage) throws -> [Face] {
        let h = img.height, w = img.width
        let planes = img.pixels.map { Float($0) }  // HWC, 0...255
        // pyramid
        let m = 12.0 / minFaceSize
        var minl = Double(min(h, w)) * m, scale = m
        var scales: [Double] = []
        while minl >= 12 { scales.append(scale); scale *= factor; minl *= factor }

        var stage1: [Cand] = []
        for s in scales {
            let sh = Int(Double(h) * s + 1), sw = Int(Double(w) * s + 1)
            let x = normalised(
                areaResize(planes, w: w, h: h, x0: 0, y0: 0, cw: w, ch: h, ow: sw, oh: sh), n: 1, h: sh, w: sw)
            let net = try pnet(height: sh, width: sw)
            let out = try net.forward(x, outputs: ["prob", "conv4_2"])
            // keep activation buffers for video-sized levels only; large photographs would pin them
            if sh * sw > 1 << 18 { net.releaseBuffers() }
            let prob = out["prob"]!, reg = out["conv4_2"]!
            let oh = prob.shape[1], ow = prob.shape[2]
            var cands: [Cand] = []
            let fs = Float(s)
            for yy in 0..<oh {
                for xx in 0..<ow {
                    let p = prob.data[(yy * ow + xx) * 2 + 1]
                    guard p >= thresholds[0] else { continue }
                    let r = reg.data + (yy * ow + xx) * 4
                    let bx = Float(xx), by = Float(yy)
                    cands.append(
                        Cand(
                            x1: ((2 * bx + 1) / fs).rounded(.down), y1: ((2 * by + 1) / fs).rounded(.down),
                            x2: ((2 * bx + 12) / fs).rounded(.down), y2: ((2 * by + 12) / fs).rounded(.down),
                            score: p, reg: (r[0], r[1], r[2], r[3])))
                }
            }
            stage1 += Self.nms(cands, threshold: 0.5, minMode: false, plusOne: false)
        }
        var boxes = Self.nms(stage1, threshold: 0.7, minMode: false, plusOne: false).map { b -> Cand in
            let rw = b.x2 - b.x1, rh = b.y2 - b.y1
            return Self.square(
                Cand(
                    x1: b.x1 + b.reg.0 * rw, y1: b.y1 + b.reg.1 * rh, x2: b.x2 + b.reg.2 * rw,
                    y2: b.y2 + b.reg.3 * rh, score: b.score, reg: (0, 0, 0, 0)))
        }
        guard !boxes.isEmpty else { return [] }

        // R-Net
        let (rin, rkeep) = crops(planes, w: w, h: h, boxes: boxes, size: 24)
        boxes = rkeep.map { boxes[$0] }
        guard !boxes.isEmpty else { return [] }
        let rout = try rnet.forward(rin, outputs: ["prob", "dense5_2"])
        var pass: [Cand] = []
        for (i, b) in boxes.enumerated() {
            let p = rout["prob"]!.data[i * 2 + 1]
            guard p > thresholds[1] else { continue }
            let r = rout["dense5_2"]!.data + i * 4
            pass.append(Cand(x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2, score: p, reg: (r[0], r[1], r[2], r[3])))
        }
        boxes = Self.nms(pass, threshold: 0.7, minMode: false, plusOne: false).map { Self.square(Self.regress($0)) }
        guard !boxes.isEmpty else { return [] }

        // O-Net
        let (oin, okeep) = crops(planes, w: w, h: h, boxes: boxes, size: 48)
        boxes = okeep.map { boxes[$0] }
        guard !boxes.isEmpty else { return [] }
        let oout = try onet.forward(oin, outputs: ["prob", "dense6_2", "dense6_3"])
        var faces: [(Cand, [(x: Double, y: Double)])] = []
        for (i, b) in boxes.enumerated() {
            let p = oout["prob"]!.data[i * 2 + 1]
            guard p > thresholds[2] else { continue }
            let r = oout["dense6_2"]!.data + i * 4, l = oout["dense6_3"]!.data + i * 10
            let bw = b.x2 - b.x1 + 1, bh = b.y2 - b.y1 + 1
            let pts = (0..<5).map { k in (x: Double(bw * l[k] + b.x1 - 1), y: Double(bh * l[5 + k] + b.y1 - 1)) }
            faces.append(
                (
                    Self.regress(Cand(x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2, score: p, reg: (r[0], r[1], r[2], r[3]))),
                    pts
                ))
        }
        let kept = Self.nmsIndices(faces.map(\.0), threshold: 0.7, minMode: true, plusOne: true)
        return kept.map { faces[$0] }
            .map {
                Face(
                    box: (Double($0.0.x1), Double($0.0.y1), Double($0.0.x2), Double($0.0.y2)),
                    probability: Double($0.0.score), landmarks: $0.1)
            }
            .sorted {
                ($0.box.x2 - $0.box.x1) * ($0.box.y2 - $0.box.y1) > ($1.box.x2 - $1.box.x1) * ($1.box.y2 - $1.box.y1)
            }
    }

    /// Box regression with the +1 pixel convention of the original code.
    static func regress(_ b: Cand) -> Cand {
        let w = b.x2 - b.x1 + 1, h = b.y2 - b.y1 + 1
        return Cand(
            x1: b.x1 + b.reg.0 * w, y1: b.y1 + b.reg.1 * h, x2: b.x2 + b.reg.2 * w, y2: b.y2 + b.reg.3 * h,
            score: b.score, reg: (0, 0, 0, 0))
    }

    /// Squares a box on its centre (its longer side).
    static func square(_ b: Cand) -> Cand {
        let h = b.y2 - b.y1, w = b.x2 - b.x1, l = max(w, h)
        let x1 = b.x1 + w * 0.5 - l * 0.5, y1 = b.y1 + h * 0.5 - l * 0.5
        return Cand(x1: x1, y1: y1, x2: x1 + l, y2: y1 + l, score: b.score, reg: b.reg)
    }

    /// Greedy non-maximum suppression, highest score first; IoU (or intersection over the
    /// smaller area with `minMode`) above `threshold` is suppressed.
    static func nmsIndices(_ c: [Cand], threshold: Float, minMode: Bool, plusOne: Bool) -> [Int] {
        let one: Float = plusOne ? 1 : 0
        var order = c.indices.sorted { c[$0].score > c[$1].score }
        var keep: [Int] = []
        while let i = order.first {
            keep.append(i)
            let a = c[i]
            let areaA = (a.x2 - a.x1 + one) * (a.y2 - a.y1 + one)
            order = order.dropFirst().filter { j in
                let b = c[j]
                let iw = max(0, min(a.x2, b.x2) - max(a.x1, b.x1) + one),
                    ih = max(0, min(a.y2, b.y2) - max(a.y1, b.y1) + one)
                let inter = iw * ih, areaB = (b.x2 - b.x1 + one) * (b.y2 - b.y1 + one)
                let o = minMode ? inter / min(areaA, areaB) : inter / (areaA + areaB - inter)
                return o <= threshold
            }
        }
        return keep
    }

    static func nms(_ c: [Cand], threshold: Float, minMode: Bool, plusOne: Bool) -> [Cand] {
        nmsIndices(c, threshold: threshold, minMode: minMode, plusOne: plusOne).map { c[$0] }
    }

    /// Crops of the boxes (clamped to the image, 1-based as the original) resized to
    /// size x size by area averaging, normalised; and which boxes had a non-empty crop.
    func crops(_ planes: [Float], w: Int, h: Int, boxes: [Cand], size: Int) -> (Tensor, [Int]) {
        var data: [Float] = []
        var keep: [Int] = []
        for (i, b) in boxes.enumerated() {
            let x = max(Int(b.x1), 1), y = max(Int(b.y1), 1), ex = min(Int(b.x2), w), ey = min(Int(b.y2), h)
            guard ey > y - 1 && ex > x - 1 else { continue }
            data += areaResize(
                planes, w: w, h: h, x0: x - 1, y0: y - 1, cw: ex - x + 1, ch: ey - y + 1, ow: size, oh: size)
            keep.append(i)
        }
        return (normalised(data, n: keep.count, h: size, w: size), keep)
    }

    func normalised(_ v: [Float], n: Int, h: Int, w: Int) -> Tensor {
        let t = Tensor(uninitialized: [n, h, w, 3])
        for i in 0..<v.count { t.data[i] = (v[i] - 127.5) * 0.0078125 }
        return t
    }

    /// Adaptive average pooling (PyTorch's interpolate mode "area") of the crop
    /// (x0, y0, cw, ch) of an HWC float image to oh x ow.
    func areaResize(_ src: [Float], w: Int, h: Int, x0: Int, y0: Int, cw: Int, ch: Int, ow: Int, oh: Int) -> [Float] {
        func ranges(_ n: Int, _ o: Int) -> [(Int, Int)] {
            (0..<o).map { i in (i * n / o, ((i + 1) * n + o - 1) / o) }
        }
        let rx = ranges(cw, ow), ry = ranges(ch, oh)
        var rows = [Float](repeating: 0, count: ch * ow * 3)
        src.withUnsafeBufferPointer { S in
            for y in 0..<ch {
                let base = ((y0 + y) * w + x0) * 3
                for (ox, r) in rx.enumerated() {
                    var a0: Float = 0, a1: Float = 0, a2: Float = 0
                    for x in r.0..<r.1 { a0 += S[base + x * 3]; a1 += S[base + x * 3 + 1]; a2 += S[base + x * 3 + 2] }
                    let k = Float(r.1 - r.0)
                    rows[(y * ow + ox) * 3] = a0 / k; rows[(y * ow + ox) * 3 + 1] = a1 / k;
                    rows[(y * ow + ox) * 3 + 2] = a2 / k
                }
            }
        }
        var out = [Float](repeating: 0, count: oh * ow * 3)
        for (oy, r) in ry.enumerated() {
            let k = Float(r.1 - r.0)
            for j in 0..<(ow * 3) {
                var a: Float = 0
                for y in r.0..<r.1 { a += rows[y * ow * 3 + j] }
                out[oy * ow * 3 + j] = a / k
            }
        }
        return out
    }
}
