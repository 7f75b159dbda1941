import Glibc
import SolidEngine
import SolidIPC
import SolidIPCSnappy
import Testing

struct Note: WireMessage, Equatable {
    var id: UInt64 = 0
    var text = ""
    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&id)
        try coder.field(&text)
    }
}

struct Upload: WireMessage {
    var name = ""
    var data = StreamField()
    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&name)
        try coder.stream(&data)
    }
}

func noteRegistry() throws -> MessageRegistry {
    let registry = MessageRegistry()
    try registry.register(protocol: 1, [Note.self, Upload.self, SendableUpload.self, Blob.self])
    return registry
}

/// A box for reactor-pinned objects in tests (touched only on one reactor thread).
final class Pinned<Value>: @unchecked Sendable {
    // @unchecked: set on one thread, read on another only after a wait on a lock that orders the two.
    var value: Value?
}

/// A thread-safe event log with a bounded wait for a count.
final class EventLog: @unchecked Sendable {
    // @unchecked: every field is accessed with `mutex` held.
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var entries: [String] = []

    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    func add(_ entry: String) {
        pthread_mutex_lock(&mutex)
        entries.append(entry)
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }

    var all: [String] {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return entries
    }

    /// Waits until `predicate` holds for the entries, at most `seconds`.
    func wait(seconds: Double = 30, until predicate: ([String]) -> Bool) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        let total = Int(deadline.tv_nsec) + Int(seconds * 1e9)
        deadline.tv_sec += total / 1_000_000_000
        deadline.tv_nsec = total % 1_000_000_000
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while !predicate(entries) {
            if pthread_cond_timedwait(&condition, &mutex, &deadline) == ETIMEDOUT { return predicate(entries) }
        }
        return true
    }
}

/// Starts a listener whose connections answer every Note with a Note (same id, text reversed) marked as
/// the response to it, and collect uploads.
func startNoteServer(
    on reactor: Reactor, configuration: @escaping @Sendable () throws -> ConnectionConfiguration, log: EventLog
) throws -> SocketAddress {
    let result = Pinned<SocketAddress>()
    let error = Pinned<any Error>()
    let done = EventLog()
    reactor.execute {
        do {
            let listener = try SocketListener(address: .loopbackV4(), on: reactor) { accepted in
                guard let stream = try? SocketStream(adopting: accepted, on: reactor),
                    let settings = try? configuration()
                else { return }
                let connection = Connection(stream: stream, configuration: settings)
                connection.makeSinks = { _, _ in
                    let sink = CollectingSink()
                    return [sink]
                }
                connection.onMessage = { [unowned connection] header, message in
                    if let note = message as? Note {
                        _ = try? connection.send(
                            Note(id: note.id, text: String(note.text.reversed())), responseTo: header.requestID)
                    } else if message is Upload {
                        log.add("server got upload")
                    }
                }
                connection.onClose = { log.add("server closed: \($0)") }
            }
            result.value = listener.localAddress
        } catch let caught {
            error.value = caught
        }
        done.add("ready")
    }
    _ = done.wait { !$0.isEmpty }
    if let failure = error.value { throw failure }
    return result.value!
}

@Suite("Connection over loopback", .serialized)
struct ConnectionTests {
    @Test("handshake, 500 requests of mixed sizes, every response matched and intact", arguments: [false, true])
    func requestsAndResponses(snappy: Bool) throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let log = EventLog()
        let address = try startNoteServer(on: group.reactors[0], configuration: {
            var configuration = ConnectionConfiguration(registry: try noteRegistry())
            configuration.hello = HelloParameters(packetSize: 8192, slots: 32)
            if snappy { configuration.codecs = [SnappyCodec()] }
            return configuration
        }, log: log)
        let client = group.reactors[1]
        let holder = Pinned<Connection>()
        let count = 500
        client.execute {
            SocketStream.connect(to: address, on: client) { result in
                guard case .success(let stream) = result else {
                    log.add("connect failed")
                    return
                }
                var configuration = ConnectionConfiguration(registry: try! noteRegistry())
                configuration.hello = HelloParameters(packetSize: 16384, slots: 64)
                if snappy { configuration.codecs = [SnappyCodec()] }
                let connection = Connection(stream: stream, configuration: configuration)
                holder.value = connection
                connection.onActive = { agreed in
                    log.add("agreed \(agreed.packetSize) \(agreed.slots) \(agreed.codecBit)")
                }
                connection.onMessage = { header, message in
                    guard let note = message as? Note else { return }
                    let ok = header.responseTo == note.id + 1
                        && note.text == String(String(repeating: "x\(note.id)", count: Int(note.id % 50) * 20).reversed())
                    log.add(ok ? "response" : "bad response \(note.id)")
                }
                connection.onClose = { log.add("client closed: \($0)") }
                // Sent before the handshake completes: they wait for it.
                for id in 0..<UInt64(count) {
                    let text = String(repeating: "x\(id)", count: Int(id % 50) * 20)
                    try! connection.send(Note(id: id, text: text), flags: [.request], requestID: id + 1) { outcome in
                        if outcome != .written { log.add("send \(id): \(outcome)") }
                    }
                }
            }
        }
        #expect(log.wait { $0.filter { $0 == "response" }.count == count })
        let entries = log.all
        #expect(entries.first == "agreed 8192 32 \(snappy ? 1 : 0)")
        #expect(entries.filter { $0 == "response" }.count == count)
        #expect(entries.count == count + 1, "no failures, no bad responses: \(entries.filter { $0 != "response" })")
    }

    @Test("a peer that sends garbage instead of a hello is closed with the precise protocol error")
    func garbagePeer() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let log = EventLog()
        let reactor = group.reactors[0]
        let address = try startNoteServer(on: reactor, configuration: { ConnectionConfiguration(registry: try noteRegistry()) }, log: log)
        reactor.execute {
            SocketStream.connect(to: address, on: reactor) { result in
                guard case .success(let stream) = result else { return }
                stream.write(Array("GET / HTTP/1.1\r\n\r\n".utf8))
                stream.onClose = { _ in log.add("raw client closed") }
            }
        }
        #expect(log.wait { $0.contains { $0.hasPrefix("server closed") } })
        #expect(log.all.contains("server closed: \(ConnectionError.protocolViolation(.unknownPacketKind(71)))"))
    }

    @Test("keep-alive packets go out only on an idle connection (manual clock)")
    func keepAlive() throws {
        let clock = ManualClock()
        let group = try ReactorGroup(threads: 1, clock: clock)
        defer { group.shutdown() }
        let log = EventLog()
        let reactor = group.reactors[0]
        let address = try startNoteServer(on: reactor, configuration: { ConnectionConfiguration(registry: try noteRegistry()) }, log: log)
        let holder = Pinned<Connection>()
        reactor.execute {
            SocketStream.connect(to: address, on: reactor) { result in
                guard case .success(let stream) = result else { return }
                var configuration = ConnectionConfiguration(registry: try! noteRegistry())
                configuration.keepAliveInterval = .seconds(5)
                let connection = Connection(stream: stream, configuration: configuration)
                holder.value = connection
                connection.onActive = { _ in log.add("active") }
            }
        }
        #expect(log.wait { $0.contains("active") })
        func keepAlives() -> Int {
            let result = EventLog()
            reactor.execute { result.add("\(holder.value!.keepAlivesSent)") }
            _ = result.wait { !$0.isEmpty }
            return Int(result.all[0])!
        }
        /// A round trip through the reactor: timers due on the advanced clock run before it (ManualClock).
        func settled(_ expected: Int) -> Bool { keepAlives() == expected }
        #expect(settled(0))
        clock.advance(by: .seconds(5))
        #expect(settled(1))
        clock.advance(by: .seconds(5))
        #expect(settled(2))
        // Traffic in the interval: no keep-alive at the next tick.
        let written = EventLog()
        reactor.execute { _ = try? holder.value!.send(Note(id: 1, text: "busy")) { _ in written.add("written") } }
        #expect(written.wait { !$0.isEmpty })
        #expect(settled(2))
        clock.advance(by: .seconds(5))
        #expect(settled(2))
        clock.advance(by: .seconds(5))
        #expect(settled(3), "idle again: the next tick sends one")
    }
}
