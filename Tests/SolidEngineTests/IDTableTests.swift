import Testing
@testable import SolidEngine

@Suite("IDTable")
struct IDTableTests {
    @Test("random increments, decrements and removals agree with a Dictionary, through growth and deletions in long probe runs")
    func agreesWithDictionary() {
        let table = IDTable()
        var model: [UInt64: Int] = [:]
        var generator = SystemRandomNumberGenerator()
        for step in 0..<200_000 {
            // Small key ranges make collisions and long runs; sequential ids are the common case.
            let key: UInt64 = step % 3 == 0 ? UInt64(step / 3) : UInt64.random(in: 0..<512, using: &generator)
            switch UInt8.random(in: 0..<4, using: &generator) {
            case 0, 1:
                table.increment(key)
                model[key, default: 0] += 1
            case 2:
                let present = model[key] != nil
                #expect(table.decrement(key) == present)
                if let count = model[key] { model[key] = count > 1 ? count - 1 : nil }
            default:
                #expect(table.remove(key) == (model.removeValue(forKey: key) != nil))
            }
            if step % 997 == 0 {
                #expect(table.count == model.count)
                for (key, count) in model { #expect(table.count(of: key) == count) }
            }
        }
        #expect(table.count == model.count)
        for key in UInt64(0)..<1000 { #expect(table.count(of: key) == (model[key] ?? 0)) }
    }
}
