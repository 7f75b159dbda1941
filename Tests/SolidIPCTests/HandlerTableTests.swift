import SolidEngine
import SolidReactor
import Testing
@testable import SolidIPC

@Suite("Handler lookup")
struct HandlerTableTests {
    /// A handler that records which type it was filed under when called.
    private static func handler(_ index: Int, _ calls: Lock<[Int]>) -> MessageHandler {
        { _, _ in
            calls.withLock { $0.append(index) }
            return nil
        }
    }

    @Test("each type finds its own handler, unknown types none, with a few handlers (scanned) and with many (hashed)")
    func lookup() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        for count in [1, 3, HandlerTable.scanLimit, HandlerTable.scanLimit + 1, 200] {
            let calls = Lock<[Int]>([])
            var handlers: [MessageTypeID: MessageHandler] = [:]
            for index in 0..<count {
                handlers[MessageTypeID(protocolID: UInt16(index % 3), typeIndex: UInt16(index))] = Self.handler(index, calls)
            }
            let table = HandlerTable(handlers)
            let context = MessageContext(
                connection: ObjectHandle(reactor: group.reactors[0], id: ObjectID(slot: 0, generation: 0)),
                header: MessageHeader(typeID: MessageTypeID(protocolID: 0, typeIndex: 0), version: 0))
            for index in 0..<count {
                let found = try #require(table[MessageTypeID(protocolID: UInt16(index % 3), typeIndex: UInt16(index))])
                _ = found(Blob(), context)
            }
            #expect(calls.withLock { $0 } == Array(0..<count))
            #expect(table[MessageTypeID(protocolID: 1, typeIndex: 0)] == nil)  // index 0 is under protocol 0
            #expect(table[MessageTypeID(protocolID: 7, typeIndex: UInt16(count))] == nil)
        }
    }
}
