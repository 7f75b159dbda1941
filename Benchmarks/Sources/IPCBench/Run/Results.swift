/// What one repetition of one case measured.
struct RunSample: Codable, Sendable {
    var seconds: Double
    /// Round trips per second (W1, W1b) or MB/s (W2, W2 stream, W3's bulk message), MB = 10⁶ bytes.
    var rate: Double
    /// Round trips (echo) or messages (transfers) the allocation counts cover.
    var messages: Int
    var clientAllocations: Int?
    var serverAllocations: Int?
    var clientPeakRSS: Int?
    var serverPeakRSS: Int?
    /// RSS when the measured phase began (the peak's baseline), bytes.
    var clientStartRSS: Int?
    var serverStartRSS: Int?
    var errors: Int
    var firstError: String?
    var checksumOK: Bool?
    var busyPings: Int?
    /// Handshakes: connections whose TLS session was resumed.
    var resumed: Int? = nil
    /// W4: connections the system really opened.
    var connectionsOpened: Int?
}

/// Median and spread of one figure over the repetitions.
struct Spread: Codable, Sendable {
    var median: Double
    var min: Double
    var max: Double

    init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        min = sorted.first!
        max = sorted.last!
    }
}

/// Everything measured for one case, over its repetitions.
struct CaseResult: Codable, Sendable {
    var benchCase: BenchCase
    var samples: [RunSample]
    /// The primary figure (see ``RunSample/rate``).
    var rate: Spread?
    /// Echo latency percentiles, every repetition pooled (W1, W1b).
    var latency: LatencySummary?
    /// W3: pings alone, and pings while the bulk message was in flight (pooled).
    var idleLatency: LatencySummary?
    var busyLatency: LatencySummary?
    /// Median allocations per round trip (echo) or per message (transfers).
    var clientAllocationsPerMessage: Double?
    var serverAllocationsPerMessage: Double?
    /// Highest peak RSS over the repetitions, bytes.
    var clientPeakRSS: Int?
    var serverPeakRSS: Int?
    /// RSS at the start of the repetition with the highest peak, bytes.
    var clientStartRSS: Int?
    var serverStartRSS: Int?
    /// Set when a repetition failed or hung; what happened.
    var failure: String?

    init(benchCase: BenchCase) {
        self.benchCase = benchCase
        samples = []
    }

    /// Recomputes the summaries from the samples and the pooled histograms.
    mutating func summarise(latency: LatencyHistogram, idle: LatencyHistogram, busy: LatencyHistogram) {
        rate = Spread(samples.map(\.rate))
        self.latency = latency.summary
        idleLatency = idle.summary
        busyLatency = busy.summary
        clientAllocationsPerMessage = Spread(samples.compactMap { sample in
            sample.clientAllocations.map { Double($0) / Double(max(sample.messages, 1)) } })?.median
        serverAllocationsPerMessage = Spread(samples.compactMap { sample in
            sample.serverAllocations.map { Double($0) / Double(max(sample.messages, 1)) } })?.median
        let clientWorst = samples.max { ($0.clientPeakRSS ?? 0) < ($1.clientPeakRSS ?? 0) }
        let serverWorst = samples.max { ($0.serverPeakRSS ?? 0) < ($1.serverPeakRSS ?? 0) }
        clientPeakRSS = clientWorst?.clientPeakRSS
        clientStartRSS = clientWorst?.clientStartRSS
        serverPeakRSS = serverWorst?.serverPeakRSS
        serverStartRSS = serverWorst?.serverStartRSS
    }
}
