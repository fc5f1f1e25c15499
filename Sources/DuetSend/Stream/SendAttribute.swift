/// One TLV of a command: a type and its raw value bytes, kept verbatim so that decoding and
/// re-encoding a command reproduces the kernel's bytes.
public struct SendAttribute: Hashable, Sendable {
    public var type: SendAttributeType
    public var value: [UInt8]

    public init(_ type: SendAttributeType, _ value: [UInt8]) {
        self.type = type
        self.value = value
    }

    // Constructors for the value encodings the kernel uses (`tlv_put_*` in send.c).

    public static func u64(_ type: SendAttributeType, _ value: UInt64) -> SendAttribute {
        SendAttribute(type, LittleEndianBytes.of(value))
    }

    public static func u32(_ type: SendAttributeType, _ value: UInt32) -> SendAttribute {
        SendAttribute(type, LittleEndianBytes.of(value))
    }

    public static func u8(_ type: SendAttributeType, _ value: UInt8) -> SendAttribute {
        SendAttribute(type, [value])
    }

    /// Paths and strings go without a terminating NUL.
    public static func path(_ type: SendAttributeType, _ path: SendPath) -> SendAttribute {
        SendAttribute(type, path.bytes)
    }

    public static func string(_ type: SendAttributeType, _ text: String) -> SendAttribute {
        SendAttribute(type, Array(text.utf8))
    }

    public static func uuid(_ type: SendAttributeType, _ uuid: SendUUID) -> SendAttribute {
        SendAttribute(type, uuid.bytes)
    }

    public static func timespec(_ type: SendAttributeType, _ time: SendTimespec) -> SendAttribute {
        SendAttribute(type, LittleEndianBytes.of(UInt64(bitPattern: time.seconds)) + LittleEndianBytes.of(time.nanoseconds))
    }

    public static func data(_ bytes: [UInt8]) -> SendAttribute {
        SendAttribute(.data, bytes)
    }
}

/// Little-endian integer encoding and decoding over byte arrays, without alignment demands.
enum LittleEndianBytes {
    static func of<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }

    static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        for shift in stride(from: 0, to: T.bitWidth, by: 8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> shift))
        }
    }

    static func read<T: FixedWidthInteger, C: Collection>(_: T.Type, from bytes: C) -> T where C.Element == UInt8 {
        var value: T = 0
        for (index, byte) in bytes.prefix(T.bitWidth / 8).enumerated() {
            value |= T(byte) << (index * 8)
        }
        return value
    }
}
