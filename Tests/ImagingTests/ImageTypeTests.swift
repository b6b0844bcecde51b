import Foundation
import Imaging
import TestSupport
import Testing

func imageFixture(_ name: String) -> String {
    repositoryRoot().appendingPathComponent("Tests/Fixtures/images/\(name)").path
}

@Suite struct ImageTypeTests {
    /// (file, largest allowed per-channel difference from Pillow's decoding)
    static let cases: [(String, Int)] = [
        ("rgb_baseline.jpg", 0), ("rgb_progressive.jpg", 0), ("gray_baseline.jpg", 0), ("cmyk.jpg", 1),
        ("rgb8.png", 0), ("gray8.png", 0), ("gray16.png", 0), ("rgb16.png", 0), ("palette.png", 0),
        ("gray_alpha.png", 2), ("rgba8.png", 2),
    ]

    @Test("every JPEG and PNG type decodes to Pillow's RGB", arguments: cases)
    func decodes(_ c: (String, Int)) throws {
        let img = try ImageIO.read(imageFixture(c.0))
        let ref = try Data(contentsOf: URL(fileURLWithPath: imageFixture(c.0 + ".rgb")))
        #expect(img.width == 37 && img.height == 23)
        #expect(ref.count == img.pixels.count)
        var maxDiff = 0
        for (a, b) in zip(img.pixels, ref) { maxDiff = max(maxDiff, abs(Int(a) - Int(b))) }
        #expect(maxDiff <= c.1, "\(c.0): max difference \(maxDiff)")
    }

    @Test("truncated, empty, mislabelled and huge images give a reason, never a crash")
    func badImages() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pf-img-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let jpg = try Data(contentsOf: URL(fileURLWithPath: imageFixture("rgb_baseline.jpg")))
        func reason(_ data: Data, _ name: String) -> String {
            let p = dir.appendingPathComponent(name).path
            _ = FileManager.default.createFile(atPath: p, contents: data)
            do { _ = try ImageIO.read(p); return "" } catch { return "\(error)" }
        }
        #expect(reason(jpg.prefix(jpg.count / 2), "half.jpg").contains("half.jpg: JPEG"))
        // cut short but still ending with an end-of-image marker: libjpeg would fill the rest grey
        #expect(reason(jpg.prefix(jpg.count / 2) + Data([0xFF, 0xD9]), "half_eoi.jpg").contains("half_eoi.jpg: JPEG"))
        // a byte of the entropy-coded data changed to a marker: corrupt data, not a picture
        var corrupt = jpg
        corrupt[jpg.count * 2 / 3] = 0xFF
        corrupt[jpg.count * 2 / 3 + 1] = 0xD0
        #expect(reason(corrupt, "corrupt.jpg").contains("corrupt.jpg: JPEG"))
        // a PNG with a damaged image chunk (its CRC no longer matches)
        let png = try ImageIO.encodePNG(RGBImage(width: 16, height: 16, pixels: [UInt8](repeating: 100, count: 768)))
        var badPNG = png
        if let idat = (0..<(png.count - 4)).first(where: { png[$0..<($0 + 4)].elementsEqual(Array("IDAT".utf8)) }) {
            badPNG[idat + 6] ^= 0x55
        }
        #expect(reason(badPNG, "bad.png").contains("bad.png: PNG"))
        #expect(reason(Data(), "empty.jpg").contains("empty file"))
        #expect(reason(Data("not an image".utf8), "text.png").contains("not a JPEG or PNG"))
        // a JPEG named .png is read by content
        #expect(reason(jpg, "really_jpeg.png") == "")
        // a header claiming 60000 x 60000 pixels is refused before allocation
        var huge = jpg
        if let sof = (0..<(huge.count - 9)).first(where: {
            huge[$0] == 0xFF && (huge[$0 + 1] == 0xC0 || huge[$0 + 1] == 0xC2)
        }) {
            huge[sof + 5] = 0xEA; huge[sof + 6] = 0x60; huge[sof + 7] = 0xEA; huge[sof + 8] = 0x60
        }
        #expect(reason(huge, "huge.jpg").contains("more than the limit"))
    }

    @Test("a folder without images, and one that does not exist")
    func folders() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pf-noimg-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = FileManager.default.createFile(
            atPath: dir.appendingPathComponent("notes.txt").path, contents: Data("x".utf8))
        let (frames, other) = try ImageIO.listFrames(dir.path)
        #expect(frames.isEmpty && other == 1)
        #expect(throws: ImageError.self) { try ImageIO.listFrames(dir.appendingPathComponent("missing").path) }
    }
}
