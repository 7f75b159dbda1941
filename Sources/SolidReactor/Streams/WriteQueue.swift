/// The bytes a stream has queued for writing, oldest first, with how much of the first is sent.
struct WriteQueue {
    typealias Completion = (StreamError?) -> Void

    private var buffers: [[UInt8]] = []
    private var completions: [Completion?] = []
    private var head = 0
    private var headOffset = 0
    private(set) var byteCount = 0

    var isEmpty: Bool { head == buffers.count }
    var count: Int { buffers.count - head }

    mutating func append(_ bytes: [UInt8], _ completion: Completion?) {
        buffers.append(bytes)
        completions.append(completion)
        byteCount += bytes.count
    }

    /// The `position`-th queued buffer and the offset of its first unsent byte.
    func entry(_ position: Int) -> ([UInt8], Int) {
        (buffers[head + position], position == 0 ? headOffset : 0)
    }

    /// Marks `sent` bytes as written and returns the completions of the buffers now fully sent.
    mutating func consume(_ sent: Int) -> [Completion] {
        var remaining = sent
        var done: [Completion] = []
        byteCount -= sent
        while head < buffers.count {
            let left = buffers[head].count - headOffset
            if remaining < left {
                headOffset += remaining
                break
            }
            remaining -= left
            if let completion = completions[head] { done.append(completion) }
            buffers[head] = []
            completions[head] = nil
            head += 1
            headOffset = 0
        }
        compactIfNeeded()
        return done
    }

    /// Empties the queue and returns every pending completion.
    mutating func removeAll() -> [Completion] {
        let pending = completions[head...].compactMap { $0 }
        buffers.removeAll()
        completions.removeAll()
        head = 0
        headOffset = 0
        byteCount = 0
        return pending
    }

    private mutating func compactIfNeeded() {
        if head == buffers.count {
            buffers.removeAll(keepingCapacity: true)
            completions.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64 && head * 2 > buffers.count {
            buffers.removeFirst(head)
            completions.removeFirst(head)
            head = 0
        }
    }
}
