import ArgumentParser
import Foundation
import Kernels
import NN
import PainFace
import Weights
import Imaging

/// Prints a one-line error and exits non-zero (no stack traces for bad input).
struct Failure: Error, CustomStringConvertible {
    let description: String
}

func fail(_ error: Error) -> Failure { Failure(description: "\(error)") }

func stderrLine(_ s: String, terminator: String = "\n") {
    FileHandle.standardError.write(Data((s + terminator).utf8))
}

struct ComputeOptions: ParsableArguments {
    @Option(help: "Worker threads (0 = one per CPU). Results do not depend on it.")
    var threads = 0
    @Option(help: "Instruction set: scalar, avx2, avx512 or neon (default: the best this CPU has).")
    var isa: String?

    func context() throws -> ComputeContext {
        var chosen = ISA.best
        if let isa {
            guard let i = ISA(name: isa) else { throw Failure(description: "unknown --isa \(isa) (scalar, avx2, avx512, neon)") }
            guard i.isSupported else { throw Failure(description: "this CPU cannot run --isa \(isa)") }
            chosen = i
        }
        return try ComputeContext(isa: chosen, threads: threads)
    }
}

@main
struct PainFaceCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "painface",
        abstract: "Pain recognition from facial video: face crops -> CNN features -> classifiers.",
        version: PainFaceInfo.version,
        subcommands: [DatasetCommand.self, ExtractCommand.self, InferCommand.self, CropCommand.self, FeaturesCommand.self, TrainCommand.self, EvaluateCommand.self, PredictCommand.self, BenchCommand.self, ModelsCommand.self],
        defaultSubcommand: nil)
}

struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "Extract per-frame features from folders of face crops.",
        discussion: """
        Writes OUT/<folder>.safetensors per folder: `features` [frames, dim] float32 (and \
        `probabilities` when the model has a classifier); the frame names, unreadable frames, \
        the model's SHA-256 and the PainFace version are in the metadata. A folder whose \
        output is already up to date is skipped, so an interrupted run resumes.
        """)

    @Option(help: "Model: a bundled name (see `painface models`) or a path to a .json/.safetensors pair.")
    var model = ModelStore.defaultModel
    @Argument(help: "Folders of face crops (JPEG or PNG).")
    var folders: [String]
    @Option(help: "Output folder.")
    var out: String
    @Option(help: "Frames per forward pass.")
    var batch = 8
    @Flag(help: "Store features as float16.")
    var float16 = false
    @Flag(help: "Recompute folders whose output is up to date.")
    var force = false
    @Flag(help: "The folders hold raw video frames: crop each face first (see `painface crop` for the settings).")
    var crop = false
    @OptionGroup var cropSettings: CropOptionGroup
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        guard batch > 0 else { throw Failure(description: "--batch must be positive") }
        do {
            let ctx = try compute.context()
            let fx = try FeatureExtractor(model: model, context: ctx)
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            var opts = FeatureOptions()
            opts.batch = batch
            stderrLine("model \(fx.model.config.name) (\(fx.model.featureDimension) features, sha256 \(fx.modelHash.prefix(12))), \(ctx.isa), \(ctx.threads) threads")
            let cropper = crop ? try VideoCropper(options: try cropSettings.options()) : nil
            var names = Set<String>()
            var failedFolders = 0
            for dir in folders {
                let name = URL(fileURLWithPath: dir).standardized.lastPathComponent
                guard names.insert(name).inserted else {
                    throw Failure(description: "\(dir): two input folders are named \(name); their outputs would collide")
                }
                let path = (out as NSString).appendingPathComponent(name + ".safetensors")
                if !force && fx.isUpToDate(path, folder: dir) {
                    stderrLine("\(name): up to date, skipped")
                    continue
                }
                let t0 = monotonicSeconds()
                let r: FolderFeatures
                do {
                    let tty = isatty(2) != 0
                    let lm = crop ? try cropSettings.landmarks(for: dir, frames: try ImageIO.listFrames(dir).frames, several: folders.count > 1) : nil
                    r = try fx.run(folder: dir, options: opts, cropper: cropper, landmarks: lm) { done, total in
                        if tty { stderrLine("\r\(name): \(done)/\(total) frames", terminator: "") }
                    }
                } catch {
                    stderrLine("\nerror: \(error)")
                    failedFolders += 1
                    continue
                }
                try fx.write(r, folder: dir, to: path, dtype: float16 ? .f16 : .f32)
                let dt = monotonicSeconds() - t0
                var line = "\r\(name): \(r.frames.count) frames in \(String(format: "%.2f", dt)) s (\(String(format: "%.1f", Double(r.frames.count) / max(dt, 1e-9))) frames/s) -> \(path)"
                if let c = r.coverage { line += String(format: "; face coverage %.1f%%", 100 * c) }
                if !r.unreadable.isEmpty { line += "; \(r.unreadable.count) unreadable: " + r.unreadable.prefix(3).map { "\($0.file) (\($0.reason))" }.joined(separator: ", ") }
                if r.otherFiles > 0 { line += "; \(r.otherFiles) other files ignored" }
                stderrLine(line)
                if let probs = r.probabilities, let classes = fx.model.config.classes, r.frames.count > 0 {
                    // a one-line summary: the class most often on top
                    let sum = TopClassSummary(probs, rows: r.frames.count)
                    print("\(name)\t\(r.frames.count) frames\tmost frequent: \(classes[sum.top]) (\(sum.counts[sum.top])/\(r.frames.count))")
                } else {
                    print("\(name)\t\(r.frames.count) frames\t\(path)")
                }
            }
            if failedFolders > 0 { throw Failure(description: "\(failedFolders) folder(s) failed; the others were written") }
        } catch let e as Failure {
            throw e
        } catch {
            throw fail(error)
        }
    }
}

struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "List the bundled models.")
    @Flag(help: "JSON output.")
    var json = false
    @Option(help: "Write the paper's VGG16-GAP-FC1024 architecture with seeded random weights to STEM.json/.safetensors (to measure speed before you have trained weights; its features mean nothing).")
    var writeRandomVgg16: String?

    func run() throws {
        if let stem = writeRandomVgg16 {
            let config = Architectures.vgg16GapFc1024()
            try SafeTensorsWriter.write(try Architectures.randomWeights(for: config), to: stem + ".safetensors")
            try AtomicFile.write(try config.encoded(), to: stem + ".json")
            print("wrote \(stem).json and \(stem).safetensors (random weights)")
            return
        }
        let ctx = try ComputeContext(isa: .best, threads: 1)
        var rows: [[String: Any]] = []
        for (name, stem) in ModelStore.bundled() {
            do {
                let m = try Model(path: stem, context: ctx)
                let c = m.config
                let params = try SafeTensorsFile(path: stem + ".safetensors").entries.values.reduce(0) { $0 + $1.shape.reduce(1, *) }
                rows.append(["name": name, "path": stem, "input": "\(c.input.height)x\(c.input.width)x\(c.input.channels) \(c.input.color)",
                             "features": m.featureDimension, "classes": c.classes ?? [], "parameters": params,
                             "gflops_per_image": m.flopsPerItem * 1e-9])
            } catch {
                rows.append(["name": name, "path": stem, "error": "\(error)"])
            }
        }
        if json {
            print(String(decoding: try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
            return
        }
        for r in rows {
            if let e = r["error"] { print("\(r["name"]!)\tERROR \(e)"); continue }
            let classes = (r["classes"] as! [String]).joined(separator: ",")
            print("\(r["name"]!)\tinput \(r["input"]!)\tfeatures \(r["features"]!)\tparameters \(r["parameters"]!)\t"
                  + String(format: "%.3f GFLOP/image", r["gflops_per_image"] as! Double)
                  + (classes.isEmpty ? "" : "\tclasses \(classes)") + "\t\(r["path"]!)")
        }
    }
}

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark the kernels and the extractors on this machine.",
        discussion: "Prints time, GFLOPS and % of this machine's measured FMA peak per kernel and per model, and the peak RSS.")

    @Flag(help: "Fewer repetitions and no VGG16 per-layer table: a smoke test, not a measurement.")
    var quick = false
    @Option(help: "What to run: comma-separated of gemm, elementwise, vgg16, mini-xception, training.")
    var only = "gemm,elementwise,vgg16,mini-xception"
    @Option(help: "VGG16 batch sizes.")
    var vggBatches = "1,8"
    @Option(help: "Write the rows as JSON to this file.")
    var json: String?
    @Flag(help: "Serve ../shared/anchors requests on stdin (JSON lines) instead: PainFace as a peer.")
    var serve = false
    @Option(help: "With --serve: the folder written by bench_a_vgg.py --export-weights.")
    var weights: String?
    @Option(parsing: .upToNextOption, help: "Video frame folders: measure face cropping speed (one thread) instead.")
    var faces: [String] = []
    @Option(parsing: .upToNextOption, help: "Folders of photographs with .pts landmark files: measure detection accuracy instead.")
    var landmarkPhotos: [String] = []
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        do {
            var compute = compute
            if serve, compute.threads == 0, let t = ProcessInfo.processInfo.environment["ANCHORS_THREADS"], let n = Int(t) {
                compute.threads = n
            }
            let ctx = try compute.context()
            if serve {
                AnchorPeer(ctx: ctx, weightsDir: weights).serve()
                return
            }
            if !faces.isEmpty || !landmarkPhotos.isEmpty {
                let cascade = try ModelStore.resolveFile("haarcascade_frontalface_default.xml")
                for f in faces {
                    let s = try FaceBench.speed(folder: f, cascadePath: cascade)
                    print(String(format: "%@\t%d frames\tHaar + tracking crop %.1f frames/s\tlandmark crop %.1f frames/s\tMTCNN crop %.1f frames/s\tcoverage %.1f%%",
                                 s.video, s.frames, s.trackingFPS, s.landmarkFPS, s.mtcnnFPS, 100 * s.coverage))
                }
                if !landmarkPhotos.isEmpty {
                    let haar = HaarDetector(cascade: try HaarCascade(contentsOf: cascade))
                    let mtcnn = try MTCNN(context: try ComputeContext(threads: 1))
                    let detectors: [(String, (RGBImage) throws -> [FaceBox])] = [
                        ("Haar", { haar.detect(GrayImage($0)) }),
                        ("MTCNN", { try mtcnn.detect($0).map { f in
                            FaceBox(x: Int(f.box.x1), y: Int(f.box.y1), w: Int(f.box.x2 - f.box.x1), h: Int(f.box.y2 - f.box.y1)) } }),
                    ]
                    for (name, detect) in detectors {
                        let a = try FaceBench.accuracy(folders: landmarkPhotos, detect: detect)
                        print(String(format: "%@ accuracy: %d of %d faces found (%.1f%%), median IoU %.3f, %.2f s detecting (one thread)",
                                     name, a.found, a.faces, 100 * Double(a.found) / Double(max(a.faces, 1)), a.medianIoU, a.seconds))
                    }
                }
                print(String(format: "peak RSS %.1f MB", ProcessStats.peakRSSMB))
                return
            }
            let parts = Set(only.split(separator: ",").map(String.init))
            var b = PainFace.Bench(ctx: ctx, repeats: quick ? 1 : 5, peakSeconds: quick ? 0.1 : 0.5)
            print("painface \(PainFaceInfo.version) bench: \(ctx.isa), \(ctx.threads) threads, measured FMA peak \(String(format: "%.1f", b.peak)) GFLOPS")
            if parts.contains("gemm") { try b.gemm() }
            if parts.contains("training") { try b.training(framewiseSteps: quick ? 20 : 300, lstmSequences: quick ? 32 : 1230) }
            if parts.contains("elementwise") { b.elementwise() }
            if parts.contains("mini-xception") {
                let m = try Model(path: try ModelStore.resolve(ModelStore.defaultModel), context: ctx)
                try b.model(m, batch: 32, perLayer: false)
            }
            if parts.contains("vgg16") {
                let config = Architectures.vgg16GapFc1024()
                let w = try Architectures.randomWeights(for: config)
                let st = try SafeTensorsFile(data: try SafeTensorsWriter.encode(w), path: "vgg16-random")
                let m = try Model(config: config, weights: st, context: ctx)
                for (i, bs) in vggBatches.split(separator: ",").compactMap({ Int($0) }).enumerated() {
                    try b.model(m, batch: bs, perLayer: i == 0 && !quick)
                }
            }
            print(String(repeating: "-", count: 96))
            var header = "group".padding(toLength: 12, withPad: " ", startingAt: 0)
            header += "name".padding(toLength: 44, withPad: " ", startingAt: 0)
            print(header + "ms".leftPad(10) + "GFLOPS".leftPad(9) + "% peak".leftPad(8) + "  other")
            for r in b.rows {
                var line = r.group.padding(toLength: 12, withPad: " ", startingAt: 0)
                line += r.name.padding(toLength: 44, withPad: " ", startingAt: 0)
                line += String(format: "%.3f", r.seconds * 1e3).leftPad(10)
                line += (r.gflops.map { String(format: "%.1f", $0) } ?? "-").leftPad(9)
                line += (r.percentOfPeak.map { String(format: "%.0f%%", $0) } ?? "-").leftPad(8)
                print(line + "  " + (r.throughput ?? ""))
            }
            print(String(format: "peak RSS %.1f MB", ProcessStats.peakRSSMB))
            print("GFLOPS count 2 FLOPs per multiply-add of a direct convolution or matrix product, so Winograd layers can exceed 100% of the FMA peak.")
            if let json {
                let e = JSONEncoder()
                e.outputFormatting = [.prettyPrinted, .sortedKeys]
                let doc = BenchReport(isa: "\(ctx.isa)", threads: ctx.threads, peakGflops: b.peak,
                                      peakRssMb: ProcessStats.peakRSSMB, rows: b.rows)
                try AtomicFile.write(try e.encode(doc), to: json)
            }
        } catch let e as Failure {
            throw e
        } catch {
            throw fail(error)
        }
    }
}

struct BenchReport: Codable {
    var isa: String
    var threads: Int
    var peakGflops: Double
    var peakRssMb: Double
    var rows: [BenchRow]
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
