import ArgumentParser
import Dataset
import Faces
import Features
import Foundation
import PainFace
import Saliency
import Weights

extension SaliencyMethod: ExpressibleByArgument {}

struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract:
            "Grad-CAM maps of the frames behind a head's decision (or the feature model's own classes), with a report.",
        discussion: """
            For each video: the --maps frames the head was most confident about (framewise: each \
            frame's top class, or --class; lstm: the frames whose features moved the window's score \
            most), the gradient of that class's score (its logit) taken back through the head and the \
            feature model to --layer (default: the last spatial layer the features depend on, e.g. \
            VGG16's block5_conv3), and its Grad-CAM (or Grad-CAM++) map over the face crop (viridis: \
            dark = not used, yellow = used most). Writes OUT/VIDEO/: frame_NNNNNN.png per map, \
            mean.png (the mean map on the mean face), saliency.csv (video, frame, timestamp, \
            frame_file, class, score, confidence, image), maps.safetensors (the maps before scaling \
            and the channel weights), index.html (the maps, the classes over time, a contact sheet of \
            face crops with their sources) and explain.json; OUT/index.html links every video. \
            Features are cached in OUT/.features as `infer` does; a video's folder is replaced whole \
            or not at all, and a re-run with the same settings keeps it (other settings need --force).

            Examples:
              painface explain clips/*/ --head heads/framewise --out explain/
              painface explain clip.mp4 --head heads/lstm --method gradcam++ --out explain/
              painface explain faces/ --out expressions/       # the bundled model's own 7 classes
            """)
    @Argument(help: "Folders of video frames (JPEG or PNG), or video files.")
    var folders: [String]
    @Option(help: "Feature model (default: the one the head was trained on, else the bundled default).") var model:
        String?
    @Option(help: "Head model stem (from `painface train`); without it, the feature model's own classes.")
    var head: String?
    @Option(help: "Output folder.") var out: String
    @Option(help: "Layer of the maps (default: the last spatial layer the features depend on).") var layer: String?
    @Option(help: "gradcam or gradcam++.") var method = SaliencyMethod.gradCAM
    @Option(
        name: .customLong("class"),
        help: "Explain this class in every frame (default: the frame's, or window's, top class).")
    var className: String?
    @Option(help: "Maps per video.") var maps = 8
    @Option(help: "Folder for the per-video feature files (default: OUT/.features).") var features: String?
    @Flag(help: "Recompute features and maps that are up to date, and replace maps made with other settings.")
    var force = false
    @Option(help: "Frames per forward pass.") var batch = 8
    @OptionGroup var cropSettings: CropOptionGroup
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var log: LogOptions

    func run() throws {
        log.apply()
        guard batch > 0 else { throw Failure(description: "--batch must be positive") }
        guard (1...256).contains(maps) else { throw Failure(description: "--maps must be 1 to 256") }
        try reporting {
            let ctx = try compute.context()
            let loaded = try head.map { try Heads.load(stem: $0, context: ctx) }
            let fx = try InferJob.featureModel(model, head: loaded, context: ctx)
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let list = try FolderList(folders, fps: cropSettings.fps)
            let cropper = try VideoCropper(options: try cropSettings.options())
            let cache = try FeatureCache(
                dir: features ?? (out as NSString).appendingPathComponent(".features"), extractor: fx, cropper: cropper)
            cache.batch = batch
            let job = try ExplainJob(
                folders: list, head: loaded, extractor: fx, cache: cache, out: out, layer: layer)
            (job.method, job.targetClass, job.framesPerVideo, job.force) = (method, className, maps, force)
            if let c = className, !job.classes.contains(c) {
                throw Failure(description: "--class \(c): not one of \(job.classes.joined(separator: ", "))")
            }
            job.landmarks = { [cropSettings, folders] in
                cropSettings.landmarkPath(for: $0, several: folders.count > 1)
            }
            job.detail = { Log.detail($0) }
            job.warn = { Log.warn($0) }
            Log.info(
                "explain: \(folders.count) inputs, \(list.totalFrames) frames; model \(fx.model.config.name)"
                    + (head.map { ", head \($0)" } ?? " (its own classes)") + "; \(method.rawValue) at \(job.mapLayer)")
            let bar = ProgressLine(total: list.totalFrames)
            let (videos, failed) = job.run(events: bar.events { _, e in "\(e)" })
            bar.finish()
            let ms = videos.map(\.secondsPerFrame).reduce(0, +) / Double(max(videos.count, 1)) * 1e3
            Log.info(
                "explain: \(videos.count) videos in \(out)/index.html"
                    + String(format: " (%.0f ms per map)", ms))
            if failed > 0 {
                throw Failure(description: "\(failed) input(s) failed (see above); the others were written")
            }
        }
    }
}
