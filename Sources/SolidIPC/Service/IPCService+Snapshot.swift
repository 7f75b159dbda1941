extension IPCService {
    /// What the service holds now: its pools (queue, dialling, connections) and accepted connections,
    /// each connection with its state, peer, TLS identity, queue depth, requests in flight, bytes and
    /// age. Each reactor reports its own objects, so the parts are taken at slightly different moments.
    /// Suspends, blocking no thread; callable from any task.
    public func snapshot() async -> ServiceSnapshot {
        await withCheckedContinuation { continuation in beginSnapshot { continuation.resume(returning: $0) } }
    }

    /// The blocking form of `await snapshot()`, for code that is not async; like `stop()` it must not be
    /// called on a reactor thread (a precondition, on in release builds).
    public func snapshot() -> ServiceSnapshot {
        waitOffReactor("snapshot()", beginSnapshot)
    }

    /// Gathers the snapshot without waiting; `done` runs once with it (on a reactor thread, or here).
    func beginSnapshot(_ done: @escaping @Sendable (ServiceSnapshot) -> Void) {
        let (entries, core, listening) = state.withLock { state in
            (Array(state.pools.values), state.core, state.reportedListeningAddress)
        }
        let pools = Lock<[PoolSnapshot]>([])
        let accepted = Lock<[ConnectionSnapshot]>([])
        var fanOut = ReactorFanOut()
        for entry in entries {
            fanOut.run(on: entry.reactor) { done in
                if let pool = entry.existingPool { pools.withLock { $0.append(pool.snapshot()) } }
                done()
            }
        }
        for peer in core?.livePeers() ?? [] {
            fanOut.run(on: peer.reactor) { done in
                if let server = peer.reactor.object(peer.id) as? ServerPeer {
                    accepted.withLock { $0.append(server.snapshot(handle: peer)) }
                }
                done()
            }
        }
        fanOut.whenDone { [self] in
            done(
                ServiceSnapshot(
                    listeningAddress: listening,
                    pools: pools.withLock { $0 }.sorted { "\($0.destination)" < "\($1.destination)" },
                    acceptedConnections: accepted.withLock { $0 }.sorted { $0.age > $1.age },
                    statistics: statistics))
        }
    }
}

extension Pool {
    /// This pool, read on its reactor thread.
    func snapshot() -> PoolSnapshot {
        PoolSnapshot(
            destination: entry.destination, messagesQueued: queue.count, connecting: dialer.connecting,
            retryingAfter: dialer.failureWhileWaiting,
            connections: links.map { link in
                ConnectionSnapshot(
                    link.connection, handle: link.handle, side: .client, passive: !link.active,
                    requestsInFlight: link.awaiting.count)
            })
    }
}
