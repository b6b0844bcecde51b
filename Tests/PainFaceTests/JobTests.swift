import Dataset
import Faces
import Features
import Foundation
import Imaging
import Kernels
import NN
import PainFace
import TestSupport
import Testing
import Training
import Weights

@Suite struct PredictionWriterTests {
    let classes = ["no_pain", "low_pain", "high_pain"]
    let row = PredictionRow(
        video: "a,b", truth: "low_pain", label: "high_pain", probabilities: [0.25, 0.125, 0.625],
        coverage: 0.5, framesUsed: 3, framesTotal: 6)

    @Test("CSV: one per-video schema (evaluation adds true), a per-frame one; quoted fields, empty unknowns")
    func csv() {
        let videos = "video,label,p_no_pain,p_low_pain,p_high_pain,face_coverage,frames_used,frames_total"
        #expect(
            PredictionWriter(classes: classes, columns: .videos).text([row]) == """
                \(videos)
                "a,b",high_pain,0.250000,0.125000,0.625000,0.5000,3,6

                """)
        #expect(
            PredictionWriter(classes: classes, columns: .evaluation).text([row]) == """
                \(videos),true
                "a,b",high_pain,0.250000,0.125000,0.625000,0.5000,3,6,low_pain

                """)
        var frame = PredictionRow(
            video: "v", frame: "f,1.png", frameIndex: 45, label: "", probabilities: [], source: "haar")
        (frame.confidence, frame.box, frame.faces) = (0.86, [10, 20.25, 30, 40], 2)
        #expect(
            PredictionWriter(classes: classes, columns: .frames).text([frame]) == """
                video,frame,timestamp,frame_file,source,confidence,x,y,w,h,faces,label,p_no_pain,p_low_pain,p_high_pain
                v,45,1.5000,"f,1.png",haar,0.8600,10.0,20.2,30.0,40.0,2,,,,

                """)
    }

    @Test("JSON lines: the CSV's columns in its order, the same rounding, null for unknowns")
    func json() throws {
        let w = PredictionWriter(classes: classes, columns: .evaluation, json: true)
        let text = w.text([row])
        #expect(text.hasSuffix("}\n") && text.split(separator: "\n").count == 1)
        #expect(text.hasPrefix(#"{"video":"a,b","label":"high_pain","p_no_pain":0.250000,"#))
        let o = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(Set(o.keys) == Set(w.names))
        #expect(o["true"] as? String == "low_pain" && o["p_high_pain"] as? Double == 0.625)
        #expect(o["frames_used"] as? Int == 3 && o["frames_total"] as? Int == 6 && o["face_coverage"] as? Double == 0.5)
        let none = PredictionRow(video: "v", label: "no_face", probabilities: [])
        let p = try #require(
            try JSONSerialization.jsonObject(with: Data(w.line(none).utf8)) as? [String: Any])
        #expect(p["p_no_pain"] is NSNull && p["true"] is NSNull)
    }
}

@Suite(.serialized) struct FeatureJobTests {
    let ctx = try! ComputeContext(threads: 2)

    func cache(_ dir: URL, faceCrops: Bool) throws -> FeatureCache {
        var o = CropOptions()
        if faceCrops { o.order = [.crop] }
        let cropper = try VideoCropper(options: o, cascadePath: cascadePath())
        let fx = try FeatureExtractor(
            model: repositoryRoot().appendingPathComponent("models/fer-mini-xception").path, context: ctx)
        return try FeatureCache(dir: dir.path, extractor: fx, cropper: cropper)
    }

    @Test("--stride 3: the model sees every third frame, the others hold its features; the key changes")
    func strideHoldsFeatures() throws {
        let d = try scratch("stride")
        defer { try? FileManager.default.removeItem(at: d) }
        let clip = repositoryRoot().appendingPathComponent("samples/frames/cap12_a").path
        let full = try cache(d.appendingPathComponent("k1"), faceCrops: false)
        let e1 = try #require(try full.extract(videoID: "cap12_a", folder: clip).1)
        let strided = try cache(d.appendingPathComponent("k3"), faceCrops: false)
        strided.stride = 3
        let e3 = try #require(try strided.extract(videoID: "cap12_a", folder: clip).1)
        #expect(e1.positions == Array(0..<40) && e3.positions == Array(stride(from: 0, to: 40, by: 3)))
        #expect(e3.stride == 3 && e3.sources == e1.sources)
        // the frames it saw have the features they have without a stride (the same crops)
        let d1 = e1.features.shape[1]
        for (r, f) in e3.positions.enumerated() {
            #expect(
                Array(UnsafeBufferPointer(start: e3.features.data + r * d1, count: d1))
                    == Array(UnsafeBufferPointer(start: e1.features.data + f * d1, count: d1)), "frame \(f)")
        }
        // every frame has a row; frames 4 and 5 hold frame 3's
        let held = try #require(e3.rows(0..<40))
        #expect(held.shape == [40, d1] && e3.heldRows(3..<6) == [1, 1, 1] && e3.heldRows(0..<3) == [0, 0, 0])
        #expect(
            Array(UnsafeBufferPointer(start: held.data + 5 * d1, count: d1))
                == Array(UnsafeBufferPointer(start: e3.features.data + 1 * d1, count: d1)))
        // read back from its file: the stride is in the entry; stride 1 in the same folder re-extracts
        #expect(try strided.load("cap12_a").stride == 3)
        #expect(try strided.extract(videoID: "cap12_a", folder: clip).0 == .skipped)
        strided.stride = 1
        #expect(try strided.extract(videoID: "cap12_a", folder: clip).0 == .extracted)
    }

    @Test(
        """
        a folder of face crops: every frame used whole, features equal the model run on the decoded images; a \
        re-run is up to date
        """
    )
    func faceCrops() throws {
        let out = try scratch("features-job")
        defer { try? FileManager.default.removeItem(at: out) }
        let folder = repositoryRoot().appendingPathComponent("samples/faces/cap13_t005s").path
        let fc = try cache(out, faceCrops: true)
        let job = FeaturesJob(folders: try FolderList([folder]), cache: fc)
        var outcomes: [FeaturesJob.Outcome] = []
        job.run { outcomes.append($0) }
        let e = try #require(outcomes.first?.entry)
        #expect(
            outcomes.first?.upToDate == false && e.positions == Array(0..<9) && Set(e.sources) == ["crop"]
                && e.coverage == 1)
        // the same images straight through the model
        let frames = try ImageIO.listFrames(folder).frames
        let images = try frames.map { try ImageIO.read((folder as NSString).appendingPathComponent($0)) }
        let model = fc.extractor.model
        let direct = try model.forward(
            try Preprocess.tensor(images, spec: model.config.input),
            outputs: [model.config.outputs.features])[model.config.outputs.features]!
        #expect(bitEqual(direct, e.features))
        // the file on disk is a cache entry of the same content
        #expect(try FeatureCache.load(path: fc.path("cap13_t005s")).key == e.key)
        outcomes = []
        job.run { outcomes.append($0) }
        #expect(outcomes.first?.upToDate == true)
        // one changed byte in the features: the entry is not served, it is extracted again
        var bytes = try Data(contentsOf: URL(fileURLWithPath: fc.path("cap13_t005s")))
        bytes[bytes.count - 3] ^= 0x10
        try bytes.write(to: URL(fileURLWithPath: fc.path("cap13_t005s")))
        outcomes = []
        job.run { outcomes.append($0) }
        #expect(
            outcomes.first?.upToDate == false && outcomes.first?.entry.map { bitEqual($0.features, e.features) } == true
        )
    }

    @Test(
        """
        extract over a manifest in process: every video once, then all up to date; feature files read back as a \
        manifest in memory
        """
    )
    func extractThenTrain() throws {
        let d = try scratch("extract-job")
        defer { try? FileManager.default.removeItem(at: d) }
        let manifest = try Manifest(path: try sampleManifest(in: d))
        let proto = SegmentProtocol(length: 20)
        let fc = try cache(d.appendingPathComponent("cache"), faceCrops: false)
        let job = try ExtractJob(
            manifest: manifest, protocol: proto, cache: fc, splits: Set(Manifest.splits), shard: .all)
        var finished: [String] = []
        let s = job.run(events: JobEvents(finished: { p, e in if e == nil { finished.append(p.video) } }))
        #expect(s.extracted == 8 && s.skipped == 0 && s.failed.isEmpty && finished.count == 8)
        #expect(s.frames == job.totalFrames && job.totalFrames == 2 * 40 + 6 * 20)
        // the key hashed while the cropper read each frame equals the one computed by reading them again
        let again = job.run()
        #expect(again.extracted == 0 && again.skipped == 8)
        // the same cache through labels: a manifest in memory, trained and evaluated through the jobs
        let labels = d.appendingPathComponent("labels.csv").path
        try "video,label\ncap12_a,no_pain\ncap12_b,low_pain\ncap12_c,high_pain\n".write(
            toFile: labels, atomically: true, encoding: .utf8)
        let src = try FeatureSource(features: fc.dir, labels: labels, split: "train", sequence: nil)
        #expect(src.manifest.videos.map(\.id) == ["cap12_a", "cap12_b", "cap12_c"] && !src.isManifest)
        var train = TrainJob(kind: .framewise)
        (train.layers, train.options.maxEpochs) = ([16], 2)
        let stem = d.appendingPathComponent("heads/fw").path
        var samples = 0
        let r = try train.run(
            train: src, validation: nil, out: stem, context: ctx, started: { n, _, _, _ in samples = n })
        #expect(r.log.count == 2 && samples == 40 + 20 + 20 && r.dim == 128)
        let head = try Heads.load(stem: stem, context: ctx)
        let evalSource = try FeatureSource(features: fc.dir, labels: labels, split: "validation", sequence: nil)
        let ev = try EvaluateJob.run(head, source: evalSource, split: "validation")
        #expect(ev.rows.count == 3 && ev.evaluation.confusion.joined().reduce(0, +) == 3)
        // a second run with the same data and settings resumes; other settings or labels retrain
        var notes: [String] = []
        let second = try train.run(train: src, validation: nil, out: stem, context: ctx, notice: { notes.append($0) })
        #expect(
            second.resumedEpoch == 2 && second.log.count == 2 && notes.last?.contains("resuming after epoch 2") == true)
        var changed = train
        changed.dropout = 0.1
        let retrained = try changed.run(
            train: src, validation: nil, out: stem, context: ctx, notice: { notes.append($0) })
        #expect(retrained.resumedEpoch == 0 && notes.last?.contains("training afresh") == true, "\(notes)")
        #expect(try Heads.load(stem: stem, context: ctx).config.dropout == 0.1)
        try "video,label\ncap12_a,low_pain\ncap12_b,no_pain\ncap12_c,high_pain\n".write(
            toFile: labels, atomically: true, encoding: .utf8)
        let relabelled = try FeatureSource(features: fc.dir, labels: labels, split: "train", sequence: nil)
        #expect(try changed.run(train: relabelled, validation: nil, out: stem, context: ctx).resumedEpoch == 0)
        var strict = changed
        (strict.options.resume, strict.options.seed) = (.require, 9)
        #expect(throws: ModelFileError.self) {
            _ = try strict.run(train: relabelled, validation: nil, out: stem, context: ctx)
        }
        // --force starts over even from a damaged checkpoint; --resume with nothing to resume refuses
        var ck = try Data(contentsOf: URL(fileURLWithPath: stem + ".checkpoint.safetensors"))
        ck[ck.count - 2] ^= 0x40
        try ck.write(to: URL(fileURLWithPath: stem + ".checkpoint.safetensors"))
        var force = changed
        force.options.resume = .never
        #expect(try force.run(train: relabelled, validation: nil, out: stem, context: ctx).resumedEpoch == 0)
        var nothing = changed
        nothing.options.resume = .require
        #expect(throws: ModelFileError.self) {
            _ = try nothing.run(train: relabelled, validation: nil, out: stem + "-none", context: ctx)
        }
        let record = try #require(try Heads.load(stem: stem, context: ctx).config.trainedOn)
        #expect(record.samplesPerClass == ["no_pain": 20, "low_pain": 40, "high_pain": 20] && record.videos == 3)
        #expect(record.sourceSha256?.count == 64)

        // two and seven classes named by the labels, through train and evaluate
        for (k, kind) in [(2, HeadKind.lstm), (7, .framewise)] {
            let ids = ["cap12_a", "cap12_b", "cap12_c", "cap13_a", "cap13_b", "cap13_c", "wolfgang_a", "wolfgang_b"]
            let names = (0..<k).map { "level\($0)" }
            let rows = ids.enumerated().map { "\($0.element),\(names[$0.offset % k])" }
            let path = d.appendingPathComponent("labels-\(k).csv").path
            try (["video,label"] + rows).joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            let source = try FeatureSource(
                features: fc.dir, labels: path, split: "train", sequence: kind == .lstm ? 20 : nil)
            #expect(source.manifest.classes.names == names)
            var job = TrainJob(kind: kind)
            (job.layers, job.options.maxEpochs, job.sequenceLength) = (kind == .lstm ? [8, 4, 8] : [16], 2, 20)
            let out = d.appendingPathComponent("heads/\(k)").path
            _ = try job.run(train: source, validation: nil, out: out, context: ctx)
            let h = try Heads.load(stem: out, context: ctx)
            #expect(h.config.classes == names)
            let eval = try FeatureSource(
                features: fc.dir, labels: path, split: "validation", sequence: nil, classes: ClassSet(names))
            let r = try EvaluateJob.run(h, source: eval, split: "validation")
            #expect(r.evaluation.confusion.count == k && r.evaluation.confusion.joined().reduce(0, +) == ids.count)
            #expect(r.report.markdown.contains("precision " + names.joined(separator: " / ") + " / avg"))
        }
        // an lstm's sequence longer than a video's rows, and features of another length than the head's
        let long = try FeatureSource(features: fc.dir, labels: labels, split: "train", sequence: 50)
        #expect(throws: ModelFileError.self) {
            _ = try TrainJob(kind: .lstm).run(train: long, validation: nil, out: stem + "-lstm", context: ctx)
        }
        do {
            _ = try TrainJob(kind: .lstm).run(train: long, validation: nil, out: stem + "-lstm", context: ctx)
        } catch {
            #expect("\(error)".contains("cap12_a.safetensors: 40 frames, the sequence length is 50"), "\(error)")
        }
        let other = d.appendingPathComponent("other").path
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        let f = try SafeTensorsFile(path: fc.path("cap12_a"))
        try SafeTensorsWriter.write(
            [("features", Tensor(shape: [40, 7]))], to: other + "/cap12_a.safetensors", metadata: f.metadata)
        let narrow = try FeatureSource(features: other, labels: nil, split: "test", sequence: nil)
        #expect(throws: ModelFileError.self) { _ = try SplitPredictor.predict(head, source: narrow, split: "test") }
        do { _ = try SplitPredictor.predict(head, source: narrow, split: "test") } catch {
            #expect("\(error)".contains("7 features, the head takes 128"), "\(error)")
        }
    }
}

@Suite struct HeadValidationTests {
    @Test("heads with impossible settings or non-finite weights are refused at load, naming the file")
    func refused() throws {
        let d = try scratch("heads")
        defer { try? FileManager.default.removeItem(at: d) }
        let ctx = try ComputeContext(threads: 1)
        let config = Heads.Config(
            head: .lstm, features: 4, layers: [4, 2, 4], dropout: 0.3, sequenceLength: 5,
            classes: ["a", "b"])
        let stem = d.appendingPathComponent("h").path
        try Heads.save(try Heads.make(config, context: ctx), config: config, stem: stem)
        #expect(try Heads.load(stem: stem, context: ctx).config.sequenceLength == 5)
        func refusal(_ edit: (inout Heads.Config) -> Void) throws -> String {
            var c = config
            edit(&c)
            try Heads.save(try Heads.make(config, context: ctx), config: c, stem: stem)
            do { _ = try Heads.load(stem: stem, context: ctx); return "" } catch { return "\(error)" }
        }
        #expect(try refusal { $0.sequenceLength = 0 }.contains("h.json: sequence_length 0"))
        #expect(try refusal { $0.classes = ["a"] }.contains("two or more distinct classes"))
        #expect(try refusal { $0.layers = [4, 2, 1_000_000_000] }.contains("layer size 1000000000"))
        // a NaN weight
        try Heads.save(try Heads.make(config, context: ctx), config: config, stem: stem)
        let f = try SafeTensorsFile(path: stem + ".safetensors")
        let tensors = try f.tensorNames.map { ($0, try f.tensor($0)) }
        tensors[0].1.data[0] = .nan
        try SafeTensorsWriter.write(tensors, to: stem + ".safetensors")
        #expect(throws: ModelFileError.self) { try Heads.load(stem: stem, context: ctx) }
    }
}
