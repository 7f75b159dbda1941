/// The input of the `FuzzConnection` target: a 6-byte configuration, then operations.
///
/// Configuration: A's packet size byte, B's packet size byte (``fuzzPacketSize(_:)``), A's slots byte,
/// B's slots byte (``fuzzSlots(_:)``), a flags byte (``Flags``), a body-limit byte (``bodyLimit(_:)``).
///
/// Each operation is one byte, ``Op`` in the low nibble and an argument in the high nibble, followed by
/// the operands listed at each case. Missing operands read as 0.
public enum ConnectionScript {
    /// Bits of the configuration's flags byte.
    public enum Flags {
        /// A offers Snappy.
        public static let snappyA: UInt8 = 1 << 0
        /// B offers Snappy.
        public static let snappyB: UInt8 = 1 << 1
        /// B's reader expects A's hello first (else it starts with the agreed parameters).
        public static let peerHello: UInt8 = 1 << 2
        /// A's reader expects a hello first in the fuzzed bytes.
        public static let localHello: UInt8 = 1 << 3
    }

    /// The operations.
    public enum Op: UInt8, CaseIterable, Sendable {
        /// Enqueue a sample: argument bits 0–1 the ``FuzzSample/Kind``, bits 2–3 the response-to choice
        /// (0 none, 1 the last request A's reader received, 2 the first one, 3 the size byte);
        /// operands: a flags byte (``MessageFlags`` bits 0–4; bit 5 breaks the request-id rule), a size byte.
        case enqueue = 0
        /// Enqueue (argument + 1) × 16 small notes at once, to fill many slots.
        case burst
        /// Cancel a message: operand byte = index among the ids handed out (255: an id never handed out).
        case cancel
        /// Send a cancel-request record: operand byte = the request id.
        case cancelRequest
        /// Cancel queued responses as if the peer sent a cancel-request: operand byte = index among the
        /// requests A's reader received (255 or none received: the byte itself as the id).
        case cancelResponses
        /// Take one packet from the writer and feed it to B's reader in pieces of ``pieceSize(_:)`` of the argument.
        case pull
        /// Feed bytes to A's reader: operands u16 length, then that many bytes; pieces from the argument.
        case feed
        /// Cancel everything (the connection is closing).
        case cancelAll
        /// Feed a keep-alive packet to B's reader between two packets.
        case keepAlive
        /// Take (argument + 1) × 2 packets, each fed whole.
        case pullMany
    }

    /// The writer's and B's body limit from the configuration byte: the reader's default, 1 MiB, or two
    /// limits near the sizes of the samples.
    public static func bodyLimit(_ byte: UInt8) -> Int {
        [512 * 1024 * 1024, 1 << 20, 40_000, 20_000][Int(byte % 4)]
    }

    /// Builds inputs (for the seed corpus).
    public struct Builder {
        public private(set) var bytes: [UInt8]

        /// Starts an input with the configuration bytes.
        public init(packetSizeA: UInt8, packetSizeB: UInt8, slotsA: UInt8, slotsB: UInt8, flags: UInt8, bodyLimit: UInt8 = 0) {
            bytes = [packetSizeA, packetSizeB, slotsA, slotsB, flags, bodyLimit]
        }

        public mutating func op(_ op: Op, argument: UInt8 = 0, _ operands: [UInt8] = []) {
            bytes.append(op.rawValue | (argument & 15) << 4)
            bytes += operands
        }

        public mutating func enqueue(_ kind: FuzzSample.Kind, flags: UInt8 = 0, size: UInt8, respondTo: UInt8 = 0) {
            op(.enqueue, argument: kind.rawValue | (respondTo & 3) << 2, [flags, size])
        }

        /// Feeds `data` to A's reader in pieces of ``pieceSize(_:)`` of `piece`.
        public mutating func feed(_ data: [UInt8], piece: UInt8 = 15) {
            precondition(data.count <= Int(UInt16.max))
            op(.feed, argument: piece, [UInt8(data.count & 0xFF), UInt8(data.count >> 8)] + data)
        }
    }
}
