import ArgumentParser
import Faces
import Features
import Foundation
import Imaging
import Kernels
import NN
import Weights

/// Prints a one-line error and exits non-zero.
struct Failure: Error, CustomStringConvertible {
    let description: String
}

struct ComputeOptions: ParsableArguments {
    @Option(help: "Worker threads (0 = one per CPU).")
    var threads = 0
    @Option(help: "Instruction set: scalar, avx2, avx512 or neon (default: the best this CPU has).")
    var isa: String?
    @Option(
        help:
            "Convolution algorithms of the models: rule, tuned, im2col, implicit, winograd2x2, winograd4x4, winograd6x6."
    )
    var convAlgo = "rule"
    @Option(
        help: ArgumentHelp(
            "Arithmetic of the models' convolutions: fp32, bf16 or int8 (a model calibrated by painface quantize); "
                + "default: each model's own (fp32 unless its config names one)."))
    var precision: String?

    func context() throws -> ComputeContext {
        let ctx = try ComputeContext(isaName: isa, threads: threads)
        ctx.convPolicy = try ConvPolicy.named(convAlgo)
        ctx.precision = try precision.map(Precision.named)
        return ctx
    }
}

@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "painface-bench",
        abstract: "Benchmark the kernels and the extractors on this machine.",
        discussion:
            "Prints time, GFLOPS and % of this machine's measured FMA peak per kernel and per model, and the peak RSS.")

    @Flag(help: "Fewer repetitions and no VGG16 per-layer table: a smoke test, not a measurement.")
    var quick = false
    @Option(
        help: """
            What to run: comma-separated of gemm, elementwise, conv (each VGG16 3x3 layer by algorithm), \
            vgg16, mini-xception, training.
            """)
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
    @Option(
        parsing: .upToNextOption,
        help: "Folders of photographs with .pts landmark files: measure detection accuracy instead.")
    var landmarkPhotos: [String] = []
    @Option(
        parsing: .upToNextOption,
        help: "Video frame folders: measure what --stride costs (time, feature and probability drift) instead.")
    var strideDrift: [String] = []
    @Option(help: "With --stride-drift: the strides to compare with 1.") var strides = "2,3,5,10"
    @Option(
        parsing: .upToNextOption,
        help: ArgumentHelp(
            "Video frame folders: measure how far --precision (bf16) moves the model from fp32 on their face "
                + "crops (every 10th frame), per layer and for the features, instead."))
    var precisionDrift: [String] = []
    @Option(help: "With --stride-drift or --precision-drift: the feature model (a bundled name or a .json path).")
    var model = ModelStore.defaultModel
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        do {
            var compute = compute
            if serve, compute.threads == 0, let t = ProcessInfo.processInfo.environment["ANCHORS_THREADS"],
                let n = Int(t)
            {
                compute.threads = n
            }
            let ctx = try compute.context()
            if serve {
                AnchorPeer(ctx: ctx, weightsDir: weights).serve()
                return
            }
            if !precisionDrift.isEmpty {
                var fp32 = compute
                fp32.precision = "fp32"
                let asked = try compute.precision.map(Precision.named)
                let reduced = asked == nil || asked == .fp32 ? Precision.bf16 : asked!
                let (crops, r) = try PrecisionBench.run(
                    folders: precisionDrift, model: model, precision: reduced, every: 10, fp32: try fp32.context())
                print("layer\tdrift mean\tdrift max   (\(reduced) against fp32, max-abs difference / max-abs)")
                for l in r.layers { print(String(format: "%@\t%.2e\t%.2e", l.layer, l.mean, l.max)) }
                print(
                    String(
                        format: "%d crops: features drift mean %.2e max %.2e; top-1 agreement %@; "
                            + "fp32 %.2f s, %@ %.2f s",
                        crops, r.features.mean, r.features.max,
                        r.top1Agreement.map { String(format: "%.1f%%", 100 * $0) } ?? "-", r.referenceSeconds,
                        "\(reduced)", r.reducedSeconds))
                return
            }
            if !strideDrift.isEmpty {
                let ks = strides.split(separator: ",").compactMap { Int($0) }.filter { $0 >= 1 }
                let rows = try StrideBench.run(folders: strideDrift, model: model, strides: ks, context: ctx)
                print("stride\tseconds\tspeed-up\tfeature drift mean\tmax\tprobability drift\ttop-1 agreement")
                for r in rows {
                    print(
                        String(
                            format: "%d\t%.2f\t%.2fx\t%.4f\t%.4f\t%@\t%@", r.stride, r.seconds,
                            rows[0].seconds / max(r.seconds, 1e-9), r.featureDriftMean, r.featureDriftMax,
                            r.probabilityDrift.map { String(format: "%.4f", $0) } ?? "-",
                            r.top1Agreement.map { String(format: "%.1f%%", 100 * $0) } ?? "-"))
                }
                return
            }
            if !faces.isEmpty || !landmarkPhotos.isEmpty {
                try faceBenchmarks()
            } else {
                let b = try kernelBenchmarks(ctx)
                printTable(b)
                if let json {
                    let e = JSONEncoder()
                    e.outputFormatting = [.prettyPrinted, .sortedKeys]
                    let doc = BenchReport(
                        isa: "\(ctx.isa)", threads: ctx.threads, peakGflops: b.peak,
                        peakRssMb: ProcessStats.peakRSSMB, rows: b.rows)
                    try AtomicFile.write(try e.encode(doc), to: json)
                }
            }
        } catch let e as Failure {
            throw e
        } catch {
            throw Failure(description: "\(error)")
        }
    }

    /// Face cropping speed of video folders, and detection accuracy on labelled photographs.
    func faceBenchmarks() throws {
        let cascade = try ModelStore.resolveFile("haarcascade_frontalface_default.xml")
        for f in faces {
            let s = try FaceBench.speed(folder: f, cascadePath: cascade)
            print(
                String(
                    format:
                        """
                        %@\t%d frames\tHaar + tracking crop %.1f frames/s\tlandmark crop %.1f \
                        frames/s\tMTCNN crop %.1f frames/s\tcoverage %.1f%%
                        """,
                    s.video, s.frames, s.trackingFPS, s.landmarkFPS, s.mtcnnFPS, 100 * s.coverage))
        }
        if !landmarkPhotos.isEmpty {
            let haar = HaarDetector(cascade: try HaarCascade(contentsOf: cascade))
            let mtcnn = try MTCNN(context: try ComputeContext(threads: 1))
            // the cropper's one box per image: the folder read as one video, or as stills
            var asVideo: [String: [FaceBench.Box]] = [:], asStills: [String: [FaceBench.Box]] = [:]
            for f in landmarkPhotos {
                asVideo.merge(try FaceBench.folderBoxes(f, cascadePath: cascade, stills: false)) { a, _ in a }
                asStills.merge(try FaceBench.folderBoxes(f, cascadePath: cascade, stills: true)) { a, _ in a }
            }
            let detectors: [(String, (String, RGBImage) throws -> [FaceBench.Box])] = [
                (
                    "Haar (every detection)",
                    { haar.detect(GrayImage($1)).map { (Double($0.x), Double($0.y), Double($0.w), Double($0.h)) } }
                ),
                ("Haar crop, the folder as one video", { p, _ in asVideo[p] ?? [] }),
                ("Haar crop, --stills", { p, _ in asStills[p] ?? [] }),
                (
                    "MTCNN (every detection)",
                    {
                        try mtcnn.detect($1).map {
                            ($0.box.x1, $0.box.y1, $0.box.x2 - $0.box.x1, $0.box.y2 - $0.box.y1)
                        }
                    }
                ),
                (
                    "MTCNN crop (the largest face)",
                    {
                        try mtcnn.detect($1).prefix(1).map {
                            ($0.box.x1, $0.box.y1, $0.box.x2 - $0.box.x1, $0.box.y2 - $0.box.y1)
                        }
                    }
                ),
            ]
            for (name, detect) in detectors {
                let a = try FaceBench.accuracy(folders: landmarkPhotos, detect: detect)
                print(
                    String(
                        format:
                            """
                            %@ accuracy: %d of %d faces found (%.1f%%), median IoU %.3f, %.2f s detecting \
                            (one thread)
                            """,
                        name, a.found, a.faces, 100 * Double(a.found) / Double(max(a.faces, 1)), a.medianIoU,
                        a.seconds))
            }
        }
        print(String(format: "peak RSS %.1f MB", ProcessStats.peakRSSMB))
    }

    /// The kernels and models named by --only.
    func kernelBenchmarks(_ ctx: ComputeContext) throws -> Bench {
        let parts = Set(only.split(separator: ",").map(String.init))
        var b = Bench(ctx: ctx, repeats: quick ? 1 : 5, peakSeconds: quick ? 0.1 : 0.5)
        print(
            """
            painface \(PainFaceInfo.version) bench: \(ctx.isa), \(ctx.threads) threads, measured FMA peak \
            \(String(format: "%.1f", b.peak)) GFLOPS
            """
        )
        if parts.contains("gemm") { try b.gemm() }
        if parts.contains("training") {
            try b.training(framewiseSteps: quick ? 20 : 300, lstmSequences: quick ? 32 : 1230)
        }
        if parts.contains("elementwise") { b.elementwise() }
        if parts.contains("conv") { try b.convAlgorithms() }
        if parts.contains("mini-xception") {
            let stem = try ModelStore.resolve(ModelStore.defaultModel)
            let (json, st) = Model.files(for: stem)
            let config = try ModelConfig.decode(try Data(contentsOf: URL(fileURLWithPath: json)), path: json)
            let m = try Self.model(config, weights: try SafeTensorsFile(path: st), context: ctx)
            try b.model(m, batch: 32, perLayer: false)
        }
        if parts.contains("vgg16") {
            let config = Architectures.vgg16GapFc1024()
            let w = try Architectures.randomWeights(for: config)
            let st = try SafeTensorsFile(data: try SafeTensorsWriter.encode(w), path: "vgg16-random")
            let m = try Self.model(config, weights: st, context: ctx)
            for (i, bs) in vggBatches.split(separator: ",").compactMap({ Int($0) }).enumerated() {
                try b.model(m, batch: bs, perLayer: i == 0 && !quick)
            }
        }
        return b
    }

    /// The model on ctx; for int8 first calibrated on a batch of seeded noise images (no faces
    /// here: the speed is what this measures, not the drift).
    static func model(_ config: ModelConfig, weights: any WeightSource, context ctx: ComputeContext) throws -> Model {
        guard ctx.precision == .int8, !config.layers.contains(where: { $0.inputQuant != nil }) else {
            return try Model(config: config, weights: weights, context: ctx)
        }
        let fp32 = try ComputeContext(isa: ctx.isa, threads: ctx.threads)
        fp32.precision = .fp32
        let i = config.input
        let x = Tensor(shape: [8, i.height, i.width, i.channels])
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for j in 0..<x.count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let pixel = Float(state >> 40) / Float(1 << 24) * 255, c = j % i.channels, n = i.normalization
            x.data[j] = (pixel * n.scale + n.offset - (n.mean?[c] ?? 0)) / (n.std?[c] ?? 1)
        }
        let calibrated = try Int8Calibration.calibrate(
            model: try Model(config: config, weights: weights, context: fp32), batches: [x], percentile: 100)
        return try Model(config: calibrated, weights: weights, context: ctx)
    }

    func printTable(_ b: Bench) {
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
        print(
            """
            GFLOPS count 2 FLOPs per multiply-add of a direct convolution or matrix product, so Winograd \
            layers can exceed 100% of the FMA peak.
            """
        )
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
