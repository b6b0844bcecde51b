import Faces
import Features
import Foundation
import Imaging
import Kernels
import NN
import Video

/// `painface watch`: a running estimate over the last window of a live source, one per hop,
/// in bounded memory. A reader thread takes frames as they arrive and keeps only the newest
/// one waiting: when the model is slower than the source, frames are dropped on purpose (an
/// effective stride, reported) instead of falling behind. Dropped frames hold the features of
/// the last frame seen, as with `--stride`.
public final class WatchJob {
    public let frames: LiveFrames
    public let cropper: VideoCropper
    public let extractor: FeatureExtractor
    public let head: LoadedHead?
    public let classes: [String]
    public let window: WindowSpec
    /// Every frame, the source waiting for the model (for a pipe or a file read offline).
    public var dropFrames = true

    public struct Estimate {
        public var row: PredictionRow
        /// frames that arrived and frames the model saw since the last estimate
        public var arrived: Int, processed: Int
        /// seconds from the arrival of the newest frame in the window to the estimate
        public var latency: Double
    }

    public struct Summary {
        public var arrived = 0, processed = 0, estimates = 0
        public var seconds = 0.0, latencies: [Double] = []
        public var dropped: Int { arrived - processed }
    }

    public init(
        frames: LiveFrames, cropper: VideoCropper, extractor: FeatureExtractor, head: LoadedHead?, window: WindowSpec
    ) {
        (self.frames, self.cropper, self.extractor, self.head, self.window) = (frames, cropper, extractor, head, window)
        classes = head?.config.classes ?? extractor.model.config.classes ?? []
    }

    /// Runs until the source ends; `emit` gets each estimate as it is made.
    public func run(id: String, emit: (Estimate) throws -> Void) throws -> Summary {
        let box = Mailbox(blocking: !dropFrames)
        let source = Unchecked(frames)
        let reader = Thread {
            var k = 0
            do {
                while !box.cancelled, let f = try source.value.next() {
                    box.put((k, f.name, f.image, monotonicSeconds()))
                    k += 1
                }
            } catch { box.error = error }
            box.finish()
        }
        reader.stackSize = 4 << 20
        reader.start()
        // on an error below, the reader must not wait for a slot forever
        defer { box.cancel() }

        var s = Summary()
        let t0 = monotonicSeconds()
        var state = cropper.startVideo()
        var ring: [Seen] = []
        var nextEnd = window.length - 1, sinceArrived = 0, sinceProcessed = 0, lastArrived = -1
        while let (k, name, img, arrival) = box.take() {
            sinceArrived += k - lastArrived
            lastArrived = k
            s.processed += 1
            sinceProcessed += 1
            var rec = FrameRecord(frame: name, source: .none)
            rec.index = k
            var seen = Seen(index: k, features: nil, probabilities: nil, found: false, arrival: arrival)
            if let crop = try cropper.crop(img, record: &rec, landmarks: nil, state: &state) {
                let (f, p) = try extractor.model.features(of: [crop], source: name)
                (seen.features, seen.probabilities) = (f.array, p?.array)
            }
            seen.found = rec.source.foundFace
            ring.append(seen)
            // the newest window that has ended (windows that ended while the model was busy
            // are skipped: their frames were dropped)
            guard k >= nextEnd else { continue }
            let end = nextEnd + (k - nextEnd) / window.hop * window.hop
            nextEnd = end + window.hop
            let start = end - window.length + 1
            // keep the last frame seen before the window: it holds the window's first frames
            if let firstIn = ring.firstIndex(where: { $0.index >= start }), firstIn > 1 {
                ring.removeFirst(firstIn - 1)
            }
            var row = try estimate(id: id, ring: ring, start: start, end: end)
            // numbered as infer numbers its windows (start / hop), dropped windows leave gaps
            (row.window, row.startFrame, row.endFrame) = (start / window.hop, start, end + 1)
            let newest = ring.last { $0.index <= end }?.arrival ?? arrival
            let latency = monotonicSeconds() - newest
            s.latencies.append(latency)
            try emit(Estimate(row: row, arrived: sinceArrived, processed: sinceProcessed, latency: latency))
            s.estimates += 1
            (sinceArrived, sinceProcessed) = (0, 0)
        }
        if let e = box.error { throw e }
        s.arrived = lastArrived + 1
        s.seconds = monotonicSeconds() - t0
        return s
    }

    /// A frame the model saw: its features when it had a crop, whether its face was found
    /// (not a reused box), when it arrived.
    struct Seen {
        var index: Int
        var features: [Float]?, probabilities: [Float]?
        var found: Bool
        var arrival: Double
    }

    /// The head (or the model's classes) on the window [start, end], as `infer --window` on
    /// the same frames: a frame the model saw counts when it had a crop; a dropped frame takes
    /// the state of the last frame seen at or before it (the first seen after it at the start
    /// of the run), so with nothing dropped the rows are infer's.
    func estimate(id: String, ring: [Seen], start: Int, end: Int) throws -> PredictionRow {
        let inWindow = ring.filter { $0.index <= end }
        var held: [Int] = []
        var r = inWindow.lastIndex { $0.index <= start } ?? 0
        for f in start...end where !inWindow.isEmpty {
            while r + 1 < inWindow.count && inWindow[r + 1].index <= f { r += 1 }
            if inWindow[r].features != nil { held.append(r) }
        }
        let seenInWindow = inWindow.filter { $0.index >= start }
        let found = seenInWindow.filter(\.found).count
        guard !held.isEmpty, let d = inWindow[held[0]].features?.count else {
            var row = PredictionRow(video: id, label: "no_face", probabilities: [])
            (row.coverage, row.framesUsed) = (Double(found) / Double(max(seenInWindow.count, 1)), 0)
            return row
        }
        let t = Tensor(shape: [held.count, d])
        for (i, j) in held.enumerated() { t.data.advanced(by: i * d).update(from: inWindow[j].features!, count: d) }
        var label = "", probs: [Float] = []
        if let h = head {
            let (l, p) = try Heads.predict(h.model, config: h.config, features: t)
            (label, probs) = (h.config.classes[l], p)
        } else if let k = inWindow[held[0]].probabilities?.count, k > 0, !classes.isEmpty {
            let p = Tensor(shape: [held.count, k])
            for (i, j) in held.enumerated() {
                p.data.advanced(by: i * k).update(from: inWindow[j].probabilities ?? [], count: k)
            }
            let sum = TopClassSummary(p, rows: held.count)
            (label, probs) = (classes[sum.top], sum.mean)
        }
        var row = PredictionRow(video: id, label: label, probabilities: probs)
        // faces found among the frames seen (all of the window's, when nothing was dropped)
        (row.coverage, row.framesUsed) = (Double(found) / Double(max(seenInWindow.count, 1)), held.count)
        return row
    }
}

/// The hand-over from the reader: one slot, the newest frame wins.
final class Mailbox: @unchecked Sendable {
    private let cond = NSCondition()
    private var slot: (Int, String, RGBImage, Double)?
    private var finished = false
    private var stopped = false
    /// put waits for the slot to empty instead of replacing its frame
    let blocking: Bool
    var error: Error?

    init(blocking: Bool) { self.blocking = blocking }

    /// The consumer is gone: put returns at once, the reader stops at its next frame.
    func cancel() { cond.lock(); stopped = true; cond.broadcast(); cond.unlock() }
    var cancelled: Bool { cond.lock(); defer { cond.unlock() }; return stopped }

    func put(_ f: (Int, String, RGBImage, Double)) {
        cond.lock()
        while blocking && slot != nil && !stopped { cond.wait() }
        slot = f
        cond.signal()
        cond.unlock()
    }

    func finish() { cond.lock(); finished = true; cond.signal(); cond.unlock() }

    func take() -> (Int, String, RGBImage, Double)? {
        cond.lock()
        defer { cond.unlock() }
        while slot == nil && !finished { cond.wait() }
        let f = slot
        slot = nil
        cond.signal()
        return f
    }
}
