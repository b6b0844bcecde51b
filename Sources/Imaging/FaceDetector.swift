import Foundation

/// An 8-bit single-channel image.
public struct GrayImage: Sendable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height)
        (self.width, self.height, self.pixels) = (width, height, pixels)
    }

    /// Luma as OpenCV's RGB2GRAY computes it on 8-bit data (fixed point, 14 bits).
    public init(_ rgb: RGBImage) {
        width = rgb.width
        height = rgb.height
        var out = [UInt8](repeating: 0, count: rgb.width * rgb.height)
        rgb.pixels.withUnsafeBufferPointer { p in
            for i in 0..<out.count {
                let r = Int(p[3 * i]), g = Int(p[3 * i + 1]), b = Int(p[3 * i + 2])
                out[i] = UInt8((r * 4899 + g * 9617 + b * 1868 + 8192) >> 14)
            }
        }
        pixels = out
    }

    /// Bilinear resize of 8-bit data in fixed point, as OpenCV's INTER_LINEAR (11-bit
    /// weights, half-pixel centres, clamped borders), so detections match OpenCV's.
    public func resized(width dw: Int, height dh: Int) -> GrayImage {
        if dw == width && dh == height { return self }
        func coefs(_ src: Int, _ dst: Int) -> ([Int], [Int32], [Int32]) {
            let scale = Double(src) / Double(dst)
            var idx = [Int](repeating: 0, count: dst), a = [Int32](repeating: 0, count: dst),
                b = [Int32](repeating: 0, count: dst)
            for i in 0..<dst {
                var f = (Double(i) + 0.5) * scale - 0.5
                var s = Int(f.rounded(.down))
                f -= Double(s)
                if s < 0 { s = 0; f = 0 }
                if s >= src - 1 { s = src - 1; f = 0 }
                let w1 = Int32((f * 2048).rounded()), w0 = 2048 - w1
                idx[i] = s; a[i] = w0; b[i] = w1
            }
            return (idx, a, b)
        }
        let (xi, xa, xb) = coefs(width, dw), (yi, ya, yb) = coefs(height, dh)
        var out = [UInt8](repeating: 0, count: dw * dh)
        var row0 = [Int32](repeating: 0, count: dw), row1 = [Int32](repeating: 0, count: dw)
        pixels.withUnsafeBufferPointer { src in
            func hresize(_ y: Int, _ dst: inout [Int32]) {
                let base = y * width
                for x in 0..<dw {
                    let s = xi[x]
                    let p1 = s + 1 < width ? Int32(src[base + s + 1]) : 0
                    dst[x] = Int32(src[base + s]) * xa[x] + p1 * xb[x]
                }
            }
            var have0 = -1, have1 = -1
            for y in 0..<dh {
                let s = yi[y], s1 = min(s + 1, height - 1)
                if have0 != s {
                    if have1 == s { swap(&row0, &row1); have0 = s; have1 = -1 } else { hresize(s, &row0); have0 = s }
                }
                if yb[y] != 0 && have1 != s1 { hresize(s1, &row1); have1 = s1 }
                for x in 0..<dw {
                    let v0 = Int64(row0[x]) * Int64(ya[y]), v1 = yb[y] != 0 ? Int64(row1[x]) * Int64(yb[y]) : 0
                    out[y * dw + x] = UInt8(clamping: (v0 + v1 + (1 << 21)) >> 22)
                }
            }
        }
        return GrayImage(width: dw, height: dh, pixels: out)
    }
}

/// Rounds half to even, as OpenCV's cvRound.
@inline(__always) func cvRound(_ v: Double) -> Int { Int(v.rounded(.toNearestOrEven)) }

/// A face box in pixels, with how many raw detections supported it.
public struct FaceBox: Sendable, Equatable, Codable {
    public var x, y, w, h: Int
    public var neighbors: Int
    public init(x: Int, y: Int, w: Int, h: Int, neighbors: Int = 0) {
        (self.x, self.y, self.w, self.h, self.neighbors) = (x, y, w, h, neighbors)
    }
    public var area: Int { w * h }
    public func iou(_ o: FaceBox) -> Double {
        let ix = max(0, min(x + w, o.x + o.w) - max(x, o.x)), iy = max(0, min(y + h, o.y + o.h) - max(y, o.y))
        let inter = Double(ix * iy)
        return inter / Double(area + o.area - ix * iy)
    }
}

/// Viola-Jones detection with a Haar cascade, following OpenCV's detectMultiScale: an
/// image pyramid, the window slid by 2 pixels (1 once the scale passes 2), variance
/// normalisation over the window less its border, and grouping of overlapping hits.
public final class HaarDetector: @unchecked Sendable {
    public let cascade: HaarCascade
    public var scaleFactor = 1.1
    public var minNeighbors = 3
    /// Smallest face side in pixels.
    public var minSize = 30
    public var maxSize = 0

    /// Flattened cascade for speed: per feature up to 3 rects (x, y, w, h, weight).
    private let rx: [Int32], ry: [Int32], rw: [Int32], rh: [Int32], rwt: [Float], rcount: [Int]
    /// Flattened trees: nodes, leaves, per-tree starts, per-stage tree ranges.
    private let nLeft: [Int32], nRight: [Int32], nFeat: [Int32], nThr: [Float], leaves: [Float]
    private let treeNode: [Int32], treeLeaf: [Int32], stageEnd: [Int32], stageThr: [Float]

    public init(cascade: HaarCascade) {
        self.cascade = cascade
        var nl = [Int32](), nr = [Int32](), nf = [Int32](), nt = [Float](), lv = [Float]()
        var tn = [Int32](), tl = [Int32](), se = [Int32](), st = [Float]()
        for s in cascade.stages {
            for t in s.trees {
                tn.append(Int32(nl.count)); tl.append(Int32(lv.count))
                for n in t.nodes {
                    nl.append(Int32(n.left)); nr.append(Int32(n.right)); nf.append(Int32(n.feature));
                    nt.append(n.threshold)
                }
                lv += t.leaves
            }
            se.append(Int32(tn.count)); st.append(s.threshold)
        }
        (nLeft, nRight, nFeat, nThr, leaves, treeNode, treeLeaf, stageEnd, stageThr) = (
            nl, nr, nf, nt, lv, tn, tl, se, st
        )
        var rx = [Int32](), ry = [Int32](), rw = [Int32](), rh = [Int32](), rwt = [Float](), rc = [Int]()
        for f in cascade.features {
            rc.append(f.rects.count)
            for k in 0..<3 {
                let r = k < f.rects.count ? f.rects[k] : HaarCascade.Rect(x: 0, y: 0, w: 0, h: 0, weight: 0)
                rx.append(Int32(r.x)); ry.append(Int32(r.y)); rw.append(Int32(r.w)); rh.append(Int32(r.h));
                rwt.append(r.weight)
            }
        }
        (self.rx, self.ry, self.rw, self.rh, self.rwt, rcount) = (rx, ry, rw, rh, rwt, rc)
    }

    /// Raw hits (before grouping) over the whole image, or only windows whose box lies in
    /// `region` with sides in `sizes` (tracking).
    public func detectRaw(
        _ img: GrayImage, region: FaceBox? = nil, sizeRange: ClosedRange<Int>? = nil,
        step fixedStep: Int? = nil
    ) -> [FaceBox] {
        let ww = cascade.width, wh = cascade.height
        var hits: [FaceBox] = []
        var factor = 1.0
        while true {
            defer { factor *= scaleFactor }
            let winW = cvRound(Double(ww) * factor), winH = cvRound(Double(wh) * factor)
            let sw = cvRound(Double(img.width) / factor), sh = cvRound(Double(img.height) / factor)
            let procW = sw - ww, procH = sh - wh
            if procW <= 0 || procH <= 0 { break }
            if maxSize > 0 && (winW > maxSize || winH > maxSize) { break }
            if let r = sizeRange {
                if winW > r.upperBound { break }
                if winW < r.lowerBound { continue }
            }
            if winW < minSize || winH < minSize { continue }
            // scanning range in the scaled image
            var x0 = 0, x1 = procW, y0 = 0, y1 = procH
            if let r = region {
                x0 = max(0, Int((Double(r.x) / factor).rounded(.down)))
                y0 = max(0, Int((Double(r.y) / factor).rounded(.down)))
                x1 = min(procW, Int((Double(r.x + r.w - winW) / factor).rounded(.up)) + 1)
                y1 = min(procH, Int((Double(r.y + r.h - winH) / factor).rounded(.up)) + 1)
                if x0 >= x1 || y0 >= y1 { continue }
            }
            let scaled = img.resized(width: sw, height: sh)
            let step = fixedStep ?? (factor > 2 ? 1 : 2)
            scan(
                scaled, factor: factor, winW: winW, winH: winH, step: step, x0: x0, x1: x1, y0: y0, y1: y1, into: &hits)
        }
        return hits
    }

    /// Detected faces, grouped as OpenCV does (eps 0.2, `minNeighbors`), largest first.
    public func detect(
        _ img: GrayImage, region: FaceBox? = nil, sizeRange: ClosedRange<Int>? = nil,
        step: Int? = nil, minNeighbors: Int? = nil
    ) -> [FaceBox] {
        Self.group(
            detectRaw(img, region: region, sizeRange: sizeRange, step: step),
            threshold: minNeighbors ?? self.minNeighbors, eps: 0.2
        )
        .sorted { $0.area > $1.area }
    }

    /// A weak stump with its feature's corner offsets resolved for one integral image.
    private struct Stump {
        var o: (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32)
        var w0, w1, w2, thr, left, right: Float
    }

    private lazy var isStumps: Bool = cascade.stages.allSatisfy {
        $0.trees.allSatisfy { $0.nodes.count == 1 && $0.leaves.count == 2 }
    }
    /// Stumps with offsets resolved per integral width; video frames reuse the same widths.
    private var stumpCache: [Int: [Stump]] = [:]

    private func scan(
        _ img: GrayImage, factor: Double, winW: Int, winH: Int, step: Int,
        x0: Int, x1: Int, y0: Int, y1: Int, into hits: inout [FaceBox]
    ) {
        let w = img.width, h = img.height, iw = w + 1
        // integral and squared integral with a zero first row and column
        var sum = [Int32](repeating: 0, count: (w + 1) * (h + 1))
        var sq = [Int64](repeating: 0, count: (w + 1) * (h + 1))
        img.pixels.withUnsafeBufferPointer { p in
            sum.withUnsafeMutableBufferPointer { S in
                sq.withUnsafeMutableBufferPointer { Q in
                    for y in 0..<h {
                        var rs: Int32 = 0, rq: Int64 = 0
                        let src = y * w, up = y * iw + 1, cur = (y + 1) * iw + 1
                        for x in 0..<w {
                            let v = Int32(p[src + x])
                            rs &+= v
                            rq &+= Int64(v &* v)
                            S[cur + x] = S[up + x] &+ rs
                            Q[cur + x] = Q[up + x] &+ rq
                        }
                    }
                }
            }
        }
        let cw = cascade.width, ch = cascade.height
        let normArea = Double((cw - 2) * (ch - 2))
        func corners(_ f: Int, _ k: Int) -> (Int32, Int32, Int32, Int32) {
            let i = f * 3 + k
            let a = Int32(Int(ry[i]) * iw + Int(rx[i]))
            let rwI = rw[i], rhI = rh[i] &* Int32(iw)
            return (a, a + rwI, a + rhI, a + rhI + rwI)
        }
        var stumps: [Stump]? = nil
        if isStumps {
            if let cached = stumpCache[iw] {
                stumps = cached
            } else {
                let table = nFeat.indices.map { n -> Stump in
                    let f = Int(nFeat[n])
                    let (a0, a1, a2, a3) = corners(f, 0), (b0, b1, b2, b3) = corners(f, 1),
                        (c0, c1, c2, c3) = corners(f, 2)
                    return Stump(
                        o: (a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3), w0: rwt[f * 3], w1: rwt[f * 3 + 1],
                        w2: rwt[f * 3 + 2], thr: nThr[n], left: leaves[2 * n], right: leaves[2 * n + 1])
                }
                if stumpCache.count >= 128 { stumpCache.removeAll() }
                stumpCache[iw] = table
                stumps = table
            }
        }
        // general trees: per-feature corner offsets
        var offs = [Int32](repeating: 0, count: rcount.count * 12)
        if stumps == nil {
            for f in 0..<rcount.count {
                for k in 0..<3 {
                    let c = corners(f, k)
                    offs[f * 12 + k * 4] = c.0; offs[f * 12 + k * 4 + 1] = c.1
                    offs[f * 12 + k * 4 + 2] = c.2; offs[f * 12 + k * 4 + 3] = c.3
                }
            }
        }
        let nstages = stageEnd.count
        let stumpTable = stumps ?? []
        sum.withUnsafeBufferPointer { S0 in
            sq.withUnsafeBufferPointer { Q0 in
                stumpTable.withUnsafeBufferPointer { T0 in
                    offs.withUnsafeBufferPointer { O in
                        stageEnd.withUnsafeBufferPointer { SE in
                            stageThr.withUnsafeBufferPointer { STh in
                                let S = S0.baseAddress!, Q = Q0.baseAddress!
                                let useStumps = stumps != nil
                                // unused when there are no stumps
                                let T = T0.baseAddress ?? UnsafePointer(bitPattern: 64)!
                                @inline(__always) func box(
                                    _ p: UnsafePointer<Int32>, _ a: Int32, _ b: Int32, _ c: Int32, _ d: Int32
                                ) -> Float {
                                    Float(p[Int(d)] &- p[Int(b)] &- p[Int(c)] &+ p[Int(a)])
                                }
                                // one window: 1 if it passes every stage, else -(the stage that rejected it)
                                @inline(__always) func classify(_ P: UnsafePointer<Int32>, _ inv: Double) -> Int {
                                    // v * (1 / nf) < thr, compared as v < thr * nf in float: one multiply per stump
                                    let nff = Float(1 / inv)
                                    var t = 0
                                    for si in 0..<nstages {
                                        var acc: Float = 0
                                        let end = Int(SE[si])
                                        if useStumps {
                                            while t < end {
                                                let st = T[t]
                                                var v =
                                                    st.w0 * box(P, st.o.0, st.o.1, st.o.2, st.o.3) + st.w1
                                                    * box(P, st.o.4, st.o.5, st.o.6, st.o.7)
                                                if st.w2 != 0 { v += st.w2 * box(P, st.o.8, st.o.9, st.o.10, st.o.11) }
                                                acc += v < st.thr * nff ? st.left : st.right
                                                t += 1
                                            }
                                        } else {
                                            while t < end {
                                                let root = Int(treeNode[t]), leaf0 = Int(treeLeaf[t])
                                                var node = root
                                                while true {
                                                    let f = Int(nFeat[node]), o = f * 12
                                                    var v =
                                                        rwt[f * 3] * box(P, O[o], O[o + 1], O[o + 2], O[o + 3])
                                                        + rwt[f * 3 + 1]
                                                        * box(P, O[o + 4], O[o + 5], O[o + 6], O[o + 7])
                                                    if rwt[f * 3 + 2] != 0 {
                                                        v +=
                                                            rwt[f * 3 + 2]
                                                            * box(P, O[o + 8], O[o + 9], O[o + 10], O[o + 11])
                                                    }
                                                    let next = Int(
                                                        Double(v) * inv < Double(nThr[node])
                                                            ? nLeft[node] : nRight[node])
                                                    if next <= 0 { acc += leaves[leaf0 - next]; break }
                                                    node = root + next
                                                }
                                                t += 1
                                            }
                                        }
                                        if acc < STh[si] { return -si }
                                    }
                                    return 1
                                }
                                var y = y0
                                while y < y1 {
                                    var x = x0
                                    while x < x1 {
                                        let base = y * iw + x
                                        // variance normalisation over the window less a 1-pixel border
                                        let n0 = base + iw + 1, n1 = n0 + cw - 2, n2 = n0 + (ch - 2) * iw,
                                            n3 = n2 + cw - 2
                                        let vs = Double(S[n3] &- S[n1] &- S[n2] &+ S[n0])
                                        let vq = Double(Q[n3] &- Q[n1] &- Q[n2] &+ Q[n0])
                                        var nf = normArea * vq - vs * vs
                                        nf = nf > 0 ? nf.squareRoot() : 1
                                        let result = classify(S + base, 1 / nf)
                                        if result > 0 {
                                            hits.append(
                                                FaceBox(
                                                    x: cvRound(Double(x) * factor), y: cvRound(Double(y) * factor),
                                                    w: winW, h: winH))
                                        }
                                        // OpenCV skips ahead after a first-stage rejection
                                        x += result == 0 ? 2 * step : step
                                    }
                                    y += step
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// OpenCV's groupRectangles: clusters of similar boxes (eps), averaged; clusters with
    /// no more than `threshold` members dropped, as are small boxes inside larger ones.
    public static func group(_ rects: [FaceBox], threshold: Int, eps: Double) -> [FaceBox] {
        if threshold <= 0 || rects.isEmpty { return rects }
        func similar(_ a: FaceBox, _ b: FaceBox) -> Bool {
            let delta = eps * Double(min(a.w, b.w) + min(a.h, b.h)) * 0.5
            return Double(abs(a.x - b.x)) <= delta && Double(abs(a.y - b.y)) <= delta
                && Double(abs(a.x + a.w - b.x - b.w)) <= delta && Double(abs(a.y + a.h - b.y - b.h)) <= delta
        }
        // union-find partition
        var parent = Array(rects.indices)
        func root(_ i: Int) -> Int {
            var i = i; while parent[i] != i { parent[i] = parent[parent[i]]; i = parent[i] }; return i
        }
        for i in rects.indices {
            for j in (i + 1)..<rects.count where similar(rects[i], rects[j]) { parent[root(j)] = root(i) }
        }
        var classOf: [Int: Int] = [:]
        var sums: [(Int, Int, Int, Int, Int)] = []
        for i in rects.indices {
            let r = root(i)
            let c =
                classOf[r]
                ?? {
                    classOf[r] = sums.count; sums.append((0, 0, 0, 0, 0)); return sums.count - 1
                }()
            sums[c].0 += rects[i].x; sums[c].1 += rects[i].y; sums[c].2 += rects[i].w; sums[c].3 += rects[i].h;
            sums[c].4 += 1
        }
        let avg = sums.map { s -> FaceBox in
            let k = 1 / Float(s.4)
            func r(_ v: Int) -> Int { Int((Float(v) * k).rounded(.toNearestOrEven)) }  // cvRound
            return FaceBox(x: r(s.0), y: r(s.1), w: r(s.2), h: r(s.3), neighbors: s.4)
        }
        var out: [FaceBox] = []
        for (i, r1) in avg.enumerated() where r1.neighbors > threshold {
            var inside = false
            for (j, r2) in avg.enumerated() where j != i && r2.neighbors > threshold {
                let dx = Int((Double(r2.w) * eps).rounded(.toNearestOrEven)),
                    dy = Int((Double(r2.h) * eps).rounded(.toNearestOrEven))
                if r1.x >= r2.x - dx && r1.y >= r2.y - dy && r1.x + r1.w <= r2.x + r2.w + dx
                    && r1.y + r1.h <= r2.y + r2.h + dy && (r2.neighbors > max(3, r1.neighbors) || r1.neighbors < 3)
                {
                    inside = true
                    break
                }
            }
            if !inside { out.append(r1) }
        }
        return out
    }
}

/// Follows one face through a video: after a detection, the next frames are searched only
/// near the last box and at nearby scales (a few small pyramid levels instead of the whole
/// pyramid); the box is smoothed over time. A full detection runs when the search fails.
public final class FaceTracker {
    public let detector: HaarDetector
    /// Weight of the new detection in the smoothed box (1 = no smoothing).
    public var smoothing = 0.6
    /// Search region: the last box grown by this fraction of its side on each side.
    public var searchGrow = 0.5
    /// Scales searched around the last size (ratio).
    public var scaleRange = 1.2
    /// Window step in the scaled image while tracking (a full search uses OpenCV's 1 or 2).
    public var trackingStep = 2
    /// Neighbours a tracked box needs: it must still score as a face, two overlapping
    /// windows of the cascade, not one stray window (else the whole frame is searched).
    public var trackingNeighbors = 2
    /// A full detection at least every this many frames while tracking (0: never), so a
    /// tracked box that drifted off the face or a person who left is noticed.
    public var fullEvery = 60
    /// A scene cut: the mean absolute difference of two consecutive frames' 16x16 thumbnails,
    /// as a fraction of the 8-bit range, above this. The tracker then starts afresh.
    public var cutThreshold = 0.1
    private(set) public var last: FaceBox?
    private var smooth: (cx: Double, cy: Double, s: Double)?
    private var sinceFull = 0
    private var thumb: [Double]?
    /// Faces the last frame's search found when it searched the whole frame; nil when it
    /// tracked (searched near the face only).
    private(set) public var lastFaceCount: Int?

    public init(detector: HaarDetector) { self.detector = detector }

    public enum Source: String, Sendable { case haar, tracked }

    /// Which face is the subject: the one tracked from the previous frame (the largest when a
    /// search of the whole frame starts afresh), or in every frame the largest or the one
    /// nearest the centre (no tracking).
    public enum Subject: String, Sendable, CaseIterable { case tracked, largest, central }
    public var subject: Subject = .tracked

    /// The face in `img`, or nil; `source` says whether tracking or a full search found it.
    /// Tracking searches near the last face; a scene cut, or `fullEvery` frames of tracking,
    /// make it search the whole frame again.
    public func next(_ img: GrayImage) -> (box: FaceBox, source: Source)? {
        if subject != .tracked {
            reset()
            let all = detector.detect(img)
            lastFaceCount = all.count
            let (cx, cy) = (Double(img.width) / 2, Double(img.height) / 2)
            func dist(_ b: FaceBox) -> Double {
                let (x, y) = (Double(b.x) + Double(b.w) / 2 - cx, Double(b.y) + Double(b.h) / 2 - cy)
                return x * x + y * y
            }
            guard let best = subject == .central ? all.min(by: { dist($0) < dist($1) }) : all.first else { return nil }
            return (update(best), .haar)
        }
        let t = Self.thumbnail(img)
        let difference = thumb.map { zip($0, t).reduce(0) { $0 + abs($1.0 - $1.1) } / Double(t.count) / 255 }
        thumb = t
        if let d = difference, d > cutThreshold { last = nil; smooth = nil }
        if let l = last, fullEvery > 0, sinceFull >= fullEvery {
            // re-anchor on a search of the whole frame at sizes near the face's (half to twice,
            // a fraction of a full search's cost): the face overlapping it, else the largest
            let all = detector.detect(img, sizeRange: max(1, l.w / 2)...(2 * l.w))
            lastFaceCount = nil  // only faces near the subject's size were searched
            if let best = all.max(by: { $0.iou(l) < $1.iou(l) }), best.iou(l) > 0 {
                sinceFull = 0
                return (update(best), .haar)
            }
            if let best = all.first {
                sinceFull = 0
                smooth = nil
                return (update(best), .haar)
            }
            // no face at that size in the whole frame: the subject left; search it afresh
            last = nil
            smooth = nil
            sinceFull = 0
        }
        lastFaceCount = nil
        if let l = last {
            let g = Int(Double(max(l.w, l.h)) * searchGrow)
            let region = FaceBox(x: l.x - g, y: l.y - g, w: l.w + 2 * g, h: l.h + 2 * g)
            let lo = Int(Double(l.w) / scaleRange), hi = Int(Double(l.w) * scaleRange) + 1
            let found = detector.detect(
                img, region: region, sizeRange: lo...hi, step: trackingStep, minNeighbors: trackingNeighbors)
            if let best = found.max(by: { $0.iou(l) < $1.iou(l) }), best.iou(l) > 0 {
                sinceFull += 1
                return (update(best), .tracked)
            }
        }
        let all = detector.detect(img)
        lastFaceCount = all.count
        guard let best = all.first else { return nil }
        smooth = nil
        sinceFull = 0
        return (update(best), .haar)
    }

    /// Forgets the face and the last frame (a new video, or an independent image).
    public func reset() { last = nil; smooth = nil; thumb = nil; sinceFull = 0 }

    /// 16x16 averages of the frame, over every 4th pixel of every 4th row (a cut changes
    /// the whole picture; this costs a few microseconds).
    static func thumbnail(_ img: GrayImage) -> [Double] {
        let n = 16, s = 4
        var t = [Int](repeating: 0, count: n * n), c = [Int](repeating: 0, count: n * n)
        guard img.width > 0, img.height > 0 else { return [Double](repeating: 0, count: n * n) }
        let bins = stride(from: 0, to: img.width, by: s).map { $0 * n / img.width }
        img.pixels.withUnsafeBufferPointer { p in
            for y in stride(from: 0, to: img.height, by: s) {
                let row = (y * n / img.height) * n, base = y * img.width
                for (j, b) in bins.enumerated() {
                    t[row + b] += Int(p[base + j * s])
                    c[row + b] += 1
                }
            }
        }
        return zip(t, c).map { $1 > 0 ? Double($0) / Double($1) : 0 }
    }

    private func update(_ b: FaceBox) -> FaceBox {
        let cx = Double(b.x) + Double(b.w) / 2, cy = Double(b.y) + Double(b.h) / 2, s = Double(b.w)
        let a = smoothing
        let n: (cx: Double, cy: Double, s: Double) =
            smooth.map {
                (cx: a * cx + (1 - a) * $0.cx, cy: a * cy + (1 - a) * $0.cy, s: a * s + (1 - a) * $0.s)
            } ?? (cx: cx, cy: cy, s: s)
        smooth = n
        let side = Int(n.s.rounded())
        let out = FaceBox(
            x: Int((n.cx - n.s / 2).rounded()), y: Int((n.cy - n.s / 2).rounded()), w: side, h: side,
            neighbors: b.neighbors)
        last = b
        return out
    }
}
