/// Why a send stream could not be read or written. Every case that concerns a position in the
/// stream carries its byte offset from the start of the stream, so that a failure can name it.
public enum SendStreamError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The stream does not start with `"btrfs-stream\0"`.
    case badMagic(offset: UInt64)
    /// A header version this codec does not speak (only 1 and 2; 3 is experimental).
    case unsupportedVersion(UInt32, offset: UInt64)
    /// The stream ended inside a header, a command or an attribute, or before `END`.
    case truncated(offset: UInt64, expected: String)
    /// A command number we do not know (0, or 26 and above), at the command's offset.
    case unknownCommand(UInt16, offset: UInt64)
    /// A command of a newer protocol than the stream header declares.
    case commandNotInVersion(SendCommandType, version: SendStreamVersion, offset: UInt64)
    /// The crc32c in the command header does not match its bytes.
    case checksumMismatch(stored: UInt32, computed: UInt32, offset: UInt64)
    /// An attribute type we do not know, at the attribute's offset inside the command at `command`.
    case unknownAttribute(UInt16, offset: UInt64, command: UInt64)
    /// An attribute whose length runs past the end of its command.
    case attributeOverrun(SendAttributeType, offset: UInt64, command: UInt64)
    /// A command larger than the protocol allows, or than we are willing to buffer.
    case commandTooLarge(size: Int, limit: Int, offset: UInt64)
    /// An attribute value longer than its 16-bit length field can describe.
    case attributeTooLarge(SendAttributeType, size: Int, offset: UInt64)
    /// v2 `DATA` has no length, so it must be the last attribute of its command.
    case dataNotLast(SendCommandType, offset: UInt64)
    /// A command was written before the stream header.
    case headerNotWritten
    /// read(2) or write(2) failed.
    case io(errno: Int32, offset: UInt64)

    public var description: String {
        switch self {
        case .badMagic(let offset):
            "not a btrfs send stream: no \"btrfs-stream\" magic at offset \(offset)"
        case .unsupportedVersion(let version, let offset):
            "send stream version \(version) at offset \(offset) is not supported (only 1 and 2)"
        case .truncated(let offset, let expected):
            "send stream truncated at offset \(offset): expected \(expected)"
        case .unknownCommand(let number, let offset):
            "unknown send command \(number) at offset \(offset)"
        case .commandNotInVersion(let type, let version, let offset):
            "command \(type) at offset \(offset) does not exist in protocol v\(version.rawValue)"
        case .checksumMismatch(let stored, let computed, let offset):
            "crc32c mismatch in the command at offset \(offset): stored \(hex(stored)), computed \(hex(computed))"
        case .unknownAttribute(let type, let offset, let command):
            "unknown attribute type \(type) at offset \(offset) in the command at offset \(command)"
        case .attributeOverrun(let type, let offset, let command):
            "attribute \(type) at offset \(offset) runs past the end of the command at offset \(command)"
        case .commandTooLarge(let size, let limit, let offset):
            "command of \(size) bytes at offset \(offset) exceeds the limit of \(limit) bytes"
        case .attributeTooLarge(let type, let size, let offset):
            "attribute \(type) of \(size) bytes in the command at offset \(offset) exceeds 65535 bytes"
        case .dataNotLast(let type, let offset):
            "v2 data attribute is not the last attribute of the \(type) command at offset \(offset)"
        case .headerNotWritten:
            "a command was written before the stream header"
        case .io(let errno, let offset):
            "I/O error \(errno) at send stream offset \(offset)"
        }
    }
}

private func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }

/// A typed accessor of `SendCommand` found its attribute missing or of the wrong size.
public enum SendAttributeError: Error, Hashable, Sendable, CustomStringConvertible {
    case missing(SendAttributeType, in: SendCommandType)
    case badLength(SendAttributeType, in: SendCommandType, expected: Int, actual: Int)

    public var description: String {
        switch self {
        case .missing(let attribute, let command):
            "\(command) command has no \(attribute) attribute"
        case .badLength(let attribute, let command, let expected, let actual):
            "\(attribute) attribute of a \(command) command has \(actual) bytes, expected \(expected)"
        }
    }
}
