import SolidReactor

/// How one pool reaches its destination, pinned to the pool's reactor: resolve the name (or the
/// proxy's), connect to the next address, run the proxy's handshake, start TLS when the service is
/// secure from the start — then hand the stream to the pool, which makes the connection (hello, Raw…).
///
/// The dialer also keeps the books of attempts: the resolved addresses and their rotation, failures in
/// a row (for the back-off) and in this round (every address tried once), why the last round failed, and
/// the retry timer. ``Pool`` keeps dispatch and delivery; it asks for a stream when it wants one more
/// connection and reports what became of each stream it got (``connectionUp()``,
/// ``attemptFailed(_:)``, ``connectionDropped()``).
///
/// A configured proxy is the only way out: when it cannot be reached or refuses, the attempt fails —
/// never a direct connection. Unix-domain destinations are always direct.
final class Dialer {
    /// What a dial produced.
    enum Outcome {
        /// A stream to the destination (through the proxy's tunnel, under TLS when configured);
        /// `initialInput`: the destination's first bytes, read with the proxy's reply.
        case connected(any ByteStream, initialInput: [UInt8])
        /// The attempt failed; report it with ``Dialer/attemptFailed(_:)``.
        case failed(ConnectionError)
        /// The name resolved: the addresses are known, the pool may dial again.
        case resolved
        /// The name did not resolve.
        case unresolvable(ResolveError)
    }

    /// What a failed attempt means for the pool.
    enum Verdict: Equatable {
        /// Other addresses are left to try in this round.
        case tryNext
        /// Every address failed and no connection is up: one-shot messages fail with `reason`; the
        /// dialer resolves again for the next round, after the back-off.
        case roundFailed(ConnectionError)
    }

    let reactor: Reactor
    let destination: Destination
    let plan: DialPlan
    private let steps: DialSteps
    private var stopped = false
    /// Attempts between a dial and its outcome.
    private(set) var connecting = 0
    private(set) var resolving = false
    private var addresses: [SocketAddress] = []
    private var nextAddress = 0
    private var failedInARow = 0
    private var failedThisRound = 0
    /// Why the last round failed, while the retry waits: a one-shot message sent meanwhile fails at once.
    private var lastRoundFailure: ConnectionError?
    private var retryTimer: TimerID?

    init(
        to destination: Destination, plan: DialPlan, on reactor: Reactor, steps: DialSteps? = nil,
        onHandshake: ((SecurityInfo) -> Void)? = nil
    ) {
        reactor.preconditionInReactor()
        self.reactor = reactor
        self.destination = destination
        self.plan = plan
        self.steps = steps ?? .live(on: reactor, onHandshake: onHandshake)
    }

    /// The proxy for this destination, unless it is a Unix-domain socket (always direct).
    var proxy: ProxySettings? { destination.unixAddress == nil ? plan.proxy : nil }

    /// `true` while a back-off runs before the next round.
    var isWaitingToRetry: Bool { retryTimer != nil }

    /// `true` when nothing is on its way: no attempt, no resolution, no retry scheduled.
    var isIdle: Bool { connecting == 0 && !resolving && retryTimer == nil }

    /// Why the last round failed, while the next waits for its back-off (else `nil`).
    var failureWhileWaiting: ConnectionError? { retryTimer == nil ? nil : lastRoundFailure }

    /// Starts one attempt: with no address known yet, resolves first (outcome ``Outcome/resolved``:
    /// dial again). `done` runs once, on the reactor thread, unless the dialer was stopped meanwhile (a
    /// stream that arrives then is closed).
    func dial(_ done: @escaping (Outcome) -> Void) {
        reactor.preconditionInReactor()
        guard !stopped, !resolving else { return }
        guard !addresses.isEmpty else { return resolve(done) }
        let address = addresses[nextAddress % addresses.count]
        nextAddress += 1
        connecting += 1
        let started = reactor.now()
        steps.connect(address, plan.connectTimeout) { [self] result in
            switch result {
            case .failure(let error):
                end(.failed(.stream(error)), done)
            case .success(let stream):
                guard !stopped else { return end(closing: stream) }
                guard let proxy else { return secure(stream, initialInput: [], done) }
                // The connect and the proxy's handshake share one connectTimeout.
                let left = max(plan.connectTimeout - reactor.now().duration(since: started), .milliseconds(1))
                let target = ProxyTarget(host: destination.host, port: destination.port)
                steps.tunnel(proxy, target, stream, left) { [self] tunnel in
                    switch tunnel {
                    case .success(let (stream, leftover)):
                        guard !stopped else { return end(closing: stream) }
                        secure(stream, initialInput: leftover, done)
                    case .failure(let error):
                        end(.failed(.stream(error)), done)
                    }
                }
            }
        }
    }

    /// TLS first when the service is secure from the start (verified against the destination's name,
    /// also through a proxy), then the outcome.
    private func secure(_ stream: any ByteStream, initialInput: [UInt8], _ done: @escaping (Outcome) -> Void) {
        guard let tls = plan.tlsFromStart else { return end(.connected(stream, initialInput: initialInput), done) }
        do throws(StreamError) {
            let secure = try steps.secure(tls, stream, destination.serverName, initialInput)
            end(.connected(secure, initialInput: []), done)
        } catch {
            stream.close()
            end(.failed(.stream(error)), done)
        }
    }

    private func end(_ outcome: Outcome, _ done: (Outcome) -> Void) {
        connecting -= 1
        guard !stopped else {
            if case .connected(let stream, _) = outcome { stream.close() }
            return
        }
        done(outcome)
    }

    private func end(closing stream: any ByteStream) {
        connecting -= 1
        stream.close()
    }

    private func resolve(_ done: @escaping (Outcome) -> Void) {
        if let unix = destination.unixAddress {
            // Nothing to resolve: the path is the address.
            addresses = [.unix(unix)]
            nextAddress = 0
            return done(.resolved)
        }
        resolving = true
        // Through a proxy the pool connects to the proxy; the proxy resolves the destination's name.
        let (host, port) = proxy.map { ($0.host, $0.port) } ?? (destination.host, destination.port)
        steps.resolve(host, port) { [self] result in
            resolving = false
            guard !stopped else { return }
            switch result {
            case .failure(let error):
                done(.unresolvable(error))
            case .success(let resolved):
                addresses = resolved
                nextAddress = 0
                done(.resolved)
            }
        }
    }

    /// An attempt failed: its connect, its proxy or TLS step, or — after the stream was handed over —
    /// its hello, its TLS handshake or its Raw exchange. `linksUp`: the pool still has a connection.
    func attemptFailed(_ reason: ConnectionError, linksUp: Bool) -> Verdict {
        failedInARow += 1
        failedThisRound += 1
        guard !linksUp, failedThisRound >= addresses.count else { return .tryNext }
        // Every address failed and nothing is up: resolve again for the next round.
        failedThisRound = 0
        addresses = []
        lastRoundFailure = reason
        return .roundFailed(reason)
    }

    /// A connection completed its handshake: the failures are over.
    func connectionUp() {
        failedInARow = 0
        failedThisRound = 0
        lastRoundFailure = nil
    }

    /// The pool's last connection dropped (not closed on purpose): the next round waits a back-off.
    func connectionDropped() { failedInARow += 1 }

    /// Runs `then` after the back-off for the failures so far (once; a retry already waiting stays).
    /// How long the next ``scheduleRetry(_:)`` waits.
    var nextRetryDelay: Duration {
        .nanoseconds(Self.backOff(base: plan.reconnectDelay, failures: failedInARow, limit: plan.maxReconnectDelay))
    }

    func scheduleRetry(_ then: @escaping () -> Void) {
        guard retryTimer == nil, !stopped else { return }
        let delay = Self.backOff(base: plan.reconnectDelay, failures: failedInARow, limit: plan.maxReconnectDelay)
        retryTimer = reactor.schedule(after: .nanoseconds(delay)) { [self] in
            retryTimer = nil
            then()
        }
    }

    /// Stops: no new attempt, the retry is cancelled, streams still on their way are closed on arrival.
    func stop() {
        stopped = true
        if let retryTimer { reactor.cancelTimer(retryTimer) }
        retryTimer = nil
    }

    /// The wait before the next attempt after `failures` failures in a row: `base` doubled per failure
    /// after the first, saturating (never wrapping into a short wait), at most `limit`, in nanoseconds.
    static func backOff(base: Duration, failures: Int, limit: Duration) -> Int64 {
        let shift = min(max(failures - 1, 0), 62)
        let (doubled, overflow) = base.clampedToNanoseconds.multipliedReportingOverflow(by: Int64(1) << shift)
        return min(overflow ? .max : doubled, limit.clampedToNanoseconds)
    }
}
