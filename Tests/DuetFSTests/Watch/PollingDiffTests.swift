import Testing

@testable import DuetFS

@Suite("cachestat polling: sweep differences")
struct PollingDiffTests {
    typealias Key = CachestatPollingSource.FileKey

    static func file(
        _ inode: UInt64, _ resident: [Range<UInt64>], dirty: [Range<UInt64>] = [], changed: UInt64 = 1_000, size: UInt64 = 1 << 20
    ) -> FileResidency {
        FileResidency(
            device: 42, root: 256, inode: inode, resident: ExtentSet(resident), dirty: ExtentSet(dirty),
            modification: changed, change: changed, size: size)
    }

    static func run(_ previous: [FileResidency], _ current: [FileResidency], since: UInt64 = 5_000) -> [CacheEvent] {
        var events: [CacheEvent] = []
        func table(_ files: [FileResidency]) -> [Key: FileResidency] {
            Dictionary(uniqueKeysWithValues: files.map { (Key(device: $0.device, root: $0.root, inode: $0.inode), $0) })
        }
        CachestatPollingSource.diff(previous: table(previous), current: table(current), modifiedSince: since, into: &events)
        return events
    }

    static func pages(_ events: [CacheEvent], _ kind: CacheEvent.Kind, _ inode: UInt64) -> ExtentSet {
        ExtentSet(events.filter { $0.kind == kind && $0.inode == inode }.map { $0.firstPage..<($0.firstPage + $0.pageCount) })
    }

    @Test("pages that appeared are added, pages that left are removed, a vanished file is removed whole")
    func addedAndRemoved() {
        let events = Self.run([Self.file(257, [0..<10]), Self.file(258, [0..<4])], [Self.file(257, [5..<20])])
        #expect(Self.pages(events, .added, 257) == ExtentSet([10..<20]))
        #expect(Self.pages(events, .removed, 257) == ExtentSet([0..<5]))
        #expect(Self.pages(events, .removed, 258) == ExtentSet([0..<4]))
        #expect(Self.pages(events, .dirtied, 257).isEmpty)
    }

    @Test("pages that appear in a file written since the previous sweep are also dirtied: never taken for reads")
    func writtenFiles() {
        let events = Self.run([Self.file(257, [0..<4])], [Self.file(257, [0..<8], changed: 6_000), Self.file(259, [0..<2], changed: 7_000)])
        #expect(Self.pages(events, .dirtied, 257) == ExtentSet([4..<8]))
        #expect(Self.pages(events, .dirtied, 259) == ExtentSet([0..<2]))
        // Same times, new size: a write too.
        let grown = Self.run([Self.file(257, [0..<4])], [Self.file(257, [0..<8], size: 2 << 20)])
        #expect(Self.pages(grown, .dirtied, 257) == ExtentSet([4..<8]))
    }

    @Test("pages that became dirty are dirtied; the initial report dirties only dirty pages")
    func newlyDirty() {
        let events = Self.run([Self.file(257, [0..<8], dirty: [1..<2])], [Self.file(257, [0..<8], dirty: [1..<3])])
        #expect(Self.pages(events, .dirtied, 257) == ExtentSet([2..<3]))
        let initial = Self.run([], [Self.file(257, [0..<8], dirty: [1..<3], changed: 9_000)], since: UInt64.max)
        #expect(Self.pages(initial, .added, 257) == ExtentSet([0..<8]))
        #expect(Self.pages(initial, .dirtied, 257) == ExtentSet([1..<3]))
    }
}
