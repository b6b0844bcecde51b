import Foundation

/// File paths as the user gives them.
public enum Paths {
    /// `p` made absolute against the current folder and normalised (`.` and `..` resolved as
    /// text, so a `..` is never lost).
    public static func absolute(_ p: String) -> String {
        let abs = p.hasPrefix("/") ? p : FileManager.default.currentDirectoryPath + "/" + p
        return (abs as NSString).standardizingPath
    }
}

/// Minimal RFC 4180 reader: quoted fields may hold commas, quotes ("") and newlines.
public enum CSV {
    public static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = ""
        var quoted = false, atStart = true
        var it = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? { if let p = pending { pending = nil; return p }; return it.next() }
        while let c = next() {
            if quoted {
                if c == "\"" {
                    if let d = next() {
                        if d == "\"" { field.unicodeScalars.append(d) } else { quoted = false; pending = d }
                    } else {
                        quoted = false
                    }
                } else {
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"" where atStart && field.isEmpty: quoted = true; atStart = false
            case ",": row.append(field); field = ""; atStart = true
            case "\r": continue
            case "\n": row.append(field); rows.append(row); row = []; field = ""; atStart = true
            default: field.unicodeScalars.append(c); atStart = false
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }

    /// A field quoted when it needs to be.
    public static func escape(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}
