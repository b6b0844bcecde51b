import Faces
import Foundation
import Imaging
import TestSupport
import Testing

func write(_ s: String, _ url: URL) throws { try Data(s.utf8).write(to: url) }

@Suite struct LandmarkFileTests {
    @Test("iBUG .pts with and without the header")
    func pts() throws {
        let d = try scratch("pts")
        defer { try? FileManager.default.removeItem(at: d) }
        try write("version: 1\nn_points:  3\n{\n1.5 2.5\n3 4\n5 6\n}\n", d.appendingPathComponent("a.pts"))
        try write("10 20\n30 40\n", d.appendingPathComponent("b.pts"))
        try write("version: 1\nn_points: 4\n{\n1 2\n}\n", d.appendingPathComponent("c.pts"))
        #expect(try LandmarkFiles.readPTS(d.appendingPathComponent("a.pts").path).points.count == 3)
        let b = try LandmarkFiles.readPTS(d.appendingPathComponent("b.pts").path)
        #expect(b.bounds! == (10, 20, 20, 20))
        #expect(throws: ImageError.self) { try LandmarkFiles.readPTS(d.appendingPathComponent("c.pts").path) }
    }

    @Test("OpenFace CSV: columns by name, failed frames left out")
    func openFace() throws {
        let d = try scratch("of")
        defer { try? FileManager.default.removeItem(at: d) }
        let header = "frame, face_id, timestamp, confidence, success, x_0, x_1, y_0, y_1"
        try write(
            """
            \(header)\n1, 0, 0.0, 0.98, 1, 10, 20, 30, 40\n2, 0, 0.04, 0.1, 0, -nan, -nan, -nan, -nan\n3, 0, \
            0.08, 0.97, 1, 11, 21, 31, 41\n
            """,
            d.appendingPathComponent("of.csv"))
        let lm = try LandmarkFiles.readOpenFaceCSV(d.appendingPathComponent("of.csv").path)
        #expect(lm.keys.sorted() == [1, 3])
        #expect(lm[3]!.points.map(\.x) == [11, 21] && lm[3]!.points.map(\.y) == [31, 41])
    }

    @Test("plain CSV and NPY (the face-alignment layout)")
    func plainAndNPY() throws {
        let d = try scratch("plain")
        defer { try? FileManager.default.removeItem(at: d) }
        try write(
            "frame,x0,y0,x1,y1\nframe_00001.jpg,1,2,3,4\nframe_00002.jpg,nan,nan,nan,nan\n",
            d.appendingPathComponent("l.csv"))
        let p = try LandmarkFiles.readPlainCSV(d.appendingPathComponent("l.csv").path)
        #expect(p.keys.sorted() == ["frame_00001.jpg"])
        // NPY [2, 2, 2] float32, second frame NaN
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 2), }"
        while (10 + header.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var npy = Data([0x93]) + Data("NUMPY".utf8) + Data([1, 0, UInt8(header.count), 0]) + Data(header.utf8)
        for v: Float in [1, 2, 3, 4, .nan, .nan, .nan, .nan] { withUnsafeBytes(of: v) { npy.append(contentsOf: $0) } }
        try npy.write(to: d.appendingPathComponent("l.npy"))
        let n = try LandmarkFiles.readNPY(d.appendingPathComponent("l.npy").path)
        #expect(n.count == 2 && n[0]!.points.count == 2 && n[1] == nil)
        try Data([1, 2, 3]).write(to: d.appendingPathComponent("bad.npy"))
        #expect(throws: ImageError.self) { try LandmarkFiles.readNPY(d.appendingPathComponent("bad.npy").path) }
        // hostile headers: a negative, an overflowing and a huge shape, a short version-2 header
        for shape in ["(-2, 2, 2)", "(4611686018427387904, 4, 2)", "(100000000, 68, 2)"] {
            let h = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }\n"
            let bad = Data([0x93]) + Data("NUMPY".utf8) + Data([1, 0, UInt8(h.count), 0]) + Data(h.utf8)
            try bad.write(to: d.appendingPathComponent("shape.npy"))
            #expect(throws: ImageError.self) { try LandmarkFiles.readNPY(d.appendingPathComponent("shape.npy").path) }
        }
        try (Data([0x93]) + Data("NUMPY".utf8) + Data([2, 0, 9, 0, 0])).write(to: d.appendingPathComponent("v2.npy"))
        #expect(throws: ImageError.self) { try LandmarkFiles.readNPY(d.appendingPathComponent("v2.npy").path) }
    }
}

@Suite struct CropGeometryTests {
    @Test("landmarks far outside the image are refused with a reason, never sized into a crop")
    func farLandmarks() throws {
        let d = try scratch("far")
        defer { try? FileManager.default.removeItem(at: d) }
        for n in ["a.png", "b.png", "c.png"] {
            try ImageIO.encodePNG(RGBImage(width: 32, height: 24, pixels: [UInt8](repeating: 90, count: 32 * 24 * 3)))
                .write(to: d.appendingPathComponent(n))
        }
        var o = CropOptions()
        (o.order, o.policy) = ([.landmarks], .skip)
        let lm = VideoLandmarks(byName: [
            "a.png": Landmarks(points: [(1e10, 1e10), (1e10 + 5, 1e10 + 5)]),
            "b.png": Landmarks(points: [(-1e20, 0), (1e20, 10)]),
            "c.png": Landmarks(points: [(4, 4), (20, 18)]),
        ])
        let recs = try VideoCropper(options: o).run(folder: d.path, landmarks: lm) { _, _, _ in }
        #expect(recs.map(\.source) == [.none, .none, .landmarks])
        #expect(recs[0].reason?.contains("landmarks outside the image") == true)
        #expect(recs[1].reason?.contains("landmarks outside the image") == true)
    }

    @Test("margin, squaring, padding or shifting inside")
    func square() {
        var s = CropSettings()
        s.margin = 0.25
        let b = (x: 100.0, y: 50.0, w: 40.0, h: 80.0)
        let sq = FaceCrop.square(b, imageWidth: 400, imageHeight: 300, settings: s)
        #expect(sq.side == 120 && sq.x == 60 && sq.y == 30)
        let edge = (x: 0.0, y: 0.0, w: 40.0, h: 40.0)
        let padded = FaceCrop.square(edge, imageWidth: 400, imageHeight: 300, settings: s)
        #expect(padded.x == -10 && padded.y == -10)
        s.pad = false
        let shifted = FaceCrop.square(edge, imageWidth: 400, imageHeight: 300, settings: s)
        #expect(shifted.x == 0 && shifted.y == 0 && shifted.side == 60)
    }

    @Test("a crop outside the image is black there; inside it copies the pixels")
    func crop() {
        var px = [UInt8](repeating: 0, count: 4 * 4 * 3)
        for i in px.indices { px[i] = 200 }
        let img = RGBImage(width: 4, height: 4, pixels: px)
        let c = FaceCrop.crop(img, x: -2, y: 0, side: 4, size: 4)
        #expect(c.pixels[0] == 0 && c.pixels[3 * 3] == 200)
    }
}

@Suite struct VideoCropTests {
    @Test(
        "a video with a black frame and a broken frame: tracked faces, the policy, the CSV",
        .enabled(if: shared != nil, "needs ../shared/data (not in a user's clone)"))
    func policy() throws {
        let src = shared!.appendingPathComponent("data/video_frame_sequences/cap12_t010s")
        let d = try scratch("video")
        defer { try? FileManager.default.removeItem(at: d) }
        for i in 1...6 {
            let n = String(format: "frame_%05d.jpg", i)
            try FileManager.default.copyItem(at: src.appendingPathComponent(n), to: d.appendingPathComponent(n))
        }
        // frame 7: black (no face); frame 8: truncated; frame 9: a face again
        try ImageIO.encodePNG(RGBImage(width: 400, height: 300, pixels: [UInt8](repeating: 0, count: 400 * 300 * 3)))
            .write(to: d.appendingPathComponent("frame_00007.png"))
        let j = try Data(contentsOf: src.appendingPathComponent("frame_00008.jpg"))
        try j.prefix(200).write(to: d.appendingPathComponent("frame_00008.jpg"))
        try FileManager.default.copyItem(
            at: src.appendingPathComponent("frame_00009.jpg"), to: d.appendingPathComponent("frame_00009.jpg"))
        var opts = CropOptions()
        opts.order = [.haar]
        let cropper = try VideoCropper(options: opts, cascadePath: cascadePath())
        var crops = 0
        let recs = try cropper.run(folder: d.path) { _, _, img in
            if let img { crops += 1; #expect(img.width == 224 && img.height == 224) }
        }
        // the black frame is a scene cut: after it the face is searched in the whole frame again
        #expect(
            recs.map(\.source) == [
                .haar, .tracked, .tracked, .tracked, .tracked, .tracked, .previous, .unreadable, .haar,
            ])
        #expect(crops == 8)
        #expect(abs(VideoCropper.coverage(recs) - 7.0 / 9.0) < 1e-9)
        var skip = opts
        skip.policy = .skip
        let recs2 = try VideoCropper(options: skip, cascadePath: cascadePath()).run(folder: d.path) { _, _, _ in }
        #expect(recs2[6].source == .none && recs2[6].box == nil)
        let csv = VideoCropper.csv(recs)
        #expect(
            csv.hasPrefix(
                "frame,timestamp,frame_file,source,confidence,x,y,w,h,faces,face_id,detector_score,reason\n"
                    + "0,0.0000,frame_00001.jpg,haar,0."))
        #expect(csv.contains("\n7,0.2333,frame_00008.jpg,unreadable,,,,,,,,,JPEG"))
        // one confidence scale: Haar's neighbour counts map into (0, 1); a reused box has none
        #expect(
            recs.filter { [.haar, .tracked].contains($0.source) }.allSatisfy {
                $0.confidence! > 0 && $0.confidence! < 1
            })
        #expect(recs[6].confidence == nil && recs[6].score == nil)
        #expect(VideoCropper.landmarkCSV(recs) == nil)
    }

    @Test(
        "a cut between two clips is a fresh detection; a folder of unrelated photos gives what each photo alone gives",
        .enabled(if: shared != nil, "needs ../shared/data (not in a user's clone)"))
    func cutsAndStills() throws {
        let data = shared!.appendingPathComponent("data")
        let d = try scratch("cut")
        defer { try? FileManager.default.removeItem(at: d) }
        let clips = ["cap12_t010s", "wolfganglanger_t000s"]
        for (c, clip) in clips.enumerated() {
            for i in 1...5 {
                try FileManager.default.copyItem(
                    at: data.appendingPathComponent("video_frame_sequences/\(clip)/frame_0000\(i).jpg"),
                    to: d.appendingPathComponent(String(format: "frame_%05d.jpg", c * 5 + i)))
            }
        }
        var o = CropOptions()
        o.order = [.haar]
        let recs = try VideoCropper(options: o, cascadePath: cascadePath()).run(folder: d.path) { _, _, _ in }
        #expect(
            recs.map(\.source) == [
                .haar, .tracked, .tracked, .tracked, .tracked, .haar, .tracked, .tracked, .tracked, .tracked,
            ])
        // photographs: the folder read as a video, as stills, and each photo alone give the same boxes
        // the first 12 AFW photographs (large ones: detection takes seconds each), in a folder
        let afw = data.appendingPathComponent("300w_subset/afw/afw")
        let photos = d.appendingPathComponent("photos").path
        try FileManager.default.createDirectory(atPath: photos, withIntermediateDirectories: true)
        for n in try ImageIO.listFrames(afw.path).frames.prefix(12) {
            try FileManager.default.createSymbolicLink(
                atPath: (photos as NSString).appendingPathComponent(n),
                withDestinationPath: afw.appendingPathComponent(n).path)
        }
        let names = try ImageIO.listFrames(photos).frames
        let detector = HaarDetector(cascade: try HaarCascade(contentsOf: cascadePath()))
        o.policy = .skip
        let video = try VideoCropper(options: o, cascadePath: cascadePath()).run(folder: photos) { _, _, _ in }
        o.stills = true
        let stills = try VideoCropper(options: o, cascadePath: cascadePath()).run(folder: photos) { _, _, _ in }
        #expect(video.count == names.count && stills.count == names.count)
        var previous: Data?
        for (i, n) in names.enumerated() {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: (photos as NSString).appendingPathComponent(n)))
            defer { previous = bytes }
            let alone = detector.detect(GrayImage(try ImageIO.decode(bytes))).first
            let want = alone.map { [Double($0.x), Double($0.y), Double($0.w), Double($0.h)] }
            #expect(stills[i].box.map { [$0.x, $0.y, $0.w, $0.h] } == want, "\(n)")
            // AFW repeats a photo once per labelled face (NAME_1, NAME_2): the same picture again
            // is no cut, and the video reading tracks the face in it
            if bytes == previous { continue }
            #expect(video[i].box.map { [$0.x, $0.y, $0.w, $0.h] } == want, "\(n): \(video[i].source)")
            #expect(video[i].source != .tracked)
        }
    }

    @Test(
        "landmark crops follow the hand-labelled points of the 300-W photographs",
        .enabled(if: shared != nil, "needs ../shared/data (not in a user's clone)"))
    func landmarkCrops() throws {
        let afw = shared!.appendingPathComponent("data/300w_subset/afw/afw")
        let d = try scratch("afw")
        defer { try? FileManager.default.removeItem(at: d) }
        let name = "1130084326_1"
        try FileManager.default.copyItem(
            at: afw.appendingPathComponent("\(name).jpg"), to: d.appendingPathComponent("\(name).jpg"))
        var opts = CropOptions()
        opts.order = [.landmarks]
        let lm = try VideoLandmarks(path: afw.path, frames: ["\(name).jpg"])
        let recs = try VideoCropper(options: opts).run(folder: d.path, landmarks: lm) { _, _, img in #expect(img != nil)
        }
        let truth = try LandmarkFiles.readPTS(afw.appendingPathComponent("\(name).pts").path).bounds!
        #expect(recs[0].source == .landmarks)
        #expect(recs[0].box! == truth)
        #expect(recs[0].landmarks?.points.count == 68)
        // OpenFace's layout: x_0..x_67 then y_0..y_67
        let lines = try #require(VideoCropper.landmarkCSV(recs)).split(separator: "\n")
        #expect(lines.count == 2 && lines[0].hasPrefix("frame,timestamp,frame_file,face_id,source,points,x_0,x_1,"))
        #expect(lines[0].hasSuffix(",x_67,y_0") == false && lines[0].hasSuffix(",y_66,y_67"))
        let cells = lines[1].split(separator: ",", omittingEmptySubsequences: false)
        #expect(cells.count == 6 + 136 && cells[4] == "landmarks" && cells[5] == "68")
        #expect(abs(Double(cells[6])! - recs[0].landmarks!.points[0].x) < 0.005)
    }
}
