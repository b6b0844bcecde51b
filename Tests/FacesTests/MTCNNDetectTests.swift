import Faces
import Foundation
import Imaging
import Kernels
import TestSupport
import Testing

@Suite struct MTCNNDetectionTests {
    @Test(
        "MTCNN finds the faces facenet-pytorch finds: boxes within 1 pixel, probabilities within 1e-4",
        .enabled(if: shared != nil, "needs ../shared/data (not in a user's clone)"))
    func matchesFacenet() throws {
        let url = repositoryRoot().appendingPathComponent("Tests/Fixtures/mtcnn_detections.json")
        let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let dets = doc["detections"] as! [String: [[String: Any]]]
        let mtcnn = try MTCNN(context: try ComputeContext(threads: 2))
        var worstBox = 0.0, worstProb = 0.0, worstMark = 0.0
        for (rel, faces) in dets.sorted(by: { $0.key < $1.key }) {
            let ours = try mtcnn.detect(try ImageIO.read(shared!.appendingPathComponent(rel).path))
            #expect(ours.count == faces.count, "\(rel): \(ours.count) faces, facenet-pytorch \(faces.count)")
            for f in faces {
                let b = f["box"] as! [Double], p = f["probability"] as! Double, l = f["landmarks"] as! [[Double]]
                guard
                    let m = ours.min(by: {
                        abs($0.box.x1 - b[0]) + abs($0.box.y1 - b[1]) < abs($1.box.x1 - b[0]) + abs($1.box.y1 - b[1])
                    })
                else { continue }
                let d = [abs(m.box.x1 - b[0]), abs(m.box.y1 - b[1]), abs(m.box.x2 - b[2]), abs(m.box.y2 - b[3])].max()!
                worstBox = max(worstBox, d)
                worstProb = max(worstProb, abs(m.probability - p))
                for (k, pt) in l.enumerated() {
                    worstMark = max(worstMark, abs(m.landmarks[k].x - pt[0]), abs(m.landmarks[k].y - pt[1]))
                }
            }
        }
        print(
            """
            MTCNN vs facenet-pytorch: worst box difference \(worstBox) px, probability \(worstProb), landmark \
            \(worstMark) px
            """
        )
        #expect(worstBox <= 1.0)
        #expect(worstProb <= 1e-4)
    }
}

@Suite struct MTCNNCropTests {
    @Test(
        "MTCNN as the face source of a video: 5 landmarks per frame in the records",
        .enabled(if: shared != nil, "needs ../shared/data (not in a user's clone)"))
    func mtcnnSource() throws {
        let src = shared!.appendingPathComponent("data/video_frame_sequences/cap13_t005s")
        let d = try scratch("mtcnn")
        defer { try? FileManager.default.removeItem(at: d) }
        for i in 1...3 {
            let n = String(format: "frame_%05d.jpg", i)
            try FileManager.default.copyItem(at: src.appendingPathComponent(n), to: d.appendingPathComponent(n))
        }
        var opts = CropOptions()
        opts.order = [.mtcnn, .haar]
        let recs = try VideoCropper(options: opts, cascadePath: cascadePath()).run(folder: d.path) { _, _, img in
            #expect(img != nil)
        }
        #expect(recs.map(\.source) == [.mtcnn, .mtcnn, .mtcnn])
        #expect(recs.allSatisfy { $0.landmarks?.points.count == 5 && ($0.score ?? 0) > 0.9 })
    }
}
