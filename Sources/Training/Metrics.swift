import Foundation

/// Classification metrics as the paper reports them (Table I): per-class precision, recall and
/// F1, their unweighted (macro) averages, accuracy and the confusion matrix.
public struct Evaluation: Codable, Sendable, Equatable {
    public var classes: [String]
    /// confusion[true][predicted]
    public var confusion: [[Int]]
    public var precision: [Double]
    public var recall: [Double]
    public var f1: [Double]
    public var accuracy: Double
    public var macroPrecision: Double { precision.reduce(0, +) / Double(max(precision.count, 1)) }
    public var macroRecall: Double { recall.reduce(0, +) / Double(max(recall.count, 1)) }
    public var macroF1: Double { f1.reduce(0, +) / Double(max(f1.count, 1)) }
    /// The samples counted (the confusion matrix's total).
    public var count: Int { confusion.reduce(0) { $0 + $1.reduce(0, +) } }

    enum CodingKeys: String, CodingKey {
        case classes, confusion, precision, recall, f1, accuracy
        case macroPrecision = "macro_precision", macroRecall = "macro_recall", macroF1 = "macro_f1"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        classes = try c.decode([String].self, forKey: .classes)
        confusion = try c.decode([[Int]].self, forKey: .confusion)
        precision = try c.decode([Double].self, forKey: .precision)
        recall = try c.decode([Double].self, forKey: .recall)
        f1 = try c.decode([Double].self, forKey: .f1)
        accuracy = try c.decode(Double.self, forKey: .accuracy)
    }

    /// Every figure of Table I, the macro averages included (metrics.json).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(classes, forKey: .classes)
        try c.encode(confusion, forKey: .confusion)
        try c.encode(precision, forKey: .precision)
        try c.encode(recall, forKey: .recall)
        try c.encode(f1, forKey: .f1)
        try c.encode(accuracy, forKey: .accuracy)
        try c.encode(macroPrecision, forKey: .macroPrecision)
        try c.encode(macroRecall, forKey: .macroRecall)
        try c.encode(macroF1, forKey: .macroF1)
    }

    /// A class never predicted has precision 0, one never present recall 0 (as scikit-learn
    /// with zero_division=0).
    public init(truth: [Int], predicted: [Int], classes: [String]) {
        precondition(truth.count == predicted.count)
        let k = classes.count
        var cm = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        for (t, p) in zip(truth, predicted) { cm[t][p] += 1 }
        self.classes = classes
        confusion = cm
        precision = (0..<k).map { c in
            let col = (0..<k).reduce(0) { $0 + cm[$1][c] }
            return col == 0 ? 0 : Double(cm[c][c]) / Double(col)
        }
        recall = (0..<k).map { c in
            let row = cm[c].reduce(0, +)
            return row == 0 ? 0 : Double(cm[c][c]) / Double(row)
        }
        let (pr, rc) = (precision, recall)
        f1 = (0..<k).map { c in pr[c] + rc[c] == 0 ? 0 : 2 * pr[c] * rc[c] / (pr[c] + rc[c]) }
        accuracy = truth.isEmpty ? 0 : Double(zip(truth, predicted).filter { $0 == $1 }.count) / Double(truth.count)
    }

    /// The paper's Table I layout as a Markdown row set.
    public func markdownTable(model: String) -> String {
        func f(_ v: [Double], _ avg: Double) -> String {
            (v + [avg]).map { String(format: "%.2f", $0) }.joined(separator: " / ")
        }
        let names = classes.joined(separator: " / ")
        return """
            | model | precision \(names) / avg | recall \(names) / avg | F1 \(names) / avg | accuracy |
            |---|---|---|---|---|
            | \(model) | \(f(precision, macroPrecision)) | \(f(recall, macroRecall)) | \
            \(f(f1, macroF1)) | \(String(format: "%.2f", accuracy)) |

            """
    }
}

/// The video label from its frames' predictions: the class most frames vote for; a tie goes
/// to the tied class with the highest summed probability, then to the lowest class index.
public func majorityVote(_ probabilities: [[Float]]) -> Int? {
    guard let k = probabilities.first?.count, k > 0 else { return nil }
    var votes = [Int](repeating: 0, count: k), mass = [Double](repeating: 0, count: k)
    for p in probabilities {
        let top = p.indices.max { p[$0] < p[$1] || (p[$0] == p[$1] && $0 > $1) }!
        votes[top] += 1
        for c in 0..<k { mass[c] += Double(p[c]) }
    }
    let best = votes.max()!
    return (0..<k).filter { votes[$0] == best }.max { mass[$0] < mass[$1] || (mass[$0] == mass[$1] && $0 > $1) }
}

/// Keras's epsilon (backend.epsilon()): cross-entropy clips probabilities to [eps, 1 - eps].
public let kerasLossClip: Float = 1e-7

/// Keras "inverse class frequency" weights: N / (K n_c). Throws if a class is absent.
public func inverseFrequencyWeights(_ labels: [Int], classes k: Int) throws -> [Float] {
    var n = [Int](repeating: 0, count: k)
    for l in labels {
        guard l >= 0 && l < k else { throw TrainingError("label \(l) is outside 0..<\(k)") }
        n[l] += 1
    }
    if let missing = n.firstIndex(of: 0) { throw TrainingError("class \(missing) has no training samples") }
    return n.map { Float(Double(labels.count) / Double(k * $0)) }
}

public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
