import Faces
import Features
import Foundation
import Imaging
import Kernels
import NN
import TestSupport
import Testing
import Video
import Weights

/// ffmpeg on PATH (the test command installs it; a user's machine may not have it).
let ffmpegPath: String? = ["/usr/bin/ffmpeg", "/usr/local/bin/ffmpeg"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}

/// Runs ffmpeg with `args`; throws with its stderr when it fails.
func ffmpeg(_ args: [String]) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: ffmpegPath!)
    p.arguments = ["-v", "error", "-nostdin", "-y"] + args
    let err = Pipe()
    p.standardError = err
    try p.run()
    let msg = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    if p.terminationStatus != 0 { throw ImageError(file: "ffmpeg", reason: msg) }
}

/// The 40 frames of samples/frames/cap12_a as PNGs (lossless, so a lossless video of them
/// decodes to the same pixels) in a scratch folder, and their images.
func pngFrames(_ dir: URL) throws -> [RGBImage] {
    let src = repositoryRoot().appendingPathComponent("samples/frames/cap12_a")
    let names = try ImageIO.listFrames(src.path).frames
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return try names.enumerated().map { i, n in
        let img = try ImageIO.read(src.appendingPathComponent(n).path)
        try ImageIO.encodePNG(img).write(to: dir.appendingPathComponent(String(format: "frame_%06d.png", i + 1)))
        return img
    }
}

@Suite(.serialized, .enabled(if: ffmpegPath != nil, "needs ffmpeg on PATH (Debian: apt install ffmpeg)"))
struct VideoFileTests {
    @Test("a lossless video of real frames decodes to their pixels: the same crops and bit-identical features")
    func losslessRoundTrip() throws {
        let d = try scratch("video-lossless")
        defer { try? FileManager.default.removeItem(at: d) }
        let frames = d.appendingPathComponent("cap12")
        let images = try pngFrames(frames)
        let video = d.appendingPathComponent("cap12.mkv").path
        try ffmpeg([
            "-framerate", "30", "-i", frames.path + "/frame_%06d.png", "-c:v", "ffv1", "-pix_fmt", "bgr0", video,
        ])
        let info = try VideoProbe.info(video)
        #expect(info.times.count == 40 && abs(info.nativeFPS - 30) < 1e-9 && info.codec == "ffv1")
        #expect(try VideoFiles.listFrames(video, fps: 30).frames == VideoFiles.frameNames(count: 40))
        #expect(VideoFiles.videoID(video) == "cap12")
        let reader = try VideoReader(path: video, fps: 30)
        for k in 0..<40 { #expect(try reader.frame(k) == images[k], "frame \(k)") }

        // the whole pipeline on the folder and on the video: the same records and features
        let ctx = try ComputeContext(threads: 2)
        func entry(_ input: String, _ dir: String) throws -> CacheEntry {
            let fc = try FeatureCache(
                dir: d.appendingPathComponent(dir).path,
                extractor: try FeatureExtractor(model: ModelStore.defaultModel, context: ctx),
                cropper: try VideoCropper(options: CropOptions(), cascadePath: cascadePath()))
            return try #require(try fc.extract(videoID: "cap12", folder: input).1)
        }
        let a = try entry(frames.path, "from-folder"), b = try entry(video, "from-video")
        #expect(a.sources == b.sources && a.positions == b.positions && a.frames.count == b.frames.count)
        #expect(a.boxes.map { $0 ?? [] } == b.boxes.map { $0 ?? [] })
        #expect(bitEqual(a.features, b.features))
        // a second run finds the video's entry up to date (keyed by the file, not by decoding)
        let fc = try FeatureCache(
            dir: d.appendingPathComponent("from-video").path,
            extractor: try FeatureExtractor(model: ModelStore.defaultModel, context: ctx),
            cropper: try VideoCropper(options: CropOptions(), cascadePath: cascadePath()))
        #expect(try fc.extract(videoID: "cap12", folder: video).0 == .skipped)
        // an entry of the first 20 frames is not reused for all 40 (the key counts the frames)
        let part = try FeatureCache(
            dir: d.appendingPathComponent("part").path, extractor: fc.extractor,
            cropper: try VideoCropper(options: CropOptions(), cascadePath: cascadePath()))
        #expect(try part.extract(videoID: "cap12", folder: video, needed: { _ in 20 }).1?.frames.count == 20)
        let (again, whole) = try part.extract(videoID: "cap12", folder: video)
        #expect(again == .extracted && whole?.frames.count == 40)
        // another rate is another content
        var o = CropOptions()
        o.fps = 15
        let fc15 = try FeatureCache(
            dir: d.appendingPathComponent("from-video").path, extractor: fc.extractor,
            cropper: try VideoCropper(options: o, cascadePath: cascadePath()))
        let (outcome, e15) = try fc15.extract(videoID: "cap12", folder: video)
        #expect(outcome == .extracted && e15?.totalFrames == 20 && e15?.fps == 15)
    }

    @Test("a 23.976 fps video resampled to 30 fps: the frame count, the source of each frame, its pixels")
    func resampling() throws {
        let d = try scratch("video-ntsc")
        defer { try? FileManager.default.removeItem(at: d) }
        let frames = d.appendingPathComponent("png")
        let images = try pngFrames(frames)
        let video = d.appendingPathComponent("ntsc.mkv").path
        try ffmpeg([
            "-framerate", "24000/1001", "-i", frames.path + "/frame_%06d.png", "-c:v", "ffv1", "-pix_fmt", "bgr0",
            video,
        ])
        let info = try VideoProbe.info(video)
        #expect(abs(info.nativeFPS - 24000.0 / 1001) < 1e-9 && info.times.count == 40)
        // 40 frames of 1001/24000 s last 1.668 s: output frames at k / 30 for k = 0...50
        #expect(info.frameCount(fps: 30) == 51)
        let period = 1001.0 / 24000
        for k in 0..<51 {
            // the nearest source frame in time (Matroska keeps milliseconds: ties cannot occur here)
            let expected = min(39, Int((Double(k) / 30 / period).rounded()))
            #expect(info.sourceFrame(k, fps: 30) == expected, "output frame \(k)")
        }
        let reader = try VideoReader(path: video, fps: 30)
        #expect(reader.names.count == 51)
        for k in [0, 1, 4, 5, 25, 49, 50] {
            #expect(try reader.frame(k) == images[info.sourceFrame(k, fps: 30)], "output frame \(k)")
        }
        #expect(throws: ImageError.self) { _ = try reader.frame(51) }
    }

    @Test("a truncated video keeps the frames decoded before the cut; an unreadable one is one clear error")
    func truncated() throws {
        let d = try scratch("video-cut")
        defer { try? FileManager.default.removeItem(at: d) }
        let frames = d.appendingPathComponent("png")
        _ = try pngFrames(frames)
        let whole = d.appendingPathComponent("whole.mkv").path
        try ffmpeg(["-framerate", "30", "-i", frames.path + "/frame_%06d.png", "-c:v", "ffv1", whole])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: whole))
        let cut = d.appendingPathComponent("cut.mkv").path
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: cut))
        var o = CropOptions()
        o.policy = .skip
        let recs = try VideoCropper(options: o, cascadePath: cascadePath()).run(folder: cut) { _, _, _ in }
        let read = recs.filter { $0.source != .unreadable }
        #expect(read.count >= 10 && read.count < 40, "\(read.count) frames read")
        #expect(read.map(\.index) == Array(0..<read.count))
        #expect(recs.allSatisfy { $0.source != .unreadable || $0.reason?.contains("decoding stopped") == true })
        // an mp4 whose index (moov, at the end) is cut off has no frames at all: one error
        let mp4 = d.appendingPathComponent("whole.mp4").path
        try ffmpeg(["-framerate", "30", "-i", frames.path + "/frame_%06d.png", "-pix_fmt", "yuv420p", mp4])
        let m = try Data(contentsOf: URL(fileURLWithPath: mp4))
        let bad = d.appendingPathComponent("bad.mp4").path
        try m.prefix(m.count / 2).write(to: URL(fileURLWithPath: bad))
        #expect {
            _ = try VideoFiles.listFrames(bad, fps: 30)
        } throws: { e in
            "\(e)".hasPrefix(bad + ": not a readable video (ffprobe: ") && !"\(e)".contains("\n")
        }
        let text = d.appendingPathComponent("notes.mp4").path
        try Data("not a video".utf8).write(to: URL(fileURLWithPath: text))
        #expect(throws: ImageError.self) { _ = try VideoFiles.listFrames(text, fps: 30) }
    }

    @Test("an H.264 mp4: the same features as its frames extracted by ffmpeg; JPEG-extracted frames within bounds")
    func lossyMP4() throws {
        let d = try scratch("video-h264")
        defer { try? FileManager.default.removeItem(at: d) }
        let frames = d.appendingPathComponent("cap12")
        _ = try pngFrames(frames)
        let video = d.appendingPathComponent("cap12.mp4").path
        try ffmpeg([
            "-framerate", "30", "-i", frames.path + "/frame_%06d.png", "-c:v", "libx264", "-crf", "18", "-pix_fmt",
            "yuv420p", video,
        ])
        // the frames as users extract them: lossless PNG, and JPEG at -q:v 2 (as ../shared's were)
        let png = d.appendingPathComponent("png"), jpeg = d.appendingPathComponent("jpeg")
        for dir in [png, jpeg] { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
        try ffmpeg(["-i", video, png.path + "/frame_%06d.png"])
        try ffmpeg(["-i", video, "-q:v", "2", jpeg.path + "/frame_%06d.jpg"])
        let ctx = try ComputeContext(threads: 2)
        let fx = try FeatureExtractor(model: ModelStore.defaultModel, context: ctx)
        func entry(_ input: String, _ dir: String) throws -> CacheEntry {
            let fc = try FeatureCache(
                dir: d.appendingPathComponent(dir).path, extractor: fx,
                cropper: try VideoCropper(options: CropOptions(), cascadePath: cascadePath()))
            return try #require(try fc.extract(videoID: "cap12", folder: input).1)
        }
        let v = try entry(video, "v"), p = try entry(png.path, "p"), j = try entry(jpeg.path, "j")
        #expect(v.frames.count == 40 && v.positions == p.positions)
        #expect(v.boxes.map { $0 ?? [] } == p.boxes.map { $0 ?? [] } && bitEqual(v.features, p.features))
        // JPEG's loss moves the Haar boxes by a few pixels and the crops with them (measured: 7 px;
        // per frame the features move by 17% of their largest value at the median, 40% at most)
        var boxDiff = 0.0
        for (x, y) in zip(v.boxes, j.boxes) {
            for (a, b) in zip(x ?? [], y ?? []) { boxDiff = max(boxDiff, abs(a - b)) }
        }
        let dim = v.features.shape[1]
        let perFrame = (0..<v.positions.count).map { r -> Float in
            var diff: Float = 0, ref: Float = 0
            for c in 0..<dim {
                diff = max(diff, abs(v.features.data[r * dim + c] - j.features.data[r * dim + c]))
                ref = max(ref, abs(j.features.data[r * dim + c]))
            }
            return diff / max(ref, 1e-30)
        }.sorted()
        print(
            "mp4 vs JPEG-extracted frames: boxes within \(boxDiff) px, feature error per frame: median "
                + "\(perFrame[perFrame.count / 2]), max \(perFrame.last!)")
        #expect(v.positions == j.positions && boxDiff <= 8)
        #expect(perFrame[perFrame.count / 2] < 0.25 && perFrame.last! < 0.5)
    }
}
