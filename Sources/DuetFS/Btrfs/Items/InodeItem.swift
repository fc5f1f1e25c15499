/// `btrfs_inode_item` (160 bytes), key `(ino, INODE_ITEM, 0)` in a subvolume tree.
public struct InodeItem: Hashable, Sendable {
    public var generation: UInt64
    public var transid: UInt64
    public var size: UInt64
    public var nbytes: UInt64
    public var blockGroup: UInt64
    public var nlink: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var mode: UInt32
    public var rdev: UInt64
    public var flags: UInt64
    public var sequence: UInt64
    public var atime: BtrfsTimespec
    public var ctime: BtrfsTimespec
    public var mtime: BtrfsTimespec
    public var otime: BtrfsTimespec

    public static let size = 160

    public init(bytes: [UInt8]) throws {
        try self.init(ByteReader(bytes, what: "inode item"))
    }

    init(_ r: ByteReader) throws {
        try r.require(Self.size)
        generation = try r.u64(0)
        transid = try r.u64(8)
        size = try r.u64(16)
        nbytes = try r.u64(24)
        blockGroup = try r.u64(32)
        nlink = try r.u32(40)
        uid = try r.u32(44)
        gid = try r.u32(48)
        mode = try r.u32(52)
        rdev = try r.u64(56)
        flags = try r.u64(64)
        sequence = try r.u64(72)
        atime = try BtrfsTimespec(r, at: 112)
        ctime = try BtrfsTimespec(r, at: 124)
        mtime = try BtrfsTimespec(r, at: 136)
        otime = try BtrfsTimespec(r, at: 148)
    }

    public var isDirectory: Bool { mode & 0o170000 == 0o040000 }
    public var isRegularFile: Bool { mode & 0o170000 == 0o100000 }
}

/// `btrfs_inode_ref` entries, key `(ino, INODE_REF, parent dir ino)`: the names of an inode in
/// one directory (several hard links in the same directory share one item).
public struct InodeRef: Hashable, Sendable {
    public var parent: UInt64
    public var index: UInt64
    public var name: String

    public static func decode(key: BtrfsKey, bytes: [UInt8]) throws -> [InodeRef] {
        let r = ByteReader(bytes, what: "inode ref \(key)")
        var refs: [InodeRef] = []
        var at = 0
        while at < r.count {
            let length = Int(try r.u16(at + 8))
            refs.append(InodeRef(parent: key.offset, index: try r.u64(at), name: try r.string(at + 10, length)))
            at += 10 + length
        }
        return refs
    }

    /// `btrfs_inode_extref` entries, key `(ino, INODE_EXTREF, name hash)`, used when the refs
    /// of one directory overflow a leaf.
    public static func decodeExtended(bytes: [UInt8]) throws -> [InodeRef] {
        let r = ByteReader(bytes, what: "inode extref")
        var refs: [InodeRef] = []
        var at = 0
        while at < r.count {
            let length = Int(try r.u16(at + 16))
            refs.append(InodeRef(parent: try r.u64(at), index: try r.u64(at + 8), name: try r.string(at + 18, length)))
            at += 18 + length
        }
        return refs
    }
}

/// `btrfs_dir_item` entries (`DIR_ITEM` keyed by name hash, `DIR_INDEX` by sequence, and
/// `XATTR_ITEM`, whose data is the attribute value).
public struct DirItem: Hashable, Sendable {
    public var location: BtrfsKey
    public var transid: UInt64
    /// `BTRFS_FT_*`: 1 regular, 2 directory, 7 symlink, 8 xattr, …
    public var fileType: UInt8
    public var name: String
    public var data: [UInt8]

    public static func decode(bytes: [UInt8]) throws -> [DirItem] {
        let r = ByteReader(bytes, what: "dir item")
        var items: [DirItem] = []
        var at = 0
        while at < r.count {
            let dataLength = Int(try r.u16(at + 25))
            let nameLength = Int(try r.u16(at + 27))
            items.append(
                DirItem(
                    location: try BtrfsKey(disk: r, at: at),
                    transid: try r.u64(at + 17),
                    fileType: try r.u8(at + 29),
                    name: try r.string(at + 30, nameLength),
                    data: try r.slice(at + 30 + nameLength, dataLength)))
            at += 30 + nameLength + dataLength
        }
        return items
    }
}
