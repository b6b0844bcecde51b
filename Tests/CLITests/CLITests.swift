import Foundation
import Imaging
import Kernels
import PainFace
import Testing
import Weights

func tempDir(_ name: String) throws -> URL {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent(
        "pf-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    return d
}

func repoRoot() -> URL {
    var u = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { u.deleteLastPathComponent() }
    return u
}

/// An executable of this package, from the build the tests run in: the test bundle sits in
/// the same products folder (.build/<triple>/<config>/), whatever the configuration.
/// PAINFACE_BIN_DIR overrides the folder.
func builtExecutable(_ name: String) -> URL {
    if let dir = ProcessInfo.processInfo.environment["PAINFACE_BIN_DIR"], !dir.isEmpty {
        return URL(fileURLWithPath: dir).appendingPathComponent(name)
    }
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    for _ in 0..<4 {
        dir.deleteLastPathComponent()
        let candidate = dir.appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    fatalError(
        """
        \(name) not found beside the test bundle \(CommandLine.arguments[0]); build it first (swift build \
        --build-tests)
        """
    )
}

/// Runs `painface` (or another of the package's executables) built next to the tests.
func painface(_ args: [String], executable: String = "painface") throws -> (status: Int32, out: String, err: String) {
    try runProcess(builtExecutable(executable), args)
}

/// Runs a program to its end: its status, stdout and stderr.
func runProcess(_ exe: URL, _ args: [String]) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = exe
    p.arguments = args
    let o = Pipe(), e = Pipe()
    p.standardOutput = o
    p.standardError = e
    try p.run()
    let (od, ed) = readBoth(o, e)
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: od, as: UTF8.self), String(decoding: ed, as: UTF8.self))
}

/// tools/browser_check.py on report pages: each loads in headless Chromium with no error and
/// every image decodes. nil (with a message) when this machine has no Chromium.
func browserCheck(_ pages: [String]) throws -> (status: Int32, out: String, err: String)? {
    var args = ["python3", repoRoot().appendingPathComponent("tools/browser_check.py").path]
    if let dir = ProcessInfo.processInfo.environment["PAINFACE_SCREENSHOTS"] { args += ["--screenshot-dir", dir] }
    let r = try runProcess(URL(fileURLWithPath: "/usr/bin/env"), args + pages)
    if r.out.hasPrefix("browser check skipped") {
        print("report pages not rendered: \(r.out)")
        return nil
    }
    return r
}

/// Both pipes to their end at once (one read after the other stalls a child that fills the
/// second pipe first, e.g. with a sanitizer's report).
func readBoth(_ o: Pipe, _ e: Pipe) -> (Data, Data) {
    final class Box: @unchecked Sendable { var data = Data() }
    let err = Box(), done = DispatchSemaphore(value: 0)
    let t = Thread {
        err.data = e.fileHandleForReading.readDataToEndOfFile()
        done.signal()
    }
    t.start()
    let out = o.fileHandleForReading.readDataToEndOfFile()
    done.wait()
    return (out, err.data)
}

@Suite(.serialized) struct FeatureCommandTests {
    @Test("features of the bundled crops: one file per folder, resumable, deterministic")
    func bundledSamples() throws {
        let out = try tempDir("feat")
        defer { try? FileManager.default.removeItem(at: out) }
        let samples = repoRoot().appendingPathComponent("samples/faces/cap12_t010s").path
        let r = try painface(["features", samples, "--out", out.path, "--threads", "2"])
        #expect(r.status == 0, "\(r.err)")
        let file = out.appendingPathComponent("cap12_t010s.safetensors").path
        let f = try SafeTensorsFile(path: file)
        #expect(f.entries["features"]?.shape == [9, 128])
        #expect(f.entries["probabilities"]?.shape == [9, 7])
        #expect(f.metadata["model"] == "fer-mini-xception")
        #expect(f.metadata["model_sha256"]?.count == 64)
        let frames = try JSONDecoder().decode([String].self, from: Data(f.metadata["frames"]!.utf8))
        #expect(frames.first == "frame_00001.png" && frames.count == 9)
        let first = try f.tensor("features")
        // second run: up to date, skipped, file unchanged
        let r2 = try painface(["features", samples, "--out", out.path])
        #expect(r2.err.contains("up to date"))
        // forced, one thread: identical bits
        let r3 = try painface(["features", samples, "--out", out.path, "--force", "--threads", "1"])
        #expect(r3.status == 0)
        #expect(try SafeTensorsFile(path: file).tensor("features").array == first.array)
    }

    @Test("quantize: an int8 model with its calibration and drift recorded; its features say int8 and differ from fp32")
    func quantize() throws {
        let dir = try tempDir("quant")
        defer { try? FileManager.default.removeItem(at: dir) }
        let samples = repoRoot().appendingPathComponent("samples/faces/cap12_t010s").path
        let stem = dir.appendingPathComponent("mx-int8").path
        let r = try painface([
            "quantize", "--model", "fer-mini-xception", "--calibration", samples, "--every", "1", "--out", stem,
        ])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("int8 layers"), "\(r.out)")
        let config = try ModelConfig.decode(try Data(contentsOf: URL(fileURLWithPath: stem + ".json")), path: stem)
        let q = try #require(config.quantization)
        #expect(config.precision == "int8" || q.int8Layers.isEmpty)
        #expect(q.calibrationCrops == 9 && q.featureDrift.max <= 3e-2)
        #expect(config.layers.filter { $0.inputQuant != nil }.map(\.name) == q.int8Layers)
        #expect(FileManager.default.fileExists(atPath: stem + ".safetensors"))
        // the model's default precision is int8; the feature file records it
        let out = dir.appendingPathComponent("feat")
        let f = try painface(["features", samples, "--model", stem + ".json", "--out", out.path])
        #expect(f.status == 0, "\(f.err)")
        let file = try SafeTensorsFile(path: out.appendingPathComponent("cap12_t010s.safetensors").path)
        #expect(file.metadata["precision"] == (q.int8Layers.isEmpty ? "fp32" : "int8"))
        let out32 = dir.appendingPathComponent("feat32")
        let f32 = try painface([
            "features", samples, "--model", stem + ".json", "--precision", "fp32", "--out", out32.path,
        ])
        #expect(f32.status == 0, "\(f32.err)")
        let file32 = try SafeTensorsFile(path: out32.appendingPathComponent("cap12_t010s.safetensors").path)
        #expect(file32.metadata["precision"] == "fp32")
        if !q.int8Layers.isEmpty {
            #expect(try file.tensor("features").array != file32.tensor("features").array)
        }
        // bad input: a folder without faces is one clear error, and nothing is written
        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let bad = try painface([
            "quantize", "--model", "fer-mini-xception", "--calibration", empty.path, "--out", stem + "-bad",
        ])
        #expect(bad.status != 0 && !FileManager.default.fileExists(atPath: stem + "-bad.json"), "\(bad.err)")
    }

    @Test("an unreadable frame is recorded and the folder still succeeds")
    func unreadableFrame() throws {
        let dir = try tempDir("frames"), out = try tempDir("out")
        defer { try? FileManager.default.removeItem(at: dir); try? FileManager.default.removeItem(at: out) }
        let src = repoRoot().appendingPathComponent("samples/faces/cap13_t005s")
        for n in ["frame_00001.png", "frame_00038.png"] {
            try FileManager.default.copyItem(at: src.appendingPathComponent(n), to: dir.appendingPathComponent(n))
        }
        let png = try Data(contentsOf: src.appendingPathComponent("frame_00075.png"))
        try png.prefix(png.count / 2).write(to: dir.appendingPathComponent("frame_00075.png"))  // truncated
        try Data().write(to: dir.appendingPathComponent("frame_00080.jpg"))  // empty
        try Data("hello".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        let r = try painface(["features", dir.path, "--out", out.path])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("2 unreadable"))
        let f = try SafeTensorsFile(path: out.appendingPathComponent(dir.lastPathComponent + ".safetensors").path)
        #expect(f.entries["features"]?.shape == [2, 128])
        #expect(
            f.metadata["unreadable"]!.contains("frame_00075.png") && f.metadata["unreadable"]!.contains("empty file"))
    }

    @Test("bad model and bad folder give one-line errors and a non-zero exit")
    func errors() throws {
        let out = try tempDir("err")
        defer { try? FileManager.default.removeItem(at: out) }
        let bad = out.appendingPathComponent("broken.json")
        try Data("{\"format\": \"painface-model/1\"".utf8).write(to: bad)
        try Data([1, 2, 3]).write(to: out.appendingPathComponent("broken.safetensors"))
        let r = try painface([
            "features", "--model", bad.path, repoRoot().appendingPathComponent("samples/faces/cap12_t010s").path,
            "--out", out.path,
        ])
        #expect(r.status != 0)
        #expect(r.err.contains("broken.json: invalid model config"))
        let r2 = try painface(["features", "/nonexistent/folder", "--out", out.path])
        #expect(r2.status != 0 && r2.err.contains("/nonexistent/folder: no such folder or video file"))
        // infer names the folder once
        let r2i = try painface(["infer", "/nonexistent/folder", "--out", out.path + ".csv"])
        #expect(r2i.status != 0 && r2i.err.contains("error: /nonexistent/folder: no such folder or video file"))
        let r3 = try painface(["features", "--model", "no-such-model", "x", "--out", out.path])
        #expect(r3.status != 0 && r3.err.contains("no-such-model: no such model file"))
    }

    @Test("painface-bench runs and reports GFLOPS and peak RSS")
    func bench() throws {
        let r = try painface(
            ["--quick", "--only", "gemm,mini-xception", "--threads", "1"], executable: "painface-bench")
        #expect(r.status == 0, "\(r.err)")
        #expect(
            r.out.contains("measured FMA peak") && r.out.contains("fer-mini-xception batch 32")
                && r.out.contains("peak RSS"))
        let bad = try painface(["--isa", "sparc"], executable: "painface-bench")
        #expect(bad.status != 0 && bad.err.contains("unknown --isa sparc"))
    }

    @Test("models lists the bundled mini-Xception")
    func models() throws {
        let r = try painface(["models"])
        #expect(r.status == 0)
        #expect(r.out.contains("fer-mini-xception") && r.out.contains("features 128"))
    }
}

@Suite(.serialized) struct HeadCommandTests {
    @Test("train, evaluate and predict from feature files, for both heads (labels made up for the test)")
    func trainEvaluatePredict() throws {
        let dir = try tempDir("heads")
        defer { try? FileManager.default.removeItem(at: dir) }
        let feats = dir.appendingPathComponent("feats").path
        let samples = ["cap12_t010s", "cap13_t005s", "wolfganglanger_t000s"].map {
            repoRoot().appendingPathComponent("samples/faces/\($0)").path
        }
        #expect(try painface(["features"] + samples + ["--out", feats]).status == 0)
        let labels = dir.appendingPathComponent("labels.csv").path
        try Data("video,label\ncap12_t010s,no_pain\ncap13_t005s,low_pain\nwolfganglanger_t000s,2\n".utf8).write(
            to: URL(fileURLWithPath: labels))
        // --head, train's old name of --kind, still works with a warning; a disagreement is an error
        let conflict = try painface([
            "train", "--kind", "framewise", "--head", "lstm", "--features", feats, "--labels", labels,
            "--out", dir.appendingPathComponent("conflict").path,
        ])
        #expect(conflict.status != 0 && conflict.err.contains("--kind framewise and --head lstm disagree"))
        for (head, extra) in [
            ("framewise", ["--layers", "32,16"]), ("lstm", ["--sequence-length", "9", "--layers", "8,4,8"]),
        ] {
            let stem = dir.appendingPathComponent("model-\(head)").path
            let t = try painface(
                [
                    "train", "--kind", head, "--features", feats, "--labels", labels, "--validation-labels", labels,
                    "--out", stem, "--epochs", "3", "--batch", "4",
                ] + extra)
            #expect(t.status == 0, "\(t.err)")
            #expect(t.err.contains("epoch 3: loss"))
            #expect(
                FileManager.default.fileExists(atPath: stem + ".json")
                    && FileManager.default.fileExists(atPath: stem + ".log.csv"))
            let e = try painface([
                "evaluate", "--head", stem, "--features", feats, "--labels", labels, "--json", stem + ".eval.json",
            ])
            #expect(e.status == 0, "\(e.err)")
            #expect(e.out.contains("| precision no_pain / low_pain / high_pain / avg |"))
            let p = try painface(["predict", "--head", stem, "--features", feats])
            #expect(p.status == 0 && p.out.split(separator: "\n").count == 4)
            #expect(
                p.out.hasPrefix(
                    "video,label,p_no_pain,p_low_pain,p_high_pain,face_coverage,frames_used,frames_total\ncap12_t010s,")
            )
        }
        // two classes named by the labels, a head in a folder that does not exist yet, predictions too
        let binary = dir.appendingPathComponent("binary.csv").path
        try Data("video,label\ncap12_t010s,calm\ncap13_t005s,pain\nwolfganglanger_t000s,pain\n".utf8).write(
            to: URL(fileURLWithPath: binary))
        let stem = dir.appendingPathComponent("new/heads/binary").path
        let t2 = try painface([
            "train", "--features", feats, "--labels", binary, "--out", stem, "--epochs", "2", "--layers", "16",
        ])
        #expect(t2.status == 0, "\(t2.err)")
        #expect(try String(contentsOfFile: stem + ".json", encoding: .utf8).contains("\"calm\""))
        let e2 = try painface(["evaluate", "--head", stem, "--features", feats, "--labels", binary])
        #expect(e2.status == 0 && e2.out.contains("| precision calm / pain / avg |"), "\(e2.out) \(e2.err)")
        let p2 = try painface([
            "predict", "--head", stem, "--features", feats, "--out", dir.appendingPathComponent("x/y.csv").path,
        ])
        #expect(p2.status == 0, "\(p2.err)")
        #expect(
            try String(contentsOfFile: dir.appendingPathComponent("x/y.csv").path, encoding: .utf8).hasPrefix(
                "video,label,p_calm,p_pain,face_coverage,frames_used,frames_total\n"))
        // a head refuses labels it does not know
        let e3 = try painface(["evaluate", "--head", stem, "--features", feats, "--labels", labels])
        #expect(e3.status != 0 && e3.err.contains("unknown label"), "\(e3.err)")

        // a bare tensor file, and a file in the old `features` format, are refused with what to do
        let other = dir.appendingPathComponent("other").path
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try SafeTensorsWriter.write([("features", Tensor(shape: [4, 7]))], to: other + "/cap12_t010s.safetensors")
        let wrong = try painface([
            "predict", "--head", dir.appendingPathComponent("model-framewise").path, "--features", other,
        ])
        #expect(
            wrong.status != 0 && wrong.err.contains("cap12_t010s.safetensors: not a PainFace feature file"),
            "\(wrong.err)")
        try SafeTensorsWriter.write(
            [("features", Tensor(shape: [4, 128]))], to: other + "/cap12_t010s.safetensors",
            metadata: ["model_sha256": String(repeating: "0", count: 64), "frames": "[]"])
        let old = try painface([
            "predict", "--head", dir.appendingPathComponent("model-framewise").path, "--features", other,
        ])
        #expect(old.status != 0 && old.err.contains("format of an older painface features"), "\(old.err)")
        // a label that is not a class, and a video without features
        try Data("video,label\ncap12_t010s,agony\n".utf8).write(to: URL(fileURLWithPath: labels))
        let bad = try painface([
            "train", "--features", feats, "--labels", labels, "--out", dir.appendingPathComponent("m").path,
        ])
        #expect(bad.status != 0 && bad.err.contains("the labels name one class (agony)"), "\(bad.err)")
        let strict = try painface([
            "train", "--features", feats, "--labels", labels, "--classes", "no_pain,pain", "--out",
            dir.appendingPathComponent("m").path,
        ])
        #expect(strict.status != 0 && strict.err.contains("unknown label \"agony\""), "\(strict.err)")
        try Data("video,label\nnobody,0\n".utf8).write(to: URL(fileURLWithPath: labels))
        let missing = try painface([
            "train", "--features", feats, "--labels", labels, "--out", dir.appendingPathComponent("m").path,
        ])
        #expect(missing.status != 0 && missing.err.contains("no feature file for video nobody"))
    }
}
