import Dataset
import Faces
import Features
import Foundation
import Imaging
import Kernels
import NN
import Saliency
import Training
import Weights

/// One frame's map in `painface explain`.
public struct ExplainedFrame: Codable, Sendable {
    public var frame: Int
    public var frameFile: String
    public var timestamp: Double
    public var className: String
    /// The class's logit (the map's score) and its probability.
    public var score: Float
    public var confidence: Float
    /// The overlay's file name in the video's folder.
    public var image: String
}

/// What `painface explain` wrote for one video (its folder's explain.json).
public struct ExplainedVideo: Codable, Sendable {
    public var format = "painface-explain/1"
    public var key: String
    public var video: String
    public var source: String
    public var model: String
    public var head: String?
    public var layer: String
    public var method: String
    /// The video's label (the head's vote or window class, or the most frequent own class).
    public var label: String
    public var classes: [String]
    public var coverage: Double
    public var framesTotal: Int
    public var frames: [ExplainedFrame]
    /// Seconds the maps took per explained frame (forward and backward), not counting the
    /// feature extraction shared with `infer`.
    public var secondsPerFrame: Double

    /// The explain.json in `folder`, if it is one this command wrote.
    static func read(folder: String) -> ExplainedVideo? {
        let dec = JSONDecoder()
        dec.keyDecodingStrategy = .convertFromSnakeCase
        guard let d = FileManager.default.contents(atPath: folder + "/explain.json") else { return nil }
        return try? dec.decode(ExplainedVideo.self, from: d)
    }

    /// Writes explain.json into `folder` atomically.
    func write(folder: String) throws {
        let enc = JSONEncoder()
        enc.keyEncodingStrategy = .convertToSnakeCase
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try enc.encode(self), to: folder + "/explain.json")
    }
}

/// `painface explain`: Grad-CAM maps of the frames that drove a head's (or the feature
/// model's own) decision, per video, with a report. Features come from the same cache as
/// `infer`; each video's folder is written whole or not at all and kept when re-run with the
/// same settings.
public final class ExplainJob {
    public let folders: FolderList
    public let head: LoadedHead?
    public let extractor: FeatureExtractor
    public let cache: FeatureCache
    public let out: String
    public let classes: [String]
    public var method = SaliencyMethod.gradCAM
    /// The layer of the maps (default: the last spatial layer the score depends on).
    public var layer: String?
    /// A class to explain in every frame (default: each frame's own top class; lstm: the window's).
    public var targetClass: String?
    /// Frames shown per video.
    public var framesPerVideo = 8
    public var force = false
    public var landmarks: (String) -> String? = { _ in nil }
    /// Details (-v) and warnings, for the command line.
    public var detail: (String) -> Void = { _ in }
    public var warn: (String) -> Void = { _ in }

    var model: Model { extractor.model }
    /// The output the score is read from: the head's input (features) or the model's logits.
    let scoreOutput: String
    public let mapLayer: String
    /// The head's files' content hashes (part of every video's key).
    let headHashes: [String]

    public init(
        folders: FolderList, head: LoadedHead?, extractor: FeatureExtractor, cache: FeatureCache, out: String,
        layer: String? = nil
    ) throws {
        (self.folders, self.head, self.extractor, self.cache, self.out) = (folders, head, extractor, cache, out)
        headHashes =
            try head.map { h in
                try [".json", ".safetensors"].map {
                    ContentHash.hex(ContentHash.hash64(try Data(contentsOf: URL(fileURLWithPath: h.stem + $0))))
                }
            } ?? []
        let m = extractor.model
        if head != nil {
            scoreOutput = m.config.outputs.features
            classes = head!.config.classes
        } else {
            guard let p = m.config.outputs.probabilities, let names = m.config.classes else {
                throw JobError("\(m.config.name) has no classifier of its own: give --head")
            }
            scoreOutput = m.logits(of: p)
            classes = names
        }
        let candidates = m.spatialLayers(leadingTo: scoreOutput)
        if let layer {
            guard candidates.contains(layer) else {
                throw JobError(
                    "--layer \(layer): not a spatial layer the score depends on; choose one of "
                        + candidates.suffix(8).joined(separator: ", "))
            }
            mapLayer = layer
        } else {
            guard let last = candidates.last else { throw JobError("\(m.config.name) has no spatial layer to map") }
            mapLayer = last
        }
    }

    /// The settings a video's maps depend on (with its feature entry's key).
    func key(_ entry: CacheEntry) -> String {
        let parts =
            [entry.key, extractor.modelHash, mapLayer, method.rawValue, targetClass ?? "", "\(framesPerVideo)"]
            + headHashes
        return ContentHash.hex(ContentHash.hash64(Data(parts.joined(separator: "\n").utf8)))
    }

    /// Every folder in order; a folder that fails is reported through `events` and left out.
    public func run(events: JobEvents = JobEvents()) -> (videos: [ExplainedVideo], failed: Int) {
        var loop = VideoLoop(
            cache: cache, totalFrames: folders.totalFrames, events: JobEvents(progress: events.progress))
        var done: [ExplainedVideo] = [], failed = 0
        for (i, (folder, id)) in zip(folders.folders, folders.ids).enumerated() {
            var error: Error?
            switch loop.run(
                id: id, folder: folder, landmarks: landmarks(folder), force: force, frames: folders.frameCounts[i])
            {
            case .success((_, let entry?)):
                do { done.append(try explain(id: id, folder: folder, entry: entry)) } catch let e { error = e }
            case .success: break
            case .failure(let e): error = e
            }
            if error != nil { failed += 1 }
            events.finished(
                loop.state, error.map { "\($0)".hasPrefix(folder) ? $0 : ModelFileError(folder, "\($0)") })
        }
        do { try ExplainReport.writeIndex(out: out) } catch { warn("\(out)/index.html: \(error)") }
        return (done, failed)
    }

    /// Rows to explain with their classes and confidences, and the seed of each row's score.
    struct Plan {
        var rows: [Int], classes: [Int], confidence: [Float]
        var label: String
        /// d score / d features per chosen row, when known before the forward pass (lstm),
        /// and the window's logit
        var featureGradients: Tensor?
        var windowScore: Float?
        /// per covered frame: the probability of each class (framewise, own) or the frame's
        /// weight in the window's score (lstm), for the plot
        var curve: [[Float]]
        var curveNames: [String]
    }

    func plan(_ e: CacheEntry) throws -> Plan {
        let n = e.positions.count
        guard n > 0 else { throw JobError("no frame with a face: nothing to explain") }
        let want = try targetClass.map { name -> Int in
            guard let c = classes.firstIndex(of: name) else {
                throw JobError("--class \(name): not one of \(classes.joined(separator: ", "))")
            }
            return c
        }
        let k = classes.count
        func rank(_ score: [Float]) -> [Int] {
            Array(
                score.indices.sorted { score[$0] > score[$1] || (score[$0] == score[$1] && $0 < $1) }
                    .prefix(framesPerVideo)
            ).sorted()
        }
        if let h = head, h.config.head == .lstm {
            let s = h.config.sequenceLength ?? SegmentProtocol.defaultLength, d = e.features.shape[1]
            let x = Heads.window(e.features, config: h.config)
            let p = try h.model.predict(x).array
            let c = want ?? p.indices.max { p[$0] < p[$1] }!
            let (z, g) = try h.model.logitGradient(x, classes: [c])
            // a short video's padding repeats its last frame: their gradients are that frame's
            let used = min(n, s)
            for r in used..<max(s, used) {
                for j in 0..<d { g.data[(used - 1) * d + j] += g.data[r * d + j] }
            }
            let weight = (0..<used).map { r in
                Float((0..<d).reduce(0.0) { $0 + Double(g.data[r * d + $1] * g.data[r * d + $1]) }.squareRoot())
            }
            let rows = rank(weight)
            let fg = Tensor(shape: [rows.count, d])
            for (j, r) in rows.enumerated() { (fg.data + j * d).update(from: g.data + r * d, count: d) }
            let top = weight.max() ?? 1
            return Plan(
                rows: rows, classes: rows.map { _ in c }, confidence: rows.map { _ in p[c] },
                label: classes[p.indices.max { p[$0] < p[$1] }!],
                featureGradients: fg, windowScore: z.data[c], curve: weight.map { [$0 / max(top, 1e-30)] },
                curveNames: ["weight in the window's \(classes[c]) score"])
        }
        let probs: Tensor
        if let h = head {
            probs = try Heads.framewiseProbabilities(h.model, features: e.features)
        } else {
            guard let p = e.probabilities else { throw JobError("the cache entry holds no class probabilities") }
            probs = p
        }
        let rowsP = (0..<n).map { Array(probs.buffer[($0 * k)..<(($0 + 1) * k)]) }
        let cls = rowsP.map { r in want ?? r.indices.max { r[$0] < r[$1] }! }
        let conf = (0..<n).map { rowsP[$0][cls[$0]] }
        let rows = rank(conf)
        let label = majorityVote(rowsP).map { classes[$0] } ?? classes[0]
        return Plan(
            rows: rows, classes: rows.map { cls[$0] }, confidence: rows.map { conf[$0] }, label: label,
            featureGradients: nil, curve: rowsP, curveNames: classes.map { "p(\($0))" })
    }

    /// The maps of `images` (the plan's rows), their scores and the seconds per map.
    func maps(_ images: [RGBImage], plan: Plan) throws -> (cams: ClassActivationMaps, scores: [Float], seconds: Double)
    {
        let t0 = monotonicSeconds()
        var parts: [ClassActivationMaps] = [], scores: [Float] = []
        // in chunks: the backward pass keeps every activation from the layer on
        for start in stride(from: 0, to: images.count, by: model.maxBatchChunk) {
            let range = start..<min(start + model.maxBatchChunk, images.count)
            let x = try Preprocess.tensor(Array(images[range]), spec: model.config.input)
            let classes = Array(plan.classes[range])
            let r = try model.gradient(x, layer: mapLayer, output: scoreOutput) { out in
                if let g = plan.featureGradients {
                    // the window's score, its gradient through the LSTM taken per frame
                    let d = g.shape[1], rows = Tensor(uninitialized: [range.count, d])
                    rows.data.update(from: g.data + range.lowerBound * d, count: range.count * d)
                    scores += range.map { _ in plan.windowScore ?? 0 }
                    return rows
                }
                if let h = head {
                    let (logits, g) = try h.model.logitGradient(out, classes: classes)
                    let k = logits.count / classes.count
                    scores += classes.enumerated().map { logits.data[$0.offset * k + $0.element] }
                    return g
                }
                let k = out.count / classes.count, seed = Tensor(shape: out.shape)
                for (i, c) in classes.enumerated() {
                    seed.data[i * k + c] = 1
                    scores.append(out.data[i * k + c])
                }
                return seed
            }
            parts.append(ClassActivationMaps(activation: r.activation, gradient: r.gradient, method: method))
        }
        return (ClassActivationMaps(concatenating: parts), scores, (monotonicSeconds() - t0) / Double(images.count))
    }

    /// Maps and pages of one video from its cache entry, into OUT/<id>; `label` replaces the
    /// video's label on its page.
    public func explain(id: String, folder: String, entry e: CacheEntry, label: String? = nil) throws -> ExplainedVideo
    {
        let dir = (out as NSString).appendingPathComponent(id)
        let key = self.key(e)
        let fm = FileManager.default
        let old = (out as NSString).appendingPathComponent(".\(id).old")
        // a swap cut short by a crash left the previous pages aside: put them back first
        if !fm.fileExists(atPath: dir), fm.fileExists(atPath: old) { try fm.moveItem(atPath: old, toPath: dir) }
        let here = URL(fileURLWithPath: dir).standardizedFileURL.resolvingSymlinksInPath().path
        if here == URL(fileURLWithPath: folder).standardizedFileURL.resolvingSymlinksInPath().path {
            throw JobError("\(dir) is the input itself: give another --out")
        }
        if fm.fileExists(atPath: dir) {
            // only a folder this command wrote is ever replaced, even with --force
            guard let previous = ExplainedVideo.read(folder: dir) else {
                throw JobError("\(dir) exists and was not written by painface explain: give another --out")
            }
            if previous.key == key, !force {
                detail("\(id): maps up to date in \(dir)")
                return previous
            }
            if !force {
                throw JobError(
                    "\(dir) holds maps made with other settings or inputs; give --force to replace them or another "
                        + "--out")
            }
        }
        var plan = try self.plan(e)
        if let label { plan.label = label }
        let positions = plan.rows.map { e.positions[$0] }
        // crop again, keeping the chosen frames and a contact sheet's worth of thumbnails
        let sheet = Set(ExplainReport.sheetPositions(frames: e.frames.count))
        var crops: [Int: RGBImage] = [:], thumbs: [Int: RGBImage] = [:]
        let wanted = Set(positions)
        let lm = try landmarks(folder).map { try VideoLandmarks(path: $0, frames: e.frames) }
        _ = try cache.cropper.run(folder: folder, frames: e.frames, landmarks: lm) { i, _, img in
            guard let img else { return }
            if wanted.contains(i) { crops[i] = img }
            if sheet.contains(i) { thumbs[i] = Heatmap.resized(img, width: 96, height: 96) }
        }
        let images = try positions.map { p -> RGBImage in
            guard let c = crops[p] else {
                throw JobError("frame \(e.frames[p]): its face crop changed since extraction")
            }
            return c
        }
        let computed = images.isEmpty ? nil : try maps(images, plan: plan)
        let seconds = computed?.seconds ?? 0
        // write into a partial folder, then swap it in whole
        let partial = (out as NSString).appendingPathComponent(".\(id).partial")
        try? fm.removeItem(atPath: partial)
        try fm.createDirectory(atPath: partial, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: partial) }
        var framesOut: [ExplainedFrame] = []
        var overlays: [RGBImage] = [], meanImage: RGBImage?
        if let computed {
            let (ch, cw) = (images[0].height, images[0].width)
            let maps = computed.cams.normalised(height: ch, width: cw)
            for (j, p) in positions.enumerated() {
                let img = Heatmap.overlay(maps.data + j * ch * cw, width: cw, height: ch, on: images[j])
                overlays.append(img)
                let name = String(format: "frame_%06d.png", p)
                try ImageIO.encodePNG(img).write(to: URL(fileURLWithPath: partial + "/" + name))
                framesOut.append(
                    ExplainedFrame(
                        frame: p, frameFile: e.frames[p], timestamp: Double(p) / e.fps,
                        className: self.classes[plan.classes[j]], score: computed.scores[j],
                        confidence: plan.confidence[j], image: name))
            }
            let meanMap = Tensor(shape: [ch, cw])
            for j in 0..<positions.count {
                for q in 0..<(ch * cw) { meanMap.data[q] += maps.data[j * ch * cw + q] / Float(positions.count) }
            }
            let mean = Heatmap.overlay(meanMap.data, width: cw, height: ch, on: Heatmap.mean(images) ?? images[0])
            try ImageIO.encodePNG(mean).write(to: URL(fileURLWithPath: partial + "/mean.png"))
            meanImage = mean
            try SafeTensorsWriter.write(
                [("maps", computed.cams.maps), ("weights", computed.cams.weights)], to: partial + "/maps.safetensors",
                metadata: [
                    "frames": positions.map(String.init).joined(separator: ","), "layer": mapLayer,
                    "method": method.rawValue,
                ])
        }
        let video = ExplainedVideo(
            key: key, video: id, source: folder, model: model.config.name, head: head?.stem,
            layer: computed == nil ? "" : mapLayer, method: computed == nil ? "" : method.rawValue, label: plan.label,
            classes: self.classes, coverage: e.coverage, framesTotal: e.frames.count, frames: framesOut,
            secondsPerFrame: seconds)
        var csv = ["video,frame,timestamp,frame_file,class,score,confidence,image"]
        for f in framesOut {
            csv.append(
                [
                    id, "\(f.frame)", String(format: "%.3f", f.timestamp), f.frameFile, f.className, "\(f.score)",
                    "\(f.confidence)", f.image,
                ].map(CSV.escape).joined(separator: ","))
        }
        try Data((csv.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: partial + "/saliency.csv"))
        let sources = e.frames.indices.map { i in i < e.sources.count ? e.sources[i] : "" }
        let page = ExplainReport.videoPage(
            video, overlays: overlays, mean: meanImage, thumbs: thumbs, sources: sources, fps: e.fps,
            curve: plan.curve, curveNames: plan.curveNames, curvePositions: e.positions)
        try Data(page.utf8).write(to: URL(fileURLWithPath: partial + "/index.html"))
        try video.write(folder: partial)
        // the previous pages stay aside until the new ones are in: a failed move puts them back
        try? fm.removeItem(atPath: old)
        if fm.fileExists(atPath: dir) { try fm.moveItem(atPath: dir, toPath: old) }
        do { try fm.moveItem(atPath: partial, toPath: dir) } catch {
            if fm.fileExists(atPath: old) { try? fm.moveItem(atPath: old, toPath: dir) }
            throw error
        }
        try? fm.removeItem(atPath: old)
        detail("\(id): \(positions.count) maps at \(mapLayer), \(String(format: "%.0f", seconds * 1e3)) ms per frame")
        return video
    }
}
