import Foundation

/// A boosted Haar cascade as OpenCV's traincascade writes it (XML, `opencv-cascade-classifier`):
/// stages of weak trees (stumps or small trees) over Haar features on a fixed window.
public struct HaarCascade: Sendable {
    public struct Rect: Sendable, Equatable { public var x, y, w, h: Int; public var weight: Float }
    public struct Feature: Sendable { public var rects: [Rect] }
    /// One tree node: value < threshold goes left, else right; a child <= 0 is leaf -child.
    public struct Node: Sendable { public var left, right, feature: Int; public var threshold: Float }
    public struct Tree: Sendable { public var nodes: [Node]; public var leaves: [Float] }
    public struct Stage: Sendable { public var threshold: Float; public var trees: [Tree] }

    public var width: Int
    public var height: Int
    public var stages: [Stage]
    public var features: [Feature]

    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ImageError(file: path, reason: "cannot read the cascade file")
        }
        try self.init(xml: data, name: path)
    }

    public init(xml data: Data, name: String) throws {
        func fail(_ s: String) -> ImageError { ImageError(file: name, reason: s) }
        let root = try MiniXML.parse(data, name: name)
        guard let cascade = root.first("cascade") else {
            throw fail("no <cascade> element (only OpenCV's new cascade format is read)")
        }
        guard cascade.first("featureType")?.text.trimmed == "HAAR" else { throw fail("feature type is not HAAR") }
        guard cascade.first("stageType")?.text.trimmed == "BOOST" else { throw fail("stage type is not BOOST") }
        guard let w = Int(cascade.first("width")?.text.trimmed ?? ""),
            let h = Int(cascade.first("height")?.text.trimmed ?? ""),
            w > 2, h > 2
        else { throw fail("missing or bad window size") }
        width = w
        height = h
        guard let featureNodes = cascade.first("features")?.children, !featureNodes.isEmpty else {
            throw fail("no features")
        }
        features = try featureNodes.enumerated().map { i, f in
            if let t = f.first("tilted"), t.text.trimmed == "1" {
                throw fail("feature \(i) is tilted: tilted features are not supported")
            }
            guard let rects = f.first("rects")?.children, (1...3).contains(rects.count) else {
                throw fail("feature \(i) has no rects")
            }
            return Feature(
                rects: try rects.map { r in
                    let v = r.text.numbers
                    guard v.count == 5, v[2] > 0, v[3] > 0, v[0] >= 0, v[1] >= 0, Int(v[0] + v[2]) <= w,
                        Int(v[1] + v[3]) <= h
                    else {
                        throw fail("feature \(i) has a bad rect \"\(r.text.trimmed)\"")
                    }
                    return Rect(x: Int(v[0]), y: Int(v[1]), w: Int(v[2]), h: Int(v[3]), weight: Float(v[4]))
                })
        }
        guard let stageNodes = cascade.first("stages")?.children, !stageNodes.isEmpty else { throw fail("no stages") }
        let nf = features.count
        stages = try stageNodes.enumerated().map { si, s in
            guard let t = Double(s.first("stageThreshold")?.text.trimmed ?? "") else {
                throw fail("stage \(si) has no threshold")
            }
            guard let weak = s.first("weakClassifiers")?.children, !weak.isEmpty else {
                throw fail("stage \(si) has no classifiers")
            }
            let trees = try weak.map { wc -> Tree in
                let nodeValues = wc.first("internalNodes")?.text.numbers ?? []
                let leaves = (wc.first("leafValues")?.text.numbers ?? []).map { Float($0) }
                guard !nodeValues.isEmpty, nodeValues.count % 4 == 0 else {
                    throw fail("stage \(si): internalNodes must be groups of 4")
                }
                let nodes = stride(from: 0, to: nodeValues.count, by: 4).map {
                    Node(
                        left: Int(nodeValues[$0]), right: Int(nodeValues[$0 + 1]), feature: Int(nodeValues[$0 + 2]),
                        threshold: Float(nodeValues[$0 + 3]))
                }
                for n in nodes {
                    guard n.feature >= 0, n.feature < nf, n.left < nodes.count, n.right < nodes.count,
                        -n.left < leaves.count, -n.right < leaves.count
                    else {
                        throw fail("stage \(si): a node refers to a missing feature, node or leaf")
                    }
                }
                return Tree(nodes: nodes, leaves: leaves)
            }
            // OpenCV subtracts 1e-5 from every stage threshold when it reads the file.
            return Stage(threshold: Float(t) - 1e-5, trees: trees)
        }
    }
}

/// Just enough XML for cascade files: elements, text, comments; attributes are skipped.
struct MiniXML {
    final class Element {
        let name: String
        var children: [Element] = []
        var text = ""
        init(name: String) { self.name = name }
        func first(_ n: String) -> Element? {
            for c in children { if c.name == n { return c }; if let f = c.first(n) { return f } }
            return nil
        }
    }

    static func parse(_ data: Data, name: String) throws -> Element {
        let bytes = [UInt8](data)
        let root = Element(name: "#root")
        var stack = [root]
        var i = 0
        func fail(_ s: String) -> ImageError { ImageError(file: name, reason: "XML: \(s)") }
        func starts(_ s: String, at p: Int) -> Bool {
            let u = Array(s.utf8)
            return p + u.count <= bytes.count && Array(bytes[p..<p + u.count]) == u
        }
        func find(_ s: String, from p: Int) -> Int? {
            let u = Array(s.utf8)
            var q = p
            while q + u.count <= bytes.count {
                if bytes[q] == u[0] && Array(bytes[q..<q + u.count]) == u { return q }; q += 1
            }
            return nil
        }
        var textStart = 0
        while i < bytes.count {
            if bytes[i] != UInt8(ascii: "<") { i += 1; continue }
            if i > textStart { stack.last!.text += String(decoding: bytes[textStart..<i], as: UTF8.self) }
            if starts("<!--", at: i) {
                guard let e = find("-->", from: i + 4) else { throw fail("unterminated comment") }
                i = e + 3
            } else if starts("<?", at: i) || starts("<!", at: i) {
                guard let e = find(">", from: i) else { throw fail("unterminated declaration") }
                i = e + 1
            } else {
                guard let e = find(">", from: i) else { throw fail("unterminated tag") }
                var tag = String(decoding: bytes[(i + 1)..<e], as: UTF8.self)
                if tag.hasPrefix("/") {
                    let n = String(tag.dropFirst()).trimmed
                    guard stack.count > 1, stack.last!.name == n else { throw fail("unexpected </\(n)>") }
                    stack.removeLast()
                } else {
                    let selfClosing = tag.hasSuffix("/")
                    if selfClosing { tag.removeLast() }
                    let n = String(tag.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).first ?? "")
                    guard !n.isEmpty else { throw fail("empty tag name") }
                    let el = Element(name: n)
                    stack.last!.children.append(el)
                    if !selfClosing { stack.append(el) }
                }
                i = e + 1
            }
            textStart = i
        }
        guard stack.count == 1 else { throw fail("unclosed <\(stack.last!.name)> (truncated file?)") }
        return root
    }
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
    /// Whitespace-separated numbers.
    var numbers: [Double] {
        split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).compactMap { Double($0) }
    }
}
