import Synchronization

/// Records verifications into a file system's ledger from a maintenance task (`duet scrub`,
/// `duet send`) whether or not `duet watch` holds the ledger: with the lock free it opens the
/// ledger and writes it; with the lock taken it buffers the edits and submits them to the inbox on
/// `flush`, and the watcher applies them within its next flush (a second). Either way the caller
/// follows the credit rule in `Ledger`.
public final class LedgerRecorder: Sendable {
    public let fileSystem: FileSystemID
    public let directory: String
    private let options: LedgerOptions
    /// The ledger when this process holds its lock; nil while another process writes it.
    public let ledger: Ledger?
    private let pending = Mutex<[LedgerJournal.Record]>([])

    /// Opens the ledger for writing if its lock is free. Other errors (a damaged or foreign
    /// ledger) are thrown: the caller decides whether to go on without recording.
    public init(fileSystem: FileSystemID, directory: String? = nil, options: LedgerOptions = LedgerOptions()) throws(LedgerError) {
        self.fileSystem = fileSystem
        self.directory = directory ?? Ledger.defaultDirectory(for: fileSystem)
        self.options = options
        do {
            ledger = try Ledger.open(fileSystem: fileSystem, directory: self.directory, options: options)
        } catch .locked {
            ledger = nil
        }
    }

    /// Whether edits go to the inbox (another process holds the ledger).
    public var submitsToInbox: Bool { ledger == nil }

    /// See `Ledger.credit(range:generation:time:)`.
    public func credit(range: Range<UInt64>, generation: UInt64, time: UInt64) {
        guard !range.isEmpty else { return }
        if let ledger {
            ledger.credit(range: range, generation: generation, time: time)
        } else {
            pending.withLock {
                $0.append(
                    .init(
                        kind: .credit, start: range.lowerBound, length: UInt64(range.count),
                        generation: generation, time: time))
            }
        }
    }

    /// See `Ledger.recordCompletePass(time:)`.
    public func recordCompletePass(time: UInt64) {
        if let ledger {
            ledger.recordCompletePass(time: time)
        } else {
            pending.withLock { $0.append(.init(kind: .passCompleted, time: time)) }
        }
    }

    /// Makes every edit so far durable: the ledger's `flush`, or one inbox submission.
    public func flush() throws(LedgerError) {
        if let ledger {
            try ledger.flush()
            return
        }
        let records = pending.withLock { records in
            defer { records.removeAll() }
            return records
        }
        do {
            try LedgerInbox.submit(records, directory: directory, fileSystem: fileSystem, sectorSize: options.sectorSize)
        } catch {
            pending.withLock { $0.insert(contentsOf: records, at: 0) }
            throw error
        }
    }
}
