/// `btrfs_root_item`, key `(root id, ROOT_ITEM, 0 or otransid)` in the root tree.
public struct RootItem: Hashable, Sendable {
    public var inode: InodeItem
    public var generation: UInt64
    public var rootDirID: UInt64
    public var bytenr: UInt64
    public var bytesUsed: UInt64
    public var lastSnapshot: UInt64
    public var flags: UInt64
    public var refs: UInt32
    public var level: UInt8
    /// Fields after `level` exist only in items written by kernels since 3.6 (`generation_v2`
    /// equal to `generation`); older items leave them zero.
    public var uuid: [UInt8]
    public var parentUUID: [UInt8]
    public var receivedUUID: [UInt8]
    public var ctransid: UInt64
    public var otransid: UInt64
    public var stransid: UInt64
    public var rtransid: UInt64

    /// `BTRFS_ROOT_SUBVOL_RDONLY`.
    public var isReadOnly: Bool { flags & 1 != 0 }

    static let legacySize = 239
    static let fullSize = 439

    public init(bytes: [UInt8]) throws {
        let r = ByteReader(bytes, what: "root item")
        try r.require(Self.legacySize)
        inode = try InodeItem(r.reader(at: 0, length: InodeItem.size, what: "root item inode"))
        generation = try r.u64(160)
        rootDirID = try r.u64(168)
        bytenr = try r.u64(176)
        bytesUsed = try r.u64(192)
        lastSnapshot = try r.u64(200)
        flags = try r.u64(208)
        refs = try r.u32(216)
        level = try r.u8(238)
        let zero = [UInt8](repeating: 0, count: 16)
        if r.count >= Self.fullSize, try r.u64(239) == generation {
            uuid = try r.slice(247, 16)
            parentUUID = try r.slice(263, 16)
            receivedUUID = try r.slice(279, 16)
            ctransid = try r.u64(295)
            otransid = try r.u64(303)
            stransid = try r.u64(311)
            rtransid = try r.u64(319)
        } else {
            (uuid, parentUUID, receivedUUID) = (zero, zero, zero)
            (ctransid, otransid, stransid, rtransid) = (0, 0, 0, 0)
        }
    }
}

/// `btrfs_root_ref`, key `(parent, ROOT_REF, child)` or `(child, ROOT_BACKREF, parent)`:
/// where a subvolume is linked in its parent.
public struct RootRef: Hashable, Sendable {
    public var parent: UInt64
    public var child: UInt64
    /// The directory inode in the parent that holds the link.
    public var directory: UInt64
    public var sequence: UInt64
    public var name: String

    public init(key: BtrfsKey, bytes: [UInt8]) throws {
        let r = ByteReader(bytes, what: "root ref \(key)")
        try r.require(18)
        switch key.type {
        case ItemType.rootRef: (parent, child) = (key.objectID, key.offset)
        case ItemType.rootBackref: (parent, child) = (key.offset, key.objectID)
        default: throw DuetError.malformed("root ref \(key): not a ROOT_REF or ROOT_BACKREF")
        }
        directory = try r.u64(0)
        sequence = try r.u64(8)
        name = try r.string(18, Int(try r.u16(16)))
    }
}
