import Glibc
import SolidReactor

/// Wall-clock seconds on the monotonic clock.
func seconds() -> Double { Double(MonotonicClock().now().nanoseconds) / 1e9 }

/// Runs `body` `repetitions` times (after one warm-up) and prints the median and spread of the rates it
/// returns (operations per second).
func report(_ name: String, unit: String = "ops/s", repetitions: Int = 5, _ body: () throws -> Double) rethrows {
    _ = try body()
    var rates: [Double] = []
    for _ in 0..<repetitions { rates.append(try body()) }
    rates.sort()
    let median = rates[rates.count / 2]
    let line = "\(pad(name, 44)) median \(pad(format(median), 12)) \(unit)   (min \(format(rates.first!)), max \(format(rates.last!)))"
    print(line)
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

/// A rate with thousands grouping, no decimals (no Foundation).
func format(_ value: Double) -> String {
    let digits = String(Int(value.rounded()))
    var result = ""
    for (index, character) in digits.reversed().enumerated() {
        if index > 0 && index % 3 == 0 { result.append(",") }
        result.append(character)
    }
    return String(result.reversed())
}
