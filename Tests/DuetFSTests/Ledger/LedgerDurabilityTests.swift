import DuetTestSupport
import Foundation
import Testing

@testable import DuetFS

/// Crash safety. A process killed with SIGKILL leaves in the file exactly the write() calls that
/// completed (the page cache survives the process), so the journal holds a prefix of whole
/// flush batches; power loss can additionally leave a torn or zero-filled tail, or (on some file
/// systems) damaged blocks before later good ones. The tests below produce each of those states
/// byte for byte: a cut at every offset of the last record, garbage and zero tails, a damaged
/// middle record, and the crash windows inside a compaction. `LedgerKillTests` also SIGKILLs a
/// real writer process.
@Suite("Ledger durability")
struct LedgerDurabilityTests {
    private let recordSize = LedgerJournal.recordSize
    private let headerSize = LedgerJournal.headerSize

    /// Ten credits of distinct generations (so no two merge), then a flush.
    private func writeTenCredits(_ scratch: LedgerScratch) throws -> [LedgerCredit] {
        let ledger = try scratch.open()
        for index in UInt64(0)..<10 {
            ledger.credit(range: index * MiB..<index * MiB + 64 * 1024, generation: 100 + index, time: 1_000 + index)
        }
        try ledger.flush()
        return ledger.credits()
    }

    @Test("credits survive close and reopen")
    func roundTrip() throws {
        let scratch = LedgerScratch()
        let written = try writeTenCredits(scratch)
        #expect(written.count == 10)
        let reopened = try scratch.open()
        #expect(reopened.credits() == written)
        #expect(reopened.loadReport.journalRecordsReplayed == 10)
        #expect(reopened.loadReport.tornTailBytes == 0)
        #expect(!reopened.loadReport.needsRevalidation)
    }

    @Test("a journal cut at every byte of its last record loads the nine whole records, and appends stay aligned")
    func tornTailAtEveryOffset() throws {
        let source = LedgerScratch()
        let written = try writeTenCredits(source)
        let journal = source.bytes(source.journalPath)
        #expect(journal.count == headerSize + 10 * recordSize)
        for cut in 0..<recordSize {
            let scratch = LedgerScratch()
            try FileManager.default.createDirectory(atPath: scratch.directory, withIntermediateDirectories: true)
            scratch.write(Array(journal[..<(headerSize + 9 * recordSize + cut)]), to: scratch.journalPath)
            do {
                let ledger = try scratch.open()
                #expect(ledger.credits() == Array(written.prefix(9)), "cut at byte \(cut) of the last record")
                #expect(ledger.loadReport.tornTailBytes == cut)
                #expect(ledger.loadReport.corruptRecords == 0, "a torn tail is not damage")
                ledger.credit(range: 900 * MiB..<901 * MiB, generation: 7, time: 7)
                try ledger.flush()
            }
            let again = try scratch.open()
            #expect(again.credits().count == 10, "the append after recovery starts on a record boundary")
            #expect(again.loadReport.tornTailBytes == 0)
        }
    }

    @Test("garbage or zeros after the last record are dropped, not replayed")
    func garbageAndZeroTails() throws {
        for tail in [[UInt8](repeating: 0, count: 3 * 40), (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }] {
            let scratch = LedgerScratch()
            let written = try writeTenCredits(scratch)
            scratch.write(scratch.bytes(scratch.journalPath) + tail, to: scratch.journalPath)
            let ledger = try scratch.open()
            #expect(ledger.credits() == written)
            #expect(ledger.loadReport.tornTailBytes == tail.count)
            #expect(ledger.loadReport.corruptRecords == 0)
        }
    }

    @Test("a damaged middle record is skipped, counted, and asks for revalidation")
    func corruptMiddleRecord() throws {
        let scratch = LedgerScratch()
        let written = try writeTenCredits(scratch)
        var journal = scratch.bytes(scratch.journalPath)
        journal[headerSize + 4 * recordSize + 10] ^= 0x40
        scratch.write(journal, to: scratch.journalPath)
        let ledger = try scratch.open()
        var expected = written
        expected.remove(at: 4)
        #expect(ledger.credits() == expected)
        #expect(ledger.loadReport.corruptRecords == 1)
        #expect(ledger.loadReport.needsRevalidation)
    }

    @Test("a journal whose header is damaged is set aside, and the load asks for revalidation")
    func damagedHeader() throws {
        let scratch = LedgerScratch()
        _ = try writeTenCredits(scratch)
        var journal = scratch.bytes(scratch.journalPath)
        journal[20] ^= 0xff
        scratch.write(journal, to: scratch.journalPath)
        do {
            let ledger = try scratch.open()
            #expect(ledger.credits().isEmpty)
            #expect(ledger.loadReport.journalHeaderUnreadable)
            #expect(ledger.loadReport.needsRevalidation)
        }
        #expect(scratch.bytes(scratch.directory + "/journal.damaged") == journal)
        #expect(!(try scratch.open().loadReport.needsRevalidation), "the fresh journal is sound")
    }

    @Test("crash after the snapshot rename but before the new journal: the stale journal is discarded")
    func crashDuringCompaction() throws {
        let scratch = LedgerScratch()
        let expected: [LedgerCredit]
        do {
            let ledger = try scratch.open()
            ledger.credit(range: 0..<MiB, generation: 1, time: 10)
            ledger.void(range: 0..<4096)
            try ledger.flush()
            let oldJournal = scratch.bytes(scratch.journalPath)
            try ledger.compact()
            expected = ledger.credits()
            // Put back the old journal, as if the crash hit before the new one was renamed into place.
            scratch.write(oldJournal, to: scratch.journalPath)
            scratch.write([1, 2, 3], to: scratch.snapshotPath + ".tmp")
            scratch.write([1, 2, 3], to: scratch.directory + "/.snapshot.tmp-k2x9")
        }
        let reopened = try scratch.open()
        #expect(reopened.loadReport.staleJournalDiscarded)
        #expect(reopened.credits() == expected)
        #expect(!FileManager.default.fileExists(atPath: scratch.snapshotPath + ".tmp"), "an earlier version's leftover removed")
        #expect(!FileManager.default.fileExists(atPath: scratch.directory + "/.snapshot.tmp-k2x9"), "leftover temporary file removed")
    }

    @Test("compaction preserves content, empties the journal, and reloads identically", arguments: [21, 22] as [UInt64])
    func compactionPreservesContent(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let scratch = LedgerScratch()
        var expected: [LedgerCredit] = []
        do {
            let ledger = try scratch.open()
            for _ in 0..<3000 {
                let start = UInt64.random(in: 0..<4096, using: &rng) * 4096
                let length = UInt64.random(in: 1...64, using: &rng) * 4096
                if UInt64.random(in: 0..<5, using: &rng) == 0 {
                    ledger.void(range: start..<start + length)
                } else {
                    ledger.credit(
                        range: start..<start + length, generation: start / (4 * MiB) + 1,
                        time: UInt64.random(in: 0..<100_000, using: &rng))
                }
            }
            ledger.recordCompletePass(time: 123_456)
            expected = ledger.credits()
            try ledger.compact()
            #expect(ledger.credits() == expected)
            #expect(ledger.statistics.journalBytes == headerSize)
            #expect(scratch.bytes(scratch.snapshotPath).count == ledger.encodedSnapshotSize())
            ledger.credit(range: 100 * GiB..<100 * GiB + MiB, generation: 5, time: 5)
            try ledger.flush()
            expected = ledger.credits()
        }
        let reopened = try scratch.open()
        #expect(reopened.credits() == expected)
        #expect(reopened.lastCompletePass == 123_456)
        #expect(reopened.loadReport.journalRecordsReplayed == 1)
    }

    @Test("flush compacts once the journal outgrows its threshold")
    func automaticCompaction() throws {
        let scratch = LedgerScratch()
        let ledger = try scratch.open(LedgerOptions(compactionJournalBytes: 4096))
        for index in UInt64(0)..<200 { ledger.credit(range: index * 2 * MiB..<index * 2 * MiB + MiB, generation: index, time: 0) }
        try ledger.flush()
        #expect(ledger.statistics.epoch == 1)
        #expect(ledger.statistics.journalBytes == headerSize)
        #expect(try scratch.open(LedgerOptions(readOnly: true)).credits().count == 200)
    }

    /// The kind is stored as its raw value: renaming the case must not change what journals
    /// already on disk (kind 3, from when it was `scrubCompleted`) mean.
    @Test("a complete pass keeps journal record kind 3")
    func completePassKind() {
        #expect(LedgerJournal.RecordKind.passCompleted.rawValue == 3)
        #expect(LedgerJournal.RecordKind(rawValue: 3) == .passCompleted)
    }

    @Test("the time of a complete pass is journaled")
    func completePassTime() throws {
        let scratch = LedgerScratch()
        do {
            let ledger = try scratch.open()
            #expect(ledger.lastCompletePass == nil)
            ledger.recordCompletePass(time: 1_700_000_000)
            try ledger.flush()
        }
        #expect(try scratch.open().lastCompletePass == 1_700_000_000)
    }

    @Test("one writer at a time; a read-only open needs no lock and never writes")
    func locking() throws {
        let scratch = LedgerScratch()
        let writer = try scratch.open()
        #expect(throws: LedgerError.locked(path: scratch.directory + "/lock")) { try scratch.open() }
        writer.credit(range: 0..<MiB, generation: 1, time: 1)
        try writer.flush()
        scratch.write(scratch.bytes(scratch.journalPath) + [9, 9, 9], to: scratch.journalPath)
        let reader = try scratch.open(LedgerOptions(readOnly: true))
        #expect(reader.credits().count == 1)
        #expect(throws: LedgerError.readOnly(path: scratch.directory)) { try reader.flush() }
        #expect(scratch.bytes(scratch.journalPath).count == headerSize + recordSize + 3, "read-only leaves the torn tail alone")
    }

    @Test("the state directory is created with mode 0700, and tightened if looser")
    func directoryMode() throws {
        let scratch = LedgerScratch()
        _ = try scratch.open()
        var info = stat()
        #expect(stat(scratch.directory, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)
        let loose = scratch.root + "/loose"
        try FileManager.default.createDirectory(
            atPath: loose, withIntermediateDirectories: false,
            attributes: [.posixPermissions: 0o755])
        _ = try Ledger.open(fileSystem: scratch.fileSystem, directory: loose)
        #expect(stat(loose, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)
        // The integration harness sets DUET_STATE_ROOT for the whole test process: restore it after.
        let saved = getenv("DUET_STATE_ROOT").map { String(cString: $0) }
        defer { if let saved { setenv("DUET_STATE_ROOT", saved, 1) } else { unsetenv("DUET_STATE_ROOT") } }
        unsetenv("DUET_STATE_ROOT")
        #expect(Ledger.defaultDirectory(for: scratch.fileSystem) == "/var/lib/duet/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
        setenv("DUET_STATE_ROOT", scratch.root, 1)
        #expect(Ledger.defaultDirectory(for: scratch.fileSystem) == scratch.root + "/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
    }

    @Test("a ledger of another file system is refused; a damaged snapshot is reported with its path")
    func mismatchAndCorruptSnapshot() throws {
        let scratch = LedgerScratch()
        do {
            let ledger = try scratch.open()
            ledger.credit(range: 0..<MiB, generation: 1, time: 1)
            try ledger.compact()
        }
        let other = FileSystemID("11111111-2222-3333-4444-555555555555")!
        #expect(throws: LedgerError.self) { try Ledger.open(fileSystem: other, directory: scratch.directory) }
        var snapshot = scratch.bytes(scratch.snapshotPath)
        snapshot[60] ^= 1
        scratch.write(snapshot, to: scratch.snapshotPath)
        #expect(throws: LedgerError.corruptSnapshot(path: scratch.snapshotPath, reason: "checksum mismatch")) { try scratch.open() }
    }
}

@Suite("Ledger credits: alignment and generation voiding")
struct LedgerCreditTests {
    @Test("a credit covers only whole sectors; a void clears every sector it touches")
    func alignment() throws {
        let scratch = LedgerScratch()
        let ledger = try scratch.open()
        ledger.credit(range: 100..<3 * 4096 + 5, generation: 1, time: 1)
        #expect(ledger.credits().map(\.range) == [4096..<3 * 4096])
        ledger.credit(range: 10..<20, generation: 1, time: 1)
        #expect(ledger.credits().count == 1, "less than a sector credits nothing")
        ledger.void(range: 4096 + 1..<4096 + 2)
        #expect(ledger.credits().map(\.range) == [2 * 4096..<3 * 4096])
        #expect(ledger.isCredited(2 * 4096..<3 * 4096))
        #expect(!ledger.isCredited(4096..<3 * 4096))
    }

    @Test("credits(in:since:) clips to the range and drops older verification")
    func queries() throws {
        let scratch = LedgerScratch()
        let ledger = try scratch.open()
        ledger.credit(range: 0..<MiB, generation: 1, time: 100)
        ledger.credit(range: 4 * MiB..<5 * MiB, generation: 2, time: 90_000)
        #expect(ledger.credits(in: MiB / 2..<4 * MiB + 4096).map(\.range) == [MiB / 2..<MiB, 4 * MiB..<4 * MiB + 4096])
        #expect(ledger.credits(since: 50_000).map(\.generation) == [2])
    }

    @Test("a credit whose extent now has another generation, or no extent, is void")
    func generationVoiding() throws {
        let scratch = LedgerScratch()
        do {
            let ledger = try scratch.open()
            ledger.credit(range: 0..<MiB, generation: 5, time: 10)
            ledger.credit(range: MiB..<2 * MiB, generation: 6, time: 10)
            ledger.credit(range: 8 * MiB..<9 * MiB, generation: 7, time: 10)
            // Now: the first extent unchanged; the second half rewritten (generation 9); the third freed.
            let lookup = FixedExtents(extents: [
                ExtentGeneration(range: 0..<MiB, generation: 5),
                ExtentGeneration(range: MiB..<MiB + MiB / 2, generation: 6),
                ExtentGeneration(range: MiB + MiB / 2..<2 * MiB, generation: 9)
            ])
            #expect(try ledger.validCredits(lookup: lookup).map(\.range) == [0..<MiB, MiB..<MiB + MiB / 2])
            #expect(ledger.credits().count == 3, "a check alone changes nothing")
            let voided = try ledger.revalidate(using: lookup)
            #expect(voided == MiB / 2 + MiB)
            #expect(ledger.credits().map(\.range) == [0..<MiB, MiB..<MiB + MiB / 2])
            try ledger.flush()
        }
        #expect(try scratch.open().credits().map(\.range) == [0..<MiB, MiB..<MiB + MiB / 2], "the voids are durable")
        let closure = ClosureExtentGenerationLookup { _ in [ExtentGeneration(range: 0..<TiB, generation: 5)] }
        #expect(try scratch.open(LedgerOptions(readOnly: true)).validCredits(lookup: closure).map(\.range) == [0..<MiB])
    }

    @Test("concurrent credits from several threads all land")
    func concurrentCredits() async throws {
        let scratch = LedgerScratch()
        let ledger = try scratch.open(LedgerOptions(bufferedRecordLimit: 64))
        await withTaskGroup(of: Void.self) { group in
            for worker in UInt64(0)..<4 {
                group.addTask {
                    for index in UInt64(0)..<500 {
                        let start = (worker * 1000 + index) * 2 * 4096
                        ledger.credit(range: start..<start + 4096, generation: worker * 1000 + index, time: 1)
                    }
                }
            }
        }
        try ledger.flush()
        #expect(ledger.credits().count == 2000)
        #expect(try scratch.open(LedgerOptions(readOnly: true)).credits().count == 2000)
    }
}
