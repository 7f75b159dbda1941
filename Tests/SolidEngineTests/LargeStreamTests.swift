import Glibc
import XCTest
@testable import SolidEngine

/// Stream memory bound. XCTest on purpose: `swift test` runs XCTest cases alone, before the parallel
/// Swift Testing run, so the resident-memory samples are not disturbed by other tests.
final class LargeStreamTests: XCTestCase {
    /// `reference[i] == i % 251`: any stream offset's expected bytes start at `offset % 251`.
    private static let reference: [UInt8] = (0..<(65536 + 251)).map { UInt8($0 % 251) }

    func testMultiGigabyteStreamKeepsMemoryBounded() throws {
        let total: UInt64 = 4 << 30  // 4 GiB
        let registry = try sampleRegistry()
        let loop = WireLoop(packetSize: 65536, slots: 4, registry: registry)
        var sent: UInt64 = 0
        let source = ClosureByteSource { buffer in
            let count = Int(min(UInt64(buffer.count), total - sent))
            Self.reference.withUnsafeBytes { reference in
                buffer.baseAddress!.copyMemory(from: reference.baseAddress! + Int(sent % 251), byteCount: count)
            }
            sent += UInt64(count)
            return count
        }
        let sink = VerifyingSink(reference: Self.reference)
        loop.reader.makeSinks = { _, _ in [sink] }
        let baseline = residentBytes()
        try loop.writer.enqueue(FileTransfer(name: "big", data: StreamField(source: source)), registry: registry)
        try loop.writer.enqueue(Ping(id: 1, text: "small message alongside"), registry: registry)
        var peak = baseline
        var steps = 0
        while try loop.step() {
            steps += 1
            if steps % 4096 == 0 { peak = max(peak, residentBytes()) }
        }
        peak = max(peak, residentBytes())
        XCTAssertEqual(sink.received, total)
        XCTAssertEqual(sink.mismatches, 0)
        XCTAssertTrue(sink.finished)
        XCTAssertEqual(loop.messages.count, 2)
        let growth = peak > baseline ? peak - baseline : 0
        XCTAssertLessThan(growth, 64 << 20, "resident memory grew by \(growth >> 20) MiB while streaming \(total >> 30) GiB")
        print("LargeStreamTests: \(total >> 30) GiB streamed in \(loop.packets) packets, resident growth \(growth >> 20) MiB")
    }
}

/// Checks every byte against the reference pattern without keeping anything.
final class VerifyingSink: ByteSink {
    private let reference: [UInt8]
    private(set) var received: UInt64 = 0
    private(set) var mismatches = 0
    private(set) var finished = false

    init(reference: [UInt8]) { self.reference = reference }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        let equal = reference.withUnsafeBytes { reference in
            memcmp(bytes.baseAddress!, reference.baseAddress! + Int(received % 251), bytes.count) == 0
        }
        if !equal { mismatches += 1 }
        received += UInt64(bytes.count)
    }

    func finish() throws { finished = true }
    func abort(_ error: WireError) {}
}

/// Resident set size of this process, from /proc/self/statm.
func residentBytes() -> UInt64 {
    guard let file = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(file) }
    var size = 0
    var resident = 0
    guard fscanf_two(file, &size, &resident) else { return 0 }
    return UInt64(resident) * UInt64(sysconf(Int32(_SC_PAGESIZE)))
}

private func fscanf_two(_ file: UnsafeMutablePointer<FILE>, _ first: inout Int, _ second: inout Int) -> Bool {
    var line = [CChar](repeating: 0, count: 256)
    guard fgets(&line, Int32(line.count), file) != nil else { return false }
    let fields = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).split(separator: " ")
    guard fields.count >= 2, let a = Int(fields[0]), let b = Int(fields[1]) else { return false }
    first = a
    second = b
    return true
}
