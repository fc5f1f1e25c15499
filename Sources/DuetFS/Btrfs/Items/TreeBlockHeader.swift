/// `btrfs_header`, the first 101 bytes of every tree block (node or leaf).
public struct TreeBlockHeader: Hashable, Sendable {
    public static let size = 101
    /// The checksum field is 32 bytes whatever the algorithm; it covers `[32, nodesize)`.
    public static let checksumSize = 32

    public var checksum: [UInt8]
    /// The file system's metadata UUID (the fsid, unless the metadata_uuid feature changed it).
    public var fsid: [UInt8]
    /// The logical address the block was written for.
    public var bytenr: UInt64
    public var flags: UInt64
    public var chunkTreeUUID: [UInt8]
    public var generation: UInt64
    /// The tree the block belongs to (root id); 0 never occurs in a valid block.
    public var owner: UInt64
    public var itemCount: UInt32
    /// 0 for a leaf.
    public var level: UInt8

    public init(bytes: [UInt8]) throws {
        let r = ByteReader(bytes, what: "tree block header")
        try r.require(Self.size)
        checksum = try r.slice(0, Self.checksumSize)
        fsid = try r.slice(32, 16)
        bytenr = try r.u64(48)
        flags = try r.u64(56)
        chunkTreeUUID = try r.slice(64, 16)
        generation = try r.u64(80)
        owner = try r.u64(88)
        itemCount = try r.u32(96)
        level = try r.u8(100)
    }

    /// The header at the start of a block read from a device (copies only the header).
    public init(_ block: UnsafeRawBufferPointer) throws {
        try self.init(bytes: Array(block.prefix(Self.size)))
    }
}
