import XCTest
@testable import SolidReactor

/// Counts this process's descriptors before and after a full reactor life cycle.
///
/// XCTest, not Swift Testing, on purpose: `swift test` runs the XCTest cases one at a time before the
/// Swift Testing ones, so no other test opens or closes descriptors while this one counts.
final class DescriptorLeakTests: XCTestCase {
    func testNoDescriptorLeakAcrossGroupLifecycle() throws {
        // Warm up once so lazily opened process-wide descriptors (if any) are not counted as leaks.
        try runTraffic()
        let before = openDescriptorCount()
        XCTAssertGreaterThan(before, 0)
        for _ in 0..<3 { try runTraffic() }
        XCTAssertEqual(openDescriptorCount(), before, "descriptors leaked by a reactor group life cycle")
    }

    /// Listener, echo connections (one left open at shutdown), a refused connect, a resolve, an
    /// unadopted accepted socket; then shutdown and release of the group.
    private func runTraffic() throws {
        let group = try ReactorGroup(threads: 2)
        let address = try startEchoServer(group: group, on: group.reactors[0])
        let done = TestSignal()
        for index in 0..<20 {
            let reactor = group.reactors[index % 2]
            reactor.execute {
                echoExchange(to: address, on: reactor, payload: patternBytes(1000), chunk: 100) { _ in done.signal() }
            }
        }
        XCTAssertTrue(done.wait(for: 20))
        let reactor = group.reactors[1]
        let unadopted = TestSignal()
        let dropAddress = try onReactor(reactor) {
            try SocketListener(address: .loopbackV4(), on: reactor) { _ in unadopted.signal() }.localAddress
        }
        let lingering = TestSignal()
        reactor.execute {
            SocketStream.connect(to: dropAddress, on: reactor) { _ in lingering.signal() }
            SocketStream.connect(to: address, on: reactor) { result in
                if case .success(let stream) = result { stream.write([1, 2, 3]) }  // left open at shutdown
                lingering.signal()
            }
            reactor.resolve(host: "localhost", port: 1) { _ in lingering.signal() }
        }
        XCTAssertTrue(lingering.wait(for: 3))
        XCTAssertTrue(unadopted.wait())
        group.shutdown()
    }
}
