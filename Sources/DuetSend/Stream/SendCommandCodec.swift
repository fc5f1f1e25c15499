import DuetFS

/// Encodes and decodes single commands: the wire format of `fs/btrfs/send.c` (`begin_cmd`,
/// `tlv_put`, `send_cmd`) and btrfs-progs `common/send-stream.c` (`read_cmd`).
///
/// Command header: le32 payload length, le16 command, le32 crc32c. The crc is the raw CRC32C
/// register (seed 0, no final inversion) over the header with the crc field zeroed, then the
/// payload. Payload: TLVs of le16 type, le16 length, value; in v2 `DATA` has no length.
public enum SendCommandCodec {
    public static let headerSize = 10

    /// The whole command as it goes on the wire, crc included.
    ///
    /// - Parameter offset: where the command will start in the stream, for error messages.
    public static func encode(_ command: SendCommand, version: SendStreamVersion, offset: UInt64 = 0) throws(SendStreamError) -> [UInt8] {
        guard command.type.minimumVersion <= version else {
            throw .commandNotInVersion(command.type, version: version, offset: offset)
        }
        var bytes = [UInt8](repeating: 0, count: headerSize)
        bytes.reserveCapacity(headerSize + command.attributes.reduce(0) { $0 + 4 + $1.value.count })
        for (index, attribute) in command.attributes.enumerated() {
            LittleEndianBytes.append(attribute.type.rawValue, to: &bytes)
            if version >= .v2 && attribute.type == .data {
                guard index == command.attributes.count - 1 else { throw .dataNotLast(command.type, offset: offset) }
            } else {
                guard attribute.value.count <= Int(UInt16.max) else {
                    throw .attributeTooLarge(attribute.type, size: attribute.value.count, offset: offset)
                }
                LittleEndianBytes.append(UInt16(attribute.value.count), to: &bytes)
            }
            bytes.append(contentsOf: attribute.value)
        }
        let payloadLength = bytes.count - headerSize
        if let limit = version.maximumCommandSize, bytes.count > limit {
            throw .commandTooLarge(size: bytes.count, limit: limit, offset: offset)
        }
        guard payloadLength <= Int(UInt32.max) else {
            throw .commandTooLarge(size: bytes.count, limit: Int(UInt32.max), offset: offset)
        }
        store(UInt32(payloadLength), into: &bytes, at: 0)
        store(command.type.rawValue, into: &bytes, at: 4)
        let crc = bytes.withUnsafeBytes { CRC32C.update(0, $0) }
        store(crc, into: &bytes, at: 6)
        return bytes
    }

    /// The fields of a command header, before the payload has been read.
    public struct Header: Sendable, Hashable {
        public var payloadLength: UInt32
        public var command: UInt16
        public var crc: UInt32

        public init(_ bytes: UnsafeRawBufferPointer) {
            payloadLength = LittleEndianBytes.read(UInt32.self, from: bytes[0..<4])
            command = LittleEndianBytes.read(UInt16.self, from: bytes[4..<6])
            crc = LittleEndianBytes.read(UInt32.self, from: bytes[6..<10])
        }
    }

    /// The crc a command header should carry for `header` (crc field ignored) and `payload`.
    public static func checksum(header: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) -> UInt32 {
        var zeroed = (UInt64(0), UInt16(0))  // 10 bytes of scratch, the crc field stays zero
        let crc = withUnsafeMutableBytes(of: &zeroed) { scratch in
            scratch.copyMemory(from: UnsafeRawBufferPointer(rebasing: header[0..<6]))
            return CRC32C.update(0, UnsafeRawBufferPointer(rebasing: scratch[0..<headerSize]))
        }
        return CRC32C.update(crc, payload)
    }

    /// Splits a payload into attributes.
    ///
    /// - Parameters:
    ///   - payload: the command's bytes after its 10-byte header.
    ///   - offset: the stream offset of the command (its header), for errors.
    public static func decodeAttributes(_ payload: UnsafeRawBufferPointer, version: SendStreamVersion, offset: UInt64)
        throws(SendStreamError) -> [SendAttribute]
    {
        var attributes: [SendAttribute] = []
        var position = 0
        let payloadOffset = offset + UInt64(headerSize)
        while position < payload.count {
            let attributeOffset = payloadOffset + UInt64(position)
            guard payload.count - position >= 2 else {
                throw .truncated(offset: attributeOffset, expected: "an attribute type")
            }
            let rawType = LittleEndianBytes.read(UInt16.self, from: payload[position..<position + 2])
            guard let type = SendAttributeType(rawValue: rawType) else {
                throw .unknownAttribute(rawType, offset: attributeOffset, command: offset)
            }
            position += 2
            let length: Int
            if version >= .v2 && type == .data {
                length = payload.count - position
            } else {
                guard payload.count - position >= 2 else {
                    throw .truncated(offset: attributeOffset, expected: "the length of attribute \(type)")
                }
                length = Int(LittleEndianBytes.read(UInt16.self, from: payload[position..<position + 2]))
                position += 2
            }
            guard payload.count - position >= length else {
                throw .attributeOverrun(type, offset: attributeOffset, command: offset)
            }
            attributes.append(SendAttribute(type, Array(payload[position..<position + length])))
            position += length
        }
        return attributes
    }

    private static func store<T: FixedWidthInteger>(_ value: T, into bytes: inout [UInt8], at index: Int) {
        for byte in 0..<(T.bitWidth / 8) {
            bytes[index + byte] = UInt8(truncatingIfNeeded: value >> (byte * 8))
        }
    }
}
