import Imaging

/// Heat maps drawn over face crops.
public enum Heatmap {
    /// Viridis (perceptually uniform, readable in grey and by most colour-blind readers) at
    /// t in [0, 1]: the degree-6 polynomial fit of matplotlib's table (max error ~0.01).
    public static func viridis(_ t: Float) -> (UInt8, UInt8, UInt8) {
        let x = min(max(t.isNaN ? 0 : t, 0), 1)
        let c: [(Float, Float, Float)] = [
            (0.2777273272, 0.0054073445, 0.3340998053), (0.1050930431, 1.4046135299, 1.3845901626),
            (-0.3308618287, 0.2148475595, 0.0950951630), (-4.6342304990, -5.7991009734, -19.3324409563),
            (6.2282699363, 14.1799333668, 56.6905526007), (4.7763849977, -13.7451453777, -65.3530326334),
            (-5.4354558559, 4.6458526122, 26.3124352496),
        ]
        var r: Float = 0, g: Float = 0, b: Float = 0
        for k in c.reversed() { (r, g, b) = (r * x + k.0, g * x + k.1, b * x + k.2) }
        func byte(_ v: Float) -> UInt8 { UInt8(min(max(v, 0), 1) * 255 + 0.5) }
        return (byte(r), byte(g), byte(b))
    }

    /// `map` [height, width] in [0, 1] coloured and blended half and half over `image`
    /// (resized to the map's size when they differ).
    public static func overlay(_ map: UnsafePointer<Float>, width: Int, height: Int, on image: RGBImage) -> RGBImage {
        let base = image.width == width && image.height == height ? image : resized(image, width: width, height: height)
        var px = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            let (r, g, b) = viridis(map[i])
            px[3 * i] = UInt8((UInt16(r) + UInt16(base.pixels[3 * i]) + 1) / 2)
            px[3 * i + 1] = UInt8((UInt16(g) + UInt16(base.pixels[3 * i + 1]) + 1) / 2)
            px[3 * i + 2] = UInt8((UInt16(b) + UInt16(base.pixels[3 * i + 2]) + 1) / 2)
        }
        return RGBImage(width: width, height: height, pixels: px)
    }

    /// The map alone in colour.
    public static func colour(_ map: UnsafePointer<Float>, width: Int, height: Int) -> RGBImage {
        var px = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { (px[3 * i], px[3 * i + 1], px[3 * i + 2]) = viridis(map[i]) }
        return RGBImage(width: width, height: height, pixels: px)
    }

    public static func resized(_ img: RGBImage, width: Int, height: Int) -> RGBImage {
        let f = Resize.resize(
            img.pixels.map(Float.init), width: img.width, height: img.height, channels: 3, toWidth: width,
            toHeight: height)
        return RGBImage(width: width, height: height, pixels: f.map { UInt8(min(max($0.rounded(), 0), 255)) })
    }

    /// The pixel-wise mean of images of one size.
    public static func mean(_ images: [RGBImage]) -> RGBImage? {
        guard let first = images.first, images.allSatisfy({ $0.width == first.width && $0.height == first.height })
        else { return nil }
        var acc = [Int](repeating: 0, count: first.pixels.count)
        for im in images { for i in acc.indices { acc[i] += Int(im.pixels[i]) } }
        let n = images.count
        return RGBImage(width: first.width, height: first.height, pixels: acc.map { UInt8(($0 + n / 2) / n) })
    }
}
