import Glibc
import SolidReactor

/// `reactor-bench`: micro-benchmarks of SolidReactor (release build). Prints figures; asserts nothing.
@main
struct ReactorBenchMain {
    static func main() throws {
        let quick = CommandLine.arguments.contains("--quick")
        let scale = quick ? 0.2 : 1.0
        print("SolidReactor micro-benchmarks (\(ReactorGroup.activeProcessorCount) CPUs, median of 5 after a warm-up)")

        let postGroup = try ReactorGroup(threads: 1)
        for producers in [1, 2] {
            try report("post: events/s, \(producers) producer thread(s)") {
                try postingRate(group: postGroup, producers: producers, perProducer: Int(1_000_000 * scale))
            }
        }
        let wakesBefore = postGroup.reactors[0].wakeUpWrites
        _ = try postingRate(group: postGroup, producers: 1, perProducer: 100_000)
        print("  eventfd writes for 100,000 posts: \(postGroup.reactors[0].wakeUpWrites - wakesBefore)")
        try report("timers: schedule+cancel/s (100k pending)") {
            try timerRate(group: postGroup, operations: Int(1_000_000 * scale), background: 100_000)
        }
        postGroup.shutdown()

        let duration = quick ? 0.5 : 2.0
        for (connections, depth) in [(1, 1), (1, 64), (4, 16)] {
            try report("echo 64 B: \(connections) conn × \(depth) in flight, round trips/s", repetitions: 3) {
                try echoRate(connections: connections, depth: depth, duration: duration)
            }
        }
    }
}
