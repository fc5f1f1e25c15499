/// `btrfs_file_extent_item`, key `(ino, EXTENT_DATA, file offset)`: where a file range's data lives.
public struct FileExtentItem: Hashable, Sendable {
    public enum Kind: UInt8, Sendable {
        case inline = 0
        case regular = 1
        case prealloc = 2
    }

    public enum Compression: UInt8, Sendable {
        case none = 0, zlib = 1, lzo = 2, zstd = 3
    }

    public var fileOffset: UInt64
    public var generation: UInt64
    public var ramBytes: UInt64
    public var compression: Compression
    public var kind: Kind
    /// Regular and prealloc extents: the disk extent (`disk_bytenr` 0 is a hole).
    public var diskBytenr: UInt64
    public var diskNumBytes: UInt64
    /// Offset into the decompressed extent where this file range starts.
    public var offset: UInt64
    public var numBytes: UInt64
    /// Inline extents: the (possibly compressed) data stored in the item.
    public var inlineData: [UInt8]

    public init(key: BtrfsKey, bytes: [UInt8]) throws {
        let r = ByteReader(bytes, what: "file extent \(key)")
        try r.require(21)
        fileOffset = key.offset
        generation = try r.u64(0)
        ramBytes = try r.u64(8)
        guard let compression = Compression(rawValue: try r.u8(16)) else {
            throw DuetError.malformed("file extent \(key): unknown compression \(try r.u8(16))")
        }
        self.compression = compression
        guard let kind = Kind(rawValue: try r.u8(20)) else {
            throw DuetError.malformed("file extent \(key): unknown type \(try r.u8(20))")
        }
        self.kind = kind
        if kind == .inline {
            diskBytenr = 0
            diskNumBytes = 0
            offset = 0
            numBytes = ramBytes
            inlineData = try r.slice(21, r.count - 21)
        } else {
            try r.require(53)
            diskBytenr = try r.u64(21)
            diskNumBytes = try r.u64(29)
            offset = try r.u64(37)
            numBytes = try r.u64(45)
            inlineData = []
        }
    }

    public var isHole: Bool { kind != .inline && diskBytenr == 0 }

    /// The file range this item describes.
    public var fileRange: Range<UInt64> { fileOffset..<(fileOffset + numBytes) }

    /// The logical address of file byte `position`, for uncompressed regular or prealloc extents
    /// (a compressed extent's bytes have no per-byte logical address).
    public func logical(ofFileOffset position: UInt64) -> UInt64? {
        guard kind != .inline, !isHole, compression == .none, fileRange.contains(position) else { return nil }
        return diskBytenr + offset + (position - fileOffset)
    }
}
