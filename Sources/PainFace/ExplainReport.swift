import Foundation
import Imaging
import Saliency
import Weights

/// The pages of `painface explain`: one per video (face crops with their sources, the maps,
/// the class over time) and an index of every video. Self-contained HTML: images inline as
/// PNG data, charts as SVG, no script, no network.
public enum ExplainReport {
    /// Frames of a contact sheet: up to 24, evenly spaced.
    public static func sheetPositions(frames n: Int, count: Int = 24) -> [Int] {
        let k = min(n, count)
        return (0..<k).map { $0 * n / k }  // strictly increasing: k <= n
    }

    static func esc(_ s: String) -> String { Report.esc(s) }

    static func img(_ im: RGBImage, alt: String, width: Int? = nil) -> String {
        let data = (try? ImageIO.encodePNG(im))?.base64EncodedString() ?? ""
        let w = width.map { " width=\"\($0)\"" } ?? ""
        return "<img src=\"data:image/png;base64,\(data)\" alt=\"\(esc(alt))\"\(w)>"
    }

    static let style = """
        <style>
        body { font-family: sans-serif; margin: 24px; color: #222; }
        .grid { display: flex; flex-wrap: wrap; gap: 10px; }
        figure { margin: 0; text-align: center; font-size: 12px; }
        figure.none div.blank { width: 96px; height: 96px; background: #ddd; line-height: 96px; color: #666; }
        .src-none, .src-previous, .src-unreadable { color: #b00; }
        table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: left; }
        </style>
        """

    /// The video's page.
    static func videoPage(
        _ v: ExplainedVideo, overlays: [RGBImage], mean: RGBImage?, thumbs: [Int: RGBImage], sources: [String],
        fps: Double, curve: [[Float]], curveNames: [String], curvePositions: [Int]
    ) -> String {
        var s = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        s += "<title>PainFace explain: \(esc(v.video))</title>\(style)</head><body>\n"
        s += "<p><a href=\"../index.html\">all videos</a></p>\n"
        s += "<h1>\(esc(v.video))</h1>\n"
        s += "<table><tr><th>label</th><td>\(esc(v.label))</td></tr>"
        s += "<tr><th>source</th><td>\(esc(v.source))</td></tr>"
        s += "<tr><th>model</th><td>\(esc(v.model))\(v.head.map { " + head " + esc($0) } ?? " (own classes)")</td></tr>"
        if let mean {
            s += "<tr><th>maps</th><td>\(esc(v.method)) at layer \(esc(v.layer))</td></tr>"
            s += String(format: "<tr><th>time per map</th><td>%.0f ms</td></tr>", v.secondsPerFrame * 1e3)
            s += String(
                format: "<tr><th>face coverage</th><td>%.1f%% of %d frames</td></tr></table>\n", 100 * v.coverage,
                v.framesTotal)
            s += "<h2>What the model looked at</h2>\n<div class=\"grid\">\n"
            s += "<figure>\(img(mean, alt: "mean map", width: 192))<figcaption>mean of the \(overlays.count) maps"
            s += "<br>on the mean face</figcaption></figure>\n"
            for (f, o) in zip(v.frames, overlays) {
                s += "<figure>\(img(o, alt: "map of frame \(f.frame)", width: 192))<figcaption>"
                s += String(
                    format: "frame %d (%.2f s)<br>%@ p=%.2f", f.frame, f.timestamp, esc(f.className), f.confidence)
                s += "</figcaption></figure>\n"
            }
            s += "</div>\n"
        } else {
            s += String(
                format: "<tr><th>face coverage</th><td>%.1f%% of %d frames</td></tr></table>\n", 100 * v.coverage,
                v.framesTotal)
        }
        s += "<h2>Over time</h2>\n"
        s += timeChart(
            curve: curve, names: curveNames, positions: curvePositions, fps: fps, marks: v.frames.map(\.frame))
        let shown = sheetPositions(frames: v.framesTotal).count
        s += "<h2>Face crops</h2>\n<p>\(shown) of the \(v.framesTotal) frames, evenly spaced, with where each face "
        s += "came from (none: no face found; previous: the last box reused).</p>\n"
        s += "<div class=\"grid\">\n"
        for p in sheetPositions(frames: v.framesTotal) {
            let src = p < sources.count && !sources[p].isEmpty ? sources[p] : "none"
            let cap = String(format: "%d (%.1f s)<br><span class=\"src-%@\">%@</span>", p, Double(p) / fps, src, src)
            if let t = thumbs[p] {
                s += "<figure>\(img(t, alt: "crop of frame \(p)"))<figcaption>\(cap)</figcaption></figure>\n"
            } else {
                s +=
                    "<figure class=\"none\"><div class=\"blank\">no face</div><figcaption>\(cap)</figcaption></figure>\n"
            }
        }
        s += "</div>\n"
        if mean != nil {
            s += "<p>Files: saliency.csv (one row per map), maps.safetensors (the maps before scaling), "
            s += "frame_*.png, mean.png, explain.json.</p>\n"
        }
        s += "</body></html>\n"
        return s
    }

    /// Each series over time (frames with a face), the explained frames marked.
    static func timeChart(curve: [[Float]], names: [String], positions: [Int], fps: Double, marks: [Int]) -> String {
        guard !curve.isEmpty, let last = positions.last else { return "" }
        let (w, h, l, r, t, b) = (760.0, 240.0, 50.0, 300.0, 20.0, 40.0)
        let x1 = max(Double(last) / fps, 1e-9)
        func px(_ p: Int) -> Double { l + Double(p) / fps / x1 * (w - l - r) }
        func py(_ v: Float) -> Double { t + (1 - Double(min(max(v, 0), 1))) * (h - t - b) }
        let colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" "
        s += "font-family=\"sans-serif\" font-size=\"11\">\n"
        s +=
            "<rect x=\"\(l)\" y=\"\(t)\" width=\"\(w - l - r)\" height=\"\(h - t - b)\" fill=\"none\" stroke=\"#999\"/>\n"
        for m in marks {
            s += "<line x1=\"\(px(m))\" y1=\"\(t)\" x2=\"\(px(m))\" y2=\"\(h - b)\" stroke=\"#ccc\"/>\n"
        }
        for (k, name) in names.enumerated() {
            let pts = zip(positions, curve).map { String(format: "%.1f,%.1f", px($0), py($1[k])) }
            let c = colours[k % colours.count]
            s +=
                "<polyline fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.5\" points=\"\(pts.joined(separator: " "))\"/>\n"
            s += "<text x=\"\(w - r + 8)\" y=\"\(t + 14 + Double(k) * 16)\" fill=\"\(c)\">\(esc(name))</text>\n"
        }
        s += "<text x=\"\(l)\" y=\"\(h - 12)\">0 s</text>"
        s += "<text x=\"\(w - r)\" y=\"\(h - 12)\" text-anchor=\"end\">\(String(format: "%.1f s", x1))</text>\n"
        s += "<text x=\"\(l - 6)\" y=\"\(t + 4)\" text-anchor=\"end\">1</text>"
        s += "<text x=\"\(l - 6)\" y=\"\(h - b)\" text-anchor=\"end\">0</text>\n</svg>\n"
        return s
    }

    /// OUT/index.html: every video explained in OUT, linked, with its mean map.
    public static func writeIndex(out: String) throws {
        let fm = FileManager.default
        let names = ((try? fm.contentsOfDirectory(atPath: out)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        let videos = names.compactMap { n in ExplainedVideo.read(folder: "\(out)/\(n)").map { (n, $0) } }
        var s = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        s += "<title>PainFace explain: \(videos.count) videos</title>\(style)</head><body>\n"
        s += "<h1>\(videos.count) videos</h1>\n<table><tr><th>map</th><th>video</th><th>label</th>"
        s += "<th>face coverage</th><th>frames</th><th>maps</th></tr>\n"
        for (dir, v) in videos {
            let mean =
                (try? ImageIO.read("\(out)/\(dir)/mean.png")).map {
                    img(Heatmap.resized($0, width: 64, height: 64), alt: "mean map")
                } ?? ""
            // "./": an id with a colon must not read as a URL scheme
            let link = "./\(dir.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? dir)/index.html"
            s += "<tr><td>\(mean)</td><td><a href=\"\(esc(link))\">\(esc(v.video))</a></td><td>\(esc(v.label))</td>"
            s += String(format: "<td>%.1f%%</td><td>%d</td>", 100 * v.coverage, v.framesTotal)
            s += "<td>\(v.method.isEmpty ? "" : "\(esc(v.method)) at \(esc(v.layer))")</td></tr>\n"
        }
        s += "</table>\n</body></html>\n"
        try AtomicFile.write(Data(s.utf8), to: out + "/index.html")
    }
}
