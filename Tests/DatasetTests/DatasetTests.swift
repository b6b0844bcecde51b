import Dataset
import Foundation
import TestSupport
import Testing
import Weights

@Suite struct ProtocolTests {
    func video(_ split: String, _ label: Int?) -> ManifestVideo {
        ManifestVideo(id: "v", participant: "p", split: split, label: label, frames: "/x", landmarks: nil, line: 2)
    }

    @Test("training No-Pain videos are cut into consecutive segments; others give their first")
    func segments() {
        var p = SegmentProtocol(length: 300, short: .drop)
        #expect(
            p.segments(video("train", 0), frames: 1_799) == [0..<300, 300..<600, 600..<900, 900..<1200, 1200..<1500])
        #expect(p.segments(video("train", 0), frames: 1_800).count == 6)
        #expect(p.segments(video("train", 2), frames: 1_800) == [0..<300])
        #expect(p.segments(video("validation", 0), frames: 1_800) == [0..<300])
        #expect(p.segments(video("test", nil), frames: 300) == [0..<300])
        #expect(p.segments(video("validation", 1), frames: 299).isEmpty)
        #expect(p.neededFrames(video("train", 0), frames: 1_799) == 1_500)
        #expect(p.neededFrames(video("validation", 0), frames: 1_799) == 300)
        p.short = .pad
        #expect(p.segments(video("train", 0), frames: 650) == [0..<300, 300..<600, 600..<650])
        #expect(p.segments(video("validation", 1), frames: 299) == [0..<299])
        #expect(p.segments(video("train", 0), frames: 0).isEmpty)
    }

    @Test("shards cover every video exactly once, whatever N")
    func shards() throws {
        let ids = (0..<2_000).map { "participant\($0 / 24)_video\($0 % 24)" }
        for n in 1...9 {
            let shards = try (0..<n).map { try Shard(index: $0, count: n) }
            var sizes = [Int](repeating: 0, count: n)
            for id in ids {
                let owners = shards.indices.filter { shards[$0].contains(id) }
                #expect(owners.count == 1, "\(id) is in \(owners.count) of \(n) shards")
                sizes[owners[0]] += 1
            }
            // hashing spreads the videos: no shard gets less than half its share
            #expect(sizes.min()! * 2 * n >= ids.count, "shard sizes \(sizes)")
        }
        #expect(try Shard("3/8") == Shard(index: 3, count: 8))
        for bad in ["8/8", "-1/4", "1", "a/b", "0/0"] { #expect(throws: ModelFileError.self) { try Shard(bad) } }
    }

    @Test("manifest rows: quoted fields, relative folders, clear errors naming the line")
    func manifestParsing() throws {
        let d = try scratch("manifest")
        defer { try? FileManager.default.removeItem(at: d) }
        func write(_ s: String) throws -> String {
            let p = d.appendingPathComponent("m.csv").path
            try s.write(toFile: p, atomically: true, encoding: .utf8)
            return p
        }
        let m = try Manifest(
            path: try write(
                """
                video_id,participant,split,label,frames\n\"a,1\",p1,train,no_pain,\"frames/a \
                \"\"x\"\"\"\nb,p2,test,,/abs/b\n
                """
            ))
        #expect(m.videos.map(\.id) == ["a,1", "b"])
        #expect(m.videos[0].frames == d.appendingPathComponent("frames/a \"x\"").path)
        #expect(m.videos[1].frames == "/abs/b" && m.videos[1].label == nil)
        let cases = [
            ("video_id,split,label,frames\n", "missing column(s) participant"),
            ("video_id,participant,split,label,frames\na,p,train,agony,f\n", "line 2: unknown label \"agony\""),
            ("video_id,participant,split,label,frames\na,p,training,no_pain,f\n", "line 2: unknown split"),
            (
                "video_id,participant,split,label,frames\na,p,train,no_pain,f\na,p,train,low_pain,g\n",
                "line 3: duplicate video_id \"a\" (first on line 2)"
            ),
            ("video_id,participant,split,label,frames\n../a,p,train,no_pain,f\n", "cannot be a file name"),
        ]
        // Latin-1 bytes are not UTF-8: said so, not "cannot read"
        let latin = d.appendingPathComponent("latin1.csv")
        try Data("video_id,participant,split,label,frames\nv,Jos".utf8 + [0xE9] + ",train,no_pain,f\n".utf8).write(
            to: latin)
        #expect(throws: ModelFileError.self) { try Manifest(path: latin.path) }
        do { _ = try Manifest(path: latin.path) } catch { #expect("\(error)".contains("not UTF-8 text")) }
        for (text, message) in cases {
            let path = try write(text)
            do {
                _ = try Manifest(path: path, classes: .pain)
                Issue.record("accepted: \(text)")
            } catch {
                #expect("\(error)".contains(message), "\(error)")
                #expect("\(error)".contains(path))
            }
        }
    }

    @Test(
        """
        folders resolve against the manifest's folder with `..` kept, whether the manifest path is relative or \
        absolute
        """
    )
    func relativePaths() throws {
        let d = try scratch("paths")
        defer { try? FileManager.default.removeItem(at: d) }
        try FileManager.default.createDirectory(
            at: d.appendingPathComponent("sets/x"), withIntermediateDirectories: true)
        let abs = d.appendingPathComponent("sets/m.csv").path
        try "video_id,participant,split,label,frames,landmarks\nv,p,train,no_pain,../frames/v,./lm/../lm2/v.csv\n"
            .write(
                toFile: abs, atomically: true, encoding: .utf8)
        // the same file named relative to the current folder, through a detour
        let cwd = FileManager.default.currentDirectoryPath.split(separator: "/")
        let rel = Array(repeating: "..", count: cwd.count).joined(separator: "/") + d.path + "/sets/x/../m.csv"
        for path in [abs, rel] {
            let v = try Manifest(path: path).videos[0]
            #expect(v.frames == d.appendingPathComponent("frames/v").path, "\(path)")
            #expect(v.landmarks == d.appendingPathComponent("sets/lm2/v.csv").path, "\(path)")
        }
    }

    @Test("classes come from the labels: the AI4Pain three by default, else the names in natural order, or as given")
    func classes() throws {
        let d = try scratch("classes")
        defer { try? FileManager.default.removeItem(at: d) }
        func manifest(_ labels: [String], classes: ClassSet? = nil) throws -> Manifest {
            let rows = labels.enumerated().map { "v\($0.offset),p\($0.offset),train,\($0.element),f" }
            let path = d.appendingPathComponent("m.csv").path
            try (["video_id,participant,split,label,frames"] + rows).joined(separator: "\n").write(
                toFile: path, atomically: true, encoding: .utf8)
            return try Manifest(path: path, classes: classes)
        }
        #expect(try manifest(["high_pain", "no_pain", ""]).classes == .pain)
        let pa = try manifest(["PA10", "PA2", "PA0", "PA1", "PA2"])
        #expect(pa.classes.names == ["PA0", "PA1", "PA2", "PA10"] && pa.videos.map(\.label) == [3, 2, 0, 1, 2])
        #expect(pa.videos[0].labelName == "PA10")
        let binary = try manifest(["pain", "no_pain", "pain"], classes: try ClassSet(list: "no_pain,pain"))
        #expect(binary.videos.map(\.label) == [1, 0, 1])
        #expect(throws: ModelFileError.self) { try manifest(["hand", "arm"], classes: .pain) }
        #expect(throws: ModelFileError.self) { try ClassSet(list: "a,a") }
        // the protocol cuts the named class's training videos
        var proto = SegmentProtocol(length: 10, segmentClass: "PA0")
        #expect(
            proto.segments(pa.videos[2], frames: 30).count == 3 && proto.segments(pa.videos[0], frames: 30).count == 1)
        proto.segmentClass = "PA10"
        #expect(proto.segments(pa.videos[0], frames: 30).count == 3)
        // the default segment class (no_pain) is not among these classes: said, not silently no cut
        #expect(
            pa.problem(with: SegmentProtocol())?.contains("--segment-class no_pain is not one of the classes") == true)
        #expect(pa.problem(with: proto) == nil)
    }

    @Test("dataset check finds missing and empty folders and a participant in two splits")
    func check() throws {
        let d = try scratch("check")
        defer { try? FileManager.default.removeItem(at: d) }
        try FileManager.default.createDirectory(
            at: d.appendingPathComponent("empty"), withIntermediateDirectories: true)
        let path = try sampleManifest(in: d, extraRows: ["x1,cap12,validation,low_pain,empty", "x2,p9,test,,nowhere"])
        let c = DatasetCheck(try Manifest(path: path), protocol: SegmentProtocol(length: 20))
        #expect(c.problems.count == 3, "\(c.problems)")
        #expect(c.problems.contains { $0.contains("participant cap12 is in several splits (train, validation)") })
        #expect(c.problems.contains { $0.contains("line 10 (x1)") && $0.contains("holds no JPEG or PNG frames") })
        #expect(c.problems.contains { $0.contains("line 11 (x2)") && $0.contains("does not exist") })
        #expect(c.counts["train"]?["no_pain"]?.segments == 4)
        #expect(c.counts["train"]?["no_pain"]?.frames == 80)
        #expect(c.counts["validation"]?["high_pain"]?.videos == 1)
    }
}
