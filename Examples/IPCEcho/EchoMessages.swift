import SolidEngine

/// The echo request and response: an id and a payload of the requested size.
struct EchoMessage: WireMessage, Sendable {
    var id: UInt64 = 0
    var payload: [UInt8] = []

    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) {
        try coder.field(&id)
        try coder.field(&payload)
    }
}

/// Protocol 1 of the example: the echo message.
func echoRegistry() -> MessageRegistry {
    let registry = MessageRegistry()
    try! registry.register(protocol: 1, [EchoMessage.self])
    return registry
}
