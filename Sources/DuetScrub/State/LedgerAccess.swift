import DuetFS
import Foundation
import Synchronization

/// The scrub's view of the ledger. When it can take the ledger's lock it reads and writes the
/// ledger itself. While `duet watch` holds the lock, the scrub reads a copy that it reloads every
/// second (so credits the watcher records during the scrub still take effect) and submits its own
/// verifications through the inbox (`LedgerRecorder`), which the watcher applies.
final class LedgerAccess: Sendable {
    private let fileSystem: FileSystemID
    private let directory: String
    private let recorder: LedgerRecorder?
    /// Why the scrub records nothing in the ledger (the ledger could not be opened), for a warning.
    private let recorderFailure: String?
    /// The read-only copy while another process holds the ledger, and when it was loaded.
    private let copy = Mutex<(ledger: Ledger?, loadedAt: Date)>((nil, .distantPast))
    static let reloadInterval: TimeInterval = 1

    init(fileSystem: FileSystemID, directory: String) {
        self.fileSystem = fileSystem
        self.directory = directory
        // The ledger only lets work be skipped: a scrub without it verifies everything and still
        // reports every error, so it goes on, with a warning.
        do {
            recorder = try LedgerRecorder(fileSystem: fileSystem, directory: directory)
            recorderFailure = nil
        } catch {
            recorder = nil
            recorderFailure = "\(error)"
        }
        if recorder?.ledger == nil { copy.withLock { Self.reload(&$0, fileSystem: fileSystem, directory: directory) } }
    }

    /// A ledger that cannot be read gives no credits: the scrub reads what it would have skipped,
    /// which costs time, never an error found.
    private static func reload(_ copy: inout (ledger: Ledger?, loadedAt: Date), fileSystem: FileSystemID, directory: String) {
        copy.ledger = try? Ledger.open(fileSystem: fileSystem, directory: directory, options: LedgerOptions(readOnly: true))
        copy.loadedAt = Date()
    }

    private func current() -> Ledger? {
        if let own = recorder?.ledger { return own }
        return copy.withLock { copy in
            if Date().timeIntervalSince(copy.loadedAt) > Self.reloadInterval {
                Self.reload(&copy, fileSystem: fileSystem, directory: directory)
            }
            return copy.ledger
        }
    }

    var lastCompletePass: UInt64? { current()?.lastCompletePass }

    /// What opening the ledger dropped (a damaged or cut-short journal), for a warning.
    var openWarning: String? {
        if let recorderFailure {
            return "the ledger in \(directory) could not be opened (\(recorderFailure)): this scrub skips nothing and records nothing"
        }
        guard let ledger = recorder?.ledger ?? copy.withLock({ $0.ledger }) else { return nil }
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

    /// Writes out the credits recorded so far. A failure loses credits (a later scrub reads that
    /// data again), not findings; the caller warns.
    func flush() throws {
        try recorder?.flush()
    }
}
