/// `btrfs_extent_item` in the extent tree: an allocated data extent (`EXTENT_ITEM`, key
/// `(bytenr, 168, length)`) or tree block (`EXTENT_ITEM` with tree block info, or skinny
/// `METADATA_ITEM`, key `(bytenr, 169, level)`), with its inline back references.
public struct ExtentItem: Hashable, Sendable {
    public struct Flags: OptionSet, Hashable, Sendable {
        public let rawValue: UInt64
        public init(rawValue: UInt64) { self.rawValue = rawValue }
        public static let data = Flags(rawValue: 1)
        public static let treeBlock = Flags(rawValue: 2)
        public static let fullBackref = Flags(rawValue: 1 << 8)
    }

    /// An inline back reference: who points at this extent.
    public enum BackReference: Hashable, Sendable {
        /// A tree block owned by a tree (`TREE_BLOCK_REF`).
        case treeBlock(root: UInt64)
        /// A tree block referenced by a parent block (`SHARED_BLOCK_REF`).
        case sharedBlock(parent: UInt64)
        /// File data referenced from `(root, inode, file offset - extent offset)` (`EXTENT_DATA_REF`).
        case data(root: UInt64, inode: UInt64, offset: UInt64, count: UInt32)
        /// File data referenced through a shared leaf (`SHARED_DATA_REF`).
        case sharedData(parent: UInt64, count: UInt32)
        /// The owning root under simple quotas (`EXTENT_OWNER_REF`).
        case owner(root: UInt64)
    }

    /// Logical start (key objectid).
    public var bytenr: UInt64
    /// Length in bytes; for a skinny metadata item this is the node size the caller passes in.
    public var length: UInt64
    public var references: UInt64
    public var generation: UInt64
    public var flags: Flags
    /// Tree level for tree blocks, nil for data.
    public var level: UInt8?
    public var backReferences: [BackReference]

    public var isTreeBlock: Bool { flags.contains(.treeBlock) }

    /// - Parameter nodeSize: the length of a skinny metadata item, which its key does not carry.
    public init(key: BtrfsKey, bytes: [UInt8], nodeSize: UInt64) throws {
        let r = ByteReader(bytes, what: "extent item \(key)")
        try r.require(24)
        bytenr = key.objectID
        references = try r.u64(0)
        generation = try r.u64(8)
        flags = Flags(rawValue: try r.u64(16))
        var at = 24
        switch key.type {
        case ItemType.metadataItem:
            length = nodeSize
            level = UInt8(truncatingIfNeeded: key.offset)
        case ItemType.extentItem:
            length = key.offset
            if flags.contains(.treeBlock) {
                // btrfs_tree_block_info: the first key of the block, then its level.
                level = try r.u8(at + 17)
                at += 18
            } else {
                level = nil
            }
        default:
            throw DuetError.malformed("extent item \(key): not an EXTENT_ITEM or METADATA_ITEM")
        }
        var refs: [BackReference] = []
        while at < r.count {
            let type = try r.u8(at)
            switch type {
            case ItemType.treeBlockRef:
                refs.append(.treeBlock(root: try r.u64(at + 1)))
                at += 9
            case ItemType.sharedBlockRef:
                refs.append(.sharedBlock(parent: try r.u64(at + 1)))
                at += 9
            case ItemType.extentDataRef:
                refs.append(.data(root: try r.u64(at + 1), inode: try r.u64(at + 9), offset: try r.u64(at + 17), count: try r.u32(at + 25)))
                at += 29
            case ItemType.sharedDataRef:
                refs.append(.sharedData(parent: try r.u64(at + 1), count: try r.u32(at + 9)))
                at += 13
            case ItemType.extentOwnerRef:
                refs.append(.owner(root: try r.u64(at + 1)))
                at += 9
            default:
                throw DuetError.malformed("extent item \(key): unknown inline reference type \(type) at \(at)")
            }
        }
        backReferences = refs
    }
}

/// An `EXTENT_CSUM` item, key `(EXTENT_CSUM_OBJECTID, 128, logical)`: packed checksums of
/// consecutive sectors starting at `logical`.
public struct CsumItem: Sendable {
    public var logical: UInt64
    public var checksumSize: Int
    public var checksums: [UInt8]

    public init(key: BtrfsKey, bytes: [UInt8], checksumSize: Int) throws {
        guard checksumSize > 0, bytes.count % checksumSize == 0 else {
            throw DuetError.malformed("csum item \(key): \(bytes.count) bytes is not a multiple of the checksum size \(checksumSize)")
        }
        logical = key.offset
        self.checksumSize = checksumSize
        checksums = bytes
    }

    public var sectorCount: Int { checksums.count / checksumSize }

    /// The logical range covered, for a given sector size.
    public func range(sectorSize: UInt64) -> Range<UInt64> {
        logical..<(logical + UInt64(sectorCount) * sectorSize)
    }

    public func checksum(ofSector index: Int) -> ArraySlice<UInt8> {
        checksums[(index * checksumSize)..<((index + 1) * checksumSize)]
    }
}
