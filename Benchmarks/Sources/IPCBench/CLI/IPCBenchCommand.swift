import ArgumentParser

/// `ipc-bench`: SolidIPC against raw TCP, SwiftNIO and grpc-swift 2 in the same run (issue 6).
@main
struct IPCBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ipc-bench",
        abstract: "SolidIPC against raw TCP over SolidReactor, SwiftNIO and grpc-swift 2: W1, W1b, W2, W3.",
        subcommands: [RunCommand.self, ServeCommand.self],
        defaultSubcommand: RunCommand.self)
}

/// On or off, for options written `--pin on`.
enum Switch: String, ExpressibleByArgument, Sendable {
    case on, off
}
