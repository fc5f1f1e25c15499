import Foundation
import Testing

@testable import DuetScrub

/// `scrub.json` is state that outlives an upgrade: a record written by the previous version must
/// load (a scrub in progress resumes, nothing is set aside as damaged).
@Suite struct ScrubRecordTests {
    /// A record as duet wrote it before the names of schema 2 (`fsid`, `elapsed`, …): an
    /// interrupted scrub with a finding and a coverage gap, every renamed key present.
    static let version1 = #"""
        {
          "counters" : {
            "dataErrors" : 1, "dataVerified" : 1048576, "dataWithoutChecksum" : 4096,
            "deviceBytesRead" : 2097152, "parityKernelScrubbed" : 0, "readErrors" : 0,
            "skippedVerified" : 65536, "superblockErrors" : 0, "superblocksVerified" : 2,
            "treeErrors" : 0, "treeVerified" : 16384, "unconfirmed" : 0
          },
          "coverageGaps" : [ { "coveredBytes" : 10, "deviceID" : 1, "devicePath" : "/dev/loop0", "plannedBytes" : 20 } ],
          "cursors" : { "1" : 1234567 },
          "elapsed" : 12.5,
          "findings" : [ {
            "affected" : [ "a" ], "detail" : "csum mismatch", "deviceID" : 1, "devicePath" : "/dev/loop0",
            "kind" : "csum", "length" : 4096, "logical" : 13631488, "mirror" : 1, "physical" : 22020096
          } ],
          "fsid" : "3dca63dc-3f7e-4509-afa5-2fe1cd62a78d",
          "full" : false,
          "generation" : 42,
          "lastSuccessAt" : "2026-11-30T10:00:00Z",
          "mountPath" : "/srv",
          "pid" : 4242,
          "secondsDeferred" : 3.25,
          "startedAt" : "2026-12-01T10:00:00Z",
          "status" : "interrupted",
          "totalToScrub" : 167772160,
          "updatedAt" : "2026-12-01T10:00:12Z",
          "verifiedAhead" : 8192,
          "version" : 1
        }
        """#

    @Test("a version 1 record loads with every value under its new name")
    func loadsVersion1() throws {
        let record = try ScrubRecord.decode(Data(Self.version1.utf8))
        #expect(record.version == 2)
        #expect(record.uuid == "3dca63dc-3f7e-4509-afa5-2fe1cd62a78d")
        #expect(record.mountPath == "/srv" && record.status == .interrupted && record.pid == 4242 && record.generation == 42)
        #expect(record.elapsedSeconds == 12.5 && record.deferredSeconds == 3.25)
        #expect(record.verifiedAheadBytes == 8192 && record.totalToScrubBytes == 167_772_160)
        #expect(record.cursorsByDevice == [1: 1_234_567])
        var counters = ScrubCounters()
        counters.dataErrors = 1
        counters.dataVerified = 1 << 20
        counters.dataWithoutChecksum = 4096
        counters.deviceBytesRead = 2 << 20
        counters.skippedVerified = 65536
        counters.superblocksVerified = 2
        counters.treeVerified = 16384
        #expect(record.counters == counters)
        #expect(record.findings.map(\.length) == [4096] && record.findings.first?.kind == .dataChecksum)
        #expect(record.coverageGaps == [CoverageGap(deviceID: 1, devicePath: "/dev/loop0", plannedBytes: 20, coveredBytes: 10)])
        #expect(record.lastSuccessAt == ISO8601DateFormatter().date(from: "2026-11-30T10:00:00Z"))
    }

    @Test("the state store loads a version 1 scrub.json, and saves it back as version 2")
    func storeUpgradesTheFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "duet-record-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        ).path
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(Self.version1.utf8).write(to: URL(fileURLWithPath: directory + "/scrub.json"))
        let store = ScrubStateStore(directory: directory)
        let record = try #require(try store.load())
        #expect(record.uuid == "3dca63dc-3f7e-4509-afa5-2fe1cd62a78d" && record.counters.dataVerified == 1 << 20)

        try store.save(record)
        let saved = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/scrub.json"))) as? [String: Any])
        #expect(saved["version"] as? Int == 2)
        #expect(saved["uuid"] as? String == record.uuid && saved["fsid"] == nil && saved["elapsed"] == nil)
        #expect(saved["elapsedSeconds"] as? Double == 12.5 && saved["totalToScrubBytes"] as? Int == 167_772_160)
        let counters = try #require(saved["counters"] as? [String: Any])
        #expect(
            counters["dataVerifiedBytes"] as? Int == 1 << 20 && counters["deviceReadBytes"] as? Int == 2 << 20
                && counters["dataErrors"] as? Int == 1)
        #expect((saved["findings"] as? [[String: Any]])?.first?["lengthBytes"] as? Int == 4096)
        #expect(try store.load()?.counters == record.counters, "version 2 loads as it was saved")
    }

    @Test("a version 2 record is decoded as it is, not renamed again")
    func version2IsLeftAlone() throws {
        // A version 2 record with a key named as a version 1 one must keep it unrenamed (and fail).
        let text = Self.version1.replacingOccurrences(of: #""version" : 1"#, with: #""version" : 2"#)
        #expect(throws: DecodingError.self) { try ScrubRecord.decode(Data(text.utf8)) }
    }
}
