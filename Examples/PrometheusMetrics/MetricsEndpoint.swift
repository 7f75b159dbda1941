import Prometheus
import SolidReactor

/// A minimal HTTP endpoint on a reactor that answers every request with the registry's Prometheus text
/// (`GET /metrics`; any path gets the same). One request per connection; a request over 8 KiB is refused.
final class MetricsEndpoint {
    private(set) var listener: SocketListener?

    /// Listens on `address` from `reactor` (call on its thread).
    init(address: SocketAddress, on reactor: Reactor, registry: PrometheusCollectorRegistry) throws {
        listener = try SocketListener(address: address, on: reactor) { accepted in
            guard let stream = try? SocketStream(adopting: accepted, on: reactor) else { return }
            var request: [UInt8] = []
            stream.onRead = { [unowned stream] bytes in
                request.append(contentsOf: bytes)
                if request.count > 8192 { return stream.close() }
                guard headerEnd(request) != nil else { return }
                stream.onRead = nil
                let body = registry.emitToBuffer()
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                    + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
                stream.write(Array(head.utf8) + body) { _ in stream.shutdownWrite() }
            }
            stream.onEndOfInput = { [unowned stream] in stream.close() }
        }
    }

}

/// Where the body starts: just after the empty line that ends the headers; `nil` before it came.
func headerEnd(_ bytes: [UInt8]) -> Int? {
    guard bytes.count >= 4 else { return nil }
    for index in 0...(bytes.count - 4)
    where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
        return index + 4
    }
    return nil
}

/// Fetches `http://address/metrics` once and returns the body (the example scrapes itself).
func scrape(_ address: SocketAddress, on reactor: Reactor) async throws -> String {
    let bytes: [UInt8] = try await withCheckedThrowingContinuation { continuation in
        reactor.execute {
            SocketStream.connect(to: address, on: reactor) { result in
                switch result {
                case .failure(let error):
                    continuation.resume(throwing: error)
                case .success(let stream):
                    var response: [UInt8] = []
                    stream.onRead = { bytes in response.append(contentsOf: bytes) }
                    stream.onEndOfInput = { [unowned stream] in stream.close() }
                    stream.onClose = { error in
                        if let error { continuation.resume(throwing: error) } else { continuation.resume(returning: response) }
                    }
                    stream.write(Array("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8), completion: nil)
                }
            }
        }
    }
    guard bytes.starts(with: Array("HTTP/1.1 200".utf8)), let body = headerEnd(bytes) else {
        throw ScrapeError(response: String(decoding: bytes.prefix(200), as: UTF8.self))
    }
    return String(decoding: bytes[body...], as: UTF8.self)
}

/// The endpoint answered something other than 200 with a body.
struct ScrapeError: Error, CustomStringConvertible {
    let response: String
    var description: String { "unexpected HTTP response: \(response)" }
}
