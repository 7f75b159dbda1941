import Foundation
import Glibc
import SolidEngine
import SolidIPC
import SolidReactor

/// Raw TCP peers for attack tests: each connects to 127.0.0.1:`port` from the group's reactors in turn
/// (starting with reactor `firstReactor`),
/// writes `bytes` (if any) and answers nothing. With `reading`, it reads (and drops) what the service
/// sends; without, it never reads, so the service's answers back up. ``close()`` closes them all, each
/// on its reactor.
final class HostilePeers: @unchecked Sendable {
    // @unchecked: each stream is touched on its own reactor's thread only; the list is behind a lock.
    private let group: ReactorGroup
    private let streams = Lock<[(reactor: Int, stream: SocketStream)]>([])

    init(
        _ count: Int, connectingTo port: UInt16, group: ReactorGroup, firstReactor: Int = 0, sending bytes: [UInt8] = [],
        reading: Bool
    ) {
        self.group = group
        for index in 0..<count {
            let reactorIndex = (firstReactor + index) % group.reactors.count
            let reactor = group.reactors[reactorIndex]
            _ = reactor.execute { [streams] in
                SocketStream.connect(to: .loopbackV4(port: port), on: reactor) { result in
                    guard case .success(let stream) = result else { return }
                    streams.withLock { $0.append((reactorIndex, stream)) }
                    stream.onRead = { _ in }
                    if !reading { stream.pauseReading() }
                    if !bytes.isEmpty { stream.write(bytes) }
                }
            }
        }
    }

    func close() {
        for (index, reactor) in group.reactors.enumerated() {
            _ = reactor.execute { [streams] in
                streams.withLock { $0 }.filter { $0.reactor == index }.forEach { $0.stream.close() }
            }
        }
    }
}

/// A hello with the library's default parameters, as a peer sends it first.
func helloBytes(_ parameters: HelloParameters = HelloParameters()) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: PacketFormat.headerSize + Hello.payloadSize)
    _ = bytes.withUnsafeMutableBytes { Hello.write(parameters, into: $0) }
    return bytes
}

/// A hello followed by the packets of `notes` sent as requests (request id = position + 1), in 64 KiB
/// packets from the library's own writer.
func helloAndRequests(_ notes: [Note]) throws -> [UInt8] {
    var bytes = helloBytes()
    let writer = MessageWriter(packetSize: 65536, slots: 64, codec: nil)
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
    defer { buffer.deallocate() }
    let registry = try noteRegistry()
    for (index, note) in notes.enumerated() {
        try writer.enqueue(note, registry: registry, flags: [.request], requestID: UInt64(index + 1))
        while writer.hasWork { bytes += buffer[0..<writer.nextPacket(into: buffer)] }
    }
    return bytes
}

/// The process's resident memory, from /proc/self/statm.
func residentBytes() -> Int {
    guard let file = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    guard fgets(&line, Int32(line.count), file) != nil else { return 0 }
    let fields = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).split(separator: " ")
    guard fields.count > 1, let resident = Int(fields[1]) else { return 0 }
    return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// The process's virtual size (address space reserved), from /proc/self/status.
func virtualMemoryBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmSize:") }),
        let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
    else { return 0 }
    return kilobytes * 1024
}

/// `true` in a build with AddressSanitizer (its runtime is linked in): resident memory then includes
/// the sanitizer's quarantine of freed blocks.
let runningUnderAddressSanitizer = dlsym(nil, "__asan_init") != nil  // nil: RTLD_DEFAULT

/// `true` under AddressSanitizer or ThreadSanitizer: process RSS then includes shadow memory (and
/// ASan's quarantine), so RSS bounds of a test do not apply.
let runningUnderSanitizer = runningUnderAddressSanitizer || dlsym(nil, "__tsan_init") != nil
