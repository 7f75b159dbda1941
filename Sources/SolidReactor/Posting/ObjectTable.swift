import Synchronization

/// The objects registered on one reactor, addressed by generation-checked ``ObjectID``s.
///
/// A slot's generation is odd while an object occupies it and even while it is free (it starts at 0
/// and advances on every insert and every removal), so a stale or forged id is never "alive".
///
/// The table itself is touched only on the reactor thread. Slot generations also live in a directory of
/// atomic chunks that never move or shrink, so other threads can ask "is this id still alive?" without a
/// lock (used to refuse posts to objects that are already gone).
final class ObjectTable: @unchecked Sendable {
    // @unchecked: `objects` and `freeSlots` are reactor-thread only; `directory` holds atomics whose
    // chunks are published with release stores and never freed before the table.

    static let chunkShift = 10
    static let chunkSize = 1 << chunkShift  // slots per chunk
    static let maxChunks = 4096  // => up to 4,194,304 objects per reactor

    @exclusivity(unchecked) private var objects: [(any ReactorObject)?] = []
    private var freeSlots: [UInt32] = []
    private let directory: UnsafeMutablePointer<Atomic<UnsafeMutablePointer<Atomic<UInt64>>?>>
    private(set) var count = 0

    init() {
        directory = .allocate(capacity: Self.maxChunks)
        for index in 0..<Self.maxChunks {
            (directory + index).initialize(to: Atomic(nil))
        }
    }

    deinit {
        for index in 0..<Self.maxChunks {
            if let chunk = directory[index].load(ordering: .acquiring) {
                chunk.deinitialize(count: Self.chunkSize)
                chunk.deallocate()
            }
        }
        directory.deinitialize(count: Self.maxChunks)
        directory.deallocate()
    }

    private func generationCell(_ slot: UInt32) -> UnsafeMutablePointer<Atomic<UInt64>>? {
        let chunkIndex = Int(slot) >> Self.chunkShift
        guard chunkIndex < Self.maxChunks,
            let chunk = directory[chunkIndex].load(ordering: .acquiring)
        else { return nil }
        return chunk + (Int(slot) & (Self.chunkSize - 1))
    }

    /// Adds an object and returns its new identifier. Reactor thread only.
    func insert(_ object: any ReactorObject) -> ObjectID {
        let slot: UInt32
        if let reused = freeSlots.popLast() {
            slot = reused
            objects[Int(slot)] = object
        } else {
            precondition(objects.count < Self.maxChunks * Self.chunkSize, "too many objects on one reactor")
            slot = UInt32(objects.count)
            if Int(slot) & (Self.chunkSize - 1) == 0 {
                let chunk = UnsafeMutablePointer<Atomic<UInt64>>.allocate(capacity: Self.chunkSize)
                for index in 0..<Self.chunkSize { (chunk + index).initialize(to: Atomic(0)) }
                directory[Int(slot) >> Self.chunkShift].store(chunk, ordering: .releasing)
            }
            objects.append(object)
        }
        count += 1
        let cell = generationCell(slot)!
        let generation = cell.pointee.load(ordering: .relaxed) &+ 1
        cell.pointee.store(generation, ordering: .releasing)
        return ObjectID(slot: slot, generation: generation)
    }

    /// Removes the object named by `id` and returns it, or `nil` when `id` is stale. Reactor thread only.
    @discardableResult
    func remove(_ id: ObjectID) -> (any ReactorObject)? {
        guard let object = lookup(id) else { return nil }
        objects[Int(id.slot)] = nil
        generationCell(id.slot)!.pointee.store(id.generation &+ 1, ordering: .releasing)
        freeSlots.append(id.slot)
        count -= 1
        return object
    }

    /// The live object named by `id`, or `nil` when it is gone. Reactor thread only.
    @inline(__always)
    func lookup(_ id: ObjectID) -> (any ReactorObject)? {
        guard Int(id.slot) < objects.count, id.generation & 1 == 1,
            generationCell(id.slot)!.pointee.load(ordering: .relaxed) == id.generation
        else { return nil }
        return objects[Int(id.slot)]
    }

    /// The live object an epoll token (``ObjectID/packed``) names, or `nil` when it is gone. Reactor
    /// thread only.
    @inline(__always)
    func lookup(packed token: UInt64) -> (any ReactorObject)? {
        let slot = UInt32(truncatingIfNeeded: token >> 32)
        let low = token & 0xFFFF_FFFF
        guard Int(slot) < objects.count, low & 1 == 1,
            generationCell(slot)!.pointee.load(ordering: .relaxed) & 0xFFFF_FFFF == low
        else { return nil }
        return objects[Int(slot)]
    }

    /// Whether `id` is still registered. Any thread; the answer may be stale at once.
    func isAlive(_ id: ObjectID) -> Bool {
        guard let cell = generationCell(id.slot) else { return false }
        return id.generation & 1 == 1 && cell.pointee.load(ordering: .acquiring) == id.generation
    }

    /// Moves a free slot's generation on by `steps` reuses (tests: a slot reused billions of times).
    func skipGenerations(of slot: UInt32, by steps: UInt64) {
        precondition(lookup(ObjectID(slot: slot, generation: generationCell(slot)!.pointee.load(ordering: .relaxed))) == nil)
        let cell = generationCell(slot)!
        cell.pointee.store(cell.pointee.load(ordering: .relaxed) &+ 2 &* steps, ordering: .releasing)
    }

    /// Every live object, for shutdown. Reactor thread only.
    func allObjects() -> [(ObjectID, any ReactorObject)] {
        var result: [(ObjectID, any ReactorObject)] = []
        result.reserveCapacity(count)
        for (slot, object) in objects.enumerated() {
            if let object {
                let generation = generationCell(UInt32(slot))!.pointee.load(ordering: .relaxed)
                result.append((ObjectID(slot: UInt32(slot), generation: generation), object))
            }
        }
        return result
    }
}
