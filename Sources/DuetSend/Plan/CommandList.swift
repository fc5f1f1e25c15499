/// Send commands kept for later, packed back to back in one byte array and decoded when read.
///
/// Why: a plan holds most of the kernel's commands until the data is out (metadata first,
/// attributes last). As `SendCommand` values each costs an array per attribute, about 1.5 KiB
/// per file of a snapshot; packed, its own bytes (issue 14: a million files).
///
/// Layout per command: le16 type, le16 attribute count, then per attribute le16 type, le32
/// length, the value.
public struct CommandList: RandomAccessCollection, Sendable, Equatable {
    private var bytes: [UInt8] = []
    private var starts: [UInt32] = []

    public init() {}

    public init(_ commands: some Sequence<SendCommand>) {
        for command in commands { append(command) }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { starts.count }

    public mutating func append(_ command: SendCommand) {
        precondition(bytes.count <= Int(UInt32.max), "a plan's commands exceed 4 GiB")
        starts.append(UInt32(bytes.count))
        Self.put(command.type.rawValue, &bytes)
        Self.put(UInt16(command.attributes.count), &bytes)
        for attribute in command.attributes {
            Self.put(attribute.type.rawValue, &bytes)
            Self.put(UInt32(attribute.value.count), &bytes)
            bytes += attribute.value
        }
    }

    public subscript(position: Int) -> SendCommand {
        var at = Int(starts[position])
        let type = SendCommandType(rawValue: Self.get(UInt16.self, bytes, &at))!
        let count = Int(Self.get(UInt16.self, bytes, &at))
        var attributes: [SendAttribute] = []
        attributes.reserveCapacity(count)
        for _ in 0..<count {
            let attributeType = SendAttributeType(rawValue: Self.get(UInt16.self, bytes, &at))!
            let length = Int(Self.get(UInt32.self, bytes, &at))
            attributes.append(SendAttribute(attributeType, Array(bytes[at..<(at + length)])))
            at += length
        }
        return SendCommand(type, attributes)
    }

    /// The same list without the commands at `positions`.
    public func removing(_ positions: Set<Int>) -> CommandList {
        var kept = CommandList()
        for (position, command) in enumerated() where !positions.contains(position) { kept.append(command) }
        return kept
    }

    private static func put<T: FixedWidthInteger>(_ value: T, _ bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    private static func get<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], _ at: inout Int) -> T {
        var value: T = 0
        for index in 0..<(T.bitWidth / 8) { value |= T(bytes[at + index]) << (8 * index) }
        at += T.bitWidth / 8
        return value
    }
}
