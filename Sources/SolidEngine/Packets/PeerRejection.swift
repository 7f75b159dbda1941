/// Why a receiver rejected a request: the code of a reject record (PROTOCOL.md §4). Codes this version
/// does not know are kept as they are (``rawValue``), so a newer peer's reasons still arrive.
public struct RejectCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The code on the wire.
    public let rawValue: UInt8

    /// The code `rawValue`.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// A reason not listed here.
    public static let other = RejectCode(rawValue: 0)
    /// The receiver does not know the message's protocol or type.
    public static let unknownMessageType = RejectCode(rawValue: 1)
    /// The body (with its out-of-line arrays) is over the receiver's size limit.
    public static let messageTooLarge = RejectCode(rawValue: 2)
    /// The receiver's budget for messages still being received is used up: a later retry may succeed.
    public static let overloaded = RejectCode(rawValue: 3)
    /// The body does not decode as the receiver's version of the type (a field error, a wrong stream
    /// count).
    public static let malformedMessage = RejectCode(rawValue: 4)
    /// The receiver could not take the message's stream or out-of-line data.
    public static let streamFailed = RejectCode(rawValue: 5)
    /// The receiver has no handler for the type.
    public static let noHandler = RejectCode(rawValue: 6)
    /// The receiver's handler failed.
    public static let handlerFailed = RejectCode(rawValue: 7)

    /// The code's name, or its number.
    public var description: String {
        switch self {
        case .other: "other"
        case .unknownMessageType: "unknown message type"
        case .messageTooLarge: "message too large"
        case .overloaded: "overloaded"
        case .malformedMessage: "malformed message"
        case .streamFailed: "stream failed"
        case .noHandler: "no handler"
        case .handlerFailed: "handler failed"
        default: "code \(rawValue)"
        }
    }
}

/// A peer's reject record: its code and its reason in words (at most ``maxReasonBytes`` of UTF-8).
public struct PeerRejection: Error, Sendable, Hashable, CustomStringConvertible {
    /// Longest reason a record carries (longer ones are cut at a character boundary).
    public static let maxReasonBytes = 255

    /// Why.
    public var code: RejectCode
    /// The receiver's words (for people; programs use ``code``); at most ``maxReasonBytes`` of UTF-8.
    public private(set) var reason: String

    /// A rejection; `reason` is cut to ``maxReasonBytes`` bytes of UTF-8.
    public init(code: RejectCode, reason: String) {
        self.code = code
        self.reason = Self.cut(reason)
    }

    /// The rejection that tells a sender why its message was refused on reading.
    public init(_ error: WireError) {
        let code: RejectCode
        switch error {
        case .unknownMessageType: code = .unknownMessageType
        case .messageTooLarge: code = .messageTooLarge
        case .receiveBudgetExceeded: code = .overloaded
        case .streamSinkFailed: code = .streamFailed
        default: code = .malformedMessage
        }
        self.init(code: code, reason: error.description)
    }

    /// `code: reason`.
    public var description: String { reason.isEmpty ? "\(code)" : "\(code): \(reason)" }

    private static func cut(_ text: String) -> String {
        guard text.utf8.count > maxReasonBytes else { return text }
        var result = ""
        var bytes = 0
        for character in text {
            let size = character.utf8.count
            guard bytes + size <= maxReasonBytes else { break }
            result.append(character)
            bytes += size
        }
        return result
    }
}
