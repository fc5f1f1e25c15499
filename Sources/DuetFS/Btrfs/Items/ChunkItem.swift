/// `btrfs_chunk` in the chunk tree, key `(FIRST_CHUNK_TREE_OBJECTID, CHUNK_ITEM, logical)`:
/// a logical address range and the device stripes that hold it.
public struct ChunkItem: Hashable, Sendable {
    public struct Stripe: Hashable, Sendable {
        public var deviceID: UInt64
        public var offset: UInt64
        public var deviceUUID: [UInt8]
    }

    /// Logical start, from the key offset.
    public var logical: UInt64
    public var length: UInt64
    public var owner: UInt64
    public var stripeLength: UInt64
    public var flags: BlockGroupFlags
    public var ioAlign: UInt32
    public var ioWidth: UInt32
    public var sectorSize: UInt32
    public var subStripes: UInt16
    public var stripes: [Stripe]

    static let fixedSize = 48
    static let stripeSize = 32

    public init(logical: UInt64, bytes: [UInt8]) throws {
        let r = ByteReader(bytes, what: "chunk item at logical \(logical)")
        try r.require(Self.fixedSize)
        self.logical = logical
        length = try r.u64(0)
        owner = try r.u64(8)
        stripeLength = try r.u64(16)
        flags = BlockGroupFlags(rawValue: try r.u64(24))
        ioAlign = try r.u32(32)
        ioWidth = try r.u32(36)
        sectorSize = try r.u32(40)
        let count = Int(try r.u16(44))
        subStripes = try r.u16(46)
        guard count > 0 else { throw DuetError.malformed("chunk item at logical \(logical): no stripes") }
        try r.require(Self.fixedSize + count * Self.stripeSize)
        stripes = try (0..<count).map { i in
            let at = Self.fixedSize + i * Self.stripeSize
            return Stripe(deviceID: try r.u64(at), offset: try r.u64(at + 8), deviceUUID: try r.slice(at + 16, 16))
        }
    }
}
