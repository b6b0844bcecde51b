import Faces
import Foundation
import Imaging
import Kernels
import NN

/// What the crop-then-model pipeline gives for one folder.
struct CroppedFeatures {
    var records: [FrameRecord]
    /// Frame position of each row of `featureRows` / `probRows` (batches, in order).
    var positions: [Int], featureRows: [Tensor], probRows: [Tensor]
    var featureSeconds: Double

    /// The rows as [frames, dim] features and [frames, classes] probabilities.
    func stacked(_ model: Model) -> (Tensor, Tensor?) {
        model.stack(featureRows: featureRows, probRows: probRows, count: positions.count)
    }
}

extension FeatureExtractor {
    /// Crops `frames` of `folder` and runs the model on the crops, in batches. With `stride`
    /// k > 1 the model sees a frame with a crop only when none of the k - 1 frames before it
    /// was seen (every k-th frame while the face is found); every frame is still cropped.
    func runCropped(
        folder: String, frames: [String], cropper: VideoCropper, landmarks lm: VideoLandmarks?, batch: Int,
        stride: Int = 1, onData: ((Int, Data) -> Void)? = nil, progress: ((Int) -> Void)?
    ) throws -> CroppedFeatures {
        // Two stages in parallel: a thread reads, decodes, detects and crops, handing over
        // batches of crops; this thread runs the model on them. The batches and their order
        // are the same as in a serial run, so the features are too.
        let state = ExtractPipeline(capacity: 2)
        // the cropper and the callback are used by the producer thread only
        let owned = Unchecked((cropper: cropper, progress: progress, landmarks: lm, onData: onData))
        let producer = Thread {
            let (cropper, progress, lm, onData) = owned.value
            var pending: [(Int, RGBImage)] = []
            var done = 0, lastSeen = Int.min / 2
            do {
                state.records = try cropper.run(folder: folder, frames: frames, landmarks: lm, onData: onData) {
                    i, rec, img in
                    if state.cancelled { throw CancellationError() }
                    if let img, i - lastSeen >= stride {
                        lastSeen = i
                        pending.append((i, img))
                        if pending.count >= batch { state.put(pending); pending = [] }
                    }
                    done += 1
                    progress?(done)
                }
                if !pending.isEmpty { state.put(pending) }
            } catch {
                state.error = error
            }
            state.finish()
        }
        producer.stackSize = 8 << 20
        producer.start()
        var positions: [Int] = [], featureRows: [Tensor] = [], probRows: [Tensor] = [], featureSeconds = 0.0
        do {
            while let items = state.take() {
                let t0 = monotonicSeconds()
                let (f, p) = try model.features(of: items.map(\.1), source: folder)
                featureRows.append(f)
                if let p { probRows.append(p) }
                positions += items.map(\.0)
                featureSeconds += monotonicSeconds() - t0
            }
        } catch {
            state.cancel()  // stop the producer and wait for it before leaving
            while state.take() != nil {}
            throw error
        }
        if let e = state.error { throw e }
        return CroppedFeatures(
            records: state.records, positions: positions, featureRows: featureRows, probRows: probRows,
            featureSeconds: featureSeconds)
    }
}

/// The hand-over between the cropping thread and the model: a bounded queue of batches plus
/// what the producer records. The producer writes its fields before `finish()`; the
/// consumer reads them after `take()` returned nil (the condition orders the accesses).
final class ExtractPipeline: @unchecked Sendable {
    private let cond = NSCondition()
    private var queue: [[(Int, RGBImage)]] = []
    private var finished = false
    private var stop = false
    let capacity: Int
    var records: [FrameRecord] = []
    var error: Error?

    init(capacity: Int) { self.capacity = capacity }

    var cancelled: Bool { cond.lock(); defer { cond.unlock() }; return stop }

    func put(_ items: [(Int, RGBImage)]) {
        cond.lock()
        while queue.count >= capacity && !stop { cond.wait() }
        if !stop { queue.append(items) }
        cond.broadcast()
        cond.unlock()
    }

    /// The next batch, or nil when the producer has finished and the queue is empty.
    func take() -> [(Int, RGBImage)]? {
        cond.lock()
        defer { cond.unlock() }
        while queue.isEmpty && !finished { cond.wait() }
        if queue.isEmpty { return nil }
        let items = queue.removeFirst()
        cond.broadcast()
        return items
    }

    func finish() { cond.lock(); finished = true; cond.broadcast(); cond.unlock() }
    func cancel() { cond.lock(); stop = true; queue.removeAll(); cond.broadcast(); cond.unlock() }
}

/// A value handed to one other thread that alone uses it until the hand-over ends.
public struct Unchecked<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}
