import Synchronization
import Testing

@testable import DuetFS

/// A mapper double: fixed extent maps per (root, inode).
final class TableMapper: FileExtentResolving {
    let maps: [InodeKey: FileExtentMap]
    let nodeSize: UInt64 = 16384
    let invalidations = Mutex<[InodeKey]>([])

    init(_ maps: [InodeKey: FileExtentMap]) { self.maps = maps }

    func segments(root: UInt64, inode: UInt64, pages: Range<UInt64>) throws -> (segments: [FileExtentMap.Segment], checksummed: Bool) {
        if inode == CacheEvent.btreeInode {
            let blocks = BtreeInodeMapping.treeBlocks(firstPage: pages.lowerBound, pageCount: UInt64(pages.count), nodeSize: nodeSize)
            return (blocks.map { .init(pages: pages, kind: .regular, logical: $0, diskExtent: $0, itemPages: pages, generation: 0) }, true)
        }
        let map = maps[InodeKey(root: root, inode: inode)] ?? FileExtentMap(extents: [])
        return (map.segments(pages), map.hasDataChecksums)
    }

    func invalidate(root: UInt64, inode: UInt64) {
        invalidations.withLock { $0.append(InodeKey(root: root, inode: inode)) }
    }
}

/// A ledger double that remembers credits and voids.
final class RecordingLedger: CreditLedger {
    let state = Mutex<(credits: [LedgerCredit], voids: [Range<UInt64>])>(([], []))

    func credit(range: Range<UInt64>, generation: UInt64, time: UInt64) {
        state.withLock { $0.credits.append(LedgerCredit(range: range, generation: generation, time: time)) }
    }

    func void(range: Range<UInt64>) {
        state.withLock { $0.voids.append(range) }
    }

    func creditedParts(of range: Range<UInt64>) -> [Range<UInt64>] {
        state.withLock { state in
            state.credits.compactMap { credit in
                let lower = max(credit.range.lowerBound, range.lowerBound)
                let upper = min(credit.range.upperBound, range.upperBound)
                return lower < upper ? lower..<upper : nil
            }
        }
    }

    var credits: [LedgerCredit] { state.withLock { $0.credits } }
    var voids: [Range<UInt64>] { state.withLock { $0.voids } }
}

@Suite("Creditor rules")
struct CreditorTests {
    typealias Extent = FileExtentMap.Extent
    static let mib: UInt64 = 1 << 20
    static let data = InodeKey(root: 256, inode: 257)
    static let compressed = InodeKey(root: 256, inode: 258)
    static let nodatasum = InodeKey(root: 256, inode: 259)
    static let dupData = InodeKey(root: 256, inode: 260)

    /// 1 MiB file at logical 100 MiB (single chunk), a compressed file (128 KiB in 8 KiB at 101 MiB),
    /// a nodatasum file, a file in a DUP chunk at 600 MiB; metadata single at 30 MiB.
    struct Fixture {
        let clock = ManualClock()
        let ledger = RecordingLedger()
        let mapper: TableMapper
        let creditor: Creditor
        let extents: Shared<[ExtentGeneration]>
        let errors = Shared<UInt64>(0)

        init(settle: Double = 1.5, metadataProfile: Profile = .single) {
            let mib = CreditorTests.mib
            mapper = TableMapper([
                CreditorTests.data: FileExtentMap(extents: [
                    Extent(fileRange: 0..<mib, kind: .regular, diskBytenr: 100 * mib, diskNumBytes: mib, offset: 0, generation: 11),
                    Extent(fileRange: mib..<(2 * mib), kind: .prealloc, diskBytenr: 102 * mib, diskNumBytes: mib, offset: 0, generation: 11)
                ]),
                CreditorTests.compressed: FileExtentMap(extents: [
                    Extent(fileRange: 0..<131072, kind: .compressed, diskBytenr: 101 * mib, diskNumBytes: 8192, offset: 0, generation: 12)
                ]),
                CreditorTests.nodatasum: FileExtentMap(
                    extents: [
                        Extent(fileRange: 0..<mib, kind: .regular, diskBytenr: 103 * mib, diskNumBytes: mib, offset: 0, generation: 11)
                    ], inodeFlags: FileExtentMap.noDataSumFlag),
                CreditorTests.dupData: FileExtentMap(extents: [
                    Extent(fileRange: 0..<mib, kind: .regular, diskBytenr: 600 * mib, diskNumBytes: mib, offset: 0, generation: 11)
                ])
            ])
            let extents = Shared<[ExtentGeneration]>([
                ExtentGeneration(range: (100 * mib)..<(101 * mib), generation: 11),
                ExtentGeneration(range: (101 * mib)..<(101 * mib + 8192), generation: 12),
                ExtentGeneration(range: (103 * mib)..<(104 * mib), generation: 11),
                ExtentGeneration(range: (600 * mib)..<(601 * mib), generation: 11),
                ExtentGeneration(range: (30 * mib)..<(30 * mib + 16384), generation: 5)
            ])
            self.extents = extents
            let errors = self.errors
            creditor = Creditor(
                mapper: mapper, ledger: ledger,
                profiles: FixedChunkProfiles([
                    ((0..<(500 * mib)), .single), (((500 * mib)..<(1000 * mib)), .dup),
                    ((1000 * mib)..<(2000 * mib), .raid1)
                ]),
                generations: ClosureExtentGenerationLookup { range in extents.value.withLock { $0.filter { $0.range.overlaps(range) } } },
                clock: clock, options: CreditorOptions(settleSeconds: settle),
                deviceErrors: { errors.value.withLock { $0 } })
        }

        func event(_ kind: CacheEvent.Kind, _ key: InodeKey, _ pages: Range<UInt64>, logical: UInt64 = 0) -> CacheEvent {
            CacheEvent(
                kind: kind, device: 42, root: key.root, inode: key.inode, firstPage: pages.lowerBound,
                pageCount: UInt64(pages.count), logical: logical)
        }
    }

    @Test("a clean page read from disk is credited only after the settle window, with its extent's generation")
    func settleWindow() {
        let f = Fixture()
        f.creditor.ingest([f.event(.added, Self.data, 0..<16)])
        f.clock.advance(1)
        #expect(f.creditor.settle().credits.isEmpty)
        f.clock.advance(0.6)
        let report = f.creditor.settle()
        #expect(report.credits.map(\.range) == [(100 * Self.mib)..<(100 * Self.mib + 65536)])
        #expect(report.credits.first?.generation == 11)
        #expect(report.credits.first?.time == f.clock.wallSeconds())
        #expect(f.creditor.heldPages == 0)
    }

    @Test("pages added for a write are dirtied at once and never credited")
    func writeCancels() {
        let f = Fixture()
        f.creditor.ingest([
            f.event(.added, Self.data, 0..<4), f.event(.dirtied, Self.data, 0..<4),
            f.event(.added, Self.data, 4..<8)
        ])
        f.clock.advance(0.5)
        f.creditor.ingest([f.event(.dirtied, Self.data, 5..<6)])
        f.clock.advance(2)
        let report = f.creditor.settle()
        let base = 100 * Self.mib
        #expect(
            report.credits.map(\.range).sorted { $0.lowerBound < $1.lowerBound }
                == [(base + 4 * 4096)..<(base + 5 * 4096), (base + 6 * 4096)..<(base + 8 * 4096)])
        #expect(f.creditor.statistics.pagesCancelled == 5)
        #expect(f.mapper.invalidations.withLock { $0 }.contains(Self.data))
    }

    @Test("an add heard after a write of the same pages (delivered out of order) is not credited, until the reorder window has passed")
    func lateAddAfterWrite() {
        let f = Fixture()
        // The eBPF source may deliver a merged run of adds after a dirty heard from another CPU.
        f.creditor.ingest([f.event(.dirtied, Self.data, 2..<4), f.event(.extentWritten, Self.compressed, 0..<1)])
        f.creditor.ingest([f.event(.added, Self.data, 0..<8), f.event(.added, Self.compressed, 0..<32)])
        f.clock.advance(2)
        let base = 100 * Self.mib
        #expect(
            f.creditor.settle().credits.map(\.range).sorted { $0.lowerBound < $1.lowerBound }
                == [base..<(base + 2 * 4096), (base + 4 * 4096)..<(base + 8 * 4096)])
        #expect(f.creditor.statistics.pagesCancelled == 2 + 32)
        // Once the window has passed, a new read of those pages is credited again.
        f.creditor.ingest([f.event(.added, Self.data, 2..<4)])
        f.clock.advance(2)
        #expect(f.creditor.settle().credits.map(\.range) == [(base + 2 * 4096)..<(base + 4 * 4096)])
    }

    @Test("a page removed, or written back, within the window is not credited")
    func removedOrWrittenBackCancels() {
        let f = Fixture()
        f.creditor.ingest([
            f.event(.added, Self.data, 0..<8), f.event(.removed, Self.data, 0..<2),
            f.event(.writebackFinished, Self.data, 6..<8)
        ])
        f.clock.advance(2)
        #expect(f.creditor.settle().credits.map(\.range) == [(100 * Self.mib + 8192)..<(100 * Self.mib + 24576)])
    }

    @Test("an extent write for the inode cancels its held pages and voids the written logical range")
    func extentWrittenVoids() {
        let f = Fixture()
        f.creditor.ingest([f.event(.added, Self.data, 0..<8)])
        f.clock.advance(2)
        #expect(f.creditor.settle().credits.count == 1)
        f.creditor.ingest([f.event(.added, Self.data, 8..<16)])
        f.creditor.ingest([f.event(.extentWritten, Self.data, 0..<2, logical: 100 * Self.mib)])
        f.clock.advance(2)
        #expect(f.creditor.settle().credits.isEmpty)
        #expect(f.ledger.voids == [(100 * Self.mib)..<(100 * Self.mib + 8192)])
        #expect(f.creditor.statistics.bytesVoided == 8192)
        // A write where nothing is credited journals no void.
        f.creditor.ingest([f.event(.extentWritten, Self.data, 0..<2, logical: 300 * Self.mib)])
        #expect(f.ledger.voids.count == 1)
    }

    @Test("holes, prealloc and unmapped pages are not credited")
    func notFromDisk() {
        let f = Fixture()
        f.creditor.ingest([f.event(.added, Self.data, 256..<300), f.event(.added, Self.data, 600..<610)])
        f.clock.advance(2)
        #expect(f.creditor.settle().credits.isEmpty)
        #expect(f.creditor.statistics.pagesSkippedNotFromDisk == 54)
    }

    @Test("files without data checksums are not credited")
    func noDataSum() {
        let f = Fixture()
        f.creditor.ingest([f.event(.added, Self.nodatasum, 0..<8)])
        f.clock.advance(2)
        #expect(f.creditor.settle().credits.isEmpty)
        #expect(f.creditor.statistics.pagesSkippedWithoutChecksums == 8)
    }

    @Test("data in a DUP chunk is not credited: a read verified one mirror and we cannot know which")
    func multipleCopies() {
        let f = Fixture()
        f.creditor.ingest([f.event(.added, Self.dupData, 0..<8)])
        f.clock.advance(2)
        #expect(f.creditor.settle().credits.isEmpty)
        #expect(f.creditor.statistics.bytesSkippedMultipleCopies == 32768)
    }

    @Test("a compressed extent is credited whole once all its pages settled, not for a part")
    func compressedWhole() {
        let f = Fixture()
        f.creditor.ingest([f.event(.added, Self.compressed, 0..<10)])
        f.clock.advance(2)
        #expect(f.creditor.settle().credits.isEmpty)
        f.creditor.ingest([f.event(.added, Self.compressed, 10..<32)])
        f.clock.advance(2)
        let report = f.creditor.settle()
        #expect(report.credits.map(\.range) == [(101 * Self.mib)..<(101 * Self.mib + 8192)])
        #expect(report.credits.first?.generation == 12)
        #expect(f.creditor.statistics.compressedExtentsCredited == 1)
    }

    @Test("a compressed extent whose pages do not all settle in time is given up")
    func compressedExpires() {
        let f = Fixture()
        f.creditor.ingest([f.event(.added, Self.compressed, 0..<10)])
        f.clock.advance(2)
        f.creditor.settle()
        f.clock.advance(120)
        f.creditor.ingest([f.event(.added, Self.compressed, 10..<32)])
        f.clock.advance(2)
        #expect(f.creditor.settle().credits.isEmpty)
        #expect(f.creditor.statistics.compressedExtentsExpired == 1)
    }

    @Test("a range whose extent is gone by the time it settles is not credited")
    func extentGone() {
        let f = Fixture()
        f.creditor.ingest([f.event(.added, Self.data, 0..<8)])
        f.extents.value.withLock { _ = $0.removeFirst() }
        f.clock.advance(2)
        #expect(f.creditor.settle().credits.isEmpty)
        #expect(f.creditor.statistics.bytesSkippedExtentChanged == 32768)
    }

    @Test("btree inode pages credit their whole tree block in a single metadata chunk, none in DUP")
    func treeBlocks() {
        let f = Fixture()
        let block = 30 * Self.mib
        f.creditor.ingest([CacheEvent(kind: .added, device: 42, root: 1, inode: 1, firstPage: block / 4096 + 1, pageCount: 1)])
        f.clock.advance(2)
        let report = f.creditor.settle()
        #expect(report.credits.map(\.range) == [block..<(block + 16384)])
        #expect(report.credits.first?.generation == 5)
    }

    @Test("pages are not credited when device error counters rose since before they were added")
    func deviceErrors() {
        let f = Fixture()
        f.creditor.ingest([f.event(.added, Self.data, 0..<8)])
        f.clock.advance(0.5)
        // A settle pass in between (nothing ready) must not absorb the error into its baseline.
        f.errors.value.withLock { $0 += 1 }
        f.creditor.settle()
        f.clock.advance(1.5)
        #expect(f.creditor.settle().credits.isEmpty)
        #expect(f.creditor.statistics.pagesDroppedForDeviceErrors == 8)
        // Pages added after the error was counted are credited.
        f.creditor.ingest([f.event(.added, Self.data, 0..<8)])
        f.clock.advance(2)
        #expect(f.creditor.settle().credits.count == 1)
    }

    @Test("events of other devices are ignored when the creditor is bound to one")
    func deviceFilter() {
        let clock = ManualClock()
        let ledger = RecordingLedger()
        let f = Fixture()
        let creditor = Creditor(
            mapper: f.mapper, ledger: ledger, profiles: FixedChunkProfiles([(0..<UInt64.max, .single)]),
            generations: FixedGenerations(), clock: clock, device: 7)
        creditor.ingest([f.event(.added, Self.data, 0..<8)])
        clock.advance(5)
        #expect(creditor.settle().credits.isEmpty)
        #expect(creditor.statistics.pagesHeld == 0)
    }

    @Test("replayed recording drives the creditor like live events")
    func replayedEvents() throws {
        let f = Fixture()
        let events = [f.event(.added, Self.data, 0..<4), f.event(.added, Self.data, 4..<8), f.event(.dirtied, Self.data, 6..<7)]
        var bytes: [UInt8] = EventRecordingFormat.encodeHeader(startWallNanoseconds: 0)
        EventRecordingFormat.encodeFrame(events, time: 0, into: &bytes)
        let recording = try EventRecording.decode(bytes)
        for batch in recording.batches { f.creditor.ingest(batch.events) }
        f.clock.advance(2)
        let base = 100 * Self.mib
        #expect(
            f.creditor.settle().credits.map(\.range).sorted { $0.lowerBound < $1.lowerBound }
                == [base..<(base + 6 * 4096), (base + 7 * 4096)..<(base + 8 * 4096)])
    }
}

/// A mutex in a class, so closures and a fixture can share it.
final class Shared<T: Sendable>: Sendable {
    let value: Mutex<T>
    init(_ initial: T) { value = Mutex(initial) }
}

struct FixedGenerations: ExtentGenerationLookup {
    func extents(overlapping range: Range<UInt64>) throws -> [ExtentGeneration] {
        [ExtentGeneration(range: 0..<UInt64.max, generation: 1)]
    }
}
