import DuetFS
import Testing

/// Chunk-map arithmetic for every profile, on chunks built by hand.
@Suite struct ChunkMapTests {
    static let stripeLength: UInt64 = 64 << 10

    /// Encodes a `btrfs_chunk` the way it is stored, so the decoder is exercised too.
    static func chunk(
        at logical: UInt64, length: UInt64, flags: BlockGroupFlags, subStripes: UInt16 = 1,
        stripes: [(device: UInt64, offset: UInt64)]
    ) throws -> ChunkItem {
        var bytes: [UInt8] = []
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        put(length); put(UInt64(2)); put(stripeLength); put(flags.rawValue)
        put(UInt32(65536)); put(UInt32(65536)); put(UInt32(4096)); put(UInt16(stripes.count)); put(subStripes)
        for stripe in stripes {
            put(stripe.device); put(stripe.offset)
            bytes += [UInt8](repeating: UInt8(stripe.device), count: 16)
        }
        return try ChunkItem(logical: logical, bytes: bytes)
    }

    func copies(_ map: ChunkMap, _ logical: UInt64) throws -> [[UInt64]] {
        try map.map(logical).copies.map { [UInt64($0.mirror), $0.deviceID, $0.physical] }
    }

    @Test func singleAndDup() throws {
        let single = try Self.chunk(at: 1 << 30, length: 1 << 30, flags: .data, stripes: [(1, 100 << 20)])
        let dup = try Self.chunk(at: 3 << 30, length: 256 << 20, flags: [.metadata, .dup], stripes: [(1, 10 << 20), (1, 300 << 20)])
        let map = ChunkMap(chunks: [dup, single])
        #expect(try copies(map, (1 << 30) + 12345) == [[1, 1, (100 << 20) + 12345]])
        #expect(try copies(map, (3 << 30) + 4096) == [[1, 1, (10 << 20) + 4096], [2, 1, (300 << 20) + 4096]])
        #expect(try map.map((1 << 30) + 4096).contiguousLength == (1 << 30) - 4096)
        #expect(throws: ChunkMapError.notMapped(logical: 5)) { try map.map(5) }
        #expect(throws: ChunkMapError.notMapped(logical: 2 << 30)) { try map.map(2 << 30) }
    }

    @Test func raid1Family() throws {
        let raid1 = try Self.chunk(at: 0, length: 1 << 30, flags: [.data, .raid1], stripes: [(1, 1 << 20), (2, 5 << 20)])
        let c3 = try Self.chunk(at: 1 << 30, length: 1 << 30, flags: [.data, .raid1c3], stripes: [(1, 0), (2, 0), (3, 8192)])
        let c4 = try Self.chunk(at: 2 << 30, length: 1 << 30, flags: [.data, .raid1c4], stripes: [(4, 0), (3, 0), (2, 0), (1, 4096)])
        let map = ChunkMap(chunks: [raid1, c3, c4])
        #expect(try copies(map, 8192) == [[1, 1, (1 << 20) + 8192], [2, 2, (5 << 20) + 8192]])
        #expect(try copies(map, (1 << 30) + 4096) == [[1, 1, 4096], [2, 2, 4096], [3, 3, 12288]])
        #expect(try map.map((2 << 30) + 4096).copies.count == 4)
        #expect(try copies(map, (2 << 30) + 4096).last == [4, 1, 8192])
    }

    @Test("RAID0 rotates stripe elements over the devices")
    func raid0() throws {
        let chunk = try Self.chunk(
            at: 0, length: 3 << 30, flags: [.data, .raid0], stripes: [(1, 1000 << 20), (2, 2000 << 20), (3, 3000 << 20)])
        let map = ChunkMap(chunks: [chunk])
        let s = Self.stripeLength
        // Element 3 is row 1 of device 1; element 4 is row 1 of device 2.
        #expect(try copies(map, 3 * s + 8192) == [[1, 1, (1000 << 20) + s + 8192]])
        #expect(try copies(map, 4 * s) == [[1, 2, (2000 << 20) + s]])
        #expect(try copies(map, 2 * s + 100) == [[1, 3, (3000 << 20) + 100]])
        #expect(try map.map(3 * s + 8192).contiguousLength == s - 8192)
        let pieces = try map.map(range: (s - 4096)..<(2 * s + 4096))
        #expect(pieces.map(\.contiguousLength) == [4096, s, 4096])
        #expect(pieces.map { $0.copies[0].deviceID } == [1, 2, 3])
    }

    @Test("RAID10 stripes over mirror pairs")
    func raid10() throws {
        let chunk = try Self.chunk(
            at: 1 << 30, length: 2 << 30, flags: [.data, .raid10], subStripes: 2,
            stripes: [(1, 10 << 20), (2, 20 << 20), (3, 30 << 20), (4, 40 << 20)])
        let map = ChunkMap(chunks: [chunk])
        let s = Self.stripeLength
        let base: UInt64 = 1 << 30
        #expect(try copies(map, base + 4096) == [[1, 1, (10 << 20) + 4096], [2, 2, (20 << 20) + 4096]])
        #expect(try copies(map, base + s + 4096) == [[1, 3, (30 << 20) + 4096], [2, 4, (40 << 20) + 4096]])
        #expect(try copies(map, base + 2 * s) == [[1, 1, (10 << 20) + s], [2, 2, (20 << 20) + s]])
        #expect(try copies(map, base + 5 * s + 12288) == [[1, 3, (30 << 20) + 2 * s + 12288], [2, 4, (40 << 20) + 2 * s + 12288]])
    }

    @Test("RAID5/6 are recognised and not mapped")
    func parity() throws {
        let raid5 = try Self.chunk(at: 0, length: 1 << 30, flags: [.data, .raid5], stripes: [(1, 0), (2, 0), (3, 0)])
        let raid6 = try Self.chunk(at: 1 << 30, length: 1 << 30, flags: [.data, .raid6], stripes: [(1, 0), (2, 0), (3, 0), (4, 0)])
        let map = ChunkMap(chunks: [raid5, raid6])
        #expect(throws: ChunkMapError.parity(logical: 4096, profile: .raid5)) { try map.map(4096) }
        #expect(throws: ChunkMapError.parity(logical: (1 << 30) + 4096, profile: .raid6)) { try map.map((1 << 30) + 4096) }
        #expect(map.chunk(containing: 4096)?.flags.profile == .raid5)
    }

    @Test func profilesFromFlags() {
        #expect(BlockGroupFlags([.data]).profile == .single)
        #expect(BlockGroupFlags([.metadata, .dup]).profile == .dup)
        #expect(BlockGroupFlags([.system, .raid1c4]).profile == .raid1c4)
        #expect(BlockGroupFlags([.data, .metadata]).typeName == "Data+Metadata")
        #expect(Profile.allCases.map(\.copies) == [1, 2, 1, 2, 2, 1, 1, 3, 4])
    }

    @Test func keySuccessorCarries() {
        #expect(BtrfsKey(5, 1, 7).successor == BtrfsKey(5, 1, 8))
        #expect(BtrfsKey(5, 1, .max).successor == BtrfsKey(5, 2, 0))
        #expect(BtrfsKey(5, .max, .max).successor == BtrfsKey(6, 0, 0))
        #expect(BtrfsKey.max.successor == nil)
    }
}
