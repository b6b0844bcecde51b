import Dataset
import Features
import Foundation
import FoundationXML
import PainFace
import TestSupport
import Testing
import Training
import Weights

func safetensorsFiles(_ dir: URL) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: dir.path).filter {
        $0.hasSuffix(".safetensors") && !$0.hasPrefix(".")
    }.sorted()
}

@Suite(.serialized) struct PipelineTests {
    @Test("check, extract, train, evaluate and infer on a manifest of bundled real frames")
    func endToEnd() throws {
        let d = try tempDir("e2e")
        defer { try? FileManager.default.removeItem(at: d) }
        let manifest = try sampleManifest(in: d)
        let proto = ["--segment-length", "20"]
        let check = try painface(["dataset", "check", manifest] + proto)
        #expect(check.status == 0, "\(check.err)")
        #expect(check.out.contains("| train | no_pain | 2 | 80 | 4 |"))
        // the segment in seconds: 20 frames at 30 fps, or at --fps 40
        let inSeconds = try painface(["dataset", "check", manifest, "--segment-seconds", "0.6667"])
        #expect(inSeconds.status == 0 && inSeconds.out == check.out, "\(inSeconds.err)")
        let at40 = try painface(["dataset", "check", manifest, "--segment-seconds", "0.5", "--fps", "40"])
        #expect(at40.out == check.out)
        let both = try painface(["dataset", "check", manifest, "--segment-seconds", "1", "--segment-length", "20"])
        #expect(both.status == 2 && both.err.contains("not both"))

        let cache = d.appendingPathComponent("cache").path
        let ex = try painface(["extract", manifest, "--cache", cache, "--threads", "2"] + proto)
        #expect(ex.status == 0, "\(ex.err)")
        #expect(ex.err.contains("8 extracted, 0 up to date"))
        // the protocol: No-Pain training clips whole (40 frames), others their first segment
        let e = try FeatureCache.load(path: cache + "/cap12_a.safetensors")
        #expect(e.frames.count == 40 && e.features.shape == [40, 128] && e.totalFrames == 40)
        #expect(try FeatureCache.load(path: cache + "/cap12_b.safetensors").frames.count == 20)
        #expect(try FeatureCache.load(path: cache + "/wolfgang_a.safetensors").frames.count == 20)
        let again = try painface(["extract", manifest, "--cache", cache] + proto)
        #expect(again.status == 0 && again.err.contains("0 extracted, 8 up to date"), "\(again.err)")
        // other convolution algorithms move the last bits: their features are another cache's
        let algoCache = d.appendingPathComponent("cache-implicit").path
        try FileManager.default.copyItem(atPath: cache, toPath: algoCache)
        let implicit = try painface(["extract", manifest, "--cache", algoCache, "--conv-algo", "implicit"] + proto)
        #expect(implicit.status == 0 && implicit.err.contains("8 extracted, 0 up to date"), "\(implicit.err)")

        for head in ["framewise", "lstm"] {
            let stem = d.appendingPathComponent(head).path
            let t = try painface(
                ["train", manifest, "--cache", cache, "--kind", head, "--out", stem, "--epochs", "3"] + proto)
            #expect(t.status == 0, "\(t.err)")
            let cfg = try String(contentsOfFile: stem + ".json", encoding: .utf8)
            #expect(cfg.contains("\"feature_model\" : \"fer-mini-xception\""))
            let report = d.appendingPathComponent("report-\(head)").path
            let preds = d.appendingPathComponent("eval-\(head).csv").path
            let ev = try painface(
                ["evaluate", manifest, "--cache", cache, "--head", stem, "--report", report, "--predictions", preds]
                    + proto)
            #expect(ev.status == 0, "\(ev.err)")
            for f in ["report.md", "report.html", "metrics.json"] {
                #expect(FileManager.default.fileExists(atPath: report + "/" + f))
            }
            #expect(
                try String(contentsOfFile: report + "/report.html", encoding: .utf8).components(separatedBy: "<svg")
                    .count == 4)
            #expect(
                try String(contentsOfFile: report + "/report.md", encoding: .utf8).contains(
                    "| wolfgang_b | high_pain |"))
            // a page per video, linked from the report: crops of the recorded face boxes and their sources
            #expect(try String(contentsOfFile: report + "/report.html", encoding: .utf8).contains("videos/index.html"))
            let videoPage = try String(contentsOfFile: report + "/videos/wolfgang_b/index.html", encoding: .utf8)
            #expect(videoPage.contains("true: high_pain") && videoPage.components(separatedBy: "<img").count > 10)
            // with maps: the explain page of the same video, from the same cache and crop options
            let mapped = d.appendingPathComponent("report-\(head)-maps").path
            let em = try painface(
                ["evaluate", manifest, "--cache", cache, "--head", stem, "--report", mapped, "--maps", "2"] + proto)
            #expect(em.status == 0 && em.err.contains("maps on 2 of 2 video pages"), "\(em.err)")
            let mappedPage = try String(contentsOfFile: mapped + "/videos/wolfgang_b/index.html", encoding: .utf8)
            #expect(mappedPage.contains("What the model looked at") && mappedPage.contains("true: high_pain"))
            let mappedRows = try String(contentsOfFile: mapped + "/videos/wolfgang_b/saliency.csv", encoding: .utf8)
            #expect(mappedRows.split(separator: "\n").count == 3)
            // other crop options could give other crops: no maps, a warning
            let other = try painface(
                ["evaluate", manifest, "--cache", cache, "--head", stem, "--report", mapped + "2", "--maps", "2"]
                    + ["--margin", "0.5"] + proto)
            #expect(other.status == 0 && other.err.contains("maps on 0 of 2"), "\(other.err)")
            // the metrics agree with the per-video predictions
            let rows = try String(contentsOfFile: preds, encoding: .utf8).split(separator: "\n").dropFirst().map {
                $0.split(separator: ",")
            }
            #expect(rows.count == 2)
            let metrics = try JSONDecoder().decode(
                Evaluation.self, from: Data(contentsOf: URL(fileURLWithPath: report + "/metrics.json")))
            // infer's per-video columns, then true
            #expect(rows.allSatisfy { $0.count == 9 })
            let correct = rows.filter { $0[1] == $0[8] }.count
            #expect(abs(metrics.accuracy - Double(correct) / 2) < 1e-12)
            // predict on the same split gives the same labels and probabilities
            let pr = try painface(
                ["predict", "--head", stem, "--manifest", manifest, "--cache", cache, "--split", "validation"] + proto)
            #expect(pr.status == 0, "\(pr.err)")
            let predLines = pr.out.split(separator: "\n")
            let evalHeader = try String(contentsOfFile: preds, encoding: .utf8).split(separator: "\n")[0]
            #expect(evalHeader == predLines[0] + ",true")
            let predRows = predLines.dropFirst().map { $0.split(separator: ",") }
            #expect(predRows.map { Array($0) } == rows.map { Array($0[0..<8]) })
        }

        let folders = ["cap12_a", "wolfgang_b"].map { repoRoot().appendingPathComponent("samples/frames/\($0)").path }
        let out = d.appendingPathComponent("pred.csv").path
        let inf = try painface(
            ["infer"] + folders + ["--head", d.appendingPathComponent("framewise").path, "--out", out, "--per-frame"])
        #expect(inf.status == 0, "\(inf.err)")
        func table(_ path: String) throws -> [[Substring]] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
                $0.split(separator: ",", omittingEmptySubsequences: false)
            }
        }
        let lines = try table(out)
        #expect(
            lines[0].joined(separator: ",")
                == "video,label,p_no_pain,p_low_pain,p_high_pain,face_coverage,frames_used,frames_total")
        let videoRows = lines.dropFirst()
        #expect(videoRows.map { String($0[0]) } == ["cap12_a", "wolfgang_b"])
        for r in videoRows {
            let p = r[2...4].compactMap { Double($0) }
            #expect(p.count == 3 && abs(p.reduce(0, +) - 1) < 1e-4)
            #expect(r[6] == "40" && r[7] == "40")
        }
        // the frames in their own file: an integer index in reading order per video
        let frameLines = try table(d.appendingPathComponent("pred.frames.csv").path)
        #expect(
            frameLines[0].joined(separator: ",")
                == "video,frame,timestamp,frame_file,source,confidence,x,y,w,h,faces,label,"
                + "p_no_pain,p_low_pain,p_high_pain")
        #expect(frameLines.count == 1 + 80)
        for r in frameLines.dropFirst() {
            // a time from the index at the protocol's 30 fps; a box and a 0-1 confidence for each found face
            #expect(abs(Double(r[2])! - Double(Int(r[1])!) / 30) < 1e-4)
            if ["haar", "tracked"].contains(r[4]) {
                #expect(Double(r[5]).map { $0 > 0 && $0 < 1 } == true && r[6...9].allSatisfy { Double($0) != nil })
            }
        }
        for (video, first) in [("cap12_a", "frame_00001.jpg"), ("wolfgang_b", "frame_00151.jpg")] {
            let rows = frameLines.dropFirst().filter { $0[0] == video }
            #expect(rows.map { Int($0[1]) } == (0..<40).map { $0 }, "\(video)")
            #expect(rows.first.map { String($0[3]) } == first)
        }
        // estimates over time: windows of 20 frames every 10 (3 per 40-frame clip), and a clip
        // shorter than a window reported as such
        let wout = d.appendingPathComponent("w.csv").path
        let win = try painface(
            ["infer"] + folders + [
                "--head", d.appendingPathComponent("framewise").path, "--out", wout, "--window", "20", "--hop", "10",
            ])
        #expect(win.status == 0, "\(win.err)")
        let wl = try table(d.appendingPathComponent("w.windows.csv").path)
        #expect(
            wl[0].joined(separator: ",")
                == "video,window,start_frame,end_frame,start,end,label,p_no_pain,p_low_pain,p_high_pain,"
                + "face_coverage,frames_used")
        #expect(
            wl.dropFirst().map { "\($0[0]) \($0[1]) \($0[2]) \($0[3]) \($0[4]) \($0[5])" } == [
                "cap12_a 0 0 20 0.0000 0.6667", "cap12_a 1 10 30 0.3333 1.0000", "cap12_a 2 20 40 0.6667 1.3333",
                "wolfgang_b 0 0 20 0.0000 0.6667", "wolfgang_b 1 10 30 0.3333 1.0000",
                "wolfgang_b 2 20 40 0.6667 1.3333",
            ])
        #expect(wl.dropFirst().allSatisfy { ["no_pain", "low_pain", "high_pain"].contains(String($0[6])) })
        let page = try String(contentsOfFile: d.appendingPathComponent("w.windows.html").path, encoding: .utf8)
        #expect(page.components(separatedBy: "<svg").count == 3 && !page.contains("<script"))
        let short = try painface(
            ["infer", folders[0], "--window", "2s", "--out", d.appendingPathComponent("s.csv").path])
        #expect(short.status == 0 && short.err.contains("cap12_a: 40 frames, shorter than one 60-frame window"))
        let sl = try table(d.appendingPathComponent("s.windows.csv").path)
        #expect(sl.count == 2 && sl[1][6] == "short_clip" && sl[1][3] == "40" && sl[1][7] == "")
        let badWindow = try painface(["infer", folders[0], "--window", "ten", "--out", wout])
        #expect(badWindow.status != 0 && badWindow.err.contains("--window ten: give seconds (10s) or frames (300)"))
        let noOut = try painface(["infer", folders[0], "--per-frame"])
        #expect(noOut.status != 0 && noOut.err.contains("--per-frame needs --out or --frames"))
        // without a head: the default model's expression probabilities, as JSON lines
        let js = try painface(["infer", folders[0], "--format", "jsonl"])
        #expect(js.status == 0, "\(js.err)")
        let obj = try JSONSerialization.jsonObject(with: Data(js.out.split(separator: "\n")[0].utf8)) as? [String: Any]
        #expect(obj?.keys.filter { $0.hasPrefix("p_") }.count == 7)
        #expect(obj?["frames_used"] as? Int == 40)
        // the format follows the output's extension; a wrong --format is a usage error (exit 2)
        let jl = d.appendingPathComponent("expr.jsonl").path
        #expect(try painface(["infer", folders[0], "--out", jl, "--quiet"]).status == 0)
        #expect(try String(contentsOfFile: jl, encoding: .utf8).hasPrefix("{\"video\":\"cap12_a\",\"label\":"))
        let bad = try painface(["infer", folders[0], "--format", "xml"])
        #expect(bad.status == 2 && bad.err.contains("--format must be csv or jsonl"))

        // explain: maps of both heads and of the model's own classes, a page per video and an index
        for (head, extra) in [("framewise", ["--maps", "3"]), ("lstm", ["--maps", "2", "--method", "gradcam++"])] {
            let ex = d.appendingPathComponent("explain-\(head)").path
            let r = try painface(
                ["explain"] + folders + ["--head", d.appendingPathComponent(head).path, "--out", ex] + extra)
            #expect(r.status == 0, "\(r.err)")
            #expect(r.err.contains("at add_4"), "\(r.err)")
            let maps = head == "framewise" ? 3 : 2
            for v in ["cap12_a", "wolfgang_b"] {
                let rows = try table(ex + "/\(v)/saliency.csv")
                #expect(
                    rows[0].joined(separator: ",") == "video,frame,timestamp,frame_file,class,score,confidence,image")
                #expect(rows.count == 1 + maps)
                for row in rows.dropFirst() {
                    #expect(["no_pain", "low_pain", "high_pain"].contains(String(row[4])))
                    #expect(FileManager.default.fileExists(atPath: ex + "/\(v)/" + row[7]))
                }
                let page = try String(contentsOfFile: ex + "/\(v)/index.html", encoding: .utf8)
                #expect(!page.contains("<script") && page.contains("<svg") && page.contains("data:image/png;base64,"))
                let maps = try SafeTensorsFile(path: ex + "/\(v)/maps.safetensors")
                #expect(try maps.tensor("maps").shape.first == rows.count - 1)
            }
            let index = try String(contentsOfFile: ex + "/index.html", encoding: .utf8)
            #expect(
                index.contains("href=\"./cap12_a/index.html\"") && index.contains("href=\"./wolfgang_b/index.html\""))
        }
        let own = d.appendingPathComponent("explain-own").path
        let first = try painface(["explain", folders[0], "--out", own, "--maps", "2", "--layer", "add_3"])
        #expect(first.status == 0, "\(first.err)")
        let json = own + "/cap12_a/explain.json"
        let before = try Data(contentsOf: URL(fileURLWithPath: json))
        #expect(String(decoding: before, as: UTF8.self).contains("\"layer\" : \"add_3\""))
        // the same run again keeps the maps; other settings are refused, or replace them with --force
        #expect(try painface(["explain", folders[0], "--out", own, "--maps", "2", "--layer", "add_3"]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: json)) == before)
        let other = try painface(["explain", folders[0], "--out", own, "--maps", "3", "--layer", "add_3"])
        #expect(other.status == 1 && other.err.contains("other settings"), "\(other.err)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: json)) == before)
        let forced = try painface(["explain", folders[0], "--out", own, "--maps", "3", "--force"])
        #expect(forced.status == 0)
        #expect(try table(own + "/cap12_a/saliency.csv").count == 4)
        // a folder explain did not write is never replaced, even with --force (here: the input itself)
        let parent = d.appendingPathComponent("inputs").path
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let copy = parent + "/cap12_a"
        try FileManager.default.copyItem(atPath: folders[0], toPath: copy)
        let frameCount = try FileManager.default.contentsOfDirectory(atPath: copy).count
        let intoInput = try painface(["explain", copy, "--out", parent, "--force"])
        #expect(intoInput.status == 1 && intoInput.err.contains("is the input itself"), "\(intoInput.err)")
        let other2 = d.appendingPathComponent("inputs2").path
        try FileManager.default.copyItem(atPath: parent, toPath: other2)
        let notOurs = try painface(["explain", folders[0], "--out", other2, "--force"])
        #expect(notOurs.status == 1 && notOurs.err.contains("was not written by painface explain"), "\(notOurs.err)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: copy).count == frameCount)
        #expect(try FileManager.default.contentsOfDirectory(atPath: other2 + "/cap12_a").count == frameCount)
        let badLayer = try painface(["explain", folders[0], "--out", own, "--layer", "predictions"])
        #expect(badLayer.status == 1 && badLayer.err.contains("--layer predictions: not a spatial layer"))
        let badClass = try painface(["explain", folders[0], "--out", own, "--class", "pain", "--force"])
        #expect(badClass.status == 1 && badClass.err.contains("--class pain: not one of angry"), "\(badClass.err)")
        // infer's report: the same pages without maps
        let rep = d.appendingPathComponent("infer-report").path
        let withReport = try painface(
            ["infer"] + folders + ["--head", d.appendingPathComponent("framewise").path, "--report", rep, "--quiet"])
        #expect(withReport.status == 0, "\(withReport.err)")
        let repPage = try String(contentsOfFile: rep + "/wolfgang_b/index.html", encoding: .utf8)
        #expect(repPage.contains("Face crops") && !repPage.contains("What the model looked at"))
        #expect(repPage.components(separatedBy: "<img").count == 1 + 24)
        // every report renders in a browser: no errors, every image decodes
        let pages =
            ["report-framewise/report.html", "report-lstm/report.html", "w.windows.html"]
            + ["report-framewise/videos/index.html", "report-lstm/videos/wolfgang_b/index.html"]
            + ["report-framewise-maps/videos/index.html", "report-lstm-maps/videos/wolfgang_b/index.html"]
            + ["explain-framewise", "explain-lstm", "explain-own"].flatMap {
                ["\($0)/index.html", "\($0)/cap12_a/index.html"]
            }
            + ["explain-lstm/wolfgang_b/index.html", "infer-report/index.html", "infer-report/wolfgang_b/index.html"]
        if let b = try browserCheck(pages.map { d.appendingPathComponent($0).path }) {
            #expect(b.status == 0, "\(b.out)\(b.err)")
            #expect(b.out.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count == pages.count, "\(b.out)")
        }
    }

    @Test("an extract killed with SIGKILL mid-run resumes to the same cache as an uninterrupted run")
    func killAndResume() throws {
        let d = try tempDir("kill")
        defer { try? FileManager.default.removeItem(at: d) }
        let manifest = try sampleManifest(in: d)
        let args = ["--segment-length", "20", "--threads", "2", "--batch", "1"]
        let full = d.appendingPathComponent("full"), killed = d.appendingPathComponent("killed")
        #expect(try painface(["extract", manifest, "--cache", full.path] + args).status == 0)

        let p = Process()
        p.executableURL = builtExecutable("painface")
        p.arguments = ["extract", manifest, "--cache", killed.path] + args
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date(timeIntervalSinceNow: 120)
        while p.isRunning, Date() < deadline, ((try? safetensorsFiles(killed)) ?? []).isEmpty { usleep(2_000) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let partial = try safetensorsFiles(killed)
        #expect(!partial.isEmpty && partial.count < 8, "killed after \(partial.count) of 8 videos")
        for f in partial { _ = try FeatureCache.load(path: killed.appendingPathComponent(f).path) }  // none torn

        let resumed = try painface(["extract", manifest, "--cache", killed.path] + args)
        #expect(resumed.status == 0, "\(resumed.err)")
        #expect(resumed.err.contains("\(8 - partial.count) extracted, \(partial.count) up to date"), "\(resumed.err)")
        let names = try safetensorsFiles(full)
        let after = try safetensorsFiles(killed)
        #expect(names.count == 8 && after == names)
        for n in names {
            let a = try Data(contentsOf: full.appendingPathComponent(n)),
                b = try Data(contentsOf: killed.appendingPathComponent(n))
            #expect(a == b, "\(n) differs after the resume")
        }
    }

    @Test("bad input: a missing folder fails its video only; a truncated frame is recorded, not fatal; shards add up")
    func badInputAndShards() throws {
        let d = try tempDir("bad")
        defer { try? FileManager.default.removeItem(at: d) }
        // a copy of one clip with a truncated frame
        let src = repoRoot().appendingPathComponent("samples/frames/cap13_b")
        let broken = d.appendingPathComponent("broken")
        try FileManager.default.copyItem(at: src, to: broken)
        let victim = broken.appendingPathComponent("frame_00105.jpg")
        let bytes = try Data(contentsOf: victim)
        try bytes.prefix(bytes.count / 3).write(to: victim)
        let manifest = try sampleManifest(
            in: d, extraRows: ["gone,p8,test,,\(d.path)/nowhere", "broken,p9,test,,\(broken.path)"])
        let cache = d.appendingPathComponent("cache")
        let r = try painface([
            "extract", manifest, "--cache", cache.path, "--segment-length", "20", "--short-segment", "pad",
        ])
        #expect(r.status != 0)
        #expect(r.err.contains("error: gone (line 10)") && r.err.contains("nowhere"), "\(r.err)")
        #expect(r.err.contains("1 failed"))
        #expect(try safetensorsFiles(cache).count == 9)
        let e = try FeatureCache.load(path: cache.appendingPathComponent("broken.safetensors").path)
        #expect(e.sources[4] == "unreadable" && e.positions.count == 19 && !e.positions.contains(4))

        // three shards in three processes cover the manifest exactly once
        var seen: [String] = []
        for i in 0..<3 {
            let c = d.appendingPathComponent("shard\(i)")
            let s = try painface([
                "extract", manifest, "--cache", c.path, "--segment-length", "20", "--shard", "\(i)/3", "--splits",
                "train,validation",
            ])
            #expect(s.status == 0, "\(s.err)")
            seen += try safetensorsFiles(c)
        }
        let all = try safetensorsFiles(cache).filter { !["gone.safetensors", "broken.safetensors"].contains($0) }
        #expect(seen.sorted() == all)
    }

    @Test("a manifest's landmarks column crops by landmarks; a changed landmark file or --float16 re-extracts")
    func landmarksAndFloat16() throws {
        let d = try tempDir("lm")
        defer { try? FileManager.default.removeItem(at: d) }
        let clip = repoRoot().appendingPathComponent("samples/frames/cap12_a")
        let frames = try FileManager.default.contentsOfDirectory(atPath: clip.path).filter { $0.hasSuffix(".jpg") }
            .sorted()
        // a plain landmark CSV (made up for the test): a 4-point box, NaN (no face) on the 3rd frame
        func writeLandmarks(_ dx: Double) throws {
            var rows = ["frame,x0,y0,x1,y1,x2,y2,x3,y3"]
            for (i, f) in frames.enumerated() {
                rows.append(
                    i == 2
                        ? "\(f),nan,nan,nan,nan,nan,nan,nan,nan"
                        : "\(f),\(150 + dx),90,\(250 + dx),90,\(150 + dx),200,\(250 + dx),200")
            }
            try rows.joined(separator: "\n").write(
                to: d.appendingPathComponent("lm.csv"), atomically: true, encoding: .utf8)
        }
        try writeLandmarks(0)
        let manifest = d.appendingPathComponent("m.csv").path
        try "video_id,participant,split,label,frames,landmarks\nv,p,validation,no_pain,\(clip.path),lm.csv\n"
            .write(toFile: manifest, atomically: true, encoding: .utf8)
        let cache = d.appendingPathComponent("c")
        let args = ["extract", manifest, "--cache", cache.path, "--segment-length", "40", "--sources", "landmarks"]
        #expect(try painface(args).status == 0)
        let e = try FeatureCache.load(path: cache.appendingPathComponent("v.safetensors").path)
        #expect(e.sources.filter { $0 == "landmarks" }.count == 39)
        #expect(e.sources[2] == "previous" && e.positions.count == 40)  // the default policy reuses the last box
        #expect(abs(e.coverage - 39.0 / 40.0) < 1e-4)
        #expect(try painface(args).err.contains("0 extracted, 1 up to date"))
        try writeLandmarks(12)  // new landmarks: new crops
        #expect(try painface(args).err.contains("1 extracted, 0 up to date"))
        let half = try painface(args + ["--float16"])
        #expect(half.err.contains("1 extracted"), "\(half.err)")
        let f = try SafeTensorsFile(path: cache.appendingPathComponent("v.safetensors").path)
        #expect(f.entries["features"]?.dtype == .f16)
        let e16 = try FeatureCache.load(path: cache.appendingPathComponent("v.safetensors").path)
        #expect(e16.features.shape == [40, 128])
    }
}

@Suite struct DatasetCommandTests {
    @Test("dataset init: a manifest from ROOT/<split>/<label>/<video>/, readable by dataset check")
    func layout() throws {
        let d = try tempDir("layout")
        defer { try? FileManager.default.removeItem(at: d) }
        let frames = repoRoot().appendingPathComponent("samples/frames")
        for (rel, clip) in [
            ("data/train/no_pain/p01_base", "cap12_a"), ("data/train/high_pain/p01_h1", "cap12_c"),
            ("data/validation/unlabelled/p02_x", "wolfgang_a"),
        ] {
            try FileManager.default.createDirectory(
                at: d.appendingPathComponent(rel).deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: frames.appendingPathComponent(clip), to: d.appendingPathComponent(rel))
        }
        let out = d.appendingPathComponent("m.csv").path
        let r = try painface(["dataset", "init", d.appendingPathComponent("data").path, "--out", out])
        #expect(r.status == 0, "\(r.err)")
        let m = try Manifest(path: out)
        #expect(m.videos.map(\.id) == ["p01_h1", "p01_base", "p02_x"])
        #expect(m.videos.map(\.participant) == ["p01", "p01", "p02"])
        #expect(m.videos.map(\.label) == [2, 0, nil])
        #expect(m.videos[2].frames == d.appendingPathComponent("data/validation/unlabelled/p02_x").standardized.path)
        #expect(DatasetCheck(m, protocol: SegmentProtocol(length: 20)).problems.isEmpty)
        // no overwrite
        #expect(try painface(["dataset", "init", d.appendingPathComponent("data").path, "--out", out]).status != 0)
        try FileManager.default.createDirectory(
            at: d.appendingPathComponent("data/training"), withIntermediateDirectories: true)
        #expect(throws: ModelFileError.self) { try ManifestLayout.scan(root: d.appendingPathComponent("data").path) }
    }
}
