import Synchronization

/// Where the creditor writes: the ledger, or a fake in tests.
public protocol CreditLedger: AnyObject, Sendable {
    func credit(range: Range<UInt64>, generation: UInt64, time: UInt64)
    func void(range: Range<UInt64>)
    /// The parts of `range` that hold credit now (so voids are journaled only where they matter).
    func creditedParts(of range: Range<UInt64>) -> [Range<UInt64>]
}

extension Ledger: CreditLedger {
    public func creditedParts(of range: Range<UInt64>) -> [Range<UInt64>] {
        credits(in: range).map(\.range)
    }
}

/// The replication profile of the chunk holding a logical address.
public protocol ChunkProfileLookup: Sendable {
    func profile(at logical: UInt64) -> Profile?
}

/// `ChunkProfileLookup` over the chunk tree: loaded once, reloaded when an address falls in no
/// known chunk (a chunk allocated since), at most once a second.
public final class ChunkProfiles: ChunkProfileLookup {
    private let fileSystem: FileSystem
    private let state: Mutex<(map: ChunkMap, loadedAt: UInt64)>

    public init(fileSystem: FileSystem) throws {
        self.fileSystem = fileSystem
        state = Mutex((try ChunkMap.load(from: fileSystem), SystemClock.monotonicNanoseconds()))
    }

    public func profile(at logical: UInt64) -> Profile? {
        let found: Profile? = state.withLock { $0.map.chunk(containing: logical)?.flags.profile }
        if let found { return found }
        let now = SystemClock.monotonicNanoseconds()
        let stale = state.withLock { now - $0.loadedAt > 1_000_000_000 }
        // A failed reload leaves the address unmapped, so nothing is credited there.
        guard stale, let map = try? ChunkMap.load(from: fileSystem) else { return nil }
        return state.withLock { state in
            state = (map, now)
            return map.chunk(containing: logical)?.flags.profile
        }
    }
}

/// A fixed table of chunk profiles, for tests.
public struct FixedChunkProfiles: ChunkProfileLookup {
    public var chunks: [(range: Range<UInt64>, profile: Profile)]

    public init(_ chunks: [(range: Range<UInt64>, profile: Profile)]) { self.chunks = chunks }

    public func profile(at logical: UInt64) -> Profile? {
        chunks.first { $0.range.contains(logical) }?.profile
    }
}

/// What the creditor did, cumulatively.
public struct CreditorStatistics: Sendable, Equatable, Codable {
    /// Pages held after an `.added` event, waiting for the settle window.
    public var pagesHeld: UInt64 = 0
    /// Held pages cancelled by a dirty, removal, writeback or extent write in the window.
    public var pagesCancelled: UInt64 = 0
    /// Held pages that settled and were looked at.
    public var pagesSettled: UInt64 = 0
    /// Pages dropped because too many were held (`CreditorOptions.maximumHeldPages`).
    public var pagesOverflowed: UInt64 = 0
    public var bytesCredited: UInt64 = 0
    /// Settled data in DUP/RAID1/RAID10/RAID1C3/4 (or RAID5/6) chunks: not credited.
    public var bytesSkippedMultipleCopies: UInt64 = 0
    /// Settled pages of files without data checksums (NODATASUM / NODATACOW).
    public var pagesSkippedWithoutChecksums: UInt64 = 0
    /// Settled pages of holes, inline extents, prealloc extents or with no extent item.
    public var pagesSkippedNotFromDisk: UInt64 = 0
    /// Compressed extents credited whole once every page that the file maps to them settled.
    public var compressedExtentsCredited: UInt64 = 0
    /// Compressed extents given up on: not all their pages settled within the accumulation time.
    public var compressedExtentsExpired: UInt64 = 0
    /// Settled ranges whose extent was gone or changed by the time they were looked up.
    public var bytesSkippedExtentChanged: UInt64 = 0
    /// Mapping or lookup failures (the pages are not credited).
    public var failures: UInt64 = 0
    /// Settled pages not credited because device read/corruption/generation error counters rose
    /// since before they were added (a failed read is invisible in the events).
    public var pagesDroppedForDeviceErrors: UInt64 = 0
    public var bytesVoided: UInt64 = 0
    /// Event records taken in (the eBPF source merges a run of contiguous page events on one CPU
    /// into one record, so this is far below `pageEvents`).
    public var events: UInt64 = 0
    /// The same events counted per page (`CacheEvent.pageEventCount`).
    public var pageEvents: UInt64 = 0

    public init() {}

    /// The names in `watch.json` and `duet watch --json`: byte counts end in `Bytes`, as in every
    /// other `--json` output; page and event counts are plain counts.
    enum CodingKeys: String, CodingKey {
        case pagesHeld, pagesCancelled, pagesSettled, pagesOverflowed
        case bytesCredited = "creditedBytes", bytesSkippedMultipleCopies = "skippedMultipleCopiesBytes"
        case pagesSkippedWithoutChecksums, pagesSkippedNotFromDisk, compressedExtentsCredited, compressedExtentsExpired
        case bytesSkippedExtentChanged = "skippedExtentChangedBytes", failures, pagesDroppedForDeviceErrors
        case bytesVoided = "voidedBytes", events, pageEvents
    }
}

/// Knobs of the creditor.
public struct CreditorOptions: Sendable {
    /// How long an added page must stay clean and cached before it counts as read from disk. Pages
    /// added for a write are dirtied at once; 1 s leaves room for batching in the event source. With
    /// a polling source, make it longer than the polling interval.
    public var settleSeconds: Double
    /// How long to wait for the rest of a compressed extent's pages before giving up on it.
    public var compressedAccumulationSeconds: Double
    /// Held pages over all files; past it new pages are dropped (and counted).
    public var maximumHeldPages: UInt64
    /// Pages added within this time of the previous contiguous add join its run.
    public var runJoinSeconds: Double

    /// How long a dirty, writeback or extent-write event keeps cancelling `.added` events for the
    /// same pages that arrive after it: the most an event source may deliver an add late relative
    /// to a write on another CPU (the eBPF source: one poll interval, 100 ms). 0 turns it off.
    public var reorderSeconds: Double

    public init(
        settleSeconds: Double = 1.5, compressedAccumulationSeconds: Double = 60,
        maximumHeldPages: UInt64 = 1 << 22, runJoinSeconds: Double = 0.25, reorderSeconds: Double = 1
    ) {
        self.reorderSeconds = reorderSeconds
        self.settleSeconds = settleSeconds
        self.compressedAccumulationSeconds = compressedAccumulationSeconds
        self.maximumHeldPages = maximumHeldPages
        self.runJoinSeconds = runJoinSeconds
    }
}
