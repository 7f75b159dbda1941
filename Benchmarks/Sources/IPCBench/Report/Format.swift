/// `value` with `digits` decimals (no Foundation).
func fixed(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return "—" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    let whole = Int(scaled / scale)
    let sign = value < 0 && scaled > 0 ? "-" : ""
    guard digits > 0 else { return sign + "\(whole)" }
    let fraction = String(Int(scaled - Double(whole) * scale))
    return sign + "\(whole)." + String(repeating: "0", count: max(0, digits - fraction.count)) + fraction
}

/// An integer with thousands separators: `200,000`.
func grouped(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var result = ""
    for (index, character) in digits.enumerated() {
        if index > 0 && (digits.count - index) % 3 == 0 { result.append(",") }
        result.append(character)
    }
    return (value < 0 ? "-" : "") + result
}

/// A count or rate with a k/M suffix and three significant digits: `412 k`, `1.28 M`.
func formatCount(_ value: Double) -> String {
    switch abs(value) {
    case 1e9...: return significant(value / 1e9) + " G"
    case 1e6...: return significant(value / 1e6) + " M"
    case 1e4...: return significant(value / 1e3) + " k"
    default: return significant(value)
    }
}

/// Three significant digits (at least the integer part).
func significant(_ value: Double) -> String {
    switch abs(value) {
    case 100...: return fixed(value, 0)
    case 10...: return fixed(value, 1)
    default: return fixed(value, 2)
    }
}

/// Microseconds: `145`, `21.3`, `2.10 ms`, `1.23 s`.
func formatMicros(_ value: Double) -> String {
    switch value {
    case 1_000_000...: return significant(value / 1e6) + " s"
    case 10_000...: return significant(value / 1e3) + " ms"
    case 100...: return fixed(value, 0)
    default: return fixed(value, 1)
    }
}

/// Bytes in binary units: `64 MiB`, `4 GiB`, `12.3 MiB`.
func formatBytes(_ value: Int) -> String {
    let double = Double(value)
    switch value {
    case (1 << 30)...: return trimmed(double / Double(1 << 30)) + " GiB"
    case (1 << 20)...: return trimmed(double / Double(1 << 20)) + " MiB"
    case (1 << 10)...: return trimmed(double / Double(1 << 10)) + " KiB"
    default: return "\(value) B"
    }
}

private func trimmed(_ value: Double) -> String {
    value == value.rounded() ? fixed(value, 0) : significant(value)
}

/// A ratio: `0.92×`.
func formatRatio(_ value: Double) -> String {
    guard value.isFinite else { return "—" }
    return (value >= 100 ? fixed(value, 0) : value >= 10 ? fixed(value, 1) : fixed(value, 2)) + "×"
}

/// `median [min–max]` of a spread, formatted by `format`; just the median when there is one sample.
func formatSpread(_ spread: Spread?, _ format: (Double) -> String) -> String {
    guard let spread else { return "—" }
    if spread.min == spread.max { return format(spread.median) }
    return "\(format(spread.median)) [\(format(spread.min))–\(format(spread.max))]"
}

/// Plain text columns, left-aligned first column, others right-aligned.
struct TextTable {
    var header: [String]
    var rows: [[String]] = []

    init(_ header: [String]) { self.header = header }

    mutating func add(_ row: [String]) { rows.append(row) }

    func render(indent: String = "  ") -> String {
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all { for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) } }
        var lines: [String] = []
        for (number, row) in all.enumerated() {
            var cells: [String] = []
            for (index, cell) in row.enumerated() where index < widths.count {
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                cells.append(index == 0 ? cell + padding : padding + cell)
            }
            lines.append(indent + cells.joined(separator: "  "))
            if number == 0 { lines.append(indent + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        return lines.joined(separator: "\n")
    }
}
