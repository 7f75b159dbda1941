public import ServiceLifecycle
public import SolidIPC

/// An `IPCService` is a ServiceLifecycle service: put it in a `ServiceGroup` and the group
/// runs it (starting it if it was not started), and the group's graceful shutdown (SIGTERM, say) drains
/// it — no new connections or messages, requests in flight answered for up to
/// `ServiceConfiguration.gracefulShutdownPeriod` — before it stops. Cancelling the group stops it at once.
///
/// ```swift
/// import ServiceLifecycle
/// import SolidIPC
/// import SolidIPCLifecycle
///
/// let service = try IPCService(configuration: configuration, group: reactors)
/// let group = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
extension IPCService: ServiceLifecycle.Service {
    /// Serves (`IPCService.serve()`) until the service group shuts down: a graceful shutdown
    /// calls `IPCService.beginGracefulShutdown()` and returns once the drained service has
    /// stopped; cancellation stops it at once.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await serve()
        } onGracefulShutdown: {
            self.beginGracefulShutdown()
        }
    }
}
