/// Little-endian reads at fixed offsets of an on-disk structure, bounds-checked so a short
/// or corrupt item throws instead of trapping.
public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    private let base: Int
    public let count: Int
    private let what: String

    public init(_ bytes: [UInt8], what: String) {
        self.init(bytes, offset: 0, count: bytes.count, what: what)
    }

    init(_ bytes: [UInt8], offset: Int, count: Int, what: String) {
        self.bytes = bytes
        self.base = offset
        self.count = count
        self.what = what
    }

    /// Throws unless at least `size` bytes are present: the fixed part of the structure.
    public func require(_ size: Int) throws {
        guard count >= size else { throw DuetError.malformed("\(what): \(count) bytes, need at least \(size)") }
    }

    public func u8(_ offset: Int) throws -> UInt8 {
        try check(offset, 1)
        return bytes[base + offset]
    }

    public func u16(_ offset: Int) throws -> UInt16 { UInt16(truncatingIfNeeded: try integer(offset, 2)) }
    public func u32(_ offset: Int) throws -> UInt32 { UInt32(truncatingIfNeeded: try integer(offset, 4)) }
    public func u64(_ offset: Int) throws -> UInt64 { try integer(offset, 8) }

    public func slice(_ offset: Int, _ length: Int) throws -> [UInt8] {
        try check(offset, length)
        return Array(bytes[(base + offset)..<(base + offset + length)])
    }

    /// A reader over a sub-range, for nested structures (stripes, names).
    public func reader(at offset: Int, length: Int, what: String) throws -> ByteReader {
        try check(offset, length)
        return ByteReader(bytes, offset: base + offset, count: length, what: what)
    }

    public func string(_ offset: Int, _ length: Int) throws -> String {
        String(decoding: try slice(offset, length), as: UTF8.self)
    }

    private func integer(_ offset: Int, _ size: Int) throws -> UInt64 {
        try check(offset, size)
        var value: UInt64 = 0
        for i in (0..<size).reversed() { value = value << 8 | UInt64(bytes[base + offset + i]) }
        return value
    }

    private func check(_ offset: Int, _ length: Int) throws {
        guard offset >= 0, length >= 0, offset + length <= count else {
            throw DuetError.malformed("\(what): read of \(length) bytes at \(offset) past the end (\(count) bytes)")
        }
    }
}
