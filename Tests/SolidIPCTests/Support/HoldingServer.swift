import SolidIPC
import SolidReactor

/// A server whose Note handler holds each request for the test to answer (or answers at once those
/// `answersAtOnce` picks, with text "a<id>"), its connections' stop reasons in `stops`.
struct HoldingServer {
    let service: IPCService
    let destination: Destination
    let held = Lock<[MessageContext]>([])
    let stops = EventLog()

    init(
        group: ReactorGroup, configure: (inout ServiceConfiguration) -> Void = { _ in },
        answersAtOnce: @escaping @Sendable (Note) -> Bool = { _ in false }
    ) throws {
        let (held, stops) = (held, stops)
        (service, destination) = try startServer(group: group, configure: { configuration in
            configuration.onConnectionStop = { _, error in stops.add("\(error)") }
            configure(&configuration)
        }) { server in
            try server.handle(Note.self) { note, context in
                if answersAtOnce(note) {
                    try? context.respond(Note(id: note.id, text: "a\(note.id)"))
                } else {
                    held.withLock { $0.append(context) }
                }
            }
        }
    }

    /// Answers the held requests in order, as notes `firstID`, `firstID + 1`, … with text "a<id>".
    func answerHeld(firstID: UInt64 = 1) throws {
        for (index, context) in held.withLock({ $0 }).enumerated() {
            let id = firstID + UInt64(index)
            try context.respond(Note(id: id, text: "a\(id)"))
        }
    }
}
