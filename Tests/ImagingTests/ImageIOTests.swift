import Foundation
import Imaging
import Testing

@Suite struct ImageIOTests {
    @Test("natural frame order")
    func natural() {
        let names = ["frame_10.jpg", "frame_2.jpg", "frame_1.png", "frame_02.jpg", "a.png"]
        #expect(
            names.sorted(by: ImageIO.naturalLess) == [
                "a.png", "frame_1.png", "frame_2.jpg", "frame_02.jpg", "frame_10.jpg",
            ])
    }

    @Test("PNG round trip is lossless; garbage and huge headers are refused")
    func codecs() throws {
        var px = [UInt8](repeating: 0, count: 5 * 3 * 3)
        for i in px.indices { px[i] = UInt8(i * 7 % 256) }
        let img = RGBImage(width: 5, height: 3, pixels: px)
        #expect(try ImageIO.decode(try ImageIO.encodePNG(img)) == img)
        #expect(throws: ImageError.self) { try ImageIO.decode(Data("GIF89a".utf8)) }
        // a PNG header claiming 100000 x 100000 pixels
        var png = try ImageIO.encodePNG(img)
        png.replaceSubrange(16..<24, with: [0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0])
        #expect(throws: ImageError.self) { try ImageIO.decode(png) }
    }

    @Test("area resize averages; bilinear enlarges with half-pixel centres")
    func resize() {
        let src: [Float] = [0, 10, 20, 30]  // 4 x 1, one channel
        #expect(Resize.resize(src, width: 4, height: 1, channels: 1, toWidth: 2, toHeight: 1) == [5, 25])
        let up = Resize.resize([0, 10], width: 2, height: 1, channels: 1, toWidth: 4, toHeight: 1)
        #expect(up == [0, 2.5, 7.5, 10])
    }
}
