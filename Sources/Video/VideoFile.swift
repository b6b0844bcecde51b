import Foundation
import Imaging

/// Video files as frame sequences: probed with ffprobe, decoded by an `ffmpeg` process whose
/// raw RGB frames are read from a pipe, resampled to a protocol frame rate by timestamp.
/// Running the CLI keeps the binary free of FFmpeg's libraries: a video is the only input
/// that needs them, and only `ffmpeg` and `ffprobe` on PATH.
public enum VideoFiles {
    public static let extensions: Set<String> = [
        "mp4", "m4v", "mkv", "avi", "webm", "mov", "mpg", "mpeg", "wmv", "flv", "ts", "mts", "3gp", "ogv",
    ]

    /// A regular file whose extension is a video container's.
    public static func isVideo(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return extensions.contains((path as NSString).pathExtension.lowercased())
            && FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue
    }

    /// The id of a frame folder (its name) or of a video file (its name without the extension).
    public static func videoID(_ path: String) -> String {
        let name = URL(fileURLWithPath: path).standardized.lastPathComponent
        return isVideo(path) ? (name as NSString).deletingPathExtension : name
    }

    /// Names of a video's frames at `fps`: frame_000001, ... (1-based, as ffmpeg numbers
    /// extracted frames).
    public static func frameNames(count: Int) -> [String] {
        let digits = max(6, String(count).count)
        return (0..<count).map { frameName($0, digits: digits) }
    }

    /// The name of frame `index` (0-based), zero-padded to `digits`.
    public static func frameName(_ index: Int, digits: Int = 6) -> String {
        let n = String(index + 1)
        return "frame_" + String(repeating: "0", count: max(0, digits - n.count)) + n
    }

    /// The frames of a folder (its JPEG/PNG files in natural order) or of a video file
    /// (resampled to `fps`), and how many other files the folder holds.
    public static func listFrames(_ path: String, fps: Double) throws -> (frames: [String], skipped: Int) {
        if isVideo(path) { return (frameNames(count: try VideoProbe.info(path).frameCount(fps: fps)), 0) }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ImageError(file: path, reason: "no such folder or video file")
        }
        if !isDir.boolValue {
            throw ImageError(
                file: path,
                reason:
                    "not a folder of frames or a video file (\(extensions.sorted().joined(separator: ", ")))")
        }
        return try ImageIO.listFrames(path)
    }

    /// An executable on PATH, or a one-line error saying what to install.
    static func tool(_ name: String, for file: String) throws -> URL {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = URL(fileURLWithPath: String(dir)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: p.path) { return p }
        }
        throw ImageError(
            file: file, reason: "reading a video needs FFmpeg's \(name) on PATH (Debian: apt install ffmpeg)")
    }
}

/// What ffprobe says of a video's first video stream.
public struct VideoInfo: Sendable, Equatable {
    public let path: String
    /// The stream's index in the file, its codec and its frame size after rotation.
    public let stream: Int
    public let codec: String
    public let width: Int, height: Int
    /// The stream's average frame rate.
    public let nativeFPS: Double
    /// Presentation time of each frame, seconds from the first frame, ascending.
    public let times: [Double]
    /// Seconds from the first frame to the end of the last.
    public let duration: Double

    public init(path: String, stream: Int, codec: String, width: Int, height: Int, nativeFPS: Double, times: [Double]) {
        (self.path, self.stream, self.codec, self.width, self.height) = (path, stream, codec, width, height)
        self.nativeFPS = nativeFPS
        self.times = times
        // the last frame lasts one frame period (from the average rate, else the last gap)
        let period =
            nativeFPS > 0 ? 1 / nativeFPS : times.count > 1 ? times[times.count - 1] - times[times.count - 2] : 0
        duration = (times.last ?? 0) + period
    }

    /// Frames at `fps`: output frame k is at k / fps seconds, for every k / fps before the end.
    public func frameCount(fps: Double) -> Int {
        guard !times.isEmpty, fps > 0 else { return 0 }
        return max(1, Int((duration * fps - 1e-6).rounded(.up)))
    }

    /// The source frame of output frame k: the frame whose presentation time is nearest to
    /// k / fps, the earlier on a tie (as ffmpeg's fps filter rounds). Equal rates map frame to
    /// frame despite timestamps rounded to the container's time base.
    public func sourceFrame(_ k: Int, fps: Double) -> Int {
        guard !times.isEmpty else { return 0 }
        let t = Double(k) / fps
        var lo = 0, hi = times.count - 1
        // the last frame at or before t (or the first)
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if times[mid] <= t { lo = mid } else { hi = mid - 1 }
        }
        if lo + 1 < times.count, times[lo + 1] - t < t - times[lo] { return lo + 1 }
        return lo
    }
}

public enum VideoProbe {
    nonisolated(unsafe) private static var cache: [String: (stamp: String, info: VideoInfo)] = [:]
    private static let lock = NSLock()

    /// The video's stream information (cached per path while its size and date are the same).
    public static func info(_ path: String) throws -> VideoInfo {
        let attrs = try? FileManager.default.attributesOfItem(atPath: path)
        let stamp = "\(attrs?[.size] ?? 0)/\((attrs?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
        lock.lock()
        if let c = cache[path], c.stamp == stamp { lock.unlock(); return c.info }
        lock.unlock()
        let info = try probe(path)
        lock.lock()
        cache[path] = (stamp, info)
        lock.unlock()
        return info
    }

    static func probe(_ path: String) throws -> VideoInfo {
        let ffprobe = try VideoFiles.tool("ffprobe", for: path)
        let err = try TempFile()
        let (data, status) = try Child.run(
            ffprobe,
            [
                "-v", "error", "-select_streams", "v:0", "-show_entries",
                "stream=index,codec_name,width,height,avg_frame_rate:stream_side_data=rotation:packet=pts_time,dts_time,flags",
                "-of", "json", path,
            ], stderrPath: err.path)
        let message = err.lastLine()
        guard status == 0,
            let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let stream = (root["streams"] as? [[String: Any]])?.first
        else {
            throw ImageError(
                file: path,
                reason: "not a readable video" + (message.isEmpty ? " (no video stream)" : " (ffprobe: \(message))"))
        }
        func number(_ v: Any?) -> Double? {
            if let d = v as? Double { return d }
            if let i = v as? Int { return Double(i) }
            if let s = v as? String {
                let parts = s.split(separator: "/")
                if parts.count == 2, let a = Double(parts[0]), let b = Double(parts[1]) { return b != 0 ? a / b : nil }
                return Double(s)
            }
            return nil
        }
        var w = Int(number(stream["width"]) ?? 0), h = Int(number(stream["height"]) ?? 0)
        // ffmpeg turns frames by the display matrix: a quarter turn swaps the sides
        let rotation = (stream["side_data_list"] as? [[String: Any]])?.compactMap { number($0["rotation"]) }.first ?? 0
        if Int(abs(rotation.rounded())) % 180 == 90 { swap(&w, &h) }
        guard w > 0, h > 0, w <= 16384, h <= 16384, w * h <= ImageIO.maxPixels else {
            throw ImageError(file: path, reason: "video frames of \(w) x \(h) pixels are not supported")
        }
        let fps = number(stream["avg_frame_rate"]) ?? 0
        // one frame per packet that is not discarded, in presentation order
        var times: [Double] = []
        for (i, pkt) in ((root["packets"] as? [[String: Any]]) ?? []).enumerated() {
            if let f = pkt["flags"] as? String, f.contains("D") { continue }
            if let t = number(pkt["pts_time"]) ?? number(pkt["dts_time"]) {
                times.append(t)
            } else if fps > 0 {
                times.append(Double(i) / fps)
            }
        }
        times.sort()
        guard let t0 = times.first else { throw ImageError(file: path, reason: "the video has no frames") }
        return VideoInfo(
            path: path, stream: Int(number(stream["index"]) ?? 0), codec: stream["codec_name"] as? String ?? "",
            width: w, height: h, nativeFPS: fps, times: times.map { $0 - t0 })
    }
}

/// A video's frames at `fps`, read in increasing order from one ffmpeg process. A frame the
/// decoder never delivered (a truncated or corrupt file) is an ImageError naming why; the
/// frames before it are kept.
public final class VideoReader {
    public let info: VideoInfo
    public let fps: Double
    public let names: [String]
    private var child: Child?
    private var stderrFile: TempFile?
    /// The last decoded source frame and its index.
    private var current: (index: Int, image: RGBImage)?
    private var ended: String?

    public init(path: String, fps: Double) throws {
        guard fps > 0, fps <= 1000 else { throw ImageError(file: path, reason: "--fps must be between 0 and 1000") }
        info = try VideoProbe.info(path)
        self.fps = fps
        names = VideoFiles.frameNames(count: info.frameCount(fps: fps))
    }

    deinit { stop() }

    private func start() throws {
        let ffmpeg = try VideoFiles.tool("ffmpeg", for: info.path)
        let err = try TempFile()
        // every decoded frame once, in presentation order; resampling is done here, by time
        child = try Child(
            ffmpeg,
            [
                "-v", "error", "-nostdin", "-i", info.path, "-map", "0:\(info.stream)", "-fps_mode", "passthrough",
                "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "\(info.width)x\(info.height)", "-",
            ], stderrPath: err.path)
        stderrFile = err
    }

    /// Ends the decoder: closing the pipe first, so an ffmpeg blocked writing a frame nobody
    /// will read fails its write instead of waiting forever, then a kill.
    private func stop() {
        child?.stop()
        child = nil
    }

    /// Reads the next source frame; nil at the end of the stream (then `ended` says why if early).
    private func readNext() throws -> RGBImage? {
        if child == nil && ended == nil { try start() }
        guard ended == nil, let child else { return nil }
        let size = info.width * info.height * 3
        var buf = Data(capacity: size)
        while buf.count < size {
            guard let chunk = try? child.output.read(upToCount: size - buf.count), !chunk.isEmpty else { break }
            buf.append(chunk)
        }
        if buf.count == size { return RGBImage(width: info.width, height: info.height, pixels: [UInt8](buf)) }
        let status = child.wait()
        let decoded = (current?.index ?? -1) + 1
        let message = stderrFile?.lastLine() ?? ""
        ended =
            decoded >= info.times.count && status == 0
            ? ""
            : "decoding stopped after \(decoded) of \(info.times.count) frames"
                + (message.isEmpty ? "" : ": \(message)")
        return nil
    }

    /// Output frame k (k not below the last one asked for).
    public func frame(_ k: Int) throws -> RGBImage {
        guard k >= 0, k < names.count else {
            throw ImageError(
                file: info.path, reason: "frame \(k) is past the end (\(names.count) frames at \(fps) fps)")
        }
        let want = info.sourceFrame(k, fps: fps)
        if let c = current, c.index > want {
            throw ImageError(file: info.path, reason: "frames are read in order (asked \(k) after a later one)")
        }
        while current.map({ $0.index < want }) ?? true {
            guard let img = try readNext() else {
                throw ImageError(
                    file: "\(info.path) frame \(k)",
                    reason: ended.map { $0.isEmpty ? "past the end of the video" : $0 } ?? "not decoded")
            }
            current = ((current?.index ?? -1) + 1, img)
        }
        return current!.image
    }
}

/// A temporary file for a child's stderr (a pipe could fill and stall the child).
final class TempFile {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "painface-stderr-\(getpid())-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw ImageError(file: path, reason: "cannot create a temporary file")
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// The last non-empty line written so far.
    func lastLine() -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").last.map { String($0.prefix(300)) } ?? ""
    }
}
