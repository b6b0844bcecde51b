import Foundation
import Imaging
import TestSupport
import Testing

@Suite struct ResizeTests {
    @Test(
        "area shrinking and bilinear enlarging equal OpenCV within 1 level per channel",
        arguments: [("area_64", 64), ("area_100", 100), ("linear_301", 301)])
    func matchesOpenCV(_ c: (String, Int)) throws {
        let src = try ImageIO.read(
            repositoryRoot().appendingPathComponent("samples/faces/cap12_t010s/frame_00001.png").path)
        let ref = try Data(contentsOf: repositoryRoot().appendingPathComponent("Tests/Fixtures/resize/\(c.0).rgb"))
        let out = Resize.resize(
            src.pixels.map { Float($0) }, width: src.width, height: src.height, channels: 3,
            toWidth: c.1, toHeight: c.1)
        #expect(out.count == ref.count)
        var maxDiff = 0, sum = 0
        for (a, b) in zip(out, ref) {
            let d = abs(Int(a.rounded()) - Int(b))
            maxDiff = max(maxDiff, d)
            sum += d
        }
        #expect(maxDiff <= 1, "\(c.0): max difference \(maxDiff), mean \(Double(sum) / Double(ref.count))")
        // the crop path (FaceCrop) uses the same taps
        let crop = FaceCrop.crop(src, x: 0, y: 0, side: src.width, size: c.1)
        var cropDiff = 0
        for (a, b) in zip(crop.pixels, ref) { cropDiff = max(cropDiff, abs(Int(a) - Int(b))) }
        #expect(cropDiff <= 1, "\(c.0) via FaceCrop: max difference \(cropDiff)")
    }
}
