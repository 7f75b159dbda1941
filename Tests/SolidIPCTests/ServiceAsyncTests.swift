import SolidEngine
import SolidIPC
import Testing

@Suite("Service async API", .serialized)
struct ServiceAsyncTests {
    @Test("async requests under backpressure: a queue of 2 serves 40 concurrent requests, none fails")
    func asyncBackpressure() async throws {
        let group = try ReactorGroup(threads: 2)
        defer { group.shutdown() }
        let (server, destination) = try startEchoService(group: group)
        defer { server.stop() }
        var configuration = ServiceConfiguration(registry: try noteRegistry())
        configuration.poolQueueCapacity = 2
        let client = try Service(configuration: configuration, group: group)
        try client.start()
        defer { client.stop() }
        let texts = try await withThrowingTaskGroup(of: String.self) { tasks in
            for id in 0..<40 {
                tasks.addTask {
                    let response = try await client.request(Note(id: UInt64(id), text: "n\(id)"), to: destination, expecting: Note.self)
                    return response.text
                }
            }
            var all: [String] = []
            for try await text in tasks { all.append(text) }
            return all
        }
        #expect(Set(texts) == Set((0..<40).map { String("n\($0)".reversed()) }))
        try await client.send(Note(id: 1, text: "plain"), to: destination)
        client.stop()
        await #expect(throws: SendError.serviceStopped) { try await client.send(Note(), to: destination) }
    }
}
