import FuzzSamples
import SolidEngine

let registry = fuzzRegistry()

/// libFuzzer entry: byte 0 picks the reader mode, the rest is fed in pieces whose sizes come from the
/// input itself, so split points are fuzzed too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 1 else { return 0 }
    let reader = makeFuzzReader(mode: data[0], registry: registry)
    var events = 0
    reader.onEvent = { _ in events += 1 }
    let bytes = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    let piece = Int(data[0] >> 2) + 1  // 1...64
    var offset = 0
    while offset < bytes.count {
        let count = min(piece, bytes.count - offset)
        do {
            try reader.consume(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
        } catch {
            return 0
        }
        offset += count
    }
    return 0
}
