import SolidEngine
import SolidIPC

extension SolidSystemClient {
    /// W1/W1b through the async API: per connection, `depth` tasks each awaiting one request after the
    /// other (`try await service.request`), so `depth` requests are in flight per connection as in the
    /// callback rows. The tasks prefer the client's reactor as their executor (`Reactor` is a
    /// `TaskExecutor`), as an application that awaits SolidIPC on a hot path would.
    func asyncEcho(
        _ spec: EchoSpec, services: [IPCService], payload: [UInt8], run: EchoRun, phase: MeasuredPhase
    ) throws -> EchoOutcome {
        let destination = self.destination
        let size = payload.count
        try phase.begin()
        let start = nowNanos()
        for (index, service) in services.enumerated() {
            let lane = spec.roundTrips / spec.connections + (index < spec.roundTrips % spec.connections ? 1 : 0)
            let tasks = min(spec.depth, lane)
            for task in 0..<tasks {
                let count = lane / tasks + (task < lane % tasks ? 1 : 0)
                // On the client reactor's thread: a response resumes its task without a thread hop.
                Task(executorPreference: reactor) {
                    for _ in 0..<count {
                        let sentAt = nowNanos()
                        do {
                            let response = try await service.request(
                                EchoMessage(payload: payload), to: destination, expecting: EchoMessage.self)
                            run.finish(sentAt: sentAt, error: response.payload.count == size ? nil : "wrong echo size")
                        } catch {
                            run.finish(sentAt: sentAt, error: "\(error)")
                        }
                    }
                }
            }
        }
        let end = try run.completion.wait("SolidIPC async echo", timeout: Deadline.echo(spec)) {
            "\(run.finished.load(ordering: .relaxed)) of \(spec.roundTrips) round trips"
        }
        try phase.end()
        return run.outcome(elapsed: end - start)
    }
}
