/// A btrfs key `(objectid, type, offset)`, ordered as the B-trees order it.
public struct BtrfsKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var objectID: UInt64
    public var type: UInt8
    public var offset: UInt64

    public init(_ objectID: UInt64, _ type: UInt8, _ offset: UInt64) {
        self.objectID = objectID
        self.type = type
        self.offset = offset
    }

    public static func < (a: BtrfsKey, b: BtrfsKey) -> Bool {
        (a.objectID, a.type, a.offset) < (b.objectID, b.type, b.offset)
    }

    public static let min = BtrfsKey(0, 0, 0)
    public static let max = BtrfsKey(.max, .max, .max)

    /// The key right after this one in tree order (offset, then type, then objectid carry), or nil at the end.
    public var successor: BtrfsKey? {
        if offset < .max { return BtrfsKey(objectID, type, offset + 1) }
        if type < .max { return BtrfsKey(objectID, type + 1, 0) }
        if objectID < .max { return BtrfsKey(objectID + 1, 0, 0) }
        return nil
    }

    /// Decodes a `btrfs_disk_key` (17 bytes, packed).
    public init(disk reader: ByteReader, at offset: Int) throws {
        self.init(try reader.u64(offset), try reader.u8(offset + 8), try reader.u64(offset + 9))
    }

    public var description: String { "(\(objectID) \(ItemType.name(type)) \(offset))" }
}

/// Item type numbers of `btrfs_tree.h`, under the kernel's names.
public enum ItemType {
    public static let inodeItem: UInt8 = 1
    public static let inodeRef: UInt8 = 12
    public static let inodeExtref: UInt8 = 13
    public static let xattrItem: UInt8 = 24
    public static let dirItem: UInt8 = 84
    public static let dirIndex: UInt8 = 96
    public static let extentData: UInt8 = 108
    public static let extentCsum: UInt8 = 128
    public static let rootItem: UInt8 = 132
    public static let rootBackref: UInt8 = 144
    public static let rootRef: UInt8 = 156
    public static let extentItem: UInt8 = 168
    public static let metadataItem: UInt8 = 169
    public static let extentOwnerRef: UInt8 = 172
    public static let treeBlockRef: UInt8 = 176
    public static let extentDataRef: UInt8 = 178
    public static let sharedBlockRef: UInt8 = 182
    public static let sharedDataRef: UInt8 = 184
    public static let blockGroupItem: UInt8 = 192
    public static let devExtent: UInt8 = 204
    public static let devItem: UInt8 = 216
    public static let chunkItem: UInt8 = 228

    static func name(_ type: UInt8) -> String {
        switch type {
        case inodeItem: "INODE_ITEM"
        case inodeRef: "INODE_REF"
        case inodeExtref: "INODE_EXTREF"
        case xattrItem: "XATTR_ITEM"
        case dirItem: "DIR_ITEM"
        case dirIndex: "DIR_INDEX"
        case extentData: "EXTENT_DATA"
        case extentCsum: "EXTENT_CSUM"
        case rootItem: "ROOT_ITEM"
        case rootBackref: "ROOT_BACKREF"
        case rootRef: "ROOT_REF"
        case extentItem: "EXTENT_ITEM"
        case metadataItem: "METADATA_ITEM"
        case blockGroupItem: "BLOCK_GROUP_ITEM"
        case devExtent: "DEV_EXTENT"
        case devItem: "DEV_ITEM"
        case chunkItem: "CHUNK_ITEM"
        default: "\(type)"
        }
    }
}

/// Tree and object ids of `btrfs_tree.h`.
public enum TreeID {
    public static let root: UInt64 = 1
    public static let extent: UInt64 = 2
    public static let chunk: UInt64 = 3
    public static let dev: UInt64 = 4
    public static let fs: UInt64 = 5
    public static let csum: UInt64 = 7
    public static let uuid: UInt64 = 9
    public static let freeSpace: UInt64 = 10
    public static let blockGroup: UInt64 = 11
    /// The first subvolume id and first ordinary inode number.
    public static let firstFree: UInt64 = 256
    /// Subvolume ids end here (`BTRFS_LAST_FREE_OBJECTID`).
    public static let lastFree: UInt64 = UInt64(bitPattern: -256)
    /// Objectid of every csum item (`BTRFS_EXTENT_CSUM_OBJECTID`, -10).
    public static let extentCsum: UInt64 = UInt64(bitPattern: -10)
    /// Objectid of chunk items (`BTRFS_FIRST_CHUNK_TREE_OBJECTID`).
    public static let firstChunkTree: UInt64 = 256
    /// Objectid of dev items in the chunk tree (`BTRFS_DEV_ITEMS_OBJECTID`).
    public static let devItems: UInt64 = 1
}

/// A `btrfs_timespec`: seconds and nanoseconds, 12 bytes on disk.
public struct BtrfsTimespec: Hashable, Sendable, Codable {
    public var seconds: UInt64
    public var nanoseconds: UInt32

    public init(seconds: UInt64, nanoseconds: UInt32) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    init(_ reader: ByteReader, at offset: Int) throws {
        self.init(seconds: try reader.u64(offset), nanoseconds: try reader.u32(offset + 8))
    }
}
