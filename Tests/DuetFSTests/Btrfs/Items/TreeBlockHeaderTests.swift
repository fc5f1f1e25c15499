import DuetFS
import Testing

/// `btrfs_header`: csum[32], fsid[16], bytenr, flags, chunk_tree_uuid[16], generation, owner
/// (u64 each), nritems (u32), level (u8); 101 bytes, little-endian, packed.
@Suite struct TreeBlockHeaderTests {
    static let fsid = (0..<16).map { UInt8(0xA0 + $0) }
    static let chunkTreeUUID = (0..<16).map { UInt8(0x10 + $0) }

    static func header(count: Int = 16384) -> OnDiskBytes {
        var block = OnDiskBytes(count: count)
        block.put([UInt8](repeating: 0xCC, count: 32), at: 0)
        block.put(fsid, at: 32)
        block.put(UInt64(30_490_624), at: 48)
        block.put(UInt64(1) | UInt64(1) << 56, at: 56)
        block.put(chunkTreeUUID, at: 64)
        block.put(UInt64(8_765), at: 80)
        block.put(UInt64(5), at: 88)
        block.put(UInt32(42), at: 96)
        block.put(UInt8(1), at: 100)
        return block
    }

    @Test func decodesEveryFieldAtItsOffset() throws {
        let header = try TreeBlockHeader(bytes: Self.header().bytes)
        #expect(header.checksum == [UInt8](repeating: 0xCC, count: 32))
        #expect(header.fsid == Self.fsid)
        #expect(header.bytenr == 30_490_624)
        #expect(header.flags == 1 | 1 << 56)
        #expect(header.chunkTreeUUID == Self.chunkTreeUUID)
        #expect(header.generation == 8_765)
        #expect(header.owner == 5)
        #expect(header.itemCount == 42)
        #expect(header.level == 1)
    }

    @Test func decodesFromTheStartOfARawBlock() throws {
        let block = Self.header().bytes
        let header = try block.withUnsafeBytes { try TreeBlockHeader($0) }
        #expect(header == (try TreeBlockHeader(bytes: block)))
    }

    @Test func theHeaderAloneIsEnough() throws {
        #expect(try TreeBlockHeader(bytes: Self.header(count: TreeBlockHeader.size).bytes).level == 1)
    }

    @Test func aShortBlockThrowsMalformed() {
        let short = Array(Self.header().bytes.prefix(TreeBlockHeader.size - 1))
        #expect(throws: DuetError.self) { try TreeBlockHeader(bytes: short) }
        do {
            _ = try TreeBlockHeader(bytes: short)
        } catch let error as DuetError {
            #expect(error.kind == .malformed)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
