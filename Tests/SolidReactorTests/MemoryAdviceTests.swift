import Glibc
import Testing
@testable import SolidReactor

@Suite("Memory advice")
struct MemoryAdviceTests {
    @Test("huge-page advice covers only whole aligned 2 MiB pages; the kernel takes it when it has huge pages")
    func hugePages() throws {
        let small = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { small.deallocate() }
        #expect(!MemoryAdvice.preferHugePages(small), "1 MiB holds no aligned 2 MiB page")
        #expect(!MemoryAdvice.preferHugePages(UnsafeMutableRawBufferPointer(start: nil, count: 0)))

        let large = UnsafeMutableRawBufferPointer.allocate(byteCount: 8 << 20, alignment: 4096)
        defer { large.deallocate() }
        let kernelHasHugePages = access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0
        #expect(MemoryAdvice.preferHugePages(large) == kernelHasHugePages)
        // The memory stays usable whatever the kernel decided.
        large.initializeMemory(as: UInt8.self, repeating: 7)
        #expect(large[(8 << 20) - 1] == 7)
    }
}
