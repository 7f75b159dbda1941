import SolidIPC
import Testing

@Suite("Destination parsing")
struct DestinationTests {
    @Test("valid forms", arguments: [
        ("localhost:8080", "localhost", 8080),
        ("127.0.0.1:1", "127.0.0.1", 1),
        ("[::1]:65535", "::1", 65535),
        ("service.internal:443", "service.internal", 443),
    ])
    func valid(text: String, host: String, port: Int) throws {
        let destination = try Destination(parsing: text)
        #expect(destination.host == host)
        #expect(Int(destination.port) == port)
        #expect(destination.description == text)
    }

    @Test("invalid forms give the precise error")
    func invalid() {
        #expect(throws: DestinationError.missingPort("localhost")) { try Destination(parsing: "localhost") }
        #expect(throws: DestinationError.invalidPort("0")) { try Destination(parsing: "host:0") }
        #expect(throws: DestinationError.invalidPort("70000")) { try Destination(parsing: "host:70000") }
        #expect(throws: DestinationError.invalidPort("")) { try Destination(parsing: "host:") }
        #expect(throws: DestinationError.emptyHost) { try Destination(parsing: ":80") }
        #expect(throws: DestinationError.malformed("::1:80")) { try Destination(parsing: "::1:80") }
        #expect(throws: DestinationError.malformed("[::1:80")) { try Destination(parsing: "[::1:80") }
        #expect(throws: DestinationError.missingPort("[::1]")) { try Destination(parsing: "[::1]") }
    }
}
