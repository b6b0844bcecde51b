import Features
import Foundation
import Kernels
import NN

/// How far a reduced precision moves a model from fp32 on real face crops (PrecisionDrift):
/// every `every`-th frame's crop of each folder.
enum PrecisionBench {
    static func run(
        folders: [String], model: String, precision: Precision, every: Int, fp32 ctx: ComputeContext
    ) throws -> (crops: Int, drift: PrecisionDrift.Result) {
        let images = try CropSample.crops(folders: folders, every: every)
        guard !images.isEmpty else { throw Failure(description: "no face crops in \(folders.joined(separator: ", "))") }
        let reducedCtx = try ComputeContext(isa: ctx.isa, threads: ctx.threads)
        reducedCtx.precision = precision
        let stem = try ModelStore.resolve(model)
        let a = try Model(path: stem, context: ctx), b = try Model(path: stem, context: reducedCtx)
        return (images.count, try PrecisionDrift.measure(reference: a, reduced: b, images: images))
    }
}
