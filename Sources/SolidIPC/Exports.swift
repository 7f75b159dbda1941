// `import SolidIPC` is all an application needs: it brings the messages (`WireMessage`, `FieldCoder`,
// `MessageRegistry`, `StreamField`, from SolidEngine) and the reactors and addresses (`ReactorGroup`,
// `SocketAddress`, from SolidReactor) that the service's API uses.
@_exported import SolidEngine
@_exported import SolidReactor
