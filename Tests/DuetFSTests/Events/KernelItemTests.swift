import CDuet
import DuetFS
import Testing

/// Item batches as `read()` on a Duet task fd returns them (`struct duet_item`, 32 bytes,
/// native byte order), turned into `CacheEvent`s without a kernel.
@Suite struct KernelItemTests {
    /// One `struct duet_item` laid out by hand: ino, root, index (u64), gen, state (u32).
    static func item(ino: UInt64, root: UInt64, index: UInt64, gen: UInt32 = 7, state: UInt32) -> [UInt8] {
        var bytes: [UInt8] = []
        for value in [ino, root, index] { withUnsafeBytes(of: value) { bytes += $0 } }
        for value in [gen, state] { withUnsafeBytes(of: value) { bytes += $0 } }
        return bytes
    }

    static let added = UInt32(DUET_PAGE_ADDED), removed = UInt32(DUET_PAGE_REMOVED)
    static let dirty = UInt32(DUET_PAGE_DIRTY), flushed = UInt32(DUET_PAGE_FLUSHED)

    @Test func layoutMatchesTheUapiHeader() {
        #expect(MemoryLayout<duet_item>.size == KernelItem.size)
        #expect(MemoryLayout<duet_item>.offset(of: \.root) == 8)
        #expect(MemoryLayout<duet_item>.offset(of: \.index) == 16)
        #expect(MemoryLayout<duet_item>.offset(of: \.gen) == 24)
        #expect(MemoryLayout<duet_item>.offset(of: \.state) == 28)
        #expect(MemoryLayout<duet_register>.size == 72)
        #expect(KernelEventSource.Events.all.rawValue == UInt32(DUET_PAGE_EVENTS))
    }

    @Test func parsesFieldsOfEveryItem() throws {
        let bytes =
            Self.item(ino: 257, root: 256, index: 3, gen: 9, state: Self.added)
            + Self.item(ino: UInt64.max, root: 5, index: 1 << 40, gen: UInt32.max, state: Self.removed | Self.dirty)
        let items = try KernelItem.parse(bytes)
        #expect(
            items == [
                KernelItem(inode: 257, root: 256, index: 3, generation: 9, state: .added),
                KernelItem(inode: UInt64.max, root: 5, index: 1 << 40, generation: UInt32.max, state: [.removed, .dirty])
            ])
        #expect(try KernelItem.parse([]).isEmpty)
    }

    @Test func rejectsPartialItems() {
        let bytes = Self.item(ino: 257, root: 256, index: 0, state: Self.added)
        #expect(throws: DuetError.self) { try KernelItem.parse(Array(bytes.dropLast())) }
        #expect(throws: DuetError.self) { try KernelItem.parse(bytes + [0]) }
    }

    @Test func coalescesRunsOfConsecutivePages() throws {
        var bytes: [UInt8] = []
        for index in 0..<4 as Range<UInt64> { bytes += Self.item(ino: 257, root: 256, index: index, state: Self.added) }
        // A gap, another root (a snapshot: same inode), another state, another inode: each starts a run.
        bytes += Self.item(ino: 257, root: 256, index: 10, state: Self.added)
        bytes += Self.item(ino: 257, root: 257, index: 11, state: Self.added)
        bytes += Self.item(ino: 257, root: 257, index: 12, state: Self.added | Self.removed)
        bytes += Self.item(ino: 258, root: 257, index: 13, state: Self.added | Self.removed)
        let events = try bytes.withUnsafeBytes { try KernelItem.cacheEvents(batch: $0, device: 42) }
        #expect(
            events == [
                CacheEvent(kind: .added, device: 42, root: 256, inode: 257, firstPage: 0, pageCount: 4),
                CacheEvent(kind: .added, device: 42, root: 256, inode: 257, firstPage: 10, pageCount: 1),
                CacheEvent(kind: .added, device: 42, root: 257, inode: 257, firstPage: 11, pageCount: 1),
                CacheEvent(kind: .added, device: 42, root: 257, inode: 257, firstPage: 12, pageCount: 1),
                CacheEvent(kind: .removed, device: 42, root: 257, inode: 257, firstPage: 12, pageCount: 1),
                CacheEvent(kind: .added, device: 42, root: 257, inode: 258, firstPage: 13, pageCount: 1),
                CacheEvent(kind: .removed, device: 42, root: 257, inode: 258, firstPage: 13, pageCount: 1)
            ])
    }

    @Test func oneEventPerKindInLifeOrder() throws {
        // Event model: every bit set; the creditor must see the dirtying after the addition.
        let bytes =
            Self.item(ino: 300, root: 5, index: 7, state: Self.removed | Self.flushed | Self.dirty | Self.added)
            + Self.item(ino: 300, root: 5, index: 8, state: Self.removed | Self.flushed | Self.dirty | Self.added)
            + Self.item(ino: 301, root: 5, index: 0, state: 0x100)  // an unknown bit only: nothing
        let events = try bytes.withUnsafeBytes { try KernelItem.cacheEvents(batch: $0, device: 1) }
        #expect(events.map(\.kind) == [.added, .dirtied, .writebackStarted, .removed])
        #expect(events.allSatisfy { $0.firstPage == 7 && $0.pageCount == 2 && $0.inode == 300 && $0.device == 1 })
    }

    @Test func convertsLargerKernelPages() throws {
        // A 16 KiB-page kernel: index and count in 4 KiB pages.
        let bytes = Self.item(ino: 257, root: 5, index: 3, state: Self.added) + Self.item(ino: 257, root: 5, index: 4, state: Self.added)
        let events = try bytes.withUnsafeBytes { try KernelItem.cacheEvents(batch: $0, device: 1, pagesPerItem: 4) }
        #expect(events == [CacheEvent(kind: .added, device: 1, root: 5, inode: 257, firstPage: 12, pageCount: 8)])
    }

    @Test func indexAtTheTopDoesNotOverflow() throws {
        let bytes =
            Self.item(ino: 257, root: 5, index: UInt64.max, state: Self.added) + Self.item(ino: 257, root: 5, index: 0, state: Self.added)
        let events = try bytes.withUnsafeBytes { try KernelItem.cacheEvents(batch: $0, device: 1) }
        #expect(events.map(\.firstPage) == [UInt64.max, 0])
    }
}
