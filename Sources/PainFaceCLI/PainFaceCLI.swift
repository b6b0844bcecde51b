import ArgumentParser
import Dataset
import Faces
import Foundation
import Imaging
import Kernels
import NN
import PainFace
import Weights

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

    func context() throws -> ComputeContext { try ComputeContext(isaName: isa, threads: threads) }
}

@main
struct PainFaceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "painface",
        abstract: "Pain recognition from facial video: face crops -> CNN features -> classifiers.",
        version: PainFaceInfo.version,
        subcommands: [DatasetCommand.self, ExtractCommand.self, InferCommand.self, CropCommand.self, FeaturesCommand.self, TrainCommand.self, EvaluateCommand.self, PredictCommand.self, ModelsCommand.self],
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
