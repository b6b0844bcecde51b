import ArgumentParser
import Dataset
import Faces
import Features
import Foundation
import Imaging
import Kernels
import PainFace
import Video
import Weights

struct CropOptionGroup: ParsableArguments {
    @Option(help: "Margin around the face box on each side, as a fraction of its larger side.")
    var margin = 0.1
    @Option(help: "Crop side in pixels.")
    var size = 224
    @Flag(help: "Shift crops inside the image instead of padding with black.")
    var noPad = false
    @Option(
        help:
            """
            Face sources in order of preference, comma-separated: landmarks, mtcnn, haar (haar tracks the face \
            through the video).
            """
    )
    var sources = "landmarks,haar"
    @Option(help: "Frames with no face: previous (reuse the last box) or skip.")
    var policy = "previous"
    @Option(help: "With --policy previous: at most this many frames in a row reuse a box.")
    var maxGap = 30
    @Flag(help: "The frames are unrelated photographs: detect in each on its own (no tracking, no reused boxes).")
    var stills = false
    @Option(
        help: "The subject among several faces (Haar): tracked (then the largest), largest or central in every frame.")
    var subject = "tracked"
    @Option(
        help:
            """
            Landmarks: a .csv (OpenFace or plain), .npy, or a folder of .pts files; with several input folders, a \
            folder holding one such file or folder per video, named like the video.
            """
    )
    var landmarks: String?
    @Option(help: "Frames per second a video file is resampled to, by timestamp (frame folders: their timestamps).")
    var fps = 30.0

    func options() throws -> CropOptions {
        var o = CropOptions()
        guard margin >= 0, margin <= 2 else { throw Failure(description: "--margin must be between 0 and 2") }
        guard size >= 8, size <= 4096 else { throw Failure(description: "--size must be between 8 and 4096") }
        o.settings.margin = margin
        o.settings.size = size
        o.settings.pad = !noPad
        o.order = try sources.split(separator: ",").map {
            guard let s = BoxSource(rawValue: String($0)), [.landmarks, .mtcnn, .haar].contains(s) else {
                throw Failure(description: "unknown face source \($0) (landmarks, mtcnn, haar)")
            }
            return s
        }
        guard let p = MissingFacePolicy(rawValue: policy) else {
            throw Failure(description: "--policy must be previous or skip")
        }
        o.policy = p
        o.maxGap = maxGap
        o.stills = stills
        guard let sub = FaceTracker.Subject(rawValue: subject) else {
            throw Failure(description: "--subject must be tracked, largest or central")
        }
        o.subject = sub
        guard fps > 0, fps <= 1000 else { throw Failure(description: "--fps must be between 0 and 1000") }
        o.fps = fps
        return o
    }

    /// The path of the landmark file or folder for one video folder, if any.
    func landmarkPath(for video: String, several: Bool) -> String? {
        guard let landmarks else { return nil }
        if !several { return landmarks }
        let name = VideoFiles.videoID(video)
        for cand in [name, name + ".csv", name + ".npy"] {
            let p = (landmarks as NSString).appendingPathComponent(cand)
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        return nil
    }

    /// The feature cache of `model` in `dir` with these crop settings (faceCrops: the frames
    /// are face crops already, used whole).
    func cache(
        dir: String, model: String, context: ComputeContext, batch: Int, float16: Bool, faceCrops: Bool = false
    ) throws -> FeatureCache {
        // face crops are used whole: no crop setting applies (nor is checked)
        var o = faceCrops ? CropOptions() : try options()
        if faceCrops { o.order = [.crop] }
        let fc = try FeatureCache(
            dir: dir, extractor: try FeatureExtractor(model: model, context: context),
            cropper: try VideoCropper(options: o))
        fc.batch = batch
        fc.dtype = float16 ? .f16 : .f32
        return fc
    }

    /// The landmark file or folder for one video folder, if any.
    func landmarks(for video: String, frames: [String], several: Bool) throws -> VideoLandmarks? {
        guard let landmarks else { return nil }
        if !several { return try VideoLandmarks(path: landmarks, frames: frames) }
        let name = VideoFiles.videoID(video)
        for cand in [name, name + ".csv", name + ".npy"] {
            let p = (landmarks as NSString).appendingPathComponent(cand)
            if FileManager.default.fileExists(atPath: p) { return try VideoLandmarks(path: p, frames: frames) }
        }
        return nil
    }
}

struct CropCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crop",
        abstract: "Crop the face of every frame of video folders.",
        discussion: """
            Writes OUT/<video>/<frame>.png (size x size crops) and OUT/<video>.csv with one row per \
            frame (per face with --all-faces): frame index, timestamp, frame file, source (landmarks, \
            mtcnn, haar, tracked, previous, none, unreadable), confidence 0-1, the box x, y, w, h, the \
            faces found, the face id, the detector's own score and why a frame was unreadable; \
            OUT/<video>.landmarks.csv holds the landmarks when any are known (x_0.., y_0..). A video \
            whose CSV exists is skipped (the CSV is written last), so an interrupted run resumes.

            Examples:
              painface crop frames/video01 --out crops
              painface crop frames/* --out crops --sources mtcnn,haar --all-faces
              painface crop photos --out crops --stills --landmarks photos-pts
            """)

    @Argument(help: "Folders of video frames (JPEG or PNG), or video files (mp4, mkv, avi, webm, mov, ...).")
    var folders: [String]
    @Option(help: "Output folder.")
    var out: String
    @OptionGroup var crop: CropOptionGroup
    @Flag(help: "Redo videos whose CSV exists.")
    var force = false

    @Flag(help: "Every face of every frame, each with an id kept across frames: OUT/<video>/<frame>_f<id>.png.")
    var allFaces = false
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var log: LogOptions

    func run() throws {
        log.apply()
        try reporting {
            let ctx = try compute.context()  // checks --threads and --isa; MTCNN runs on its threads
            let cropper = try VideoCropper(options: try crop.options(), mtcnnThreads: ctx.threads)
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            var failed = 0
            for dir in folders {
                let name = VideoFiles.videoID(dir)
                let csvPath = (out as NSString).appendingPathComponent(name + ".csv")
                if !force && FileManager.default.fileExists(atPath: csvPath) {
                    Log.info("\(name): done before, skipped (\(csvPath))")
                    continue
                }
                do { try cropVideo(dir, name: name, cropper: cropper, csvPath: csvPath) } catch {
                    stderrLine("error: \(error)")
                    failed += 1
                }
            }
            if failed > 0 { throw Failure(description: "\(failed) video(s) failed; the others were written") }
        }
    }

    /// One video: crops as PNG, then the CSV (last, so a video with a CSV is complete).
    func cropVideo(_ dir: String, name: String, cropper: VideoCropper, csvPath: String) throws {
        let frames = try VideoFiles.listFrames(dir, fps: crop.fps).frames
        let cropDir = (out as NSString).appendingPathComponent(name)
        try FileManager.default.createDirectory(atPath: cropDir, withIntermediateDirectories: true)
        func save(_ img: RGBImage, _ file: String) throws {
            try AtomicFile.write(try ImageIO.encodePNG(img), to: (cropDir as NSString).appendingPathComponent(file))
        }
        let t0 = monotonicSeconds()
        let records: [FrameRecord]
        if allFaces {
            records = try cropper.runAllFaces(folder: dir) { _, recs, crops in
                for (r, img) in zip(recs, crops) {
                    try save(img, (r.frame as NSString).deletingPathExtension + "_f\(r.faceID ?? 0).png")
                }
            }
        } else {
            let lm = try crop.landmarks(for: dir, frames: frames, several: folders.count > 1)
            records = try cropper.run(folder: dir, landmarks: lm) { _, rec, img in
                if let img { try save(img, (rec.frame as NSString).deletingPathExtension + ".png") }
            }
        }
        if let lm = VideoCropper.landmarkCSV(records, fps: crop.fps) {
            try AtomicFile.write(Data(lm.utf8), to: (out as NSString).appendingPathComponent(name + ".landmarks.csv"))
        }
        try AtomicFile.write(Data(VideoCropper.csv(records, fps: crop.fps).utf8), to: csvPath)
        let dt = monotonicSeconds() - t0
        var counts: [String: Int] = [:]
        for r in records { counts[r.source.rawValue, default: 0] += 1 }
        let summary = counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        // coverage per frame: a frame counts once, whatever its number of faces
        let withFace = Set(records.filter { $0.source.foundFace }.map(\.frame)).count
        let ids = Set(records.compactMap(\.faceID)).count
        print(
            "\(name)\t\(frames.count) frames\tface coverage "
                + String(
                    format: "%.1f%%\t%.1f frames/s\t", 100 * Double(withFace) / Double(max(frames.count, 1)),
                    Double(frames.count) / max(dt, 1e-9))
                + summary + (allFaces ? "\t\(ids) face ids" : ""))
    }
}
