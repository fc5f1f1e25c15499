import Glibc
import Synchronization

/// Edits from processes that do not hold the ledger's lock: `duet scrub` and `duet send` verify
/// data while `duet watch` is the ledger's one writer. Each submission is a small file in
/// `<dir>/inbox/`, written whole (temporary name, fsync, rename, directory fsync) in the journal's
/// format, so a reader sees it complete or not at all.
///
/// The writer ingests the inbox when it opens the ledger and on every `flush`: it applies the
/// records, journals and fsyncs them, and only then unlinks the files. A crash in between makes it
/// apply them a second time, which changes nothing (a credit of a range already credited with the
/// same generation and time is a no-op). Read-only opens apply pending submissions without removing
/// them, so every reader sees the same ledger.
///
/// Only credits and completed scrubs are submitted. A credit that arrives after btrfs wrote its
/// range anew is harmless: it names the old extent's generation, and `validCredits`, the scrub's
/// generation match and `revalidate` ignore it.
enum LedgerInbox {
    static let directoryName = "inbox"
    /// Submissions name themselves after this prefix; anything else in the directory is ignored.
    static let filePrefix = "edits-"

    static func path(in directory: String) -> String { directory + "/" + directoryName }

    /// Writes `records` as one submission. The state directory is created if needed.
    static func submit(
        _ records: [LedgerJournal.Record], directory: String, fileSystem: FileSystemID,
        sectorSize: UInt64
    ) throws(LedgerError) {
        guard !records.isEmpty else { return }
        try LedgerFiles.makeStateDirectory(directory)
        let inbox = path(in: directory)
        try LedgerFiles.makeStateDirectory(inbox)
        var writer = LedgerBytesWriter()
        writer.append(contentsOf: LedgerJournal.encodeHeader(.init(epoch: 0, fileSystem: fileSystem, sectorSize: UInt32(sectorSize))))
        for record in records { LedgerJournal.encode(record, into: &writer) }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        // Names sort by submission time, so the writer applies them in order.
        let name =
            filePrefix + padded(UInt64(now.tv_sec), 20) + padded(UInt64(now.tv_nsec), 9)
            + "-\(getpid())-\(nextSequence())"
        try LedgerFiles.replaceAtomically(directory: inbox, name: name, with: writer.bytes)
    }

    /// Pending submissions for `fileSystem`, oldest first: (file name, records). Files of another
    /// file system or sector size, or with an unreadable header, are reported as `foreign` so the
    /// writer can move them aside instead of retrying them forever.
    static func pending(directory: String, fileSystem: FileSystemID, sectorSize: UInt64) -> (
        valid: [(String, [LedgerJournal.Record])], foreign: [String]
    ) {
        let inbox = path(in: directory)
        guard let handle = opendir(inbox) else { return ([], []) }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name.hasPrefix(filePrefix) { names.append(name) }
        }
        var valid: [(String, [LedgerJournal.Record])] = []
        var foreign: [String] = []
        for name in names.sorted() {
            // A file removed by the writer between listing and reading is simply gone.
            guard let bytes = try? LedgerFiles.read(inbox + "/" + name) else { continue }
            let contents = LedgerJournal.read(bytes)
            guard let header = contents.header, header.fileSystem == fileSystem, UInt64(header.sectorSize) == sectorSize else {
                foreign.append(name)
                continue
            }
            valid.append((name, contents.records))
        }
        return (valid, foreign)
    }

    /// Removes ingested submissions (after the journal holding their records was fsync'd).
    static func remove(_ names: [String], directory: String) {
        let inbox = path(in: directory)
        for name in names { unlink(inbox + "/" + name) }
    }

    /// Moves an unusable submission aside (kept for inspection, never applied).
    static func quarantine(_ name: String, directory: String) {
        let inbox = path(in: directory)
        rename(inbox + "/" + name, inbox + "/rejected-" + name)
    }

    private static func padded(_ value: UInt64, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    private static let sequence = Mutex<UInt64>(0)

    private static func nextSequence() -> UInt64 {
        sequence.withLock { value in
            value += 1
            return value
        }
    }
}
