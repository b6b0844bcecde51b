import Foundation
import Imaging
import Testing

/// Runs painface with `stdin` bytes on its standard input.
func painface(_ args: [String], stdin: Data) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = builtExecutable("painface")
    p.arguments = args
    let i = Pipe(), o = Pipe(), e = Pipe()
    (p.standardInput, p.standardOutput, p.standardError) = (i, o, e)
    try p.run()
    // write from another thread: the child's output pipes must be read meanwhile
    let writer = Thread {
        i.fileHandleForWriting.write(stdin)
        try? i.fileHandleForWriting.close()
    }
    writer.start()
    let (od, ed) = readBoth(o, e)
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: od, as: UTF8.self), String(decoding: ed, as: UTF8.self))
}

@Suite(.serialized) struct WatchCommandTests {
    let clip = repoRoot().appendingPathComponent("samples/frames/cap12_a")

    /// The clip's frames decoded, as raw RGB (what `ffmpeg ... -f rawvideo -pix_fmt rgb24 -` sends).
    func rawFrames() throws -> (Data, Int, Int) {
        var data = Data()
        var size = (0, 0)
        for f in try ImageIO.listFrames(clip.path).frames {
            let img = try ImageIO.read(clip.appendingPathComponent(f).path)
            data.append(contentsOf: img.pixels)
            size = (img.width, img.height)
        }
        return (data, size.0, size.1)
    }

    @Test("watch on stdin, every frame kept: the estimates of infer --window on the same frames")
    func stdinEqualsInfer() throws {
        let d = try tempDir("watch-stdin")
        defer { try? FileManager.default.removeItem(at: d) }
        let (raw, w, h) = try rawFrames()
        let live = try painface(
            ["watch", "-", "--frame-size", "\(w)x\(h)", "--window", "20", "--hop", "10", "--no-drop"], stdin: raw)
        #expect(live.status == 0, "\(live.err)")
        let out = d.appendingPathComponent("p.csv").path
        let offline = try painface(["infer", clip.path, "--window", "20", "--hop", "10", "--out", out])
        #expect(offline.status == 0, "\(offline.err)")
        let expected = try String(contentsOfFile: d.appendingPathComponent("p.windows.csv").path, encoding: .utf8)
            .split(separator: "\n").map { $0.replacingOccurrences(of: "cap12_a,", with: "stdin,") }
        #expect(live.out.split(separator: "\n").map(String.init) == expected)
        #expect(live.err.contains("watch: 40 frames arrived, the model saw 40"))
        // too few frames for one window: said, not classified
        let short = try painface(
            ["watch", "-", "--frame-size", "\(w)x\(h)", "--window", "2s", "--no-drop"], stdin: raw)
        #expect(short.status == 0 && short.err.contains("fewer than one 60-frame window: no estimate"))
        #expect(short.out.split(separator: "\n").count == 1)
        let noSize = try painface(["watch", "-"], stdin: Data())
        #expect(noSize.status == 2 && noSize.err.contains("--frame-size"))
    }

    @Test("watch on stdin with frames without a face (--policy skip): still infer --window's estimates")
    func framesWithoutFace() throws {
        let d = try tempDir("watch-noface")
        defer { try? FileManager.default.removeItem(at: d) }
        let folder = d.appendingPathComponent("gap")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var raw = Data()
        var size = (0, 0)
        for (i, f) in try ImageIO.listFrames(clip.path).frames.enumerated() {
            var img = try ImageIO.read(clip.appendingPathComponent(f).path)
            // frames 12-17 black: no face, and no reused box with --policy skip
            if (12..<18).contains(i) {
                img = RGBImage(
                    width: img.width, height: img.height, pixels: .init(repeating: 0, count: img.pixels.count))
            }
            try ImageIO.encodePNG(img).write(to: folder.appendingPathComponent(String(format: "frame_%03d.png", i)))
            raw.append(contentsOf: img.pixels)
            size = (img.width, img.height)
        }
        let args = ["--window", "20", "--hop", "10", "--policy", "skip"]
        let live = try painface(
            ["watch", "-", "--frame-size", "\(size.0)x\(size.1)", "--no-drop"] + args, stdin: raw)
        #expect(live.status == 0, "\(live.err)")
        let out = d.appendingPathComponent("p.csv").path
        #expect(try painface(["infer", folder.path, "--out", out] + args).status == 0)
        let expected = try String(contentsOfFile: d.appendingPathComponent("p.windows.csv").path, encoding: .utf8)
            .split(separator: "\n").map { $0.replacingOccurrences(of: "gap,", with: "stdin,") }
        let got = live.out.split(separator: "\n").map(String.init)
        #expect(got == expected)
        // the first window lost 6 of its 20 frames: 14 rows, coverage 0.7
        #expect(got.count == 4 && got[1].hasSuffix(",0.7000,14"), "\(got)")
    }

    @Test(
        "watch on a video file through ffmpeg, read offline: the estimates of infer --window on the same file",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg"), "needs ffmpeg"))
    func ffmpegSourceEqualsInfer() throws {
        let d = try tempDir("watch-video")
        defer { try? FileManager.default.removeItem(at: d) }
        let video = d.appendingPathComponent("clip.mkv").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        p.arguments = [
            "-v", "error", "-nostdin", "-framerate", "30", "-pattern_type", "glob", "-i", clip.path + "/*.jpg", "-c:v",
            "ffv1", video,
        ]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let live = try painface(["watch", video, "--window", "20", "--hop", "10", "--no-drop", "--no-realtime"])
        #expect(live.status == 0, "\(live.err)")
        let out = d.appendingPathComponent("p.csv").path
        #expect(try painface(["infer", video, "--window", "20", "--hop", "10", "--out", out]).status == 0)
        let expected = try String(contentsOfFile: d.appendingPathComponent("p.windows.csv").path, encoding: .utf8)
        #expect(live.out == expected && expected.split(separator: "\n").count == 4)
    }

    @Test("watch on a folder being written: frames taken as they appear, the run ends when it stays idle")
    func growingFolder() throws {
        let d = try tempDir("watch-folder")
        defer { try? FileManager.default.removeItem(at: d) }
        let incoming = d.appendingPathComponent("incoming")
        try FileManager.default.createDirectory(at: incoming, withIntermediateDirectories: true)
        let frames = try ImageIO.listFrames(clip.path).frames
        let src = clip
        // a writer adding a frame every 20 ms, each written under a temporary name then renamed
        let writer = Thread {
            for f in frames {
                let tmp = incoming.appendingPathComponent(".\(f).part")
                try? FileManager.default.copyItem(at: src.appendingPathComponent(f), to: tmp)
                try? FileManager.default.moveItem(at: tmp, to: incoming.appendingPathComponent(f))
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
        writer.start()
        let out = d.appendingPathComponent("live.csv").path
        let r = try painface([
            "watch", incoming.path, "--window", "20", "--hop", "10", "--idle", "1.5", "--no-drop", "--out", out,
        ])
        #expect(r.status == 0, "\(r.err)")
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1 + 3, "\(lines)")
        #expect(lines.dropFirst().map { $0.split(separator: ",")[2] } == ["0", "10", "20"])
        #expect(r.err.contains("watch: 40 frames arrived"))
    }
}
