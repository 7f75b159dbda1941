import ArgumentParser
import Foundation
import SolidIPC

/// `file-transfer`: a file of any size sent as one message whose bytes go through a `StreamField`, with a
/// live progress bar on both sides. A transfer that breaks fails with how far it got; nothing is resumed
/// or retried behind the user's back, and the receiver deletes what it had written.
@main
struct FileTransferCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "file-transfer", abstract: "Send a file as one SolidIPC message, with progress on both sides.",
        subcommands: [Demo.self, Receive.self, Send.self], defaultSubcommand: Demo.self)

    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a file, send it to a receiver in this process, compare.")
        @Option(help: "File size in bytes.") var size: UInt64 = 2 << 30

        func run() async throws {
            let directory = NSTemporaryDirectory() + "file-transfer-\(getpid())"
            try FileManager.default.createDirectory(atPath: directory + "/in", withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let path = directory + "/demo.bin"
            try makeFile(path, size: size)
            let group = try ReactorGroup(threads: 2)
            defer { group.shutdown() }
            let receiver = try makeReceiver(group: group, listen: .loopbackV4(port: 0), directory: directory + "/in")
            try await receiver.withRunning { address in
                let destination = try Destination(host: "127.0.0.1", port: address!.port)
                try await sendFile(path, to: destination, group: group)
            }
            guard FileManager.default.contentsEqual(atPath: path, andPath: directory + "/in/demo.bin") else {
                throw ValidationError("the received file differs from the sent one")
            }
            print("the received file is identical")
        }
    }

    struct Receive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Receive files into a directory until interrupted.")
        @Option(help: "Port to listen on (0 picks one).") var port: UInt16 = 0
        @Option(help: "Address to listen on.") var host = "127.0.0.1"
        @Option(help: "Directory to write into.") var directory = "."

        func run() async throws {
            let group = try ReactorGroup(threads: 2)
            defer { group.shutdown() }
            let receiver = try makeReceiver(group: group, listen: try SocketAddress(ip: host, port: port), directory: directory)
            try await receiver.start()
            print("file-transfer receiving on \(receiver.listeningAddress.map { "\($0)" } ?? "?") into \(directory)")
            fflush(nil)  // flush stdout: a supervising script waits for this line
            try await receiver.serve()
        }
    }

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send one file to a receiver.")
        @Option(help: "The receiver: HOST:PORT.") var connect: String
        @Argument(help: "The file to send.") var file: String

        func run() async throws {
            let group = try ReactorGroup(threads: 1)
            defer { group.shutdown() }
            try await sendFile(file, to: try Destination(parsing: connect), group: group)
        }
    }
}

/// A receiver: each offered file is written to `directory` under its own name (its last path
/// component), with a progress bar; the answer carries the size and checksum written.
func makeReceiver(group: ReactorGroup, listen: SocketAddress, directory: String) throws -> IPCService {
    var configuration = ServiceConfiguration(registry: try fileRegistry())
    configuration.listenAddress = listen
    configuration.connection.maxBodyBytes = 1 << 20  // the offer's fields; its bytes are a stream
    let receiver = try IPCService(configuration: configuration, group: group)
    try receiver.handle(FileOffer.self, makeSinks: { offer, context in
        let name = (offer.name as NSString).lastPathComponent
        guard !name.isEmpty, name != "..", name != "." else { return [] }  // no sink: the offer is refused
        let counter = TransferCounter()
        guard let sink = try? CountingFileSink(path: directory + "/" + name, counter: counter) else { return [] }
        let bar = ProgressBar("receiving \(name)", total: offer.size, counter: counter)
        sink.onEnd = { outcome in
            bar.stop()
            switch outcome {
            case .success(let received): try? context.respond(received)
            case .failure(let error): print("receiving \(name) failed, the partial file is deleted: \(error)")
            }
        }
        return [sink]
    }) { _, _ in }  // answered by the sink once the last byte is on disk
    return receiver
}

/// Sends `path` as one message and checks the receiver got every byte.
func sendFile(_ path: String, to destination: Destination, group: ReactorGroup) async throws {
    let size = try (FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value ?? 0
    let counter = TransferCounter()
    let source = try CountingFileSource(path: path, counter: counter)
    let sender = try IPCService(configuration: ServiceConfiguration(registry: try fileRegistry()), group: group)
    try await sender.withRunning { _ in
        let bar = ProgressBar("sending \((path as NSString).lastPathComponent)", total: size, counter: counter)
        defer { bar.stop() }
        let offer = FileOffer(name: (path as NSString).lastPathComponent, size: size, data: StreamField(source: source))
        // One attempt: a receiver that is down fails at once, a broken transfer fails with how far it got.
        let received = try await sender.request(offer, to: destination, options: .oneShot)
        guard received.size == size, received.checksum == source.checksum.value else {
            throw ValidationError("the receiver got \(received.size) bytes with checksum \(received.checksum); sent \(size) with \(source.checksum.value)")
        }
    }
    print("sent \(size) bytes to \(destination); the receiver's checksum matches")
}

/// Writes `size` pseudo-random bytes to `path`.
func makeFile(_ path: String, size: UInt64) throws {
    guard let handle = FileHandle(forWritingAtPath: path) ?? {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        return FileHandle(forWritingAtPath: path)
    }() else { throw ValidationError("cannot create \(path)") }
    defer { try? handle.close() }
    var state: UInt64 = 0x9e37_79b9_7f4a_7c15
    var chunk = [UInt64](repeating: 0, count: 1 << 17)  // 1 MiB
    var left = size
    while left > 0 {
        for index in chunk.indices {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            chunk[index] = state
        }
        let count = Int(min(left, UInt64(chunk.count * 8)))
        try chunk.withUnsafeBytes { try handle.write(contentsOf: Data($0.prefix(count))) }
        left -= UInt64(count)
    }
}
