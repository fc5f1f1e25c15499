/// `btrfs_dev_extent` in the device tree, key `(devid, DEV_EXTENT, physical)`:
/// which chunk a physical range of a device belongs to.
public struct DevExtent: Hashable, Sendable {
    public var deviceID: UInt64
    public var physical: UInt64
    public var chunkTree: UInt64
    public var chunkObjectID: UInt64
    public var chunkOffset: UInt64
    public var length: UInt64

    public init(key: BtrfsKey, bytes: [UInt8]) throws {
        let r = ByteReader(bytes, what: "dev extent \(key)")
        try r.require(32)
        deviceID = key.objectID
        physical = key.offset
        chunkTree = try r.u64(0)
        chunkObjectID = try r.u64(8)
        chunkOffset = try r.u64(16)
        length = try r.u64(24)
    }
}

/// `btrfs_block_group_item`, key `(logical, BLOCK_GROUP_ITEM, length)` in the extent tree
/// (or the block group tree when that feature is on).
public struct BlockGroupItem: Hashable, Sendable {
    public var logical: UInt64
    public var length: UInt64
    public var used: UInt64
    public var chunkObjectID: UInt64
    public var flags: BlockGroupFlags

    public init(key: BtrfsKey, bytes: [UInt8]) throws {
        let r = ByteReader(bytes, what: "block group item \(key)")
        try r.require(24)
        logical = key.objectID
        length = key.offset
        used = try r.u64(0)
        chunkObjectID = try r.u64(8)
        flags = BlockGroupFlags(rawValue: try r.u64(16))
    }
}

/// `btrfs_dev_item` in the chunk tree, key `(DEV_ITEMS_OBJECTID, DEV_ITEM, devid)`.
public struct DevItem: Hashable, Sendable {
    public var deviceID: UInt64
    public var totalBytes: UInt64
    public var bytesUsed: UInt64
    public var uuid: [UInt8]
    public var fsid: [UInt8]

    public init(bytes: [UInt8]) throws {
        let r = ByteReader(bytes, what: "dev item")
        try r.require(98)
        deviceID = try r.u64(0)
        totalBytes = try r.u64(8)
        bytesUsed = try r.u64(16)
        uuid = try r.slice(66, 16)
        fsid = try r.slice(82, 16)
    }
}
