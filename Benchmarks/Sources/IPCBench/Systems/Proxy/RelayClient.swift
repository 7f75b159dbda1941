import SolidIPC

extension SolidVariant {
    /// Connects through the seed's relay.
    var isRelay: Bool {
        if case .relay = self { true } else { false }
    }
}

/// The client side of the relay exchange (`docs/PROXIES.md`): pools start Raw, send the relay header for
/// the server, and activate on the relay's `'0'` (or fail the attempt on anything else).
enum RelayHeader {
    /// Bytes of "very long data" in each header (checked by the relay as they arrive).
    static let dataLength = 1024

    /// The header naming 127.0.0.1:`port`: `SRLY`, u32 LE N, N bytes `i % 251`, u8 M, host, u16 LE port.
    static func encoded(port: UInt16) -> [UInt8] {
        let host = Array("127.0.0.1".utf8)
        var bytes = Array("SRLY".utf8)
        bytes += withUnsafeBytes(of: UInt32(dataLength).littleEndian, Array.init)
        bytes += (0..<dataLength).map { UInt8($0 % 251) }
        bytes.append(UInt8(host.count))
        bytes += host
        bytes += withUnsafeBytes(of: port.littleEndian, Array.init)
        return bytes
    }

    /// Makes `configuration`'s pools start Raw and run the relay exchange for the server at `serverPort`;
    /// the caller puts the service into the returned reference before starting it.
    static func configure(_ configuration: inout ServiceConfiguration, serverPort: UInt16) -> ServiceReference {
        configuration.connectionStartState = .raw
        let header = encoded(port: serverPort)
        let service = ServiceReference()
        configuration.onConnectionRaw = { info in
            guard let client = service.service else { return }
            try? client.rawSend(header, on: info.handle)
            try? client.rawReceive(on: info.handle) { bytes in
                guard let answer = bytes.first else {
                    try? client.rawFail(on: info.handle, reason: "the relay closed without an answer")
                    return 0
                }
                if answer == UInt8(ascii: "0") {
                    try? client.activateConnection(info.handle)
                } else {
                    try? client.rawFail(on: info.handle, reason: "the relay refused (answer \(answer))")
                }
                return 1
            }
        }
        return service
    }
}
