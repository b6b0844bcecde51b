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
    private var seen = Set<String>()
    private var pending: [String] = []
    private var lastNew = Date()
    private var sizes: [String: UInt64] = [:]
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
            guard w > 0, h > 0, w * h <= ImageIO.maxPixels else {
                throw ImageError(file: "stdin", reason: "--size must give a frame size such as 640x480")
            }
            (size, handle) = ((w, h), input)
        case .ffmpeg(let input, let format, let realtime):
            let ffmpeg = try VideoFiles.tool("ffmpeg", for: input)
            var args = ["-v", "error", "-nostdin"]
            if realtime { args.append("-re") }
            if let format { args += ["-f", format] }
            args += ["-i", input, "-map", "0:v:0", "-vf", "fps=\(fps)", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
            // the frame size: ffprobe on the input (a device answers too)
            let info = try VideoProbe.sizeOf(input, format: format)
            size = (info.w, info.h)
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
                VideoFiles.frameNames(count: count).last!, RGBImage(width: size.w, height: size.h, pixels: [UInt8](buf))
            )
        }
    }

    /// New files in natural order; a file is taken once a later one exists or its size has
    /// stayed the same for one poll (a writer may still be filling it).
    private func nextFile(_ dir: String) throws -> (name: String, image: RGBImage)? {
        while true {
            if let name = pending.first {
                let path = (dir as NSString).appendingPathComponent(name)
                let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64) ?? 0
                if pending.count > 1 || (bytes > 0 && sizes[name] == bytes) {
                    pending.removeFirst()
                    count += 1
                    do { return (name, try ImageIO.read(path)) } catch {
                        // a frame that never becomes readable is left out, as in a folder run
                        FileHandle.standardError.write(Data("warning: \(error)\n".utf8))
                        continue
                    }
                }
                sizes[name] = bytes
            }
            let listed = try ImageIO.listFrames(dir).frames.filter { !seen.contains($0) }
            if !listed.isEmpty {
                for f in listed { seen.insert(f) }
                pending = (pending + listed).sorted(by: ImageIO.naturalLess)
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
