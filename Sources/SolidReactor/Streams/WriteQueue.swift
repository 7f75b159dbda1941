/// The bytes a stream has queued for writing, oldest first, with how much of the first is sent.
///
/// Completions are kept inside structs, never as bare closures in an array: an array element of a
/// function type is stored in its most general form, and converting to and from it allocated a thunk
/// on every append and every read (measured: three allocations per written packet).
struct WriteQueue {
    typealias Completion = (StreamError?) -> Void

    /// One completion, as ``consume(_:)`` hands them back.
    struct Finished {
        let completion: Completion
    }

    private struct Entry {
        var bytes: [UInt8]
        var completion: Completion?
    }

    private var entries: [Entry] = []
    private var head = 0
    private var headOffset = 0
    private(set) var byteCount = 0
    /// The array ``consume(_:)`` returns completions in, kept between calls (``recycle(_:)``).
    private var spareFinished: [Finished] = []

    var isEmpty: Bool { head == entries.count }
    var count: Int { entries.count - head }

    mutating func append(_ bytes: [UInt8], _ completion: Completion?) {
        entries.append(Entry(bytes: bytes, completion: completion))
        byteCount += bytes.count
    }

    /// The `position`-th queued buffer and the offset of its first unsent byte.
    func entry(_ position: Int) -> ([UInt8], Int) {
        (entries[head + position].bytes, position == 0 ? headOffset : 0)
    }

    /// Marks `sent` bytes as written and returns the completions of the buffers now fully sent. Hand the
    /// array back with ``recycle(_:)`` once they ran.
    mutating func consume(_ sent: Int) -> [Finished] {
        var remaining = sent
        var done: [Finished] = []
        swap(&done, &spareFinished)  // its capacity, without a copy; a nested call meanwhile gets a new one
        byteCount -= sent
        while head < entries.count {
            let left = entries[head].bytes.count - headOffset
            if remaining < left {
                headOffset += remaining
                break
            }
            remaining -= left
            if let completion = entries[head].completion { done.append(Finished(completion: completion)) }
            entries[head] = Entry(bytes: [], completion: nil)
            head += 1
            headOffset = 0
        }
        compactIfNeeded()
        return done
    }

    /// Takes back an array ``consume(_:)`` returned, emptied, for the next call.
    mutating func recycle(_ done: inout [Finished]) {
        done.removeAll(keepingCapacity: true)
        if spareFinished.capacity == 0 { swap(&done, &spareFinished) }
    }

    /// Empties the queue and returns every pending completion.
    mutating func removeAll() -> [Completion] {
        let pending = entries[head...].compactMap(\.completion)
        entries.removeAll()
        head = 0
        headOffset = 0
        byteCount = 0
        return pending
    }

    private mutating func compactIfNeeded() {
        if head == entries.count {
            entries.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64 && head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }
}
