import Foundation
import Imaging

/// Frames as they arrive, for a live estimate: a folder being written (new JPEG/PNG files in
/// natural order), raw RGB frames on a file handle (stdin: `ffmpeg ... -f rawvideo -pix_fmt
/// rgb24 -`), or anything ffmpeg opens (a camera such as /dev/video0, a stream URL, a file
/// played at its own pace) decoded at `fps`.
public final class LiveFrames {
    public enum Source: Sendable {
        case folder(String)
        case raw(width: Int, height: Int)
        /// ffmpeg's input and, for a device, its format (v4l2); `realtime` paces a file at its rate.
        case ffmpeg(input: String, format: String?, realtime: Bool)
    }

    public let source: Source
    /// A folder source ends after this many seconds without a new frame.
    public var idleSeconds = 10.0
    private var handle: FileHandle?
    private var child: Child?
    private var size: (w: Int, h: Int) = (0, 0)
    /// Folder source: the last file taken (later ones in natural order are new), the files
    /// waiting, and their sizes at the last poll.
    private var lastTaken: String?
    private var pending: [String] = []
    private var lastNew = Date()
    private var sizes: [String: (bytes: UInt64, since: Date)] = [:]
    public private(set) var count = 0

    public init(source: Source, fps: Double, input: FileHandle = .standardInput) throws {
        self.source = source
        switch source {
        case .folder(let dir):
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                throw ImageError(file: dir, reason: "not a folder to watch")
            }
        case .raw(let w, let h):
            guard w > 0, h > 0, w <= 16384, h <= 16384, w * h <= ImageIO.maxPixels else {
                throw ImageError(file: "stdin", reason: "--size must give a frame size such as 640x480")
            }
            (size, handle) = ((w, h), input)
        case .ffmpeg(let input, let format, let realtime):
            let ffmpeg = try VideoFiles.tool("ffmpeg", for: input)
            var args = ["-v", "error", "-nostdin"]
            if realtime { args.append("-re") }
            if let format { args += ["-f", format] }
            // the frame size: a file's after its rotation (ffmpeg turns the frames), else ffprobe's
            // answer for the device or URL; ffmpeg is told the size, so frames always have it
            if format == nil && VideoFiles.isVideo(input) {
                let info = try VideoProbe.info(input)
                size = (info.width, info.height)
            } else {
                let info = try VideoProbe.sizeOf(input, format: format)
                size = (info.w, info.h)
            }
            args += [
                "-i", input, "-map", "0:v:0", "-vf", "fps=\(fps)", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                "\(size.w)x\(size.h)", "-",
            ]
            let c = try Child(ffmpeg, args, stderrPath: nil)
            (child, handle) = (c, c.output)
        }
    }

    deinit { child?.stop() }

    /// The next frame (its name and image), blocking until it arrives; nil at the end.
    public func next() throws -> (name: String, image: RGBImage)? {
        switch source {
        case .folder(let dir): return try nextFile(dir)
        default:
            let n = size.w * size.h * 3
            var buf = Data(capacity: n)
            while buf.count < n {
                guard let chunk = try? handle?.read(upToCount: n - buf.count), !chunk.isEmpty else { return nil }
                buf.append(chunk)
            }
            count += 1
            return (
                VideoFiles.frameName(count - 1), RGBImage(width: size.w, height: size.h, pixels: [UInt8](buf))
            )
        }
    }

    /// New files in natural order; a file is taken once a later one exists or its size has
    /// stayed the same for one poll (a writer may still be filling it). A file that vanishes,
    /// or stays empty for the idle time, is left out.
    private func nextFile(_ dir: String) throws -> (name: String, image: RGBImage)? {
        while true {
            if let name = pending.first {
                let path = (dir as NSString).appendingPathComponent(name)
                let attrs = try? FileManager.default.attributesOfItem(atPath: path)
                let bytes = attrs?[.size] as? UInt64 ?? 0
                let last = sizes[name]
                let stale = bytes == 0 && last.map { Date().timeIntervalSince($0.since) > idleSeconds } == true
                if attrs == nil || stale {
                    pending.removeFirst()
                    sizes[name] = nil
                    continue
                }
                if pending.count > 1 || (bytes > 0 && last?.bytes == bytes) {
                    pending.removeFirst()
                    sizes[name] = nil
                    count += 1
                    do { return (name, try ImageIO.read(path)) } catch {
                        // a frame that never becomes readable is left out, as in a folder run
                        FileHandle.standardError.write(Data("warning: \(error)\n".utf8))
                        continue
                    }
                }
                if last?.bytes != bytes { sizes[name] = (bytes, Date()) }
            }
            // names after the last one seen (and not already waiting) are new: the memory kept
            // is the waiting files, whatever the run's length
            let waiting = Set(pending)
            let listed = try ImageIO.listFrames(dir).frames.filter { n in
                !waiting.contains(n) && lastTaken.map { ImageIO.naturalLess($0, n) } ?? true
            }
            if !listed.isEmpty {
                pending = (pending + listed).sorted(by: ImageIO.naturalLess)
                lastTaken = pending.last
                lastNew = Date()
                continue
            }
            if pending.isEmpty && Date().timeIntervalSince(lastNew) > idleSeconds { return nil }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }
}

extension VideoProbe {
    /// The frame size of anything ffmpeg opens (a file, a device with its format, a URL).
    public static func sizeOf(_ input: String, format: String?) throws -> (w: Int, h: Int) {
        let ffprobe = try VideoFiles.tool("ffprobe", for: input)
        let (data, status) = try Child.run(
            ffprobe,
            ["-v", "error"] + (format.map { ["-f", $0] } ?? []) + [
                "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0", input,
            ], stderrPath: "/dev/null")
        let text = String(decoding: data, as: UTF8.self)
        let parts = text.split(whereSeparator: { $0 == "," || $0.isNewline }).compactMap { Int($0) }
        guard status == 0, parts.count >= 2, parts[0] > 0, parts[1] > 0 else {
            throw ImageError(file: input, reason: "ffprobe cannot open it as a video source")
        }
        return (parts[0], parts[1])
    }
}
