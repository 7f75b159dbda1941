import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import SolidEngine
import SolidIPC
import SolidIPCLifecycle
import SolidReactor
import Testing

/// An IPCService inside a ServiceLifecycle ServiceGroup: graceful shutdown drains it, cancellation stops it.
@Suite("IPCService in a ServiceGroup", .serialized)
struct ServiceGroupTests {
    @Test("a graceful shutdown of the group answers the two requests held, stops accepting, then ends the group")
    func gracefulShutdownDrains() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let holding = try HoldingServer(group: group)
        let client = try startClient(group: group)
        defer { client.stop() }
        let answers = EventLog()
        for id in 1...2 {
            try client.request(Note(id: UInt64(id), text: "q"), to: holding.destination, expecting: Note.self) {
                answers.add((try? $0.get().text) ?? "\($0)")
            }
        }
        #expect(await waitUntil { holding.held.withLock { $0.count } == 2 })
        try await testGracefulShutdown { trigger in
            let serviceGroup = ServiceGroup(
                services: [holding.service], logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await serviceGroup.run() }
                trigger.triggerGracefulShutdown()
                #expect(await waitUntil { holding.service.listeningAddress == nil })  // accepting no more
                #expect(answers.all.isEmpty, "the held requests are not failed by the shutdown")
                try holding.answerHeld()
                try await tasks.next()  // the group ends once the drained service stopped
            }
        }
        #expect(answers.all.sorted() == ["a1", "a2"])
        #expect(throws: SendError.serviceStopped) { try holding.service.send(Note(), to: holding.destination) }
        _ = answers.wait(seconds: 0.2) { $0.count > 2 }
        #expect(answers.all.count == 2, "no answer twice")
    }

    @Test("cancelling the group's task stops the service at once; the service started by the group listened meanwhile")
    func cancellationStops() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let service = try unstartedServer(group: group)
        let serviceGroup = ServiceGroup(
            services: [service], logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let running = Task { try await serviceGroup.run() }
        #expect(await waitUntil { service.listeningAddress != nil })
        running.cancel()
        try await running.value
        #expect(service.listeningAddress == nil)
        await #expect(throws: SendError.serviceStopped) { try await service.start() }
    }
}
