import Foundation
import Testing

@testable import DuetFS

/// Edits from processes that do not hold the ledger (`duet scrub`, `duet send` while `duet watch`
/// runs) go through the inbox; the writer applies them on flush and on open, readers on open.
@Suite("Ledger inbox")
struct LedgerInboxTests {
    private func inboxFiles(_ scratch: LedgerScratch) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: scratch.directory + "/inbox")) ?? []).sorted()
    }

    @Test("with the lock free the recorder writes the ledger itself")
    func ownsTheLedger() throws {
        let scratch = LedgerScratch()
        do {
            let recorder = try LedgerRecorder(fileSystem: scratch.fileSystem, directory: scratch.directory)
            #expect(!recorder.submitsToInbox)
            recorder.credit(range: 0..<MiB, generation: 5, time: 100)
            try recorder.flush()
        }
        #expect(inboxFiles(scratch).isEmpty)
        #expect(try scratch.open().credits() == [LedgerCredit(range: 0..<MiB, generation: 5, time: 100)])
    }

    @Test("while another writer holds the ledger, credits reach it through the inbox on its next flush")
    func submittedThenIngested() throws {
        let scratch = LedgerScratch()
        let writer = try scratch.open()
        writer.credit(range: 8 * MiB..<9 * MiB, generation: 1, time: 50)
        try writer.flush()

        let recorder = try LedgerRecorder(fileSystem: scratch.fileSystem, directory: scratch.directory)
        #expect(recorder.submitsToInbox)
        // Unaligned on purpose: only whole sectors are credited, as `Ledger.credit` does.
        recorder.credit(range: 100..<(2 * MiB + 100), generation: 7, time: 200)
        recorder.recordCompletePass(time: 300)
        #expect(inboxFiles(scratch).isEmpty, "nothing is submitted before flush")
        try recorder.flush()
        #expect(inboxFiles(scratch).count == 1)

        // A reader sees the submission before the writer has taken it in.
        let reader = try scratch.open(LedgerOptions(readOnly: true))
        #expect(reader.loadReport.inboxRecordsApplied == 2)
        #expect(reader.isCredited(4096..<2 * MiB))
        #expect(!reader.isCredited(0..<4096))
        #expect(reader.lastCompletePass == 300)

        #expect(!writer.isCredited(4096..<2 * MiB))
        try writer.flush()
        #expect(writer.isCredited(4096..<2 * MiB))
        #expect(writer.lastCompletePass == 300)
        #expect(inboxFiles(scratch).isEmpty, "ingested submissions are removed once journaled")

        // Journaled: it survives the writer, with the inbox gone.
        let expected = writer.credits()
        _ = consume writer
        let reopened = try scratch.open()
        #expect(reopened.credits() == expected)
        #expect(reopened.loadReport.inboxRecordsApplied == 0)
    }

    @Test("a writer that opens after submissions applies them; applying one twice (crash before unlink) changes nothing")
    func ingestedOnOpenAndIdempotent() throws {
        let scratch = LedgerScratch()
        let holder = try scratch.open()
        let recorder = try LedgerRecorder(fileSystem: scratch.fileSystem, directory: scratch.directory)
        recorder.credit(range: 0..<4 * MiB, generation: 3, time: 10)
        try recorder.flush()
        let submitted = inboxFiles(scratch)
        #expect(submitted.count == 1)
        let copy = scratch.bytes(scratch.directory + "/inbox/" + submitted[0])
        _ = consume holder

        let first = try scratch.open()
        #expect(first.loadReport.inboxRecordsApplied == 1)
        #expect(inboxFiles(scratch).isEmpty)
        let credits = first.credits()
        _ = consume first
        // The same submission again, as if the writer died after journaling it but before unlinking.
        scratch.write(copy, to: scratch.directory + "/inbox/" + submitted[0])
        let second = try scratch.open()
        #expect(second.credits() == credits)
        #expect(second.statistics.creditedBytes == 4 * MiB)
    }

    @Test("a submission for another file system is set aside, not applied")
    func foreignSubmission() throws {
        let scratch = LedgerScratch()
        let other = FileSystemID("11111111-2222-3333-4444-555555555555")!
        try LedgerInbox.submit(
            [.init(kind: .credit, start: 0, length: MiB, generation: 1, time: 1)],
            directory: scratch.directory, fileSystem: other, sectorSize: 4096)
        let ledger = try scratch.open()
        #expect(ledger.credits().isEmpty)
        let files = inboxFiles(scratch)
        #expect(files.count == 1 && files[0].hasPrefix("rejected-"))
        try ledger.flush()
        #expect(inboxFiles(scratch) == files, "a rejected file is not retried")
    }
}
