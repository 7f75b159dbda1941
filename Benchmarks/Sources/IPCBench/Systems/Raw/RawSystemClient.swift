/// The raw-TCP baseline client: the shared framed client over ``RawTransport``.
typealias RawSystemClient = FramedSystemClient<RawTransport>

extension FramedSystemClient where Transport == RawTransport {
    convenience init(endpoints: ServerEndpoints) throws {
        self.init(transport: try RawTransport(endpoints: endpoints))
    }
}
