import DuetFS
import Testing

/// `btrfs_super_block`, 4096 bytes: csum[32], fsid[16], bytenr at 48, flags at 56, the magic
/// "_BHRfS_M" at 64, generation at 72, root at 80, chunk_root at 88, total_bytes at 112,
/// bytes_used at 120, num_devices at 136, sectorsize at 144, nodesize at 148, incompat_flags
/// at 188, csum_type at 196, label[256] at 299, metadata_uuid[16] at 571.
@Suite struct SuperblockTests {
    static let fsid = (0..<16).map { UInt8(0x30 + $0) }
    static let metadataUUID = (0..<16).map { UInt8(0x70 + $0) }

    static func copy(at offset: UInt64 = 64 << 10, incompat: UInt64 = 0x361) -> OnDiskBytes {
        var block = OnDiskBytes(count: Superblock.size)
        block.put([UInt8](repeating: 0x5A, count: 32), at: 0)
        block.put(fsid, at: 32)
        block.put(offset, at: 48)
        block.put(UInt64(1), at: 56)
        block.put(Array("_BHRfS_M".utf8), at: 64)
        block.put(UInt64(123), at: 72)
        block.put(UInt64(30_408_704), at: 80)
        block.put(UInt64(22_020_096), at: 88)
        block.put(UInt64(1 << 30), at: 112)
        block.put(UInt64(147_456), at: 120)
        block.put(UInt64(2), at: 136)
        block.put(UInt32(4096), at: 144)
        block.put(UInt32(16384), at: 148)
        block.put(incompat, at: 188)
        block.put(UInt16(1), at: 196)
        block.put(Array("duet-fixture".utf8), at: 299)
        block.put(metadataUUID, at: 571)
        return block
    }

    @Test func decodesEveryFieldAtItsOffset() throws {
        let superblock = try Superblock(bytes: Self.copy().bytes)
        #expect(superblock.checksum == [UInt8](repeating: 0x5A, count: 32))
        #expect(superblock.fsid == Self.fsid)
        #expect(superblock.bytenr == 64 << 10)
        #expect(superblock.flags == 1)
        #expect(superblock.hasMagic)
        #expect(superblock.generation == 123)
        #expect(superblock.rootTree == 30_408_704)
        #expect(superblock.chunkTree == 22_020_096)
        #expect(superblock.totalBytes == 1 << 30)
        #expect(superblock.bytesUsed == 147_456)
        #expect(superblock.deviceCount == 2)
        #expect(superblock.sectorSize == 4096)
        #expect(superblock.nodeSize == 16384)
        #expect(superblock.checksumType == 1)
        #expect(superblock.label == "duet-fixture")
    }

    @Test func metadataUUIDIsTheFsidUnlessTheFeatureIsOn() throws {
        #expect(try Superblock(bytes: Self.copy().bytes).metadataUUID == Self.fsid)
        let withFeature = try Superblock(bytes: Self.copy(incompat: 0x361 | 1 << 10).bytes)
        #expect(withFeature.metadataUUID == Self.metadataUUID)
        #expect(withFeature.fsid == Self.fsid)
    }

    @Test func aWrongMagicDecodesButIsFlagged() throws {
        var block = Self.copy()
        block.put(Array("_BHRfS_X".utf8), at: 64)
        let superblock = try Superblock(bytes: block.bytes)
        #expect(!superblock.hasMagic)
    }

    @Test func theCopiesAreWhereBtrfsPutsThem() {
        #expect(Superblock.copyOffsets == [65_536, 67_108_864, 274_877_906_944])
    }

    @Test func aShortCopyThrowsMalformed() {
        #expect(throws: DuetError.self) { try Superblock(bytes: Array(Self.copy().bytes.prefix(4095))) }
    }
}
