/// `btrfs_super_block`: the fields Duet reads from a copy on a device. A copy is 4096 bytes at
/// 64 KiB, 64 MiB and 256 GiB (`btrfs_sb_offset`), each with its own `bytenr`.
public struct Superblock: Hashable, Sendable {
    public static let size = 4096
    public static let copyOffsets: [UInt64] = [64 << 10, 64 << 20, 256 << 30]
    public static let magic = Array("_BHRfS_M".utf8)
    public static let checksumSize = 32

    public var checksum: [UInt8]
    public var fsid: [UInt8]
    /// Where this copy says it lives on the device.
    public var bytenr: UInt64
    public var flags: UInt64
    /// The 8 bytes at offset 64; `hasMagic` says whether they are `_BHRfS_M`.
    public var magicBytes: [UInt8]
    public var generation: UInt64
    public var rootTree: UInt64
    public var chunkTree: UInt64
    public var totalBytes: UInt64
    public var bytesUsed: UInt64
    public var deviceCount: UInt64
    public var sectorSize: UInt32
    public var nodeSize: UInt32
    public var checksumType: UInt16
    public var label: String
    /// Equal to `fsid` unless the metadata_uuid incompat feature is on.
    public var metadataUUID: [UInt8]

    public var hasMagic: Bool { magicBytes == Self.magic }

    /// `BTRFS_FEATURE_INCOMPAT_METADATA_UUID`.
    static let metadataUUIDFeature: UInt64 = 1 << 10

    public init(bytes: [UInt8]) throws {
        let r = ByteReader(bytes, what: "superblock")
        try r.require(Self.size)
        checksum = try r.slice(0, Self.checksumSize)
        fsid = try r.slice(32, 16)
        bytenr = try r.u64(48)
        flags = try r.u64(56)
        magicBytes = try r.slice(64, 8)
        generation = try r.u64(72)
        rootTree = try r.u64(80)
        chunkTree = try r.u64(88)
        totalBytes = try r.u64(112)
        bytesUsed = try r.u64(120)
        deviceCount = try r.u64(136)
        sectorSize = try r.u32(144)
        nodeSize = try r.u32(148)
        let incompat = try r.u64(188)
        checksumType = try r.u16(196)
        let labelBytes = try r.slice(299, 256)
        label = String(decoding: labelBytes.prefix { $0 != 0 }, as: UTF8.self)
        metadataUUID = incompat & Self.metadataUUIDFeature != 0 ? try r.slice(571, 16) : fsid
    }
}
