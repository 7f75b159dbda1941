import Testing
@testable import SolidReactor

@Suite("The reactor's scratch buffer")
struct ReactorScratchTests {
    @Test("one buffer lent to call after call, grown to the largest size asked; a nested call gets its own")
    func lending() throws {
        let group = try ReactorGroup(threads: 1)
        defer { group.shutdown() }
        let reactor = group.reactors[0]
        let addresses = try onReactor(reactor) { () -> [UInt] in
            var seen: [UInt] = []
            func address(_ buffer: UnsafeMutableRawBufferPointer) -> UInt { UInt(bitPattern: buffer.baseAddress) }
            reactor.withScratch(minimumBytes: 100) { first in
                #expect(first.count >= 100)
                first.storeBytes(of: 0xAB, toByteOffset: 99, as: UInt8.self)  // writable to its end
                seen.append(address(first))
                reactor.withScratch(minimumBytes: 50) { nested in
                    #expect(nested.count >= 50)
                    seen.append(address(nested))
                }
            }
            reactor.withScratch(minimumBytes: 80) { seen.append(address($0)) }
            reactor.withScratch(minimumBytes: 4096) { bigger in
                #expect(bigger.count >= 4096)
                seen.append(address(bigger))
            }
            reactor.withScratch(minimumBytes: 10) { seen.append(address($0)) }
            #expect(!reactor.scratchLent)
            return seen
        }
        #expect(addresses.count == 5)
        #expect(addresses[1] != addresses[0], "a nested call does not share the lent buffer")
        #expect(addresses[2] == addresses[0], "the same buffer again once given back")
        #expect(addresses[4] == addresses[3], "the grown buffer is kept")
    }
}
