// A scratch buffer each reactor lends to one user at a time, so code that builds bytes and copies them
// out before it returns (a connection assembling a small packet) needs no buffer of its own per object.

extension Reactor {
    /// Runs `body` with a buffer of at least `minimumBytes` that belongs to this reactor, valid during the
    /// call only (its contents are not kept between calls). One buffer serves every caller on the
    /// reactor's thread: with 1,000 connections it is one buffer, not 1,000. A call made from within
    /// another's `body` (a callback that reaches a second user) gets a buffer of its own for that call.
    /// Reactor thread only.
    @inline(__always)
    public func withScratch<Result>(
        minimumBytes: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Result
    ) rethrows -> Result {
        assertInReactor()
        guard !scratchLent else {
            let own = UnsafeMutableRawBufferPointer.allocate(byteCount: minimumBytes, alignment: 16)
            defer { own.deallocate() }
            return try body(own)
        }
        if scratch.count < minimumBytes {
            scratch.deallocate()
            scratch = .allocate(byteCount: minimumBytes, alignment: 16)
        }
        scratchLent = true
        defer { scratchLent = false }
        return try body(scratch)
    }
}
