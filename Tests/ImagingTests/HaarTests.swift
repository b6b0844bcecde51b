import Foundation
import Imaging
import TestSupport
import Testing

@Suite struct HaarCascadeTests {
    @Test("the shipped cascade parses: 25 stages, 2913 weak stumps, 24x24 window")
    func parse() throws {
        let c = try HaarCascade(contentsOf: cascadePath())
        #expect(c.stages.count == 25 && c.width == 24 && c.height == 24)
        #expect(c.stages.reduce(0) { $0 + $1.trees.count } == 2913)
    }

    @Test("malformed cascade files are refused with the reason")
    func malformed() {
        func err(_ s: String) -> String {
            do { _ = try HaarCascade(xml: Data(s.utf8), name: "c.xml"); return "" } catch { return "\(error)" }
        }
        #expect(err("<opencv_storage><cascade><stageType>BOOST</stageType>").contains("unclosed"))
        #expect(err("<opencv_storage></opencv_storage>").contains("no <cascade> element"))
        #expect(err("<a><cascade><featureType>LBP</featureType></cascade></a>").contains("not HAAR"))
    }

    @Test("OpenCV-style grouping merges neighbours and drops lonely hits")
    func grouping() {
        let hits = [
            FaceBox(x: 10, y: 10, w: 40, h: 40), FaceBox(x: 12, y: 11, w: 40, h: 40),
            FaceBox(x: 11, y: 9, w: 42, h: 42),
            FaceBox(x: 9, y: 10, w: 40, h: 40), FaceBox(x: 200, y: 200, w: 30, h: 30),
        ]
        let g = HaarDetector.group(hits, threshold: 3, eps: 0.2)
        #expect(g == [FaceBox(x: 10, y: 10, w: 40, h: 40, neighbors: 4)])
    }

    @Test(
        "detections equal OpenCV's (IoU >= 0.9) on at least 95% of its faces",
        .enabled(if: shared != nil, "needs ../shared/data (not in a user's clone)"))
    func matchesOpenCV() throws {
        let fixture =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: fixturePath("opencv_haar_detections.json"))))
            as! [String: Any]
        let dets = fixture["detections"] as! [String: [[Int]]]
        let detector = HaarDetector(cascade: try HaarCascade(contentsOf: cascadePath()))
        detector.minNeighbors = 3
        detector.minSize = 30
        var matched = 0, total = 0, extra = 0
        var misses: [String] = []
        for (rel, boxes) in dets.sorted(by: { $0.key < $1.key }) {
            let img = GrayImage(try ImageIO.read(shared!.appendingPathComponent(rel).path))
            let ours = detector.detect(img)
            for b in boxes {
                total += 1
                let ob = FaceBox(x: b[0], y: b[1], w: b[2], h: b[3])
                if ours.contains(where: { $0.iou(ob) >= 0.9 }) { matched += 1 } else { misses.append("\(rel) \(b)") }
            }
            extra +=
                ours.filter { o in !boxes.contains { FaceBox(x: $0[0], y: $0[1], w: $0[2], h: $0[3]).iou(o) >= 0.9 } }
                .count
        }
        let share = Double(matched) / Double(total)
        print("haar vs OpenCV: \(matched)/\(total) = \(share), \(extra) extra boxes; first misses: \(misses.prefix(5))")
        #expect(share >= 0.95, "only \(matched) of \(total) OpenCV faces matched; misses: \(misses.prefix(10))")
    }
}
