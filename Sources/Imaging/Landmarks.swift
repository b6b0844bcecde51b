import Foundation

/// 2-D facial landmarks of one frame (68 points in the iBUG 300-W scheme, or any count).
public struct Landmarks: Sendable, Equatable {
    public var points: [(x: Double, y: Double)]
    public init(points: [(x: Double, y: Double)]) { self.points = points }
    public static func == (a: Landmarks, b: Landmarks) -> Bool {
        a.points.count == b.points.count && zip(a.points, b.points).allSatisfy { $0.x == $1.x && $0.y == $1.y }
    }
    /// Bounds of the points (x, y, w, h), nil if there are none or any is not finite.
    public var bounds: (x: Double, y: Double, w: Double, h: Double)? {
        guard !points.isEmpty, points.allSatisfy({ $0.x.isFinite && $0.y.isFinite }) else { return nil }
        let xs = points.map(\.x), ys = points.map(\.y)
        return (xs.min()!, ys.min()!, xs.max()! - xs.min()!, ys.max()! - ys.min()!)
    }
}

/// Landmark files: iBUG .pts (one per frame), OpenFace FeatureExtraction CSV, and the plain
/// CSV / NPY layout written by tools/landmarks_face_alignment.py (documented there).
public enum LandmarkFiles {
    /// An iBUG .pts file: optional `version:` / `n_points:` header and braces, then "x y" lines.
    public static func readPTS(_ path: String) throws -> Landmarks {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ImageError(file: path, reason: "cannot read the landmark file")
        }
        var pts: [(x: Double, y: Double)] = []
        var declared: Int?
        for (n, raw) in text.split(whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line == "{" || line == "}" || line.hasPrefix("version") { continue }
            if line.hasPrefix("n_points") {
                declared = Int(line.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "")
                continue
            }
            let v = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }).compactMap { Double($0) }
            guard v.count == 2 else { throw ImageError(file: path, reason: "line \(n + 1) is not \"x y\": \(line)") }
            pts.append((v[0], v[1]))
        }
        if let d = declared, d != pts.count {
            throw ImageError(file: path, reason: "n_points says \(d) but \(pts.count) points follow")
        }
        guard !pts.isEmpty else { throw ImageError(file: path, reason: "no points") }
        return Landmarks(points: pts)
    }

    /// Splits a CSV line (no quoting needed for these numeric files).
    static func fields(_ line: Substring) -> [String] {
        line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// OpenFace FeatureExtraction CSV: columns `frame`, optional `success`, `x_0..x_N`,
    /// `y_0..y_N`. Keyed by frame number (1-based, as OpenFace writes it); rows with
    /// success 0 are left out (OpenFace writes its guess there, or -nan).
    public static func readOpenFaceCSV(_ path: String) throws -> [Int: Landmarks] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ImageError(file: path, reason: "cannot read the landmark file")
        }
        var lines = text.split(whereSeparator: \.isNewline)[...]
        guard let header = lines.popFirst().map(fields) else { throw ImageError(file: path, reason: "empty file") }
        let col = Dictionary(header.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        guard let fcol = col["frame"] else { throw ImageError(file: path, reason: "no frame column") }
        var n = 0
        while col["x_\(n)"] != nil && col["y_\(n)"] != nil { n += 1 }
        guard n > 0 else {
            throw ImageError(file: path, reason: "no x_0 / y_0 columns (not an OpenFace landmark CSV?)")
        }
        let xs = (0..<n).map { col["x_\($0)"]! }, ys = (0..<n).map { col["y_\($0)"]! }
        var out: [Int: Landmarks] = [:]
        for (i, line) in lines.enumerated() {
            let f = fields(line)
            guard f.count == header.count, let frame = Int(f[fcol]) else {
                throw ImageError(file: path, reason: "row \(i + 2) has \(f.count) fields or no frame number")
            }
            if let s = col["success"], f[s] == "0" { continue }
            let pts = (0..<n).map { (x: Double(f[xs[$0]]) ?? .nan, y: Double(f[ys[$0]]) ?? .nan) }
            out[frame] = Landmarks(points: pts)
        }
        return out
    }

    /// Plain CSV: a header, then `frame,x0,y0,x1,y1,...` with frame = the image file name;
    /// an empty or NaN row means no face in that frame.
    public static func readPlainCSV(_ path: String) throws -> [String: Landmarks] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ImageError(file: path, reason: "cannot read the landmark file")
        }
        var out: [String: Landmarks] = [:]
        for (i, line) in text.split(whereSeparator: \.isNewline).enumerated() where i > 0 {
            let f = fields(line)
            guard f.count >= 3, (f.count - 1) % 2 == 0 else {
                throw ImageError(file: path, reason: "row \(i + 1) is not frame,x0,y0,...")
            }
            let v = f.dropFirst().map { Double($0) ?? .nan }
            if v.allSatisfy({ $0.isNaN }) { continue }
            out[f[0]] = Landmarks(points: stride(from: 0, to: v.count, by: 2).map { (v[$0], v[$0 + 1]) })
        }
        return out
    }

    /// NPY float32/float64 array of shape [frames, points, 2] (C order), frames in the natural
    /// order of the folder's images; NaN rows mean no face.
    public static func readNPY(_ path: String) throws -> [Landmarks?] {
        guard let d = FileManager.default.contents(atPath: path) else {
            throw ImageError(file: path, reason: "cannot read")
        }
        let b = [UInt8](d)
        guard b.count > 10, b[0] == 0x93, Array(b[1..<6]) == Array("NUMPY".utf8) else {
            throw ImageError(file: path, reason: "not an NPY file")
        }
        let major = b[6]
        guard (1...3).contains(major), major == 1 || b.count >= 12 else {
            throw ImageError(file: path, reason: "NPY version \(major) header is not readable")
        }
        let hlen =
            major == 1 ? Int(b[8]) | Int(b[9]) << 8 : Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24
        let start = major == 1 ? 10 : 12
        guard start + hlen <= b.count else { throw ImageError(file: path, reason: "truncated header") }
        let header = String(decoding: b[start..<start + hlen], as: UTF8.self)
        let isF4 = header.contains("'<f4'"), isF8 = header.contains("'<f8'")
        guard isF4 || isF8, header.contains("'fortran_order': False") else {
            throw ImageError(
                file: path, reason: "needs little-endian float32/float64 in C order, header \(header.trimmed)")
        }
        guard let open = header.firstIndex(of: "("), let close = header[open...].firstIndex(of: ")") else {
            throw ImageError(file: path, reason: "no shape")
        }
        let shape = header[header.index(after: open)..<close].split(separator: ",").compactMap {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        guard shape.count == 3, shape[2] == 2 else {
            throw ImageError(file: path, reason: "shape \(shape), expected [frames, points, 2]")
        }
        // sizes checked before any allocation: a hostile header cannot overflow or go negative
        guard (0...10_000_000).contains(shape[0]), (1...10_000).contains(shape[1]) else {
            throw ImageError(file: path, reason: "shape \(shape): frames must be 0 to 10000000, points 1 to 10000")
        }
        let size = isF4 ? 4 : 8, count = shape[0] * shape[1] * 2, dataStart = start + hlen
        guard b.count - dataStart >= count * size else { throw ImageError(file: path, reason: "truncated data") }
        var vals = [Double](repeating: 0, count: count)
        d.withUnsafeBytes { raw in
            for i in 0..<count {
                vals[i] =
                    isF4
                    ? Double(raw.loadUnaligned(fromByteOffset: dataStart + 4 * i, as: Float.self))
                    : raw.loadUnaligned(fromByteOffset: dataStart + 8 * i, as: Double.self)
            }
        }
        return (0..<shape[0]).map { f in
            let pts = (0..<shape[1]).map { p in (x: vals[(f * shape[1] + p) * 2], y: vals[(f * shape[1] + p) * 2 + 1]) }
            return pts.allSatisfy { $0.x.isNaN } ? nil : Landmarks(points: pts)
        }
    }
}

/// How a face box becomes a square crop.
public struct CropSettings: Sendable, Equatable {
    /// Margin added on every side, as a fraction of the box's larger side.
    public var margin = 0.1
    /// Output side in pixels.
    public var size = 224
    /// Outside the image: pad with black (true) or shift the box inside (false).
    public var pad = true
    public init() {}
}

public enum FaceCrop {
    /// The square crop box (x, y, side) around a box: margin, then squared on its centre,
    /// then (without padding) shifted to lie inside the image when it fits.
    public static func square(
        _ b: (x: Double, y: Double, w: Double, h: Double), imageWidth: Int, imageHeight: Int,
        settings: CropSettings
    ) -> (x: Int, y: Int, side: Int) {
        let side0 = max(b.w, b.h) * (1 + 2 * settings.margin)
        var side = max(1, Int(side0.rounded()))
        let cx = b.x + b.w / 2, cy = b.y + b.h / 2
        var x = Int((cx - Double(side) / 2).rounded()), y = Int((cy - Double(side) / 2).rounded())
        if !settings.pad {
            side = min(side, min(imageWidth, imageHeight))
            x = min(max(x, 0), imageWidth - side)
            y = min(max(y, 0), imageHeight - side)
        }
        return (x, y, side)
    }

    /// Cuts the square (x, y, side) out of `img` (black outside) and resizes it to size x size
    /// (area average when shrinking, bilinear when enlarging, as `Resize`).
    public static func crop(_ img: RGBImage, x: Int, y: Int, side: Int, size: Int) -> RGBImage {
        // taps along one axis, in source coordinates of the crop; outside the image = black
        func taps(_ origin: Int, _ limit: Int) -> (idx: [Int32], wt: [Float], start: [Int32]) {
            var idx: [Int32] = [], wt: [Float] = [], start: [Int32] = []
            for t in Resize.weights(from: side, to: size) {
                start.append(Int32(idx.count))
                for (i, w) in t {
                    let s = origin + i
                    if s >= 0 && s < limit { idx.append(Int32(s)); wt.append(w) }
                }
            }
            start.append(Int32(idx.count))
            return (idx, wt, start)
        }
        let tx = taps(x, img.width), ty = taps(y, img.height)
        // rows first (only the source rows some output row needs), then columns
        let r0 = Int(ty.idx.min() ?? 0), r1 = Int(ty.idx.max() ?? -1)
        let nrows = max(0, r1 - r0 + 1), rowLen = size * 3
        var rowBuf = [Float](repeating: 0, count: max(1, nrows * rowLen))
        var out = [UInt8](repeating: 0, count: size * size * 3)
        var acc = [Float](repeating: 0, count: rowLen)
        // unsafe buffers throughout: the hot loops run without bounds checks
        let txStart = tx.start.map(Int.init), txIdx = tx.idx.map { Int($0) * 3 }, tyStart = ty.start.map(Int.init)
        let tyRow = ty.idx.map { (Int($0) - r0) * rowLen }
        img.pixels.withUnsafeBufferPointer { P in
            rowBuf.withUnsafeMutableBufferPointer { R in
                txStart.withUnsafeBufferPointer { XS in
                    txIdx.withUnsafeBufferPointer { XI in
                        tx.wt.withUnsafeBufferPointer { XW in
                            for r in r0..<(r0 + nrows) {
                                let src = P.baseAddress! + r * img.width * 3, dst = R.baseAddress! + (r - r0) * rowLen
                                for ox in 0..<size {
                                    var a0: Float = 0, a1: Float = 0, a2: Float = 0
                                    for k in XS[ox]..<XS[ox + 1] {
                                        let s = src + XI[k], w = XW[k]
                                        a0 += Float(s[0]) * w; a1 += Float(s[1]) * w; a2 += Float(s[2]) * w
                                    }
                                    dst[ox * 3] = a0; dst[ox * 3 + 1] = a1; dst[ox * 3 + 2] = a2
                                }
                            }
                        }
                    }
                }
            }
        }
        out.withUnsafeMutableBufferPointer { O in
            acc.withUnsafeMutableBufferPointer { A in
                rowBuf.withUnsafeBufferPointer { R in
                    tyStart.withUnsafeBufferPointer { YS in
                        tyRow.withUnsafeBufferPointer { YR in
                            ty.wt.withUnsafeBufferPointer { YW in
                                let a = A.baseAddress!
                                for oy in 0..<size {
                                    for j in 0..<rowLen { a[j] = 0 }
                                    for k in YS[oy]..<YS[oy + 1] {
                                        let row = R.baseAddress! + YR[k], w = YW[k]
                                        for j in 0..<rowLen { a[j] += row[j] * w }
                                    }
                                    let o = O.baseAddress! + oy * rowLen
                                    for j in 0..<rowLen { o[j] = UInt8(clamping: Int(a[j] + 0.5)) }
                                }
                            }
                        }
                    }
                }
            }
        }
        return RGBImage(width: size, height: size, pixels: out)
    }
}
