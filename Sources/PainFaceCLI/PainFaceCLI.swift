import ArgumentParser
import Dataset
import Faces
import Features
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

/// A command's body with every error turned into a one-line Failure.
func reporting(_ body: () throws -> Void) throws {
    do { try body() } catch let e as Failure { throw e } catch let e as ValidationError { throw e } catch {
        throw fail(error)
    }
}

func stderrLine(_ s: String, terminator: String = "\n") {
    FileHandle.standardError.write(Data((s + terminator).utf8))
}

/// What a command says on stderr: errors and warnings always; notes and progress unless
/// --quiet; a line per finished video and every unreadable frame with --verbose.
enum Log {
    enum Level: Int { case quiet, normal, verbose }
    nonisolated(unsafe) static var level = Level.normal
    static func info(_ s: String) { if level != .quiet { stderrLine(s) } }
    static func detail(_ s: String) { if level == .verbose { stderrLine(s) } }
    static func warn(_ s: String) { stderrLine("warning: " + s) }
}

struct LogOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Only warnings and errors on stderr: no progress, no notes.")
    var quiet = false
    @Flag(name: .shortAndLong, help: "Also a line per finished video and every unreadable frame.")
    var verbose = false

    func validate() throws {
        if quiet && verbose { throw ValidationError("--quiet and --verbose exclude each other") }
    }
    func apply() { Log.level = quiet ? .quiet : verbose ? .verbose : .normal }
}

/// `--stride`: the feature model on every k-th frame with a face only.
struct StrideOption: ParsableArguments {
    @Option(
        help: """
            Run the feature model on every k-th frame with a face; the frames between hold its \
            features (faster by about k with a large model; docs/benchmarks.md has the drift).
            """)
    var stride = 1

    func apply(to cache: FeatureCache) throws {
        guard stride >= 1, stride <= 1000 else { throw ValidationError("--stride must be between 1 and 1000") }
        cache.stride = stride
    }
}

/// The table format of a command's output: --format, else the output file's extension.
struct TableFormat: ParsableArguments {
    @Option(help: "Table format: csv or jsonl (default: from the output file's extension, else csv).")
    var format: String?

    func jsonLines(_ out: String?) throws -> Bool {
        switch format {
        case "csv": return false
        case "jsonl", "json": return true
        case nil: return Self.jsonLines(file: out)
        case let f?: throw ValidationError("--format must be csv or jsonl, not \(f)")
        }
    }

    static func jsonLines(file: String?) -> Bool {
        ["jsonl", "json", "ndjson"].contains(((file ?? "") as NSString).pathExtension.lowercased())
    }
}

struct ComputeOptions: ParsableArguments {
    @Option(help: "Worker threads (0 = one per CPU). Results do not depend on it.")
    var threads = 0
    @Option(help: "Instruction set: scalar, avx2, avx512 or neon (default: the best this CPU has).")
    var isa: String?
    @Option(
        help: ArgumentHelp(
            "Convolution algorithms: rule (default: the same on every machine), tuned (this machine's fastest, "
                + "measured once and kept in $PAINFACE_TUNING or ~/.cache/painface/conv-tuning.json), "
                + "or one of im2col, implicit, winograd2x2, winograd4x4, winograd6x6 wherever it applies."))
    var convAlgo: String?
    @Option(
        help: ArgumentHelp(
            "Arithmetic of the convolutions: fp32, bf16 (bfloat16 products, fp32 sums: AMX or AVX512_BF16 where the "
                + "CPU has them, an exact emulation elsewhere; features move by up to ~1e-2) or int8 (a model "
                + "calibrated by painface quantize; AMX or AVX512-VNNI where the CPU has them). Default: the "
                + "model's own (fp32 unless its config names one). Reduced-precision features are cached apart."))
    var precision: String?

    func context() throws -> ComputeContext {
        let ctx = try ComputeContext(isaName: isa, threads: threads)
        do {
            ctx.convPolicy = try ConvPolicy.named(convAlgo ?? "rule")
            ctx.precision = try precision.map(Precision.named)
        } catch { throw ValidationError("\(error)") }
        return ctx
    }
}

@main
struct PainFaceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "painface",
        abstract: "Pain recognition from facial video: face crops -> CNN features -> classifiers.",
        discussion: """
            `painface help COMMAND` shows a command's flags and examples. Every command that \
            computes takes --threads and --isa (results do not depend on them) and --quiet or \
            --verbose. Tables: CSV, or JSON lines with the same columns (output schema \(OutputSchema.version), \
            README "Output files").

            Exit status: 0 done; 1 an error, or some inputs failed (each named on stderr, the \
            others written); 2 the command line is wrong (unknown flag, missing or bad value).
            """,
        version: PainFaceInfo.version,
        subcommands: [
            DatasetCommand.self, ExtractCommand.self, InferCommand.self, CropCommand.self, FeaturesCommand.self,
            TrainCommand.self, EvaluateCommand.self, PredictCommand.self, WatchCommand.self, ExplainCommand.self,
            ModelsCommand.self, QuantizeCommand.self,
        ],
        defaultSubcommand: nil)

    /// Exit codes: 0 done; 1 an error, or some inputs failed (the others were written); 2 the
    /// command line is wrong (ArgumentParser's own code for that is 64).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            stderrLine(fullMessage(for: error))
            Foundation.exit(2)
        }
    }
}

struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "Extract per-frame features from folders of face crops (or of raw frames, with --crop).",
        discussion: """
            Writes OUT/<folder>.safetensors per folder in the format of `painface extract`'s cache: \
            `features` [frames, dim] (float32, or float16) and `probabilities` when the model has a \
            classifier; the metadata holds the frame names, each frame's face source, unreadable \
            frames, the face coverage, the model's SHA-256 and a key over the frames' content. A \
            folder whose content, model and settings match its file is skipped, so an interrupted \
            run resumes; `train`, `evaluate` and `predict` read the folder with --features.

            Examples:
              painface features crops/* --out feats
              painface features frames/* --crop --sources mtcnn,haar --model vgg16.json --out feats --float16
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
    @OptionGroup var strideOption: StrideOption
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var log: LogOptions

    func run() throws {
        log.apply()
        guard batch > 0 else { throw Failure(description: "--batch must be positive") }
        try reporting {
            let ctx = try compute.context()
            let list = try FolderList(folders, fps: cropSettings.fps)
            let fc = try cropSettings.cache(
                dir: out, model: model, context: ctx, batch: batch, float16: float16, faceCrops: !crop)
            try strideOption.apply(to: fc)
            let fx = fc.extractor
            Log.info(
                """
                model \(fx.model.config.name) (\(fx.model.featureDimension) features, sha256 \
                \(fx.modelHash.prefix(12))), \(ctx.isa), \(ctx.threads) threads
                """
            )
            let job = FeaturesJob(folders: list, cache: fc)
            job.force = force
            if crop {
                job.landmarks = { [cropSettings, folders] in
                    cropSettings.landmarkPath(for: $0, several: folders.count > 1)
                }
            }
            var failed = 0
            let bar = ProgressLine(total: list.totalFrames)
            // a line per folder (after the progress line on a terminal)
            let clear = bar.tty && Log.level != .quiet ? "\r\u{1B}[K" : ""
            job.run(events: JobEvents(progress: { [bar] in bar.show($0) })) { o in
                guard let e = o.entry, o.error == nil else {
                    stderrLine(clear + "error: \(o.error.map { "\($0)" } ?? "\(o.folder): no frames")")
                    failed += 1
                    return
                }
                if o.upToDate { Log.info(clear + "\(o.id): up to date, skipped"); return }
                Log.info(clear + Self.summary(o, e, path: fc.path(o.id), faceCrops: !crop))
                for (f, why) in e.framesWithoutFeatures { Log.detail("\(o.id): \(f): \(why)") }
                if let probs = e.probabilities, let classes = fx.model.config.classes, e.positions.count > 0 {
                    let sum = TopClassSummary(probs, rows: e.positions.count)
                    print(
                        """
                        \(o.id)\t\(e.positions.count) frames\tmost frequent: \(classes[sum.top]) \
                        (\(sum.counts[sum.top])/\(e.positions.count))
                        """
                    )
                } else {
                    print("\(o.id)\t\(e.positions.count) frames\t\(fc.path(o.id))")
                }
            }
            bar.finish()
            if failed > 0 { throw Failure(description: "\(failed) input(s) failed; the others were written") }
        }
    }

    static func summary(_ o: FeaturesJob.Outcome, _ e: CacheEntry, path: String, faceCrops: Bool) -> String {
        let n = e.positions.count
        var line =
            """
            \(o.id): \(n) frames in \(String(format: "%.2f", o.seconds)) s \
            (\(String(format: "%.1f", Double(n) / max(o.seconds, 1e-9))) frames/s) -> \(path)
            """
        if !faceCrops { line += String(format: "; face coverage %.1f%%", 100 * e.coverage) }
        let bad = e.framesWithoutFeatures
        if !bad.isEmpty {
            line +=
                "; \(bad.count) unreadable: "
                + bad.prefix(3).map { "\($0.frame) (\($0.reason))" }.joined(separator: ", ")
        }
        if o.otherFiles > 0 { line += "; \(o.otherFiles) other files ignored" }
        return line
    }
}

struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "List the bundled models.")
    @Option(help: "Output format: text (tab-separated) or json.")
    var format = "text"
    @Option(
        help:
            """
            Write the paper's VGG16-GAP-FC1024 architecture with seeded random weights to STEM.json/.safetensors \
            (to measure speed before you have trained weights; its features mean nothing).
            """
    )
    var writeRandomVgg16: String?
    @Option(
        help: ArgumentHelp(
            "Load this model with --conv-algo (default here: tuned) and print each convolution's algorithm, "
                + "with the measured time of every candidate when tuned (tune once before a job array)."))
    var algorithms: String?
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var log: LogOptions

    func run() throws {
        log.apply()
        if let name = algorithms {
            let ctx = try compute.context()
            if compute.convAlgo == nil { ctx.convPolicy = .tuned(path: ConvTuning.defaultPath) }
            let m = try Model(path: try ModelStore.resolve(name), context: ctx)
            let tuning: ConvTuning? = try {
                if case .tuned(let p) = ctx.convPolicy { return try ConvTuning(path: p) }
                return nil
            }()
            print("layer\tshape\talgorithm\tcandidates (ms per pass of 8 images; error vs im2col)")
            for (layer, s, a) in m.convAlgorithms {
                let e = tuning?.entry(s, context: ctx)
                let cands = (e?.milliseconds ?? [:]).sorted { $0.value < $1.value }.map {
                    String(format: "%@ %.3f (%.1e)", $0.key, $0.value, e?.error[$0.key] ?? 0)
                }.joined(separator: ", ")
                print("\(layer)\t\(s.h)x\(s.w)x\(s.cin)->\(s.cout) k\(s.kh)x\(s.kw)\t\(a)\t\(cands)")
            }
            if case .tuned(let p) = ctx.convPolicy { Log.info("tuning file: \(p)") }
            return
        }
        if let stem = writeRandomVgg16 {
            let config = Architectures.vgg16GapFc1024()
            try SafeTensorsWriter.write(try Architectures.randomWeights(for: config), to: stem + ".safetensors")
            try AtomicFile.write(try config.encoded(), to: stem + ".json")
            print("wrote \(stem).json and \(stem).safetensors (random weights)")
            return
        }
        guard ["text", "json"].contains(format) else { throw ValidationError("--format must be text or json") }
        let rows = try ModelSummary.bundled(context: try ComputeContext(isa: .best, threads: 1))
        if format == "json" {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            enc.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try enc.encode(rows), as: UTF8.self))
            return
        }
        for r in rows {
            if let e = r.error { print("\(r.name)\tERROR \(e)"); continue }
            let classes = (r.classes ?? []).joined(separator: ",")
            print(
                "\(r.name)\tinput \(r.input ?? "")\tfeatures \(r.features ?? 0)\tparameters \(r.parameters ?? 0)\t"
                    + String(format: "%.3f GFLOP/image", r.gflopsPerImage ?? 0)
                    + (classes.isEmpty ? "" : "\tclasses \(classes)") + "\t\(r.path)")
        }
        // on stderr, so the table stays machine-readable
        Log.info(
            """
            No pain model is bundled: these are feature and face models. A pain estimate needs a head \
            trained on labelled pain videos (README, "Getting a real pain estimate").
            """)
    }
}
