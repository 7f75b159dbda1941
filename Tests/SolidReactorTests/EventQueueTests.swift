import Glibc
import Synchronization
import Testing
@testable import SolidReactor

/// An event carrying which producer sent it and its sequence number.
final class NumberedEvent: ReactorEvent, @unchecked Sendable {
    let producer: Int
    let sequence: Int
    init(producer: Int, sequence: Int) {
        self.producer = producer
        self.sequence = sequence
    }
}

/// Scale for the heavy loops: `SOLID_TEST_SCALE=0.1` shortens them (for sanitizer runs).
let testScale: Double = {
    guard let text = getenv("SOLID_TEST_SCALE"), let value = Double(String(cString: text)) else { return 1 }
    return value
}()

@Suite("MPSC event queue")
struct EventQueueTests {
    @Test("single thread: FIFO, empty, reuse after drain")
    func singleThreadFIFO() {
        let queue = EventQueue()
        #expect(queue.isEmpty)
        #expect(queue.pop() == nil)
        for round in 0..<3 {
            for index in 0..<100 { queue.push(NumberedEvent(producer: round, sequence: index)) }
            #expect(!queue.isEmpty)
            for index in 0..<100 {
                let event = queue.pop() as? NumberedEvent
                #expect(event?.sequence == index)
                #expect(event?.producer == round)
            }
            #expect(queue.pop() == nil)
            #expect(queue.isEmpty)
        }
    }

    @Test("an event may be posted again after it was popped")
    func reuseEvent() {
        let queue = EventQueue()
        let event = NumberedEvent(producer: 0, sequence: 7)
        for _ in 0..<5 {
            queue.push(event)
            #expect(queue.pop() === event)
            #expect(queue.pop() == nil)
        }
    }

    @Test("queued events are released with the queue")
    func releasesQueuedEvents() {
        weak var weakEvent: NumberedEvent?
        do {
            let queue = EventQueue()
            let event = NumberedEvent(producer: 0, sequence: 0)
            weakEvent = event
            queue.push(event)
        }
        #expect(weakEvent == nil)
    }

    @Test("producers × 1M pushes: every item exactly once, per-producer order kept")
    func manyProducers() throws {
        let producers = 3
        let perProducer = Int(1_000_000 * testScale)
        let queue = EventQueue()
        let go = Atomic<Bool>(false)
        var joins: [() -> Void] = []
        for producer in 0..<producers {
            joins.append(
                try spawn {
                    while !go.load(ordering: .acquiring) {}
                    for sequence in 0..<perProducer {
                        queue.push(NumberedEvent(producer: producer, sequence: sequence))
                    }
                })
        }
        go.store(true, ordering: .releasing)
        var next = [Int](repeating: 0, count: producers)
        var received = 0
        var outOfOrder = 0
        while received < producers * perProducer {
            guard let event = queue.pop() as? NumberedEvent else { continue }
            if event.sequence != next[event.producer] { outOfOrder += 1 }
            next[event.producer] = event.sequence + 1
            received += 1
        }
        for join in joins { join() }
        #expect(outOfOrder == 0)
        #expect(next == [Int](repeating: perProducer, count: producers))
        #expect(queue.pop() == nil)
        #expect(queue.isEmpty)
    }
}
