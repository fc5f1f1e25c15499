import DuetFS
import DuetScrub
import DuetWatch
import Foundation
import Testing

@testable import duet

/// The names every `--json` output shares (README, "JSON reference"): `uuid`, `mountPath`,
/// durations and ages in `…Seconds`, byte counts in `…Bytes`, under envelope version 2.
@Suite struct JSONVocabularyTests {
    static func object(_ json: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    static let running = #"""
        {"version": 2, "uuid": "u", "mountPath": "/srv", "status": "running", "pid": 1,
         "startedAt": "2026-12-01T10:00:00Z", "updatedAt": "2026-12-01T10:00:40Z", "elapsedSeconds": 40,
         "generation": 7, "full": false, "cursors": {}, "findings": [], "totalToScrubBytes": 1000,
         "lastSuccessAt": "2026-11-30T10:00:40Z",
         "counters": {"dataVerifiedBytes": 300, "treeVerifiedBytes": 50, "dataWithoutChecksumBytes": 0,
                      "skippedVerifiedBytes": 150, "deviceReadBytes": 350, "superblocksVerified": 0,
                      "dataErrors": 0, "treeErrors": 0, "superblockErrors": 0, "readErrors": 0, "unconfirmed": 0,
                      "parityKernelScrubbedBytes": 0}}
        """#

    @Test("scrub --json: the record's fields, progress, time left and ages in seconds, in a version 2 envelope")
    func scrubResult() throws {
        let record = try ScrubRecord.decode(Data(Self.running.utf8))
        let now = try #require(ISO8601DateFormatter().date(from: "2026-12-01T10:00:45Z"))
        let envelope = try Self.object(try JSONEnvelope(command: "scrub status", result: ScrubResult(record: record, now: now)).render())
        #expect(envelope["version"] as? Int == 2 && envelope["command"] as? String == "scrub status")
        let result = try #require(envelope["result"] as? [String: Any])
        #expect(result["uuid"] as? String == "u" && result["mountPath"] as? String == "/srv" && result["fsid"] == nil)
        #expect(result["percentDone"] as? Double == 50, "500 of 1000 bytes verified or skipped")
        #expect(result["remainingSeconds"] as? Double == 40, "as long again at the same pace")
        #expect(result["ageSeconds"] as? Double == 5, "the checkpoint is 5 s old")
        #expect(result["lastSuccessAgeSeconds"] as? Double == 86405)
        #expect(result["elapsedSeconds"] as? Double == 40 && result["startedAt"] as? String == "2026-12-01T10:00:00Z")
        #expect((result["counters"] as? [String: Any])?["dataVerifiedBytes"] as? Int == 300)
        // And the text shows the same.
        #expect(ScrubReporter.progress(record) == "50.0% done, about 0:00:40 left")
    }

    @Test("scrub --json of a finished scrub: no time left")
    func finishedScrub() throws {
        var record = try ScrubRecord.decode(Data(Self.running.utf8))
        record.status = .finished
        let result = try #require(
            try Self.object(try JSONEnvelope(command: "scrub start", result: ScrubResult(record: record, now: Date())).render())["result"]
                as? [String: Any])
        #expect(result["remainingSeconds"] == nil && result["percentDone"] as? Double == 50)
    }

    @Test("watch.json and duet watch --json: uuid, mountPath, byte counts in …Bytes")
    func watchReport() throws {
        var creditor = CreditorStatistics()
        creditor.bytesCredited = 4096
        let report = WatchReport(
            mountPath: "/srv", uuid: "u", source: "bpf", pid: 1, updatedAt: Date(), eventsPerSecond: 0, pageEventsPerSecond: 0,
            eventsDelivered: 0, eventsLost: 0, creditor: creditor, flushFailures: 0)
        let result = try #require(
            try Self.object(try JSONEnvelope(command: "watch", result: report).render(compact: true))["result"] as? [String: Any])
        #expect(
            result["uuid"] as? String == "u" && result["mountPath"] as? String == "/srv" && result["fsid"] == nil && result["mount"] == nil)
        #expect(result["ageSeconds"] == nil, "only duet status adds the age")
        let statistics = try #require(result["creditor"] as? [String: Any])
        #expect(statistics["creditedBytes"] as? Int == 4096 && statistics["bytesCredited"] == nil)
        #expect(
            Set(statistics.keys).isSuperset(of: ["skippedMultipleCopiesBytes", "skippedExtentChangedBytes", "voidedBytes", "pageEvents"]))
    }
}
