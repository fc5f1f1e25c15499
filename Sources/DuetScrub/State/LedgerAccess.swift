import DuetFS
import Foundation

/// The scrub's view of the ledger. When it can take the ledger's lock it reads and writes the
/// ledger itself. While `duet watch` holds the lock, the scrub reads a copy that it reloads every
/// second (so credits the watcher records during the scrub still take effect) and submits its own
/// verifications through the inbox (`LedgerRecorder`), which the watcher applies.
final class LedgerAccess: @unchecked Sendable {
    private let fileSystem: FileSystemID
    private let directory: String
    private let lock = NSLock()
    private let recorder: LedgerRecorder?
    private var readCopy: Ledger?
    private var loadedAt = Date.distantPast
    static let reloadInterval: TimeInterval = 1

    init(fileSystem: FileSystemID, directory: String) {
        self.fileSystem = fileSystem
        self.directory = directory
        recorder = try? LedgerRecorder(fileSystem: fileSystem, directory: directory)
        if recorder?.ledger == nil { reload() }
    }

    private func reload() {
        readCopy = try? Ledger.open(fileSystem: fileSystem, directory: directory, options: LedgerOptions(readOnly: true))
        loadedAt = Date()
    }

    private func current() -> Ledger? {
        if let own = recorder?.ledger { return own }
        lock.lock()
        defer { lock.unlock() }
        if Date().timeIntervalSince(loadedAt) > Self.reloadInterval { reload() }
        return readCopy
    }

    var lastCompletePass: UInt64? { current()?.lastCompletePass }

    /// What opening the ledger dropped (a damaged or cut-short journal), for a warning.
    var openWarning: String? {
        guard let ledger = recorder?.ledger ?? readCopy else { return nil }
        return ledger.loadReport.damageWarning(journal: directory + "/journal")
    }

    /// Credited ranges in `range` verified since `since` at `generation`, sorted and merged.
    func credits(in range: Range<UInt64>, generation: UInt64, since: UInt64) -> [Range<UInt64>] {
        guard let ledger = current() else { return [] }
        return ExtentSet(ledger.credits(in: range, since: since).filter { $0.generation == generation }.map(\.range)).ranges
    }

    /// Bytes in `range` credited since `since` whose extent still has the credited generation,
    /// at most `generation` (data written after the plan is not the scrub's to skip). A lookup
    /// that fails counts nothing: the figure may fall short, never claim too much.
    func verifiedBytes(in range: Range<UInt64>, since: UInt64, through generation: UInt64, lookup: some ExtentGenerationLookup) -> UInt64 {
        guard let ledger = current(), let credits = try? ledger.validCredits(in: range, since: since, lookup: lookup) else { return 0 }
        return ExtentSet(credits.filter { $0.generation <= generation }.map(\.range)).count
    }

    func credit(_ range: Range<UInt64>, generation: UInt64) {
        recorder?.credit(range: range, generation: generation, time: UInt64(Date().timeIntervalSince1970))
    }

    func recordCompletePass(time: UInt64) {
        recorder?.recordCompletePass(time: time)
    }

    func flush() {
        try? recorder?.flush()
    }
}
