import SolidReactor

/// The relay header of the seed's `test_raw_proxy`, which a client sends in the Raw state before
/// anything else (all integers little-endian):
///
/// | bytes | field |
/// |---|---|
/// | 4 | magic `SRLY` |
/// | 4 | length N of the long data (at most ``maxDataBytes``) |
/// | N | the long data: byte i is `i % 251` (the relay checks it, so a header spanning many reads is tested) |
/// | 1 | length M of the destination host (1…255) |
/// | M | the host, UTF-8: a name or an IP address |
/// | 2 | the destination port |
///
/// The relay answers one byte: `'0'` (connected, bytes now flow both ways) or `'1'` (failed; it closes).
struct RelayHeader: Equatable {
    static let magic = Array("SRLY".utf8)
    static let maxDataBytes = 1 << 20

    var dataLength: Int
    var host: String
    var port: UInt16

    /// The header's bytes.
    func encoded() -> [UInt8] {
        var bytes = Self.magic
        bytes += withUnsafeBytes(of: UInt32(dataLength).littleEndian, Array.init)
        bytes += (0..<dataLength).map { UInt8($0 % 251) }
        let name = Array(host.utf8)
        bytes.append(UInt8(name.count))
        bytes += name
        bytes += withUnsafeBytes(of: port.littleEndian, Array.init)
        return bytes
    }

    enum Parse: Equatable {
        case needMore
        case header(RelayHeader, used: Int)
        case invalid(String)
    }

    /// Parses a header at the start of `bytes`.
    static func parse(_ bytes: [UInt8]) -> Parse {
        guard bytes.count >= 8 else { return bytes.starts(with: magic.prefix(bytes.count)) ? .needMore : .invalid("bad magic") }
        guard bytes.starts(with: magic) else { return .invalid("bad magic") }
        let length = Int(bytes[4]) | Int(bytes[5]) << 8 | Int(bytes[6]) << 16 | Int(bytes[7]) << 24
        guard length <= maxDataBytes else { return .invalid("long data of \(length) bytes") }
        let dataEnd = 8 + length
        // Check the data as far as it came, so a wrong header fails before all of it arrives.
        for index in 8..<min(bytes.count, dataEnd) where bytes[index] != UInt8((index - 8) % 251) {
            return .invalid("long data differs at byte \(index - 8)")
        }
        guard bytes.count > dataEnd else { return .needMore }
        let hostLength = Int(bytes[dataEnd])
        guard hostLength > 0 else { return .invalid("empty host") }
        let end = dataEnd + 1 + hostLength + 2
        guard bytes.count >= end else { return .needMore }
        let host = String(decoding: bytes[(dataEnd + 1)..<(dataEnd + 1 + hostLength)], as: UTF8.self)
        let port = UInt16(bytes[end - 2]) | UInt16(bytes[end - 1]) << 8
        return .header(RelayHeader(dataLength: length, host: host, port: port), used: end)
    }
}

/// The relay proxy of the seed's `test_raw_proxy`: accepts connections, reads a ``RelayHeader``, resolves
/// and connects to its destination, answers `'0'` or `'1'`, then splices bytes both ways
/// (``StreamSplice``: backpressure, both sides closed together). Everything runs on one reactor.
final class RelayServer {
    let reactor: Reactor
    private var listener: SocketListener?
    /// Splices running now, and relays done (for tests and the summary).
    private(set) var active = 0
    private(set) var relayed = 0
    private(set) var refused = 0

    /// Listens on `address` (call on `reactor`'s thread).
    init(address: SocketAddress, on reactor: Reactor) throws(SystemError) {
        self.reactor = reactor
        listener = try SocketListener(address: address, on: reactor) { [unowned self] accepted in
            guard let stream = try? SocketStream(adopting: accepted, on: reactor) else { return }
            self.serve(stream)
        }
    }

    /// The address it listens on.
    var address: SocketAddress? { listener?.localAddress }

    func close() { listener?.close() }

    private func serve(_ client: SocketStream) {
        var buffer: [UInt8] = []
        var decided = false
        client.onRead = { [unowned self] bytes in
            guard !decided else { return }
            buffer.append(contentsOf: bytes)
            switch RelayHeader.parse(buffer) {
            case .needMore: return
            case .invalid: decided = true; self.refuse(client)
            case .header(let header, let used):
                decided = true
                client.pauseReading()
                self.connect(client, to: header, leftover: Array(buffer[used...]))
            }
        }
        client.onEndOfInput = { if !decided { client.close() } }
        client.onClose = { _ in }
    }

    private func connect(_ client: SocketStream, to header: RelayHeader, leftover: [UInt8]) {
        reactor.resolve(host: header.host, port: header.port) { [self] result in
            guard case .success(let addresses) = result, let first = addresses.first else { return refuse(client) }
            SocketStream.connect(to: first, on: reactor, timeout: .seconds(10)) { [self] connected in
                guard case .success(let destination) = connected else { return refuse(client) }
                client.write([UInt8(ascii: "0")])
                active += 1
                StreamSplice(client, destination, initialForward: leftover) { [self] _ in
                    active -= 1
                    relayed += 1
                }
                client.resumeReading()
            }
        }
    }

    private func refuse(_ client: SocketStream) {
        refused += 1
        client.onRead = nil
        client.write([UInt8(ascii: "1")]) { _ in client.close() }
    }
}
