/// Ledger settings with defaults for a daemon.
public struct LedgerOptions: Sendable {
    /// The unit of credit: btrfs's sector size (4 KiB where the page size is 4 KiB). A credit
    /// covers only whole sectors inside its range; a void clears every sector it touches.
    public var sectorSize: UInt64
    /// Credits of one extent whose times are at most this many seconds apart share an entry,
    /// which keeps the older time. Kept small (a second): a coarser entry would date a foreground
    /// read that follows a scrub back to the scrub, and the next default scrub (which skips only
    /// what was verified after the last complete scrub) would read that data again.
    public var timeResolution: UInt64
    /// `flush` compacts when the journal is larger than this and larger than the snapshot, so
    /// replay at start stays short and the disk footprint stays near the snapshot size.
    public var compactionJournalBytes: Int
    /// Records buffered in memory before they are written (not fsync'd) without a `flush`.
    public var bufferedRecordLimit: Int
    /// Read an existing ledger without the lock and without writing (for `duet status`); a torn
    /// tail is ignored, not truncated, and `flush`/`compact` throw `LedgerError.readOnly`.
    public var readOnly: Bool

    public init(
        sectorSize: UInt64 = 4096, timeResolution: UInt64 = 1, compactionJournalBytes: Int = 8 << 20,
        bufferedRecordLimit: Int = 4096, readOnly: Bool = false
    ) {
        precondition(sectorSize.nonzeroBitCount == 1 && sectorSize <= UInt64(UInt32.max), "sector size is a power of two")
        self.sectorSize = sectorSize
        self.timeResolution = timeResolution
        self.compactionJournalBytes = compactionJournalBytes
        self.bufferedRecordLimit = bufferedRecordLimit
        self.readOnly = readOnly
    }
}

/// What opening a ledger found on disk.
public struct LedgerLoadReport: Sendable, Equatable {
    public var snapshotEntries = 0
    public var journalRecordsReplayed = 0
    /// Bytes after the last valid journal record: an append cut short by a crash, dropped.
    public var tornTailBytes = 0
    /// Invalid journal records followed by valid ones: damage rather than a crash. They are
    /// skipped; since a lost record may have been a void, `needsRevalidation` is set.
    public var corruptRecords = 0
    /// The journal predates the snapshot (a crash during compaction) and was discarded: its
    /// records are already in the snapshot.
    public var staleJournalDiscarded = false
    /// The journal's header was unreadable, so none of its records could be replayed.
    public var journalHeaderUnreadable = false
    /// With `journalHeaderUnreadable`: about how many records the journal held.
    public var unreadableJournalRecords = 0
    /// Records other processes submitted through the inbox (`LedgerRecorder`) that opening applied.
    public var inboxRecordsApplied = 0
    /// Some edit may have been lost: check credits against current extent generations with
    /// `Ledger.revalidate(using:)` before trusting them (the generation check voids exactly what a
    /// lost void record would have, since btrfs writes anew only into new extents).
    public var needsRevalidation: Bool { corruptRecords > 0 || journalHeaderUnreadable }

    /// A sentence for the operator when opening dropped edits (nil when nothing was lost). Lost
    /// credits are safe, only work skipped no longer, but an operator should know the journal was
    /// damaged or cut short.
    public func damageWarning(journal path: String) -> String? {
        var parts: [String] = []
        if journalHeaderUnreadable {
            parts.append(
                "its header is unreadable, so its \(unreadableJournalRecords) records were dropped (the file is kept as journal.damaged)")
        }
        if corruptRecords > 0 { parts.append("\(corruptRecords) damaged records were dropped") }
        if tornTailBytes > 0 { parts.append("a record cut short by a crash (\(tornTailBytes) bytes) was dropped") }
        guard !parts.isEmpty else { return nil }
        return "ledger journal \(path): " + parts.joined(separator: "; ")
            + ": those credits are lost (safe: the scrub verifies that data again)"
    }

    public init() {}
}

/// Sizes, for `duet status` and tests.
public struct LedgerStatistics: Sendable, Equatable {
    public var entries: Int
    public var fragmentedEntries: Int
    public var creditedBytes: UInt64
    public var journalBytes: Int
    public var snapshotBytes: Int
    public var bufferedRecords: Int
    public var epoch: UInt64
}
