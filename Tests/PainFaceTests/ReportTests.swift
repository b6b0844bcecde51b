import Dataset
import Foundation
import FoundationXML
import PainFace
import Testing
import Training

@Suite struct ReportTests {
    @Test("the report's SVGs are well-formed XML and show the counts")
    func reportSVG() throws {
        var r = Report(
            title: "t <&>", model: "m",
            evaluation: Evaluation(truth: [0, 0, 1, 2, 2], predicted: [0, 1, 1, 2, 0], classes: ClassSet.pain.names))
        r.curves = [(1, 1.2, 1.1, 0.3), (2, 0.9, 1.0, 0.5), (3, 0.7, nil, nil)]
        for svg in [r.confusionSVG, r.lossSVG, r.accuracySVG] {
            let p = XMLParser(data: Data(svg.utf8))
            #expect(p.parse(), "\(p.parserError.map { "\($0)" } ?? "")")
        }
        #expect(r.confusionSVG.contains(">50%<"))
        #expect(r.html.contains("t &lt;&amp;&gt;"))
        #expect(r.markdown.contains("| no_pain | 1 | 1 | 0 |"))
    }
}
