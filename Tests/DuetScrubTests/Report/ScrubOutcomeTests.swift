import DuetScrub
import Foundation
import Testing

/// The accounting behind `duet scrub`'s exit status and `--repair` figures: which findings count
/// as corrected, and how a record's status, errors and repair decide the outcome.
@Suite struct ScrubOutcomeTests {
    /// A record of a scrub in `status` with `errors` checksum errors (one finding each).
    static func record(_ status: ScrubRecord.Status, errors: Int = 0) throws -> ScrubRecord {
        let json = #"""
            {"version": 2, "uuid": "u", "mountPath": "/srv", "status": "\#(status.rawValue)", "pid": 1,
             "startedAt": "2026-12-01T10:00:00Z", "updatedAt": "2026-12-01T10:00:40Z", "elapsedSeconds": 40,
             "generation": 7, "full": false, "cursors": {}, "findings": [], "totalToScrubBytes": 1000,
             "counters": {"dataVerifiedBytes": 300, "treeVerifiedBytes": 50, "dataWithoutChecksumBytes": 0,
                          "skippedVerifiedBytes": 150, "deviceReadBytes": 350, "superblocksVerified": 0,
                          "dataErrors": \#(errors), "treeErrors": 0, "superblockErrors": 0, "readErrors": 0,
                          "unconfirmed": 0, "parityKernelScrubbedBytes": 0}}
            """#
        var record = try ScrubRecord.decode(Data(json.utf8))
        record.findings = (0..<errors).map { finding(logical: UInt64($0) * 4096) }
        return record
    }

    static func finding(logical: UInt64, corrected: Bool? = nil) -> ScrubFinding {
        let json = #"""
            {"kind": "csum", "deviceID": 1, "devicePath": "/dev/loop0", "physical": \#(logical + 1 << 20),
             "logical": \#(logical), "mirror": 1, "lengthBytes": 4096, "affected": ["a"], "detail": "csum mismatch"
             \#(corrected.map { #", "corrected": \#($0)"# } ?? "")}
            """#
        return try! JSONDecoder().decode(ScrubFinding.self, from: Data(json.utf8))
    }

    @Test("a finding counts as corrected only when re-verification found it good")
    func tallyCountsOnlyVerifiedFixes() {
        let tally = RepairTally([
            Self.finding(logical: 0, corrected: true), Self.finding(logical: 4096, corrected: false),
            Self.finding(logical: 8192)
        ])
        #expect(tally == RepairTally(corrected: 1, uncorrectable: 2))
        #expect(RepairTally([]) == RepairTally(corrected: 0, uncorrectable: 0))
    }

    @Test("only a finished scrub with findings has anything to repair")
    func whatToRepair() throws {
        #expect(try Self.record(.finished, errors: 2).hasFindingsToRepair)
        #expect(try !Self.record(.finished).hasFindingsToRepair)
        #expect(try !Self.record(.interrupted, errors: 2).hasFindingsToRepair)
        #expect(try !Self.record(.incomplete, errors: 2).hasFindingsToRepair)
    }

    @Test("recording a repair keeps its findings and its tally")
    func recordRepair() throws {
        var record = try Self.record(.finished, errors: 2)
        #expect(record.remainingErrors == 2, "no repair: every error remains")
        record.recordRepair([Self.finding(logical: 0, corrected: true), Self.finding(logical: 4096, corrected: false)])
        #expect(record.corrected == 1 && record.uncorrectable == 1 && record.remainingErrors == 1)
        #expect(record.findings.map(\.corrected) == [true, false])
    }

    @Test("the outcome of each kind of ending")
    func outcomes() throws {
        #expect(ScrubOutcome(try Self.record(.finished)) == .clean)
        #expect(ScrubOutcome(try Self.record(.finished, errors: 1)) == .uncorrectableErrors, "found and not repaired")
        #expect(ScrubOutcome(try Self.record(.interrupted, errors: 1)) == .interrupted)
        #expect(ScrubOutcome(try Self.record(.running)) == .interrupted, "a record left running was killed")
        #expect(ScrubOutcome(try Self.record(.incomplete)) == .incomplete, "never clean with data not covered")
        var all = try Self.record(.finished, errors: 2)
        all.recordRepair([Self.finding(logical: 0, corrected: true), Self.finding(logical: 4096, corrected: true)])
        #expect(ScrubOutcome(all) == .correctedErrors)
        var some = try Self.record(.finished, errors: 2)
        some.recordRepair([Self.finding(logical: 0, corrected: true), Self.finding(logical: 4096, corrected: false)])
        #expect(ScrubOutcome(some) == .uncorrectableErrors)
    }
}
