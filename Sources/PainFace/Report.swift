import Dataset
import Features
import Foundation
import Training
import Weights

/// Evaluation reports: report.md and report.html with the paper's Table I, the confusion
/// matrix and the learning curves drawn as SVG (no scripts, no external files).
public struct Report {
    public var title: String
    public var model: String
    public var evaluation: Evaluation
    /// (epoch, loss, val_loss, val_accuracy) from the training log, when there is one.
    public var curves: [(epoch: Int, loss: Double, valLoss: Double?, valAccuracy: Double?)] = []
    /// Extra lines (data set, settings).
    public var notes: [String] = []
    /// Pages beside the report (relative path, text), linked from report.html.
    public var links: [(href: String, text: String)] = []
    /// Where the figures come from (head, data, split, version), written into metrics.json.
    public var provenance: [String: String] = [:]
    /// Per video: id, true class, predicted class, class probabilities.
    public var videos: [(id: String, truth: Int, predicted: Int, probabilities: [Float])] = []

    public init(title: String, model: String, evaluation: Evaluation) {
        (self.title, self.model, self.evaluation) = (title, model, evaluation)
    }

    /// Reads OUT.log.csv as written by the trainer.
    public static func readLog(
        _ path: String
    ) throws -> [(epoch: Int, loss: Double, valLoss: Double?, valAccuracy: Double?)] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ModelFileError(path, "cannot read the training log")
        }
        let rows = CSV.parse(text)
        guard rows.first?.first == "epoch" else {
            throw ModelFileError(path, "not a training log (header epoch,loss,...)")
        }
        return try rows.dropFirst().enumerated().map { i, r in
            guard r.count >= 4, let e = Int(r[0]), let l = Double(r[1]) else {
                throw ModelFileError(path, "line \(i + 2): malformed")
            }
            return (e, l, Double(r[2]), Double(r[3]))
        }
    }

    public var markdown: String {
        var s = "# \(title)\n\n"
        for n in notes { s += "- \(n)\n" }
        if !notes.isEmpty { s += "\n" }
        s += "## Table I (per video: \(evaluation.count) videos, each by its first segment)\n\n"
        s += evaluation.markdownTable(model: model) + "\n"
        s += "## Confusion matrix (rows: true, columns: predicted)\n\n"
        s +=
            "| | " + evaluation.classes.joined(separator: " | ") + " |\n|---|"
            + String(repeating: "---:|", count: evaluation.classes.count) + "\n"
        for (i, c) in evaluation.classes.enumerated() {
            s += "| \(c) | " + evaluation.confusion[i].map(String.init).joined(separator: " | ") + " |\n"
        }
        if !videos.isEmpty {
            let c = evaluation.classes
            s +=
                "\n## Videos\n\n| video | true | predicted | " + c.map { "p(\($0))" }.joined(separator: " | ")
                + " |\n|---|---|---|"
                + String(repeating: "---:|", count: c.count) + "\n"
            for v in videos {
                s +=
                    "| \(v.id) | \(c[v.truth]) | \(c[v.predicted]) | "
                    + v.probabilities.map { String(format: "%.3f", $0) }.joined(separator: " | ") + " |\n"
            }
        }
        if !curves.isEmpty {
            s += "\n## Training log\n\n| epoch | loss | val_loss | val_accuracy |\n|---:|---:|---:|---:|\n"
            for c in curves {
                s +=
                    """
                    | \(c.epoch) | \(String(format: "%.4f", c.loss)) | \
                    \(c.valLoss.map { String(format: "%.4f", $0) } ?? "") | \
                    \(c.valAccuracy.map { String(format: "%.3f", $0) } ?? "") |\n
                    """
            }
        }
        return s
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// The confusion matrix as an SVG heat map (counts and row shares in each cell).
    public var confusionSVG: String {
        let k = evaluation.classes.count, cell = 90, left = 110, top = 40
        let w = left + k * cell + 20, h = top + k * cell + 50
        var s =
            """
            <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h)\" font-family=\"sans-serif\" \
            font-size=\"12\">\n
            """
        s += "<text x=\"\(left + k * cell / 2)\" y=\"16\" text-anchor=\"middle\">predicted</text>\n"
        for (j, c) in evaluation.classes.enumerated() {
            s +=
                """
                <text x=\"\(left + j * cell + cell / 2)\" y=\"\(top - 6)\" \
                text-anchor=\"middle\">\(Self.esc(c))</text>\n
                """
        }
        for i in 0..<k {
            let rowSum = max(evaluation.confusion[i].reduce(0, +), 1)
            s +=
                """
                <text x=\"\(left - 8)\" y=\"\(top + i * cell + cell / 2 + 4)\" \
                text-anchor=\"end\">\(Self.esc(evaluation.classes[i]))</text>\n
                """
            for j in 0..<k {
                let n = evaluation.confusion[i][j], share = Double(n) / Double(rowSum)
                let shade = Int(255 - 200 * share)
                s +=
                    """
                    <rect x=\"\(left + j * cell)\" y=\"\(top + i * cell)\" width=\"\(cell)\" height=\"\(cell)\" \
                    fill=\"rgb(\(shade),\(shade),255)\" stroke=\"#444\"/>\n
                    """
                let color = share > 0.55 ? "white" : "black"
                s +=
                    """
                    <text x=\"\(left + j * cell + cell / 2)\" y=\"\(top + i * cell + cell / 2)\" \
                    text-anchor=\"middle\" fill=\"\(color)\" font-size=\"16\">\(n)</text>\n
                    """
                s +=
                    """
                    <text x=\"\(left + j * cell + cell / 2)\" y=\"\(top + i * cell + cell / 2 + 18)\" \
                    text-anchor=\"middle\" fill=\"\(color)\">\(String(format: "%.0f%%", 100 * share))</text>\n
                    """
            }
        }
        s +=
            """
            <text x=\"12\" y=\"\(top + k * cell / 2)\" transform=\"rotate(-90 12 \(top + k * cell / 2))\" \
            text-anchor=\"middle\">true</text>\n
            """
        return s + "</svg>\n"
    }

    /// A line chart of named series over epochs.
    /// `yRange` fixes the vertical axis (accuracy: 0 to 1); else it follows the values.
    static func lineChart(
        title: String, series: [(String, String, [(Double, Double)])], yLabel: String,
        yRange: ClosedRange<Double>? = nil, xLabel: String = "epoch"
    ) -> String {
        let (w, h, l, r, t, b) = (520.0, 280.0, 60.0, 130.0, 30.0, 40.0)
        let pts = series.flatMap(\.2)
        guard let x0 = pts.map(\.0).min(), let x1 = pts.map(\.0).max(), var y0 = pts.map(\.1).min(),
            var y1 = pts.map(\.1).max()
        else { return "" }
        if let yRange {
            (y0, y1) = (yRange.lowerBound, yRange.upperBound)
        } else {
            if y1 - y0 < 1e-9 { y0 -= 0.5; y1 += 0.5 }
            let pad = (y1 - y0) * 0.05
            (y0, y1) = (y0 - pad, y1 + pad)
        }
        func px(_ x: Double) -> Double { l + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * (w - l - r) }
        func py(_ y: Double) -> Double { t + (1 - (y - y0) / (y1 - y0)) * (h - t - b) }
        var s =
            """
            <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" \
            font-family=\"sans-serif\" font-size=\"12\">\n
            """
        s += "<text x=\"\(Int(w / 2))\" y=\"18\" text-anchor=\"middle\">\(esc(title))</text>\n"
        s += String(
            format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888\"/>\n", l,
            t, w - l - r, h - t - b)
        for i in 0...4 {
            let y = y0 + (y1 - y0) * Double(i) / 4
            s += String(
                format: "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>", l, w - r, py(y),
                py(y))
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n", l - 6, py(y) + 4, y)
        }
        let ticks = Set([x0, x1, ((x0 + x1) / 2).rounded(.down)])
        for x in ticks.sorted() {
            s += String(
                format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.4g</text>\n", px(x), h - b + 16, x)
        }
        s +=
            String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (l + w - r) / 2, h - 6)
            + esc(xLabel) + "</text>\n"
        s +=
            String(
                format: "<text x=\"14\" y=\"%.1f\" transform=\"rotate(-90 14 %.1f)\" text-anchor=\"middle\">",
                (t + h - b) / 2, (t + h - b) / 2) + esc(yLabel) + "</text>\n"
        for (i, (name, color, p)) in series.enumerated() where !p.isEmpty {
            let path = p.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(path)\"/>\n"
            for q in p {
                s +=
                    String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"", px(q.0), py(q.1)) + color
                    + "\"/>"
            }
            let ly = t + 14 + Double(i) * 18
            s +=
                String(
                    format: "\n<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"", w - r + 10, w - r + 30,
                    ly, ly) + color + "\" stroke-width=\"2\"/>"
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\">", w - r + 36, ly + 4) + esc(name) + "</text>\n"
        }
        return s + "</svg>\n"
    }

    public var lossSVG: String {
        Self.lineChart(
            title: "Loss",
            series: [
                ("loss", "#1f77b4", curves.map { (Double($0.epoch), $0.loss) }),
                ("val_loss", "#d62728", curves.compactMap { c in c.valLoss.map { (Double(c.epoch), $0) } }),
            ], yLabel: "weighted cross-entropy")
    }

    public var accuracySVG: String {
        Self.lineChart(
            title: "Validation accuracy (per training sample: frames or sequences, not videos)",
            series: [
                ("val_accuracy", "#2ca02c", curves.compactMap { c in c.valAccuracy.map { (Double(c.epoch), $0) } })
            ], yLabel: "accuracy", yRange: 0...1)
    }

    public var html: String {
        let e = evaluation
        func row(_ name: String, _ v: [Double], _ avg: Double) -> String {
            "<tr><th>\(name)</th>" + (v + [avg]).map { String(format: "<td>%.2f</td>", $0) }.joined() + "</tr>\n"
        }
        var s = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(Self.esc(title))</title>
            <style>body{font-family:sans-serif;max-width:900px;margin:2em auto;color:#222}
            table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #aaa;padding:4px 10px;text-align:right}
            th:first-child{text-align:left}</style></head><body>
            <h1>\(Self.esc(title))</h1>

            """
        if !notes.isEmpty { s += "<ul>" + notes.map { "<li>\(Self.esc($0))</li>" }.joined() + "</ul>\n" }
        for l in links { s += "<p><a href=\"\(Self.esc(l.href))\">\(Self.esc(l.text))</a></p>\n" }
        s +=
            "<h2>Table I: \(Self.esc(model)) (per video: \(e.count) videos, each by its first segment)</h2>\n"
            + "<table><tr><th></th>"
            + e.classes.map { "<th>\(Self.esc($0))</th>" }.joined() + "<th>average</th></tr>\n"
        s +=
            row("precision", e.precision, e.macroPrecision) + row("recall", e.recall, e.macroRecall)
            + row("F1", e.f1, e.macroF1)
        s += String(
            format: "<tr><th>accuracy</th><td colspan=\"%d\">%.2f</td></tr></table>\n", e.classes.count + 1, e.accuracy)
        s += "<h2>Confusion matrix</h2>\n" + confusionSVG
        if !curves.isEmpty { s += "<h2>Learning curves</h2>\n" + lossSVG + accuracySVG }
        if !videos.isEmpty {
            s +=
                "<h2>Videos</h2>\n<table><tr><th>video</th><th>true</th><th>predicted</th>"
                + e.classes.map { "<th>p(\(Self.esc($0)))</th>" }.joined() + "</tr>\n"
            for v in videos {
                s +=
                    "<tr><th>\(Self.esc(v.id))</th><td>\(Self.esc(e.classes[v.truth]))</td>"
                    + "<td>\(Self.esc(e.classes[v.predicted]))</td>"
                    + v.probabilities.map { String(format: "<td>%.3f</td>", $0) }.joined() + "</tr>\n"
            }
            s += "</table>\n"
        }
        return s + "</body></html>\n"
    }

    /// Writes DIR/report.md, DIR/report.html and DIR/metrics.json atomically.
    public func write(to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try AtomicFile.write(Data(markdown.utf8), to: (dir as NSString).appendingPathComponent("report.md"))
        try AtomicFile.write(Data(html.utf8), to: (dir as NSString).appendingPathComponent("report.html"))
        try AtomicFile.write(try metricsJSON(), to: (dir as NSString).appendingPathComponent("metrics.json"))
    }

    /// The evaluation's figures (macro averages included), the unit they count ("video") and
    /// the provenance.
    public func metricsJSON() throws -> Data {
        var o = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(evaluation)) as? [String: Any] ?? [:]
        o["unit"] = "video"
        o["videos"] = evaluation.count
        o["provenance"] = provenance.merging(["painface_version": PainFaceInfo.version]) { a, _ in a }
        return try JSONSerialization.data(withJSONObject: o, options: [.prettyPrinted, .sortedKeys])
    }
}
