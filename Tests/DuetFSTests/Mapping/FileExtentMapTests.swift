import Testing

@testable import DuetFS

@Suite("File extent map arithmetic")
struct FileExtentMapTests {
    typealias Extent = FileExtentMap.Extent

    static let mib: UInt64 = 1 << 20

    /// A 1 MiB regular extent at logical 100 MiB, file bytes 0..<1 MiB, then a hole, then a part of a
    /// 2 MiB extent referenced from its second half (offset 1 MiB), then a compressed extent, then
    /// prealloc, then inline at the end would be impossible (inline is only at offset 0), so a
    /// separate map covers it.
    static let map = FileExtentMap(extents: [
        Extent(fileRange: 0..<mib, kind: .regular, diskBytenr: 100 * mib, diskNumBytes: mib, offset: 0, generation: 7),
        Extent(fileRange: mib..<(2 * mib), kind: .hole, diskBytenr: 0, diskNumBytes: 0, offset: 0, generation: 7),
        Extent(fileRange: (2 * mib)..<(3 * mib), kind: .regular, diskBytenr: 200 * mib, diskNumBytes: 2 * mib, offset: mib, generation: 8),
        Extent(
            fileRange: (3 * mib)..<(3 * mib + 131072), kind: .compressed, diskBytenr: 300 * mib, diskNumBytes: 8192, offset: 0,
            generation: 9),
        Extent(fileRange: (4 * mib)..<(5 * mib), kind: .prealloc, diskBytenr: 400 * mib, diskNumBytes: mib, offset: 0, generation: 9)
    ])

    @Test("a regular extent maps page by page to disk_bytenr + offset + (position - key.offset)")
    func regularArithmetic() {
        #expect(Self.map.logicalRanges(0..<1) == [(100 * Self.mib)..<(100 * Self.mib + 4096)])
        #expect(Self.map.logicalRanges(10..<20) == [(100 * Self.mib + 40960)..<(100 * Self.mib + 81920)])
        // Second half of the 2 MiB extent: offset 1 MiB.
        #expect(Self.map.logicalRanges(512..<514) == [(201 * Self.mib)..<(201 * Self.mib + 8192)])
    }

    @Test("holes, prealloc and pages past the last item have no logical range")
    func notFromDisk() {
        #expect(Self.map.logicalRanges(256..<300) == nil)
        #expect(Self.map.logicalRanges(1024..<1030) == nil)
        #expect(Self.map.logicalRanges(5000..<5001) == nil)
        let kinds = Self.map.segments(250..<260).map(\.kind)
        #expect(kinds == [.regular, .hole])
        // Between the compressed extent's end (3 MiB + 128 KiB) and the prealloc at 4 MiB: no item.
        #expect(Self.map.segments(800..<1024).map(\.kind) == [.unmapped])
    }

    @Test("a compressed extent is named whole, once, whichever of its pages are asked")
    func compressedWhole() {
        let whole = (300 * Self.mib)..<(300 * Self.mib + 8192)
        #expect(Self.map.logicalRanges(768..<769) == [whole])
        #expect(Self.map.logicalRanges(768..<800) == [whole])
        let segment = Self.map.segments(770..<772)[0]
        #expect(segment.kind == .compressed)
        #expect(segment.itemPages == 768..<800)
        #expect(segment.diskExtent == whole)
    }

    @Test("a run spanning items yields their ranges in order, merged only when contiguous on disk")
    func spanning() {
        let ranges = Self.map.logicalRanges(250..<520)
        #expect(ranges == [(100 * Self.mib + 250 * 4096)..<(101 * Self.mib), (201 * Self.mib)..<(201 * Self.mib + 8 * 4096)])
        let contiguous = FileExtentMap(extents: [
            Extent(fileRange: 0..<8192, kind: .regular, diskBytenr: 4096 * 10, diskNumBytes: 8192, offset: 0, generation: 1),
            Extent(fileRange: 8192..<16384, kind: .regular, diskBytenr: 4096 * 12, diskNumBytes: 8192, offset: 0, generation: 1)
        ])
        let expected: [Range<UInt64>] = [40960..<57344]
        #expect(contiguous.logicalRanges(0..<4) == expected)
        // Different disk extents stay separate segments even when their bytes touch.
        #expect(contiguous.segments(0..<4).count == 2)
    }

    @Test("inline data has no logical range")
    func inline() {
        let map = FileExtentMap(extents: [
            Extent(fileRange: 0..<300, kind: .inline, diskBytenr: 0, diskNumBytes: 0, offset: 0, generation: 3)
        ])
        #expect(map.logicalRanges(0..<1) == nil)
        #expect(map.segments(0..<1).map(\.kind) == [.inline])
    }

    @Test("items decode into kinds: hole for disk_bytenr 0, compressed for a compression type")
    func fromItems() throws {
        func item(type: UInt8, compression: UInt8, disk: UInt64, diskBytes: UInt64, offset: UInt64, bytes: UInt64) throws -> FileExtentItem
        {
            var data = [UInt8](repeating: 0, count: 53)
            func put(_ value: UInt64, at: Int) { for i in 0..<8 { data[at + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) } }
            put(5, at: 0)  // generation
            put(bytes, at: 8)  // ram_bytes
            data[16] = compression
            data[20] = type
            put(disk, at: 21)
            put(diskBytes, at: 29)
            put(offset, at: 37)
            put(bytes, at: 45)
            return try FileExtentItem(key: BtrfsKey(257, ItemType.extentData, 0), bytes: data)
        }
        #expect(Extent(try item(type: 1, compression: 0, disk: 0, diskBytes: 0, offset: 0, bytes: 4096)).kind == .hole)
        #expect(Extent(try item(type: 1, compression: 3, disk: 1 << 30, diskBytes: 4096, offset: 0, bytes: 131072)).kind == .compressed)
        #expect(Extent(try item(type: 2, compression: 0, disk: 1 << 30, diskBytes: 4096, offset: 0, bytes: 4096)).kind == .prealloc)
        #expect(Extent(try item(type: 1, compression: 0, disk: 1 << 30, diskBytes: 4096, offset: 0, bytes: 4096)).kind == .regular)
    }

    @Test("NODATASUM and NODATACOW inodes have no data checksums")
    func checksumFlags() {
        #expect(FileExtentMap(extents: [], inodeFlags: 0).hasDataChecksums)
        #expect(!FileExtentMap(extents: [], inodeFlags: 1).hasDataChecksums)
        #expect(!FileExtentMap(extents: [], inodeFlags: 2).hasDataChecksums)
        #expect(FileExtentMap(extents: [], inodeFlags: 1 << 11).hasDataChecksums)  // COMPRESS
    }

    @Test("btree inode pages name the node-size tree blocks around them")
    func btreeInode() {
        // Page 7620 is byte 31211520 = 1905 × 16384: the block's first page.
        #expect(BtreeInodeMapping.treeBlocks(firstPage: 7620, pageCount: 1, nodeSize: 16384) == [31211520..<31227904])
        // The third page of the same block maps to the same block.
        #expect(BtreeInodeMapping.treeBlocks(firstPage: 7622, pageCount: 1, nodeSize: 16384) == [31211520..<31227904])
        // Pages straddling two blocks name both, as one range.
        #expect(BtreeInodeMapping.treeBlocks(firstPage: 7623, pageCount: 2, nodeSize: 16384) == [31211520..<31244288])
        #expect(BtreeInodeMapping.treeBlocks(firstPage: 0, pageCount: 0, nodeSize: 16384) == [])
    }
}
