import ArgumentParser
import Features
import Foundation
import Imaging
import Kernels
import NN
import Weights

struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Calibrate a model for int8 on your own face crops.",
        discussion: """
            Runs the fp32 model on face crops from the calibration folders (frame folders or video files; \
            every --every-th frame, at most --max-crops), sets each int8 layer's input quantisation from a \
            percentile of the values it reads, returns to fp32 the layers that move the features most until \
            --max-drift holds (on up to 64 of the crops), then measures how far int8 moves every layer and the features \
            from fp32 on the same crops. Writes OUT.json (the config with input_quant per layer, precision \
            int8 and the measured drift under "quantization") and OUT.safetensors (each int8 layer's kernel as \
            s8 codes with one F32 step per output channel, NAME.kernel_scale; the other tensors in fp32). \
            Run at --precision fp32 or bf16, the int8 layers use code x step.

            Layers with fewer than 16 input channels per group (an RGB first layer, depthwise layers) and \
            dense layers stay fp32.

            Example: painface quantize --model vgg16 --calibration clips/a clips/b --out vgg16-int8
            """)

    @Option(help: "The fp32 model (a bundled name or a .json path).")
    var model: String
    @Option(parsing: .upToNextOption, help: "Frame folders or video files with faces (a few hundred crops in all).")
    var calibration: [String]
    @Option(help: "Output stem: writes STEM.json and STEM.safetensors.")
    var out: String
    @Option(help: "Use every N-th frame of each folder.")
    var every = 10
    @Option(help: "At most this many crops.")
    var maxCrops = 500
    @Option(
        help: ArgumentHelp(
            "Percentile of each layer's input values that sets its range (100: the full range; clipping the "
                + "extremes moves the largest outputs most)."))
    var percentile = 100.0
    @Option(
        help: ArgumentHelp(
            "Largest feature drift allowed on the calibration crops (max-abs difference / max-abs of fp32): the "
                + "layers that move the features most go back to fp32 until int8 meets it. 0: every layer int8."))
    var maxDrift = 3e-2
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var log: LogOptions

    func validate() throws {
        guard every >= 1 else { throw ValidationError("--every must be 1 or more") }
        guard maxCrops >= 1 else { throw ValidationError("--max-crops must be 1 or more") }
        guard percentile > 50, percentile <= 100 else { throw ValidationError("--percentile must be in (50, 100]") }
        guard !calibration.isEmpty else { throw ValidationError("--calibration needs at least one folder") }
    }

    func run() throws {
        log.apply()
        let stem = try ModelStore.resolve(model)
        let (srcJSON, srcWeights) = Model.files(for: stem)
        let (outJSON, outWeights) = Model.files(for: out)
        guard URL(fileURLWithPath: outJSON).standardized != URL(fileURLWithPath: srcJSON).standardized else {
            throw ValidationError("--out \(out) would overwrite the model it calibrates")
        }
        let fp32 = try compute.context()
        fp32.precision = .fp32
        let reference = try Model(path: stem, context: fp32)
        Log.info("calibration: reading face crops from \(calibration.count) folder(s)")
        let images = try CropSample.crops(folders: calibration, every: every, limit: maxCrops)
        guard !images.isEmpty else {
            throw ImageError(file: calibration.joined(separator: ", "), reason: "no face found in any frame")
        }
        Log.info("calibration: \(images.count) crops through \(reference.int8Inputs.count) int8 layers")
        var config = try Int8Calibration.calibrate(
            model: reference, images: images, percentile: percentile,
            progress: { Log.detail("calibration: \($0)/\(images.count) crops") })
        let int8 = try compute.context()
        int8.precision = .int8
        let weights = try SafeTensorsFile(path: srcWeights)
        var fp32Layers: [String] = []
        if maxDrift > 0 {
            (config, fp32Layers) = try Int8Calibration.fitBudget(
                config, reference: reference, weights: weights, context: int8,
                batches: try Preprocess.batches(Array(images.prefix(64)), spec: reference.config.input),
                budget: maxDrift, notice: { Log.info("calibration: \($0)") })
        }
        guard config.layers.contains(where: { $0.inputQuant != nil }) else {
            throw ValidationError(
                "no layer of \(model) meets --max-drift \(maxDrift) in int8 (every one went back to fp32)")
        }
        let int8Layers = config.layers.filter { $0.inputQuant != nil }.map(\.name)
        // the drift is measured on the model as written: int8 layers from their stored codes
        let stored = try Int8Calibration.storedWeights(
            config: config, reference: reference, weights: weights, metadata: weights.metadata)
        let reduced = try Model(
            config: config, weights: try SafeTensorsFile(data: stored, path: "\(outWeights) (not yet written)"),
            context: int8)
        let drift = try PrecisionDrift.measure(reference: reference, reduced: reduced, images: images)
        config.quantization = QuantizationReport(
            method: "u8 inputs, per-tensor range from the \(percentile) percentile of calibration values "
                + "(asymmetric, zero point); s8 weights per output channel (symmetric); int32 sums",
            calibrationCrops: images.count, calibrationSource: calibration,
            int8Layers: int8Layers, fp32Layers: fp32Layers, drift: drift.layers, featureDrift: drift.features,
            top1Agreement: drift.top1Agreement)
        // weights first: a config never names weights that are not there yet
        try AtomicFile.write(stored, to: outWeights)
        try AtomicFile.write(try config.encoded(), to: outJSON)
        let top1 = drift.top1Agreement.map { String(format: ", top-1 agreement with fp32 %.1f%%", 100 * $0) } ?? ""
        print(
            String(
                format:
                    "%@: %d int8 layers (%d kept in fp32); feature drift against fp32 on %d crops: mean %.2e, max %.2e%@",
                outJSON, int8Layers.count, fp32Layers.count, images.count, drift.features.mean, drift.features.max, top1
            ))
    }
}
