import CCodecs
import Foundation

/// An 8-bit RGB image, rows top to bottom, pixels packed RGBRGB...
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3)
        (self.width, self.height, self.pixels) = (width, height, pixels)
    }
}

/// An image that could not be read; the message names the file and the reason.
public struct ImageError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let reason: String
    public init(file: String, reason: String) { (self.file, self.reason) = (file, reason) }
    public var description: String { "\(file): \(reason)" }
}

public enum ImageIO {
    /// Decoding refuses images with more pixels than this (a hostile header cannot make
    /// us allocate gigabytes): 64 megapixels.
    public static let maxPixels = 64 << 20

    /// Decodes a JPEG or PNG (by content, not by extension) to RGB8.
    public static func decode(_ data: Data, name: String = "<memory>") throws -> RGBImage {
        var pixels: UnsafeMutablePointer<UInt8>?
        var w: Int32 = 0, h: Int32 = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = data.withUnsafeBytes { raw -> Int32 in
            guard let base = raw.baseAddress else { return -1 }
            return cc_decode_rgb8(
                base.assumingMemoryBound(to: UInt8.self), raw.count, maxPixels, &pixels, &w, &h, &err, err.count)
        }
        if rc == -1 { throw ImageError(file: name, reason: "empty file") }
        guard rc == 0, let p = pixels else {
            throw ImageError(
                file: name,
                reason: String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        defer { cc_free(p) }
        return RGBImage(
            width: Int(w), height: Int(h), pixels: Array(UnsafeBufferPointer(start: p, count: Int(w) * Int(h) * 3)))
    }

    public static func read(_ path: String) throws -> RGBImage {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ImageError(file: path, reason: "cannot read: \(error.localizedDescription)")
        }
        return try decode(data, name: path)
    }

    public static func encodePNG(_ img: RGBImage) throws -> Data {
        var out: UnsafeMutablePointer<UInt8>?
        var len = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = img.pixels.withUnsafeBufferPointer {
            cc_encode_png_rgb8($0.baseAddress, Int32(img.width), Int32(img.height), &out, &len, &err, err.count)
        }
        guard rc == 0, let out else {
            throw ImageError(
                file: "<png>",
                reason: String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        defer { cc_free(out) }
        return Data(bytes: out, count: len)
    }

    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    /// Image files of a folder in natural order (frame_2 before frame_10), and how many
    /// other entries were skipped.
    public static func listFrames(_ dir: String) throws -> (frames: [String], skipped: Int) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw ImageError(file: dir, reason: "not a folder")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        let frames = names.filter {
            imageExtensions.contains(($0 as NSString).pathExtension.lowercased()) && !$0.hasPrefix(".")
        }
        return (frames.sorted(by: naturalLess), names.count - frames.count)
    }

    /// Natural order: digit runs compare as numbers.
    public static func naturalLess(_ a: String, _ b: String) -> Bool {
        func chunks(_ s: String) -> [(Bool, String)] {
            var out: [(Bool, String)] = []
            for ch in s {
                let d = ch.isASCII && ch.isNumber
                if let last = out.last, last.0 == d {
                    out[out.count - 1].1.append(ch)
                } else {
                    out.append((d, String(ch)))
                }
            }
            return out
        }
        let ca = chunks(a), cb = chunks(b)
        for (x, y) in zip(ca, cb) where x.1 != y.1 {
            if x.0 && y.0 {
                let xs = x.1.drop { $0 == "0" }, ys = y.1.drop { $0 == "0" }
                if xs.count != ys.count { return xs.count < ys.count }
                if xs != ys { return xs < ys }
                return x.1.count < y.1.count
            }
            return x.1 < y.1
        }
        return ca.count < cb.count
    }
}

/// Resampling to a new size in float (channels kept): area averaging when shrinking
/// (as OpenCV INTER_AREA), bilinear with half-pixel centres when enlarging.
public enum Resize {
    /// Resizes `src` (h x w x c, floats) to dh x dw.
    public static func resize(
        _ src: [Float], width w: Int, height h: Int, channels c: Int,
        toWidth dw: Int, toHeight dh: Int
    ) -> [Float] {
        let xs = weights(from: w, to: dw), ys = weights(from: h, to: dh)
        // separable: rows first, then columns
        var tmp = [Float](repeating: 0, count: h * dw * c)
        for y in 0..<h {
            for (ox, taps) in xs.enumerated() {
                for ch in 0..<c {
                    var acc: Float = 0
                    for (ix, wt) in taps { acc += src[(y * w + ix) * c + ch] * wt }
                    tmp[(y * dw + ox) * c + ch] = acc
                }
            }
        }
        var out = [Float](repeating: 0, count: dh * dw * c)
        for (oy, taps) in ys.enumerated() {
            for x in 0..<dw {
                for ch in 0..<c {
                    var acc: Float = 0
                    for (iy, wt) in taps { acc += tmp[(iy * dw + x) * c + ch] * wt }
                    out[(oy * dw + x) * c + ch] = acc
                }
            }
        }
        return out
    }

    /// Per output index: (input index, weight) taps along one axis.
    static func weights(from n: Int, to m: Int) -> [[(Int, Float)]] {
        if m == n { return (0..<n).map { [($0, Float(1))] } }
        let scale = Double(n) / Double(m)
        if m < n {
            // area: output i covers [i*scale, (i+1)*scale)
            return (0..<m).map { i in
                let a = Double(i) * scale, b = Double(i + 1) * scale
                var taps: [(Int, Float)] = []
                var j = Int(a.rounded(.down))
                while Double(j) < b && j < n {
                    let lo = max(a, Double(j)), hi = min(b, Double(j + 1))
                    if hi > lo { taps.append((j, Float((hi - lo) / scale))) }
                    j += 1
                }
                return taps
            }
        }
        return (0..<m).map { i in
            let x = (Double(i) + 0.5) * scale - 0.5
            let x0 = Int(x.rounded(.down)), f = Float(x - Double(x0))
            let a = min(max(x0, 0), n - 1), b = min(max(x0 + 1, 0), n - 1)
            return a == b ? [(a, Float(1))] : [(a, 1 - f), (b, f)]
        }
    }
}
