import Glibc
import Synchronization

/// What has been verified on one btrfs file system, when, and at which extent generation:
/// the memory that lets `duet scrub` skip work that foreground reads or an earlier scrub
/// already did. Durable under `/var/lib/duet/<fsid>/` (mode 0700), crash-safe, compact.
///
/// The credit rule, which every writer must follow (the ledger cannot check it):
/// - Credit a range only when a clean data page was read from disk in a single-copy chunk
///   (SINGLE or RAID0 profile) and the read succeeded: btrfs verified its checksum on the way
///   in. For DUP/RAID1/RAID10/RAID1C3/4 a read verified one mirror and we cannot know which.
/// - Never credit a page that was added for a write (it never came from disk), nor data
///   without checksums (nodatasum), nor pages that did not come from disk (holes, prealloc).
/// - Void the credit of logical ranges btrfs writes anew (`.extentWritten`) and of freed extents.
/// - Tree blocks read through the btree inode are credited the same way: btrfs checks each
///   header checksum, bytenr and generation on read.
/// - As a backstop, a credit is void when the extent at its address now has another
///   generation (`validCredits`, `revalidate`), so a ledger kept while no watcher ran, or that
///   lost a record, never hides new data.
///
/// Durability: edits go to an append-only journal of fixed-size records, each with its own
/// CRC32C, written and fsync'd by `flush`. Kill -9 or power loss leaves at worst a torn tail,
/// which loading drops (only unflushed credits are lost, and losing credit is always safe).
/// `compact` rewrites the whole ledger as a snapshot (temporary file, fsync, rename, directory
/// fsync) and starts a new journal with the next epoch; a journal whose epoch predates the
/// snapshot's is a leftover of a crash during compaction and is discarded.
///
/// Thread-safe; one writer process per file system (an `flock` on `<dir>/lock`). Other processes
/// submit their verifications through the inbox (`LedgerRecorder`, `LedgerInbox`), which the
/// writer applies on open and on every `flush`, and every reader applies on open.
public final class Ledger: Sendable {
    /// `/var/lib/duet`, or `$DUET_STATE_ROOT` when set (containers, tests, a second instance).
    public static var defaultStateRoot: String {
        if let root = getenv("DUET_STATE_ROOT"), root.pointee != 0 { return String(cString: root) }
        return "/var/lib/duet"
    }

    public static func defaultDirectory(for fileSystem: FileSystemID) -> String {
        defaultStateRoot + "/" + fileSystem.description
    }

    public let fileSystem: FileSystemID
    public let directory: String
    public let options: LedgerOptions
    /// What opening found on disk: torn tails dropped, damage skipped, whether to revalidate.
    public let loadReport: LedgerLoadReport
    private let state: Mutex<State>
    private let sectorShift: UInt64

    private struct State: Sendable {
        var map: LedgerMap
        var epoch: UInt64
        var lastCompletePass: UInt64?
        var journalFD: Int32 = -1
        var lockFD: Int32 = -1
        /// Bytes of the journal on disk that are known good: where the next append goes.
        var journalLength = 0
        var buffer = LedgerBytesWriter()
        var bufferedRecords = 0
        /// A background write (buffer full) failed; `flush` retries and reports.
        var writeError: LedgerError?
        /// A compaction wrote its snapshot but could not start the new journal: appending to the
        /// old one would be wasted (its epoch is now stale), so the next write starts it first.
        var journalNeedsReset = false
        var snapshotBytes = 0
    }

    private var snapshotPath: String { directory + "/snapshot" }
    private var journalPath: String { directory + "/journal" }

    // MARK: Opening

    /// Opens (creating if needed) the ledger of `fileSystem` under `directory`, by default
    /// `/var/lib/duet/<fsid>`, loading the snapshot and replaying the journal.
    public static func open(
        fileSystem: FileSystemID, directory: String? = nil,
        options: LedgerOptions = LedgerOptions()
    ) throws(LedgerError) -> Ledger {
        try Ledger(fileSystem: fileSystem, directory: directory ?? defaultDirectory(for: fileSystem), options: options)
    }

    private init(fileSystem: FileSystemID, directory: String, options: LedgerOptions) throws(LedgerError) {
        self.fileSystem = fileSystem
        self.directory = directory
        self.options = options
        self.sectorShift = UInt64(options.sectorSize.trailingZeroBitCount)
        var state = State(map: LedgerMap(timeResolution: options.timeResolution), epoch: 0)
        var report = LedgerLoadReport()
        if !options.readOnly {
            try LedgerFiles.makeStateDirectory(directory)
            state.lockFD = try LedgerFiles.lock(directory + "/lock")
            // Leftovers of a crash while replacing a file; the file they would have replaced is intact.
            LedgerFiles.removeLeftoverTemporaries(of: "snapshot", in: directory)
            LedgerFiles.removeLeftoverTemporaries(of: "journal", in: directory)
            // The fixed temporary names of earlier versions (unlink never follows a link).
            unlink(directory + "/snapshot.tmp")
            unlink(directory + "/journal.tmp")
        }
        do {
            try Self.loadSnapshot(
                into: &state, report: &report, path: directory + "/snapshot",
                fileSystem: fileSystem, options: options)
            let replayed = try Self.replayJournal(
                into: &state, report: &report, path: directory + "/journal",
                fileSystem: fileSystem, options: options, shift: sectorShift)
            if !options.readOnly {
                if replayed {
                    state.journalFD = try LedgerFiles.openForAppend(directory + "/journal")
                    if report.tornTailBytes > 0 {
                        // Appends must start on a record boundary, or every later record would be misread.
                        try LedgerFiles.truncate(state.journalFD, to: state.journalLength, path: directory + "/journal")
                        try LedgerFiles.sync(state.journalFD, path: directory + "/journal")
                    }
                } else {
                    if report.journalHeaderUnreadable {
                        // Keep the damaged journal for inspection rather than overwrite it.
                        rename(directory + "/journal", directory + "/journal.damaged")
                    }
                    try Self.startJournal(&state, directory: directory, fileSystem: fileSystem, options: options)
                }
            }
            // Edits other processes submitted while no writer (or another writer) ran.
            let ingested = Self.applyInbox(
                to: &state, directory: directory, fileSystem: fileSystem,
                options: options, shift: sectorShift, journal: !options.readOnly)
            report.inboxRecordsApplied = ingested.records
            if !options.readOnly, !ingested.files.isEmpty {
                try Self.writeBuffer(&state, directory: directory, fileSystem: fileSystem, options: options, sync: true)
                LedgerInbox.remove(ingested.files, directory: directory)
            }
        } catch {
            if state.lockFD >= 0 { close(state.lockFD) }
            if state.journalFD >= 0 { close(state.journalFD) }
            throw error
        }
        self.loadReport = report
        self.state = Mutex(state)
    }

    deinit {
        state.withLock { state in
            if state.journalFD >= 0 { close(state.journalFD) }
            if state.lockFD >= 0 { close(state.lockFD) }
        }
    }

    private static func loadSnapshot(
        into state: inout State, report: inout LedgerLoadReport, path: String,
        fileSystem: FileSystemID, options: LedgerOptions
    ) throws(LedgerError) {
        guard let bytes = try LedgerFiles.read(path) else { return }
        let snapshot: LedgerSnapshot
        do {
            snapshot = try LedgerSnapshot.decode(bytes)
        } catch {
            throw .corruptSnapshot(path: path, reason: error.reason)
        }
        guard snapshot.fileSystem == fileSystem else {
            throw .mismatch(path: path, reason: "it belongs to file system \(snapshot.fileSystem)")
        }
        guard UInt64(snapshot.sectorSize) == options.sectorSize else {
            throw .mismatch(path: path, reason: "sector size \(snapshot.sectorSize), expected \(options.sectorSize)")
        }
        for entry in snapshot.entries { state.map.appendLoaded(entry) }
        state.epoch = snapshot.journalEpoch
        state.lastCompletePass = snapshot.lastCompletePass
        state.map.completionBoundary = snapshot.lastCompletePass ?? 0
        state.snapshotBytes = bytes.count
        report.snapshotEntries = snapshot.entries.count
    }

    /// Replays the journal if it continues the snapshot; returns whether appends can go on in it.
    private static func replayJournal(
        into state: inout State, report: inout LedgerLoadReport, path: String,
        fileSystem: FileSystemID, options: LedgerOptions, shift: UInt64
    ) throws(LedgerError) -> Bool {
        guard let bytes = try LedgerFiles.read(path) else { return false }
        let contents = LedgerJournal.read(bytes)
        guard let header = contents.header else {
            report.journalHeaderUnreadable = true
            report.unreadableJournalRecords = max(0, bytes.count - LedgerJournal.headerSize) / LedgerJournal.recordSize
            return false
        }
        guard header.fileSystem == fileSystem, UInt64(header.sectorSize) == options.sectorSize else {
            throw .mismatch(path: path, reason: "journal of file system \(header.fileSystem), sector size \(header.sectorSize)")
        }
        if header.epoch < state.epoch {
            report.staleJournalDiscarded = true
            return false
        }
        // A journal newer than the snapshot means the snapshot was removed by hand: replaying onto
        // less than its base only loses credit, which is safe.
        state.epoch = header.epoch
        for record in contents.records { apply(record, to: &state, shift: shift) }
        state.journalLength = contents.validLength
        report.journalRecordsReplayed = contents.records.count
        report.tornTailBytes = contents.tornTailBytes
        report.corruptRecords = contents.corruptRecords
        return true
    }

    private static func startJournal(
        _ state: inout State, directory: String, fileSystem: FileSystemID,
        options: LedgerOptions
    ) throws(LedgerError) {
        let header = LedgerJournal.Header(epoch: state.epoch, fileSystem: fileSystem, sectorSize: UInt32(options.sectorSize))
        try LedgerFiles.replaceAtomically(directory: directory, name: "journal", with: LedgerJournal.encodeHeader(header))
        let fd = try LedgerFiles.openForAppend(directory + "/journal")
        if state.journalFD >= 0 { close(state.journalFD) }
        state.journalFD = fd
        state.journalLength = LedgerJournal.headerSize
        state.journalNeedsReset = false
    }

    /// Applies pending inbox submissions (see `LedgerInbox`), journaling them when `journal`;
    /// returns the files applied (to remove once the journal is fsync'd) and the record count.
    private static func applyInbox(
        to state: inout State, directory: String, fileSystem: FileSystemID,
        options: LedgerOptions, shift: UInt64, journal: Bool
    ) -> (files: [String], records: Int) {
        let pending = LedgerInbox.pending(directory: directory, fileSystem: fileSystem, sectorSize: options.sectorSize)
        if journal {
            for name in pending.foreign { LedgerInbox.quarantine(name, directory: directory) }
        }
        var records = 0
        for (_, submitted) in pending.valid {
            for record in submitted where record.kind != .void {
                apply(record, to: &state, shift: shift)
                if journal { journalApplied(record, to: &state, shift: shift) }
                records += 1
            }
        }
        return (pending.valid.map(\.0), records)
    }

    /// Appends the journal record of an edit already applied to the map, in the form `credit`
    /// and `recordCompletePass` write (credits cut to whole sectors).
    private static func journalApplied(_ record: LedgerJournal.Record, to state: inout State, shift: UInt64) {
        var stored = record
        if record.kind == .credit {
            let (end, overflow) = record.start.addingReportingOverflow(record.length)
            let sectors = inward(record.start..<(overflow ? UInt64.max : end), shift)
            guard !sectors.isEmpty else { return }
            stored.start = sectors.lowerBound << shift
            stored.length = (sectors.upperBound - sectors.lowerBound) << shift
        }
        LedgerJournal.encode(stored, into: &state.buffer)
        state.bufferedRecords += 1
    }

    private static func apply(_ record: LedgerJournal.Record, to state: inout State, shift: UInt64) {
        let (end, overflow) = record.start.addingReportingOverflow(record.length)
        let bytes = record.start..<(overflow ? UInt64.max : end)
        switch record.kind {
        case .credit: state.map.credit(inward(bytes, shift), generation: record.generation, time: record.time)
        case .void: state.map.void(outward(bytes, shift))
        case .passCompleted:
            state.lastCompletePass = record.time
            state.map.completionBoundary = record.time
        }
    }

    // MARK: Edits

    /// Records that `range` (logical bytes) was read from disk and verified at `time` (seconds
    /// since the epoch) while its extent had `generation`. Only whole sectors inside `range` are
    /// credited. Follow the credit rule in the type's documentation. Durable after `flush`.
    public func credit(range: Range<UInt64>, generation: UInt64, time: UInt64) {
        let sectors = inward(range)
        guard !sectors.isEmpty else { return }
        state.withLock { state in
            state.map.credit(sectors, generation: generation, time: time)
            append(
                .init(
                    kind: .credit, start: sectors.lowerBound << sectorShift,
                    length: (sectors.upperBound - sectors.lowerBound) << sectorShift,
                    generation: generation, time: time), to: &state)
        }
    }

    /// Clears the credit of `range` (logical bytes), every sector it touches: btrfs wrote there anew.
    public func void(range: Range<UInt64>) {
        guard !range.isEmpty else { return }
        state.withLock { state in
            state.map.void(outward(range))
            append(.init(kind: .void, start: range.lowerBound, length: range.upperBound - range.lowerBound), to: &state)
        }
    }

    /// Records that a task verified the whole file system in one pass that completed at `time`
    /// (today only `duet scrub` does); credits from before it and after it never share an entry.
    public func recordCompletePass(time: UInt64) {
        state.withLock { state in
            state.lastCompletePass = time
            state.map.completionBoundary = time
            append(.init(kind: .passCompleted, time: time), to: &state)
        }
    }

    /// When the last complete pass (see `recordCompletePass`) was recorded, if ever.
    public var lastCompletePass: UInt64? { state.withLock { $0.lastCompletePass } }

    private func append(_ record: LedgerJournal.Record, to state: inout State) {
        LedgerJournal.encode(record, into: &state.buffer)
        state.bufferedRecords += 1
        if state.bufferedRecords >= options.bufferedRecordLimit, !options.readOnly {
            do {
                try writeBuffer(&state, sync: false)
            } catch {
                state.writeError = error
            }
        }
    }

    // MARK: Queries

    /// The credits inside `range` (logical bytes) verified at or after `since`, clipped to
    /// `range`, ascending, as recorded (not checked against current generations).
    public func credits(in range: Range<UInt64> = 0..<UInt64.max, since: UInt64 = 0) -> [LedgerCredit] {
        groupedCredits(in: range, since: since).flatMap(\.credits)
    }

    /// Whether every byte of `range` is credited at or after `since` (as recorded).
    public func isCredited(_ range: Range<UInt64>, since: UInt64 = 0) -> Bool {
        guard !range.isEmpty else { return true }
        let covered = credits(in: range, since: since).reduce(UInt64(0)) { $0 + ($1.range.upperBound - $1.range.lowerBound) }
        return covered == range.upperBound - range.lowerBound
    }

    /// `credits(in:since:)` keeping only the parts whose extent still has the credited generation.
    public func validCredits(
        in range: Range<UInt64> = 0..<UInt64.max, since: UInt64 = 0,
        lookup: some ExtentGenerationLookup
    ) throws -> [LedgerCredit] {
        var out: [LedgerCredit] = []
        for group in groupedCredits(in: range, since: since) {
            let valid = try matchingExtents(group.span, generation: group.generation, lookup: lookup)
            for credit in group.credits {
                for part in valid.intersection(credit.range) {
                    out.append(LedgerCredit(range: part, generation: credit.generation, time: credit.time))
                }
            }
        }
        return out
    }

    /// Voids (and journals the void of) every credit in `range` whose extent no longer has the
    /// credited generation or no longer exists. Returns the bytes of credit voided. Run it after a
    /// load that `needsRevalidation`, and before a scrub trusts a ledger kept while no watcher ran.
    @discardableResult
    public func revalidate(in range: Range<UInt64> = 0..<UInt64.max, using lookup: some ExtentGenerationLookup) throws -> UInt64 {
        var voided: UInt64 = 0
        for group in groupedCredits(in: range, since: 0) {
            let valid = try matchingExtents(group.span, generation: group.generation, lookup: lookup)
            for stale in valid.gaps(in: group.span) {
                voided += credits(in: stale).reduce(UInt64(0)) { $0 + ($1.range.upperBound - $1.range.lowerBound) }
                void(range: stale)
            }
        }
        return voided
    }

    private struct CreditGroup {
        var span: Range<UInt64>
        var generation: UInt64
        var credits: [LedgerCredit]
    }

    /// Credits per ledger entry (one generation each), so a lookup runs once per entry, not per run.
    private func groupedCredits(in range: Range<UInt64>, since: UInt64) -> [CreditGroup] {
        guard !range.isEmpty else { return [] }
        let shift = sectorShift
        return state.withLock { state in
            state.map.entries(overlapping: outward(range)).compactMap { entry -> CreditGroup? in
                guard entry.time >= since else { return nil }
                let credits = entry.runs.compactMap { run -> LedgerCredit? in
                    let lower = Swift.max(run.lowerBound << shift, range.lowerBound)
                    let upper = Swift.min(run.upperBound << shift, range.upperBound)
                    return lower < upper ? LedgerCredit(range: lower..<upper, generation: entry.generation, time: entry.time) : nil
                }
                guard let first = credits.first, let last = credits.last else { return nil }
                return CreditGroup(span: first.range.lowerBound..<last.range.upperBound, generation: entry.generation, credits: credits)
            }
        }
    }

    private func matchingExtents(_ span: Range<UInt64>, generation: UInt64, lookup: some ExtentGenerationLookup) throws -> ExtentSet {
        var valid = ExtentSet()
        for extent in try lookup.extents(overlapping: span) where extent.generation == generation {
            valid.insert(Swift.max(extent.range.lowerBound, span.lowerBound)..<Swift.min(extent.range.upperBound, span.upperBound))
        }
        return valid
    }

    // MARK: Durability

    /// Writes and fsyncs every edit so far; then compacts if the journal has grown past
    /// `LedgerOptions.compactionJournalBytes` and past the snapshot's size.
    public func flush() throws(LedgerError) {
        try state.withLock { (state: inout State) throws(LedgerError) in
            guard !options.readOnly else { throw LedgerError.readOnly(path: directory) }
            let ingested = Self.applyInbox(
                to: &state, directory: directory, fileSystem: fileSystem,
                options: options, shift: sectorShift, journal: true)
            try writeBuffer(&state, sync: true)
            LedgerInbox.remove(ingested.files, directory: directory)
            state.writeError = nil
            if state.journalLength > Swift.max(options.compactionJournalBytes, state.snapshotBytes) {
                try compact(&state)
            }
        }
    }

    /// Rewrites the ledger as a snapshot and starts an empty journal.
    public func compact() throws(LedgerError) {
        try state.withLock { (state: inout State) throws(LedgerError) in
            guard !options.readOnly else { throw LedgerError.readOnly(path: directory) }
            try compact(&state)
        }
    }

    /// The size in bytes a snapshot of the ledger would have now.
    public func encodedSnapshotSize() -> Int {
        state.withLock { snapshot(of: $0, epoch: $0.epoch).encoded().count }
    }

    public var statistics: LedgerStatistics {
        state.withLock { state in
            LedgerStatistics(
                entries: state.map.entries.count,
                fragmentedEntries: state.map.entries.reduce(0) { $0 + ($1.bitmap == nil ? 0 : 1) },
                creditedBytes: state.map.creditedSectors << sectorShift,
                journalBytes: state.journalLength, snapshotBytes: state.snapshotBytes,
                bufferedRecords: state.bufferedRecords, epoch: state.epoch)
        }
    }

    private func snapshot(of state: State, epoch: UInt64) -> LedgerSnapshot {
        LedgerSnapshot(
            fileSystem: fileSystem, sectorSize: UInt32(options.sectorSize), journalEpoch: epoch,
            lastCompletePass: state.lastCompletePass, entries: Array(state.map.entries))
    }

    private func compact(_ state: inout State) throws(LedgerError) {
        let bytes = snapshot(of: state, epoch: state.epoch + 1).encoded()
        try LedgerFiles.replaceAtomically(directory: directory, name: "snapshot", with: bytes)
        // The snapshot holds every edit, buffered ones included; the old journal is now stale.
        state.epoch += 1
        state.snapshotBytes = bytes.count
        state.buffer = LedgerBytesWriter()
        state.bufferedRecords = 0
        state.journalNeedsReset = true
        try Self.startJournal(&state, directory: directory, fileSystem: fileSystem, options: options)
    }

    private func writeBuffer(_ state: inout State, sync: Bool) throws(LedgerError) {
        try Self.writeBuffer(&state, directory: directory, fileSystem: fileSystem, options: options, sync: sync)
    }

    private static func writeBuffer(
        _ state: inout State, directory: String, fileSystem: FileSystemID,
        options: LedgerOptions, sync: Bool
    ) throws(LedgerError) {
        let journalPath = directory + "/journal"
        if state.journalNeedsReset {
            try startJournal(&state, directory: directory, fileSystem: fileSystem, options: options)
        }
        if !state.buffer.bytes.isEmpty {
            do {
                try LedgerFiles.writeAll(state.journalFD, state.buffer.bytes, path: journalPath)
            } catch {
                // Cut a partial append back to the last whole record, so later appends stay aligned.
                // If cutting back fails too, the write's error is the one to report.
                try? LedgerFiles.truncate(state.journalFD, to: state.journalLength, path: journalPath)
                throw error
            }
            state.journalLength += state.buffer.bytes.count
            state.buffer = LedgerBytesWriter()
            state.bufferedRecords = 0
        }
        if sync { try LedgerFiles.sync(state.journalFD, path: journalPath) }
    }

    // MARK: Units

    private func inward(_ bytes: Range<UInt64>) -> Range<UInt64> { Self.inward(bytes, sectorShift) }
    private func outward(_ bytes: Range<UInt64>) -> Range<UInt64> { Self.outward(bytes, sectorShift) }

    /// The sectors wholly inside `bytes`.
    private static func inward(_ bytes: Range<UInt64>, _ shift: UInt64) -> Range<UInt64> {
        let mask: UInt64 = (1 << shift) - 1
        let lower = (bytes.lowerBound >> shift) + (bytes.lowerBound & mask == 0 ? 0 : 1)
        let upper = bytes.upperBound >> shift
        return lower < upper ? lower..<upper : lower..<lower
    }

    /// The sectors `bytes` touches.
    private static func outward(_ bytes: Range<UInt64>, _ shift: UInt64) -> Range<UInt64> {
        let mask: UInt64 = (1 << shift) - 1
        return (bytes.lowerBound >> shift)..<(bytes.upperBound >> shift) + (bytes.upperBound & mask == 0 ? 0 : 1)
    }
}
