/// One send stream command: its type and its attributes in stream order.
///
/// Order matters: v2 requires `DATA` last, and keeping the kernel's order makes a decoded and
/// re-encoded command byte-identical, which is how the codec is tested against real streams.
public struct SendCommand: Hashable, Sendable {
    public var type: SendCommandType
    public var attributes: [SendAttribute]

    public init(_ type: SendCommandType, _ attributes: [SendAttribute] = []) {
        self.type = type
        self.attributes = attributes
    }

    /// The first attribute of `type`; the kernel never repeats one within a command.
    public func attribute(_ type: SendAttributeType) -> SendAttribute? {
        attributes.first { $0.type == type }
    }

    public func contains(_ type: SendAttributeType) -> Bool { attribute(type) != nil }

    /// Replaces the value of the first attribute of `type` in place (keeping the order), or
    /// appends it if absent. Rewriting paths to final paths goes through here.
    public mutating func set(_ attribute: SendAttribute) {
        if let index = attributes.firstIndex(where: { $0.type == attribute.type }) {
            attributes[index] = attribute
        } else {
            attributes.append(attribute)
        }
    }

    // Typed accessors. They throw rather than return nil so that a caller rewriting a stream
    // cannot silently drop a malformed command.

    public func bytes(_ type: SendAttributeType) throws(SendAttributeError) -> [UInt8] {
        guard let attribute = attribute(type) else { throw .missing(type, in: self.type) }
        return attribute.value
    }

    public func path(_ type: SendAttributeType = .path) throws(SendAttributeError) -> SendPath {
        SendPath(bytes: try bytes(type))
    }

    public func u64(_ type: SendAttributeType) throws(SendAttributeError) -> UInt64 {
        try integer(type, as: UInt64.self)
    }

    public func u32(_ type: SendAttributeType) throws(SendAttributeError) -> UInt32 {
        try integer(type, as: UInt32.self)
    }

    public func u8(_ type: SendAttributeType) throws(SendAttributeError) -> UInt8 {
        try integer(type, as: UInt8.self)
    }

    public func uuid(_ type: SendAttributeType) throws(SendAttributeError) -> SendUUID {
        let value = try bytes(type)
        guard let uuid = SendUUID(bytes: value) else { throw .badLength(type, in: self.type, expected: 16, actual: value.count) }
        return uuid
    }

    public func timespec(_ type: SendAttributeType) throws(SendAttributeError) -> SendTimespec {
        let value = try bytes(type)
        guard value.count == 12 else { throw .badLength(type, in: self.type, expected: 12, actual: value.count) }
        return SendTimespec(
            seconds: Int64(bitPattern: LittleEndianBytes.read(UInt64.self, from: value[0..<8])),
            nanoseconds: LittleEndianBytes.read(UInt32.self, from: value[8..<12]))
    }

    /// The file data of `WRITE` and `ENCODED_WRITE`.
    public func data() throws(SendAttributeError) -> [UInt8] { try bytes(.data) }

    private func integer<T: FixedWidthInteger>(_ type: SendAttributeType, as: T.Type) throws(SendAttributeError) -> T {
        let value = try bytes(type)
        guard value.count == T.bitWidth / 8 else {
            throw .badLength(type, in: self.type, expected: T.bitWidth / 8, actual: value.count)
        }
        return LittleEndianBytes.read(T.self, from: value)
    }
}

extension SendCommand: CustomStringConvertible {
    /// `rename path=a path_to=b`, for messages; data is summarised by its length.
    public var description: String {
        var text = type.description
        for attribute in attributes {
            switch attribute.type {
            case .path, .pathTo, .pathLink, .clonePath, .xattrName:
                text += " \(attribute.type)=\(SendPath(bytes: attribute.value))"
            case .data, .xattrData, .veritySaltData, .veritySigData:
                text += " \(attribute.type)=<\(attribute.value.count) bytes>"
            default:
                if attribute.value.count == 8 {
                    text += " \(attribute.type)=\(LittleEndianBytes.read(UInt64.self, from: attribute.value))"
                } else if attribute.value.count == 4 {
                    text += " \(attribute.type)=\(LittleEndianBytes.read(UInt32.self, from: attribute.value))"
                } else {
                    text += " \(attribute.type)=<\(attribute.value.count) bytes>"
                }
            }
        }
        return text
    }
}
