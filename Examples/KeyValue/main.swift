import SolidIPC

struct Value: WireMessage, Sendable {
    var text = ""
    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) { try coder.field(&text) }
}
struct Put: IPCRequest {
    typealias Response = Value
    var key = "", value = ""
    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) { try coder.field(&key); try coder.field(&value) }
}
struct Get: IPCRequest {
    typealias Response = Value
    var key = ""
    mutating func describe<C: FieldCoder>(_ coder: inout C) throws(WireError) { try coder.field(&key) }
}
actor Store {
    var values: [String: String] = [:]
    func put(_ put: Put) -> Value { values[put.key] = put.value; return Value(text: put.value) }
    func get(_ get: Get) -> Value { Value(text: values[get.key] ?? "") }
}
let registry = MessageRegistry()
try registry.register(protocol: 1, [Put.self, Get.self, Value.self])
let reactors = try ReactorGroup(threads: 2)
var settings = ServiceConfiguration(registry: registry)
settings.listenAddress = .loopbackV4(port: 0)                 // port 0: the system picks one
let server = try IPCService(configuration: settings, group: reactors)
let store = Store()
try server.handleRequests(Put.self) { put, _ in await store.put(put) }
try server.handleRequests(Get.self) { get, _ in await store.get(get) }
let client = try IPCService(configuration: ServiceConfiguration(registry: registry), group: reactors)
try await server.withRunning { address in                     // stopped when the scope ends
    try await client.withRunning { _ in
        let kv = try Destination(host: "127.0.0.1", port: address!.port)
        _ = try await client.request(Put(key: "greeting", value: "hello"), to: kv)
        print("greeting =", try await client.request(Get(key: "greeting"), to: kv).text)
    }
}
reactors.shutdown()
