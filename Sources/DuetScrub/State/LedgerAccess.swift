import DuetFS
import Foundation

/// The scrub's view of the ledger. It writes its own verifications when it can take the
/// ledger's lock; while `duet watch` holds it, the scrub reads a copy that it reloads every
/// second, so credits the watcher records during the scrub still take effect, and its own
/// verifications are not recorded (the watcher is the ledger's one writer).
final class LedgerAccess: @unchecked Sendable {
    private let fileSystem: FileSystemID
    private let directory: String
    private let lock = NSLock()
    private var ledger: Ledger?
    private var writable = false
    private var loadedAt = Date.distantPast
    static let reloadInterval: TimeInterval = 1

    init(fileSystem: FileSystemID, directory: String) {
        self.fileSystem = fileSystem
        self.directory = directory
        if let opened = try? Ledger.open(fileSystem: fileSystem, directory: directory) {
            ledger = opened
            writable = true
        } else {
            reload()
        }
    }

    private func reload() {
        ledger = try? Ledger.open(fileSystem: fileSystem, directory: directory, options: LedgerOptions(readOnly: true))
        loadedAt = Date()
    }

    private func current() -> Ledger? {
        lock.lock()
        defer { lock.unlock() }
        if !writable, Date().timeIntervalSince(loadedAt) > Self.reloadInterval { reload() }
        return ledger
    }

    var lastCompleteScrub: UInt64? { current()?.lastCompleteScrub }

    /// Credited ranges in `range` verified since `since` at `generation`, sorted and merged.
    func credits(in range: Range<UInt64>, generation: UInt64, since: UInt64) -> [Range<UInt64>] {
        guard let ledger = current() else { return [] }
        var merged: [Range<UInt64>] = []
        for credit in ledger.credits(in: range, since: since) where credit.generation == generation {
            if let last = merged.last, last.upperBound >= credit.range.lowerBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, credit.range.upperBound)
            } else {
                merged.append(credit.range)
            }
        }
        return merged
    }

    func credit(_ range: Range<UInt64>, generation: UInt64) {
        guard writable, let ledger = current() else { return }
        ledger.credit(range: range, generation: generation, time: UInt64(Date().timeIntervalSince1970))
    }

    func recordCompleteScrub(time: UInt64) {
        guard writable, let ledger = current() else { return }
        ledger.recordCompleteScrub(time: time)
    }

    func flush() {
        guard writable, let ledger = current() else { return }
        try? ledger.flush()
    }
}
